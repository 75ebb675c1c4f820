"""What-if questions and the month-end projection, over the period's evaluated dossiers.

* projection: from the as-of figure, what ON_TIME (and so the total) will be at the period's end:
    ok + safe + p × at_risk (+ expected arrivals, assumed on time) over all of them, where p is the
    unit's on-time rate over the previous three months unless given; best case p = 1, worst p = 0.
* what_if_finished: the same projection if the chosen open dossiers were finished today (on time
  if not yet due; overdue ones stay late this period but stop being carried over as late).
* what_if_rate: a metric at a target rate → its points, the total and the grade.
* needed_for_next_band: how many more on-time dossiers lift the total into the next grade band.
"""
from __future__ import annotations

import pandas as pd

from kpi.analysis.api import check_unit, scores_with, totals_with
from kpi.calendar import working_days_between
from kpi.periods import parse
from kpi.numbers import round_half_up
from kpi.count.scoring import grade, points


def _on_time_total(engine, p, unit):
    s = scores_with(engine, p, unit=unit, subtree=True, include_tracked=False)
    t = totals_with(engine, p, unit=unit, subtree=True, compare=False).iloc[0]
    ot = s.set_index("metric_code").loc["ON_TIME"]
    return s, float(t.total), float(ot.points or 0)


def _states(engine, p, unit):
    df = engine.query("projection", p)
    return df[df.unit_code.isin(engine.scope_members(unit))]


def historical_on_time_rate(engine, p, unit) -> float | None:
    """ON_TIME rate (0–1) of the unit's sub-tree over the three months before the period."""
    start = (pd.Timestamp(p.start) - pd.DateOffset(months=3)).date()
    last = (pd.Timestamp(p.start) - pd.Timedelta(days=1)).date()
    hist = parse(f"{start}..{last}")
    s = scores_with(engine, hist, unit=unit, subtree=True, include_tracked=False).set_index("metric_code")
    num, den = s.loc["ON_TIME", "numerator"], s.loc["ON_TIME", "denominator"]
    return float(num) / float(den) if den else None


def projection(engine, period, unit: str, as_of, p_on_time: float | None = None, arrivals: bool = True,
               finished_today=()) -> pd.DataFrame:
    """Scenarios for the period's end: as-of figure, expected, best and worst case — ON_TIME and total."""
    per = parse(period, pd.Timestamp(as_of).date())
    check_unit(engine, unit)
    s, total_now, ot_now = _on_time_total(engine, per, unit)
    st = _states(engine, per, unit)
    done = st.dossier_code.isin(set(finished_today))
    st.loc[done & st.state.isin(["at_risk", "safe"]), "state"] = "ok"
    n = st.state.value_counts().reindex(["ok", "late", "at_risk", "safe"]).fillna(0).astype(int)
    if p_on_time is None:
        p_on_time = historical_on_time_rate(engine, per, unit)
        p_on_time = 1.0 if p_on_time is None else p_on_time
    new = 0
    if arrivals and per.as_of and per.as_of < per.last:
        elapsed = working_days_between(per.start - pd.Timedelta(days=1), per.as_of)
        remaining = working_days_between(per.as_of, per.last)
        received = int(st.received_in_period.sum())
        new = round(received / elapsed * remaining) if elapsed else 0
    den = int(n.sum()) + new
    rows = []
    for name, label, num in (
            ("as_of", "Hiện tại (tính đến ngày)", n.ok + n.at_risk + n.safe),
            ("expected", "Dự báo cuối kỳ", n.ok + n.safe + p_on_time * n.at_risk + new),
            ("best", "Tốt nhất: mọi hồ sơ đến hạn được giải quyết đúng hạn", n.ok + n.safe + n.at_risk + new),
            ("worst", "Xấu nhất: mọi hồ sơ đến hạn trong kỳ đều trễ", n.ok + n.safe + new)):
        d = int(n.sum()) if name == "as_of" else den
        ot = points("ON_TIME", num, d, engine.profile) or 0.0
        total = total_now - ot_now + ot
        rows.append({"scenario": name, "label": label, "on_time_numerator": num, "on_time_denominator": d,
                     "on_time_points": ot, "total": total, "grade": grade(total, engine.profile),
                     "at_risk": int(n.at_risk), "late": int(n.late), "arrivals": new if name != "as_of" else 0,
                     "p_on_time": p_on_time})
    return pd.DataFrame(rows)


