-- SYNCED_WITH_DVCQG_PERSONAL_STORAGE = dossiers with a component taken from, or a result pushed to, the citizen's store on the national portal / dossiers received in the period.
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id,
       [d.receiving_official_id] AS charged,
       coalesce(d.from_personal_store, false) AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(d.from_personal_store, false) THEN 'có kết nối kho dữ liệu cá nhân' ELSE 'không kết nối kho dữ liệu cá nhân' END AS reason
FROM dossiers d WHERE d.received_at >= $ps AND d.received_at < $pe
