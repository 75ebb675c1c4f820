-- DOSSIER_RECEIVING_SATISFACTION = (dossiers whose processing ended in the period − those late, rated
-- unsatisfied, or complained about) / dossiers whose processing ended (finished or returned) in the period,
-- whatever month they were received in. `late` and `complained` feed the document's sum-of-two-rates
-- reading (dossier_receiving_satisfaction.sum_of_rates.sql).
-- one row per entity
WITH unsatisfied AS (
    SELECT DISTINCT dossier_code FROM ratings WHERE rating = 'unsatisfied' AND rated_at < $pe
),
complained AS (
    SELECT DISTINCT dossier_code FROM feedback WHERE dossier_code IS NOT NULL AND sent_at < $pe
)
SELECT e.dossier_code AS entity, e.unit_code, e.procedure_code, e.handling_official_id AS official_id,
       CASE WHEN e.late THEN coalesce(nullif(e.overrun_officials, []), [e.handling_official_id])
            ELSE [e.handling_official_id] END AS charged,
       e.step_officials AS involved,
       NOT (e.late OR u.dossier_code IS NOT NULL OR c.dossier_code IS NOT NULL) AS in_num,
       true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN e.late THEN 'trễ hạn' WHEN u.dossier_code IS NOT NULL THEN 'đánh giá không hài lòng'
            WHEN c.dossier_code IS NOT NULL THEN 'bị phản ánh, kiến nghị' ELSE 'hài lòng' END AS reason
FROM _dossier_eval e
LEFT JOIN unsatisfied u USING (dossier_code)
LEFT JOIN complained c USING (dossier_code)
WHERE e.finished_in_period
