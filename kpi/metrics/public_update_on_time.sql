-- PUBLIC_UPDATE_ON_TIME = procedures made public on the national TTHC database within N working days of
-- their publication decision / procedures that had to be made public in the period.
SELECT d.procedure_code AS entity, a.unit_code, d.procedure_code, NULL AS official_id, [] AS charged,
       bool_and(d.public_wd IS NOT NULL AND d.public_wd - d.decision_wd <= $public_update_working_days) AS in_num,
       true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN bool_and(d.public_wd IS NOT NULL AND d.public_wd - d.decision_wd <= $public_update_working_days)
            THEN 'công khai đúng hạn'
            WHEN bool_or(d.public_wd IS NULL) THEN 'chưa công khai trên CSDL quốc gia'
            ELSE 'công khai muộn (' || max(d.public_wd - d.decision_wd) || ' ngày làm việc)' END AS reason
FROM _decisions d JOIN _authority a USING (procedure_code)
GROUP BY d.procedure_code, a.unit_code
