-- PETITION_CLASSIFICATION_TTHC (tracked) = feedback about regulations or procedures / all feedback in the period.
-- one row per entity
SELECT feedback_id AS entity, unit_code, NULL AS procedure_code, official_id, [] AS charged,
       coalesce(category, 'other') = 'regulation' AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(category, 'other') = 'regulation' THEN 'phản ánh về quy định, TTHC' ELSE 'phản ánh khác' END AS reason
FROM _feedback_eval WHERE clock_start >= $ps
