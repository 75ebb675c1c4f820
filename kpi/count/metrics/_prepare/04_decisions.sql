-- Publication decisions, one row per (decision, procedure), whatever their date (PUBLISH_ON_TIME keeps those
-- dated in the period; PUBLIC_UPDATE_ON_TIME those made public, or whose window closed, in the period):
-- from the publication_decisions table, else from the procedure's own decision date. Abolished procedures
-- are kept (decisions that abolish count). public_at: when the procedure was made public for this decision
-- (a date before the decision belongs to an earlier one). window_last: the last day of the N-working-day
-- window for making it public.
CREATE OR REPLACE TEMP TABLE _decisions AS
WITH all_decisions AS (
    SELECT decision_id, procedure_code, decision_date,
           coalesce(pd.legal_basis_effective_date, p.legal_basis_effective_date) AS effective_date,
           coalesce(pd.made_public_at, p.made_public_at) AS made_public_at
    FROM publication_decisions pd JOIN procedures p USING (procedure_code)
    UNION ALL
    SELECT 'QĐ công bố (danh mục TTHC)', procedure_code, publication_decision_date, legal_basis_effective_date,
           made_public_at
    FROM procedures p
    WHERE publication_decision_date IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM publication_decisions pd WHERE pd.procedure_code = p.procedure_code)
)
SELECT a.decision_id, a.procedure_code, a.decision_date, a.effective_date,
       CASE WHEN CAST(a.made_public_at AS DATE) >= a.decision_date THEN a.made_public_at END AS public_at,
       cd.wd_index AS decision_wd, ce.wd_index AS effective_wd,
       CASE WHEN CAST(a.made_public_at AS DATE) >= a.decision_date THEN cp.wd_index END AS public_wd,
       cw.d AS window_last
FROM all_decisions a
JOIN calendar cd ON cd.d = a.decision_date
LEFT JOIN calendar ce ON ce.d = a.effective_date
LEFT JOIN calendar cp ON cp.d = CAST(a.made_public_at AS DATE)
LEFT JOIN calendar cw ON cw.wd_index = cd.wd_index + $public_update_working_days AND cw.is_working;
