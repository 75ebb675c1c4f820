"""The national portal's published figures beside ours: rescore the published rows with our profile
(`kpi portal check`) and reconcile them with our dossier-based figures, with the reasons (`kpi portal
reconcile`). Reading the portal's responses is kpi.load.portal_json."""
from __future__ import annotations

import numpy as np
import pandas as pd

from kpi.analysis.api import ScopeError, scores_with
from kpi.count.scoring import load_profile, rates_and_points
from kpi.load.portal_json import GROUP_ROW
from kpi.numbers import round_half_up
from kpi.periods import parse


# ------------------------------------------------------------------ rescoring

def rescore(df: pd.DataFrame, profile=None) -> pd.DataFrame:
    """Our points from the published numerator and denominator (or, where those are null, the published
    ratio), per metric and per tree group, beside the published points."""
    prof = load_profile(profile)
    out = df.copy()
    # from the published counts; where those are null, from the published ratio (of 100); else from 0 / 0
    counted = out.numerator.notna() & out.denominator.notna()
    by_ratio = ~counted & out.ratio.notna()
    num = out.numerator.astype(float).where(counted, out.ratio.astype(float).where(by_ratio, 0.0))
    den = out.denominator.astype(float).where(counted, np.where(by_ratio, 100.0, 0.0))
    ours = out.metric_code.ne(GROUP_ROW) & out.metric_code.isin(list(prof["metrics"]))
    earned = rates_and_points(out.metric_code[ours], num[ours], den[ours], prof)[1]
    out["our_points"] = np.nan
    out.loc[ours, "our_points"] = earned
    # tree groups: the group total from its metrics, with the profile's part rounding and cap
    grp = out[out.metric_code != GROUP_ROW].copy()
    groups = prof["groups"]
    key = ["endpoint", "period", "scope", "unit_name", "file"]
    for k, g in grp[grp.endpoint.isin(["provide-online-tree", "formality-online-payment-tree"])].groupby(key, dropna=False):
        gc = g.group_code.iloc[0]
        parts = [0.0 if pd.isna(v) else float(v) for v in g.our_points]
        if groups[gc].get("round_parts"):
            parts = [round_half_up(v, 2) for v in parts]
        total = sum(parts)
        if groups[gc].get("cap") is not None:
            total = min(total, groups[gc]["cap"])
        mask = (out.metric_code == GROUP_ROW)
        for col, val in zip(key, k):
            mask &= out[col].isna() if pd.isna(val) else (out[col] == val)
        out.loc[mask, "our_points"] = total
    pub = out.published_points.astype(float)
    our = pd.to_numeric(out.our_points, errors="coerce").astype(float)
    out["diff"] = (our.fillna(0) - pub.fillna(0)).round(6)
    out.loc[our.isna() & pub.isna(), "diff"] = 0.0
    return out


CHECK_COLUMNS = ["endpoint", "period", "unit_name", "metric_code", "numerator", "denominator", "published_points",
                 "our_points", "diff"]


def check_rows(rescored: pd.DataFrame) -> pd.DataFrame:
    """Rows that can be compared: every published metric score (null included) and every tree group
    whose points we can recompute from its parameters. Tree parameters without a score of their own are
    compared through their group's total."""
    tree_param = rescored.endpoint.isin(["provide-online-tree", "formality-online-payment-tree"]) & \
        (rescored.metric_code != GROUP_ROW)
    group_without_ours = (rescored.metric_code == GROUP_ROW) & rescored.our_points.isna()
    r = rescored[~tree_param & ~group_without_ours]
    return r[CHECK_COLUMNS].reset_index(drop=True)


def match_rates(rows: pd.DataFrame, tolerance: float = 0.015) -> pd.DataFrame:
    ok = rows["diff"].abs() <= tolerance
    g = rows.assign(ok=ok).groupby("metric_code").agg(rows=("ok", "size"), matched=("ok", "sum")).reset_index()
    g["match_rate"] = 100 * g.matched / g.rows
    return g


# ------------------------------------------------------------------ reconciliation with our figures

RECONCILE_COLUMNS = ["period", "unit_code", "unit_name", "metric_code", "our_numerator", "our_denominator",
                     "published_numerator", "published_denominator", "our_points", "published_points", "diff",
                     "unsynced", "explanation", "unsynced_codes", "dq_status"]


