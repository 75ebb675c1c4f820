"""The report as an administrative document (Decree 30/2020/NĐ-CP): the body drafted from the report's
figures — the dossiers received and handled, the score beside the portal's, the groups, the units, what falls
short and why, the units to inspect, self-assessment, officials, proposals — laid out by
kpi.present.decree30. Long lists (every commune, every official) go to appendices after the signature, so
the body stays a few pages. The issuing body, place and signer come from the workspace settings
(kpi766.yaml). No applicant data: the body is built from totals, scores and the officials' review only."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from kpi import labels
from kpi.analysis.review import ACCOUNT, COMMEND, commend_rule, unit_gaps
from kpi.fs import atomic_path
from kpi.numbers import fmt_int, fmt_number, fmt_pct, round_half_up
from kpi.present.decree30 import (BODY_PT, TEXT_WIDTH_CM, Decree30Document, header_block, period_words, roman,
                                  short_words, signature_block, summary_line)
from kpi.report.content import Report, passive_losses

BODY_ROWS = 14               # a list longer than this goes to an appendix; the body cites it


def unit_columns(r: Report) -> dict:
    return {"rank_in_level": ("Hạng", "int"), "unit_name": ("Đơn vị", "text"), "total": ("Tổng điểm", "num"),
            "grade_label": ("Xếp loại", "text"),
            "change": (f"Tăng (+), giảm (−) so với {short_words(r.period.previous())}", "num")}


UNIT_WIDTHS = [1.8, 6.9, 2.2, 2.9, 2.7]


def inspection_candidates(r: Report, top: int = 10) -> pd.DataFrame:
    """1c: units with many late dossiers or a high late rate — those above the province's late rate, most
    late dossiers first."""
    d = r.rates[(r.rates.level != "province") & (r.rates.late > 0) & (r.rates.unit_code != r.unit)].copy()
    prov = r.rates[r.rates.level == "province"]
    bar = float(prov.late_rate.iloc[0]) if len(prov) and pd.notna(prov.late_rate.iloc[0]) else 0.0
    d = d[d.late_rate.astype(float) > bar]
    return d.sort_values(["late", "late_rate", "unit_code"], ascending=[False, False, True]).head(top)


def issuer(settings: dict) -> str:
    """The issuing body's full name for the body text: `ten_co_quan`, or the body under its parent
    ('Văn phòng' + 'Ủy ban nhân dân tỉnh Tây Ninh')."""
    if settings.get("ten_co_quan"):
        return settings["ten_co_quan"]
    body, parent = settings["co_quan_ban_hanh"], settings["co_quan_chu_quan"]
    return body if parent.lower() in body.lower() else f"{body} {parent}"


def write(r: Report, settings: dict, target: Path) -> Path:
    """The report as DOCX (written whole or not at all)."""
    p = r.period
    d = Decree30Document()
    d.page_numbers()
    header_block(d, settings, p)
    d.para("", indent=False, space_after=0)
    d.para("BÁO CÁO", bold=True, align="center", size=BODY_PT, space_after=0)
    d.para(summary_line(p), bold=True, align="center", size=BODY_PT, space_after=0)
    d.rule(d.doc, 4.0, TEXT_WIDTH_CM)
    if r.extract:                # made on a unit's extract: said under the title
        d.para(r.extract, align="center", size=BODY_PT - 1, space_after=6)
    _body(d, r, settings)
    # the closing paragraphs go with the signature: never a "Nơi nhận" alone on the last page
    for para in d.doc.paragraphs[-2:]:
        para.paragraph_format.keep_with_next = True
    signature_block(d, settings)
    d.write_appendices(f"Báo cáo số        /BC-{settings['ky_hieu']} ngày     tháng     năm "
                       f"{p.last.year if p.kind != 'month' else p.start.year} của {issuer(settings)}")
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


def _share(n, whole) -> str:
    return fmt_pct(100 * n / whole) if whole else "—"


def _body(d: Decree30Document, r: Report, settings: dict) -> None:
    top = r.top
    who = top.unit_name
    words = period_words(r.period)
    d.para(f"Thực hiện Quyết định số 766/QĐ-TTg ngày 23/6/2022 của Thủ tướng Chính phủ phê duyệt Bộ chỉ số chỉ đạo, "
           f"điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp trong thực hiện thủ tục hành chính, "
           f"dịch vụ công theo thời gian thực trên môi trường điện tử, {issuer(settings)} báo cáo kết "
           f"quả {words} như sau:")
    ranked = r.totals[r.totals["rank"].notna()]
    sections = iter(range(1, 20))
    # I. overall: the dossiers first, then the score beside the portal's
    d.heading(f"{roman(next(sections))}. KẾT QUẢ CHUNG")
    d.heading("1. Tình hình tiếp nhận, giải quyết hồ sơ")
    ot, on = r.metric("ON_TIME"), r.metric("ONLINE_SUBMISSION")
    received = int(on.denominator) if on is not None and pd.notna(on.denominator) else 0
    online = int(on.numerator) if on is not None and pd.notna(on.numerator) else 0
    handled = int(ot.denominator) if ot is not None and pd.notna(ot.denominator) else 0
    on_time = int(ot.numerator) if ot is not None and pd.notna(ot.numerator) else 0
    never = int(r.unsynced.never_synced.sum()) if len(r.unsynced) else 0
    d.para(f"Trong {words}, {who} tiếp nhận {fmt_int(received)} hồ sơ, trong đó {fmt_int(online)} hồ sơ nộp trực "
           f"tuyến (tỷ lệ nộp trực tuyến {_share(online, received)}). Số hồ sơ phải giải quyết (tiếp nhận trong kỳ và "
           f"kỳ trước chuyển sang) là {fmt_int(handled)} hồ sơ: {fmt_int(on_time)} hồ sơ giải quyết đúng hạn hoặc chưa "
           f"đến hạn (tỷ lệ đúng hạn {_share(on_time, handled)}), {fmt_int(handled - on_time)} hồ sơ trễ hạn.")
    d.para(f"Có {fmt_int(never)} hồ sơ tiếp nhận trong kỳ chưa được đồng bộ lên Cổng Dịch vụ công quốc gia "
           f"({_share(never, received)} số hồ sơ tiếp nhận); các hồ sơ này không được Cổng tính vào Bộ chỉ số."
           if never else "Toàn bộ hồ sơ tiếp nhận trong kỳ đã được đồng bộ lên Cổng Dịch vụ công quốc gia.")
    d.heading("2. Điểm Bộ chỉ số")
    portal = ""
    if r.portal_total is not None:
        gap = round_half_up(float(top.total), 2) - r.portal_total
        portal = (f" Cổng Dịch vụ công quốc gia công bố {fmt_number(r.portal_total)} điểm"
                  + (", trùng với kết quả tính từ dữ liệu hồ sơ." if abs(gap) < 0.005 else
                     f"; kết quả tính từ dữ liệu hồ sơ của tỉnh {'cao' if gap > 0 else 'thấp'} hơn "
                     f"{fmt_number(abs(gap))} điểm (phần chênh lệch được đối chiếu theo từng chỉ số, trong đó có "
                     "hồ sơ chưa đồng bộ lên Cổng)."))
    grades = (f" Có {fmt_int(len(ranked))} đơn vị được đánh giá: " + ", ".join(
        f"{fmt_int(ranked.grade_label.eq(g).sum())} đơn vị {g}" for g in labels.GRADES.values()
        if ranked.grade_label.eq(g).any()) + ".") if len(ranked) > 1 else ""
    d.para(f"Tổng điểm Bộ chỉ số của {who} {words} tính từ dữ liệu hồ sơ đạt {fmt_number(top.total)}/100 điểm, xếp "
           f"loại {top.grade_label}, {_sign(top.change, short_words(r.period.previous()))}.{portal}{grades}")
    order = {c: i for i, c in enumerate(labels.GROUPS)}
    g = r.groups.assign(_o=r.groups.group_code.map(order)).sort_values("_o")
    g["group_label"] = g.group_code.map(labels.GROUPS)
    g["shown"] = g.points.astype(float).map(lambda v: round_half_up(v, 2))
    g["share"] = 100 * g.shown / g.max_points.astype(float)
    total = {"group_label": "Tổng cộng", "shown": g.shown.sum(), "max_points": g.max_points.sum(),
             "share": 100 * g.shown.sum() / g.max_points.sum()}
    d.table(f"Điểm theo nhóm chỉ số của {who}", g, {
        "group_label": ("Nhóm chỉ số", "text"), "shown": ("Điểm đạt", "num"), "max_points": ("Điểm tối đa", "num"),
        "share": ("Tỷ lệ đạt", "pct")}, [7.5, 2.8, 2.8, 2.8], total=total)
    # II. units by level: short lists in the body, long ones in an appendix (none: a unit without units below)
    below = r.totals[r.totals["rank"].notna() & (r.totals.unit_code != r.unit) & (r.totals.level != "province")]
    if len(below):
        d.heading(f"{roman(next(sections))}. KẾT QUẢ CỦA CÁC ĐƠN VỊ")
    for level in labels.UNIT_LEVELS:
        title = labels.LEVELS[level]
        t = below[below.level == level].sort_values(["rank_in_level", "unit_name"])
        if t.empty:
            continue
        best, worst = t.iloc[0], t.iloc[-1]
        text = (f"{title}: {fmt_int(len(t))} đơn vị — " + ", ".join(
            f"{g} {fmt_int(t.grade_label.eq(g).sum())}" for g in labels.GRADES.values())
            + f". Cao nhất: {best.unit_name} ({fmt_number(best.total)} điểm); thấp nhất: {worst.unit_name} "
              f"({fmt_number(worst.total)} điểm)")
        caption = f"Kết quả {title.lower()} {words}"
        if len(t) > BODY_ROWS:
            where = d.appendix(caption, t, unit_columns(r), UNIT_WIDTHS, nowrap=("grade_label",))
            d.para(f"{text} (chi tiết tại {where}).")
        else:
            d.para(text + ".")
            d.table(caption, t, unit_columns(r), UNIT_WIDTHS, nowrap=("grade_label",))
    # III. what falls short, and why
    d.heading(f"{roman(next(sections))}. TỒN TẠI, HẠN CHẾ VÀ NGUYÊN NHÂN")
    d.heading("1. Tồn tại, hạn chế")
    lost_all = r.lost
    lost_ok = lost_all[lost_all.actionable]
    n_units = max(lost_all.unit_code.nunique(), 1)
    lost = lost_ok.groupby(["metric_code", "metric_label"]).agg(lost=("lost", "sum"), units=("unit_code", "nunique")) \
        .reset_index()
    lost["mean_lost"] = lost.lost / n_units
    lost = lost.sort_values(["mean_lost", "metric_code"], ascending=[False, True]).head(8)
    for item in _shortfalls(r, ranked, handled, on_time, received, online, never):
        d.para(f"- {item}")
    if len(lost):
        first = lost.iloc[0]
        d.para(f"- Chỉ số làm các đơn vị mất nhiều điểm nhất là “{first.metric_label}” (bình quân "
               f"{fmt_number(first.mean_lost)} điểm mỗi đơn vị, {fmt_int(first.units)} đơn vị bị mất điểm).")
        d.table("Các chỉ số làm mất nhiều điểm nhất (đơn vị có thể khắc phục)", lost, {
            "metric_label": ("Chỉ số", "text"), "mean_lost": ("Điểm mất bình quân mỗi đơn vị", "num"),
            "units": ("Số đơn vị bị mất điểm", "int")}, [9.5, 3.5, 3.0])
    passive = passive_losses(lost_all)
    if passive:
        d.para(f"- {passive}")
    d.heading("2. Nguyên nhân")
    causes = late_causes(r.late, handled)
    if causes:
        d.para(f"Trong {words} có {fmt_int(len(r.late))} hồ sơ trễ hạn. Nguyên nhân, theo dữ liệu xử lý hồ sơ:")
        for c in causes:
            d.para(f"- {c}")
    else:
        d.para(f"Trong {words} không có hồ sơ trễ hạn.")
    # IV. inspection (1c) — a unit's own report without units below it has none to propose
    insp = inspection_candidates(r)
    insp_table = None
    has_units = len(below) > 0 or not r.unit
    if has_units:
        d.heading(f"{roman(next(sections))}. ĐƠN VỊ ĐỀ NGHỊ KIỂM TRA")
    if has_units and insp.empty:
        d.para("Không có đơn vị nào có tỷ lệ hồ sơ trễ hạn cao hơn mức chung.")
    elif not insp.empty:
        d.para("Các đơn vị có nhiều hồ sơ trễ hạn và tỷ lệ trễ hạn cao hơn mức chung, đề nghị Sở Nội vụ đưa vào "
               "kế hoạch kiểm tra công vụ:")
        d.table("Đơn vị có nhiều hồ sơ trễ hạn", insp, {
            "unit_name": ("Đơn vị", "text"), "handled": ("Hồ sơ phải giải quyết", "int"),
            "late": ("Hồ sơ trễ hạn", "int"), "late_rate": ("Tỷ lệ trễ hạn", "pct")}, [7.8, 3.2, 2.8, 2.7])
        insp_table = d.tables
    # V. self-assessment
    if not r.self_assessment.empty:
        d.heading(f"{roman(next(sections))}. TỰ ĐÁNH GIÁ SO VỚI KẾT QUẢ BỘ CHỈ SỐ")
        gaps = unit_gaps(r.self_assessment)
        flagged = gaps[gaps.flagged]
        d.para(f"{fmt_int(r.self_assessment.unit_code.nunique())} đơn vị có tự đánh giá; {fmt_int(len(flagged))} đơn "
               "vị có tổng điểm tự đánh giá chênh lệch với kết quả tính từ dữ liệu vượt ngưỡng.")
        cols = {"unit_name": ("Đơn vị", "text"), "self_points": ("Tự đánh giá", "num"),
                "computed_points": ("Theo Bộ chỉ số", "num"), "gap": ("Chênh lệch", "num")}
        if len(flagged) > BODY_ROWS:
            where = d.appendix("Đơn vị tự đánh giá chênh lệch với kết quả", flagged, cols, [7.6, 2.8, 3.0, 2.3])
            d.para(f"Danh sách tại {where}.")
        elif len(flagged):
            d.table("Đơn vị tự đánh giá chênh lệch với kết quả", flagged, cols, [7.6, 2.8, 3.0, 2.3])
    # VI. officials
    if not r.review.empty:
        d.heading(f"{roman(next(sections))}. CÁN BỘ ĐỀ NGHỊ KHEN THƯỞNG, XEM XÉT TRÁCH NHIỆM")
        _officials(d, r)
    # proposals
    d.heading(f"{roman(next(sections))}. ĐỀ XUẤT, KIẾN NGHỊ")
    weak = ranked[ranked.grade == "YEU"]
    items = []
    if len(weak):
        items.append(f"Thủ trưởng {fmt_int(len(weak))} đơn vị xếp loại Yếu rà soát nguyên nhân, có giải pháp khắc phục "
                     "và báo cáo kết quả trong kỳ tới.")
    if len(lost):
        items.append("Tập trung cải thiện các chỉ số: " + ", ".join(f"“{x}”" for x in lost.metric_label.head(3)) + ".")
    if not insp.empty:
        items.append(f"Sở Nội vụ kiểm tra {fmt_int(len(insp))} đơn vị tại Bảng {insp_table}.")
    if not r.review.empty and r.review.decision.notna().any():
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


def _shortfalls(r: Report, ranked, handled, on_time, received, online, never) -> list[str]:
    """'Tồn tại, hạn chế': what falls short, in sentences with their figures."""
    out = []
    weak = {g: int(ranked.grade.eq(g).sum()) for g in ("YEU", "TRUNG_BINH")}
    if any(weak.values()):
        out.append(f"Còn {fmt_int(weak['YEU'])} đơn vị xếp loại Yếu và {fmt_int(weak['TRUNG_BINH'])} đơn vị xếp "
                   "loại Trung bình.")
    if handled > on_time:
        out.append(f"Còn {fmt_int(handled - on_time)} hồ sơ trễ hạn (tỷ lệ trễ hạn {_share(handled - on_time, handled)}).")
    if received and online / received < 0.5:
        out.append(f"Tỷ lệ hồ sơ nộp trực tuyến mới đạt {_share(online, received)}.")
    if never:
        out.append(f"{fmt_int(never)} hồ sơ chưa được đồng bộ lên Cổng Dịch vụ công quốc gia.")
    return out


def late_causes(late: pd.DataFrame, handled: int, top: int = 3) -> list[str]:
    """The late dossiers' causes in words, grouped — by state, by the step that overran, by how late, by
    procedure and by unit — each with its count and share of the late dossiers."""
    n = len(late)
    if not n:
        return []
    out = []
    open_ = int(late.is_open.fillna(False).astype(bool).sum())
    states = [(n - open_, "đã giải quyết nhưng quá hạn"), (open_, "đến cuối kỳ chưa giải quyết xong dù đã quá hạn")]
    out.append("Theo tình trạng: " + "; ".join(f"{fmt_int(c)} hồ sơ {t} ({_share(c, n)})" for c, t in states if c) + ".")
    steps = late.overrun_steps.dropna().str.split("; ").explode()
    steps = steps[steps.str.len() > 0].value_counts()
    if len(steps):
        none = n - int(late.overrun_steps.fillna("").str.len().gt(0).sum())
        out.append("Theo bước xử lý quá thời hạn của bước: " + "; ".join(
            f"bước “{s}” {fmt_int(c)} hồ sơ ({_share(c, n)})" for s, c in steps.head(top).items())
            + (f"; {fmt_int(none)} hồ sơ không có bước nào quá hạn được ghi nhận (chưa xử lý xong hoặc quá hạn ở "
               f"khâu trả kết quả)" if none else "") + ". Một hồ sơ có thể quá hạn ở nhiều bước.")
    wd = late.overdue_wd.fillna(0).astype(int)
    bands = [("dưới 1 ngày làm việc", wd.eq(0).sum()), ("từ 1 đến 5 ngày làm việc", wd.between(1, 5).sum()),
             ("trên 5 ngày làm việc", wd.gt(5).sum())]
    out.append("Theo mức độ trễ: " + "; ".join(f"{t} {fmt_int(c)} hồ sơ ({_share(c, n)})" for t, c in bands if c) + ".")
    procs = late.groupby("procedure_name").size().sort_values(ascending=False)
    if len(procs):
        out.append(f"Theo thủ tục: {fmt_int(len(procs))} thủ tục có hồ sơ trễ hạn, nhiều nhất là " + "; ".join(
            f"“{p}” {fmt_int(c)} hồ sơ ({_share(c, n)})" for p, c in procs.head(top).items()) + ".")
    units = late.groupby("unit_name").size().sort_values(ascending=False)
    if len(units) > 1:
        out.append(f"Theo đơn vị: {fmt_int(len(units))} đơn vị có hồ sơ trễ hạn, nhiều nhất là " + "; ".join(
            f"{u} {fmt_int(c)} hồ sơ ({_share(c, n)})" for u, c in units.head(top).items()) + ".")
    many = int(late.n_req.fillna(0).ge(2).sum()) if "n_req" in late else 0
    if many:
        out.append(f"Có {fmt_int(many)} hồ sơ trễ hạn đã yêu cầu người nộp bổ sung từ hai lần trở lên "
                   f"({_share(many, n)}).")
    return out


OFFICIAL_COLUMNS = {"full_name": ("Họ tên", "text"), "unit_name": ("Đơn vị", "text"), "index": ("Chỉ số cá nhân", "num"),
                    "dossiers_reviewed": ("Hồ sơ đã xử lý", "int"), "late_dossiers": ("Hồ sơ trễ hạn", "int"),
                    "late_rate": ("Tỷ lệ trễ hạn", "pct"), "months": ("Tháng được xếp loại", "text")}
NUMBERS = ("index", "dossiers_reviewed", "late_dossiers", "late_rate")
OFFICIAL_WIDTHS = [3.4, 3.5, 1.9, 1.9, 1.7, 2.2, 1.9]


def _officials(d: Decree30Document, r: Report) -> None:
    rv = r.review.assign(months=[f"{g}/{n}" for g, n in zip(r.review.months_graded, r.review.months_reviewed)])
    # ranked: the best index first to commend, the worst first to hold to account
    good = rv[rv.decision == COMMEND].sort_values(["index", "late_dossiers", "official_id"], ascending=[False, True, True])
    bad = rv[rv.decision == ACCOUNT].sort_values(["index", "official_id"])
    months = sorted({c.removeprefix("grade_") for c in rv.columns if c.startswith("grade_2") and "Q" not in c})
    span = ", ".join(f"{int(m[5:])}" for m in months) + f"/{months[-1][:4]}" if months else ""
    rules = r.review_rules or {}
    d.para(f"Xét {fmt_int(len(rv))} cán bộ có hồ sơ trong các tháng {span}: {fmt_int(len(good))} cán bộ được đề nghị "
           f"khen thưởng, {fmt_int(len(bad))} cán bộ xếp loại Yếu nhiều lần được đề nghị xem xét trách nhiệm."
           + (f" Điều kiện đề nghị khen thưởng: {commend_rule(rules)}." if rules else ""))
    for frame, title in ((good, "Cán bộ đề nghị khen thưởng"), (bad, "Cán bộ đề nghị xem xét trách nhiệm")):
        if frame.empty:
            continue
        if len(frame) > BODY_ROWS:
            where = d.appendix(title, frame, OFFICIAL_COLUMNS, OFFICIAL_WIDTHS, nowrap=NUMBERS)
            d.para(f"{title}: {fmt_int(len(frame))} cán bộ, danh sách tại {where}.")
        else:
            d.table(title, frame, OFFICIAL_COLUMNS, OFFICIAL_WIDTHS, nowrap=NUMBERS)
