-- CHANNEL_ONLINE (tracked) = dossiers received trực tuyến in the period / dossiers received in the period.
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id, [] AS charged,
       d.channel = '2' AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE coalesce(d.channel, '1') WHEN '2' THEN 'trực tuyến' WHEN '3' THEN 'bưu chính' ELSE 'trực tiếp' END AS reason
FROM dossiers d WHERE d.received_at >= $ps AND d.received_at < $pe
