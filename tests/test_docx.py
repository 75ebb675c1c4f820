"""The Word report (Decree 30/2020/NĐ-CP layout) reopened with python-docx: header table, title, summary
line, every figure in its tables equal to kpi.totals / kpi.self_assessment / kpi.official_review, no
applicant data; settings from kpi766.yaml with one-line errors."""
from __future__ import annotations

import re
import shutil

import pytest
from docx import Document

import kpi
from conftest import ROOT, run_kpi
from kpi.numbers import fmt_number
from kpi.store import connect

PERIOD = "2026-Q3"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    home = tmp_path_factory.mktemp("ws")
    (home / "data").mkdir()
    (home / "notebooks").mkdir()
    shutil.copy(ROOT / "kpi766.yaml", home / "kpi766.yaml")
    return home


@pytest.fixture(scope="module")
def docx_path(sample_store, workspace):
    r = run_kpi("report", "quarterly", "--period", PERIOD, "--docx", "--store", sample_store, "-q",
                env={"KPI_HOME": str(workspace)})
    assert r.returncode == 0, r.stderr
    path = workspace / "outputs" / PERIOD / f"bao-cao-766-{PERIOD}.docx"
    assert path.is_file() and str(path) in r.stdout
    return path


def _rows(table):
    return [[c.text.strip() for c in row.cells] for row in table.rows]


def test_decree_30_layout(docx_path):
    doc = Document(str(docx_path))
    sec = doc.sections[0]
    mm = lambda x: round(x.mm, 1)   # noqa: E731 — stored in twentieths of a point
    assert (mm(sec.page_width), mm(sec.page_height)) == (210, 297)
    assert 20 <= mm(sec.top_margin) <= 25 and 20 <= mm(sec.bottom_margin) <= 25
    assert 30 <= mm(sec.left_margin) <= 35 and 15 <= mm(sec.right_margin) <= 20
    normal = doc.styles["Normal"].font
    assert normal.name == "Times New Roman" and 13 <= normal.size.pt <= 14
    head = _rows(doc.tables[0])
    assert head[0][0].splitlines()[:2] == ["ỦY BAN NHÂN DÂN TỈNH TÂY NINH", "VĂN PHÒNG"]
    assert head[0][1].splitlines()[:2] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
    assert re.fullmatch(r"Số:\s+/BC-VP", head[1][0])
    assert re.fullmatch(r"Tây Ninh, ngày\s+tháng\s+năm 2026", head[1][1])
    texts = [p.text for p in doc.paragraphs]
    i = texts.index("BÁO CÁO")
    assert texts[i + 1] == ("Kết quả thực hiện Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, "
                            "doanh nghiệp quý III năm 2026")
    # every run of the body in Times New Roman; the title bold
    title = doc.paragraphs[i]
    assert all(run.bold for run in title.runs)
    body, appendix = _body_and_appendix(doc)
    sig = _rows(doc.tables[1 + len(body)])[0]
    assert sig[0].startswith("Nơi nhận:") and "- Lưu: VT, KSTT." in sig[0]
    assert "KT. CHÁNH VĂN PHÒNG" in sig[1] and "PHÓ CHÁNH VĂN PHÒNG" in sig[1]
    captions = [t for t in texts if t.startswith("Bảng ")]
    assert [int(c.split(".")[0].split()[1]) for c in captions] == list(range(1, len(captions) + 1))
    assert len(captions) == len(body)       # the header, the signature and the appendices' tables are not numbered


def _body_and_appendix(doc):
    """The body's tables (between the header and the signature) and the appendices' tables after it."""
    sig = next(i for i, t in enumerate(doc.tables) if _rows(t)[0][0].startswith("Nơi nhận:"))
    return doc.tables[1:sig], doc.tables[sig + 1:]


