"""The national portal's published figures (PORTAL_JSON.md): parse the six endpoints into one long
table, rescore them with our profile, and reconcile them with our dossier-based figures."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pandas as pd

from .load.errors import LoadError
from .load.readers import decode
from .schema import fold

ENDPOINT_GROUP = {"transparency": "CKMB", "dossier-digitized": "MDSH", "handling-satisfaction": "MDHL",
                  "dvc-progress-tree": "TDGQ", "provide-online-tree": "DVCTT",
                  "formality-online-payment-tree": "TTTT"}
METRIC_LIST = {"transparency", "dossier-digitized", "handling-satisfaction"}
GROUP_ROW = "_GROUP"      # the published group total of a unit
COLUMNS = ["period", "endpoint", "group_code", "scope", "department_id", "department_code", "department_type",
           "unit_name", "unit_code", "metric_code", "metric_name", "numerator", "denominator", "ratio",
           "published_points", "max_points", "dq_status", "dq_message", "file", "captured_at"]
PERIOD_IN_NAME = re.compile(r"(\d{4}-(?:\d{2}|Q[1-4]|H[12]|9M)|\d{4})(?![\d-])", re.I)
CAPTURED_IN_NAME = re.compile(r"@(\d{8})(?:T?(\d{4,6}))?")


def is_portal_payload(payload) -> bool:
    return isinstance(payload, dict) and "code" in payload and ("data" in payload or payload.get("code") != "OK")


def endpoint_of(path: Path, data: dict) -> str:
    name = fold(path.stem).replace("_", "-")
    for ep in sorted(ENDPOINT_GROUP, key=len, reverse=True):
        if ep in name:
            return ep
    if isinstance(data.get("overview"), dict):
        codes = {m.get("code") for m in data["overview"].get("metrics", []) if isinstance(m, dict)}
        if codes & {"PUBLISH_ON_TIME", "PUBLIC_CONTENT_FULL", "DOSSIER_SYNC", "PUBLIC_UPDATE_ON_TIME"}:
            return "transparency"
        if codes & {"ORIGINAL_RESULT_AVAILABLE", "SO_HOA_GIAY_TO_GIAI_QUYET", "REUSED_DIGITIZED_DATA"}:
            return "dossier-digitized"
        if codes & {"PETITION_PROCESSING_ON_TIME", "DOSSIER_RECEIVING_SATISFACTION"}:
            return "handling-satisfaction"
    parent = data.get("parent") if isinstance(data.get("parent"), dict) else {}
    if "totalReceived" in parent:
        return "dvc-progress-tree"
    if "authorityCount" in parent:
        return "provide-online-tree"
    if "totalDossierOnlinePaymentSuccess" in parent:
        return "formality-online-payment-tree"
    raise LoadError(f"{path}: không nhận ra điểm cuối (endpoint) của Cổng DVCQG — đặt tên tệp theo điểm cuối, "
                    "vd. transparency_2026-08.json")


def period_of(path: Path) -> str:
    m = PERIOD_IN_NAME.search(path.stem.split("@")[0])
    if not m:
        raise LoadError(f"{path}: tên tệp không có kỳ — đặt tên như transparency_2026-08.json (hoặc _2026-Q3, _2026)")
    return m.group(1).upper()


def captured_of(path: Path) -> dt.datetime:
    """When the response was saved: `@20260905T1030` in the name, else the file's modification time."""
    m = CAPTURED_IN_NAME.search(path.stem)
    if m:
        t = (m.group(2) or "0000").ljust(6, "0")
        return dt.datetime.strptime(m.group(1) + t, "%Y%m%d%H%M%S")
    return dt.datetime.fromtimestamp(os.path.getmtime(path)).replace(microsecond=0)


