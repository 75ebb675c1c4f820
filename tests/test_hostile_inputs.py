"""The hostile-input corpus (tests/data/bad/MANIFEST.csv): every file's expected behaviour, a load
killed mid-way, privacy scans and injection in every output."""
import csv
import hashlib
import json
import re
import shutil
import signal
import subprocess
import time

import duckdb
import pandas as pd
import pytest

from conftest import KPI, ROOT, run_kpi

BAD = ROOT / "tests" / "data" / "bad"
MANIFEST = list(csv.DictReader(open(BAD / "MANIFEST.csv", encoding="utf-8")))


def test_corpus_is_large_and_described():
    assert len(MANIFEST) >= 30
    assert all(m["description"] and m["expect"] in ("load", "quarantine", "reject") for m in MANIFEST)
    assert {p.name for p in BAD.iterdir()} >= {m["file"] for m in MANIFEST}


def _snapshot(store):
    con = duckdb.connect(str(store), read_only=True)
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'main' AND table_name <> 'calendar'").fetchall()]
    digest = {}
    for t in sorted(tables):
        rows = con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall()
        digest[t] = hashlib.sha256(repr(rows).encode()).hexdigest()
    con.close()
    return digest


@pytest.mark.parametrize("case", MANIFEST, ids=[m["file"] for m in MANIFEST])
def test_corpus_file(case, hw_copy):
    store = hw_copy
    before = _snapshot(store)
    r = run_kpi("load", "--store", store, BAD / case["file"])
    assert "Traceback" not in r.stderr + r.stdout and "không mong đợi" not in r.stderr + r.stdout
    n = int(case["count"])
    if case["expect"] == "reject":
        assert r.returncode == 1, r.stdout
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and case["file"] in lines[0] and case["message"] in lines[0], r.stderr
        assert "—" in lines[0]                          # the message says what to do
        assert _snapshot(store) == before               # the store exactly as it was
        return
    assert r.returncode == 0, r.stderr
    totals = [l for l in r.stdout.splitlines() if l.startswith("Tổng: đọc")][0]
    read, loaded, quarantined = map(int, re.findall(r"\d+", totals.split("Kho:")[0]))
    assert read == loaded + quarantined
    if case["expect"] == "load":
        assert (loaded, quarantined) == (n, 0), r.stdout
        if case["message"]:
            assert case["message"] in r.stdout
    else:
        assert quarantined == n, r.stdout
        con = duckdb.connect(str(store), read_only=True)
        q = con.execute("SELECT file, line, column_name, reason FROM quarantine WHERE file LIKE ?",
                        [f"%{case['file']}"]).fetchall()
        con.close()
        assert len(q) == n
        for file, line, column, reason in q:
            assert file.endswith(case["file"]) and line >= 2 and column and case["message"] in reason


def test_encodings_and_dates_are_understood(hw_copy):
    store = hw_copy
    for f in ("dossiers_day_month.csv", "dossiers_excel_serial.csv", "units_cp1258.csv", "units_utf16.csv"):
        assert run_kpi("load", "--store", store, BAD / f).returncode == 0
    con = duckdb.connect(str(store), read_only=True)
    got = dict(con.execute("SELECT dossier_code, strftime(received_at, '%Y-%m-%d %H:%M') FROM dossiers "
                           "WHERE dossier_code IN ('B03', 'B04')").fetchall())
    names = dict(con.execute("SELECT unit_code, unit_name FROM units WHERE unit_code IN ('X01', 'X02')").fetchall())
    con.close()
    assert got == {"B03": "2026-08-03 09:00", "B04": "2026-08-03 09:00"}
    assert names == {"X01": "UBND xã Hòa Thành Mới", "X02": "Phường Mười Sáu"}


