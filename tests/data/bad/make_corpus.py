"""Writes the hostile-input corpus (run once; the files are committed). Each file is described in
MANIFEST.csv with what must happen when it is loaded into the hand-worked store
(tests/data/handworked: units P, D1, C1, C2; procedure PR1; dossier D1-A …)."""
import csv
import io
import re
import unicodedata
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DH = "dossier_code,procedure_code,unit_code,channel,received_at,due_at,finished_at,status,fee_amount,e_result\n"


def row(code, received="2026-08-03 09:00", due="2026-08-10 09:00", finished="", fee="0", status="processing",
        unit="D1", proc="PR1", e_result="0"):
    return f"{code},{proc},{unit},1,{received},{due},{finished},{status},{fee},{e_result}\n"


TONES = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: the letter with its vowel mark precomposed, the tone mark after it."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in d if c not in TONES))
            out += base.encode("cp1258") + "".join(c for c in d if c in TONES).encode("cp1258")
    return out


FILES = []   # (name, bytes, description, expect, count, fragment)


def add(name, data, description, expect, count=0, fragment=""):
    if isinstance(data, str):
        data = data.encode("utf-8")
    FILES.append((name, data, description, expect, count, fragment))


UH = "unit_code,unit_name,parent_code,level\n"
add("dossiers_utf8_bom.csv", b"\xef\xbb\xbf" + (DH + row("B01")).encode(), "UTF-8 with BOM", "load", 1)
add("units_cp1258.csv", cp1258(UH + "X01,UBND xã Hòa Thành Mới,P,commune\n"), "Windows-1258 export", "load", 1)
add("units_utf16.csv", (UH + "X02,Phường Mười Sáu,P,commune\n").encode("utf-16"), "UTF-16 with BOM", "load", 1)
add("units_mixed_encoding.csv", (UH + "X03,UBND xã Tân Phú Đông,P,commune\nX04,UBND xã Long Hựu,P,commune\n").encode()
    + cp1258("X05,UBND xã Hòa Hội,P,commune\n"), "UTF-8 file with one Windows-1258 line", "reject", 0, "trộn lẫn bảng mã")
add("dossiers_header_only.csv", DH, "header only, no rows", "load", 0)
add("dossiers_empty.csv", b"", "empty file", "reject", 0, "rỗng")
add("dossiers_missing_column.csv", "dossier_code,unit_code,received_at,status\nB02,D1,2026-08-03,received\n",
    "required column procedure_code missing", "reject", 0, "thiếu cột bắt buộc")
add("units_extra_columns.csv", "unit_code,unit_name,parent_code,level,ghi_chu,so_dien_thoai\nX06,Xã Thêm Cột,P,commune,abc,0900\n",
    "unknown extra columns are ignored and named", "load", 1, "bỏ qua các cột")
add("dossiers_day_month.csv", DH + row("B03", received="03/08/2026 09:00", due="10/08/2026 09:00"),
    "03/08/2026 is 3 August (day first), not 8 March", "load", 1)
add("dossiers_excel_serial.csv", DH + row("B04", received="46237.375", due="46244.375"),
    "Excel serial dates", "load", 1)
add("dossiers_future.csv", DH + row("B05", received="2031-01-01 09:00", due="2031-01-08 09:00"),
    "received in the future", "quarantine", 1, "tương lai")
add("dossiers_before_2000.csv", DH + row("B06", received="1999-12-31 09:00", due="2000-01-10 09:00"),
    "received before 2000", "quarantine", 1, "trước năm 2000")
add("dossiers_due_before_received.csv", DH + row("B07", due="2026-08-01 09:00"), "due date before receipt",
    "quarantine", 1, "ngày hẹn trả trước ngày tiếp nhận")
add("dossiers_finished_before_received.csv", DH + row("B08", finished="2026-08-02 09:00", status="finished"),
    "finished before receipt", "quarantine", 1, "ngày xử lý xong trước ngày tiếp nhận")
