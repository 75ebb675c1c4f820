"""The sample's national-portal responses: what Cổng DVCQG would publish for a period, computed
from the dossiers that reached it (the unsynced ones are invisible to the portal — the planted
difference the reconciliation must find). Written in the shape of PORTAL_JSON.md."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from .report.fmt import round_half_up

TYPES = {"province": "PROVINCE", "department": "PROVINCIAL_DEPARTMENT", "commune": "COMMUNE_PEOPLE_COMMITTEE",
         "district": "DISTRICT_PEOPLE_COMMITTEE"}
PROVINCE_SUFFIX = " - Tỉnh Tây Ninh"


def _r(v):
    return None if v is None or pd.isna(v) else round_half_up(float(v), 2)


def portal_view(store: Path, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores of a copy of the store without the dossiers that never reached the portal."""
    import kpi
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "portal.duckdb"
        shutil.copy(store, copy)
        con = duckdb.connect(str(copy))
        con.execute("DELETE FROM dossier_events WHERE dossier_code IN "
                    "(SELECT dossier_code FROM dossiers WHERE synced_at IS NULL)").fetchall()
        con.execute("DELETE FROM dossiers WHERE synced_at IS NULL").fetchall()
        con.close()
        s = kpi.scores(period, store=copy)
        t = kpi.totals(period, store=copy, compare=False)
    return s, t


