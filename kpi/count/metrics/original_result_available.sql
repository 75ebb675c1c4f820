-- ORIGINAL_RESULT_AVAILABLE = dossiers completed in the period with an electronic result / dossiers
-- completed in the period of procedures whose result is a paper document.
-- one row per entity
SELECT e.dossier_code AS entity, e.unit_code, e.procedure_code, e.handling_official_id AS official_id,
       [e.handling_official_id] AS charged,
       coalesce(d.e_result, false) AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(d.e_result, false) THEN 'có kết quả điện tử' ELSE 'không có kết quả điện tử' END AS reason
FROM _dossier_eval e JOIN dossiers d USING (dossier_code) JOIN procedures p ON p.procedure_code = e.procedure_code
WHERE e.finished_in_period AND coalesce(p.paper_result_required, false)
