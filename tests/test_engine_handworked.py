"""Exact figures for a tiny province worked out by hand (tests/data/handworked/).

August 2026. D1 (department, procedure PR1: 5 working days, fee, paper result):
  A on time · B late 2 wd (the leader's approval step overran → charged to O2, apology sent)
  C finished 2 wd after due but 2 wd were spent waiting for the citizen → on time
  D finished early but with a second supplement request → late
  E waiting on one supplement requested after the due date → ends then → late
  F waiting on one supplement requested before the due date → on time
  G open, not yet due · H open, overdue at 31/8 → late · I ended in July → not counted
  J received in July, finished in August on time → counted · K received 31/8 23:30 → August
  L no due date: 6 working days used > 5 → late · M rejected on time · N returned only, late
  ON_TIME = 7/13.  C1 (commune): PC1 3 wd, PH 8 hours; only C1-H2 (25 h) is late: 3/4.
"""

import pandas as pd
import pytest

import kpi
from conftest import ROOT, run_kpi
from kpi.store import connect

DATA = ROOT / "tests" / "data" / "handworked"


@pytest.fixture(scope="module")
def aug(hw):
    s = kpi.scores("2026-08", store=hw)
    return {(r.unit_code, r.metric_code): r for r in s.itertuples()}


def fig(aug, unit, code):
    r = aug[(unit, code)]
    return (int(r.numerator) if r.numerator == int(r.numerator) else float(r.numerator), int(r.denominator),
            None if pd.isna(r.points) else round(float(r.points), 6))


