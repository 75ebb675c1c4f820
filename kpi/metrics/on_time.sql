-- ON_TIME = (finished on or before the due date + still in process and not yet due at the period end)
--           / dossiers received or in process in the period.
-- A late dossier is charged to the officials whose steps overran, else to the handling official; every
-- official who held a step of it (`involved`) is credited when it was not their step that overran.
SELECT dossier_code AS entity, unit_code, procedure_code, handling_official_id AS official_id,
       CASE WHEN late THEN coalesce(nullif(overrun_officials, []), [handling_official_id]) ELSE [] END AS charged,
       step_officials AS involved,
       NOT late AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN late AND n_req >= 2 THEN 'trễ hạn: yêu cầu bổ sung lần hai'
            WHEN late AND is_open THEN 'trễ hạn, chưa giải quyết xong (quá hạn ' || coalesce(overdue_wd, 0) || ' ngày làm việc)'
            WHEN late THEN 'trễ hạn ' || coalesce(overdue_wd::VARCHAR, '?') || ' ngày làm việc'
                           || coalesce(' — bước quá hạn: ' || array_to_string(overrun_steps, ', '), '')
            WHEN is_open THEN 'đang giải quyết, chưa đến hạn'
            ELSE 'đúng hạn' END AS reason
FROM _dossier_eval
