-- ONLINE_SUBMISSION = dossiers received online in the period (channel online and, where the procedure
-- needs a paper result, an electronic result was issued) / dossiers received in the period.
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id,
       [d.receiving_official_id] AS charged,
       d.channel = '2' AND (NOT coalesce(p.paper_result_required, false) OR coalesce(d.e_result, false)) AS in_num,
       true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN d.channel = '2' AND (NOT coalesce(p.paper_result_required, false) OR coalesce(d.e_result, false))
            THEN 'nộp trực tuyến'
            WHEN d.channel = '2' THEN 'nộp trực tuyến nhưng chưa có kết quả điện tử'
            WHEN d.channel = '3' THEN 'nộp qua bưu chính' ELSE 'nộp trực tiếp' END AS reason
FROM dossiers d LEFT JOIN procedures p USING (procedure_code)
WHERE d.received_at >= $ps AND d.received_at < $pe
