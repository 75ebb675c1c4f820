-- The ON_TIME judgement of the dossiers in _cand, each at its row's `pe` (exclusive; a dossier is judged once
-- per period `pid` it is a candidate for), by the rules of INDICATORS.md (with the November 2026 decisions):
--   end of processing = finished, else returned, else rejected/stopped/withdrawn; a dossier whose latest
--   supplement request is unanswered (and that has no such end) ends at that request;
--   only supplement requests made before the end count; the citizen's time (each request → its
--   completion, cut at the end of processing) is subtracted from the end, as timestamps;
--   on time when (end − citizen's time) ≤ due date; a due date without a time of day means the end of
--   that day; no due date → working time used against the procedure's time limit;
--   more than one supplement request makes a dossier late only when it ended without finished/returned;
--   still open at pe → judged at pe as a timestamp (weekends and holidays too).
-- Nothing here depends on the period's start: a dossier that ended and has not changed since is judged at
-- any later pe exactly as at its end, which is what the facts the loader keeps (kpi/count/facts.py) are.
-- Which rule applied, in words, is judgement_text(e) (_prepare/00_macros.sql): written only where it is read.
-- _cand's events_from: no event of the dossier is older (its first event's time, kept by the loader in
-- dossier_spans; -infinity when not known). As a join condition, DuckDB skips the row groups of events all older
-- than every candidate's: a period's open dossiers read the recent part of the events, not all of them.
WITH ev AS (
    SELECT c.pid, e.* FROM dossier_events e
    JOIN (SELECT pid, pe, dossier_code, events_from FROM _cand) c
      ON e.dossier_code = c.dossier_code AND e."at" >= c.events_from
    WHERE e."at" < c.pe
),
marks AS (
    SELECT pid, dossier_code,
           min("at") FILTER (WHERE event = 'finished') AS fin_ev,
           min("at") FILTER (WHERE event = 'returned') AS ret_ev,
           min("at") FILTER (WHERE event IN ('rejected', 'stopped', 'withdrawn')) AS other_ev,
           arg_min(event, "at") FILTER (WHERE event IN ('rejected', 'stopped', 'withdrawn')) AS other_kind,
           coalesce(bool_or(event = 'apology_sent'), false) AS apology,
           -- (list_distinct over a plain list: an aggregate DISTINCT is three times slower here)
           list_sort(list_distinct(list(official_id) FILTER (WHERE event = 'step_done' AND step_due_at IS NOT NULL
                                                         AND "at" > step_due_at))) AS overrun_officials,
           list_sort(list_distinct(list(step_name) FILTER (WHERE event = 'step_done' AND step_due_at IS NOT NULL
                                                       AND "at" > step_due_at))) AS overrun_steps,
           list_sort(list_distinct(list(official_id) FILTER (WHERE event = 'step_done'))) AS step_officials,
           min("at") AS first_event_at, max("at") AS last_event_at      -- the events read: the loader's spans
    FROM ev GROUP BY pid, dossier_code
),
hard AS (
    SELECT d.pid, d.pe, d.dossier_code, d.unit_code, d.procedure_code, d.channel, d.received_at, d.due_at,
           d.handling_official_id, d.receiving_official_id,
           coalesce(m.apology, false) AS apology, m.overrun_officials, m.overrun_steps,
           coalesce(m.step_officials, []) AS step_officials,
           p.max_processing_time, p.time_unit,
           CASE WHEN d.finished_at < d.pe THEN d.finished_at ELSE m.fin_ev END AS fin_at,
           CASE WHEN d.returned_at < d.pe THEN d.returned_at ELSE m.ret_ev END AS ret_at,
           m.other_ev, m.other_kind, m.first_event_at, m.last_event_at
    FROM _cand d
    LEFT JOIN marks m USING (pid, dossier_code)
    LEFT JOIN procedures p USING (procedure_code)
),
hard_end AS (
    SELECT *, coalesce(fin_at, ret_at, other_ev) AS hard_at,
           CASE WHEN fin_at IS NOT NULL THEN 'finished' WHEN ret_at IS NOT NULL THEN 'returned'
                ELSE other_kind END AS hard_kind
    FROM hard
),
supp_ev AS (
    SELECT pid, dossier_code, event, "at",
           min("at") FILTER (WHERE event = 'supplement_completed') OVER (
               PARTITION BY pid, dossier_code ORDER BY "at", seq ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS done_at
    FROM ev WHERE event IN ('supplement_requested', 'supplement_completed')
),
requests AS (       -- requests made before processing ended (a request after the end changes nothing)
    SELECT s.pid, s.dossier_code, s."at" AS req_at, s.done_at
    FROM supp_ev s JOIN hard_end h USING (pid, dossier_code)
    WHERE s.event = 'supplement_requested' AND (h.hard_at IS NULL OR s."at" < h.hard_at)
),
req_agg AS (
    SELECT pid, dossier_code, count(*) AS n_req, min(req_at) FILTER (WHERE done_at IS NULL) AS open_req_at
    FROM requests GROUP BY pid, dossier_code
),
ended AS (
    SELECT h.*, coalesce(r.n_req, 0) AS n_req,
           coalesce(h.hard_at, r.open_req_at) AS end_at,
           coalesce(h.hard_kind, CASE WHEN r.open_req_at IS NOT NULL THEN 'supplement' END) AS end_kind
    FROM hard_end h LEFT JOIN req_agg r USING (pid, dossier_code)
),
waits AS (          -- the citizen's time: each wait (requests sharing one completion count once), cut at the end
    SELECT q.pid, q.dossier_code,
           sum(greatest(epoch(least(coalesce(q.done_at, x.ref), x.ref) - q.req_at), 0)) AS supp_seconds
    FROM (SELECT pid, dossier_code, min(req_at) AS req_at, done_at FROM requests GROUP BY pid, dossier_code, done_at) q
    JOIN (SELECT pid, dossier_code, coalesce(end_at, pe) AS ref FROM ended) x USING (pid, dossier_code)
    GROUP BY q.pid, q.dossier_code
),
judged AS (
    SELECT e.*, coalesce(w.supp_seconds, 0) AS supp_seconds,
           coalesce(e.end_at, e.pe - INTERVAL 1 SECOND) - to_seconds(CAST(coalesce(w.supp_seconds, 0) AS BIGINT))
               AS effective_end,
           CASE WHEN e.due_at = date_trunc('day', e.due_at) THEN e.due_at + INTERVAL 1 DAY - INTERVAL 1 SECOND
                ELSE e.due_at END AS due_limit
    FROM ended e LEFT JOIN waits w USING (pid, dossier_code)
),
ruled AS (
    SELECT j.*, cr.wd_index AS received_wd, ce.wd_index AS effective_wd,
           j.n_req >= 2 AND j.end_kind IS NOT NULL AND j.end_kind NOT IN ('finished', 'returned') AS second_request_rule,
           CASE WHEN j.due_at IS NOT NULL THEN epoch(j.effective_end - j.due_limit)
                WHEN j.max_processing_time IS NULL THEN NULL
                WHEN j.time_unit = 'day' THEN epoch(j.effective_end - j.received_at) - j.max_processing_time * 86400
                WHEN j.time_unit = 'hour' THEN epoch(j.effective_end - j.received_at) - j.max_processing_time * 3600
                WHEN j.time_unit = 'month' THEN
                     epoch(j.effective_end - (j.received_at + to_months(CAST(j.max_processing_time AS INTEGER))))
           END AS over_seconds,
           CAST(CASE WHEN j.due_at IS NOT NULL THEN ce.wd_index - cdue.wd_index
                     WHEN coalesce(j.time_unit, 'working_day') = 'working_day' AND j.max_processing_time IS NOT NULL
                          THEN ce.wd_index - cr.wd_index - j.max_processing_time
                END AS BIGINT) AS over_wd
    FROM judged j
    JOIN calendar cr ON cr.d = CAST(j.received_at AS DATE)
    JOIN calendar ce ON ce.d = CAST(j.effective_end AS DATE)
    LEFT JOIN calendar cdue ON cdue.d = CAST(j.due_at AS DATE)
),
late AS (
    SELECT *,
           CASE WHEN second_request_rule THEN true
                WHEN due_at IS NULL AND coalesce(time_unit, 'working_day') = 'working_day' THEN over_wd > 0
                ELSE over_seconds > 0 END AS is_late
    FROM ruled
)
-- (the ends found on the way — finished, returned, other — are not given: end_at and end_kind say which came first)
SELECT * EXCLUDE (is_late, fin_at, ret_at, other_ev, other_kind, hard_at, hard_kind), coalesce(is_late, false) AS late,
       end_at IS NULL AS is_open,
       CASE WHEN coalesce(is_late, false) AND NOT second_request_rule THEN greatest(over_wd, 0) END AS overdue_wd
FROM late
