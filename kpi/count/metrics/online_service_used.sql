-- ONLINE_SERVICE_USED = online services that received at least one online dossier in the period
--                       / online services of the unit (status public, testing or stopping).
-- one row per entity
SELECT s.service_id AS entity, s.unit_code, s.procedure_code, NULL AS official_id, [] AS charged,
       EXISTS (SELECT 1 FROM dossiers d WHERE d.unit_code = s.unit_code AND d.procedure_code = s.procedure_code
               AND d.channel = '2' AND d.received_at >= $ps AND d.received_at < $pe) AS in_num,
       true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN EXISTS (SELECT 1 FROM dossiers d WHERE d.unit_code = s.unit_code AND d.procedure_code = s.procedure_code
               AND d.channel = '2' AND d.received_at >= $ps AND d.received_at < $pe)
            THEN 'có hồ sơ trực tuyến' ELSE 'không phát sinh hồ sơ trực tuyến trong kỳ' END AS reason
FROM online_services s
WHERE coalesce(s.status, 'public') IN ('public', 'testing', 'stopping')
