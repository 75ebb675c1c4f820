-- CITIZEN_DATA_CONNECTED_FORMALITY = procedures for citizens with at least one dossier using population data
--                                    in the period / procedures for citizens under the unit.
SELECT a.procedure_code AS entity, a.unit_code, a.procedure_code, NULL AS official_id, [] AS charged,
       count(d.dossier_code) > 0 AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN count(d.dossier_code) > 0 THEN count(d.dossier_code) || ' hồ sơ khai thác dữ liệu dân cư'
            ELSE 'không có hồ sơ khai thác dữ liệu dân cư' END AS reason
FROM _authority a JOIN procedures p USING (procedure_code)
LEFT JOIN dossiers d ON d.unit_code = a.unit_code AND d.procedure_code = a.procedure_code
     AND d.received_at >= $ps AND d.received_at < $pe AND d.vneid_authenticated
WHERE coalesce(p.for_citizens, false)
GROUP BY a.unit_code, a.procedure_code
