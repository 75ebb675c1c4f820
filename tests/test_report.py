"""Reports and the publication package: real Papermill runs, figures checked against kpi.totals,
offline rendering in headless Chromium, no personal data, no injection."""
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import kpi
from conftest import drawn_charts, run_kpi
from kpi.numbers import fmt_number

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def monthly(sample_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "monthly.html"
    r = run_kpi("report", "monthly", "--period", PERIOD, "--store", sample_store, "--out", out, "-q")
    assert r.returncode == 0, r.stderr
    assert "giây" in r.stdout           # the CLI prints how long the report took
    return out


def test_report_is_one_offline_file(monthly):
    html = monthly.read_text(encoding="utf-8")
    assert '<html lang="vi">' in html
    assert not re.search(r"<script[^>]*\ssrc=", html)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html)
    assert len(re.findall(r'<svg[^>]*class="marks"', html)) >= 6


def test_report_figures_match_totals(monthly, sample_store):
    html = monthly.read_text(encoding="utf-8")
    t = kpi.totals(PERIOD, store=sample_store)
    prov = t[t.level == "province"].iloc[0]
    assert f'<div class="value">{fmt_number(prov.total)}</div>' in html
    for r in t[t.level != "province"].itertuples():
        row = re.search(rf"<td>{re.escape(r.unit_code)}</td><td[^>]*>[^<]*</td><td class=\"n\">([^<]+)</td>", html)
        assert row, r.unit_code
        assert row.group(1) == fmt_number(r.total)
    for text in ("Tháng 10/2026", "Xuất sắc", "Trung bình", "Người phụ trách", "sha256",
                 "Cổng Dịch vụ công quốc gia — cách chấm điểm quan sát năm 2026", "Chất lượng dữ liệu", "Xu hướng"):
        assert text in html


def test_report_reads_as_a_document(monthly, sample_store):
    """One title, every section numbered in order, no configuration names or group codes, the officials'
    section in a monthly report, the portal's zero-denominator rule said where those points show as lost."""
    html = monthly.read_text(encoding="utf-8")
    assert re.findall(r"<h1>([^<]*)</h1>", html) == ["Báo cáo Bộ chỉ số 766 — Tháng 10/2026"]
    heads = re.findall(r"<h2>([^<]*)</h2>", html)
    assert [h.split(". ")[0] for h in heads] == [str(i) for i in range(1, len(heads) + 1)]
    assert any(h.endswith("Cán bộ đề nghị khen thưởng, xem xét trách nhiệm") for h in heads)
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    for word in ("dvcqg-2026", "review.", "self_assessment", ">CKMB<", ">TDGQ<", ">MDSH<", ">MDHL<", "(2 hs)",
                 "Phần mềm kpi766"):
        assert word not in text, word
    s = kpi.scores(PERIOD, store=sample_store)
    passive = s[(s.max_points > 0) & s.denominator.fillna(0).eq(0) & s.rate.isna() & (s.points.fillna(0) < s.max_points)]
    if len(passive):
        assert "không có thủ tục phải công bố, công khai trong kỳ" in text
    # chart labels are never cut short
    assert "…</text>" not in html


def test_report_renders_offline_in_chromium(monthly, tmp_path):
    assert drawn_charts(monthly, tmp_path) >= 6


