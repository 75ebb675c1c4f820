"""Periods: `2026-08`, `2026-Q3`, `2026-H1`, `2026-9M`, `2026`, `2026-08-01..2026-08-20`.

A period is a half-open range of local timestamps [start, end). With an as-of date the end
moves to the end of that day (the real-time figure for the running period).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    kind: str          # month | quarter | half | 9m | year | range
    start: dt.date     # first day
    last: dt.date      # last day (inclusive)
    label: str
    as_of: dt.date | None = None

    @property
    def start_ts(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def end_ts(self) -> dt.datetime:
        """Exclusive end: the day after the last day (or after the as-of date)."""
        last = min(self.last, self.as_of) if self.as_of else self.last
        return dt.datetime.combine(last + dt.timedelta(days=1), dt.time())

    @property
    def effective_last(self) -> dt.date:
        return min(self.last, self.as_of) if self.as_of else self.last

    def with_as_of(self, as_of: dt.date | None) -> "Period":
        if as_of is None:
            return self
        if as_of < self.start:
            raise PeriodError(f"ngày tính {as_of:%d/%m/%Y} trước đầu kỳ {self.label}")
        return replace(self, as_of=as_of)

    def previous(self) -> "Period":
        """The previous period of the same kind (same length for a range)."""
        y, s = self.start.year, self.start
        if self.kind == "month":
            m = s.month - 1 or 12
            return parse(f"{y - (s.month == 1)}-{m:02d}")
        if self.kind == "quarter":
            q = (s.month - 1) // 3
            return parse(f"{y - 1}-Q4" if q == 0 else f"{y}-Q{q}")
        if self.kind == "half":
            return parse(f"{y - 1}-H2" if s.month == 1 else f"{y}-H1")
        if self.kind == "9m":
            return parse(f"{y - 1}-9M")
        if self.kind == "year":
            return parse(str(y - 1))
        days = (self.last - self.start).days + 1
        prev_last = self.start - dt.timedelta(days=1)
        return parse(f"{prev_last - dt.timedelta(days=days - 1)}..{prev_last}")

    def months(self) -> list["Period"]:
        out, d = [], self.start.replace(day=1)
        while d <= self.last:
            out.append(parse(f"{d:%Y-%m}"))
            d = (d + dt.timedelta(days=32)).replace(day=1)
        return out

    def __str__(self) -> str:
        return self.label + (f" (đến {self.as_of:%d/%m/%Y})" if self.as_of else "")


def _month_end(y: int, m: int) -> dt.date:
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def parse(text: str | Period, as_of: dt.date | None = None) -> Period:
    if isinstance(text, Period):
        return text.with_as_of(as_of)
    t = str(text).strip().upper()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{2})", t):
            y, mo = int(m[1]), int(m[2])
            if not 1 <= mo <= 12:
                raise PeriodError(f"kỳ '{text}' không hợp lệ: tháng {mo} không có — tháng viết từ 01 đến 12 "
                                  "(vd. 2026-08)")
            p = Period("month", dt.date(y, mo, 1), _month_end(y, mo), f"{y}-{mo:02d}")
        elif m := re.fullmatch(r"(\d{4})-Q([1-4])", t):
            y, q = int(m[1]), int(m[2])
            p = Period("quarter", dt.date(y, 3 * q - 2, 1), _month_end(y, 3 * q), f"{y}-Q{q}")
        elif m := re.fullmatch(r"(\d{4})-H([12])", t):
            y, h = int(m[1]), int(m[2])
            p = Period("half", dt.date(y, 6 * h - 5, 1), _month_end(y, 6 * h), f"{y}-H{h}")
        elif m := re.fullmatch(r"(\d{4})-9M", t):
            y = int(m[1])
            p = Period("9m", dt.date(y, 1, 1), dt.date(y, 9, 30), f"{y}-9M")
        elif m := re.fullmatch(r"(\d{4})", t):
            y = int(m[1])
            p = Period("year", dt.date(y, 1, 1), dt.date(y, 12, 31), f"{y}")
        elif m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", t):
            a, b = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            if b < a:
                raise PeriodError(f"kỳ '{text}': ngày cuối trước ngày đầu")
            p = Period("range", a, b, f"{a}..{b}")
        else:
            raise PeriodError(f"kỳ '{text}' không hợp lệ — dùng 2026-08, 2026-Q3, 2026-H1, 2026-9M, 2026 "
                              "hoặc 2026-08-01..2026-08-20")
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"kỳ '{text}' không hợp lệ: có ngày không có trong lịch — viết ngày có thật "
                          "(vd. 2026-08-01..2026-08-20)") from None
    return p.with_as_of(as_of)


def last_complete_quarter(month: str | Period) -> Period:
    """The last quarter whose months are all complete, given the last complete month ('2026-10' → 2026-Q3)."""
    m = parse(month)
    q = parse(f"{m.start.year}-Q{(m.start.month - 1) // 3 + 1}")
    return q if m.start.month % 3 == 0 else q.previous()


def label_vi(p: Period) -> str:
    """Tháng 08/2026 · Quý III/2026 · 6 tháng đầu năm 2026 · 9 tháng 2026 · Năm 2026."""
    roman = {1: "I", 2: "II", 3: "III", 4: "IV"}
    if p.kind == "month":
        s = f"Tháng {p.start:%m/%Y}"
    elif p.kind == "quarter":
        s = f"Quý {roman[(p.start.month + 2) // 3]}/{p.start.year}"
    elif p.kind == "half":
        s = f"6 tháng {'đầu' if p.start.month == 1 else 'cuối'} năm {p.start.year}"
    elif p.kind == "9m":
        s = f"9 tháng năm {p.start.year}"
    elif p.kind == "year":
        s = f"Năm {p.start.year}"
    else:
        s = f"Từ {p.start:%d/%m/%Y} đến {p.last:%d/%m/%Y}"
    return s + (f" (tính đến {p.as_of:%d/%m/%Y})" if p.as_of else "")
