import hashlib
import json

import pandas as pd

from conftest import run_kpi
from kpi.load import load_paths
from kpi.sample import generate
from kpi.store import connect, run, table_counts


def _digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sample_is_deterministic(tmp_path, sample_dir):
    generate(tmp_path / "a", seed=7, months=4, per_year=12_000, progress=False)
    assert _digest(tmp_path / "a") == _digest(sample_dir)
    generate(tmp_path / "b", seed=8, months=4, per_year=12_000, progress=False)
    assert _digest(tmp_path / "b")["dossiers.csv"] != _digest(sample_dir)["dossiers.csv"]


def test_sample_shape(sample_dir):
    units = pd.read_csv(sample_dir / "units.csv", dtype=str)
    assert set(units.level) == {"province", "department", "district", "commune"}
    current = units[units.valid_to.isna()]
    assert 18 <= (current.level == "department").sum() <= 22
    assert 90 <= (current.level == "commune").sum() <= 100
    merged = units[units.valid_to == "2025-06-30"]
    assert merged.successor_code.notna().all() and len(merged) > 100
    assert merged.successor_code.isin(units.unit_code).all()
    procs = pd.read_excel(sample_dir / "procedures.xlsx", dtype=str)
    assert "Mã TTHC" in procs.columns and 350 <= len(procs) <= 450
    officials = pd.read_csv(sample_dir / "officials.csv", dtype=str)
    assert 250 <= len(officials) <= 400
    d = pd.read_csv(sample_dir / "dossiers.csv", dtype=str)
    assert d.applicant_id_number.str.fullmatch(r"\d{12}").all()
    assert d.applicant_phone.str.fullmatch(r"09\d{8}").all()
    assert set(d.status) >= {"returned", "finished", "processing", "rejected", "withdrawn"}
    ev = pd.read_csv(sample_dir / "dossier_events.csv", dtype=str)
    assert set(ev.event) >= {"received", "assigned", "step_done", "supplement_requested", "supplement_completed",
                             "finished", "returned", "rejected", "withdrawn", "apology_sent"}
    assert ev.step_due_at.notna().any()


def test_sample_default_covers_15_months():
    from kpi.sample import END_MONTH
    import inspect
    assert inspect.signature(generate).parameters["months"].default >= 15
    assert END_MONTH == "2026-10"


def test_loading_the_sample_quarantines_nothing(sample_store, sample_dir):
    con = connect(sample_store, read_only=True)
    assert run(con, "SELECT count(*) FROM quarantine")[0][0] == 0
    counts = table_counts(con)
    assert counts["dossiers"] == len(pd.read_csv(sample_dir / "dossiers.csv", dtype=str))
    assert counts["procedures"] == 400
    # the XLSX with Vietnamese headers kept its diacritics and types
    name, limit = run(con, "SELECT procedure_name, max_processing_time FROM procedures ORDER BY 1 LIMIT 1")[0]
    assert "lĩnh vực" in name and limit > 0
    con.close()


def test_reload_changes_nothing(store_copy, sample_dir):
    con = connect(store_copy)
    before = table_counts(con)
    files_before = run(con, "SELECT count(*) FROM loaded_files")[0][0]
    report = load_paths(con, [sample_dir], progress=False)
    assert all(f.skipped for f in report.files)
    assert table_counts(con) == before
    assert run(con, "SELECT count(*) FROM loaded_files")[0][0] == files_before
    con.close()


def test_cli_status_json(sample_store):
    r = run_kpi("status", "--json", "--store", sample_store)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["tables"]["dossiers"] > 1000
    assert data["quarantined"] == 0
    assert len(data["files"]) == 19 and all(len(f["sha256"]) == 64 for f in data["files"])   # 12 tables + self-assessments + 6 portal
    assert data["tables"]["published_scores"] > 0


def test_cli_load_and_store_env(tmp_path, sample_dir):
    store = tmp_path / "env.duckdb"
    r = run_kpi("load", "-q", sample_dir / "units.csv", env={"KPI_STORE": str(store)})
    assert r.returncode == 0, r.stderr
    assert "đọc 254 = nạp 254 + cách ly 0" in r.stdout
    assert store.exists()
    r = run_kpi("status", env={"KPI_STORE": str(store)})
    assert "units" in r.stdout and "254" in r.stdout


def test_status_without_store_is_one_line(tmp_path):
    r = run_kpi("status", "--store", tmp_path / "none.duckdb")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "kpi load" in r.stderr
