"""The national portal's published figures: every endpoint shape, rescoring, revisions, bad files,
and reconciliation that finds the sample's unsynced dossiers."""

import duckdb
import pandas as pd
import pytest

import kpi
from conftest import ROOT, run_kpi
from kpi.analysis import portal
from kpi.load import portal_json



PORTAL = ROOT / "tests" / "data" / "portal"


def test_every_endpoint_parses_into_the_long_table():
    frames = {p.name.split("_")[0]: portal_json.parse_file(p) for p in PORTAL.glob("*.json")}
    assert set(frames) == set(portal_json.ENDPOINT_GROUP)
    t = frames["transparency"]
    assert list(t.columns) == portal_json.COLUMNS
    assert set(t.period) == {"2026-08"} and set(t.group_code) == {"CKMB"}
    sync = t[(t.scope == "overview") & (t.metric_code == "DOSSIER_SYNC")].iloc[0]
    assert sync.dq_status == "TEMP_NATIONAL_REPORT_DENOMINATOR" and "báo cáo quốc gia" in sync.dq_message
    pub = t[(t.scope == "overview") & (t.metric_code == "PUBLISH_ON_TIME")].iloc[0]
    assert pub.denominator == 0 and pd.isna(pub.ratio) and pd.isna(pub.published_points)
    online = frames["provide-online-tree"]
    par = online[online.scope == "parent"].set_index("metric_code")
    assert (par.loc["ONLINE_PROVISION", "numerator"], par.loc["ONLINE_PROVISION", "denominator"]) == (3, 4)
    assert (par.loc["ONLINE_SUBMISSION", "numerator"], par.loc["ONLINE_SUBMISSION", "denominator"]) == (3, 16)
    assert par.loc[portal_json.GROUP_ROW, "published_points"] == 7.13
    prog = frames["dvc-progress-tree@20260905T0800.json".split("_")[0]] if False else frames["dvc-progress-tree"]
    d1 = prog[(prog.department_code == "D1") & (prog.metric_code == "ON_TIME")].iloc[0]
    assert (d1.numerator, d1.denominator, d1.published_points) == (7, 13, 10.77)


def test_rescoring_reproduces_published_points():
    df = pd.concat([portal_json.parse_file(p) for p in PORTAL.glob("*.json")], ignore_index=True)
    rows = portal.check_rows(portal.rescore(df))
    assert list(rows.columns) == ["endpoint", "period", "unit_name", "metric_code", "numerator", "denominator",
                                  "published_points", "our_points", "diff"]
    assert (rows["diff"].abs() <= 0.015).all(), rows[rows["diff"].abs() > 0.015]
    by = rows.set_index(["endpoint", "unit_name", "metric_code"])
    # payment group: parts rounded before adding, 4.00 + 1.67 + 0.83
    assert by.loc[("formality-online-payment-tree", "UBND tỉnh Thử Nghiệm", portal_json.GROUP_ROW), "our_points"] == 6.5
    # a ratio-only metric is rescored from its ratio
    assert by.loc[("dossier-digitized", "UBND tỉnh Thử Nghiệm", "ELECTRONIC_CERTIFIED_COPY"), "our_points"] == 2.0
    rates = portal.match_rates(rows)
    assert (rates.match_rate == 100).all()


def test_cli_check_writes_csv_and_reports_match_rate(tmp_path):
    out = tmp_path / "check.csv"
    r = run_kpi("portal", "check", *sorted(PORTAL.glob("*.json")), "--out", out)
    assert r.returncode == 0, r.stderr
    assert "100,00%" in r.stdout and out.exists()
    # a profile that disagrees with the portal still runs, exit 0, and shows the lower match
    prof = tmp_path / "p.yaml"
    prof.write_text("metrics:\n  ON_TIME: {rule: linear_target, target: 80}\n", encoding="utf-8")
    r = run_kpi("portal", "check", *sorted(PORTAL.glob("dvc*.json")), "--profile", prof, "--out", out)
    assert r.returncode == 0 and "ON_TIME" in r.stdout and "100,00%" not in r.stdout.split("ON_TIME")[1].splitlines()[0]