def test_every_figure_equals_the_api(docx_path, sample_store):
    doc = Document(str(docx_path))
    t = kpi.totals(PERIOD, store=sample_store)
    by_name = t[t.level != "province"].set_index("unit_name")
    assert by_name.index.is_unique
    body, appendix = _body_and_appendix(doc)
    checked = 0
    for table in body + appendix:
        rows = _rows(table)
        head = rows[0]
        if "Đơn vị" in head and "Tổng điểm" in head:
            change = next(h for h in head if h.startswith("Tăng (+), giảm (−) so với "))
            assert change.endswith("quý II/2026")
            for row in rows[1:]:
                rec = dict(zip(head, row))
                u = by_name.loc[rec["Đơn vị"]]
                assert rec["Tổng điểm"] == fmt_number(u.total)
                assert rec["Xếp loại"] == u.grade_label
                assert rec["Hạng"] == str(u.rank_in_level)
                assert rec[change] == fmt_number(u.change)
                checked += 1
        if head[0] == "Nhóm chỉ số":
            prov = t[t.level == "province"].iloc[0]
            from kpi.labels import GROUPS
            by_label = {v: k for k, v in GROUPS.items()}
            for row in rows[1:-1]:
                assert row[1] == fmt_number(prov[f"group_{by_label[row[0]]}"])
                checked += 1
            # the total row is the sum of the printed groups, and the printed total
            assert rows[-1][0] == "Tổng cộng" and rows[-1][1] == fmt_number(prov.total)
            parts = [float(r[1].replace(".", "").replace(",", ".")) for r in rows[1:-1]]
            assert rows[-1][1] == fmt_number(round(sum(parts), 2))
        if "Tự đánh giá" in head:
            sa = kpi.self_assessment(PERIOD, store=sample_store)
            tot = sa[sa.item_code == "TONG"].set_index("unit_name")
            for row in rows[1:]:
                rec = dict(zip(head, row))
                x = tot.loc[rec["Đơn vị"]]
                assert bool(x.flagged)
                assert (rec["Tự đánh giá"], rec["Theo Bộ chỉ số"], rec["Chênh lệch"]) == (
                    fmt_number(x.self_points), fmt_number(x.computed_points), fmt_number(x.gap))
                checked += 1
    ranked = t[t["rank"].notna() & t.level.isin(["department", "commune", "district"])]
    assert checked >= len(ranked) + 6
    texts = "\n".join(p.text for p in doc.paragraphs)
    prov = t[t.level == "province"].iloc[0]
    assert f"đạt {fmt_number(prov.total)}/100 điểm, xếp loại {prov.grade_label}" in texts
    review = kpi.official_review(PERIOD, store=sample_store)
    names = {row[0] for table in doc.tables if _rows(table)[0][:2] == ["Họ tên", "Đơn vị"] for row in _rows(table)[1:]}
    assert names == set(review[review.decision.notna()].full_name)


def test_no_unit_codes_or_internal_words_in_the_document(docx_path, sample_store):
    doc = Document(str(docx_path))
    codes = set(kpi.totals(PERIOD, store=sample_store).unit_code)
    cells = {c.text.strip() for t in doc.tables for row in t.rows for c in row.cells}
    texts = "\n".join(p.text for p in doc.paragraphs)
    assert not codes & cells
    assert not [c for c in codes if re.search(rf"\b{re.escape(c)}\b", texts)]
    for word in ("dvcqg-2026", "kpi ", "review.", "CKMB", "TDGQ", " hs)", "(hẹn trả", "Văn phòng báo cáo",
                 "mọi tháng của kỳ"):
        assert word not in texts, word
    assert "Văn phòng Ủy ban nhân dân tỉnh Tây Ninh báo cáo kết quả quý III năm 2026" in texts


def test_section_one_leads_with_the_dossiers(docx_path, sample_store):
    """Received, online, handled, on time, late, never synced — equal to the province's figures."""
    from kpi.numbers import fmt_int
    doc = Document(str(docx_path))
    texts = "\n".join(p.text for p in doc.paragraphs)
    s = kpi.scores(PERIOD, store=sample_store)
    prov = kpi.totals(PERIOD, store=sample_store).query("level == 'province'").unit_code.iloc[0]
    s = s[s.unit_code == prov].set_index("metric_code")
    on, ot = s.loc["ONLINE_SUBMISSION"], s.loc["ON_TIME"]
    assert f"tiếp nhận {fmt_int(on.denominator)} hồ sơ, trong đó {fmt_int(on.numerator)} hồ sơ nộp trực tuyến" in texts
    assert (f"là {fmt_int(ot.denominator)} hồ sơ: {fmt_int(ot.numerator)} hồ sơ giải quyết đúng hạn hoặc chưa đến hạn"
            in texts)
    assert f"{fmt_int(ot.denominator - ot.numerator)} hồ sơ trễ hạn." in texts
    con = connect(sample_store, read_only=True)
    never = con.execute("SELECT count(*) FROM dossiers WHERE received_at >= '2026-07-01' AND received_at < "
                        "'2026-10-01' AND (synced_at IS NULL OR synced_at >= '2026-10-01')").fetchone()[0]
    con.close()
    assert f"Có {fmt_int(never)} hồ sơ tiếp nhận trong kỳ chưa được đồng bộ lên Cổng Dịch vụ công quốc gia" in texts
    heads = [p.text for p in doc.paragraphs if p.runs and all(r.bold for r in p.runs)]
    assert "III. TỒN TẠI, HẠN CHẾ VÀ NGUYÊN NHÂN" in heads and "1. Tồn tại, hạn chế" in heads
    # the causes in words, grouped, each with its count and share
    causes = [p.text for p in doc.paragraphs if p.text.startswith("- Theo ")]
    assert [c.split(":")[0] for c in causes] == ["- Theo tình trạng", "- Theo bước xử lý quá thời hạn của bước",
                                                  "- Theo mức độ trễ", "- Theo thủ tục", "- Theo đơn vị"]
    assert [c for c in causes if not re.search(r"[\d.]+ hồ sơ[^()]*\(\d+,\d\d%\)", c)] == []


