import datetime as dt
import subprocess
import sys

import duckdb
import pytest
from hypothesis import given, strategies as st

import kpi
from conftest import ROOT
from kpi.calendar import add_working_days, is_working_day, working_days_between
from kpi.store import StoreError

D = dt.date


def test_tet_2026_is_off():
    assert [is_working_day(D(2026, 2, d)) for d in range(16, 21)] == [False] * 5
    assert is_working_day(D(2026, 2, 13)) and is_working_day(D(2026, 2, 23))


def test_make_up_saturday_2025():
    assert is_working_day(D(2025, 4, 26))          # Saturday worked in exchange for 2 May 2025
    assert not is_working_day(D(2025, 5, 2))
    assert not is_working_day(D(2025, 4, 19))       # an ordinary Saturday


def test_five_working_days_after_friday_before_tet():
    assert add_working_days(D(2026, 2, 13), 5) == D(2026, 2, 27)
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 27)) == 5


def test_national_day_and_weekend():
    assert not is_working_day(D(2026, 9, 2))
    assert add_working_days(D(2026, 8, 28), 1) == D(2026, 9, 3)   # Fri → 31/8 off (swap), 1–2/9 holidays


def test_override_file(tmp_path, monkeypatch):
    import kpi.calendar as cal
    f = tmp_path / "o.csv"
    f.write_text("date,working\n2026-03-02,0\n", encoding="utf-8")
    monkeypatch.setenv("KPI_CALENDAR_OVERRIDES", str(f))
    cal._table.cache_clear()
    try:
        assert not cal.is_working_day(D(2026, 3, 2))
    finally:
        monkeypatch.delenv("KPI_CALENDAR_OVERRIDES")
        cal._table.cache_clear()
    assert cal.is_working_day(D(2026, 3, 2))


@given(st.dates(D(2016, 1, 1), D(2034, 1, 1)), st.integers(0, 60))
def test_add_then_count_round_trips(d, n):
    end = add_working_days(d, n)
    assert is_working_day(end) or n == 0
    if is_working_day(d):
        assert working_days_between(d, end) == n


def test_a_changed_calendar_is_refused_until_a_load_applies_it(hw_copy, tmp_path):
    """Holidays and swapped days are read into the store: when the calendar in force changes afterwards
    (a late-announced day off), scoring says so in one line instead of counting on the old working days;
    the next `kpi load` applies it and recomputes every dossier, giving exactly the figures of a store
    built with that calendar from the start — and different ones from before."""
    from conftest import ROOT, run_kpi
    hand = ROOT / "tests" / "data" / "handworked"
    days_off = tmp_path / "lich.csv"
    days_off.write_text("date,working\n2026-08-05,0\n2026-08-06,0\n2026-08-07,0\n", encoding="utf-8")
    env = {"KPI_CALENDAR_OVERRIDES": str(days_off)}

    def score(store, out, env=None):
        r = run_kpi("score", "--period", "2026-08", "--format", "csv", "--out", out, "--store", store, env=env)
        assert r.returncode == 0, r.stderr
        return out.read_text(encoding="utf-8-sig")

    before = score(hw_copy, tmp_path / "before.csv")
    r = run_kpi("score", "--period", "2026-08", "--store", hw_copy, env=env)
    line = r.stderr.strip()
    assert r.returncode == 2 and len(line.splitlines()) == 1 and "05/08/2026" in line and "kpi load" in line, line
    r = run_kpi("load", hand, "--store", hw_copy, env=env)
    assert r.returncode == 0, r.stderr
    assert "Lịch ngày làm việc đã đổi ở 3 ngày (vd. 05/08/2026)" in r.stdout, r.stdout
    applied = score(hw_copy, tmp_path / "applied.csv", env)
    fresh_store = tmp_path / "fresh.duckdb"
    assert run_kpi("load", hand, "--store", fresh_store, env=env).returncode == 0
    assert applied == score(fresh_store, tmp_path / "fresh.csv", env)
    assert applied != before
    # and back: the old calendar is refused on the new store until a load applies it again
    assert run_kpi("score", "--period", "2026-08", "--store", hw_copy).returncode == 2


def test_an_unchanged_calendar_is_known_by_its_digest_and_a_changed_table_is_not(hw_copy):
    """Opening a store does not compute the calendar in force (the `holidays` package is not even imported)
    when the store's calendar was made from the same sources and has not changed since; a calendar table
    changed behind the loader's back is compared day by day and refused as a changed calendar."""
    code = ("import sys, kpi\n"
            f"kpi.scores('2026-08', store={str(hw_copy)!r})\n"
            "print('holidays' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.split() == ["False"], out.stderr
    con = duckdb.connect(str(hw_copy))
    con.execute("UPDATE calendar SET is_working = NOT is_working WHERE d = DATE '2026-08-05'")
    con.close()
    with pytest.raises(StoreError, match="05/08/2026"):
        kpi.scores("2026-08", store=hw_copy)
