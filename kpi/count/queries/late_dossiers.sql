-- Late dossiers of the period (ON_TIME's failures): what the province publishes every month.
-- No applicant data here: this list is public.
SELECT e.dossier_code, e.unit_code, u.unit_name, e.procedure_code, p.procedure_name,
       e.received_at, e.due_at,
       CASE WHEN e.end_kind IN ('finished', 'returned') THEN e.end_at END AS finished_at,
       e.is_open, e.end_kind, e.overdue_wd, e.n_req, e.apology, e.handling_official_id, judgement_text(e) AS reason,
       array_to_string(e.overrun_steps, '; ') AS overrun_steps,      -- a step's name may hold a comma
       -- the delay as a citizen reads it: working days, or the hours and minutes when under a working day
       CASE WHEN e.overdue_wd >= 1 THEN e.overdue_wd || ' ngày làm việc'
            WHEN e.overdue_wd IS NOT NULL AND e.over_seconds > 0 AND e.over_seconds < 86400 THEN vn_duration(e.over_seconds)
            WHEN e.overdue_wd IS NULL THEN 'yêu cầu bổ sung lần hai'
            ELSE 'dưới 1 ngày làm việc' END AS delay_text
FROM _dossier_eval e
LEFT JOIN units u USING (unit_code)
LEFT JOIN procedures p ON p.procedure_code = e.procedure_code
WHERE e.late
ORDER BY e.unit_code, e.received_at, e.dossier_code
