-- REUSED_DIGITIZED_DATA = dossiers reusing already-digitised data for at least one component / dossiers received in the period.
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id,
       [d.receiving_official_id] AS charged,
       coalesce(d.reused_digitized_data, false) AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(d.reused_digitized_data, false) THEN 'có tái sử dụng dữ liệu đã số hóa' ELSE 'không tái sử dụng dữ liệu đã số hóa' END AS reason
FROM dossiers d WHERE d.received_at >= $ps AND d.received_at < $pe
