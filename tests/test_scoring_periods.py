import datetime as dt

import pytest
from hypothesis import given, strategies as st

from kpi.periods import PeriodError, label_vi, parse
from kpi.count.scoring import ProfileError, grade, load_profile, points, rank_min
from kpi.numbers import fmt_date, fmt_int, fmt_pct, round_half_up

import pandas as pd


def test_period_forms():
    assert (parse("2026-08").start, parse("2026-08").last) == (dt.date(2026, 8, 1), dt.date(2026, 8, 31))
    assert (parse("2026-Q3").start, parse("2026-Q3").last) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert (parse("2026-H1").start, parse("2026-H1").last) == (dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert (parse("2026-9M").start, parse("2026-9M").last) == (dt.date(2026, 1, 1), dt.date(2026, 9, 30))
    assert (parse("2026").start, parse("2026").last) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    r = parse("2026-08-01..2026-08-20")
    assert (r.start, r.last) == (dt.date(2026, 8, 1), dt.date(2026, 8, 20))
    assert parse("2024-02").last == dt.date(2024, 2, 29)


def test_period_end_is_exclusive_and_as_of_moves_it():
    p = parse("2026-08")
    assert p.end_ts == dt.datetime(2026, 9, 1)        # 31/8 23:30 is inside August
    assert parse("2026-08", as_of=dt.date(2026, 8, 20)).end_ts == dt.datetime(2026, 8, 21)


def test_previous_period_of_same_kind():
    assert parse("2026-01").previous().label == "2025-12"
    assert parse("2026-Q1").previous().label == "2025-Q4"
    assert parse("2026-H1").previous().label == "2025-H2"
    assert parse("2026-9M").previous().label == "2025-9M"
    assert parse("2026").previous().label == "2025"
    assert parse("2026-08-11..2026-08-20").previous().label == "2026-08-01..2026-08-10"


@pytest.mark.parametrize("bad", ["2026-13", "2026-Q5", "08/2026", "2026-08-20..2026-08-01", "", "tháng 8"])
def test_bad_periods(bad):
    with pytest.raises(PeriodError):
        parse(bad)


def test_vietnamese_labels():
    assert label_vi(parse("2026-08")) == "Tháng 08/2026"
    assert label_vi(parse("2026-Q3")) == "Quý III/2026"
    assert fmt_pct(97.745) == "97,75%" and fmt_int(1234567) == "1.234.567"
    assert fmt_date(dt.date(2026, 8, 25)) == "25/08/2026"


def test_points_rules_hand_worked():
    assert points("ON_TIME", 7, 13) == pytest.approx(20 * 7 / 13)
    assert points("ONLINE_PROVISION", 3, 4) == pytest.approx(1.875)          # 2 × 75/80
    assert points("ONLINE_PROVISION", 9, 10) == 2.0                          # full from 80%
    assert points("ONLINE_SUBMISSION", 1, 4) == pytest.approx(3.0)           # 6 × 25/50
    assert points("DOSSIER_RECEIVING_SATISFACTION", 81, 100) == pytest.approx(5.4)  # 6 × 81/90
    assert points("PUBLISH_ON_TIME", 0, 0) is None                           # null_zero
    assert points("PETITION_PROCESSING_ON_TIME", 0, 0) == 6.0                # full
    assert points("ON_TIME", 0, 0) == 0.0                                    # zero
    assert points("AVG_PROCESSING_TIME", 10, 2) is None                      # tracked


def test_a_frame_of_every_rule_scores_each_row_by_its_own_rule():
    """score_frame scores all rows at once: each row by its metric's rule, whatever its neighbours' rules
    (the hand-worked rows above in one frame, and a mean metric's rate as a plain mean)."""
    from kpi.count.scoring import score_frame
    rows = [("ON_TIME", 7, 13, 100 * 7 / 13, 20 * 7 / 13), ("ONLINE_PROVISION", 3, 4, 75.0, 1.875),
            ("ONLINE_PROVISION", 9, 10, 90.0, 2.0), ("PUBLISH_ON_TIME", 0, 0, None, None),
            ("PETITION_PROCESSING_ON_TIME", 0, 0, None, 6.0), ("ON_TIME", 0, 0, None, 0.0),
            ("AVG_PROCESSING_TIME", 10, 2, 5.0, None), ("DOSSIER_RECEIVING_SATISFACTION", 81, 100, 81.0, 5.4)]
    got = score_frame(pd.DataFrame(rows, columns=["metric_code", "numerator", "denominator", "r", "p"]),
                      load_profile())
    for r in got.itertuples():
        assert (pd.isna(r.rate), pd.isna(r.points)) == (r.r is None or pd.isna(r.r), r.p is None or pd.isna(r.p)), r
        if not pd.isna(r.rate):
            assert r.rate == pytest.approx(r.r)
        if not pd.isna(r.points):
            assert r.points == pytest.approx(r.p)
    assert str(got.points.dtype) == "Float64" and str(got.rate.dtype) == "Float64"


def test_profile_override(tmp_path):
    f = tmp_path / "tinh.yaml"
    # a province weighting timeliness more: ON_TIME 25 (TDGQ 25), the payment group's 10 moved down to 5
    f.write_text("metrics:\n  ONLINE_SUBMISSION: {target: 40}\n  ON_TIME: {max: 25}\n"
                 "  PAID_ONLINE: {max: 3}\n  FEE_PROCEDURES_PAID_ONLINE: {max: 1}\n  FEE_PROCEDURES_WITH_DOSSIERS: {max: 1}\n"
                 "groups:\n  TDGQ: {max: 25}\n  TTTT: {max: 5, cap: 5}\n"
                 "decision_groups: {TDGQ: 25, DVCTT: 17}\n", encoding="utf-8")
    prof = load_profile(f)
    assert points("ONLINE_SUBMISSION", 1, 4, prof) == pytest.approx(6 * 25 / 40)
    assert points("ON_TIME", 1, 1, prof) == 25.0
    assert prof["metrics"]["ON_TIME"]["group"] == "TDGQ"     # the rest comes from the default
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics:\n  ON_TIME: {rule: magic}\n", encoding="utf-8")
    with pytest.raises(ProfileError):
        load_profile(bad)


def test_grade_on_rounded_total():
    assert grade(89.995) == "XUAT_SAC"     # shown as 90,00
    assert grade(89.994) == "TOT"
    assert grade(80) == "TOT" and grade(79.99) == "KHA" and grade(50) == "TRUNG_BINH" and grade(49.99) == "YEU"


def test_round_half_up():
    assert round_half_up(2.675) == 2.68 and round_half_up(0.125) == 0.13 and round_half_up(1.005) == 1.01


def test_ranks_share_ties():
    assert list(rank_min(pd.Series([90.0, 85.001, 85.0, 70.0]))) == [1, 2, 2, 4]


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(
    ["ON_TIME", "ONLINE_PROVISION", "ONLINE_SUBMISSION", "PAID_ONLINE", "DOSSIER_RECEIVING_SATISFACTION",
     "PETITION_PROCESSING_ON_TIME", "REUSED_DIGITIZED_DATA"]))
def test_points_within_bounds_and_monotone(num, extra, code):
    den = num + extra
    prof = load_profile()
    mx = prof["metrics"][code]["max"]
    p = points(code, num, den, prof)
    assert p is None or 0 <= p <= mx
    if den and extra:
        assert points(code, num + 1, den, prof) >= p
