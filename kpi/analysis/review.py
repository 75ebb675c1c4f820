"""1d of the directive: officials to commend and to hold to account, and each unit's self-assessment set
against its computed results. Thresholds are the profile's `review` section."""
from __future__ import annotations

import pandas as pd

from kpi import labels
from kpi.analysis.api import (check_period, check_unit, official_index, scores_many, scores_with, session,
                              totals_with)
from kpi.periods import Period, parse
from kpi.numbers import fmt_number, round_half_up
from kpi.schema import SELF_ASSESSMENT_TOTAL

COMMEND, ACCOUNT = "commend", "account"
DECISIONS = {COMMEND: "Đề nghị khen thưởng", ACCOUNT: "Đề nghị xem xét trách nhiệm"}


def review_months(p: Period) -> list[Period]:
    """The months a review looks at: the period's own, or for a single month that month and the two before."""
    if p.kind == "month":
        return [p.previous().previous(), p.previous(), p]
    return p.months()


def review_quarters(p: Period) -> list[Period]:
    return [parse(f"{p.start.year}-Q{q}") for q in range(1, 5)] if p.kind == "year" else []


def _graded(engine, p: Period, unit: str | None, s: pd.DataFrame) -> pd.DataFrame:
    """Per official of the period: index, grade and dossiers handled (ON_TIME's denominator), from the
    period's official scores `s`."""
    idx = official_index(s, engine.profile)[["official_id", "index", "grade"]]
    on_time = s[s.metric_code == "ON_TIME"][["official_id", "denominator"]]
    if on_time.empty:
        on_time = engine.count("ON_TIME", p, by="official").rename(columns={"scope_code": "official_id"})
    on_time = on_time[["official_id", "denominator"]].rename(columns={"denominator": "dossiers"})
    out = s[["official_id", "full_name", "unit_code", "unit_name"]].drop_duplicates("official_id")
    out = out.merge(idx, on="official_id", how="left").merge(on_time, on="official_id", how="left")
    out["dossiers"] = out.dossiers.fillna(0).astype(int)
    out["period"] = p.label
    return out


def decide(marks: pd.DataFrame, rules: dict, quarters: pd.DataFrame | None = None,
           evidence: pd.DataFrame | None = None) -> pd.Series:
    """The decision per official from its months (and for a year its quarters), as a pure rule:

    marks: official_id, period, grade, dossiers — one row per official and month of the review.
    * commend: the commend grade in *every* month, each with at least `min_dossiers` dossiers; and, given the
      evidence (official_id, dossiers, late: over the review's months), at least `commend_min_dossiers`
      dossiers, at most `commend_max_late` late dossiers charged to them and at most `commend_max_late_percent`
      of their dossiers late; of those, at most `commend_max_share_percent` of the officials reviewed (at
      least one), best index first (fewer late, more dossiers, then the code, on a tie);
    * hold to account: the account grade in at least `account_months` months with at least `min_dossiers`
      dossiers — or, for a year (`quarters` given), in `account_quarters` consecutive quarters.
    Returns official_id → 'commend' / 'account' / None."""
    least = int(rules.get("min_dossiers", 0))
    m = marks.assign(counted=marks.dossiers >= least)
    n_months = m.period.nunique()
    out = {}
    for oid, g in m.groupby("official_id", sort=True):
        good = g[g.counted & (g.grade == rules["commend_grade"])]
        bad = g[g.counted & (g.grade == rules["account_grade"])]
        decision = None
        if len(good) == n_months:
            decision = COMMEND
        if quarters is not None:
            q = quarters[quarters.official_id == oid].sort_values("period")
            run = best = 0
            for grade, n in zip(q.grade, q.dossiers):
                run = run + 1 if (grade == rules["account_grade"] and n >= least) else 0
                best = max(best, run)
            if best >= int(rules["account_quarters"]):
                decision = ACCOUNT
        elif len(bad) >= int(rules["account_months"]):
            decision = ACCOUNT
        out[oid] = decision
    out = pd.Series(out, dtype=object)
    if evidence is not None:
        for oid in commend_blocked(out, evidence, rules, reviewed=m.official_id.nunique()):
            out[oid] = None
    return out


