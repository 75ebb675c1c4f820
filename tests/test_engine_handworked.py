"""Exact figures for a tiny province worked out by hand (tests/data/handworked/).

August 2026. D1 (department, procedure PR1: 5 working days, fee, paper result):
  A on time · B late 2 wd (the leader's approval step overran → charged to O2, apology sent)
  C finished 12/8 10:00 after 48 h waiting for the citizen: 10/8 10:00 is one hour after the due time
    10/8 09:00 → late [decision "time arithmetic": timestamps; it was on time by whole working days]
  D finished early after two supplement requests → judged by time, on time [decision "second
    supplement": late only when processing ended without finished/returned; it was late]
  E waiting on one supplement requested after the due date → ends then → late
  F waiting on one supplement requested before the due date → on time
  G open, not yet due · H open, overdue at 31/8 → late · I ended in July → not counted
  J received in July, finished in August on time → counted · K received 31/8 23:30 → August
  L no due date: 6 working days used > 5 → late · M rejected on time · N returned only, late
  ON_TIME = 7/13 (late: B C E H L N).  C1 (commune): PC1 3 wd, PH 8 hours; C1-B finished 7/8 17:00,
  8 hours after its due time 7/8 09:00 → late [timestamps]; C1-H2 (25 h) late: 2/4.

October 2026 (ends on Saturday 31/10). D2 (department, official O4), one case per November decision:
  Z1 open, due Friday 30/10 16:00 → late at the Saturday period end · Z2 finished Saturday 31/10 10:00
  after that Friday due → late · Z4 stopped at its second supplement request → late · Z5 a request after it
  finished changes nothing → on time, 6 h wait subtracted · Z6 request made after the due time (12/10
  16:00), answered 14/10 09:00, finished 14/10 10:00 → 41 h subtracted, still 8 h late · Z7 request after
  the due date, withdrawn the next day, answer two days later: only the wait before the end counts → late
  1 wd · Z8 56 h wait subtracted → on time · Z9 due "09/10" without a time: the whole day → on time at
  16:00 · Z10 no due date, 7 wd > 5 → late 2 wd · Z11 received in September, finished 1/10 · Z12 fee-bearing
  with no fee data · Z13 fee 0 · Z14 procedure PM in months (28 days = 0.919918 months).
  ON_TIME = 7/13.  D3 has no dossiers ever; the national report gives it 120 for 2025.
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
    # decision AVG_PROCESSING_TIME: received in the period (J no longer), citizen's time as timestamps:
    # A 4 · B 7 · C 5 (10/8) · D 4 · L 6 · N 9 working days over 6 (was 46/7 with J)
    ("D1", "AVG_PROCESSING_TIME"): (35, 6, None),
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
    # decision cohort: ended (finished/returned) in August, J included → A B C D J L N; late B C L N → 3/7
    ("D1", "DOSSIER_RECEIVING_SATISFACTION"): (3, 7, 2.857143),
    ("D1", "DOSSIER_NO_COMPLAINT"): (7, 7, None),
    ("D1", "PETITION_CLASSIFICATION_TTHC"): (0, 1, None),
    ("D1", "PETITION_CLASSIFICATION_STAFF"): (0, 1, None),
    ("C1", "PUBLISH_ON_TIME"): (1, 1, 6.0),
    ("C1", "PUBLIC_UPDATE_ON_TIME"): (0, 1, 0.0),      # PC1 made public 8 wd after QD3
    ("C1", "PUBLIC_CONTENT_FULL"): (2, 3, 1.333333),   # PC1 lacks dossier components; PX abolished
    ("C1", "DOSSIER_SYNC"): (4, 4, 6.0),
    ("C1", "ON_TIME"): (2, 4, 10.0),                    # timestamps: C1-B 8 h late (was 3/4)
    ("C1", "AVG_PROCESSING_TIME"): (37, 4, None),      # 2 + 3 working days, 7 + 25 hours
    ("C1", "ONLINE_PROVISION"): (2, 3, 1.666667),      # S5 for PN is in testing: not offered (doc 3.1)
    ("C1", "ONLINE_SERVICE_USED"): (2, 3, 2.666667),   # S5 (testing) is one of its services, unused
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
    ("C1", "DOSSIER_RECEIVING_SATISFACTION"): (1, 4, 1.666667),  # A unsatisfied, B complained (and late), H2 late
    ("C1", "DOSSIER_NO_COMPLAINT"): (2, 4, None),
    ("C1", "PETITION_CLASSIFICATION_TTHC"): (1, 3, None),
    ("C1", "PETITION_CLASSIFICATION_STAFF"): (1, 3, None),
    ("C2", "ON_TIME"): (0, 0, 0.0),                      # zero rule: no dossiers → 0
    ("C2", "PETITION_PROCESSING_ON_TIME"): (0, 0, 6.0),  # full rule: no feedback → full points
    ("C2", "PETITION_HANDLING_SATISFACTION"): (0, 0, 6.0),
    ("C2", "DOSSIER_RECEIVING_SATISFACTION"): (0, 0, 0.0),
    ("C2", "ONLINE_PROVISION"): (1, 3, 0.833333),        # its service is stopping: still public (was 0/3)
    ("C2", "ONLINE_SERVICE_USED"): (0, 1, 0.0),
    ("C2", "ELECTRONIC_CERTIFIED_COPY"): (0, 1, 0.0),
    # the province is a recount over its whole tree, not a mean of its units
    ("P", "ON_TIME"): (9, 17, 10.588235),                # D1 7/13 + C1 2/4
    ("P", "DOSSIER_SYNC"): (14, 16, 5.25),
    ("P", "PUBLISH_ON_TIME"): (1, 2, 3.0),
    ("P", "ONLINE_PROVISION"): (3, 4, 1.875),            # a procedure counts once
    ("P", "ELECTRONIC_CERTIFIED_COPY"): (1, 2, 1.0),
    ("P", "CITIZEN_DATA_CONNECTED_FORMALITY"): (2, 3, 1.333333),
    ("P", "DOSSIER_RECEIVING_SATISFACTION"): (4, 11, 2.424242),  # D1 3/7 + C1 1/4
    ("D2", "DOSSIER_SYNC"): (0, 0, 0.0),                 # nothing received, nothing last year: rate 0
    ("D3", "DOSSIER_SYNC"): (0, 10, 0.0),                # fallback: 2025's 120 ÷ 12
}


@pytest.mark.parametrize("key", list(EXPECTED), ids=[f"{u}-{m}" for u, m in EXPECTED])
def test_handworked_figure(aug, key):
    assert fig(aug, *key) == EXPECTED[key]


def test_every_metric_is_covered():
    from kpi.count.scoring import load_profile
    codes = {m for _, m in EXPECTED}
    profile = load_profile()
    unit_metrics = {c for c, m in profile["metrics"].items() if not m.get("official_only")}
    assert unit_metrics <= codes


def test_totals_groups_grades(hw):
    t = kpi.totals("2026-08", store=hw).set_index("unit_code")
    d1 = t.loc["D1"]
    # the portal's method: a group is the sum of its metrics' published points (each rounded half-up to 2
    # decimals), the total the sum of the groups — what is printed adds up
    # CKMB 0+4+2+4 · TDGQ 20×7/13 = 10.77 · DVCTT 2+4+1 · TTTT 3+2+2.5 · MDSH 1.71+0.67+0.21+0.33+0.33+2
    # MDHL 6+0+2.86
    assert round(d1.group_CKMB, 6) == 10.0 and round(d1.group_TTTT, 6) == 7.5
    assert round(d1.group_TDGQ, 6) == 10.77
    assert round(d1.group_MDSH, 6) == 5.25 and round(d1.group_MDHL, 6) == 8.86
    assert round(d1.total, 6) == 49.38 and d1.grade_label == "Yếu"
    c1 = t.loc["C1"]
    # CKMB 6+0+1.33+6 · TDGQ 10 · DVCTT 1.67+2.67+6 · MDSH 2+2+1.25+1+0.5+1 · MDHL 2+3+1.67: 48.09 (the exact
    # sum, 48.0833, would print 48.08 under groups that print 13.33 + 10 + 10.34 + 7.75 + 6.67)
    assert round(c1.total, 6) == 48.09 and c1.grade_label == "Yếu"
    assert round(c1.total, 6) == round(sum(round(c1[f"group_{g}"], 2) for g in
                                           ("CKMB", "TDGQ", "DVCTT", "TTTT", "MDSH", "MDHL")), 6)
    # ranks: D1 49.38 > C1 48.08; communes and departments ranked among themselves too. C2, D2 and D3
    # handled no dossier in August: not graded "Yếu" on the points of empty metrics, not ranked
    assert (t.loc["D1", "rank"], t.loc["C1", "rank"]) == (1, 2)
    assert (t.loc["C1", "rank_in_level"], t.loc["D1", "rank_in_level"]) == (1, 1)
    for idle in ("C2", "D2", "D3"):
        assert pd.isna(t.loc[idle, "rank"]) and pd.isna(t.loc[idle, "grade"])
        assert t.loc[idle, "grade_label"] == "Không có hồ sơ"
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
    assert on_time["O3"] == (2, 4)        # C1-B is late by timestamps (decision of November 2026)
    idx = kpi.official_index(s).set_index("official_id")
    assert "ON_TIME" in idx.loc["O1", "metrics"]
    assert 0 <= idx.loc["O1", "index"] <= 100
    # the grade follows the profile's bands: a province that grades everyone from 0 up as Xuất sắc
    import copy
    from kpi.count.scoring import load_profile
    lenient = copy.deepcopy(load_profile(None))
    lenient["grade_bands"] = [{"min": 0, "grade": "XUAT_SAC"}]
    assert set(kpi.official_index(s, lenient).grade) == {"XUAT_SAC"}
    assert idx.loc["O2", "grade"] != "XUAT_SAC"


def test_as_of_gives_the_running_figure(hw):
    # On 07/08 only dossiers received by then count; A finished 07/08, B/C/… still open and not yet due
    s = kpi.scores("2026-08", store=hw, unit="D1", as_of="2026-08-07")
    r = s.set_index("metric_code").loc["ON_TIME"]
    # received by 7/8: A–F, H, L, M, N (10) + J carried over = 11, all on time at the end of 7/8: D finished
    # on 7/8 after two supplement requests, which no longer makes it late (it was 10/11)
    assert (int(r.numerator), int(r.denominator)) == (11, 11)


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
    # D finished after two supplement requests (on time now); C is late by the hour once its 48 h are subtracted
    assert set(late.index) == {"D1-B", "D1-C", "D1-E", "D1-H", "D1-L", "D1-N"}
    assert "Phê duyệt" in late.loc["D1-B", "reason"] and "2 ngày" in late.loc["D1-B", "reason"]
    assert late.loc["D1-C", "reason"] == "trễ hạn 1 giờ (hẹn trả 10/08/2026), đã trừ thời gian chờ bổ sung 2 ngày"
    assert late.loc["D1-L", "reason"] == ("trễ hạn 1 ngày làm việc (không có ngày hẹn trả; thời hạn của thủ tục "
                                          "5 ngày làm việc)")
    on = ev[ev.in_numerator].set_index("entity")
    assert on.loc["D1-D", "reason"] == "đúng hạn: thời gian chờ bổ sung 7 giờ đã trừ"
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
    prof.write_text("metrics:\n  ON_TIME: {rule: linear_target, target: 80}\n", encoding="utf-8")
    out = tmp_path / "p.csv"
    r = run_kpi("score", "--period", "2026-08", "--unit", "D1", "--profile", prof, "--format", "csv",
                "--out", out, "--store", hw)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out, encoding="utf-8-sig").set_index("metric_code")
    assert df.loc["ON_TIME", "points"] == 13.46 and df.loc["ON_TIME", "max_points"] == 20   # 20 × 53.85 / 80
    r = run_kpi("score", "--period", "2026-08", "--profile", tmp_path / "missing.yaml", "--store", hw)
    assert r.returncode == 2 and "missing.yaml" in r.stderr


# ── The counting decisions of November 2026 (INDICATORS.md), one hand-worked case each ──────────────────
OCTOBER = {
    ("D2", "ON_TIME"): (7, 13, 10.769231),             # late: Z1 Z2 Z4 Z6 Z7 Z10
    ("D2", "DOSSIER_RECEIVING_SATISFACTION"): (7, 10, 4.666667),  # ended in Oct: Z2 Z5 Z6 Z8–Z14; Z11 from Sept
    ("D2", "AVG_PROCESSING_TIME"): (34.919918, 9, None),  # 4+4+5+4+4+7+3+3 wd and 0.919918 months; not Z11
    ("D2", "PAID_ONLINE"): (1, 2, 3.0),                # Z2 paid; Z12 without fee data stays in; Z13 (fee 0) out
    ("D2", "PETITION_PROCESSING_ON_TIME"): (0, 2, 0.0),  # F5 (Sept) answered late in Oct; F6 due Fri 30/10, open
    ("D2", "PETITION_HANDLING_SATISFACTION"): (0, 1, 0.0),  # F6 accepted in Oct, handled late
    ("D2", "DOSSIER_SYNC"): (12, 12, 6.0),
    ("C1", "PUBLISH_ON_TIME"): (2, 3, 4.0),            # QD4 abolishes PX (counts), QD5 PN ok, QD6 PC1 2 wd: late
    ("C1", "PUBLIC_UPDATE_ON_TIME"): (2, 3, 2.666667),  # PX, PH (Sept decision, public 6/10) ok; PC1's window
                                                        # closed 8/10 unpublished; PN's window still open: not counted
    ("C2", "PUBLISH_ON_TIME"): (2, 3, 4.0),
    ("P", "PUBLISH_ON_TIME"): (2, 3, 4.0),
    ("P", "PUBLIC_UPDATE_ON_TIME"): (2, 3, 2.666667),
    ("P", "ON_TIME"): (7, 16, 8.75),                   # + D1-G, H, K still open and overdue in October
    ("D3", "DOSSIER_SYNC"): (0, 10, 0.0),              # no dossiers: 2025's 120 ÷ 12, rate 0
}

# The document's readings (profile mo-ta-cong-thuc): same counts, other rules.
DOCUMENT = {
    ("2026-08", "D1", "ONLINE_SUBMISSION"): (0.666667, 12, 0.666667),  # 1 × sync rate 10/15, then target 50
    ("2026-08", "C1", "ONLINE_SUBMISSION"): (2, 4, 6.0),               # sync 4/4
    ("2026-08", "P", "ONLINE_SUBMISSION"): (2.625, 16, 1.96875),       # 3 × 14/16
    ("2026-08", "D1", "SO_HOA_GIAY_TO_GIAI_QUYET"): (2, 12, 0.833333),  # target 80: 4 × 16.67/80
    ("2026-08", "C1", "SO_HOA_GIAY_TO_GIAI_QUYET"): (2, 4, 2.5),
    ("2026-08", "D1", "FEE_PROCEDURES_PAID_ONLINE"): (1, 1, 2.0),      # linear
    ("2026-08", "D1", "FEE_PROCEDURES_WITH_DOSSIERS"): (1, 1, 2.5),    # target 80
    # 100 % − (ON_TIME late rate + complaint rate): D1 7 × (7/13 + 7/7 − 1); C1 4 × (2/4 + 2/4 − 1) = 0;
    # P 11 × (9/17 + 9/11 − 1)
    ("2026-08", "D1", "DOSSIER_RECEIVING_SATISFACTION"): (3.769231, 7, 3.589744),
    ("2026-08", "C1", "DOSSIER_RECEIVING_SATISFACTION"): (0, 4, 0.0),
    ("2026-08", "P", "DOSSIER_RECEIVING_SATISFACTION"): (3.823529, 11, 2.317291),
    ("2026-10", "D2", "DOSSIER_RECEIVING_SATISFACTION"): (5.384615, 10, 3.589744),  # 10 × 7/13
    ("2026-10", "D2", "ONLINE_SUBMISSION"): (0, 12, 0.0),
    # what the profile does not name is as in the default
    ("2026-08", "D1", "ON_TIME"): (7, 13, 10.769231),
    ("2026-08", "D1", "PAID_ONLINE"): (2, 4, 3.0),
}


def _figures(period, store, profile=None):
    s = kpi.scores(period, store=store, profile=profile)
    return {(r.unit_code, r.metric_code): (round(float(r.numerator), 6), int(r.denominator),
                                           None if pd.isna(r.points) else round(float(r.points), 6))
            for r in s.itertuples()}


@pytest.fixture(scope="module")
def october(hw):
    return _figures("2026-10", hw)


@pytest.mark.parametrize("key", list(OCTOBER), ids=[f"{u}-{m}" for u, m in OCTOBER])
def test_november_decisions_october(october, key):
    n, d, p = OCTOBER[key]
    assert october[key] == (round(float(n), 6), d, p)


@pytest.fixture(scope="module")
def document(hw):
    return {p: _figures(p, hw, "mo-ta-cong-thuc") for p in ("2026-08", "2026-10")}


@pytest.mark.parametrize("key", list(DOCUMENT), ids=[f"{p}-{u}-{m}" for p, u, m in DOCUMENT])
def test_document_profile(document, key):
    period, unit, code = key
    n, d, p = DOCUMENT[key]
    assert document[period][(unit, code)] == (round(float(n), 6), d, p)


def test_decision_reasons_say_which_rule_applied(hw):
    ev = kpi.evidence("ON_TIME", "D2", "2026-10", store=hw).set_index("entity")
    reason = ev.reason.to_dict()
    late = set(ev.index[~ev.in_numerator])
    assert late == {"D2-Z1", "D2-Z2", "D2-Z4", "D2-Z6", "D2-Z7", "D2-Z10"}
    assert reason["D2-Z1"] == "trễ hạn: chưa giải quyết xong, đã quá hạn 1 ngày 7 giờ 59 phút (hẹn trả 30/10/2026)"
    assert reason["D2-Z2"] == "trễ hạn 18 giờ (hẹn trả 30/10/2026)"
    assert reason["D2-Z4"] == "trễ hạn: dừng ở yêu cầu bổ sung lần hai"
    assert reason["D2-Z5"] == "đúng hạn: thời gian chờ bổ sung 6 giờ đã trừ"
    assert reason["D2-Z6"] == "trễ hạn 8 giờ (hẹn trả 12/10/2026), đã trừ thời gian chờ bổ sung 1 ngày 17 giờ"
    assert reason["D2-Z7"] == "trễ hạn 1 ngày làm việc (hẹn trả 12/10/2026), đã trừ thời gian chờ bổ sung 1 ngày"
    assert reason["D2-Z8"] == "đúng hạn: thời gian chờ bổ sung 2 ngày 8 giờ đã trừ"
    assert reason["D2-Z9"] == "đúng hạn"
    assert reason["D2-Z10"] == ("trễ hạn 2 ngày làm việc (không có ngày hẹn trả; thời hạn của thủ tục "
                                "5 ngày làm việc)")
    assert "?" not in "".join(reason.values())
    fb = kpi.evidence("PETITION_PROCESSING_ON_TIME", "D2", "2026-10", store=hw).set_index("entity").reason
    assert fb["F5"] == "trễ hạn: trả lời sau 25 ngày làm việc (hạn 05/10/2026)"
    assert fb["F6"] == "trễ hạn: đang xử lý, đã 15 ngày làm việc (hạn 30/10/2026)"
    pu = kpi.evidence("PUBLIC_UPDATE_ON_TIME", "C1", "2026-10", store=hw).set_index("entity").reason
    assert pu["PC1"] == "chưa công khai trên CSDL quốc gia, hết hạn ngày 08/10/2026" and "PN" not in pu
    po = kpi.evidence("PUBLISH_ON_TIME", "C1", "2026-10", store=hw).set_index("entity").reason
    assert po["PX"] == "công bố đúng hạn (bãi bỏ)"
    op = kpi.evidence("ONLINE_PROVISION", "C1", "2026-08", store=hw).set_index("entity").reason
    assert op["PN"] == "DVC trực tuyến đang thử nghiệm, chưa công khai"


def test_september_sees_what_october_judges(hw):
    sep = _figures("2026-09", hw)
    assert sep[("D2", "ON_TIME")] == (1, 1, 20.0)                      # Z11 open at 30/9, due 5/10
    assert sep[("D2", "PETITION_PROCESSING_ON_TIME")] == (1, 1, 6.0)   # F5 open, within its 15 wd
    assert sep[("C1", "PUBLISH_ON_TIME")] == (1, 1, 6.0)               # QD7 dated 29/9
    assert sep[("C1", "PUBLIC_UPDATE_ON_TIME")] == (0, 0, None)        # PH's window closes 6/10


@pytest.mark.parametrize("period,den", [("2026-Q3", 30), ("2026-H1", 60), ("2026", 120)])
def test_dossier_sync_fallback_scales_with_the_period(hw, period, den):
    r = kpi.scores(period, store=hw, unit="D3").set_index("metric_code").loc["DOSSIER_SYNC"]
    assert (int(r.numerator), int(r.denominator), float(r.points), float(r.rate)) == (0, den, 0.0, 0.0)


def test_average_time_in_the_procedures_unit(hw):
    s = kpi.scores("2026-10", store=hw, scope="procedure")
    avg = s[s.metric_code == "AVG_PROCESSING_TIME"].set_index("procedure_code")
    assert (float(avg.loc["PR1", "numerator"]), int(avg.loc["PR1", "denominator"])) == (34.0, 8)   # working days
    assert round(float(avg.loc["PM", "rate"]), 6) == 0.919918                                       # months


def test_officials_follow_the_same_rules(hw):
    s = kpi.scores("2026-10", store=hw, scope="official")
    r = s[(s.official_id == "O4") & (s.metric_code == "ON_TIME")].iloc[0]
    assert (int(r.numerator), int(r.denominator)) == (7, 13)
    drs = s[(s.official_id == "O4") & (s.metric_code == "DOSSIER_RECEIVING_SATISFACTION")].iloc[0]
    assert (int(drs.numerator), int(drs.denominator)) == (7, 10)


def test_profile_by_name_and_unknown_variant(hw, tmp_path):
    from kpi.count.scoring import ProfileError, load_profile, shipped_profiles
    assert {"dvcqg-2026", "mo-ta-cong-thuc"} <= set(shipped_profiles())
    assert load_profile("mo-ta-cong-thuc")["metrics"]["DOSSIER_RECEIVING_SATISFACTION"]["variant"] == "sum_of_rates"
    assert load_profile("dvcqg-2026")["name"] == "dvcqg-2026"
    with pytest.raises(ProfileError, match="sum_of_squares"):
        load_profile({"metrics": {"DOSSIER_RECEIVING_SATISFACTION": {"variant": "sum_of_squares"}}})
    out = tmp_path / "doc.csv"
    r = run_kpi("score", "--period", "2026-08", "--unit", "D1", "--profile", "mo-ta-cong-thuc", "--format", "csv",
                "--out", out, "--store", hw)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out, encoding="utf-8-sig").set_index("metric_code")
    assert (df.loc["SO_HOA_GIAY_TO_GIAI_QUYET", "points"], df.loc["DOSSIER_RECEIVING_SATISFACTION", "points"]) == \
        (0.83, 3.59)


@pytest.mark.parametrize("text,key", [
    ("metrics:\n  ON_TIME: {max: -5}\n", "metrics.ON_TIME.max"),
    ("metrics:\n  ON_TIME: {max: 58.66}\n", "groups.TDGQ.max"),               # a 138.66/100 index
    ("metrics:\n  ON_TIMEE: {max: 20, group: TDGQ, rule: linear}\n", "ON_TIMEE"),
    ("grade_bands:\n  - {min: 90, grade: SIEU}\n  - {min: 0, grade: YEU}\n", "grade_bands[0].grade"),
    ("grade_bands:\n  - {min: 50, grade: TOT}\n  - {min: 80, grade: KHA}\n  - {min: 0, grade: YEU}\n", "grade_bands"),
    ("groups: [1, 2]\n", "groups: cần danh sách nhóm"),
    ("- just\n- a list\n", "YAML mapping"),
    ("metrics:\n  ON_TIME: {rule: linear_target}\n", "metrics.ON_TIME.target"),
    ("feedback_answer_working_days: -1\n", "feedback_answer_working_days"),
    ("bands: []\n", "khóa không biết: bands"),
])
def test_profile_errors_name_the_key(hw, tmp_path, text, key):
    prof = tmp_path / "bad.yaml"
    prof.write_text(text, encoding="utf-8")
    r = run_kpi("score", "--period", "2026-08", "--profile", prof, "--store", hw)
    assert r.returncode == 2, r.stdout
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and key in line and "bad.yaml" in line and "không mong đợi" not in line, line
