-- Data quality of the period: dossiers received that never reached the national portal, per unit.
SELECT d.unit_code, u.unit_name, count(*) AS received,
       count(*) FILTER (WHERE d.synced_at IS NULL OR d.synced_at >= $pe) AS never_synced
FROM dossiers d JOIN units u USING (unit_code)
WHERE d.received_at >= $ps AND d.received_at < $pe
GROUP BY ALL ORDER BY never_synced DESC, d.unit_code
