"""What-if and month-end projection on the hand-worked province (see test_engine_handworked.py).

D1 on 7/8/2026: ended on time A, D (finished after two supplement requests: judged by time, decision of
November 2026), F (single supplement before due), J, M; open and due by 31/8: B, C, E, H, L, N (6 at risk). 10 received in 5 working days (3–7/8) → 2 a day;
16 working days remain (10–14, 17–21, Saturday 22/8 worked, 24–28; 31/8 off) → 32 expected arrivals.
"""
import pytest

from kpi.analysis import whatif
from kpi.analysis.api import session


@pytest.fixture
def engine(hw):
    with session(hw) as e:
        yield e


def test_projection_scenarios(engine):
    p = whatif.projection(engine, "2026-08", "D1", "2026-08-07", p_on_time=0.5).set_index("scenario")
    assert (p.loc["as_of", "on_time_numerator"], p.loc["as_of", "on_time_denominator"]) == (11, 11)
    assert p.loc["as_of", "at_risk"] == 6 and p.loc["as_of", "late"] == 0 and p.loc["expected", "arrivals"] == 32
    assert (p.loc["expected", "on_time_numerator"], p.loc["expected", "on_time_denominator"]) == (40, 43)  # 5+3+32
    assert round(p.loc["expected", "on_time_points"], 6) == round(20 * 40 / 43, 6)
    assert p.loc["best", "on_time_numerator"] == 43 and p.loc["worst", "on_time_numerator"] == 37
    # the other metrics stay at their as-of values
    assert round(p.loc["best", "total"] - p.loc["worst", "total"], 6) == round(20 * 6 / 43, 6)


def test_projection_without_arrivals_and_with_history(engine):
    p = whatif.projection(engine, "2026-08", "D1", "2026-08-07", p_on_time=0.5, arrivals=False).set_index("scenario")
    assert (p.loc["expected", "on_time_numerator"], p.loc["expected", "on_time_denominator"]) == (8, 11)
    # history: May–July 2026 D1 handled I and J, both on time → p = 1 → expected = best
    h = whatif.projection(engine, "2026-08", "D1", "2026-08-07", arrivals=False).set_index("scenario")
    assert h.loc["expected", "p_on_time"] == 1.0 and h.loc["expected", "on_time_numerator"] == 11


def test_what_if_finished_today(engine):
    w = whatif.what_if_finished(engine, "2026-08", "D1", "2026-08-07", ["D1-B", "D1-C"], p_on_time=0.5)
    before, after = w.iloc[0], w.iloc[1]
    assert round(before.on_time_points, 6) == round(20 * 40 / 43, 6)
    assert round(after.on_time_points, 6) == round(20 * 41 / 43, 6)     # 5 + 2 done + 0.5 × 4 + 32
    assert round(after.change, 6) == round(20 / 43, 6)


def test_what_if_rate_and_next_band(engine):
    r = whatif.what_if_rate(engine, "2026-08", "D1", "ONLINE_SUBMISSION", 50)
    assert (r["points"], r["new_points"]) == (1.0, 6.0)
    assert round(r["new_total"] - r["total"], 6) == 5.0 and (r["grade"], r["new_grade"]) == ("YEU", "TRUNG_BINH")
    n = whatif.needed_for_next_band(engine, "2026-08", "D1")
    # 49.38 (Yếu), ON_TIME 7/13 = 10.77 of it: one more on-time dossier gives 8/14 = 11.43 → 50.04
    assert (n["target"], n["needed"], n["next_grade"]) == (50, 1, "TRUNG_BINH")