def test_page_numbers_repeated_headers_keep_together_and_appendix(docx_path):
    from docx.oxml.ns import qn
    doc = Document(str(docx_path))
    sec = doc.sections[0]
    # Decree 30: a PAGE field top centre, from page 2 (the first page's header is empty)
    assert sec.different_first_page_header_footer
    head = sec.header.paragraphs[0]
    assert head.alignment == 1 and " PAGE " in [e.text for e in head._p.iter(qn("w:instrText"))]
    assert not "".join(p.text for p in sec.first_page_header.paragraphs).strip()
    body, appendix = _body_and_appendix(doc)
    assert appendix, "the long lists go to appendices"
    for t in body + appendix:
        rows = t.rows
        assert rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None          # repeats on each page
        assert all(r._tr.trPr.find(qn("w:cantSplit")) is not None for r in rows)   # no row split
        assert all(p.paragraph_format.keep_with_next for c in rows[0].cells for p in c.paragraphs)
    for t in body:
        assert len(t.rows) - 1 <= 14, "a long list belongs in an appendix"
    captions = [p for p in doc.paragraphs if p.text.startswith("Bảng ")]
    assert captions and all(p.paragraph_format.keep_with_next for p in captions)
    texts = [p.text for p in doc.paragraphs]
    # each appendix starts a page, after the signature, and the body cites it
    apps = [p for p in doc.paragraphs if re.fullmatch(r"Phụ lục [IVX]+", p.text)]
    assert [p.text for p in apps] == [f"Phụ lục {x}" for x in ("I", "II", "III", "IV", "V")[:len(apps)]]
    assert len(apps) == len(appendix) and all(p.paragraph_format.page_break_before for p in apps)
    body_text = "\n".join(texts[:texts.index(apps[0].text)])
    assert all(f"tại {p.text}" in body_text for p in apps)
    # the closing paragraph stays with the signature
    closing = [p for p in doc.paragraphs if p.text.startswith("Trên đây là báo cáo")]
    assert closing and closing[0].paragraph_format.keep_with_next
    # 'Trung bình' never wraps in a grade column
    for t in body + appendix:
        head = [c.text for c in t.rows[0].cells]
        if "Xếp loại" in head:
            i = head.index("Xếp loại")
            assert all(r.cells[i]._tc.tcPr.find(qn("w:noWrap")) is not None for r in t.rows[1:])


def test_no_applicant_data(docx_path, sample_store):
    import zipfile
    xml = "".join(zipfile.ZipFile(docx_path).read(n).decode("utf-8", "ignore")
                  for n in zipfile.ZipFile(docx_path).namelist() if n.endswith(".xml"))
    con = connect(sample_store, read_only=True)
    personal = con.execute("SELECT applicant_id_number, applicant_phone, applicant_address FROM dossiers").fetchall()
    staff = {r[0] for r in con.execute("SELECT full_name FROM officials UNION SELECT owner_name FROM owners").fetchall()}
    applicants = {r[0] for r in con.execute("SELECT applicant_name FROM dossiers").fetchall()} - staff
    con.close()
    values = {v for row in personal for v in row if v} | {a for a in applicants if a}
    assert values and not [v for v in values if v in xml]