def test_load_matches_units_and_keeps_revisions(hw_copy):
    r = run_kpi("load", "-q", "--store", hw_copy, PORTAL)
    assert r.returncode == 0, r.stderr
    assert "UBND xã Không Có" in r.stdout          # reported, not dropped
    con = duckdb.connect(str(hw_copy), read_only=True)
    rows = con.execute("SELECT unit_name, unit_code, matched FROM published_scores WHERE endpoint = 'transparency' "
                       "AND metric_code = '_GROUP'").fetchall()
    assert ("Sở Thử Nghiệm - Tỉnh Thử Nghiệm", "D1", True) in rows
    assert ("UBND xã Không Có - Tỉnh Thử Nghiệm", None, False) in rows
    cur = con.execute("SELECT DISTINCT file FROM published_scores WHERE endpoint = 'dvc-progress-tree' "
                      "AND is_current").fetchall()
    n_files = con.execute("SELECT count(DISTINCT file) FROM published_scores WHERE endpoint = 'dvc-progress-tree'").fetchone()[0]
    con.close()
    assert n_files == 2 and len(cur) == 1 and "20260915" in cur[0][0]   # the newer capture is current
    again = run_kpi("load", "-q", "--store", hw_copy, PORTAL)
    assert "đã nạp trước đó" in again.stdout


@pytest.mark.parametrize("name,content,needle", [
    ("transparency_2026-08.json", '{"code": "ERROR", "message": "Phiên đăng nhập hết hạn"}', "trả lỗi"),
    ("transparency_2026-09.json", "<html><body>502 Bad Gateway</body></html>", "HTML"),
    ("dvc-progress-tree_2026-08.json", '{"code": "OK", "data": {"parent": {"departmentName": "X", "totalRec', "cắt ngang"),
    ("something_2026-08.json", '{"code": "OK", "data": {"items": []}}', "điểm cuối"),
    ("transparency.json", '{"code": "OK", "data": {"overview": {"metrics": []}, "evaluation": []}}', "kỳ"),
])
def test_bad_portal_files_are_one_line_errors(hw_copy, tmp_path, name, content, needle):
    f = tmp_path / name
    f.write_text(content, encoding="utf-8")
    before = duckdb.connect(str(hw_copy), read_only=True)
    n = before.execute("SELECT count(*) FROM published_scores").fetchone()[0]
    before.close()
    r = run_kpi("load", "--store", hw_copy, f)
    assert r.returncode == 1 and needle in r.stderr and name in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    after = duckdb.connect(str(hw_copy), read_only=True)
    assert after.execute("SELECT count(*) FROM published_scores").fetchone()[0] == n
    after.close()


def test_reconcile_finds_the_planted_unsynced_dossiers(sample_store, tmp_path):
    out = tmp_path / "rec.csv"
    r = run_kpi("portal", "reconcile", "--period", "2026-10", "--store", sample_store, "--out", out)
    assert r.returncode == 0, r.stderr
    rec = pd.read_csv(out, encoding="utf-8-sig", dtype={"unsynced_codes": str})
    ot = rec[(rec.metric_code == "ON_TIME") & rec.unit_code.notna()]
    con = duckdb.connect(str(sample_store), read_only=True)
    never = {c for (c,) in con.execute("SELECT dossier_code FROM dossiers WHERE synced_at IS NULL").fetchall()}
    prov = con.execute("SELECT unit_code FROM units WHERE level = 'province'").fetchone()[0]
    con.close()
    ev = kpi.evidence("ON_TIME", None, "2026-10", store=sample_store)
    planted = set(ev.entity) & never
    assert planted, "the sample plants unsynced dossiers"
    units = ot[(ot.unit_code != prov) & (ot.unsynced > 0)]
    assert units.unsynced.sum() == len(planted)
    named = {c.strip() for codes in units.unsynced_codes.dropna() for c in codes.split(",")}
    assert named <= planted and len(named) >= min(len(planted), 20)
    # where only unsynced dossiers explain the gap, the explanation says so and the counts agree
    explained = units[units.explanation.str.contains("chưa đồng bộ lên Cổng DVCQG \\(Cổng không đếm\\)")]
    assert len(explained) > 0
    assert ((explained.our_denominator - explained.published_denominator) == explained.unsynced).all()
    assert "khớp" in set(rec.explanation)


def test_reconciliation_notebook_runs(sample_store, tmp_path):
    import nbformat
    from kpi.report.runner import execute
    out = tmp_path / "05.ipynb"
    execute(ROOT / "notebooks" / "05_reconciliation.ipynb", out, {"store": str(sample_store), "period": "2026-10"})
    html = "".join(o.get("data", {}).get("text/html", "") for c in nbformat.read(out, 4).cells
                   for o in c.get("outputs", []))
    assert "Chấm lại số liệu công bố" in html and "100,00%" in html
    assert "chưa đồng bộ lên Cổng DVCQG" in html and "Bằng chứng" in html
