"""The national portal's published figures (PORTAL_JSON.md) read from its responses: the six endpoints
parsed into one long table, loaded into the store as `published_scores` (rescoring and reconciliation with
our own figures are in kpi.analysis.portal)."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pandas as pd

from kpi.load.errors import LoadError
from kpi.load.readers import decode, json_loads
from kpi.schema import fold

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
        payload = json_loads(text, path)
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
