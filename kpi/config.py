"""Paths and settings: where the store, the raw data, the outputs and the profiles live."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROFILES_DIR = PACKAGE_DIR / "profiles"
METRICS_DIR = PACKAGE_DIR / "metrics"
DEFAULT_PROFILE = PROFILES_DIR / "dvcqg-2026.yaml"

TIMEZONE = "Asia/Ho_Chi_Minh"


def project_root() -> Path:
    """The folder the user works in (the repository root when run from it)."""
    return Path(os.environ.get("KPI_HOME", Path.cwd()))


def default_store() -> Path:
    """`KPI_STORE` if set, else `data/processed/kpi.duckdb` under the project root."""
    env = os.environ.get("KPI_STORE")
    if env:
        return Path(env)
    return project_root() / "data" / "processed" / "kpi.duckdb"


def raw_dir() -> Path:
    return project_root() / "data" / "raw"


def outputs_dir() -> Path:
    return project_root() / "outputs"
