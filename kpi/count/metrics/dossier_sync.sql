-- DOSSIER_SYNC = dossiers received in the period that reached the national portal / dossiers received
-- in the period (the denominator is raised to the national reporting system's count when larger:
-- see dossier_sync.adjust.sql).
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id,
       [d.receiving_official_id] AS charged,
       d.synced_at IS NOT NULL AND d.synced_at < $pe AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN d.synced_at IS NOT NULL AND d.synced_at < $pe THEN 'đã đồng bộ'
            ELSE 'chưa đồng bộ lên Cổng DVCQG' END AS reason
FROM dossiers d WHERE d.received_at >= $ps AND d.received_at < $pe
