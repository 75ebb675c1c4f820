-- PUBLIC_UPDATE_ON_TIME = procedures made public on the national TTHC database within N working days of
-- their publication decision / procedures that had to be made public in the period (doc 1.2): those made
-- public in the period, plus those whose N-working-day window closed in the period without being made
-- public. A window still open at the period end (or as-of date) is not counted yet. Abolished procedures
-- count. A procedure counts once per period, late if any of its decisions was.
WITH due AS (
    SELECT d.*, d.public_at IS NOT NULL AND d.public_at < $pe AND d.public_wd - d.decision_wd <= $public_update_working_days
               AS on_time
    FROM _decisions d
    WHERE (d.public_at >= $ps AND d.public_at < $pe)
       OR (d.window_last >= CAST($ps AS DATE) AND d.window_last < CAST($pe AS DATE)
           AND (d.public_at IS NULL OR d.public_at >= $pe))
)
SELECT d.procedure_code AS entity, a.unit_code, d.procedure_code, NULL AS official_id, [] AS charged,
       bool_and(d.on_time) AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN bool_and(d.on_time) THEN 'công khai đúng hạn'
            WHEN bool_or(d.public_at IS NULL OR d.public_at >= $pe)
                 THEN 'chưa công khai trên CSDL quốc gia, hết hạn ngày '
                      || vn_date(min(d.window_last) FILTER (WHERE d.public_at IS NULL OR d.public_at >= $pe))
            ELSE 'công khai muộn (' || max(d.public_wd - d.decision_wd) || ' ngày làm việc sau quyết định)' END AS reason
FROM due d JOIN _authority_all a USING (procedure_code)
GROUP BY d.procedure_code, a.unit_code
