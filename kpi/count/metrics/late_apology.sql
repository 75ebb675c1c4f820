-- LATE_APOLOGY (tracked): late dossiers with an apology letter (thư xin lỗi) sent / late dossiers.
-- one row per entity
SELECT dossier_code AS entity, unit_code, procedure_code, handling_official_id AS official_id, [] AS charged,
       apology AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN apology THEN 'đã gửi thư xin lỗi' ELSE 'trễ hạn, chưa gửi thư xin lỗi' END AS reason
FROM _dossier_eval WHERE late
