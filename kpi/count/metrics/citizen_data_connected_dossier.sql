-- CITIZEN_DATA_CONNECTED_DOSSIER = dossiers using population data (VNeID-authenticated or fetched from the population database) / dossiers received in the period.
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id,
       [d.receiving_official_id] AS charged,
       coalesce(d.vneid_authenticated, false) AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(d.vneid_authenticated, false) THEN 'có khai thác dữ liệu dân cư (VNeID)' ELSE 'không khai thác dữ liệu dân cư (VNeID)' END AS reason
FROM dossiers d WHERE d.received_at >= $ps AND d.received_at < $pe
