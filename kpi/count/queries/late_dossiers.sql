-- Late dossiers of the period (ON_TIME's failures): what the province publishes every month.
-- No applicant data here: this list is public.
SELECT e.dossier_code, e.unit_code, u.unit_name, e.procedure_code, p.procedure_name,
       e.received_at, e.due_at,
       CASE WHEN e.end_kind IN ('finished', 'returned') THEN e.end_at END AS finished_at,
       e.is_open, e.end_kind, e.overdue_wd, e.n_req, e.apology, e.handling_official_id, e.judgement AS reason,
       array_to_string(e.overrun_steps, '; ') AS overrun_steps      -- a step's name may hold a comma
FROM _dossier_eval e
LEFT JOIN units u USING (unit_code)
LEFT JOIN procedures p ON p.procedure_code = e.procedure_code
WHERE e.late
ORDER BY e.unit_code, e.received_at, e.dossier_code
