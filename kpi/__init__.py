"""kpi766 — the Decision 766 service-quality index from dossier data. The public calls: scores, totals,
evidence, the officials' index and review, the units' self-assessment, the morning's early warning, a unit's own store (extract). This face imports from the layers
below (the package's folders: root → store → load, count → analysis → present, report, notebook → cli).

The calls are imported when first used (`kpi.scores(…)`, `from kpi import scores`): `import kpi` — what every
command and `python -m kpi.cli` do before anything else — costs nothing, so the command is already in charge
(of a Ctrl-C too) when pandas and DuckDB load."""
from kpi.lazy_imports import defer_iri_syntax

defer_iri_syntax()        # before anything imports altair (and so jsonschema)

__all__ = ["scores", "totals", "evidence", "official_index", "official_review", "self_assessment", "alerts", "extract"]


def __getattr__(name: str):
    """A public call, imported on its first use and kept as the package's attribute."""
    if name == "alerts":
        from kpi.analysis.alerts import alerts as value
    elif name in ("scores", "totals", "evidence", "official_index"):
        from kpi.analysis import api
        value = getattr(api, name)
    elif name == "extract":
        from kpi.analysis.extract import extract as value
    elif name in ("official_review", "self_assessment"):
        from kpi.analysis import review
        value = getattr(review, name)
    else:
        raise AttributeError(f"module 'kpi' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
