-- Every dossier received before the period end and not ended before the period start, judged
-- at the period end ($pe, exclusive) by the ON_TIME rules of INDICATORS.md:
--   end of processing = finished, else returned, else rejected/stopped/withdrawn; a dossier
--   waiting on a single supplement request with no completion ends at the request time;
--   supplement time (request → completion) is the citizen's and is subtracted, in working days;
--   a second supplement request makes the dossier late; no due date → compare the time used
--   with the procedure's time limit; still open at the period end → judged at the period end.
CREATE OR REPLACE TEMP TABLE _dossier_eval AS
WITH ev AS (
    SELECT * FROM dossier_events WHERE "at" < $pe
),
ends AS (
    SELECT dossier_code,
           min("at") FILTER (WHERE event = 'finished') AS fin_ev,
           min("at") FILTER (WHERE event = 'returned') AS ret_ev,
           min("at") FILTER (WHERE event IN ('rejected', 'stopped', 'withdrawn')) AS other_ev,
           arg_min(event, "at") FILTER (WHERE event IN ('rejected', 'stopped', 'withdrawn')) AS other_kind,
           count(*) FILTER (WHERE event = 'supplement_requested') AS n_req,
           coalesce(bool_or(event = 'apology_sent'), false) AS apology,
           list(DISTINCT official_id) FILTER (WHERE event = 'step_done' AND step_due_at IS NOT NULL
                                              AND "at" > step_due_at AND official_id IS NOT NULL) AS overrun_officials,
           list(DISTINCT step_name) FILTER (WHERE event = 'step_done' AND step_due_at IS NOT NULL
                                            AND "at" > step_due_at) AS overrun_steps,
           list(DISTINCT official_id) FILTER (WHERE event = 'step_done' AND official_id IS NOT NULL) AS step_officials
    FROM ev GROUP BY dossier_code
),
supp_ev AS (
    SELECT dossier_code, event, "at",
           min("at") FILTER (WHERE event = 'supplement_completed') OVER (
               PARTITION BY dossier_code ORDER BY "at", seq ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS done_at
    FROM ev WHERE event IN ('supplement_requested', 'supplement_completed')
),
supp AS (
    SELECT s.dossier_code,
           sum(cd.wd_index - cr.wd_index) FILTER (WHERE s.done_at IS NOT NULL) AS supp_wd,
           sum(epoch(s.done_at - s.at)) FILTER (WHERE s.done_at IS NOT NULL) AS supp_seconds,
           min(s.at) FILTER (WHERE s.done_at IS NULL) AS open_req_at
    FROM supp_ev s
    JOIN calendar cr ON cr.d = CAST(s.at AS DATE)
    LEFT JOIN calendar cd ON cd.d = CAST(s.done_at AS DATE)
    WHERE s.event = 'supplement_requested'
    GROUP BY s.dossier_code
),
base AS (
    SELECT d.dossier_code, d.unit_code, d.procedure_code, d.channel, d.received_at, d.due_at,
           d.handling_official_id, d.receiving_official_id,
           coalesce(e.n_req, 0) AS n_req, coalesce(s.supp_wd, 0) AS supp_wd,
           coalesce(s.supp_seconds, 0) AS supp_seconds, coalesce(e.apology, false) AS apology,
           e.overrun_officials, e.overrun_steps, coalesce(e.step_officials, []) AS step_officials,
           p.max_processing_time, p.time_unit,
           CASE WHEN d.finished_at < $pe THEN d.finished_at ELSE e.fin_ev END AS fin_at,
           CASE WHEN d.returned_at < $pe THEN d.returned_at ELSE e.ret_ev END AS ret_at,
           e.other_ev, e.other_kind, s.open_req_at
    FROM dossiers d
    LEFT JOIN ends e USING (dossier_code)
    LEFT JOIN supp s USING (dossier_code)
    LEFT JOIN procedures p USING (procedure_code)
    WHERE d.received_at < $pe
),
ended AS (
    SELECT *,
           coalesce(fin_at, ret_at, other_ev, CASE WHEN n_req = 1 THEN open_req_at END) AS end_at,
           CASE WHEN fin_at IS NOT NULL THEN 'finished' WHEN ret_at IS NOT NULL THEN 'returned'
                WHEN other_ev IS NOT NULL THEN other_kind
                WHEN n_req = 1 AND open_req_at IS NOT NULL THEN 'supplement' END AS end_kind
    FROM base
),
judged AS (
    SELECT x.*,
           coalesce(x.end_at, $pe - INTERVAL 1 SECOND) AS judged_at,
           cj.wd_index AS judged_wd, cr.wd_index AS received_wd, cdue.wd_index AS due_wd
    FROM ended x
    JOIN calendar cj ON cj.d = CAST(coalesce(x.end_at, $pe - INTERVAL 1 SECOND) AS DATE)
    JOIN calendar cr ON cr.d = CAST(x.received_at AS DATE)
    LEFT JOIN calendar cdue ON cdue.d = CAST(x.due_at AS DATE)
    WHERE x.end_at IS NULL OR x.end_at >= $ps OR x.received_at >= $ps
)
SELECT *,
       end_at IS NULL AS is_open,
       received_at >= $ps AS received_in_period,
       end_kind IN ('finished', 'returned') AND end_at >= $ps AS finished_in_period,
       CASE
         WHEN n_req >= 2 THEN true
         WHEN due_at IS NOT NULL THEN judged_wd - supp_wd > due_wd
         WHEN max_processing_time IS NULL THEN false
         WHEN time_unit = 'day' THEN epoch(judged_at - received_at) - supp_seconds > max_processing_time * 86400
         WHEN time_unit = 'hour' THEN epoch(judged_at - received_at) - supp_seconds > max_processing_time * 3600
         WHEN time_unit = 'month' THEN judged_at - to_seconds(CAST(supp_seconds AS BIGINT))
                                       > received_at + to_months(CAST(max_processing_time AS INTEGER))
         ELSE judged_wd - received_wd - supp_wd > max_processing_time
       END AS late,
       CASE WHEN due_at IS NOT NULL THEN greatest(judged_wd - supp_wd - due_wd, 0) END AS overdue_wd,
       CASE
         WHEN n_req >= 2 THEN 'yêu cầu bổ sung lần hai'
         WHEN end_at IS NULL THEN 'chưa xong tại cuối kỳ'
         WHEN end_kind = 'supplement' THEN 'chờ bổ sung (tính đến lúc yêu cầu)'
         ELSE 'kết thúc: ' || end_kind
       END AS judged_as
FROM judged;
