-- Feedback (PAKN) judged at the period end. The clock starts when it was sent, or transferred; it is
-- handled on time when rejected by the end of the 2nd working day, supplement requested by the end of the
-- 5th, answered by the end of the 15th (doc 5.2). Feedback that ended (rejected / supplement requested /
-- answered) is judged by its end time, open feedback by the period end — as a timestamp, so a deadline
-- that passed before a period ending on a weekend or holiday counts.
-- in_process_in_period: "đã và đang xử lý trong kỳ" — started, ended, or still open in the period.
-- One row per feedback and period in _periods (pid).
CREATE OR REPLACE TEMP TABLE _feedback_eval AS
WITH f AS (
    SELECT pp.pid, pp.ps, pp.pe, f.*, coalesce(f.transferred_at, f.sent_at) AS clock_start,
           CASE WHEN f.rejected_at < pp.pe THEN f.rejected_at END AS rej,
           CASE WHEN f.supplement_requested_at < pp.pe THEN f.supplement_requested_at END AS supp,
           CASE WHEN f.processed_at < pp.pe THEN f.processed_at END AS done
    FROM feedback f JOIN _periods pp ON coalesce(f.transferred_at, f.sent_at) < pp.pe
),
k AS (
    SELECT *,
           CASE WHEN rej IS NOT NULL THEN 'rejected' WHEN supp IS NOT NULL AND done IS NULL THEN 'supplement'
                WHEN done IS NOT NULL THEN 'answered' END AS end_kind,
           CASE WHEN rej IS NOT NULL THEN rej WHEN supp IS NOT NULL AND done IS NULL THEN supp ELSE done END AS end_at,
           CASE WHEN rej IS NOT NULL THEN $feedback_reject_working_days
                WHEN supp IS NOT NULL AND done IS NULL THEN $feedback_supplement_working_days
                ELSE $feedback_answer_working_days END AS limit_wd
    FROM f
),
judged AS (
    SELECT k.*, cs.wd_index AS start_wd, cl.d AS deadline,
           coalesce(k.end_at, pe - INTERVAL 1 SECOND) < CAST(cl.d AS TIMESTAMP) + INTERVAL 1 DAY AS on_time,
           ce.wd_index - cs.wd_index AS used_wd
    FROM k
    JOIN calendar cs ON cs.d = CAST(k.clock_start AS DATE)
    JOIN calendar cl ON cl.wd_index = cs.wd_index + k.limit_wd AND cl.is_working
    JOIN calendar ce ON ce.d = CAST(coalesce(k.end_at, pe - INTERVAL 1 SECOND) AS DATE)
)
SELECT * EXCLUDE (ps, pe),
       clock_start >= ps OR end_at IS NULL OR end_at >= ps AS in_process_in_period,
       CASE end_kind WHEN 'rejected' THEN 'từ chối sau ' WHEN 'supplement' THEN 'yêu cầu bổ sung sau '
                     WHEN 'answered' THEN 'trả lời sau ' ELSE 'đang xử lý, đã ' END
       || used_wd || ' ngày làm việc (hạn ' || vn_date(deadline) || ')' AS handling
FROM judged;
