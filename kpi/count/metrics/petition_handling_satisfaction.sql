-- PETITION_HANDLING_SATISFACTION = (feedback − feedback with more dislikes than likes, raised again, or
-- handled late) / feedback first accepted in the period.
-- one row per entity
SELECT feedback_id AS entity, unit_code, NULL AS procedure_code, official_id, [] AS charged,
       NOT (coalesce(dislikes, 0) > coalesce(likes, 0) OR coalesce(repeated, false) OR NOT on_time) AS in_num,
       true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(dislikes, 0) > coalesce(likes, 0) THEN 'nhiều lượt không thích hơn lượt thích'
            WHEN coalesce(repeated, false) THEN 'bị phản ánh lại'
            WHEN NOT on_time THEN 'xử lý trễ hạn'
            ELSE 'hài lòng' END AS reason
FROM _feedback_eval WHERE accepted_at >= $ps AND accepted_at < $pe
