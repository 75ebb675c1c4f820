-- Feedback (PAKN) judged at the period end: the clock starts when it was sent, or transferred;
-- answered ≤ N working days, rejected ≤ 2, supplement requested ≤ 5, or still in process within time.
CREATE OR REPLACE TEMP TABLE _feedback_eval AS
WITH f AS (
    SELECT f.*, coalesce(f.transferred_at, f.sent_at) AS clock_start,
           CASE WHEN f.rejected_at < $pe THEN f.rejected_at END AS rej,
           CASE WHEN f.supplement_requested_at < $pe THEN f.supplement_requested_at END AS supp,
           CASE WHEN f.processed_at < $pe THEN f.processed_at END AS done
    FROM feedback f WHERE coalesce(f.transferred_at, f.sent_at) < $pe
)
SELECT f.*, cs.wd_index AS start_wd,
       CASE WHEN rej IS NOT NULL THEN cr.wd_index - cs.wd_index <= $feedback_reject_working_days
            WHEN supp IS NOT NULL AND done IS NULL THEN cu.wd_index - cs.wd_index <= $feedback_supplement_working_days
            WHEN done IS NOT NULL THEN cd.wd_index - cs.wd_index <= $feedback_answer_working_days
            ELSE cj.wd_index - cs.wd_index <= $feedback_answer_working_days END AS on_time,
       CASE WHEN rej IS NOT NULL THEN 'từ chối sau ' || (cr.wd_index - cs.wd_index) || ' ngày làm việc'
            WHEN supp IS NOT NULL AND done IS NULL THEN 'yêu cầu bổ sung sau ' || (cu.wd_index - cs.wd_index) || ' ngày làm việc'
            WHEN done IS NOT NULL THEN 'trả lời sau ' || (cd.wd_index - cs.wd_index) || ' ngày làm việc'
            ELSE 'đang xử lý, đã ' || (cj.wd_index - cs.wd_index) || ' ngày làm việc' END AS handling
FROM f
JOIN calendar cs ON cs.d = CAST(f.clock_start AS DATE)
JOIN calendar cj ON cj.d = CAST($pe - INTERVAL 1 SECOND AS DATE)
LEFT JOIN calendar cr ON cr.d = CAST(f.rej AS DATE)
LEFT JOIN calendar cu ON cu.d = CAST(f.supp AS DATE)
LEFT JOIN calendar cd ON cd.d = CAST(f.done AS DATE);
