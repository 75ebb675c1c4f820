-- PETITION_PROCESSING_ON_TIME = feedback handled on time (answered ≤ 15 working days after it was sent or
-- transferred; rejected ≤ 2; supplement requested ≤ 5) + feedback in process and within time
-- / feedback under the unit's authority in the period.
SELECT feedback_id AS entity, unit_code, NULL AS procedure_code, official_id, [] AS charged,
       on_time AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN on_time THEN 'đúng hạn: ' ELSE 'trễ hạn: ' END || handling AS reason
FROM _feedback_eval WHERE clock_start >= $ps