def commend_blocked(decisions: pd.Series, evidence: pd.DataFrame, rules: dict, reviewed: int) -> list[str]:
    """Officials graded for commendation whom the evidence or the cap keeps off the list."""
    ev = evidence.set_index("official_id")
    cand = [o for o, d in decisions.items() if d == COMMEND]
    if not cand:
        return []
    e = ev.reindex(cand).fillna({"dossiers": 0, "late": 0})
    rate = 100 * e.late / e.dossiers.where(e.dossiers > 0)
    ok = (e.dossiers >= int(rules.get("commend_min_dossiers", 0))) \
        & (e.late <= int(rules.get("commend_max_late", 10**9))) \
        & (rate.fillna(0) <= float(rules.get("commend_max_late_percent", 100)) + 1e-9)
    kept = e[ok].reset_index().sort_values(["index", "late", "dossiers", "official_id"],
                                          ascending=[False, True, False, True])
    cap = max(1, int(round_half_up(float(rules.get("commend_max_share_percent", 100)) * reviewed / 100, 0)))
    allowed = set(kept.official_id.head(cap))
    return [o for o in cand if o not in allowed]


def _evidence(engine, p: Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Late dossiers charged to each official, and the steps they held that overran, in the period."""
    late = engine.evidence("ON_TIME", p, "DISTINCT entity AS dossier_code, unnest(charged) AS official_id",
                           "in_den AND in_num IS NOT TRUE")      # late: counted, not on time
    late = late.dropna()          # a charge without an official (DISTINCT made the pairs unique)
    steps = engine.query("step_overruns", p)
    return late, steps


def official_review_with(engine, period, unit: str | None = None) -> pd.DataFrame:
    """One row per official who handled dossiers in the review's months: the grade of every month
    (`grade_YYYY_MM`, `dossiers_YYYY_MM`; for a year also `grade_YYYY_Qn`), the period's index and grade,
    the decision and its reason, and the evidence — late dossiers charged to them, steps that overran."""
    p = parse(period)
    if unit:
        check_unit(engine, unit)
    rules = engine.profile["review"]
    months, quarters = review_months(p), review_quarters(p)
    every = months + quarters + [p]          # counted in one pass over them
    each = [_graded(engine, q, unit, s) for q, s in zip(every, scores_many(engine, every, "official", unit))]
    marks = pd.concat(each[:len(months)], ignore_index=True)
    quarters = pd.concat(each[len(months):-1], ignore_index=True) if p.kind == "year" else None
    whole = each[-1]
    active = set(marks[marks.dossiers > 0].official_id)
    out = whole[whole.official_id.isin(active)].copy()
    late, steps = _evidence(engine, p if p.kind != "month" else _span(months))
    # the evidence a signer needs: dossiers over the review's months, late ones charged, months graded
    least = int(rules["min_dossiers"])
    handled = marks.groupby("official_id").dossiers.sum()
    graded = marks[marks.dossiers >= least].groupby("official_id").size()
    out["dossiers_reviewed"] = out.official_id.map(handled).fillna(0).astype(int)
    out["late_dossiers"] = out.official_id.map(late.groupby("official_id").size()).fillna(0).astype(int)
    out["late_rate"] = (100 * out.late_dossiers / out.dossiers_reviewed.where(out.dossiers_reviewed > 0)).astype("Float64")
    out["months_graded"] = out.official_id.map(graded).fillna(0).astype(int)
    out["months_reviewed"] = len(months)
    evidence = pd.DataFrame({"official_id": out.official_id, "dossiers": out.dossiers_reviewed,
                             "late": out.late_dossiers, "index": out["index"]})
    decisions = decide(marks[marks.official_id.isin(active)], rules,
                       quarters[quarters.official_id.isin(active)] if quarters is not None else None, evidence)
    for m in months:
        mm = marks[marks.period == m.label].set_index("official_id")
        key = m.label.replace("-", "_")
        out[f"grade_{key}"] = out.official_id.map(mm.grade)
        out[f"dossiers_{key}"] = out.official_id.map(mm.dossiers).fillna(0).astype(int)
    for q in review_quarters(p):
        qq = quarters[quarters.period == q.label].set_index("official_id")
        out[f"grade_{q.label.replace('-', '_')}"] = out.official_id.map(qq.grade)
    out["grade_label"] = out.grade.map(labels.GRADES)
    out["decision"] = out.official_id.map(decisions)
    out["decision_label"] = out.decision.map(DECISIONS)
    out["reason"] = [_reason(oid, d, marks, quarters, rules, least) for oid, d in zip(out.official_id, out.decision)]
    codes = late.groupby("official_id").dossier_code.agg(lambda x: ", ".join(sorted(x)))
    out["late_dossier_codes"] = out.official_id.map(codes).fillna("")
    st = steps.groupby(["official_id", "step_name"]).overruns.sum().reset_index()
    out["overrun_steps"] = out.official_id.map(st.groupby("official_id").overruns.sum()).fillna(0).astype(int)
    names = st.groupby("official_id").apply(
        lambda g: "; ".join(f"{n} ({c} lần)" for n, c in zip(g.step_name, g.overruns)), include_groups=False) \
        if len(st) else pd.Series(dtype=object)
    out["overrun_step_names"] = out.official_id.map(names).astype(object).fillna("")
    out.attrs["late"] = late            # one row per late dossier charged to an official (the XLSX's own sheet)
    out["period"] = p.label
    order = out.decision.map({COMMEND: 0, ACCOUNT: 1}).fillna(2)
    return out.assign(_o=order).sort_values(["_o", "unit_code", "official_id"]).drop(columns="_o").reset_index(drop=True)


def _span(months: list[Period]) -> Period:
    first, last = months[0], months[-1]
    return parse(f"{first.start:%Y-%m-%d}..{last.last:%Y-%m-%d}")


def _reason(oid, decision, marks, quarters, rules, least) -> str:
    g = marks[marks.official_id == oid]
    if decision == COMMEND:
        months = ", ".join(f"{x[5:].lstrip('0')}/{x[:4]}" for x in sorted(g.period))
        return f"{labels.GRADES[rules['commend_grade']]} cả {len(g)} tháng ({months}), mỗi tháng từ {least} hồ sơ"
    if decision == ACCOUNT and quarters is not None:
        q = quarters[(quarters.official_id == oid) & (quarters.grade == rules["account_grade"])]
        return f"{labels.GRADES[rules['account_grade']]} các quý " + ", ".join(
            f"{x[-1]}/{x[:4]}" for x in sorted(q.period))
    if decision == ACCOUNT:
        bad = g[(g.grade == rules["account_grade"]) & (g.dossiers >= least)]
        return f"{labels.GRADES[rules['account_grade']]} {len(bad)} tháng: " + ", ".join(
            f"{x[5:]}/{x[:4]}" for x in sorted(bad.period))
    return ""


# ---------------------------------------------------------------- self-assessment against results

def self_assessment_with(engine, period, unit: str | None = None) -> pd.DataFrame:
    """Per unit and item (group, metric, or its total 'TONG'): self-assessed points, computed points, the
    item's maximum, the gap (self − computed) and whether it exceeds the profile's threshold
    (`review.self_assessment_gap_percent` of the item's maximum). A unit that assessed every group and no
    total gets a total row summed from its groups. `unit`: that unit and the units below it."""
    p = parse(period)
    sa = engine.con.execute("SELECT unit_code, item_code, points FROM self_assessments WHERE period = ?",
                            [p.label]).df()
    cols = ["period", "unit_code", "unit_name", "item_code", "item_label", "self_points", "computed_points",
            "max_points", "gap", "flagged", "note"]
    if unit:
        check_unit(engine, unit)
        sa = sa[sa.unit_code.isin(engine.scope_members(unit))]
    if sa.empty:
        return pd.DataFrame(columns=cols)
    prof = engine.profile
    groups = {g: float(s["max"]) for g, s in prof["groups"].items()}
    t = totals_with(engine, p, compare=False).set_index("unit_code")
    s = scores_with(engine, p, include_tracked=False)
    metric_points = s.set_index(["unit_code", "metric_code"]).points.astype("Float64").fillna(0.0)
    metric_max = s.drop_duplicates("metric_code").set_index("metric_code").max_points
    # units that assessed every group but gave no total: their total is the sum of the groups
    full = sa[sa.item_code.isin(groups)].groupby("unit_code").item_code.nunique() == len(groups)
    has_total = set(sa[sa.item_code == SELF_ASSESSMENT_TOTAL].unit_code)
    derived = [u for u in full[full].index if u not in has_total]
    if derived:
        sums = sa[(sa.unit_code.isin(derived)) & sa.item_code.isin(groups)].groupby("unit_code").points.sum()
        sa = pd.concat([sa, pd.DataFrame({"unit_code": sums.index, "item_code": SELF_ASSESSMENT_TOTAL,
                                          "points": sums.values})], ignore_index=True)
    rows = []
    pct = float(prof["review"]["self_assessment_gap_percent"])
    for r in sa.itertuples(index=False):
        note = ""
        if r.unit_code not in t.index:
            computed, mx, note = None, None, "đơn vị không có trong kỳ"
        elif r.item_code == SELF_ASSESSMENT_TOTAL:
            computed, mx = float(t.loc[r.unit_code, "total"]), 100.0
        elif r.item_code in groups:
            computed, mx = float(t.loc[r.unit_code].get(f"group_{r.item_code}", 0.0)), groups[r.item_code]
        elif r.item_code in metric_max.index:
            computed, mx = float(metric_points.get((r.unit_code, r.item_code), 0.0)), float(metric_max[r.item_code])
        else:
            computed, mx, note = None, None, "không có nhóm hoặc chỉ số này trong cấu hình chấm điểm"
        if computed is not None and t.loc[r.unit_code, "grade_label"] == labels.NO_DOSSIERS:
            note = "đơn vị không có hồ sơ trong kỳ"
        gap = None if computed is None else float(r.points) - computed
        flagged = gap is not None and abs(gap) > pct * mx / 100 + 1e-9
        if flagged:
            note = note or ("tự đánh giá cao hơn kết quả" if gap > 0 else "tự đánh giá thấp hơn kết quả")
        rows.append(dict(period=p.label, unit_code=r.unit_code,
                         unit_name=t.unit_name.get(r.unit_code) if r.unit_code in t.index else None,
                         item_code=r.item_code, item_label=_item_label(r.item_code), self_points=float(r.points),
                         computed_points=computed, max_points=mx, gap=gap, flagged=flagged, note=note))
    out = pd.DataFrame(rows, columns=cols)
    order = {c: i for i, c in enumerate([SELF_ASSESSMENT_TOTAL, *groups])}
    out["_o"] = out.item_code.map(order).fillna(len(order))
    return out.sort_values(["unit_code", "_o", "item_code"]).drop(columns="_o").reset_index(drop=True)


def _item_label(code: str) -> str:
    if code == SELF_ASSESSMENT_TOTAL:
        return "Tổng điểm"
    return labels.GROUPS.get(code) or labels.METRICS.get(code) or code


def unit_gaps(sa: pd.DataFrame) -> pd.DataFrame:
    """One row per unit: its total self-assessed vs computed, and how many of its items are flagged."""
    if sa.empty:
        return pd.DataFrame(columns=["unit_code", "unit_name", "self_points", "computed_points", "gap", "flagged",
                                     "flagged_items"])
    tot = sa[sa.item_code == SELF_ASSESSMENT_TOTAL][["unit_code", "unit_name", "self_points", "computed_points",
                                                      "gap", "flagged"]]
    n = sa[sa.item_code != SELF_ASSESSMENT_TOTAL].groupby("unit_code").flagged.sum().rename("flagged_items")
    return tot.merge(n, on="unit_code", how="left").fillna({"flagged_items": 0}).astype({"flagged_items": int}) \
        .sort_values(["gap", "unit_code"], ascending=[False, True]).reset_index(drop=True)


def review_sheet(r: pd.DataFrame) -> pd.DataFrame:
    """The review in Vietnamese columns (XLSX, reports): per month its grade and its dossiers in cells of their
    own, then the evidence a signer needs — dossiers over the review, late ones charged, late rate, months
    graded. The late dossiers' codes are not here (thousands in one cell): `late_sheet` lists them."""
    months = [c.removeprefix("grade_") for c in r.columns if c.startswith("grade_2")]
    out = pd.DataFrame({"Mã cán bộ": r.official_id, "Họ tên": r.full_name, "Đơn vị": r.unit_name})
    for m in months:
        head = _month_head(m)
        out[f"{head}: xếp loại"] = r[f"grade_{m}"].map(labels.GRADES).where(
            r.get(f"dossiers_{m}", pd.Series(1, index=r.index)) > 0).fillna("—")
        if f"dossiers_{m}" in r.columns:
            out[f"{head}: số hồ sơ"] = r[f"dossiers_{m}"].astype(int)
    out["Chỉ số cả kỳ"] = r["index"].round(2)
    out["Xếp loại cả kỳ"] = r.grade_label
    out["Hồ sơ đã xử lý"] = r.dossiers_reviewed
    out["Hồ sơ trễ hạn do cán bộ"] = r.late_dossiers
    out["Tỷ lệ trễ hạn (%)"] = r.late_rate.astype(float).round(2)
    out["Số tháng được xếp loại"] = [f"{g}/{n}" for g, n in zip(r.months_graded, r.months_reviewed)]
    out["Đề nghị"] = r.decision_label.fillna("")
    out["Căn cứ"] = r.reason
    out["Bước xử lý quá hạn"] = r.overrun_step_names
    return out


def commend_rule(rules: dict) -> str:
    """The commendation rule in words, for the lists' notes."""
    return (f"{labels.GRADES[rules['commend_grade']]} ở mọi tháng xét (mỗi tháng từ {rules['min_dossiers']} hồ sơ), "
            f"tổng từ {rules.get('commend_min_dossiers', 0)} hồ sơ, trễ hạn không quá {rules.get('commend_max_late', 0)} "
            f"hồ sơ và không quá {fmt_number(float(rules.get('commend_max_late_percent', 100)))}% số hồ sơ; đề nghị "
            f"không quá {fmt_number(float(rules.get('commend_max_share_percent', 100)))}% số cán bộ được xét, "
            "chỉ số cao trước")


def late_sheet(r: pd.DataFrame) -> pd.DataFrame:
    """One row per late dossier charged to an official of the review: code, name, unit, dossier code."""
    late = r.attrs.get("late", pd.DataFrame(columns=["official_id", "dossier_code"]))
    who = r[["official_id", "full_name", "unit_name"]]
    d = late.merge(who, on="official_id", how="inner").sort_values(["official_id", "dossier_code"])
    return pd.DataFrame({"Mã cán bộ": d.official_id, "Họ tên": d.full_name, "Đơn vị": d.unit_name,
                         "Mã hồ sơ trễ hạn": d.dossier_code}).reset_index(drop=True)


def _month_head(key: str) -> str:
    y, m = key.split("_")
    return f"Quý {m[1]}/{y}" if m.startswith("Q") else f"Tháng {int(m)}/{y}"


SELF_ASSESSMENT_COLUMNS = {"unit_code": "Mã đơn vị", "unit_name": "Đơn vị", "item_label": "Nội dung",
                           "self_points": "Điểm tự đánh giá", "computed_points": "Điểm theo Bộ chỉ số",
                           "max_points": "Điểm tối đa", "gap": "Chênh lệch", "note": "Ghi chú"}


__all__ = ["official_review_with", "self_assessment_with", "decide", "unit_gaps"]


def official_review(period, unit: str | None = None, store=None, con=None, profile=None) -> pd.DataFrame:
    """Officials to commend and to hold to account (1d): each official's grade in every month of the period,
    the period's index, the decision by the profile's `review` thresholds, and the evidence (late dossiers
    charged to them, steps that overran). `unit`: only that unit's officials (and its sub-tree's)."""
    with session(store, con, profile) as engine:
        check_period(engine.con, period)
        return official_review_with(engine, period, unit)


def self_assessment(period, unit: str | None = None, store=None, con=None, profile=None) -> pd.DataFrame:
    """Each unit's self-assessed points (table self_assessments) against the computed ones, with the gap,
    flagged beyond the profile's `review.self_assessment_gap_percent` of the item's maximum."""
    with session(store, con, profile) as engine:
        check_period(engine.con, period)
        return self_assessment_with(engine, period, unit)
