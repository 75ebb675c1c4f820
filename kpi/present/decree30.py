"""An administrative document in the layout of Decree 30/2020/NĐ-CP, Appendix I: A4, Times New Roman, the
decree's margins, the header table (issuing body, national title, number and date), paragraphs, numbered
tables and the "Nơi nhận:" and signature block. Text and frames in, a python-docx document out; what the
report says is drafted in kpi.report.docx."""
from __future__ import annotations


import pandas as pd

from kpi.periods import Period
from kpi.numbers import CONTROL, fmt_int, fmt_number, fmt_pct

FONT = "Times New Roman"
BODY_PT, HEAD_PT, TABLE_PT, RECIPIENT_PT = 14, 13, 13, 11
MARGINS_MM = {"top": 20, "bottom": 20, "left": 30, "right": 15}     # the decree: 20–25, 20–25, 30–35, 15–20


def roman(n: int) -> str:
    """1 → I … 39 → XXXIX (section and appendix numbers)."""
    out = ""
    for value, sym in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + sym, n - value
    return out


SUMMARY = "Kết quả thực hiện Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp"


def period_words(p: Period) -> str:
    """quý III năm 2026 · tháng 9 năm 2026 · năm 2026 · 6 tháng đầu năm 2026."""
    if p.kind == "quarter":
        return f"quý {roman((p.start.month + 2) // 3)} năm {p.start.year}"
    if p.kind == "month":
        return f"tháng {p.start.month} năm {p.start.year}"
    if p.kind == "year":
        return f"năm {p.start.year}"
    if p.kind == "half":
        return f"6 tháng {'đầu' if p.start.month == 1 else 'cuối'} năm {p.start.year}"
    if p.kind == "9m":
        return f"9 tháng năm {p.start.year}"
    return f"từ ngày {p.start:%d/%m/%Y} đến ngày {p.last:%d/%m/%Y}"


def short_words(p: Period) -> str:
    """tháng 9/2026 · quý II/2026 · năm 2025 (a comparison's other side)."""
    if p.kind == "quarter":
        return f"quý {roman((p.start.month + 2) // 3)}/{p.start.year}"
    if p.kind == "month":
        return f"tháng {p.start.month}/{p.start.year}"
    return period_words(p)


def summary_line(p: Period) -> str:
    return f"{SUMMARY} {period_words(p)}"


class Decree30Document:
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
        self.appendices: list[tuple] = []     # long lists, written after the signature (Phụ lục I, II, …)

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

    def table(self, title: str | None, frame: pd.DataFrame, columns: dict, widths_cm: list[float] | None = None,
              total: dict | None = None, nowrap: tuple[str, ...] = ()) -> None:
        """A numbered table: 'Bảng n. title' (none when title is None: an appendix's table is titled by the
        appendix), then a bordered grid whose header row repeats on every page it runs onto. No row splits
        across pages; the title stays with the header row and the first rows, and a short table stays whole.
        columns: source → (header, format); total: a last row in bold (column → value); nowrap: columns
        whose text must not wrap (a grade)."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Pt
        if title is not None:
            self.tables += 1
            cap = self.para(f"Bảng {self.tables}. {title}", bold=True, indent=False, align="center", size=TABLE_PT,
                            space_after=3)
            cap.paragraph_format.keep_with_next = True
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
        records = frame.to_dict("records") + ([total] if total else [])
        for k, rec in enumerate(records):
            cells = t.add_row().cells
            last_total = total is not None and k == len(records) - 1
            for i, (col, (_, kind)) in enumerate(columns.items()):
                p = cells[i].paragraphs[0]
                run = p.add_run(CONTROL.sub("", fmts[kind](rec.get(col))))
                run.font.size, run.font.name = Pt(TABLE_PT), FONT
                run.bold = last_total
                p.paragraph_format.space_after = Pt(0)
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if kind in ("num", "int", "pct") else WD_ALIGN_PARAGRAPH.LEFT
                if col in nowrap:
                    _no_wrap(cells[i])
        keep_rows(t, whole=len(t.rows) <= KEEP_WHOLE_ROWS)
        if widths_cm:
            widths(t, widths_cm)
        self.para("", space_after=0, indent=False)

    def appendix(self, title: str, frame: pd.DataFrame, columns: dict, widths_cm: list[float] | None = None,
                 **kw) -> str:
        """A long list (every commune, every official) goes to an appendix after the signature, so the body
        stays a few pages; returns its name ('Phụ lục I') for the body to cite."""
        self.appendices.append((title, frame, columns, widths_cm, kw))
        return f"Phụ lục {roman(len(self.appendices))}"

    def write_appendices(self, of_report: str) -> None:
        """Each appendix on a new page: 'Phụ lục I', its title, '(Kèm theo …)', its table."""
        for i, (title, frame, columns, widths_cm, kw) in enumerate(self.appendices, 1):
            head = self.para(f"Phụ lục {roman(i)}", bold=True, align="center", size=BODY_PT, space_after=0)
            head.paragraph_format.page_break_before = True
            self.para(title.upper(), bold=True, align="center", size=BODY_PT, space_after=0)
            self.para(f"(Kèm theo {of_report})", italic=True, align="center", size=BODY_PT, space_after=6)
            self.table(None, frame, columns, widths_cm, **kw)

    def page_numbers(self) -> None:
        """Decree 30: page numbers in Arabic numerals, top centre, from the second page (none on the first)."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        sec = self.doc.sections[0]
        sec.different_first_page_header_footer = True
        p = sec.header.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        field(p, "PAGE", size=BODY_PT)


