-- STAFF_CONDUCT (officials only) = dossiers handled in the period with no staff-behaviour feedback naming
-- the official / dossiers handled in the period plus such feedback (each complaint costs one).
SELECT e.dossier_code AS entity, e.unit_code, e.procedure_code, e.handling_official_id AS official_id,
       [] AS charged, e.step_officials AS involved, true AS in_num, true AS in_den, NULL::DOUBLE AS value,
       'đã xử lý' AS reason
FROM _dossier_eval e WHERE e.received_in_period
UNION ALL
SELECT f.feedback_id, f.unit_code, NULL, f.official_id, [f.official_id], [], false, true, NULL::DOUBLE,
       'bị phản ánh về hành vi cán bộ'
FROM _feedback_eval f WHERE f.category = 'staff' AND f.official_id IS NOT NULL AND f.clock_start >= $ps