def reconcile(engine, period, tolerance: float = 0.015) -> pd.DataFrame:
    """Our dossier-based figures beside the current published ones, per unit and metric, with where a
    difference comes from when the data can tell (unsynced dossiers, counts, a unit missing on one side)."""
    p = parse(period)
    pub = engine.con.execute("SELECT * FROM published_scores WHERE period = ? AND is_current AND metric_code <> ?",
                             [p.label, GROUP_ROW]).df()
    if pub.empty:
        raise ScopeError(f"chưa nạp số liệu công bố của Cổng DVCQG cho kỳ {p.label} — `kpi load` các tệp JSON trước")
    ours = scores_with(engine, p)
    ours = ours[ours.metric_code.isin(set(pub.metric_code))]
    # tree parameters carry no score of their own: their published points follow from the published counts
    derive = pub.published_points.isna() & pub.numerator.notna() & pub.denominator.notna()
    pub.loc[derive, "published_points"] = rates_and_points(pub[derive].metric_code, pub[derive].numerator,
                                                           pub[derive].denominator, engine.profile)[1]
    pub = pub.rename(columns={"numerator": "published_numerator", "denominator": "published_denominator",
                              "unit_name": "published_name"})
    m = ours.rename(columns={"numerator": "our_numerator", "denominator": "our_denominator", "points": "our_points"})
    keep = ["unit_code", "metric_code", "published_numerator", "published_denominator", "published_points",
            "published_name", "dq_status"]
    both = m.merge(pub[pub.unit_code.notna()][keep], on=["unit_code", "metric_code"], how="inner")
    # a unit on one side only: ours without any published row, or published units we cannot match
    absent = m[~m.unit_code.isin(set(pub.unit_code.dropna()))].drop_duplicates("unit_code").assign(
        metric_code="*", our_numerator=None, our_denominator=None, our_points=None)
    unmatched = pub[pub.unit_code.isna()].drop_duplicates("published_name")[keep].assign(metric_code="*")
    m = pd.concat([both, absent, unmatched], ignore_index=True)
    m["unit_name"] = m.unit_name.fillna(m.published_name)
    m["period"] = p.label
    # dossiers behind our denominator that the portal never received
    uns = _unsynced(engine, p, set(m.metric_code.dropna()))
    m = m.merge(uns, on=["unit_code", "metric_code"], how="left")
    m["unsynced"] = m.unsynced.fillna(0).astype(int)
    our = pd.to_numeric(m.our_points, errors="coerce").astype(float)
    pubp = pd.to_numeric(m.published_points, errors="coerce").astype(float)
    m["diff"] = (our.fillna(0) - pubp.fillna(0)).round(4)
    m["explanation"] = [_explain(r, tolerance) for r in m.itertuples()]
    return m[RECONCILE_COLUMNS].sort_values(["diff", "unit_code"], key=lambda c: -c.abs() if c.name == "diff" else c,
                                            na_position="last").reset_index(drop=True)


def _unsynced(engine, p, codes: set) -> pd.DataFrame:
    rows = []
    dossier_metrics = {"ON_TIME", "DOSSIER_SYNC", "ONLINE_SUBMISSION", "PAID_ONLINE", "ORIGINAL_RESULT_AVAILABLE",
                       "SO_HOA_GIAY_TO_GIAI_QUYET", "REUSED_DIGITIZED_DATA", "SYNCED_WITH_DVCQG_PERSONAL_STORAGE",
                       "CITIZEN_DATA_CONNECTED_DOSSIER", "DOSSIER_RECEIVING_SATISFACTION"}
    never = {r[0] for r in engine.con.execute(
        "SELECT dossier_code FROM dossiers WHERE received_at < ? AND (synced_at IS NULL OR synced_at >= ?)",
        [p.end_ts, p.end_ts]).fetchall()}
    tree = engine.con.execute("SELECT unit_code, level FROM units").df()
    province = set(tree[tree.level == "province"].unit_code)
    for code in sorted(codes & dossier_metrics):
        ev = engine.evidence(code, p)
        ev = ev[ev.in_den & ev.entity.isin(never)]
        if ev.empty:
            continue
        for unit, g in ev.groupby("unit_code"):
            rows.append({"unit_code": unit, "metric_code": code, "unsynced": g.entity.nunique(),
                         "unsynced_codes": ", ".join(sorted(g.entity.unique())[:20])})
        for prov in province:
            rows.append({"unit_code": prov, "metric_code": code, "unsynced": ev.entity.nunique(),
                         "unsynced_codes": ", ".join(sorted(ev.entity.unique())[:20])})
    return pd.DataFrame(rows, columns=["unit_code", "metric_code", "unsynced", "unsynced_codes"])


def _explain(r, tol) -> str:
    if pd.isna(r.unit_code):
        return f"đơn vị trên Cổng DVCQG không khớp với cây đơn vị: {r.unit_name}"
    if r.metric_code == "*":
        return "đơn vị không có số liệu trên Cổng DVCQG trong kỳ"
    dn = (r.our_denominator or 0) - (r.published_denominator or 0) if pd.notna(r.published_denominator) else None
    nn = (r.our_numerator or 0) - (r.published_numerator or 0) if pd.notna(r.published_numerator) else None
    if abs(r.diff) <= tol and not dn and not nn:
        return "khớp"
    parts = []
    if r.unsynced and dn:
        if r.unsynced == dn:
            parts.append(f"{r.unsynced} hồ sơ chưa đồng bộ lên Cổng DVCQG (Cổng không đếm)")
        else:
            parts.append(f"{r.unsynced} hồ sơ chưa đồng bộ lên Cổng DVCQG; mẫu số còn lệch {dn - r.unsynced:+g}")
    elif dn or nn:
        parts.append(f"số liệu đếm khác nhau (tử số lệch {nn or 0:+g}, mẫu số lệch {dn or 0:+g})")
    if isinstance(r.dq_status, str) and r.dq_status:
        parts.append(f"Cổng ghi chú chất lượng dữ liệu: {r.dq_status}")
    if not parts:
        parts.append(f"điểm lệch {r.diff:+.2f} dù số đếm bằng nhau — kiểm tra quy tắc chấm (profile)")
    return "; ".join(parts)


def published_total(con, period: str, unit_code: str, groups: int = 6) -> float | None:
    """The total the portal published for a unit and period: the sum of its current group totals, when every
    group is loaded (None otherwise)."""
    rows = con.execute("SELECT endpoint, published_points FROM published_scores WHERE period = ? AND is_current "
                       "AND metric_code = ? AND unit_code = ?", [period, GROUP_ROW, unit_code]).fetchall()
    pts = {e: v for e, v in rows}
    if len(pts) < groups or any(v is None for v in pts.values()):
        return None
    return round_half_up(sum(float(v) for v in pts.values()), 2)


def stored(con, period: str | None = None) -> pd.DataFrame:
    """The current (latest captured) published rows in the store, optionally for one period."""
    sql = "SELECT * FROM published_scores WHERE is_current" + (" AND period = ?" if period else "")
    return con.execute(sql, [period] if period else []).df()
