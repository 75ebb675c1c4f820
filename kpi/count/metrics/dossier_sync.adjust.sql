-- DOSSIER_SYNC denominator (doc 1.4): the larger of our own count and the national reporting system's
-- count for the same scope and period; if both are 0, last calendar year's total (the national report's
-- annual count, else our own dossiers) × months / 12 — ÷ 12 for a month, ÷ 4 a quarter, ÷ 2 a half, × 1 a
-- year, rounded to a whole dossier; if that is missing too, the rate is 0 (not null). Every scope is listed, also those that received
-- nothing in the period (they are the ones the fallback is for).
-- Input: _agg(scope_code, numerator, denominator); _scope_units(scope_code, unit_code).
WITH scopes AS (
    SELECT DISTINCT scope_code FROM _scope_units
),
nr AS (
    SELECT s.scope_code, sum(r.received_count) AS n
    FROM national_report r JOIN _scope_units s ON s.unit_code = r.unit_code
    WHERE r.period_start >= CAST($ps AS DATE) AND r.period_end < CAST($pe AS DATE)
    GROUP BY s.scope_code
),
last_year AS (
    SELECT make_date(year(CAST($ps AS DATE)) - 1, 1, 1) AS ys, make_date(year(CAST($ps AS DATE)), 1, 1) AS ye
),
prev_report AS (
    SELECT s.scope_code, sum(r.received_count) AS n
    FROM national_report r JOIN _scope_units s ON s.unit_code = r.unit_code, last_year y
    WHERE r.period_start >= y.ys AND r.period_end < y.ye
    GROUP BY s.scope_code
),
prev_own AS (
    SELECT s.scope_code, count(*) AS n
    FROM dossiers d JOIN _scope_units s ON s.unit_code = d.unit_code, last_year y
    WHERE d.received_at >= y.ys AND d.received_at < y.ye
    GROUP BY s.scope_code
),
counted AS (
    SELECT sc.scope_code, coalesce(a.numerator, 0) AS numerator,
           greatest(coalesce(a.denominator, 0), coalesce(nr.n, 0)) AS current_n,
           coalesce(nullif(pr.n, 0), po.n, 0) AS previous_n
    FROM scopes sc
    LEFT JOIN _agg a USING (scope_code)
    LEFT JOIN nr USING (scope_code)
    LEFT JOIN prev_report pr USING (scope_code)
    LEFT JOIN prev_own po USING (scope_code)
)
SELECT scope_code, numerator,
       CASE WHEN current_n > 0 THEN current_n
            WHEN $months > 0 AND previous_n > 0 THEN round(previous_n * $months / 12)
            ELSE 0 END AS denominator,
       current_n = 0 AS empty_rate_zero
FROM counted
