"""The report as an administrative document (Decree 30/2020/NĐ-CP, Appendix I): A4, Times New Roman,
the decree's margins, the header table, "BÁO CÁO" and its summary line, a body drafted from the data
with numbered tables, "Nơi nhận:" and the signature block. The issuing body, place and signer come from
the workspace settings (kpi766.yaml). No applicant data: the body is built from totals, scores and the
officials' review only."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import labels
from ..fs import atomic_path
from ..periods import Period
from .content import Report
from .fmt import CONTROL, fmt_int, fmt_number, fmt_pct

FONT = "Times New Roman"
BODY_PT, HEAD_PT, TABLE_PT, RECIPIENT_PT = 14, 13, 13, 11
MARGINS_MM = {"top": 20, "bottom": 20, "left": 30, "right": 15}     # the decree: 20–25, 20–25, 30–35, 15–20
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
SUMMARY = "Kết quả thực hiện Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp"


def period_words(p: Period) -> str:
    """quý III năm 2026 · tháng 9 năm 2026 · năm 2026 · 6 tháng đầu năm 2026."""
    if p.kind == "quarter":
        return f"quý {ROMAN[(p.start.month + 2) // 3]} năm {p.start.year}"
    if p.kind == "month":
        return f"tháng {p.start.month} năm {p.start.year}"
    if p.kind == "year":
        return f"năm {p.start.year}"
    if p.kind == "half":
        return f"6 tháng {'đầu' if p.start.month == 1 else 'cuối'} năm {p.start.year}"
    if p.kind == "9m":
        return f"9 tháng năm {p.start.year}"
    return f"từ ngày {p.start:%d/%m/%Y} đến ngày {p.last:%d/%m/%Y}"


def summary_line(p: Period) -> str:
    return f"{SUMMARY} {period_words(p)}"


class _Doc:
    """A python-docx document with the decree's page, fonts and numbered tables."""

    def __init__(self):
        from docx import Document
        from docx.shared import Mm, Pt
        self.doc = Document()
        sec = self.doc.sections[0]
        sec.page_width, sec.page_height = Mm(210), Mm(297)
        sec.top_margin, sec.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
        sec.left_margin, sec.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
        normal = self.doc.styles["Normal"]
        normal.font.name, normal.font.size = FONT, Pt(BODY_PT)
        self._east_asian(normal.element)
        pf = normal.paragraph_format
        pf.space_before, pf.space_after, pf.line_spacing = Pt(0), Pt(6), 1.15
        self.tables = 0

    @staticmethod
    def _east_asian(element) -> None:
        from docx.oxml.ns import qn
        rpr = element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(attr), FONT)

    def para(self, text: str = "", *, bold=False, italic=False, size=None, align=None, indent=True, container=None,
             upper=False, space_after=None):
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Cm, Pt
        target = container if container is not None else self.doc
        text = CONTROL.sub("", text)          # characters a document cannot hold (a name with '\x1b')
        p = target.add_paragraph()
        if text:
            run = p.add_run(text.upper() if upper else text)
            run.bold, run.italic = bold, italic
            run.font.name = FONT
            if size:
                run.font.size = Pt(size)
        p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT,
                       "left": WD_ALIGN_PARAGRAPH.LEFT}.get(align, WD_ALIGN_PARAGRAPH.JUSTIFY)
        if indent and align is None:
            p.paragraph_format.first_line_indent = Cm(1.27)
        if space_after is not None:
            p.paragraph_format.space_after = Pt(space_after)
        return p

    def rule(self, container, width_cm: float, cell_cm: float) -> None:
        """A short horizontal line under a centred heading: an empty paragraph's bottom border, indented."""
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Cm, Pt
        p = container.add_paragraph()
        side = max(0.0, (cell_cm - width_cm) / 2)
        p.paragraph_format.left_indent = p.paragraph_format.right_indent = Cm(side)
        p.paragraph_format.space_after = Pt(2)
        p.paragraph_format.line_spacing = Pt(2)
        ppr = p._p.get_or_add_pPr()
        border = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for k, v in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
            bottom.set(qn(k), v)
        border.append(bottom)
        ppr.append(border)

    def heading(self, text: str) -> None:
        self.para(text, bold=True, indent=False, align="left", space_after=6)

    def table(self, title: str, frame: pd.DataFrame, columns: dict, widths_cm: list[float] | None = None) -> None:
        """A numbered table: 'Bảng n. title', then a bordered grid. columns: source → (header, format)."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Pt
        self.tables += 1
        self.para(f"Bảng {self.tables}. {title}", bold=True, indent=False, align="center", size=TABLE_PT,
                  space_after=3)
        t = self.doc.add_table(rows=1, cols=len(columns))
        t.style = "Table Grid"
        for i, (header, _) in enumerate(columns.values()):
            cell = t.rows[0].cells[i]
            cell.text = ""
            run = cell.paragraphs[0].add_run(CONTROL.sub("", header))
            run.bold, run.font.size, run.font.name = True, Pt(TABLE_PT), FONT
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        fmts = {"num": fmt_number, "int": fmt_int, "pct": fmt_pct,
                "text": lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)}
        for rec in frame.to_dict("records"):
            cells = t.add_row().cells
            for i, (col, (_, kind)) in enumerate(columns.items()):
                p = cells[i].paragraphs[0]
                run = p.add_run(CONTROL.sub("", fmts[kind](rec.get(col))))
                run.font.size, run.font.name = Pt(TABLE_PT), FONT
                p.paragraph_format.space_after = Pt(0)
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if kind in ("num", "int", "pct") else WD_ALIGN_PARAGRAPH.LEFT
        if widths_cm:
            widths(t, widths_cm)
        self.para("", space_after=0, indent=False)


def widths(t, widths_cm: list[float]) -> None:
    """Fixed column widths, in the grid (what LibreOffice reads) and in every cell (what Word reads)."""
    from docx.shared import Cm
    t.autofit = False
    for col, w in zip(t.columns, widths_cm):
        col.width = Cm(w)
    for row in t.rows:
        for cell, w in zip(row.cells, widths_cm):
            cell.width = Cm(w)


TEXT_WIDTH_CM = 21.0 - (MARGINS_MM["left"] + MARGINS_MM["right"]) / 10


def _header(d: _Doc, settings: dict, p: Period) -> None:
    """The decree's header: issuing body under its parent (left), the national title and motto (right),
    'Số: …/BC-…' and '<place>, ngày … tháng … năm …' left blank to fill in."""
    left_w, right_w = 6.3, TEXT_WIDTH_CM - 6.3
    t = d.doc.add_table(rows=2, cols=2)
    widths(t, [left_w, right_w])
    left, right = t.rows[0].cells
    left.paragraphs[0].text = ""
    _cell_text(d, left, settings["co_quan_chu_quan"].upper(), bold=False, size=12)
    _cell_text(d, left, settings["co_quan_ban_hanh"].upper(), bold=True)
    d.rule(left, 2.2, left_w)
    _cell_text(d, right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=HEAD_PT - 1)
    _cell_text(d, right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=BODY_PT)
    d.rule(right, 6.0, right_w)
    num, date = t.rows[1].cells
    _cell_text(d, num, f"Số:        /BC-{settings['ky_hieu']}", bold=False)
    _cell_text(d, date, f"{settings['dia_danh']}, ngày     tháng     năm {p.last.year if p.kind != 'month' else p.start.year}",
               italic=True, size=BODY_PT)
    for cell in (left, right, num, date):
        if not cell.paragraphs[0].text:
            cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)


def _cell_text(d: _Doc, cell, text, bold=False, italic=False, size=HEAD_PT):
    p = d.para(text, bold=bold, italic=italic, size=size, align="center", container=cell, space_after=0)
    return p


def _signature(d: _Doc, settings: dict) -> None:
    """'Nơi nhận:' on the left (12 pt bold italic, the list 11 pt), the signer on the right."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt
    t = d.doc.add_table(rows=1, cols=2)
    widths(t, [8.0, TEXT_WIDTH_CM - 8.0])
    from docx.oxml import OxmlElement
    t.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))   # the block stays on one page
    left, right = t.rows[0].cells
    left.paragraphs[0]._p.getparent().remove(left.paragraphs[0]._p)
    right.paragraphs[0]._p.getparent().remove(right.paragraphs[0]._p)
    d.para("Nơi nhận:", bold=True, italic=True, size=12, align="left", container=left, space_after=0)
    for x in settings["noi_nhan"]:
        d.para(f"- {x}", size=RECIPIENT_PT, align="left", container=left, space_after=0)
    if settings["quyen_han_ky"]:
        _cell_text(d, right, settings["quyen_han_ky"].upper(), bold=True, size=BODY_PT)
    _cell_text(d, right, settings["chuc_vu_nguoi_ky"].upper(), bold=True, size=BODY_PT)
    for _ in range(4):
        _cell_text(d, right, "", size=BODY_PT)
    _cell_text(d, right, settings["nguoi_ky"] or "", bold=True, size=BODY_PT)
    for p in right.paragraphs:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.space_after = Pt(0)


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
    d = _Doc()
    _header(d, settings, p)
    d.para("", indent=False, space_after=0)
    d.para("BÁO CÁO", bold=True, align="center", size=BODY_PT, space_after=0)
    d.para(summary_line(p), bold=True, align="center", size=BODY_PT, space_after=0)
    d.rule(d.doc, 4.0, TEXT_WIDTH_CM)
    _body(d, r, settings)
    _signature(d, settings)
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


def _body(d: _Doc, r: Report, settings: dict) -> None:
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
        from ..review import unit_gaps
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
        from ..review import ACCOUNT, COMMEND
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

