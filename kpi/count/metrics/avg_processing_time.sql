-- AVG_PROCESSING_TIME (tracked, a mean; doc 2.2): processing time of dossiers received in the period and
-- finished or returned by its end (or the as-of date), in the procedure's time unit (working days, days,
-- hours or months), the citizen's supplement time subtracted. Numerator = sum of times, denominator = count.
-- one row per entity
SELECT dossier_code AS entity, unit_code, procedure_code, handling_official_id AS official_id, [] AS charged,
       true AS in_num, true AS in_den,
       CASE WHEN time_unit = 'hour' THEN epoch(effective_end - received_at) / 3600
            WHEN time_unit = 'day' THEN epoch(effective_end - received_at) / 86400
            WHEN time_unit = 'month' THEN epoch(effective_end - received_at) / (86400 * 365.25 / 12)
            ELSE effective_wd - received_wd END AS value,
       'nhận trong kỳ, đã giải quyết: ' || CASE WHEN time_unit = 'hour' THEN round(epoch(effective_end - received_at) / 3600, 1) || ' giờ'
            WHEN time_unit = 'day' THEN round(epoch(effective_end - received_at) / 86400, 1) || ' ngày'
            WHEN time_unit = 'month' THEN round(epoch(effective_end - received_at) / (86400 * 365.25 / 12), 2) || ' tháng'
            ELSE (effective_wd - received_wd) || ' ngày làm việc' END AS reason
FROM _dossier_eval WHERE received_in_period AND end_kind IN ('finished', 'returned')