add("dossiers_duplicate_same.csv", DH + row("B09") + row("B09"), "the same dossier twice", "quarantine", 1, "giống hệt")
add("dossiers_duplicate_different.csv", DH + row("B10") + row("B10", fee="5000"),
    "one code, two different contents", "quarantine", 1, "nội dung khác")
add("dossiers_unknown_unit.csv", DH + row("B11", unit="H99.99"), "unknown unit code", "quarantine", 1,
    "không có trong bảng units")
add("dossiers_unknown_procedure.csv", DH + row("B12", proc="9.999999"), "unknown procedure code", "quarantine", 1,
    "không có trong bảng procedures")
add("dossiers_negative_fee.csv", DH + row("B13", fee="-5000"), "negative fee", "quarantine", 1, "giá trị âm")
add("dossiers_nonnumeric_fee.csv", DH + row("B14", fee="năm chục nghìn"), "fee written in words", "quarantine", 1,
    "không phải số")
add("ratings_long_text.csv", "dossier_code,rated_at,rating,comment\nD1-A,2026-08-08 10:00,satisfied," + "x" * 100_000 + "\n",
    "100 KB comment", "quarantine", 1, "quá dài")
add("dossiers_nul_bytes.csv", DH.encode() + b"B15,PR1,D1,1,2026-08-03\x00\x00,,,processing,0,0\n", "embedded NUL bytes",
    "reject", 0, "NUL")
add("units_formula.csv", UH + 'X07,"=HYPERLINK(""http://evil.example"",""Bấm vào"")",P,commune\n',
    "formula text in a name: stored as text, neutralised in every output", "load", 1)
add("units_html_script.csv", UH + "X08,<script>alert('xss')</script> UBND xã,P,commune\n",
    "HTML and script in a name: stored as text, escaped in every output", "load", 1)
add("dossiers_truncated.json", '[{"dossier_code": "B16", "procedure_code": "PR1", "unit_code": ', "truncated JSON",
    "reject", 0, "JSON hỏng")
add("transparency_2026-08_error.json", '{"code": "UNAUTHORIZED", "message": "Token hết hạn"}', "a portal error envelope",
    "reject", 0, "trả lỗi")
add("transparency_2026-08_gateway.json", "<!DOCTYPE html><html><body><h1>504 Gateway Time-out</h1></body></html>",
    "an HTML page saved as JSON", "reject", 0, "HTML")
add("units_semicolons.csv", "Mã đơn vị;Tên đơn vị;Mã đơn vị cha;Cấp\nX09;Xã Chấm Phẩy;P;Xã\n",
    "semicolon-separated with Vietnamese headers", "load", 1)
add("dossiers_unknown_status.csv", DH + row("B17", status="đang làm"), "a status outside the list", "quarantine", 1,
    "không hợp lệ")
add("dossiers_bad_boolean.csv", DH + row("B18", e_result="có lẽ"), "a yes/no column with 'có lẽ'", "quarantine", 1,
    "không phải có/không")
add("dossiers_broken.xlsx", b"PK\x03\x04 this is not a workbook", "an XLSX that is not a zip", "reject", 0, "Excel")
add("whatever.csv", "a,b\n1,2\n", "a table nobody knows", "reject", 0, "không nhận ra bảng")
add("dossier_events_unknown_dossier.csv", "dossier_code,seq,event,at\nNO-SUCH,1,received,2026-08-03 09:00\n",
    "an event of a dossier that does not exist", "quarantine", 1, "không có trong bảng dossiers")
add("dossiers_bad_date_text.csv", DH + row("B19", received="hôm qua"), "a date written in words", "quarantine", 1,
    "không đọc được")
add("units.pdf", b"%PDF-1.4 not data", "a format we do not read", "reject", 0, "không hỗ trợ định dạng")

