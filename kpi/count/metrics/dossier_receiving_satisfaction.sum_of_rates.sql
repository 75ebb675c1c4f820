-- DOSSIER_RECEIVING_SATISFACTION, the document's reading (doc 5.4; profile option `variant: sum_of_rates`):
-- rate = 100 % − (late rate of ON_TIME + rate of dossiers complained about or rated unsatisfied), never
-- below 0. Shown as numerator / denominator over the same dossiers: numerator = denominator × rate.
-- Input: _agg (this metric), _agg_on_time, _agg_dossier_no_complaint — per scope_code.
SELECT a.scope_code,
       CASE WHEN a.denominator > 0 THEN greatest(a.denominator * (
                coalesce(ot.numerator / nullif(ot.denominator, 0), 1)
                + coalesce(nc.numerator / nullif(nc.denominator, 0), 1) - 1), 0)
            ELSE 0 END AS numerator,
       a.denominator
FROM _agg a
LEFT JOIN _agg_on_time ot USING (scope_code)
LEFT JOIN _agg_dossier_no_complaint nc USING (scope_code)