def what_if_finished(engine, period, unit: str, as_of, dossiers=None, p_on_time: float | None = None,
                     arrivals: bool = True) -> pd.DataFrame:
    """Expected period-end figure now and if `dossiers` (default: every open one) were finished today."""
    per = parse(period, pd.Timestamp(as_of).date())
    st = _states(engine, per, unit)
    if dossiers is None:
        dossiers = st[st.state.isin(["at_risk", "late"])].dossier_code
    dossiers = set(dossiers)
    base = projection(engine, period, unit, as_of, p_on_time, arrivals)
    after = projection(engine, period, unit, as_of, p_on_time, arrivals, finished_today=dossiers)
    b = base.set_index("scenario").loc["expected"]
    a = after.set_index("scenario").loc["expected"]
    overdue = int(st[st.dossier_code.isin(dossiers) & (st.state == "late")].shape[0])
    return pd.DataFrame([
        {"scenario": "Giữ nguyên", "on_time_points": b.on_time_points, "total": b.total, "grade": b.grade},
        {"scenario": f"Giải quyết {len(dossiers)} hồ sơ ngay hôm nay", "on_time_points": a.on_time_points,
         "total": a.total, "grade": a.grade}]).assign(
        change=lambda d: d.total - b.total,
        note=["", f"{overdue} hồ sơ đã quá hạn vẫn tính trễ kỳ này nhưng không còn bị chuyển sang kỳ sau"])


def what_if_rate(engine, period, unit: str, metric_code: str, target_rate: float, as_of=None) -> dict:
    """If `metric_code` reached `target_rate` % (same denominator): its points, the new total and grade."""
    per = parse(period, pd.Timestamp(as_of).date() if as_of else None)
    s, total_now, _ = _on_time_total(engine, per, unit)
    row = s.set_index("metric_code").loc[metric_code]
    den = float(row.denominator) if row.denominator else 100.0
    new = points(metric_code, target_rate / 100 * den, den, engine.profile) or 0.0
    old = float(row.points) if pd.notna(row.points) else 0.0
    total = total_now - old + new
    return {"metric_code": metric_code, "rate": float(row.rate) if pd.notna(row.rate) else None,
            "target_rate": target_rate, "points": old, "new_points": new, "total": total_now, "new_total": total,
            "grade": grade(total_now, engine.profile), "new_grade": grade(total, engine.profile)}


def needed_for_next_band(engine, period, unit: str, as_of=None) -> dict:
    """The smallest k of additional on-time dossiers (numerator and denominator + k) that lifts the total,
    rounded to 2 decimals as it is graded, into the next band; None if ON_TIME alone cannot."""
    per = parse(period, pd.Timestamp(as_of).date() if as_of else None)
    s, total, ot_pts = _on_time_total(engine, per, unit)
    row = s.set_index("metric_code").loc["ON_TIME"]
    n, d = float(row.numerator), float(row.denominator)
    bands = sorted(b["min"] for b in engine.profile["grade_bands"])
    shown = round_half_up(total, 2)
    higher = [b for b in bands if b > shown]
    if not higher:
        return {"total": total, "grade": grade(total, engine.profile), "target": None, "needed": 0}
    target = higher[0]
    if total - ot_pts + float(engine.profile["metrics"]["ON_TIME"]["max"]) < target - 0.005:
        return {"total": total, "grade": grade(total, engine.profile), "target": target, "needed": None}
    lo, hi = 0, 1
    while round_half_up(total - ot_pts + (points("ON_TIME", n + hi, d + hi, engine.profile) or 0), 2) < target:
        lo, hi = hi, hi * 2
        if hi > 10_000_000:
            return {"total": total, "grade": grade(total, engine.profile), "target": target, "needed": None}
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if round_half_up(total - ot_pts + (points("ON_TIME", n + mid, d + mid, engine.profile) or 0), 2) >= target:
            hi = mid
        else:
            lo = mid
    k = hi if round_half_up(total - ot_pts + (points("ON_TIME", n + lo, d + lo, engine.profile) or 0), 2) < target else lo
    return {"total": total, "grade": grade(total, engine.profile), "target": target, "needed": k,
            "next_grade": grade(target, engine.profile)}