# --- the adversarial pass of November 2026 (issue: hardening) -------------------------------------------
add("dossiers_offsets.csv", DH + row("B20", received="2026-08-03 09:00:00+07", due="2026-08-10 09:00:00+0700")
    + row("B21", received="2026-08-03T02:00:00Z", due="2026-08-10 09:00:00+07:00") + row("B22"),
    "PostgreSQL timestamptz text (+07), +0700, Z and naive values in one file", "load", 3)
add("dossiers_offset_bad.csv", DH + row("B23", received="2026-13-45 10:00:00+07"),
    "an offset timestamp that is not a date", "quarantine", 1, "không đọc được")
add("units_control_chars.csv", UH + "X11,\x1b[2JUBND xã Điều\x07 Khiển,P,commune\n",
    "terminal escape and bell characters in a name: removed at load", "load", 1)
add("units_path_traversal.csv", UH + "../../TRAVERSAL,UBND xã Đi Lạc,P,commune\n",
    "a unit code with path characters", "quarantine", 1, "ký tự không hợp lệ")
add("units_lowercase_code.csv", UH + "x12 ,UBND xã Chữ Thường,p,commune\n",
    "a lower-case code with a trailing space: the same code as X12", "load", 1)
add("dossiers_semicolon_vn_numbers.csv",
    "Mã hồ sơ;Mã TTHC;Mã đơn vị;Kênh nộp;Ngày tiếp nhận;Ngày hẹn trả;Trạng thái;Phí, lệ phí\n"
    "B24;PR1;D1;1;03/08/2026 09:00;10/08/2026 09:00;processing;1.234,50\n"
    "B25;PR1;D1;1;03/08/2026 09:00;10/08/2026 09:00;processing;3.000,00\n"
    "B26;PR1;D1;1;03/08/2026 09:00;10/08/2026 09:00;processing;12.345.678,9\n"
    "B27;PR1;D1;1;03/08/2026 09:00;10/08/2026 09:00;processing;50,000\n",
    "semicolons with the header 'Phí, lệ phí' and Vietnamese number formats", "load", 4)
add("dossiers_cr_only.csv", (DH + row("B28") + 'B29,PR1,D1,1,2026-08-03 09:00,2026-08-10 09:00,,"processing",0,0\n')
    .replace("\n", "\r"), "old Mac line endings (CR only) with a quoted field", "load", 2)
add("units_cycle.csv", UH + "X13,UBND xã Vòng Một,X14,commune\nX14,UBND xã Vòng Hai,X13,commune\n",
    "two units each the other's parent", "quarantine", 2, "vòng lặp")
add("units_second_province.csv", UH + "Q,UBND tỉnh Khác,,province\n", "a second province root", "quarantine", 1,
    "tỉnh thứ hai")
add("units_orphan.csv", UH + "X15,UBND xã Mồ Côi,,commune\n", "a commune without a parent: kept and named",
    "load", 1, "không có đơn vị cha")
add("dossiers_phone_in_channel.csv", DH + row("B30").replace(",D1,1,", ",D1,0980885338,"),
    "an applicant's phone number under the channel column", "quarantine", 1, "không hợp lệ")
add("dossiers_old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "an Excel 97-2003 workbook",
    "reject", 0, "không hỗ trợ định dạng")


def titled_workbook() -> bytes:
    """The national "Sổ theo dõi hồ sơ" layout: a title, a blank row, a two-row header with merged cells."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "Sổ theo dõi"
    ws["A1"] = "SỔ THEO DÕI HỒ SƠ THÁNG 8/2026"
    ws.merge_cells("A1:G1")
    for col, name in zip("ABC", ("Mã hồ sơ", "Mã TTHC", "Mã đơn vị")):
        ws[f"{col}3"] = name
        ws.merge_cells(f"{col}3:{col}4")
    ws["D3"] = "Ngày"
    ws.merge_cells("D3:E3")
    ws["D4"], ws["E4"] = "tiếp nhận", "hẹn trả"
    ws["F3"] = "Trạng thái"
    ws.merge_cells("F3:F4")
    ws["G4"] = None     # a column without a title, with data under it: named and listed, never dropped
    ws.append(["B31", "PR1", "D1", "03/08/2026 09:00", "10/08/2026 09:00", "processing", "ghi chú"])
    ws.append(["B32", "PR1", "D1", "04/08/2026 09:00", "11/08/2026 09:00", "finished", None])
    return _stable_zip(wb)


def _stable_zip(wb) -> bytes:
    """The workbook's bytes without the time it was written: the same script gives the same file."""
    import datetime as dt
    wb.properties.created = dt.datetime(2026, 1, 1)
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":     # openpyxl stamps the time of saving here
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data)
            dst.writestr(zi, data)
    return out.getvalue()


