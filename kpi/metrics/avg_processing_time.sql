-- AVG_PROCESSING_TIME (tracked, a mean): processing time of dossiers finished in the period, in the
-- procedure's time unit, supplement time subtracted. Numerator = sum of times, denominator = count.
SELECT dossier_code AS entity, unit_code, procedure_code, handling_official_id AS official_id, [] AS charged,
       true AS in_num, true AS in_den,
       CASE WHEN time_unit = 'hour' THEN (epoch(end_at - received_at) - supp_seconds) / 3600
            WHEN time_unit IN ('day', 'month') THEN (epoch(end_at - received_at) - supp_seconds) / 86400
            ELSE judged_wd - received_wd - supp_wd END AS value,
       'đã giải quyết trong kỳ' AS reason
FROM _dossier_eval WHERE finished_in_period
