-- PAID_ONLINE = dossiers paid online (national portal or provincial gateway) / dossiers with a financial
-- obligation, by processing-start (received) date: dossiers of fee-bearing procedures, dropping only those
-- whose fee lines are all 0 — a dossier that carries no fee data stays in (doc 3.6).
-- one row per entity
SELECT d.dossier_code AS entity, d.unit_code, d.procedure_code, d.receiving_official_id AS official_id, [] AS charged,
       coalesce(d.paid_online, '0') IN ('1', '2') AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE coalesce(d.paid_online, '0') WHEN '1' THEN 'thanh toán qua Cổng DVCQG'
            WHEN '2' THEN 'thanh toán qua cổng thanh toán của tỉnh'
            ELSE 'không thanh toán trực tuyến' || CASE WHEN d.fee_amount IS NULL THEN ' (không có dữ liệu phí)' ELSE '' END
       END AS reason
FROM dossiers d JOIN procedures p USING (procedure_code)
WHERE d.received_at >= $ps AND d.received_at < $pe AND coalesce(p.has_fee, false)
  AND coalesce(d.fee_amount <> 0, true)
