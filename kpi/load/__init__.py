"""Loaders: raw files → validation → quarantine → the DuckDB store, one transaction per load."""
from .errors import LoadError
from .loader import LoadReport, load_paths

__all__ = ["LoadError", "LoadReport", "load_paths"]
