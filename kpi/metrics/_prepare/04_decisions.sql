-- Publication decisions dated in the period, one row per (decision, procedure): from the
-- publication_decisions table, else from the procedure's own decision date.
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
SELECT a.*, cd.wd_index AS decision_wd, ce.wd_index AS effective_wd, cp.wd_index AS public_wd
FROM all_decisions a
JOIN calendar cd ON cd.d = a.decision_date
LEFT JOIN calendar ce ON ce.d = a.effective_date
LEFT JOIN calendar cp ON cp.d = CAST(a.made_public_at AS DATE)
WHERE a.decision_date >= CAST($ps AS DATE) AND a.decision_date < CAST($pe AS DATE);
