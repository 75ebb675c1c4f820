"""Paths and settings: where the store, the raw data, the outputs and the profiles live."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROFILES_DIR = PACKAGE_DIR / "profiles"
METRICS_DIR = PACKAGE_DIR / "count" / "metrics"
QUERIES_DIR = PACKAGE_DIR / "count" / "queries"
DEFAULT_PROFILE = PROFILES_DIR / "dvcqg-2026.yaml"

TIMEZONE = "Asia/Ho_Chi_Minh"


def _workspace_at_or_above(path: Path) -> Path | None:
    for folder in (path, *path.parents):
        if (folder / "notebooks").is_dir() and (folder / "data").is_dir():
            return folder
    return None


_from_store: Path | None = None


def adopt_store(store) -> None:
    """A command run outside any workspace with `--store` inside one works in that workspace (its outputs,
    notebooks and kpi766.yaml), as if run from there."""
    global _from_store
    _from_store = _workspace_at_or_above(Path(store).resolve().parent) if store else None


def project_root() -> Path:
    """The workspace: `KPI_HOME`, else the nearest folder at or above the current one that holds
    `notebooks/` and `data/` (a notebook's kernel runs in `notebooks/`), else the workspace holding the
    store given on the command line, else the current folder."""
    if os.environ.get("KPI_HOME"):
        return Path(os.environ["KPI_HOME"])
    here = Path.cwd()
    return _workspace_at_or_above(here) or _from_store or here


def default_store() -> Path:
    """`KPI_STORE` if set (a relative path is taken from the workspace root), else
    `data/processed/kpi.duckdb` under the workspace root."""
    env = os.environ.get("KPI_STORE")
    if env:
        return Path(env) if Path(env).is_absolute() else project_root() / env
    return project_root() / "data" / "processed" / "kpi.duckdb"


def resolve_store(store=None) -> Path:
    """A notebook's `store` parameter: given (relative to the workspace root), else the default."""
    if store:
        return Path(store) if Path(store).is_absolute() else project_root() / store
    return default_store()


def where_store_came_from(store=None) -> str:
    """How the store path was found, for a message that names the real cause."""
    if store:
        return f"tham số store='{store}'"
    if os.environ.get("KPI_STORE"):
        return f"KPI_STORE={os.environ['KPI_STORE']} (tính từ thư mục {project_root()})"
    return f"mặc định data/processed/kpi.duckdb trong thư mục làm việc {project_root()}"


def raw_dir() -> Path:
    return project_root() / "data" / "raw"


def outputs_dir() -> Path:
    return project_root() / "outputs"