EXPECTED = {
    # (unit, metric): (numerator, denominator, points)
    ("D1", "PUBLISH_ON_TIME"): (0, 1, 0.0),          # PR1 in QD1 (5 wd ahead) and QD2 (2 wd): late once → late
    ("D1", "PUBLIC_UPDATE_ON_TIME"): (1, 1, 4.0),     # made public 4 and 1 wd after the decisions
    ("D1", "PUBLIC_CONTENT_FULL"): (1, 1, 2.0),
    ("D1", "DOSSIER_SYNC"): (10, 15, 4.0),            # 10 of 12 synced; national report says 15 → 15
    ("D1", "ON_TIME"): (7, 13, 10.769231),
    ("D1", "AVG_PROCESSING_TIME"): (46, 7, None),     # 4+7+5+4+11+6+9 working days over 7 finished
    ("D1", "LATE_FINISHED"): (5, 6, None),
    ("D1", "LATE_OPEN"): (1, 6, None),
    ("D1", "LATE_APOLOGY"): (1, 6, None),
    ("D1", "ONLINE_PROVISION"): (1, 1, 2.0),
    ("D1", "ONLINE_SERVICE_USED"): (1, 1, 4.0),
    ("D1", "ONLINE_SUBMISSION"): (1, 12, 1.0),        # A, C, K online, only A has the e-result PR1 needs
    ("D1", "FULL_ONLINE_DOSSIERS"): (3, 12, None),
    ("D1", "CHANNEL_ONLINE"): (3, 12, None),
    ("D1", "CHANNEL_DIRECT"): (9, 12, None),
    ("D1", "CHANNEL_POSTAL"): (0, 12, None),
    ("D1", "PAID_ONLINE"): (2, 4, 3.0),
    ("D1", "FEE_PROCEDURES_PAID_ONLINE"): (1, 1, 2.0),
    ("D1", "FEE_PROCEDURES_WITH_DOSSIERS"): (1, 1, 2.5),
    ("D1", "ORIGINAL_RESULT_AVAILABLE"): (2, 7, 1.714286),
    ("D1", "SO_HOA_GIAY_TO_GIAI_QUYET"): (2, 12, 0.666667),
    ("D1", "ELECTRONIC_CERTIFIED_COPY"): (0, 0, None),  # not a commune: null, counts 0
    ("D1", "REUSED_DIGITIZED_DATA"): (1, 12, 0.208333),
    ("D1", "SYNCED_WITH_DVCQG_PERSONAL_STORAGE"): (1, 12, 0.333333),
    ("D1", "CITIZEN_DATA_CONNECTED_DOSSIER"): (2, 12, 0.333333),
    ("D1", "CITIZEN_DATA_CONNECTED_FORMALITY"): (1, 1, 2.0),
    ("D1", "PETITION_PROCESSING_ON_TIME"): (1, 1, 6.0),   # F3 open, 3 wd at 31/8 (a day off)
    ("D1", "PETITION_HANDLING_SATISFACTION"): (0, 1, 0.0),  # F3: more dislikes than likes
    ("D1", "DOSSIER_RECEIVING_SATISFACTION"): (2, 6, 2.222222),
    ("D1", "PETITION_CLASSIFICATION_TTHC"): (0, 1, None),
    ("D1", "PETITION_CLASSIFICATION_STAFF"): (0, 1, None),
    ("C1", "PUBLISH_ON_TIME"): (1, 1, 6.0),
    ("C1", "PUBLIC_UPDATE_ON_TIME"): (0, 1, 0.0),      # PC1 made public 8 wd after QD3
    ("C1", "PUBLIC_CONTENT_FULL"): (2, 3, 1.333333),   # PC1 lacks dossier components; PX abolished
    ("C1", "DOSSIER_SYNC"): (4, 4, 6.0),
    ("C1", "ON_TIME"): (3, 4, 15.0),
    ("C1", "AVG_PROCESSING_TIME"): (37, 4, None),      # 2 + 3 working days, 7 + 25 hours
    ("C1", "ONLINE_PROVISION"): (2, 3, 1.666667),
    ("C1", "ONLINE_SERVICE_USED"): (2, 2, 4.0),
    ("C1", "ONLINE_SUBMISSION"): (2, 4, 6.0),
    ("C1", "PAID_ONLINE"): (0, 0, None),
    ("C1", "SO_HOA_GIAY_TO_GIAI_QUYET"): (2, 4, 2.0),
    ("C1", "ELECTRONIC_CERTIFIED_COPY"): (1, 1, 2.0),
    ("C1", "REUSED_DIGITIZED_DATA"): (2, 4, 1.25),
    ("C1", "SYNCED_WITH_DVCQG_PERSONAL_STORAGE"): (1, 4, 1.0),
    ("C1", "CITIZEN_DATA_CONNECTED_DOSSIER"): (1, 4, 0.5),
    ("C1", "CITIZEN_DATA_CONNECTED_FORMALITY"): (1, 2, 1.0),
    ("C1", "PETITION_PROCESSING_ON_TIME"): (1, 3, 2.0),   # F2 20 wd (22/8 is a working Saturday), F4 rejected after 4
    ("C1", "PETITION_HANDLING_SATISFACTION"): (1, 2, 3.0),
    ("C1", "DOSSIER_RECEIVING_SATISFACTION"): (1, 4, 1.666667),  # A unsatisfied, B complained, H2 late
    ("C1", "PETITION_CLASSIFICATION_TTHC"): (1, 3, None),
    ("C1", "PETITION_CLASSIFICATION_STAFF"): (1, 3, None),
    ("C2", "ON_TIME"): (0, 0, 0.0),                      # zero rule: no dossiers → 0
    ("C2", "PETITION_PROCESSING_ON_TIME"): (0, 0, 6.0),  # full rule: no feedback → full points
    ("C2", "PETITION_HANDLING_SATISFACTION"): (0, 0, 6.0),
    ("C2", "DOSSIER_RECEIVING_SATISFACTION"): (0, 0, 0.0),
    ("C2", "ONLINE_PROVISION"): (0, 3, 0.0),             # its only service is stopping
    ("C2", "ONLINE_SERVICE_USED"): (0, 1, 0.0),
    ("C2", "ELECTRONIC_CERTIFIED_COPY"): (0, 1, 0.0),
    # the province is a recount over its whole tree, not a mean of its units
    ("P", "ON_TIME"): (10, 17, 11.764706),
    ("P", "DOSSIER_SYNC"): (14, 16, 5.25),
    ("P", "PUBLISH_ON_TIME"): (1, 2, 3.0),
    ("P", "ONLINE_PROVISION"): (3, 4, 1.875),            # a procedure counts once
    ("P", "ELECTRONIC_CERTIFIED_COPY"): (1, 2, 1.0),
    ("P", "CITIZEN_DATA_CONNECTED_FORMALITY"): (2, 3, 1.333333),
    ("P", "DOSSIER_RECEIVING_SATISFACTION"): (3, 10, 2.0),
}


