-- FEE_PROCEDURES_WITH_DOSSIERS = fee-bearing procedures with at least one dossier in the period whose fee
-- data reached the national portal / fee-bearing procedures under the unit's authority.
SELECT a.procedure_code AS entity, a.unit_code, a.procedure_code, NULL AS official_id, [] AS charged,
       count(d.dossier_code) > 0 AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN count(d.dossier_code) > 0 THEN count(d.dossier_code) || ' hồ sơ có dữ liệu phí đã đồng bộ'
            ELSE 'không có hồ sơ có dữ liệu phí đồng bộ' END AS reason
FROM _authority a JOIN procedures p USING (procedure_code)
LEFT JOIN dossiers d ON d.unit_code = a.unit_code AND d.procedure_code = a.procedure_code
     AND d.received_at >= $ps AND d.received_at < $pe AND d.synced_at < $pe
     AND coalesce(d.has_financial_obligation, d.fee_amount > 0, false)
WHERE coalesce(p.has_fee, false)
GROUP BY a.unit_code, a.procedure_code
