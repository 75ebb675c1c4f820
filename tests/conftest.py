import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
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


@pytest.fixture(scope="session")
def hw(tmp_path_factory):
    """The hand-worked province (tests/data/handworked) loaded into a store; copy it before changing it."""
    from kpi.load import load_paths
    from kpi.store import connect
    path = tmp_path_factory.mktemp("hw") / "kpi.duckdb"
    con = connect(path)
    load_paths(con, [ROOT / "tests" / "data" / "handworked"], progress=False)
    con.close()
    return path


@pytest.fixture
def hw_copy(hw, tmp_path):
    dst = tmp_path / "hw.duckdb"
    shutil.copy(hw, dst)
    return dst


@pytest.fixture
def store_copy(sample_store, tmp_path):
    dst = tmp_path / "kpi.duckdb"
    shutil.copy(sample_store, dst)
    return dst


def drawn_charts(html_path, tmp_path) -> int:
    """Open an HTML file in headless Chromium with the network unavailable and count the SVG charts that
    were actually drawn (a real size and marks inside). Fails in CI if Chromium is missing."""
    import os
    import re
    import shutil
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium not installed")
    probe = tmp_path / ("probe-" + html_path.name)
    probe.write_text(html_path.read_text(encoding="utf-8").replace(
        "</body>", "<script>document.title = 'charts:' + [...document.querySelectorAll('svg.marks')]"
                   ".filter(s => s.getBBox().width > 50 && s.querySelectorAll('path,rect,text').length > 5)"
                   ".length;</script></body>"), encoding="utf-8")
    out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'chromium-profile'}", "--proxy-server=127.0.0.1:9",
                          "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=180)
    m = re.search(r"<title>charts:(\d+)</title>", out.stdout)
    assert m, out.stderr[-500:]
    return int(m.group(1))


def load_into(store, folder) -> None:
    """`kpi load` of a folder into a store (made if new), as the loader's API does it."""
    from kpi.load import load_paths
    from kpi.store import connect
    con = connect(store)
    load_paths(con, [folder], progress=False)
    con.close()


def split_exports(raw, out, cut: str) -> tuple:
    """The sample as a province's exports: everything received before `cut` with its events and ratings
    before it (base), then the export from `cut` on — the dossiers received since, the older ones with an
    event or a rating since (their current record, sent again), their events and ratings. Returns (base,
    export)."""
    base, day = out / "base", out / "export"
    for d in (base, day):
        d.mkdir()
    for f in raw.iterdir():
        if f.is_file() and f.name not in ("dossiers.csv", "dossier_events.csv", "ratings.csv"):
            shutil.copy(f, base / f.name)
    d = pd.read_csv(raw / "dossiers.csv", dtype=str, keep_default_na=False)
    e = pd.read_csv(raw / "dossier_events.csv", dtype=str, keep_default_na=False)
    r = pd.read_csv(raw / "ratings.csv", dtype=str, keep_default_na=False)
    rcode = r.columns[0]          # the sample's ratings come with Vietnamese headers and day-first times
    rated = pd.to_datetime(r[r.columns[1]], dayfirst=True)
    new = d.received_at >= cut
    touched = set(d.dossier_code[new]) | set(e.dossier_code[e["at"] >= cut]) | set(r[rcode][rated >= cut])
    old = set(d.dossier_code[~new])
    d[~new].to_csv(base / "dossiers.csv", index=False)
    e[e.dossier_code.isin(old) & (e["at"] < cut)].to_csv(base / "dossier_events.csv", index=False)
    r[r[rcode].isin(old) & (rated < cut)].to_csv(base / "ratings.csv", index=False)
    d[d.dossier_code.isin(touched)].to_csv(day / "dossiers.csv", index=False)
    e[e.dossier_code.isin(touched) & ((e["at"] >= cut) | e.dossier_code.isin(set(d.dossier_code[new])))].to_csv(
        day / "dossier_events.csv", index=False)
    r[r[rcode].isin(touched) & ((rated >= cut) | r[rcode].isin(set(d.dossier_code[new])))].to_csv(
        day / "ratings.csv", index=False)
    # the earliest moment the export's rows reach: their own times, and the receipt of every dossier touched
    return base, day