@pytest.mark.parametrize("key", list(EXPECTED), ids=[f"{u}-{m}" for u, m in EXPECTED])
def test_handworked_figure(aug, key):
    assert fig(aug, *key) == EXPECTED[key]


def test_every_metric_is_covered():
    from kpi.scoring import load_profile
    codes = {m for _, m in EXPECTED}
    profile = load_profile()
    unit_metrics = {c for c, m in profile["metrics"].items() if not m.get("official_only")}
    assert unit_metrics <= codes


def test_totals_groups_grades(hw):
    t = kpi.totals("2026-08", store=hw).set_index("unit_code")
    d1 = t.loc["D1"]
    # CKMB 0+4+2+4 · TDGQ 20×7/13 · DVCTT 2+4+1 · TTTT 3+2+2.5 · MDSH 1.714286+0.666667+0.208333+0.333333+0.333333+2
    # MDHL 6+0+2.222222
    assert round(d1.group_CKMB, 6) == 10.0 and round(d1.group_TTTT, 6) == 7.5
    assert round(d1.group_MDSH, 6) == 5.255952 and round(d1.group_MDHL, 6) == 8.222222
    assert round(d1.total, 4) == 48.7474 and d1.grade_label == "Yếu"
    c1 = t.loc["C1"]
    assert round(c1.total, 4) == 54.4167 and c1.grade_label == "Trung bình"
    # ranks: C1 54.42 > D1 48.75 > C2; communes ranked among themselves too
    assert (t.loc["C1", "rank"], t.loc["D1", "rank"], t.loc["C2", "rank"]) == (1, 2, 3)
    assert (t.loc["C1", "rank_in_level"], t.loc["C2", "rank_in_level"], t.loc["D1", "rank_in_level"]) == (1, 2, 1)
    assert t.loc["P", "rank"] is None or str(t.loc["P", "rank"]) == "<NA>"


def test_five_group_view_sums_online_and_payment(hw):
    t = kpi.totals("2026-08", store=hw, view="decision").set_index("unit_code")
    assert "group_TTTT" not in t.columns
    assert round(t.loc["D1", "group_DVCTT"], 6) == 14.5       # 7 + 7.5
    t6 = kpi.totals("2026-08", store=hw).set_index("unit_code")
    assert round(t.loc["D1", "total"], 9) == round(t6.loc["D1", "total"], 9)


def test_officials_charged_for_their_own_steps(hw):
    s = kpi.scores("2026-08", store=hw, scope="official")
    on_time = {r.official_id: (int(r.numerator), int(r.denominator)) for r in s.itertuples()
               if r.metric_code == "ON_TIME"}
    # O1 handled all 13 D1 dossiers; B's lateness was O2's approval step, so O1 is not charged for it
    assert on_time["O1"] == (8, 13)
    assert on_time["O2"] == (0, 1)
    assert on_time["O3"] == (3, 4)
    idx = kpi.official_index(s).set_index("official_id")
    assert "ON_TIME" in idx.loc["O1", "metrics"]
    assert 0 <= idx.loc["O1", "index"] <= 100
    # the grade follows the profile's bands: a province that grades everyone from 0 up as Xuất sắc
    import copy
    from kpi.scoring import load_profile
    lenient = copy.deepcopy(load_profile(None))
    lenient["grade_bands"] = [{"min": 0, "grade": "XUAT_SAC"}]
    assert set(kpi.official_index(s, lenient).grade) == {"XUAT_SAC"}
    assert idx.loc["O2", "grade"] != "XUAT_SAC"


def test_as_of_gives_the_running_figure(hw):
    # On 07/08 only dossiers received by then count; A finished 07/08, B/C/… still open and not yet due
    s = kpi.scores("2026-08", store=hw, unit="D1", as_of="2026-08-07")
    r = s.set_index("metric_code").loc["ON_TIME"]
    # received by 7/8: A–F, H, L, M, N (10) + J carried over = 11; D had its second supplement request → late
    assert (int(r.numerator), int(r.denominator)) == (10, 11)


