-- ONLINE_PROVISION = procedures offered online (partial or full, counted once at the higher level)
--                    / procedures under the unit's authority. Only public services count as offered
--                    (public, or "chờ dừng công khai"); services in testing do not (doc 3.1).
SELECT a.procedure_code AS entity, a.unit_code, a.procedure_code, NULL AS official_id, [] AS charged,
       coalesce(bool_or(s.offered), false) AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN bool_or(s.offered AND s.level = 'full') THEN 'DVC trực tuyến toàn trình'
            WHEN bool_or(s.offered AND s.level = 'partial') THEN 'DVC trực tuyến một phần'
            WHEN bool_or(s.status = 'testing') THEN 'DVC trực tuyến đang thử nghiệm, chưa công khai'
            ELSE 'chưa cung cấp trực tuyến' END AS reason
FROM _authority a
LEFT JOIN (SELECT *, coalesce(status, 'public') IN ('public', 'stopping') AND level IN ('partial', 'full') AS offered
           FROM online_services) s ON s.unit_code = a.unit_code AND s.procedure_code = a.procedure_code
GROUP BY a.unit_code, a.procedure_code
