"""Analysis: the scores and totals API, the officials' review and self-assessment, what-if projections,
inspection lists, the reconciliation with the portal, and the figures kept per data version. Imports
count, load, the store and the root; never present, report, notebook or cli."""
