-- FEE_PROCEDURES_PAID_ONLINE = fee-bearing procedures with at least one dossier paid online in the period
--                              / fee-bearing procedures under the unit's authority.
SELECT a.procedure_code AS entity, a.unit_code, a.procedure_code, NULL AS official_id, [] AS charged,
       count(d.dossier_code) > 0 AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN count(d.dossier_code) > 0 THEN count(d.dossier_code) || ' hồ sơ thanh toán trực tuyến'
            ELSE 'không có hồ sơ thanh toán trực tuyến' END AS reason
FROM _authority a JOIN procedures p USING (procedure_code)
LEFT JOIN dossiers d ON d.unit_code = a.unit_code AND d.procedure_code = a.procedure_code
     AND d.received_at >= $ps AND d.received_at < $pe AND d.paid_online IN ('1', '2')
WHERE coalesce(p.has_fee, false)
GROUP BY a.unit_code, a.procedure_code
