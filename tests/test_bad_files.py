"""A dozen malformed files: each is either quarantined row by row (file, line, column, reason)
or rejected whole with a one-line message and the store left exactly as it was."""
import hashlib

import pytest

from conftest import run_kpi
from kpi.store import connect, run

HEAD = ("dossier_code,procedure_code,unit_code,channel,received_at,due_at,finished_at,status,fee_amount\n")


@pytest.fixture
def base(store_copy):
    con = connect(store_copy, read_only=True)
    unit, proc = run(con, "SELECT unit_code, procedure_code FROM dossiers LIMIT 1")[0]
    con.close()
    return store_copy, unit, proc


def _state(store):
    con = connect(store, read_only=True)
    out = {t: run(con, f"SELECT count(*) FROM {t}")[0][0]
           for t in ("dossiers", "quarantine", "loaded_files", "units")}
    con.close()
    return out


def _file_hash(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _load(store, path):
    return run_kpi("load", "-q", "--store", store, path)


def _quarantine(store):
    con = connect(store, read_only=True)
    rows = run(con, "SELECT file, line, column_name, reason FROM quarantine ORDER BY line")
    con.close()
    return rows


def _row(code, unit, proc, received="2026-08-03 09:00:00", due="2026-08-10 09:00:00", fee="0", finished=""):
    return f"{code},{proc},{unit},1,{received},{due},{finished},processing,{fee}\n"


def test_utf16_and_bom_and_semicolons(tmp_path, base):
    store, unit, proc = base
    f16 = tmp_path / "units_u16.csv"
    f16.write_text("unit_code,unit_name,parent_code,level\nX2,Phường Mười Sáu,H44,commune\n", encoding="utf-16")
    fbom = tmp_path / "units_bom.csv"
    fbom.write_text("Mã đơn vị;Tên đơn vị;Mã đơn vị cha;Cấp\nX3;Xã Có BOM;H44;Xã\n", encoding="utf-8-sig")
    for f in (f16, fbom):
        r = _load(store, f)
        assert r.returncode == 0, r.stderr
    con = connect(store, read_only=True)
    got = dict(run(con, "SELECT unit_code, level FROM units WHERE unit_code IN ('X2','X3')"))
    con.close()
    assert got == {"X2": "commune", "X3": "commune"}


def test_missing_required_column_rejects_file(tmp_path, base):
    store, unit, proc = base
    before = _state(store)
    f = tmp_path / "dossiers_missing.csv"
    f.write_text("dossier_code,unit_code,received_at,status\nA-1,%s,2026-08-03,received\n" % unit, encoding="utf-8")
    r = _load(store, f)
    assert r.returncode == 1
    assert "procedure_code" in r.stderr and str(f) in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert _state(store) == before


def test_empty_and_header_only(tmp_path, base):
    store, *_ = base
    before = _state(store)
    empty = tmp_path / "dossiers_empty.csv"
    empty.write_text("", encoding="utf-8")
    r = _load(store, empty)
    assert r.returncode == 1 and "rỗng" in r.stderr
    header = tmp_path / "dossiers_header.csv"
    header.write_text(HEAD, encoding="utf-8")
    r = _load(store, header)
    assert r.returncode == 0 and "đọc 0 = nạp 0 + cách ly 0" in r.stdout
    after = _state(store)
    assert after["dossiers"] == before["dossiers"] and after["quarantine"] == before["quarantine"]


def test_bad_dates_quarantined_with_line_and_column(tmp_path, base):
    store, unit, proc = base
    f = tmp_path / "dossiers_dates.csv"
    f.write_text(HEAD + _row("B-1", unit, proc)
                 + _row("B-2", unit, proc, received="32/13/2026")
                 + _row("B-3", unit, proc, received="03/08/2026 09:00", due="10/08/2026")
                 + _row("B-4", unit, proc, received="1999-12-31 10:00:00")
                 + _row("B-5", unit, proc, received="2031-01-01 10:00:00")
                 + _row("B-6", unit, proc, received="46237.375", due="46244.375"), encoding="utf-8")
    r = _load(store, f)
    assert r.returncode == 0, r.stderr
    assert "đọc 6 = nạp 3 + cách ly 3" in r.stdout
    q = _quarantine(store)
    assert [(line, col) for _, line, col, _ in q] == [(3, "received_at"), (5, "received_at"), (6, "received_at")]
    assert "32/13/2026" in q[0][3] and "trước năm 2000" in q[1][3] and "tương lai" in q[2][3]
    con = connect(store, read_only=True)
    got = dict(run(con, "SELECT dossier_code, strftime(received_at, '%Y-%m-%d %H:%M') FROM dossiers "
                        "WHERE dossier_code IN ('B-3','B-6')"))
    con.close()
    assert got == {"B-3": "2026-08-03 09:00", "B-6": "2026-08-03 09:00"}   # day-first and Excel serial


def test_due_before_received_and_negative_fee(tmp_path, base):
    store, unit, proc = base
    f = tmp_path / "dossiers_rules.csv"
    f.write_text(HEAD + _row("C-1", unit, proc, due="2026-08-01 09:00:00")
                 + _row("C-2", unit, proc, fee="-5000")
                 + _row("C-3", unit, proc, fee="abc")
                 + _row("C-4", unit, proc, finished="2026-08-01 08:00:00"), encoding="utf-8")
    r = _load(store, f)
    assert "đọc 4 = nạp 0 + cách ly 4" in r.stdout
    reasons = [q[3] for q in _quarantine(store)]
    assert "ngày hẹn trả trước ngày tiếp nhận" in reasons[0]
    assert "âm" in reasons[1] and "không phải số" in reasons[2] and "ngày xử lý xong trước" in reasons[3]


def test_unknown_unit_and_procedure(tmp_path, base):
    store, unit, proc = base
    f = tmp_path / "dossiers_refs.csv"
    f.write_text(HEAD + _row("D-1", "H99.99", proc) + _row("D-2", unit, "9.999999"), encoding="utf-8")
    r = _load(store, f)
    assert "cách ly 2" in r.stdout
    q = _quarantine(store)
    assert q[0][2] == "unit_code" and "H99.99" in q[0][3] and q[0][1] == 2
    assert q[1][2] == "procedure_code" and "9.999999" in q[1][3] and q[1][1] == 3


def test_duplicate_codes(tmp_path, base):
    store, unit, proc = base
    f = tmp_path / "dossiers_dup.csv"
    f.write_text(HEAD + _row("E-1", unit, proc) + _row("E-1", unit, proc)
                 + _row("E-2", unit, proc) + _row("E-2", unit, proc, fee="1000"), encoding="utf-8")
    r = _load(store, f)
    assert "đọc 4 = nạp 2 + cách ly 2" in r.stdout
    q = _quarantine(store)
    assert "giống hệt dòng 2" in q[0][3] and "nội dung khác" in q[1][3] and "dòng 4" in q[1][3]


def test_truncated_json_and_nul_bytes_rejected(tmp_path, base):
    store, *_ = base
    before = _state(store)
    j = tmp_path / "dossiers.json"
    j.write_text('[{"dossier_code": "F-1", "unit_code": ', encoding="utf-8")
    nul = tmp_path / "dossiers_nul.csv"
    nul.write_bytes(HEAD.encode() + b"F-2,\x00\x00,x\n")
    for f in (j, nul):
        r = _load(store, f)
        assert r.returncode == 1 and str(f) in r.stderr and "Traceback" not in r.stderr
    assert _state(store) == before


def test_bad_file_in_folder_leaves_store_unchanged(tmp_path, base):
    store, unit, proc = base
    before = _state(store)
    (tmp_path / "a_dossiers.csv").write_text(HEAD + _row("G-1", unit, proc), encoding="utf-8")
    (tmp_path / "b_broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    r = _load(store, tmp_path)
    assert r.returncode == 1 and "b_broken.xlsx" in r.stderr
    assert _state(store) == before


def test_unrecognised_table_names_the_fix(tmp_path, base):
    store, *_ = base
    f = tmp_path / "whatever.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    r = _load(store, f)
    assert r.returncode == 1 and "không nhận ra bảng" in r.stderr and "whatever.csv" in r.stderr


def test_unknown_enum_value(tmp_path, base):
    store, unit, proc = base
    f = tmp_path / "dossiers_enum.csv"
    f.write_text(HEAD + _row("H-1", unit, proc).replace(",processing,", ",đang làm,"), encoding="utf-8")
    r = _load(store, f)
    assert "cách ly 1" in r.stdout
    assert "đang làm" in _quarantine(store)[0][3]
