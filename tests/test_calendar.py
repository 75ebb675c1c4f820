import datetime as dt

from hypothesis import given, strategies as st

from kpi.calendar import add_working_days, is_working_day, working_days_between

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
