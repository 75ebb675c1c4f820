-- The running period at the as-of date, one row per dossier, for the month-end projection:
--   ok       ended on time (or rejected/withdrawn in time)
--   late     late already (finished late, overdue, or a second supplement request)
--   at_risk  open, not late yet, and due by the period's last day (or with no due date)
--   safe     open and due after the period's last day: in process and not yet due at its end
SELECT e.dossier_code, e.unit_code, e.procedure_code, e.handling_official_id, e.received_at, e.due_at,
       e.received_in_period,
       CASE WHEN e.late THEN 'late'
            WHEN NOT e.is_open THEN 'ok'
            WHEN e.due_at IS NULL OR CAST(e.due_at AS DATE) <= CAST($period_last AS DATE) THEN 'at_risk'
            ELSE 'safe' END AS state
FROM _dossier_eval e
