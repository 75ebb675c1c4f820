-- LATE_FINISHED (tracked): late dossiers whose processing ended in the period / late dossiers.
-- one row per entity
SELECT dossier_code AS entity, unit_code, procedure_code, handling_official_id AS official_id, [] AS charged,
       NOT is_open AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN is_open THEN 'trễ hạn, đang giải quyết' ELSE 'trễ hạn, đã giải quyết' END AS reason
FROM _dossier_eval WHERE late