def test_injection_neutralised_in_every_output(hw_copy, tmp_path):
    import html as html_lib
    store = hw_copy
    for f in ("units_formula.csv", "units_html_script.csv"):
        assert run_kpi("load", "--store", store, BAD / f).returncode == 0
    con = duckdb.connect(str(store))
    formula = con.execute("SELECT unit_name FROM units WHERE unit_code = 'X07'").fetchone()[0]
    script = con.execute("SELECT unit_name FROM units WHERE unit_code = 'X08'").fetchone()[0]
    # give the hostile names to units that have dossiers, so they reach every output
    con.execute("UPDATE units SET unit_name = ? WHERE unit_code = 'D1'", [formula]).fetchall()
    con.execute("UPDATE units SET unit_name = ? WHERE unit_code = 'C1'", [script]).fetchall()
    con.close()
    out = tmp_path / "out"
    assert run_kpi("publish", "--period", "2026-08", "--store", store, "--out", out / "pub").returncode == 0
    assert run_kpi("score", "--period", "2026-08", "--format", "csv", "--out", out / "s.csv", "--store", store).returncode == 0
    assert run_kpi("score", "--period", "2026-08", "--format", "xlsx", "--out", out / "s.xlsx", "--store", store).returncode == 0
    r = run_kpi("report", "monthly", "--period", "2026-08", "--store", store, "--out", out / "r.html", "-q")
    assert r.returncode == 0, r.stderr
    from openpyxl import load_workbook
    files = [f for f in (out / "pub").rglob("*") if f.suffix in (".csv", ".xlsx")] + [out / "s.csv", out / "s.xlsx"]
    page = (out / "pub" / "index.html").read_text(encoding="utf-8")     # the public page: text, escaped
    assert "<script" not in page and html_lib.escape(script) in page
    seen = False
    for f in files:
        if f.suffix == ".csv":
            cells = [c for rec in csv.reader(open(f, encoding="utf-8-sig")) for c in rec]
            assert not any(c.startswith(("=", "+", "@")) for c in cells), f.name
            seen |= any(c.startswith("'=HYPERLINK") for c in cells)
        else:   # XLSX: the text as it is, stored as a string, never as a formula
            cells = [c for ws in load_workbook(f).worksheets for row in ws.iter_rows() for c in row]
            assert not any(c.data_type == "f" for c in cells), f.name
            assert any(c.value == formula and c.data_type == "s" for c in cells), f.name
    assert seen
    html = (out / "r.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


def test_killed_load_leaves_store_consistent_and_rerun_completes(sample_dir, tmp_path):
    """SIGKILL a load at several moments; the store opens, holds either nothing or whole files, and the
    same load run again completes with every row."""
    expected = None
    for delay in (0.3, 0.8, 1.6, 2.4):
        store = tmp_path / f"k{delay}.duckdb"
        p = subprocess.Popen(KPI + ["load", "-q", "--store", str(store), str(sample_dir)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        if store.exists():
            # opened the way every kpi command opens it: a store killed before its schema was written
            # (an empty DuckDB file) gets its tables here, in one transaction
            from kpi import store as kstore
            con = kstore.connect(store)
            files = con.execute("SELECT table_name, sum(rows_loaded) FROM loaded_files GROUP BY 1").fetchall()
            for table, n in files:
                assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == n
            if not files:
                assert con.execute("SELECT count(*) FROM dossiers").fetchone()[0] == 0
            con.close()
        r = run_kpi("load", "-q", "--store", store, sample_dir)
        assert r.returncode == 0, r.stderr
        con = duckdb.connect(str(store), read_only=True)
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                  for t in ("units", "dossiers", "dossier_events", "published_scores", "quarantine")}
        con.close()
        expected = expected or counts
        assert counts == expected and counts["quarantine"] == 0 and counts["dossiers"] > 0


def test_store_and_raw_data_are_git_ignored():
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout")
    r = subprocess.run(["git", "check-ignore", "data/raw/dossiers.csv", "data/processed/kpi.duckdb",
                        "data/processed/kpi.duckdb.wal", "outputs/2026-08/x.html"], cwd=ROOT, capture_output=True,
                       text=True)
    assert len(r.stdout.strip().splitlines()) == 4


def test_reports_have_no_personal_data(sample_store, sample_dir, tmp_path):
    d = pd.read_csv(sample_dir / "dossiers.csv", dtype=str)
    con = duckdb.connect(str(sample_store), read_only=True)
    dept = con.execute("SELECT unit_code FROM units WHERE level = 'department' AND valid_to IS NULL "
                       "ORDER BY unit_code LIMIT 1").fetchone()[0]
    con.close()
    texts = []
    for args in (["monthly"], ["unit", "--unit", dept]):
        out = tmp_path / f"{args[0]}.html"
        r = run_kpi("report", *args, "--period", "2026-10", "--store", sample_store, "--out", out, "-q")
        assert r.returncode == 0, r.stderr
        texts.append(out.read_text(encoding="utf-8"))
    text = "\n".join(texts)
    for col in ("applicant_name", "applicant_id_number", "applicant_phone", "applicant_address"):
        leaked = [v for v in d[col].dropna().unique() if v in text]
        assert not leaked, f"{col}: {leaked[:3]}"


def test_store_file_without_schema_opens_as_empty_store(tmp_path):
    """A load killed right after DuckDB created its file leaves an empty database: status must read it
    as an empty store, not a traceback."""
    store = tmp_path / "empty.duckdb"
    duckdb.connect(str(store)).close()
    r = run_kpi("status", "--json", "--store", store)
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["tables"]["dossiers"] == 0 and status["files"] == [] and status["quarantined"] == 0
