-- FULL_ONLINE_DOSSIERS (tracked) = fully-online dossiers / dossiers of procedures eligible to be fully online.
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id, [] AS charged,
       d.channel = '2' AND p.online_level = 'full' AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN d.channel = '2' AND p.online_level = 'full' THEN 'toàn trình' ELSE 'không toàn trình' END AS reason
FROM dossiers d JOIN procedures p USING (procedure_code)
WHERE d.received_at >= $ps AND d.received_at < $pe AND coalesce(p.full_online_eligible, false)
