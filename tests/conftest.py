import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KPI = [sys.executable, "-m", "kpi.cli"]


def run_kpi(*args, env=None, cwd=None):
    """Run the real CLI in a subprocess; returns CompletedProcess with text output."""
    import os
    e = dict(os.environ)
    e.pop("KPI_STORE", None)
    e.update(env or {})
    return subprocess.run(KPI + [str(a) for a in args], capture_output=True, text=True, env=e, cwd=cwd or ROOT)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory):
    from kpi.sample import generate
    out = tmp_path_factory.mktemp("sample")
    generate(out, seed=7, months=4, per_year=12_000, progress=False)
    return out


@pytest.fixture(scope="session")
def sample_store(sample_dir, tmp_path_factory):
    from kpi.load import load_paths
    from kpi.store import connect
    path = tmp_path_factory.mktemp("store") / "kpi.duckdb"
    con = connect(path)
    load_paths(con, [sample_dir], progress=False)
    con.close()
    return path


@pytest.fixture
def store_copy(sample_store, tmp_path):
    dst = tmp_path / "kpi.duckdb"
    shutil.copy(sample_store, dst)
    return dst