def write_portal_files(store: Path, period: str, out: Path) -> list[Path]:
    s, t = portal_view(store, period)
    levels = t.set_index("unit_code").level
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def unit_head(code, name):
        lv = levels.get(code, "commune")
        return {"departmentId": f"id-{code}", "departmentName": name + ("" if lv == "province" else PROVINCE_SUFFIX),
                "departmentType": TYPES.get(lv, "COMMUNE_PEOPLE_COMMITTEE"), "departmentLevel": "PROVINCE",
                "agencyLevel": "level_1" if lv == "province" else "level_2"}

    def metrics_of(code, group):
        rows = s[(s.unit_code == code) & (s.group_code == group) & (s.max_points > 0)]
        ms = []
        for r in rows.itertuples():
            m = {"code": r.metric_code, "name": r.metric_code, "numerator": int(r.numerator),
                 "denominator": int(r.denominator), "ratio": _r(r.rate), "score": _r(r.points), "maxScore": r.max_points}
            if r.metric_code == "ELECTRONIC_CERTIFIED_COPY" and levels.get(code) == "commune":
                m.update(numerator=None, denominator=None)           # the portal sends only the ratio here
            if r.metric_code == "DOSSIER_SYNC" and r.denominator == 0:
                m.update(dataQualityStatus="TEMP_NATIONAL_REPORT_DENOMINATOR",
                         dataQualityMessage="Mẫu số tạm lấy từ Hệ thống báo cáo quốc gia")
            ms.append(m)
        total = sum(m["score"] or 0 for m in ms)
        return ms, round_half_up(total, 2)

    prov = t[t.level == "province"].iloc[0]
    units = t[t.level != "province"].sort_values("unit_code")
    for ep, group, mx in (("transparency", "CKMB", 18), ("dossier-digitized", "MDSH", 22),
                          ("handling-satisfaction", "MDHL", 18)):
        ms, total = metrics_of(prov.unit_code, group)
        overview = {**unit_head(prov.unit_code, prov.unit_name), "totalScore": total, "totalMaxScore": mx,
                    "ratio": _r(100 * total / mx), "scoreDelta": None, "metrics": ms}
        evaluation = []
        for i, u in enumerate(units.itertuples(), start=1):
            ms, total = metrics_of(u.unit_code, group)
            evaluation.append({"stt": i, **unit_head(u.unit_code, u.unit_name), "totalScore": total, "metrics": ms})
        written.append(_dump(out / f"{ep}_{period}.json", {"overview": overview, "monthlyChart": [],
                                                          "evaluation": evaluation}))

    def metric(code, m):
        r = s[(s.unit_code == code) & (s.metric_code == m)].iloc[0]
        return int(r.numerator), int(r.denominator), r

    # progress tree
    def progress(code, name):
        num, den, r = metric(code, "ON_TIME")
        return {**unit_head(code, name), "departmentCode": code, "level": "PROVINCE" if levels.get(code) != "commune"
                else "COMMUNE", "totalReceived": den, "totalOnTime": num, "totalOverdue": den - num,
                "avgProcessingDays": 3.5, "ratio": _r(r.rate), "score": _r(r.points), "maxScore": 20}
    parent = progress(prov.unit_code, prov.unit_name)
    parent["totalScore"] = parent.pop("score")
    parent["totalMaxScore"] = parent.pop("maxScore")
    written.append(_dump(out / f"dvc-progress-tree_{period}.json", {
        "parent": parent, "children": [progress(u.unit_code, u.unit_name) for u in units.itertuples()]}))

    # online-services tree: parameters on the parent only
    def group_score(code, group):
        return _r(s[(s.unit_code == code) & (s.group_code == group)].points.astype(float).fillna(0).sum())
    a_num, a_den, _ = metric(prov.unit_code, "ONLINE_PROVISION")
    u_num, u_den, _ = metric(prov.unit_code, "ONLINE_SERVICE_USED")
    c_num, c_den, _ = metric(prov.unit_code, "ONLINE_SUBMISSION")
    ch = {m: metric(prov.unit_code, m)[0] for m in ("CHANNEL_ONLINE", "CHANNEL_DIRECT", "CHANNEL_POSTAL")}
    parent = {**unit_head(prov.unit_code, prov.unit_name), "departmentCode": prov.unit_code,
              "authorityCount": a_den, "partialCount": a_num // 2, "fullCount": a_num - a_num // 2,
              "onlineDossierCount": u_num, "onlineServiceTotal": u_den, "channelOnlineSum": c_num,
              "channelDirectSum": ch["CHANNEL_DIRECT"], "channelPostalSum": ch["CHANNEL_POSTAL"],
              "channelTotalSum": c_den, "onlineOnTimeSum": 0, "onlineOverdueSum": 0,
              "ratio": None, "totalScore": group_score(prov.unit_code, "DVCTT"), "totalMaxScore": 12}
    children = [{**unit_head(u.unit_code, u.unit_name), "departmentCode": u.unit_code,
                 "level": "COMMUNE" if levels.get(u.unit_code) == "commune" else "PROVINCE",
                 "ratio": None, "score": group_score(u.unit_code, "DVCTT"), "maxScore": 12, "scoreDelta": None}
                for u in units.itertuples()]
    written.append(_dump(out / f"provide-online-tree_{period}.json", {"parent": parent, "children": children}))

    # online-payment tree
    def payment(code, name):
        a = metric(code, "PAID_ONLINE")
        b = metric(code, "FEE_PROCEDURES_PAID_ONLINE")
        c = metric(code, "FEE_PROCEDURES_WITH_DOSSIERS")
        A = a[0] / a[1] if a[1] else 0
        B = b[0] / b[1] if b[1] else 0
        C = c[0] / c[1] if c[1] else 0
        score = round_half_up(6 * A, 2) + round_half_up(min(2, 2.5 * B), 2) + round_half_up(2.5 * C, 2)
        return {**unit_head(code, name), "departmentCode": code, "totalDossierOnlinePaymentSuccess": a[0],
                "totalDossierFinancialObligation": a[1], "totalDossierOnlineFormalityPaymentSuccess": b[0],
                "totalFeeDossierFormality": c[0], "totalFeeFormality": b[1],
                "totalFeeDossierFormalityDistinct": c[0], "ratio": None, "score": round_half_up(min(score, 10), 2),
                "maxScore": 10}
    parent = payment(prov.unit_code, prov.unit_name)
    parent["totalScore"], parent["totalMaxScore"] = parent.pop("score"), parent.pop("maxScore")
    written.append(_dump(out / f"formality-online-payment-tree_{period}.json", {
        "parent": parent, "children": [payment(u.unit_code, u.unit_name) for u in units.itertuples()]}))
    return written


def _dump(path: Path, data: dict) -> Path:
    path.write_text(json.dumps({"code": "OK", "data": data}, ensure_ascii=False, indent=1, sort_keys=True),
                    encoding="utf-8")
    return path
