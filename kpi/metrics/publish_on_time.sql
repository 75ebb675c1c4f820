-- PUBLISH_ON_TIME = procedures whose publication decision is dated ≥ N working days before the legal
-- basis takes effect / procedures in publication decisions dated in the period. A procedure in several
-- decisions counts once, and late if any of them was late.
SELECT d.procedure_code AS entity, a.unit_code, d.procedure_code, NULL AS official_id, [] AS charged,
       bool_and(d.effective_wd - d.decision_wd >= $publish_lead_working_days) AS in_num, true AS in_den,
       NULL::DOUBLE AS value,
       CASE WHEN bool_and(d.effective_wd - d.decision_wd >= $publish_lead_working_days) THEN 'công bố đúng hạn'
            ELSE 'công bố muộn: ' || string_agg(d.decision_id || ' ngày ' || strftime(d.decision_date, '%d/%m/%Y')
                 || ', hiệu lực ' || coalesce(strftime(d.effective_date, '%d/%m/%Y'), '?'), '; ') END AS reason
FROM _decisions d JOIN _authority a USING (procedure_code)
GROUP BY d.procedure_code, a.unit_code
