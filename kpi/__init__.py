"""kpi766 — the Decision 766 service-quality index from dossier data."""
from .api import evidence, official_index, official_review, scores, self_assessment, totals

__all__ = ["scores", "totals", "evidence", "official_index", "official_review", "self_assessment"]
