"""Loading: raw files (CSV, XLSX, Parquet, JSON, the national sync payloads, the portal's responses) →
validation → quarantine → the DuckDB store, one transaction per load. Imports the root modules and the
store only."""
from kpi.load.errors import LoadError
from kpi.load.loader import LoadReport, load_paths

__all__ = ["LoadError", "LoadReport", "load_paths"]
