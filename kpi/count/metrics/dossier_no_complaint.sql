-- DOSSIER_NO_COMPLAINT (tracked) = dossiers whose processing ended in the period that were neither rated
-- unsatisfied nor complained about / dossiers whose processing ended (finished or returned) in the period.
-- Part of the document's reading of DOSSIER_RECEIVING_SATISFACTION (doc 5.4).
-- one row per entity
WITH unsatisfied AS (
    SELECT DISTINCT dossier_code FROM ratings WHERE rating = 'unsatisfied' AND rated_at < $pe
),
complained AS (
    SELECT DISTINCT dossier_code FROM feedback WHERE dossier_code IS NOT NULL AND sent_at < $pe
)
SELECT e.dossier_code AS entity, e.unit_code, e.procedure_code, e.handling_official_id AS official_id,
       [e.handling_official_id] AS charged, e.step_officials AS involved,
       u.dossier_code IS NULL AND c.dossier_code IS NULL AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN u.dossier_code IS NOT NULL THEN 'đánh giá không hài lòng'
            WHEN c.dossier_code IS NOT NULL THEN 'bị phản ánh, kiến nghị' ELSE 'không bị phản ánh' END AS reason
FROM _dossier_eval e
LEFT JOIN unsatisfied u USING (dossier_code)
LEFT JOIN complained c USING (dossier_code)
WHERE e.finished_in_period
