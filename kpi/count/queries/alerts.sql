-- Early warning (kpi alerts): every dossier still open at $pe (exclusive: the as-of moment), judged there by
-- the ON_TIME rules (kpi/count/dossier_judgement.sql), with the deadline it has now and the working days
-- left to it. Only the dossiers that can be open are read: a dossier whose kept fact (dossier_facts) says it
-- ended before $pe (other than by waiting on a supplement request), and that has not changed since, is not.
--   overdue            open and late already (working days overdue; 0 = late by hours)
--   due_soon           open, not late, due within $days working days (the calendar's, holidays included)
--   waiting_applicant  paused at an unanswered supplement request: how long it has waited, and the
--                      deadline it will have if the citizen answers now (the wait is not the agency's time)
CREATE OR REPLACE TEMP TABLE _cand AS
SELECT 0 AS pid, $pe AS pe, d.*, events_from(s) AS events_from FROM judged_dossiers() d
LEFT JOIN dossier_facts f USING (dossier_code) LEFT JOIN dossier_spans s USING (dossier_code)
WHERE d.received_at < $pe
  AND NOT coalesce(d.finished_at < $pe, false) AND NOT coalesce(d.returned_at < $pe, false)
  AND NOT coalesce(f.end_at < $pe AND f.end_kind <> 'supplement' AND f.changed_at < $pe
                   AND f.record_hash = dossier_record_hash(d), false);

CREATE OR REPLACE TEMP TABLE _alert_judged AS
{{dossier_judgement}};

WITH j AS (
    SELECT * FROM _alert_judged WHERE end_at IS NULL OR end_kind = 'supplement'
),
-- the deadline now: the due time (end of that day when it has no time of day), or the procedure's time
-- limit counted from receipt, moved later by the citizen's waits so far (and, while waiting, by this wait)
limit_day AS (
    SELECT j.dossier_code, min(c.d) AS d
    FROM j JOIN calendar cr ON cr.d = CAST(j.received_at AS DATE)
    JOIN calendar c ON c.wd_index = cr.wd_index + CAST(j.max_processing_time AS BIGINT) AND c.is_working
    WHERE j.due_at IS NULL AND coalesce(j.time_unit, 'working_day') = 'working_day' AND j.max_processing_time IS NOT NULL
    GROUP BY j.dossier_code
),
deadline AS (
    SELECT j.*,
           CASE WHEN j.end_kind = 'supplement' THEN epoch($pe - INTERVAL 1 SECOND - j.end_at) ELSE 0 END AS waited_seconds,
           CASE WHEN j.due_at IS NOT NULL THEN j.due_limit
                WHEN ld.d IS NOT NULL THEN CAST(ld.d AS TIMESTAMP) + INTERVAL 1 DAY - INTERVAL 1 SECOND
                WHEN j.time_unit = 'day' THEN j.received_at + to_days(CAST(j.max_processing_time AS INTEGER))
                WHEN j.time_unit = 'hour' THEN j.received_at + to_hours(CAST(j.max_processing_time AS INTEGER))
                WHEN j.time_unit = 'month' THEN j.received_at + to_months(CAST(j.max_processing_time AS INTEGER))
           END AS base_deadline
    FROM j LEFT JOIN limit_day ld USING (dossier_code)
),
moved AS (
    SELECT *, base_deadline + to_seconds(CAST(supp_seconds + waited_seconds AS BIGINT)) AS deadline_now
    FROM deadline
),
last_step AS (      -- where the dossier is: its latest step before the as-of moment, and who held it
    SELECT e.dossier_code,
           arg_max(coalesce(e.step_name, e.event), e.seq) AS step,
           arg_max(e.official_id, e.seq) FILTER (WHERE e.official_id IS NOT NULL) AS step_official
    FROM dossier_events e SEMI JOIN j USING (dossier_code)
    WHERE e."at" < $pe
    GROUP BY e.dossier_code
),
stated AS (
    SELECT m.*, ls.step, coalesce(m.handling_official_id, ls.step_official) AS official_id,
           cn.wd_index AS now_wd, cd.wd_index AS deadline_wd,
           CASE WHEN m.end_kind = 'supplement' THEN 'waiting_applicant'
                WHEN m.late THEN 'overdue'
                WHEN m.deadline_now IS NOT NULL AND cd.wd_index - cn.wd_index <= $days THEN 'due_soon'
           END AS state
    FROM moved m
    LEFT JOIN last_step ls USING (dossier_code)
    JOIN calendar cn ON cn.d = CAST($pe - INTERVAL 1 SECOND AS DATE)
    LEFT JOIN calendar cd ON cd.d = CAST(m.deadline_now AS DATE)
)
SELECT s.dossier_code, s.unit_code, u.unit_name, s.procedure_code, p.procedure_name, s.step,
       s.official_id, o.full_name AS official_name, s.received_at, s.due_at, s.deadline_now,
       CASE WHEN s.state = 'overdue' THEN -coalesce(s.overdue_wd, 0)
            ELSE s.deadline_wd - s.now_wd END AS working_days_left,
       s.state, s.late AS late_already,
       CASE WHEN s.state = 'waiting_applicant' THEN s.end_at END AS waiting_since,
       CASE WHEN s.state = 'waiting_applicant' THEN s.waited_seconds END AS waited_seconds
FROM stated s
LEFT JOIN units u USING (unit_code)
LEFT JOIN procedures p USING (procedure_code)
LEFT JOIN officials o ON o.official_id = s.official_id
WHERE s.state IS NOT NULL
ORDER BY CASE s.state WHEN 'overdue' THEN 0 WHEN 'due_soon' THEN 1 ELSE 2 END, working_days_left, s.deadline_now,
         s.dossier_code