def test_quarterly_and_unit_reports(sample_store, tmp_path):
    out = tmp_path / "q.html"
    r = run_kpi("report", "quarterly", "--period", "2026-Q3", "--store", sample_store, "--out", out, "-q")
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert "Quý III/2026" in html
    # 1d: the officials' review and the self-assessment, as kpi.official_review / kpi.self_assessment give them
    review = kpi.official_review("2026-Q3", store=sample_store)
    section = html.split("Cán bộ đề nghị khen thưởng, xem xét trách nhiệm")[1].split("<section")[0]
    assert set(re.findall(r"<td>(CB\d+)</td>", section)) == set(review[review.decision.notna()].official_id)
    sa = kpi.self_assessment("2026-Q3", store=sample_store)
    section = html.split("Tự đánh giá so với kết quả Bộ chỉ số")[1].split("<section")[0]
    assert f"<div class=\"value\">{sa.unit_code.nunique()}</div>" in section
    r = run_kpi("report", "quarterly", "--period", "2026-08", "--store", sample_store, "-q")
    assert r.returncode == 2 and "2026-Q3" in r.stderr
    # the unit report carries its own officials and its own self-assessment only
    con = duckdb.connect(str(sample_store), read_only=True)
    unit = con.execute("SELECT o.unit_code FROM officials o JOIN units u USING (unit_code) WHERE u.level = 'department' "
                       "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    own = {r[0] for r in con.execute("SELECT official_id FROM officials WHERE unit_code = ?", [unit]).fetchall()}
    con.close()
    out = tmp_path / "u.html"
    r = run_kpi("report", "unit", "--unit", unit, "--period", "2026-Q3", "--store", sample_store, "--out", out, "-q")
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    section = html.split("Cán bộ đề nghị khen thưởng, xem xét trách nhiệm")[1].split("<section")[0]
    assert set(re.findall(r"<td>(CB\d+)</td>", section)) <= own


def test_unit_report_has_only_its_own_dossiers(sample_store, tmp_path):
    con = duckdb.connect(str(sample_store), read_only=True)
    dept = con.execute("SELECT unit_code FROM units WHERE level = 'department' AND valid_to IS NULL "
                       "ORDER BY unit_code LIMIT 1 OFFSET 2").fetchone()[0]
    con.close()
    out = tmp_path / "u.html"
    r = run_kpi("report", "unit", "--unit", dept, "--period", PERIOD, "--store", sample_store, "--out", out, "-q")
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    shown = set(re.findall(r"<td[^>]*>(H44[.\d]*-\d{6}-\d{4})</td>", html))
    assert shown, "the unit report lists its late dossiers"
    assert all(c.startswith(dept + "-") for c in shown)
    assert "Cán bộ" in html and "Chỉ số cá nhân" in html
    r = run_kpi("report", "unit", "--period", PERIOD, "--store", sample_store)
    assert r.returncode == 2


@pytest.fixture(scope="module")
def package(sample_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("pub")
    r = run_kpi("publish", "--period", PERIOD, "--store", sample_store, "--out", out)
    assert r.returncode == 0, r.stderr
    return out


def _all_text(folder: Path) -> str:
    from openpyxl import load_workbook
    parts = []
    for f in sorted(folder.rglob("*")):
        if f.suffix in (".txt", ".html"):
            parts.append(f.read_text(encoding="utf-8"))
        elif f.suffix == ".csv":
            raw = f.read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf"), f"{f.name} needs a BOM for Excel"
            parts.append(raw.decode("utf-8-sig"))
        elif f.suffix == ".xlsx":
            wb = load_workbook(f, read_only=True)
            for ws in wb.worksheets:
                for row in ws.iter_rows(values_only=True):
                    parts.append("\t".join("" if v is None else str(v) for v in row))
    return "\n".join(parts)


def test_package_files_and_headers(package, sample_store):
    names = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file() and p.parent.name != "anh")
    stems = [f"{n}-{PERIOD}" for n in ("ty-le-ho-so-tre-han", "danh-sach-ho-so-tre-han", "ty-le-dvc-truc-tuyen")]
    # what a clerk double-clicks is the XLSX; the CSV for machines is under csv/ with its description
    assert names == sorted([f"{s}.xlsx" for s in stems] + [f"csv/{s}.csv" for s in stems]
                           + ["csv/doc-truoc.txt", "index.html"])
    guide = (package / "csv" / "doc-truoc.txt").read_text(encoding="utf-8")
    assert "UTF-8" in guide and "YYYY-MM-DD" in guide and ".xlsx" in guide
    late = pd.read_csv(package / "csv" / f"danh-sach-ho-so-tre-han-{PERIOD}.csv", encoding="utf-8-sig", dtype=str)
    assert list(late.columns)[:4] == ["STT", "Mã hồ sơ", "Đơn vị giải quyết", "Mã TTHC"]
    ev = kpi.evidence("ON_TIME", None, PERIOD, store=sample_store)
    assert set(late["Mã hồ sơ"]) == set(ev[~ev.in_numerator].entity)
    rates = pd.read_csv(package / "csv" / f"ty-le-ho-so-tre-han-{PERIOD}.csv", encoding="utf-8-sig")
    prov = rates.iloc[0]
    assert prov["Số hồ sơ trễ hạn"] == len(late)
    # machines read ISO dates; a status has its own column; the delay reads as a citizen reads it
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", late["Ngày tiếp nhận"].iloc[0])
    assert late["Ngày hoàn thành"].dropna().str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(late["Tình trạng"]) <= {"Đang giải quyết", "Đã giải quyết", "Đã trả kết quả", "Dừng ở yêu cầu bổ sung",
                                        "Từ chối giải quyết", "Dừng xử lý", "Công dân rút hồ sơ"}
    assert late[late["Tình trạng"] == "Đang giải quyết"]["Ngày hoàn thành"].isna().all()
    assert late["Thời gian trễ hạn"].str.fullmatch(
        r"\d+ ngày làm việc|(\d+ giờ)?( ?\d+ phút)?|dưới 1 ngày làm việc|yêu cầu bổ sung lần hai|dưới 1 phút").all()
    assert "Số ngày làm việc trễ hạn" not in late.columns       # '0 days late' beside 'late' contradicted itself


def test_xlsx_for_a_clerk(package):
    """Numbers as numbers with a thousands format, dates as real dates, a bold wrapped header row, filters."""
    import datetime as dt
    from openpyxl import load_workbook
    wb = load_workbook(package / f"danh-sach-ho-so-tre-han-{PERIOD}.xlsx")
    ws = wb.active
    head = [c.value for c in ws[1]]
    assert all(c.font.b and c.alignment.wrap_text for c in ws[1])
    assert ws.auto_filter.ref == ws.dimensions and ws.freeze_panes == "A2"
    row = dict(zip(head, ws[2]))
    assert isinstance(row["Ngày tiếp nhận"].value, dt.datetime) and row["Ngày tiếp nhận"].number_format == "dd/mm/yyyy"
    assert row["STT"].number_format == "#,##0"
    assert row["Mã TTHC"].data_type == "s"                 # 1.005050 stays a code, never a number
    rates = load_workbook(package / f"ty-le-ho-so-tre-han-{PERIOD}.xlsx").active
    head = [c.value for c in rates[1]]
    prov = dict(zip(head, rates[2]))
    assert isinstance(prov["Số hồ sơ phải giải quyết"].value, int) and prov["Số hồ sơ phải giải quyết"].number_format == "#,##0"
    assert prov["Tỷ lệ hồ sơ trễ hạn (%)"].number_format == "#,##0.00"


def test_package_has_no_personal_data(package, sample_dir):
    text = _all_text(package)
    d = pd.read_csv(sample_dir / "dossiers.csv", dtype=str)
    for col in ("applicant_name", "applicant_id_number", "applicant_phone", "applicant_address"):
        leaked = [v for v in d[col].dropna().unique() if v in text]
        assert not leaked, f"{col} leaked: {leaked[:3]}"


def test_package_neutralises_formulas_and_report_escapes_html(store_copy, tmp_path):
    con = duckdb.connect(str(store_copy))
    unit = con.execute("SELECT unit_code FROM dossiers ORDER BY dossier_code LIMIT 1").fetchone()[0]
    con.execute("UPDATE units SET unit_name = '=HYPERLINK(\"http://x\",\"bấm\")' WHERE unit_code = ?", [unit]).fetchall()
    con.execute("UPDATE procedures SET procedure_name = '<script>alert(1)</script>+SUM(A1)'").fetchall()
    con.close()
    out = tmp_path / "pub"
    r = run_kpi("publish", "--period", PERIOD, "--store", store_copy, "--out", out)
    assert r.returncode == 0, r.stderr
    csv_text = (out / "csv" / f"ty-le-ho-so-tre-han-{PERIOD}.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in csv_text and "\n=HYPERLINK" not in csv_text and ",=HYPERLINK" not in csv_text
    from openpyxl import load_workbook
    ws = load_workbook(out / f"ty-le-ho-so-tre-han-{PERIOD}.xlsx").active
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    # XLSX keeps the name as it is, as text: never a formula, no apostrophe shown
    assert any(c.value == '=HYPERLINK("http://x","bấm")' and c.data_type == "s" for c in cells)
    assert not any(c.data_type == "f" for c in cells) and not any(c.value.startswith("'") for c in cells)
    from kpi.report import content
    rep = content.build(PERIOD, store=store_copy, progress=False)
    html = "".join(content.render_all(rep))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_report_from_any_folder_works_in_the_stores_workspace(sample_store, tmp_path):
    """`kpi report` run outside the workspace with --store inside one: the notebook is found and the report
    lands in that workspace's outputs/ (not in the folder the command was typed in)."""
    import shutil
    ws = tmp_path / "ws"
    (ws / "data" / "processed").mkdir(parents=True)
    (ws / "notebooks").mkdir()
    shutil.copy(sample_store, ws / "data" / "processed" / "kpi.duckdb")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = run_kpi("report", "monthly", "--period", PERIOD, "--store", ws / "data" / "processed" / "kpi.duckdb", "-q",
                cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert (ws / "outputs" / PERIOD / f"bao-cao-766-{PERIOD}.html").is_file()
    assert not (elsewhere / "outputs").exists()