def read_payload(path: Path):
    raw = path.read_bytes()
    text = decode(raw, path) if raw else ""
    if text.lstrip().startswith("<"):
        raise LoadError(f"{path}: là trang HTML (có thể từ cổng trung gian), không phải phản hồi JSON của Cổng DVCQG "
                        "— tải lại tệp.")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path}: JSON hỏng ở dòng {exc.lineno}, cột {exc.colno} ({exc.msg}) — tệp bị cắt ngang; "
                        "tải lại.") from None
    return payload


def parse_file(path: Path, payload=None) -> pd.DataFrame:
    """One portal response → long rows (COLUMNS). Raises LoadError naming the file for anything else."""
    path = Path(path)
    payload = read_payload(path) if payload is None else payload
    if not isinstance(payload, dict) or "code" not in payload:
        raise LoadError(f"{path}: không phải phản hồi của Cổng DVCQG (thiếu khung {{\"code\": \"OK\", \"data\": …}}).")
    if payload.get("code") != "OK" or not isinstance(payload.get("data"), dict):
        msg = payload.get("message") or payload.get("msg") or payload.get("code")
        raise LoadError(f"{path}: Cổng DVCQG trả lỗi ({str(msg)[:80]}) — không có số liệu để nạp; lấy lại phản hồi.")
    data = payload["data"]
    ep = endpoint_of(path, data)
    period, captured = period_of(path), captured_of(path)
    rows = _metric_list(data, ep, path) if ep in METRIC_LIST else _tree(data, ep, path)
    if not rows:
        raise LoadError(f"{path}: phản hồi không có đơn vị nào — kiểm tra kỳ và điểm cuối đã chọn.")
    df = pd.DataFrame(rows)
    df["period"], df["endpoint"], df["group_code"] = period, ep, ENDPOINT_GROUP[ep]
    df["file"], df["captured_at"] = str(path), captured
    for c in COLUMNS:
        if c not in df:
            df[c] = None
    return df[COLUMNS]


def _num(v):
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _unit(d: dict, scope: str) -> dict:
    return {"scope": scope, "department_id": d.get("departmentId"), "department_code": d.get("departmentCode"),
            "department_type": d.get("departmentType") or d.get("level"), "unit_name": d.get("departmentName")}


def _metric_list(data: dict, ep: str, path: Path) -> list[dict]:
    units = []
    if isinstance(data.get("overview"), dict):
        units.append((data["overview"], "overview"))
    for e in data.get("evaluation") or []:
        if isinstance(e, dict):
            units.append((e, "evaluation"))
    if not units:
        raise LoadError(f"{path}: điểm cuối {ep} thiếu 'overview' và 'evaluation'.")
    rows = []
    for d, scope in units:
        base = _unit(d, scope)
        rows.append({**base, "metric_code": GROUP_ROW, "published_points": _num(d.get("totalScore")),
                     "max_points": _num(d.get("totalMaxScore")), "ratio": _num(d.get("ratio"))})
        for m in d.get("metrics") or []:
            if not isinstance(m, dict) or not m.get("code"):
                continue
            rows.append({**base, "metric_code": m["code"], "metric_name": m.get("name"),
                         "numerator": _num(m.get("numerator")), "denominator": _num(m.get("denominator")),
                         "ratio": _num(m.get("ratio")), "published_points": _num(m.get("score")),
                         "max_points": _num(m.get("maxScore")), "dq_status": m.get("dataQualityStatus"),
                         "dq_message": m.get("dataQualityMessage")})
    return rows


TREE_METRICS = {
    "dvc-progress-tree": [("ON_TIME", "totalOnTime", ("totalReceived",))],
    "provide-online-tree": [("ONLINE_PROVISION", ("partialCount", "fullCount"), ("authorityCount",)),
                            ("ONLINE_SERVICE_USED", "onlineDossierCount", ("onlineServiceTotal",)),
                            ("ONLINE_SUBMISSION", "channelOnlineSum", ("channelTotalSum",))],
    "formality-online-payment-tree": [
        ("PAID_ONLINE", "totalDossierOnlinePaymentSuccess", ("totalDossierFinancialObligation",)),
        ("FEE_PROCEDURES_PAID_ONLINE", "totalDossierOnlineFormalityPaymentSuccess", ("totalFeeFormality",)),
        ("FEE_PROCEDURES_WITH_DOSSIERS", "totalFeeDossierFormality", ("totalFeeFormality",))],
}


