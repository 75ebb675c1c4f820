-- SO_HOA_GIAY_TO_GIAI_QUYET = dossiers digitised (component files attached, and an electronic result
-- where a paper result is required) / dossiers received in the period.
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id,
       [d.receiving_official_id] AS charged,
       coalesce(d.digitized_components, false)
         AND (NOT coalesce(p.paper_result_required, false) OR coalesce(d.e_result, false)) AS in_num,
       true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN NOT coalesce(d.digitized_components, false) THEN 'thành phần hồ sơ chưa số hóa'
            WHEN coalesce(p.paper_result_required, false) AND NOT coalesce(d.e_result, false)
              THEN 'chưa số hóa kết quả giải quyết'
            ELSE 'đã số hóa' END AS reason
FROM dossiers d LEFT JOIN procedures p USING (procedure_code)
WHERE d.received_at >= $ps AND d.received_at < $pe
