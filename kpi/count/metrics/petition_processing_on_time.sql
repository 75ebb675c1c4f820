-- PETITION_PROCESSING_ON_TIME = feedback handled on time (answered ≤ 15 working days after it was sent or
-- transferred; rejected ≤ 2; supplement requested ≤ 5) + feedback in process and within time
-- / feedback under the unit's authority handled in the period ("đã và đang xử lý trong kỳ", doc 5.2): sent or
-- transferred, or ended, in the period, or still open at its end.
-- one row per entity
SELECT feedback_id AS entity, unit_code, NULL AS procedure_code, official_id, [] AS charged,
       on_time AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN on_time THEN 'đúng hạn: ' ELSE 'trễ hạn: ' END || handling AS reason
FROM _feedback_eval WHERE in_process_in_period
