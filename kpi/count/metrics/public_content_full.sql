-- PUBLIC_CONTENT_FULL = public procedures with all seven required parts / public procedures, as of the
-- period end (not period-bound).
SELECT p.procedure_code AS entity, a.unit_code, p.procedure_code, NULL AS official_id, [] AS charged,
       coalesce(p.has_name AND p.has_sequence AND p.has_method AND p.has_components AND p.has_time_limit
                AND p.has_subjects AND p.has_agency, false) AS in_num,
       true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(p.has_name AND p.has_sequence AND p.has_method AND p.has_components AND p.has_time_limit
                          AND p.has_subjects AND p.has_agency, false) THEN 'đủ 7 bộ phận'
            ELSE 'thiếu: ' || concat_ws(', ',
                 CASE WHEN NOT coalesce(p.has_name, false) THEN 'tên' END,
                 CASE WHEN NOT coalesce(p.has_sequence, false) THEN 'trình tự' END,
                 CASE WHEN NOT coalesce(p.has_method, false) THEN 'cách thức' END,
                 CASE WHEN NOT coalesce(p.has_components, false) THEN 'thành phần hồ sơ' END,
                 CASE WHEN NOT coalesce(p.has_time_limit, false) THEN 'thời hạn' END,
                 CASE WHEN NOT coalesce(p.has_subjects, false) THEN 'đối tượng' END,
                 CASE WHEN NOT coalesce(p.has_agency, false) THEN 'cơ quan thực hiện' END) END AS reason
FROM procedures p JOIN _authority a USING (procedure_code)
WHERE coalesce(p.status, 'public') IN ('public', 'public_amended')
  AND (p.made_public_at IS NULL OR p.made_public_at < $pe)