add("dossiers_titled_two_row_header.xlsx", titled_workbook(),
    "title row, two-row header with merged cells, an untitled column", "load", 2, "không có tiêu đề")


def workbook() -> bytes:
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "units"
    ws.append(["unit_code", "unit_name", "parent_code", "level"])
    ws.append(["X10", "Xã Trang Một", "P", "commune"])
    ws2 = wb.create_sheet("officials")
    ws2.append(["official_id", "full_name", "unit_code", "position", "active"])
    ws2.append(["OX1", "Đặng Thị Trang", "X10", "thụ lý", 1])
    ws3 = wb.create_sheet("Ghi chú")
    ws3.append([None])
    return _stable_zip(wb)


add("multi_sheet.xlsx", workbook(), "a workbook with a units sheet, an officials sheet and an empty notes sheet",
    "load", 2)

# round 3 (issue 24): a trailing delimiter on the careful path, invisible characters, a value too long
add("units_utf16_trailing_delimiter.csv", (UH + "X20,Xã Dấu Phẩy,P,commune,\nX21,Xã Cuối Dòng,P,commune,\n").encode("utf-16"),
    "UTF-16 (the careful path) with every row ending in a delimiter the header lacks", "load", 2)
add("dossiers_trailing_delimiter_blank_line.csv", DH + row("B40").replace("\n", ",\n") + "\n" + row("B41").replace("\n", ",\n"),
    "rows ending in a delimiter the header lacks, and a blank line (the careful path)", "load", 2)
add("dossiers_extra_field.csv", DH + row("B42") + row("B43").replace("\n", ",thừa\n"),
    "a row with a value beyond the header's columns", "reject", 0, "tiêu đề chỉ có 10")
add("dossiers_zero_width_code.csv", DH + row("B44\u200b") + row("B45\u2060"),
    "dossier codes with a zero-width space and a word joiner (removed: B44, B45)", "load", 2)
add("dossiers_hidden_space_code.csv", DH + row("B46") + row("B\u00a047"),
    "a dossier code with a no-break space inside", "quarantine", 1, "khoảng trắng ẩn")
add("units_bidi_name.csv", UH + "X22,UBND xã \u202eĐảo Chữ\u202c Một,P,commune\n",
    "a unit name with a right-to-left override (neutralised)", "load", 1)
add("dossiers_value_too_long.csv", DH + row("B48") + "\n" + row("B49").replace("processing,", "\"" + "x, " * 50_000 + "\",", 1),
    "one value of 140,000 characters, and a blank line (the careful path)", "quarantine", 1, "quá dài")

add("self_assessments_out_of_range.csv", "unit_code,period,item_code,points\nD1,2026-Q3,TDGQ,99999\n"
    "D1,2026-Q3,TONG,1e308\nD1,2026-Q3,CKMB,12\n", "self-assessed points above the item's maximum", "quarantine", 2,
    "vượt điểm tối đa")

if __name__ == "__main__":
    with open(HERE / "MANIFEST.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", "description", "expect", "count", "message"])
        for name, data, desc, expect, count, frag in FILES:
            (HERE / name).write_bytes(data)
            w.writerow([name, desc, expect, count, frag])
    print(len(FILES), "files")
