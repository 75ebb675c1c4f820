-- PUBLISH_ON_TIME = procedures whose publication decision is dated ≥ N working days before the legal
-- basis takes effect / procedures added, amended or abolished by publication decisions dated in the period
-- (doc 1.1: abolished procedures count). A procedure in several decisions counts once, and late if any of
-- them was late.
SELECT d.procedure_code AS entity, a.unit_code, d.procedure_code, NULL AS official_id, [] AS charged,
       bool_and(d.effective_wd - d.decision_wd >= $publish_lead_working_days) AS in_num, true AS in_den,
       NULL::DOUBLE AS value,
       CASE WHEN bool_and(d.effective_wd - d.decision_wd >= $publish_lead_working_days)
            THEN 'công bố đúng hạn' || CASE WHEN bool_or(a.abolished) THEN ' (bãi bỏ)' ELSE '' END
            ELSE 'công bố muộn: ' || string_agg(d.decision_id || ' ngày ' || vn_date(d.decision_date)
                 || ', hiệu lực ' || coalesce(vn_date(d.effective_date), '?'), '; ') END AS reason
FROM _decisions d JOIN _authority_all a USING (procedure_code)
WHERE d.decision_date >= CAST($ps AS DATE) AND d.decision_date < CAST($pe AS DATE)
GROUP BY d.procedure_code, a.unit_code
