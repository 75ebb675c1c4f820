"""The report as an administrative document (Decree 30/2020/NĐ-CP): the body drafted from the report's
figures — headline, groups, units, late dossiers, self-assessment, officials, proposals — laid out by
kpi.present.decree30. The issuing body, place and signer come from the workspace settings (kpi766.yaml). No
applicant data: the body is built from totals, scores and the officials' review only."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from kpi import labels
from kpi.analysis.review import ACCOUNT, COMMEND, unit_gaps
from kpi.fs import atomic_path
from kpi.numbers import fmt_int, fmt_number
from kpi.present.decree30 import (BODY_PT, TEXT_WIDTH_CM, Decree30Document, header_block, period_words,
                                  signature_block, summary_line)
from kpi.report.content import Report


UNIT_COLUMNS = {"rank_in_level": ("Hạng", "int"), "unit_code": ("Mã đơn vị", "text"), "unit_name": ("Đơn vị", "text"),
                "total": ("Tổng điểm", "num"), "grade_label": ("Xếp loại", "text"), "change": ("Tăng, giảm", "num")}
UNIT_WIDTHS = [1.7, 2.4, 5.8, 2.2, 2.4, 2.0]


def inspection_candidates(r: Report, top: int = 10) -> pd.DataFrame:
    """1c: units with many late dossiers or a high late rate — those above the province's late rate, most
    late dossiers first."""
    d = r.rates[(r.rates.level != "province") & (r.rates.late > 0)].copy()
    prov = r.rates[r.rates.level == "province"]
    bar = float(prov.late_rate.iloc[0]) if len(prov) and pd.notna(prov.late_rate.iloc[0]) else 0.0
    d = d[d.late_rate.astype(float) > bar]
    return d.sort_values(["late", "late_rate", "unit_code"], ascending=[False, False, True]).head(top)


def write(r: Report, settings: dict, target: Path) -> Path:
    """The report as DOCX (written whole or not at all)."""
    p = r.period
    d = Decree30Document()
    header_block(d, settings, p)
    d.para("", indent=False, space_after=0)
    d.para("BÁO CÁO", bold=True, align="center", size=BODY_PT, space_after=0)
    d.para(summary_line(p), bold=True, align="center", size=BODY_PT, space_after=0)
    d.rule(d.doc, 4.0, TEXT_WIDTH_CM)
    if r.extract:                # made on a unit's extract: said under the title
        d.para(r.extract, align="center", size=BODY_PT - 1, space_after=6)
    _body(d, r, settings)
    signature_block(d, settings)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        d.doc.save(str(tmp))
    return target


def _sign(v, before: str) -> str:
    if v is None or pd.isna(v):
        return f"chưa có số liệu {before} để so sánh"
    if abs(v) < 0.005:
        return f"không thay đổi so với {before}"
    return f"{'tăng' if v > 0 else 'giảm'} {fmt_number(abs(v))} điểm so với {before}"


def _body(d: Decree30Document, r: Report, settings: dict) -> None:
    top = r.top
    who = top.unit_name
    words = period_words(r.period)
    d.para(f"Thực hiện Quyết định số 766/QĐ-TTg ngày 23/6/2022 của Thủ tướng Chính phủ phê duyệt Bộ chỉ số chỉ đạo, "
           f"điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp trong thực hiện thủ tục hành chính, "
           f"dịch vụ công theo thời gian thực trên môi trường điện tử, {settings['co_quan_ban_hanh']} báo cáo kết "
           f"quả {words} như sau:")
    # I. overall
    d.heading("I. KẾT QUẢ CHUNG")
    ranked = r.totals[r.totals["rank"].notna()]
    counts = ranked.grade_label.value_counts()
    d.para(f"Tổng điểm Bộ chỉ số của {who} {words} đạt {fmt_number(top.total)}/100 điểm, xếp loại "
           f"{top.grade_label}, {_sign(top.change, period_words(r.period.previous()))}. Có {fmt_int(len(ranked))} đơn vị được đánh giá: "
           + ", ".join(f"{fmt_int(counts.get(g, 0))} đơn vị {g}" for g in labels.GRADES.values()) + ".")
    order = {c: i for i, c in enumerate(labels.GROUPS)}
    g = r.groups.assign(_o=r.groups.group_code.map(order)).sort_values("_o")
    g["group_label"] = g.group_code.map(labels.GROUPS)
    g["share"] = 100 * g.points.astype(float) / g.max_points.astype(float)
    d.table(f"Điểm theo nhóm chỉ số của {who}", g, {
        "group_label": ("Nhóm chỉ số", "text"), "points": ("Điểm đạt", "num"), "max_points": ("Điểm tối đa", "num"),
        "share": ("Tỷ lệ đạt", "pct")}, [7.5, 2.8, 2.8, 2.8])
    # II. units by grade band
    d.heading("II. KẾT QUẢ CỦA CÁC ĐƠN VỊ")
    for level, title in (("department", "Sở, ban, ngành"), ("district", "Huyện (trước 7/2025)"),
                         ("commune", "Xã, phường")):
        t = r.totals[(r.totals.level == level) & r.totals["rank"].notna()].sort_values(["rank_in_level", "unit_code"])
        if r.unit:
            t = t[t.unit_code != r.unit]
        if t.empty:
            continue
        c = t.grade_label.value_counts()
        best, worst = t.iloc[0], t.iloc[-1]
        d.para(f"{title}: {fmt_int(len(t))} đơn vị — " + ", ".join(
            f"{g} {fmt_int(c.get(g, 0))}" for g in labels.GRADES.values())
            + f". Cao nhất: {best.unit_name} ({fmt_number(best.total)} điểm); thấp nhất: {worst.unit_name} "
              f"({fmt_number(worst.total)} điểm).")
        d.table(f"Kết quả {title.lower()} {words}", t, UNIT_COLUMNS, UNIT_WIDTHS)
    # III. where points were lost and why
    d.heading("III. ĐIỂM BỊ MẤT VÀ NGUYÊN NHÂN")
    lost = r.lost.groupby(["metric_code", "metric_label"]).agg(
        lost=("lost", "sum"), units=("unit_code", "nunique")).reset_index()
    n_units = max(r.lost.unit_code.nunique(), 1)
    lost["mean_lost"] = lost.lost / n_units
    lost = lost.sort_values(["mean_lost", "metric_code"], ascending=[False, True]).head(8)
    if len(lost):
        first = lost.iloc[0]
        d.para(f"Chỉ số làm các đơn vị mất nhiều điểm nhất là “{first.metric_label}” (bình quân "
               f"{fmt_number(first.mean_lost)} điểm mỗi đơn vị, {fmt_int(first.units)} đơn vị bị mất điểm).")
        d.table("Các chỉ số làm mất nhiều điểm nhất", lost, {
            "metric_label": ("Chỉ số", "text"), "mean_lost": ("Điểm mất bình quân mỗi đơn vị", "num"),
            "units": ("Số đơn vị bị mất điểm", "int")}, [9.5, 3.5, 3.0])
    if len(r.late):
        reasons = r.late.reason.fillna("").str.split(" — ").str[0].value_counts().head(3)
        d.para(f"Trong {words} có {fmt_int(len(r.late))} hồ sơ trễ hạn; nguyên nhân chủ yếu: "
               + "; ".join(f"{txt} ({fmt_int(n)} hồ sơ)" for txt, n in reasons.items()) + ".")
    if len(r.procedures):
        procs = r.procedures[r.procedures.late > 0].head(5)
        if len(procs):
            d.para("Các thủ tục có nhiều hồ sơ trễ hạn nhất: " + "; ".join(
                f"{x.procedure_name} ({fmt_int(x.late)} hồ sơ)" for x in procs.itertuples()) + ".")
    # IV. inspection (1c)
    d.heading("IV. ĐƠN VỊ ĐỀ NGHỊ KIỂM TRA")
    insp = inspection_candidates(r)
    insp_table = None
    if insp.empty:
        d.para("Không có đơn vị nào có tỷ lệ hồ sơ trễ hạn cao hơn mức chung.")
    else:
        d.para("Các đơn vị có nhiều hồ sơ trễ hạn và tỷ lệ trễ hạn cao hơn mức chung, đề nghị Sở Nội vụ đưa vào "
               "kế hoạch kiểm tra công vụ:")
        d.table("Đơn vị có nhiều hồ sơ trễ hạn", insp, {
            "unit_code": ("Mã đơn vị", "text"), "unit_name": ("Đơn vị", "text"),
            "handled": ("Hồ sơ phải giải quyết", "int"), "late": ("Hồ sơ trễ hạn", "int"),
            "late_rate": ("Tỷ lệ trễ hạn", "pct")}, [2.4, 6.4, 2.6, 2.4, 2.4])
        insp_table = d.tables
    # V. self-assessment
    n = 5
    if not r.self_assessment.empty:
        d.heading(f"{_roman(n)}. TỰ ĐÁNH GIÁ SO VỚI KẾT QUẢ BỘ CHỈ SỐ")
        gaps = unit_gaps(r.self_assessment)
        flagged = gaps[gaps.flagged]
        d.para(f"{fmt_int(r.self_assessment.unit_code.nunique())} đơn vị có tự đánh giá; {fmt_int(len(flagged))} đơn "
               "vị có tổng điểm tự đánh giá chênh lệch với kết quả tính từ dữ liệu vượt ngưỡng.")
        if len(flagged):
            d.table("Đơn vị tự đánh giá chênh lệch với kết quả", flagged, {
                "unit_code": ("Mã đơn vị", "text"), "unit_name": ("Đơn vị", "text"),
                "self_points": ("Tự đánh giá", "num"), "computed_points": ("Theo Bộ chỉ số", "num"),
                "gap": ("Chênh lệch", "num")}, [2.4, 6.4, 2.4, 2.6, 2.4])
        n += 1
    # VI. officials
    if not r.review.empty:
        d.heading(f"{_roman(n)}. CÁN BỘ ĐỀ NGHỊ KHEN THƯỞNG, XEM XÉT TRÁCH NHIỆM")
        good, bad = r.review[r.review.decision == COMMEND], r.review[r.review.decision == ACCOUNT]
        d.para(f"{fmt_int(len(good))} cán bộ xếp loại Xuất sắc ở mọi tháng của kỳ được đề nghị khen thưởng; "
               f"{fmt_int(len(bad))} cán bộ xếp loại Yếu nhiều lần được đề nghị xem xét trách nhiệm.")
        cols = {"full_name": ("Họ tên", "text"), "unit_name": ("Đơn vị", "text"), "index": ("Chỉ số cá nhân", "num"),
                "reason": ("Căn cứ", "text")}
        if len(good):
            d.table("Cán bộ đề nghị khen thưởng", good, cols, [4.0, 4.6, 2.4, 5.0])
        if len(bad):
            d.table("Cán bộ đề nghị xem xét trách nhiệm", bad, {
                **cols, "late_dossiers": ("Hồ sơ trễ hạn do cán bộ", "int")}, [3.6, 3.8, 2.2, 4.4, 2.0])
        n += 1
    # proposals
    d.heading(f"{_roman(n)}. ĐỀ XUẤT, KIẾN NGHỊ")
    weak = ranked[ranked.grade == "YEU"]
    items = []
    if len(weak):
        items.append(f"Thủ trưởng {fmt_int(len(weak))} đơn vị xếp loại Yếu rà soát nguyên nhân, có giải pháp khắc phục "
                     "và báo cáo kết quả trong kỳ tới.")
    if len(lost):
        items.append("Tập trung cải thiện các chỉ số: " + ", ".join(f"“{x}”" for x in lost.metric_label.head(3)) + ".")
    if not insp.empty:
        items.append(f"Sở Nội vụ kiểm tra {fmt_int(len(insp))} đơn vị tại Bảng {insp_table}.")
    if not r.review.empty and (r.review.decision == "commend").any():
        items.append("Các cơ quan, đơn vị xem xét khen thưởng cán bộ được đề nghị và xử lý trách nhiệm cán bộ "
                     "nhiều lần xếp loại Yếu theo quy định.")
    if not r.self_assessment.empty and r.self_assessment.flagged.any():
        items.append("Các đơn vị có tự đánh giá chênh lệch lớn rà soát lại kết quả tự đánh giá, đối chiếu với dữ liệu "
                     "trên Hệ thống thông tin giải quyết thủ tục hành chính.")
    items.append("Các đơn vị đồng bộ đầy đủ, kịp thời hồ sơ lên Cổng Dịch vụ công quốc gia và gửi thư xin lỗi "
                 "đối với mọi hồ sơ trễ hạn.")
    for i, x in enumerate(items, 1):
        d.para(f"{i}. {x}")
    d.para(f"Trên đây là báo cáo kết quả thực hiện Bộ chỉ số {words} của {who}.")


def _roman(n: int) -> str:
    return {5: "V", 6: "VI", 7: "VII", 8: "VIII"}[n]

