-- DOSSIER_SYNC denominator: the larger of our own count and the national reporting system's count
-- for the same scope and period; if both are 0, the previous year's count ÷ 12 (month) or ÷ 4
-- (quarter); if that is missing too, the rate is 0 (not null).
-- Input: _agg(scope_code, numerator, denominator); _scope_units(scope_code, unit_code).
WITH nr AS (
    SELECT s.scope_code, sum(r.received_count) AS n
    FROM national_report r JOIN _scope_units s ON s.unit_code = r.unit_code
    WHERE r.period_start >= CAST($ps AS DATE) AND r.period_end < CAST($pe AS DATE)
    GROUP BY s.scope_code
),
prev AS (
    SELECT s.scope_code, count(*) AS n
    FROM dossiers d JOIN _scope_units s ON s.unit_code = d.unit_code
    WHERE d.received_at >= $ps - INTERVAL 1 YEAR AND d.received_at < $ps
    GROUP BY s.scope_code
)
SELECT a.scope_code, a.numerator,
       CASE WHEN greatest(a.denominator, coalesce(nr.n, 0)) > 0 THEN greatest(a.denominator, coalesce(nr.n, 0))
            WHEN $months IN (1, 3) AND coalesce(prev.n, 0) > 0 THEN prev.n / (12 / $months)
            ELSE 0 END AS denominator,
       greatest(a.denominator, coalesce(nr.n, 0)) = 0 AS empty_rate_zero
FROM _agg a LEFT JOIN nr USING (scope_code) LEFT JOIN prev USING (scope_code)
