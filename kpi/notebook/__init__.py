"""What the notebooks take from kpi, in one public place: the store and the report's look inside
JupyterLab, live views and table browsers, the report's content (01), the explorer (02), the inspection
drill-down (03, 04) and the reconciliation (05). May import every layer below (report, analysis, count,
load, store, present, root); not cli. A notebook imports only from here, so a move inside the package never
breaks an analyst's copy of a notebook."""
from kpi.analysis.api import data_range, last_complete_month, session
from kpi.notebook import drilldown, reconciliation
from kpi.notebook.drilldown import Inspection
from kpi.notebook.explore import Explorer
from kpi.notebook.live import LiveView, NotebookError, TableBrowser, error_line, store_path, style, wrap
from kpi.report import content

__all__ = ["Explorer", "Inspection", "LiveView", "NotebookError", "TableBrowser", "content", "data_range",
           "drilldown", "error_line", "last_complete_month", "reconciliation", "session", "store_path", "style",
           "wrap"]
