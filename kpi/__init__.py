"""kpi766 — the Decision 766 service-quality index from dossier data. The public calls: scores, totals,
evidence, the officials' index and review, the units' self-assessment, the morning's early warning, a unit's own store (extract). This face imports from the layers
below (the package's folders: root → store → load, count → analysis → present, report, notebook → cli)."""
from kpi.lazy_imports import defer_iri_syntax

defer_iri_syntax()        # before anything imports altair (and so jsonschema)

from kpi.analysis.alerts import alerts  # noqa: E402
from kpi.analysis.api import evidence, official_index, scores, totals  # noqa: E402
from kpi.analysis.extract import extract  # noqa: E402
from kpi.analysis.review import official_review, self_assessment  # noqa: E402

__all__ = ["scores", "totals", "evidence", "official_index", "official_review", "self_assessment", "alerts", "extract"]
