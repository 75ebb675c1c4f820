-- PETITION_CLASSIFICATION_STAFF (tracked) = feedback about staff behaviour / all feedback in the period.
-- one row per entity
SELECT feedback_id AS entity, unit_code, NULL AS procedure_code, official_id, [] AS charged,
       coalesce(category, 'other') = 'staff' AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(category, 'other') = 'staff' THEN 'phản ánh về hành vi cán bộ' ELSE 'phản ánh khác' END AS reason
FROM _feedback_eval WHERE clock_start >= $ps