KEEP_WHOLE_ROWS = 14          # a table this short is kept on one page; a longer one keeps its header and first rows


def keep_rows(t, whole: bool) -> None:
    """Every row unsplittable; the header row marked to repeat on each page; the header row (and the first two
    rows, or every row of a short table) kept with the next, so a header is never stranded at a page foot."""
    from docx.oxml import OxmlElement
    for i, row in enumerate(t.rows):
        tr = row._tr.get_or_add_trPr()
        tr.append(OxmlElement("w:cantSplit"))
        if i == 0:
            tr.append(OxmlElement("w:tblHeader"))
        if i < len(t.rows) - 1 and (whole or i <= 2):
            for cell in row.cells:
                for p in cell.paragraphs:
                    p.paragraph_format.keep_with_next = True


def _no_wrap(cell) -> None:
    from docx.oxml import OxmlElement
    cell._tc.get_or_add_tcPr().append(OxmlElement("w:noWrap"))


def field(paragraph, code: str, size: float) -> None:
    """A Word field (PAGE, NUMPAGES) in a paragraph: begin, instruction, separate, a placeholder, end."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    def run_with(el):
        r = paragraph.add_run()
        r.font.name, r.font.size = FONT, Pt(size)
        r._r.append(el)
        return r
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {code} "
    run_with(instr)
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run_with(sep)
    shown = paragraph.add_run("2")
    shown.font.name, shown.font.size = FONT, Pt(size)
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


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


def header_block(d: Decree30Document, settings: dict, p: Period) -> None:
    """The decree's header: issuing body under its parent (left), the national title and motto (right),
    'Số: …/BC-…' and '<place>, ngày … tháng … năm …' left blank to fill in."""
    left_w, right_w = 6.3, TEXT_WIDTH_CM - 6.3
    t = d.doc.add_table(rows=2, cols=2)
    widths(t, [left_w, right_w])
    left, right = t.rows[0].cells
    left.paragraphs[0].text = ""
    cell_text(d, left, settings["co_quan_chu_quan"].upper(), bold=False, size=12)
    cell_text(d, left, settings["co_quan_ban_hanh"].upper(), bold=True)
    d.rule(left, 2.2, left_w)
    cell_text(d, right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=HEAD_PT - 1)
    cell_text(d, right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=BODY_PT)
    d.rule(right, 6.0, right_w)
    num, date = t.rows[1].cells
    cell_text(d, num, f"Số:        /BC-{settings['ky_hieu']}", bold=False)
    cell_text(d, date, f"{settings['dia_danh']}, ngày     tháng     năm {p.last.year if p.kind != 'month' else p.start.year}",
               italic=True, size=BODY_PT)
    for cell in (left, right, num, date):
        if not cell.paragraphs[0].text:
            cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)


def cell_text(d: Decree30Document, cell, text, bold=False, italic=False, size=HEAD_PT):
    p = d.para(text, bold=bold, italic=italic, size=size, align="center", container=cell, space_after=0)
    return p


def signature_block(d: Decree30Document, settings: dict) -> None:
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
        cell_text(d, right, settings["quyen_han_ky"].upper(), bold=True, size=BODY_PT)
    cell_text(d, right, settings["chuc_vu_nguoi_ky"].upper(), bold=True, size=BODY_PT)
    for _ in range(4):
        cell_text(d, right, "", size=BODY_PT)
    cell_text(d, right, settings["nguoi_ky"] or "", bold=True, size=BODY_PT)
    for p in right.paragraphs:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.space_after = Pt(0)
