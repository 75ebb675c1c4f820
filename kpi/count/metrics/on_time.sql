-- ON_TIME = (finished on or before the due date + still in process and not yet due at the period end)
--           / dossiers received or in process in the period. The rules are in _prepare/03_dossier_eval.sql;
-- judgement_text (_prepare/00_macros.sql) says which one applied.
-- A late dossier is charged to the officials whose steps overran, else to the handling official; every
-- official who held a step of it (`involved`) is credited when it was not their step that overran.
-- one row per entity
SELECT dossier_code AS entity, unit_code, procedure_code, handling_official_id AS official_id,
       CASE WHEN late THEN coalesce(nullif(overrun_officials, []), [handling_official_id]) ELSE [] END AS charged,
       step_officials AS involved,
       NOT late AS in_num, true AS in_den, NULL::DOUBLE AS value,
       judgement_text(e) || CASE WHEN late AND len(overrun_steps) > 0
                         THEN ' — bước quá hạn: ' || array_to_string(overrun_steps, ', ') ELSE '' END AS reason
FROM _dossier_eval e
