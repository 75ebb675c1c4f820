"""What the notebooks take from kpi, in one public place: the store and the report's look inside
JupyterLab, live views and table browsers, the report's content (01), the explorer (02), the inspection
drill-down (03, 04) and the reconciliation (05). May import every layer below (report, analysis, count,
load, store, present, root); not cli. A notebook imports only from here, so a move inside the package never
breaks an analyst's copy of a notebook.

Each name is imported when first asked for (PEP 562): notebook 02 opening the explorer does not pay for the
report's content and the drill-down's imports."""
from __future__ import annotations

import importlib

# each name and the module it comes from: a name that is its module's own (drilldown, content) is the module
WHERE = {"data_range": "kpi.analysis.api", "last_complete_month": "kpi.analysis.api", "session": "kpi.analysis.api",
         "drilldown": "kpi.notebook.drilldown", "reconciliation": "kpi.notebook.reconciliation",
         "Inspection": "kpi.notebook.drilldown", "Explorer": "kpi.notebook.explore", "LiveView": "kpi.notebook.live",
         "NotebookError": "kpi.notebook.live", "TableBrowser": "kpi.notebook.live", "error_line": "kpi.notebook.live",
         "store_path": "kpi.notebook.live", "style": "kpi.notebook.live", "wrap": "kpi.notebook.live",
         "content": "kpi.report.content"}

__all__ = sorted(WHERE)


def __getattr__(name: str):
    if name not in WHERE:
        raise AttributeError(f"module 'kpi.notebook' has no attribute '{name}'")
    module = importlib.import_module(WHERE[name])
    value = module if WHERE[name].rsplit(".", 1)[1] == name else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(WHERE))
