"""Every notebook executes headless on the sample (Papermill) and its rendered HTML shows drawn charts in
Chromium with no network; the notebooks hold no test code (their controls are driven in test_widgets)."""
import nbformat
import pandas as pd
from conftest import ROOT, drawn_charts
from kpi.report.runner import execute, export_html

PERIOD = "2026-10"


def run(name, tmp_path, **params):
    out = tmp_path / f"{name}.ipynb"
    execute(ROOT / "notebooks" / f"{name}.ipynb", out, params)
    nb = nbformat.read(out, 4)
    html = export_html(nb, tmp_path / f"{name}.html")
    text = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", []))
    return html, text


def test_explore_trends(sample_store, tmp_path):
    """The explorer opens on the asked month in one live view (its controls are driven in test_widgets)."""
    html, text = run("02_explore_trends", tmp_path, store=str(sample_store), period=PERIOD)
    assert "Tháng 10/2026" in text and "Tổng điểm" in text
    assert text.count('<div class="kpi766"><h2>') == 1
    assert drawn_charts(html, tmp_path) == 5          # trend, top and bottom of the ranking, groups, movers


def test_inspection_drilldown_hides_personal_data_unless_asked(sample_store, sample_dir, tmp_path):
    names = set(pd.read_csv(sample_dir / "dossiers.csv", dtype=str).applicant_name)
    html, text = run("03_inspection_drilldown", tmp_path, store=str(sample_store), period=PERIOD)
    assert "Đi sâu" in text and "Bước xử lý quá hạn" in text and "thư xin lỗi" in text
    # the what-if and month-end projection for the running month (data until 20/11/2026)
    assert "tính đến 20/11/2026" in text and "Dự báo cuối kỳ" in text and "Mục tiêu tháng này" in text
    assert not any(n in text for n in names)
    assert drawn_charts(html, tmp_path) >= 1
    _, text = run("03_inspection_drilldown", tmp_path, store=str(sample_store), period=PERIOD, allow_personal=True)
    assert any(n in text for n in names) and "không công bố" in text


def test_officials_notebook(sample_store, tmp_path):
    html, text = run("04_officials", tmp_path, store=str(sample_store), period=PERIOD)
    assert "Chỉ số cá nhân" in text and "Tính trên các chỉ số" in text and "Tỷ lệ hồ sơ giải quyết đúng hạn" in text
    assert drawn_charts(html, tmp_path) >= 2


def test_notebooks_read_store_from_environment(sample_store, tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_STORE", str(sample_store))
    _, text = run("04_officials", tmp_path, period=PERIOD)
    assert "Cán bộ — Tháng 10/2026" in text


def test_store_is_found_from_the_notebooks_folder(tmp_path, monkeypatch):
    """JupyterLab runs the kernel in notebooks/: a relative KPI_STORE (as `make lab` used to export) and the
    default both resolve from the workspace root, and a missing store says where the path came from."""
    from kpi.notebook import NotebookError, store_path
    ws = tmp_path / "ws"
    (ws / "notebooks").mkdir(parents=True)
    (ws / "data" / "processed").mkdir(parents=True)
    monkeypatch.chdir(ws / "notebooks")
    monkeypatch.delenv("KPI_HOME", raising=False)
    monkeypatch.setenv("KPI_STORE", "data/processed/kpi.duckdb")
    import pytest
    with pytest.raises(NotebookError) as exc:
        store_path()
    msg = str(exc.value)
    assert str(ws / "data" / "processed" / "kpi.duckdb") in msg and "KPI_STORE=data/processed/kpi.duckdb" in msg
    assert len(exc.value._render_traceback_()) == 1 and "\n" not in exc.value._render_traceback_()[0]
    (ws / "data" / "processed" / "kpi.duckdb").write_bytes(b"")
    assert store_path() == str(ws / "data" / "processed" / "kpi.duckdb")
    monkeypatch.delenv("KPI_STORE")
    assert store_path() == str(ws / "data" / "processed" / "kpi.duckdb")
    assert store_path("data/processed/kpi.duckdb") == str(ws / "data" / "processed" / "kpi.duckdb")


def test_make_lab_runs_as_root():
    import subprocess
    out = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True).stdout
    lab_line = [l for l in out.splitlines() if "jupyter lab" in l][0]
    import os
    assert ("--allow-root" in lab_line) == (os.geteuid() == 0)
    exported = subprocess.run(["make", "-s", "-f", "Makefile", "-f", "-", "show"], cwd=ROOT, capture_output=True,
                              text=True, input="show:\n\t@echo $$KPI_STORE\n").stdout.strip()
    assert exported == str(ROOT / "data" / "processed" / "kpi.duckdb")      # absolute: the kernel runs elsewhere


def test_notebooks_hold_only_what_the_analyst_reads():
    """No assert, no test-only parameter, and every kpi import from the one public place (kpi.notebook)."""
    import re
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, 4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert not re.search(r"\bassert\b", code), path.name
        assert "exercise" not in code and "kiểm thử" not in code, path.name
        imports = re.findall(r"^\s*(?:from|import)\s+(kpi[\w.]*)", code, re.M)
        assert imports and set(imports) == {"kpi.notebook"}, (path.name, imports)

