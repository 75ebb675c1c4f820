"""Working days (ngày làm việc): Monday–Friday minus Vietnam's public holidays, plus make-up
Saturdays, from the `holidays` package, with an override file for late announcements.

The override file (`kpi/data/calendar_overrides.csv`, or `KPI_CALENDAR_OVERRIDES`) has rows
`date,working` — `working` 1 makes a day a working day, 0 a day off.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from kpi.config import PACKAGE_DIR

FIRST_YEAR, LAST_YEAR = 2015, 2035
EPOCH = dt.date(FIRST_YEAR, 1, 1)


def _overrides_path() -> Path:
    return Path(os.environ.get("KPI_CALENDAR_OVERRIDES", PACKAGE_DIR / "data" / "calendar_overrides.csv"))


def source() -> str:
    """What the calendar in force is made of — the `holidays` package's version, the override file, the
    years, this module — as a digest: the same digest, the same calendar, without computing it."""
    path = _overrides_path()
    h = hashlib.sha256(f"{metadata.version('holidays')}|{FIRST_YEAR}-{LAST_YEAR}|".encode())
    h.update(path.read_bytes() if path.exists() else b"")
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def _overrides() -> dict[dt.date, bool]:
    path = _overrides_path()
    out: dict[dt.date, bool] = {}
    if path.exists():
        with open(path, encoding="utf-8-sig") as fh:
            for row in csv.DictReader(line for line in fh if not line.startswith("#")):
                out[dt.date.fromisoformat(row["date"].strip())] = row["working"].strip() in ("1", "true", "yes")
    return out


@lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, np.ndarray]:
    """(is_working per day since EPOCH, cumulative working-day index per day)."""
    import holidays         # 0,2 s to import: only when a calendar is computed (kpi.store.check_calendar)
    vn = holidays.country_holidays("VN", years=range(FIRST_YEAR, LAST_YEAR + 1))
    days = pd.date_range(EPOCH, dt.date(LAST_YEAR, 12, 31), freq="D")
    working = np.array([vn.is_working_day(d.date()) for d in days], dtype=bool)
    for d, w in _overrides().items():
        i = (d - EPOCH).days
        if 0 <= i < len(working):
            working[i] = w
    return working, np.cumsum(working)


def _idx(d: dt.date) -> int:
    if isinstance(d, dt.datetime):
        d = d.date()
    i = (d - EPOCH).days
    if not 0 <= i < len(_table()[0]):
        raise ValueError(f"Ngày {d:%d/%m/%Y} nằm ngoài lịch làm việc ({FIRST_YEAR}–{LAST_YEAR}).")
    return i


def is_working_day(d: dt.date) -> bool:
    return bool(_table()[0][_idx(d)])


def add_working_days(d: dt.date, n: int) -> dt.date:
    """The n-th working day after d (n ≥ 0; n = 0 gives d itself, or the next working day if d is off)."""
    working, cum = _table()
    i = _idx(d)
    target = cum[i] + n if working[i] else cum[i] + max(n, 1)
    j = int(np.searchsorted(cum, target))
    return EPOCH + dt.timedelta(days=j)


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (negative if end < start)."""
    _, cum = _table()
    return int(cum[_idx(end)] - cum[_idx(start)])


def calendar_frame() -> pd.DataFrame:
    working, cum = _table()
    return pd.DataFrame({"d": pd.date_range(EPOCH, periods=len(working), freq="D").date,
                         "is_working": working, "wd_index": cum.astype("int64")})


def add_working_days_array(dates: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Vectorised add_working_days for numpy datetime64[D] arrays (used by the sample generator)."""
    working, cum = _table()
    i = (dates.astype("datetime64[D]") - np.datetime64(EPOCH)).astype(int)
    target = cum[i] + np.where(working[i], n, np.maximum(n, 1))
    j = np.searchsorted(cum, target)
    return np.datetime64(EPOCH) + j.astype("timedelta64[D]")