def _tree(data: dict, ep: str, path: Path) -> list[dict]:
    if not isinstance(data.get("parent"), dict) or not isinstance(data.get("children"), list):
        raise LoadError(f"{path}: điểm cuối {ep} thiếu 'parent' hoặc 'children'.")
    rows = []
    for d, scope in [(data["parent"], "parent")] + [(c, "children") for c in data["children"] if isinstance(c, dict)]:
        base = _unit(d, scope)
        score = d.get("totalScore", d.get("score"))
        mx = d.get("totalMaxScore", d.get("maxScore"))
        rows.append({**base, "metric_code": GROUP_ROW, "published_points": _num(score), "max_points": _num(mx),
                     "ratio": _num(d.get("ratio"))})
        for code, num_keys, den_keys in TREE_METRICS[ep]:
            num_keys = (num_keys,) if isinstance(num_keys, str) else num_keys
            if not all(k in d for k in num_keys + den_keys):
                continue
            num = sum(_num(d[k]) or 0 for k in num_keys)
            den = sum(_num(d[k]) or 0 for k in den_keys)
            single = ep == "dvc-progress-tree"
            rows.append({**base, "metric_code": code, "numerator": num, "denominator": den,
                         "ratio": _num(d.get("ratio")) if single else (100 * num / den if den else None),
                         "published_points": _num(score) if single else None,
                         "max_points": _num(mx) if single else None})
    return rows


# ------------------------------------------------------------------ rescoring

def rescore(df: pd.DataFrame, profile=None) -> pd.DataFrame:
    """Our points from the published numerator and denominator (or, where those are null, the published
    ratio), per metric and per tree group, beside the published points."""
    from .report.fmt import round_half_up
    from .scoring import load_profile, points
    prof = load_profile(profile)
    out = df.copy()
    ours = []
    for r in out.itertuples():
        code = r.metric_code
        if code == GROUP_ROW or code not in prof["metrics"]:
            ours.append(None)
        elif pd.notna(r.numerator) and pd.notna(r.denominator):
            ours.append(points(code, r.numerator, r.denominator, prof))
        elif pd.notna(r.ratio):
            ours.append(points(code, r.ratio, 100, prof))
        else:
            ours.append(points(code, 0, 0, prof))
    out["our_points"] = ours
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
    from .api import scores_with
    from .periods import parse
    p = parse(period)
    pub = engine.con.execute("SELECT * FROM published_scores WHERE period = ? AND is_current AND metric_code <> ?",
                             [p.label, GROUP_ROW]).df()
    if pub.empty:
        from .api import ScopeError
        raise ScopeError(f"chưa nạp số liệu công bố của Cổng DVCQG cho kỳ {p.label} — `kpi load` các tệp JSON trước")
    from .scoring import points
    ours = scores_with(engine, p)
    ours = ours[ours.metric_code.isin(set(pub.metric_code))]
    # tree parameters carry no score of their own: their published points follow from the published counts
    derive = pub.published_points.isna() & pub.numerator.notna() & pub.denominator.notna()
    derived = [points(c, n, d, engine.profile) for c, n, d in
               zip(pub[derive].metric_code, pub[derive].numerator, pub[derive].denominator)]
    pub.loc[derive, "published_points"] = [float("nan") if v is None else v for v in derived]
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


def stored(con, period: str | None = None) -> pd.DataFrame:
    """The current (latest captured) published rows in the store, optionally for one period."""
    sql = "SELECT * FROM published_scores WHERE is_current" + (" AND period = ?" if period else "")
    return con.execute(sql, [period] if period else []).df()
