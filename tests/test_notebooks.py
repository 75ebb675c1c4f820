"""Every notebook executes headless on the sample (Papermill), widget callbacks included, and its
rendered HTML shows drawn charts in Chromium with no network."""
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


def test_explore_trends_with_widget_callbacks(sample_store, tmp_path):
    html, text = run("02_explore_trends", tmp_path, store=str(sample_store), period=PERIOD, exercise_widgets=True)
    assert "Tháng 10/2026" in text and "Quý III/2026" in text and "Tiến độ giải quyết" in text
    assert drawn_charts(html, tmp_path) >= 8


def test_inspection_drilldown_hides_personal_data_unless_asked(sample_store, sample_dir, tmp_path):
    names = set(pd.read_csv(sample_dir / "dossiers.csv", dtype=str).applicant_name)
    html, text = run("03_inspection_drilldown", tmp_path, store=str(sample_store), period=PERIOD, exercise_widgets=True)
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
