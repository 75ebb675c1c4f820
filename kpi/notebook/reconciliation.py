"""The reconciliation notebook's content: how well our rules reproduce the portal's points, and where
our dossier-based figures differ from the published ones, with the evidence."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from kpi import labels
from kpi.analysis import portal
from kpi.analysis.api import evidence_with, last_complete_month, session
from kpi.notebook.live import extract_note
from kpi.periods import label_vi, parse
from kpi.present import charts
from kpi.present import html as h


@dataclass
class Reconciliation:
    period: str
    check: pd.DataFrame
    rates: pd.DataFrame
    rec: pd.DataFrame
    evidence: pd.DataFrame
    note: str = ""              # on a unit's extract: what it is (its published figures are its own units')


def build(period: str | None = None, store=None, profile=None) -> Reconciliation:
    with session(store, None, profile) as engine:
        p = parse(period or last_complete_month(engine.con))
        pub = portal.stored(engine.con, p.label)
        check = portal.check_rows(portal.rescore(pub, profile)) if len(pub) else pd.DataFrame(columns=portal.CHECK_COLUMNS)
        rates = portal.match_rates(check) if len(check) else pd.DataFrame(columns=["metric_code", "rows", "matched", "match_rate"])
        rec = portal.reconcile(engine, p) if len(pub) else pd.DataFrame(columns=portal.RECONCILE_COLUMNS)
        ev = pd.DataFrame()
        worst = rec[rec.unsynced > 0].head(1)
        if len(worst):
            w = worst.iloc[0]
            ev = evidence_with(engine, w.metric_code, w.unit_code, p)
            codes = {c.strip() for c in str(w.unsynced_codes).split(",")}
            ev = ev[ev.entity.isin(codes)]
        return Reconciliation(p.label, check, rates, rec, ev, extract_note(engine))


def render_agreement(r: Reconciliation) -> str:
    if r.rates.empty:
        return r.note + h.section("Chấm lại số liệu công bố", "<p>Chưa nạp tệp JSON của Cổng DVCQG cho kỳ này.</p>")
    d = r.rates.copy()
    d["metric_label"] = d.metric_code.map(lambda c: labels.METRICS.get(c, "Tổng điểm nhóm" if c == "_GROUP" else c))
    chart = charts.match_rates(d, "Tỷ lệ khớp điểm khi chấm lại (lệch ≤ 0,015)")
    body = h.figure(charts.svg(chart)) + h.table(d, {"metric_label": ("Chỉ số", "text"), "rows": ("Số dòng", "int"),
                                                     "matched": ("Khớp", "int"), "match_rate": ("Tỷ lệ khớp", "pct")})
    return r.note + h.section(f"Chấm lại số liệu công bố — {label_vi(parse(r.period))}", body,
                     "Điểm của chúng tôi tính từ tử số, mẫu số Cổng công bố theo cấu hình chấm điểm đang dùng.")


def render_differences(r: Reconciliation, top: int = 25) -> str:
    d = r.rec[r.rec.explanation != "khớp"].copy()
    d["metric_label"] = d.metric_code.map(lambda c: labels.METRICS.get(c, c))
    n_ok = int((r.rec.explanation == "khớp").sum())
    body = h.cards([("Cặp đơn vị × chỉ số khớp", h.esc(f"{n_ok}/{len(r.rec)}"), "điểm lệch ≤ 0,015 và số đếm bằng nhau"),
                    ("Hồ sơ chưa đồng bộ lên Cổng DVCQG",
                     h.esc(str(int(r.rec.unsynced.max()) if len(r.rec) else 0)),
                     "cấp tỉnh, ở chỉ số có nhiều hồ sơ nhất — Cổng không thấy các hồ sơ này")])
    body += h.table(d, {"unit_code": ("Mã", "text"), "unit_name": ("Đơn vị", "text"), "metric_label": ("Chỉ số", "text"),
                        "our_numerator": ("Tử số (tỉnh)", "int"), "our_denominator": ("Mẫu số (tỉnh)", "int"),
                        "published_numerator": ("Tử số (Cổng)", "int"),
                        "published_denominator": ("Mẫu số (Cổng)", "int"), "diff": ("Điểm lệch", "num"),
                        "explanation": ("Nguyên nhân", "text")}, max_rows=top)
    return h.section("Chênh lệch lớn nhất và nguyên nhân", body)


def render_evidence(r: Reconciliation) -> str:
    if r.evidence.empty:
        return ""
    e = r.evidence
    return h.section(f"Bằng chứng: hồ sơ chưa đồng bộ ({e.metric_code.iloc[0]})", h.table(e, {
        "entity": ("Mã hồ sơ", "text"), "unit_code": ("Đơn vị", "text"), "procedure_code": ("Mã TTHC", "text"),
        "received_at": ("Tiếp nhận", "datetime"), "status": ("Trạng thái", "text"), "reason": ("Đánh giá", "text")}))
