-- ONLINE_SUBMISSION, the document's reading (doc 3.3; profile option `variant: sync_factor`): the online
-- rate multiplied by the unit's DOSSIER_SYNC rate before the target applies.
-- Input: _agg (this metric), _agg_dossier_sync — per scope_code.
SELECT a.scope_code,
       a.numerator * coalesce(s.numerator / nullif(s.denominator, 0), 0) AS numerator,
       a.denominator
FROM _agg a LEFT JOIN _agg_dossier_sync s USING (scope_code)