def test_merged_units_trend_to_their_successor(hw):
    s = kpi.scores("2025-06", store=hw)
    assert "OLD" in set(s.unit_code) and "C1" not in set(s.unit_code)
    m = kpi.scores("2025-06", store=hw, merged=True)
    r = m[(m.unit_code == "C1") & (m.metric_code == "ON_TIME")].iloc[0]
    assert (int(r.numerator), int(r.denominator)) == (1, 1)


def test_subtree_of_district_before_merger(hw):
    s = kpi.scores("2025-06", store=hw, unit="DIST", subtree=True)
    r = s.set_index("metric_code").loc["ON_TIME"]
    assert (int(r.numerator), int(r.denominator)) == (1, 1)


def test_evidence_lists_the_rows_and_reasons(hw):
    ev = kpi.evidence("ON_TIME", "D1", "2026-08", store=hw)
    assert len(ev) == 13 and ev.in_numerator.sum() == 7
    late = ev[~ev.in_numerator].set_index("entity")
    assert set(late.index) == {"D1-B", "D1-D", "D1-E", "D1-H", "D1-L", "D1-N"}
    assert "Phê duyệt" in late.loc["D1-B", "reason"] and "2 ngày" in late.loc["D1-B", "reason"]
    assert "bổ sung lần hai" in late.loc["D1-D", "reason"]
    assert "applicant_name" not in ev.columns
    assert "applicant_name" in kpi.evidence("ON_TIME", "D1", "2026-08", store=hw, personal=True).columns


def test_procedure_scope(hw):
    s = kpi.scores("2026-08", store=hw, scope="procedure")
    r = s[(s.procedure_code == "PH") & (s.metric_code == "ON_TIME")].iloc[0]
    assert (int(r.numerator), int(r.denominator)) == (1, 2)


def test_cli_score_csv_columns_and_errors(hw, tmp_path):
    out = tmp_path / "s.csv"
    r = run_kpi("score", "--period", "2026-08", "--format", "csv", "--out", out, "--store", hw)
    assert r.returncode == 0, r.stderr
    import pandas as pd
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert list(df.columns) == ["period", "unit_code", "unit_name", "group_code", "metric_code", "numerator",
                                "denominator", "rate", "points", "max_points"]
    row = df[(df.unit_code == "D1") & (df.metric_code == "ON_TIME")].iloc[0]
    assert (row.numerator, row.denominator, row.rate, row.points) == (7, 13, 53.85, 10.77)
    for args in (["--period", "2026-13"], ["--period", "2026-08", "--unit", "NOPE"], ["--period", "tháng 8"]):
        r = run_kpi("score", *args, "--store", hw)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    empty = tmp_path / "empty.duckdb"
    connect(empty).close()
    r = run_kpi("score", "--period", "2026-08", "--store", empty)
    assert r.returncode == 2 and "trống" in r.stderr
    r = run_kpi("score", "--period", "2026-08", "--unit", "D1", "--store", hw)
    assert r.returncode == 0 and "53,85%" in r.stdout and "10,77" in r.stdout


def test_change_versus_previous_period(hw):
    aug = kpi.totals("2026-08", store=hw).set_index("unit_code")
    jul = kpi.totals("2026-07", store=hw, compare=False).set_index("unit_code")
    assert aug.loc["D1", "previous_total"] == pytest.approx(jul.loc["D1", "total"])
    assert aug.loc["D1", "change"] == pytest.approx(aug.loc["D1", "total"] - jul.loc["D1", "total"])


def test_cli_profile_changes_points(hw, tmp_path):
    prof = tmp_path / "tinh.yaml"
    prof.write_text("metrics:\n  ON_TIME: {max: 26}\n", encoding="utf-8")
    out = tmp_path / "p.csv"
    r = run_kpi("score", "--period", "2026-08", "--unit", "D1", "--profile", prof, "--format", "csv",
                "--out", out, "--store", hw)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out, encoding="utf-8-sig").set_index("metric_code")
    assert df.loc["ON_TIME", "points"] == 14.0 and df.loc["ON_TIME", "max_points"] == 26   # 26 × 7/13
    r = run_kpi("score", "--period", "2026-08", "--profile", tmp_path / "missing.yaml", "--store", hw)
    assert r.returncode == 2 and "missing.yaml" in r.stderr