def test_settings_errors_are_one_line(sample_store, tmp_path):
    bad = tmp_path / "kpi766.yaml"
    bad.write_text("co_quan_ban_hanh: Văn phòng\nnoi_nhan:\n  - Lưu: VT\n", encoding="utf-8")
    for settings, words in ((tmp_path / "none.yaml", "không có tệp"), (bad, "thiếu 'co_quan_chu_quan'")):
        r = run_kpi("report", "quarterly", "--period", PERIOD, "--docx", "--store", sample_store, "-q",
                    "--settings", settings, "--out", tmp_path / "x.docx")
        assert r.returncode == 2 and words in r.stderr and str(settings) in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.docx").exists()
    bad.write_text(bad.read_text(encoding="utf-8").replace("noi_nhan", "co_quan_chu_quan: UBND\nky_hieu: VP\n"
                                                           "dia_danh: X\nchuc_vu_nguoi_ky: CVP\nnoi_nhan"), encoding="utf-8")
    r = run_kpi("report", "quarterly", "--period", PERIOD, "--docx", "--store", sample_store, "-q",
                "--settings", bad, "--out", tmp_path / "x.docx")
    assert r.returncode == 2 and "ngoặc kép" in r.stderr


def test_quarterly_without_a_period_takes_the_last_complete_quarter(sample_store, workspace, tmp_path):
    """The data runs to 20/11/2026 with October complete: the last complete quarter is Q3, not Q4."""
    out = tmp_path / "q.docx"
    r = run_kpi("report", "quarterly", "--docx", "--store", sample_store, "-q", "--out", out,
                env={"KPI_HOME": str(workspace)})
    assert r.returncode == 0, r.stderr
    assert "kỳ 2026-Q3" in r.stdout
    assert any(p.text.endswith("quý III năm 2026") for p in Document(str(out)).paragraphs)


def test_every_printed_total_is_the_sum_of_its_printed_parts(sample_store, docx_path):
    """The portal's method: a group is the sum of its metrics' published (rounded) points, the total the sum
    of the groups — for every unit and period kind, so no table can print 75,36 of groups under 75,37."""
    from kpi.numbers import round_half_up
    groups = ("CKMB", "TDGQ", "DVCTT", "TTTT", "MDSH", "MDHL")
    for period in ("2026-09", PERIOD):
        t = kpi.totals(period, store=sample_store)
        s = kpi.scores(period, store=sample_store)
        s = s[s.max_points > 0]
        for u in t.itertuples():
            shown = [round_half_up(float(getattr(u, f"group_{g}")), 2) for g in groups]
            assert round_half_up(float(u.total), 2) == round_half_up(sum(shown), 2), (period, u.unit_code)
            mine = s[s.unit_code == u.unit_code]
            for g in groups:
                parts = [round_half_up(float(p), 2) for p in mine[mine.group_code == g].points.fillna(0)]
                assert round_half_up(min(sum(parts), 10.0 if g == "TTTT" else 1e9), 2) == \
                    round_half_up(float(getattr(u, f"group_{g}")), 2), (period, u.unit_code, g)
    # and the document's own counts: the grade counts of section I add up to the units graded
    texts = "\n".join(p.text for p in Document(str(docx_path)).paragraphs)
    m = re.search(r"Có ([\d.]+) đơn vị được đánh giá: ([^.]+)\.", texts)
    parts = [int(x.replace(".", "")) for x in re.findall(r"([\d.]+) đơn vị", m.group(2))]
    assert sum(parts) == int(m.group(1).replace(".", ""))


def test_a_communes_own_report_has_no_empty_sections(sample_store, workspace, tmp_path):
    """A commune has no units below it: no 'results of the units' heading with nothing under it, no proposal
    to inspect itself, no 'of 1 unit graded: 1 Tốt'; the sections stay numbered I, II, III… in order."""
    con = connect(sample_store, read_only=True)
    commune = con.execute("SELECT d.unit_code FROM dossiers d JOIN units u USING (unit_code) WHERE u.level = 'commune' "
                          "AND u.valid_to IS NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    con.close()
    out = tmp_path / "u.docx"
    r = run_kpi("report", "unit", "--unit", commune, "--period", PERIOD, "--docx", "--store", sample_store, "-q",
                "--out", out, env={"KPI_HOME": str(workspace)})
    assert r.returncode == 0, r.stderr
    texts = [p.text for p in Document(str(out)).paragraphs]
    heads = [t for t in texts if re.match(r"[IVX]+\. [A-ZĐ]", t)]
    assert [h.split(".")[0] for h in heads] == ["I", "II", "III", "IV", "V", "VI"][:len(heads)]
    assert not [h for h in heads if "KẾT QUẢ CỦA CÁC ĐƠN VỊ" in h or "ĐỀ NGHỊ KIỂM TRA" in h]
    body = "\n".join(texts)
    assert "đơn vị được đánh giá" not in body and "- Theo đơn vị" not in body
