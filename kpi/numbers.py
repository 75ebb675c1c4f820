"""Vietnamese number and date formats: 97,75% · 1.234.567 · 25/08/2026."""
from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd


def round_half_up(x: float | None, digits: int = 2) -> float | None:
    """Round half away from zero, as the portal publishes (2.675 → 2.68)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP))


def fmt_number(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return "—"
    v = round_half_up(float(x), digits)
    s = f"{v:,.{digits}f}"
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def fmt_int(x) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{int(x):,d}".replace(",", ".")


def fmt_pct(x, digits: int = 2) -> str:
    s = fmt_number(x, digits)
    return s if s == "—" else s + "%"


def fmt_date(d) -> str:
    if d is None or d is pd.NaT or (isinstance(d, float) and math.isnan(d)):
        return "—"
    if isinstance(d, str):
        d = pd.Timestamp(d)
    return f"{d:%d/%m/%Y}"


def fmt_datetime(d) -> str:
    if d is None or d is pd.NaT or (isinstance(d, float) and math.isnan(d)) or pd.isna(d):
        return "—"
    return f"{pd.Timestamp(d):%d/%m/%Y %H:%M}"


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # control characters (not \t \n)


def printable(text) -> str:
    """Text for a terminal: control and escape characters (a unit name with `\x1b[2J` in it) shown as '?'."""
    return CONTROL.sub("?", str(text))


def fmt_count(x) -> str:
    """A numerator: a whole count as a whole number (13.548), a sum or a share with 2 decimals (3,77)."""
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return fmt_int(x) if float(x).is_integer() else fmt_number(x)
