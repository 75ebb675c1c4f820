"""The sample's national-portal responses and the units' self-assessments: what Cổng DVCQG would publish
for a period, computed by scoring a store of the sample's recent months without the dossiers that never
reached it (the planted difference the reconciliation must find), in the shape of PORTAL_JSON.md; and
`generate`, the whole sample: the province's files (kpi.sample.province), then these."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from kpi.analysis.api import scores, totals
from kpi.count.scoring import load_profile
from kpi.load import load_paths
from kpi.numbers import round_half_up
from kpi.periods import last_complete_quarter
from kpi.sample.files import DOSSIER_TS, fmt_ts
from kpi.sample.province import END_MONTH, RECENT, RECENT_FROM, write_province
from kpi.store import connect

TYPES = {"province": "PROVINCE", "department": "PROVINCIAL_DEPARTMENT", "commune": "COMMUNE_PEOPLE_COMMITTEE",
         "district": "DISTRICT_PEOPLE_COMMITTEE"}
PROVINCE_SUFFIX = " - Tỉnh Tây Ninh"


def _r(v):
    return None if v is None or pd.isna(v) else round_half_up(float(v), 2)


def portal_view(store: Path, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores of a copy of the store without the dossiers that never reached the portal."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "portal.duckdb"
        shutil.copy(store, copy)
        con = duckdb.connect(str(copy))
        con.execute("DELETE FROM dossier_events WHERE dossier_code IN "
                    "(SELECT dossier_code FROM dossiers WHERE synced_at IS NULL)").fetchall()
        con.execute("DELETE FROM dossiers WHERE synced_at IS NULL").fetchall()
        con.close()
        s = scores(period, store=copy)
        t = totals(period, store=copy, compare=False)
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


def generate(out: Path, seed: int = 766, months: int = 18, per_year: int = 150_000, progress: bool = True,
             portal: bool = True, fmt: str = "csv") -> dict:
    """Write the sample province into `out`; returns row counts per file. fmt 'sync': the dossiers and
    their steps as the national sync payloads (kpi/sample/sync.py) instead of dossiers.csv and
    dossier_events.csv — the same province, the same scores. `portal`: also the portal's figures and the
    units' self-assessments, from a store of the recent months (their own generator, so the rest of the
    province is the same with or without them)."""
    counts, recent = write_province(out, seed, months, per_year, progress, fmt)
    try:
        if portal:
            dossiers, events = recent if recent is not None else (None, None)
            counts.update(_portal(Path(out), dossiers, events, np.random.default_rng(seed + 2)))
    finally:
        shutil.rmtree(Path(out) / RECENT, ignore_errors=True)
    return counts


SELF_ASSESSMENT_HEADERS_VI = {"unit_code": "Mã đơn vị", "period": "Kỳ", "item_code": "Nhóm chỉ số",
                              "points": "Điểm tự đánh giá"}


def make_self_assessments(rng, store: Path, quarter: str) -> pd.DataFrame:
    """Each current department and commune scores itself per group for the last complete quarter: close to
    what it earned (within a few per cent), while one unit in six over-claims (near the maximum)."""
    t = totals(quarter, store=store, compare=False)
    t = t[t.level.isin(["department", "commune"]) & t.grade.notna()]
    groups = [c for c in t.columns if c.startswith("group_")]
    maxima = {g: float(spec["max"]) for g, spec in load_profile(None)["groups"].items()}
    rows = []
    for r in t.itertuples(index=False):
        claims = rng.random() < 1 / 6
        for g in groups:
            code = g.removeprefix("group_")
            mx = maxima[code]
            got = float(getattr(r, g))
            value = mx * rng.uniform(0.93, 1.0) if claims else min(mx, max(0.0, got * (1 + rng.normal(0.01, 0.02))))
            rows.append(dict(unit_code=r.unit_code, period=quarter, item_code=code,
                             points=f"{value:.2f}".replace(".", ",")))
    return pd.DataFrame(rows)[list(SELF_ASSESSMENT_HEADERS_VI)].rename(columns=SELF_ASSESSMENT_HEADERS_VI)


def _portal(out: Path, dossiers: pd.DataFrame | None, events: pd.DataFrame | None, rng) -> dict:
    """See _portal_files; a large sample's recent months are scored with DuckDB's memory capped."""
    before = os.environ.get("KPI_MEMORY_LIMIT")
    if dossiers is None and before is None:
        os.environ["KPI_MEMORY_LIMIT"] = "1GB"
    try:
        return _portal_files(out, dossiers, events, rng)
    finally:
        if before is None:
            os.environ.pop("KPI_MEMORY_LIMIT", None)


def _portal_files(out: Path, dossiers: pd.DataFrame | None, events: pd.DataFrame | None, rng) -> dict:
    """The portal's responses for the last complete month and the units' self-assessments of the last
    complete quarter, computed from a store of the recent months."""
    start = RECENT_FROM
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "raw"
        sub.mkdir()
        for f in out.glob("*.*"):         # (a payload sample's never-synced dossiers are among the recent ones)
            if f.name not in ("dossiers.csv", "dossier_events.csv", "ratings.csv", "dossiers_chua_dong_bo.csv",
                              "dossier_events_chua_dong_bo.csv") and f.is_file():
                shutil.copy(f, sub / f.name)
        if dossiers is None:        # a large sample, already on disk: DuckDB copies the recent months
            _recent_from_files(out, sub, start)
        else:
            ratings = pd.read_csv(out / "ratings.csv", dtype=str)
            recent = dossiers[pd.to_datetime(dossiers.received_at) >= start]
            codes = set(recent.dossier_code)
            fmt_ts(recent, DOSSIER_TS).to_csv(sub / "dossiers.csv", index=False)
            fmt_ts(events[events.dossier_code.isin(codes)], ["at", "step_due_at"]).to_csv(
                sub / "dossier_events.csv", index=False)
            ratings[ratings["Mã hồ sơ"].isin(codes)].to_csv(sub / "ratings.csv", index=False)
        store = Path(tmp) / "kpi.duckdb"
        con = connect(store)
        load_paths(con, [sub], progress=False)
        con.close()
        files = write_portal_files(store, END_MONTH, out / "portal")
        sa = make_self_assessments(rng, store, last_complete_quarter(END_MONTH).label)
    sa.to_csv(out / "tu_danh_gia.csv", index=False, lineterminator="\n")
    return {**{f"portal/{f.name}": 1 for f in files}, "tu_danh_gia.csv": len(sa)}


def _recent_from_files(out: Path, sub: Path, start: pd.Timestamp) -> None:
    """The dossiers received since `start`, their events and ratings, copied from the sample's files (a payload
    sample's recent dossiers and events from the CSV it wrote of them beside: RECENT)."""
    src = out / RECENT if (out / RECENT).is_dir() else out
    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'")
    opts = "all_varchar=true, header=true, delim=',', quote='\"', escape='\"'"
    con.execute(f"""CREATE TEMP TABLE codes AS SELECT dossier_code FROM read_csv('{src / "dossiers.csv"}', {opts})
                    WHERE received_at >= '{start:%Y-%m-%d}'""")
    con.execute(f"""COPY (SELECT * FROM read_csv('{src / "dossiers.csv"}', {opts}) WHERE received_at >= '{start:%Y-%m-%d}')
                    TO '{sub / "dossiers.csv"}' (HEADER, DELIMITER ',')""")
    for name, code, where in (("dossier_events.csv", "dossier_code", src), ("ratings.csv", "Mã hồ sơ", out)):
        con.execute(f"""COPY (SELECT * FROM read_csv('{where / name}', {opts}) WHERE "{code}" IN (SELECT dossier_code FROM codes))
                        TO '{sub / name}' (HEADER, DELIMITER ',')""")
    con.close()
