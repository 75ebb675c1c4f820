"""The explorer at its earlier address (`from kpi.explore import Explorer`), kept for analysts' copies of
notebook 02; it lives in kpi.notebook."""
from kpi.notebook.explore import Explorer

__all__ = ["Explorer"]
