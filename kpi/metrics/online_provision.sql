-- ONLINE_PROVISION = procedures offered online (partial or full, counted once at the higher level)
--                    / procedures under the unit's authority.
SELECT a.procedure_code AS entity, a.unit_code, a.procedure_code, NULL AS official_id, [] AS charged,
       max(s.level) IS NOT NULL AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN bool_or(s.level = 'full') THEN 'DVC trực tuyến toàn trình'
            WHEN bool_or(s.level = 'partial') THEN 'DVC trực tuyến một phần'
            ELSE 'chưa cung cấp trực tuyến' END AS reason
FROM _authority a
LEFT JOIN online_services s ON s.unit_code = a.unit_code AND s.procedure_code = a.procedure_code
     AND coalesce(s.status, 'public') IN ('public', 'testing')
GROUP BY a.unit_code, a.procedure_code
