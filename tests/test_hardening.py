"""The adversarial pass of November 2026: what a demanding user or a reviewer broke, and what must happen
instead. The files of the hostile corpus (tests/data/bad/MANIFEST.csv) are checked one by one in
test_hostile_inputs.py; here are the behaviours that need more than one command to see."""
import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest

from conftest import KPI, ROOT, run_kpi

BAD = ROOT / "tests" / "data" / "bad"
PHONE = "0980885338"


def _rows(store, sql, params=None):
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# 1 — personal data in quarantine reasons never leaves the store ---------------------------------------

def test_quarantined_phone_number_stays_in_the_store(hw_copy, tmp_path):
    store = hw_copy
    assert run_kpi("load", "-q", "--store", store, BAD / "dossiers_phone_in_channel.csv").returncode == 0
    assert any(PHONE in r[0] for r in _rows(store, "SELECT reason FROM quarantine"))   # kept for the analyst
    texts = {}
    for name, args in {"monthly": ["monthly"], "unit_C1": ["unit", "--unit", "C1"],
                       "unit_D1": ["unit", "--unit", "D1"]}.items():
        out = tmp_path / f"{name}.html"
        r = run_kpi("report", *args, "--period", "2026-08", "--store", store, "--out", out, "-q")
        assert r.returncode == 0, r.stderr
        texts[name] = out.read_text(encoding="utf-8")
    status = run_kpi("status", "--store", store).stdout + run_kpi("status", "--json", "--store", store).stdout
    for text in [*texts.values(), status]:
        assert PHONE not in text
    # the province report shows the kind of problem and the count; a unit report only its own units' rows
    assert "không hợp lệ ở cột channel" in texts["monthly"] and "không hợp lệ ở cột channel" in texts["unit_D1"]
    assert "không hợp lệ ở cột channel" not in texts["unit_C1"]


# 3 — control characters ------------------------------------------------------------------------------

def test_control_characters_removed_at_load_and_harmless_in_every_writer(hw_copy, tmp_path):
    store = hw_copy
    assert run_kpi("load", "-q", "--store", store, BAD / "units_control_chars.csv").returncode == 0
    assert _rows(store, "SELECT unit_name FROM units WHERE unit_code = 'X11'") == [("UBND xã Điều Khiển",)]
    # a store written by something else still holds one: every writer copes
    con = duckdb.connect(str(store))
    con.execute("UPDATE units SET unit_name = 'Sở \x1b[2JThử\x07 Nghiệm' WHERE unit_code = 'D1'").fetchall()
    con.close()
    out = tmp_path / "pub"
    r = run_kpi("publish", "--period", "2026-08", "--store", store, "--out", out)
    assert r.returncode == 0, r.stderr
    assert len(list(out.iterdir())) == 6                   # 3 tables' XLSX; csv/; the pictures; the page
    assert "\x1b" not in (out / "index.html").read_text(encoding="utf-8")
    r = run_kpi("report", "monthly", "--period", "2026-08", "--docx", "--store", store, "--out", tmp_path / "r.docx")
    assert r.returncode == 0, r.stderr
    from docx import Document
    assert any("Sở [2JThử Nghiệm" in c.text for t in Document(str(tmp_path / "r.docx")).tables for c in t._cells)
    from openpyxl import load_workbook
    ws = load_workbook(out / "ty-le-ho-so-tre-han-2026-08.xlsx").active
    names = [row[1] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert "Sở [2JThử Nghiệm" in names                     # the characters a workbook cannot hold are dropped
    r = run_kpi("score", "--period", "2026-08", "--store", store)
    assert r.returncode == 0 and "\x1b" not in r.stdout and "\x07" not in r.stdout


# 4 — the same dossier in two exports of one load --------------------------------------------------------

HEAD = "dossier_code,procedure_code,unit_code,channel,received_at,due_at,finished_at,returned_at,status\n"


def test_the_most_advanced_record_wins_whatever_the_file_order(hw_copy, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "dossiers_thang9.csv").write_text(HEAD + "".join(
        f"D1-X{i},PR1,D1,1,2026-09-03 09:00,2026-09-10 09:00,,,processing\n" for i in (1, 2, 3)), encoding="utf-8")
    (folder / "dossiers_thang10.csv").write_text(HEAD + "".join(
        f"D1-X{i},PR1,D1,1,2026-09-03 09:00,2026-09-10 09:00,2026-09-0{i + 6} 10:00,2026-10-0{i} 10:00,returned\n"
        for i in (1, 2, 3)), encoding="utf-8")
    r = run_kpi("load", "-q", "--store", hw_copy, folder)
    assert r.returncode == 0, r.stderr
    got = dict(_rows(hw_copy, "SELECT dossier_code, status FROM dossiers WHERE dossier_code LIKE 'D1-X%'"))
    assert got == {"D1-X1": "returned", "D1-X2": "returned", "D1-X3": "returned"}
    assert "Tổng: đọc 6 = nạp 3 + bỏ qua 3 (đã có bản ghi mới hơn) + cách ly 0" in r.stdout
    # September's export loaded on its own later cannot take the dossiers back in time
    late = tmp_path / "dossiers_thang9_gui_lai.csv"
    late.write_text((folder / "dossiers_thang9.csv").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    r = run_kpi("load", "-q", "--store", hw_copy, late)
    assert "nạp 0 + bỏ qua 3" in r.stdout
    assert {s for _, s in _rows(hw_copy, "SELECT dossier_code, status FROM dossiers WHERE dossier_code LIKE 'D1-X%'")} \
        == {"returned"}
    # a newer export of one of them is an update, and says so
    newer = tmp_path / "dossiers_thang11.csv"
    newer.write_text(HEAD + "D1-X1,PR1,D1,1,2026-09-03 09:00,2026-09-10 09:00,2026-09-07 10:00,2026-11-02 10:00,"
                            "returned\n", encoding="utf-8")
    r = run_kpi("load", "-q", "--store", hw_copy, newer)
    assert "đọc 1 = nạp 1 + cách ly 0; 1 dòng nạp là cập nhật bản ghi đã có" in r.stdout


# 5 — outputs are never half-written -------------------------------------------------------------------

def test_killed_publish_leaves_the_previous_package_whole(hw_copy, tmp_path):
    out = tmp_path / "pub"
    assert run_kpi("publish", "--period", "2026-08", "--store", hw_copy, "--out", out).returncode == 0
    before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.parent.name != "anh"}
    assert sorted(before) == sorted([f"{n}-2026-08.xlsx" for n in ("ty-le-ho-so-tre-han", "danh-sach-ho-so-tre-han",
                                                                    "ty-le-dvc-truc-tuyen")]
                                    + [f"csv/{n}-2026-08.csv" for n in ("ty-le-ho-so-tre-han", "danh-sach-ho-so-tre-han",
                                                                          "ty-le-dvc-truc-tuyen")]
                                    + ["csv/doc-truoc.txt", "index.html"])
    for delay in (1.0, 2.0, 3.0):
        p = subprocess.Popen(KPI + ["publish", "--period", "2026-08", "--store", str(hw_copy), "--out", str(out)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert sorted(str(q.relative_to(out)) for q in out.rglob("*") if q.is_file() and q.parent.name != "anh") \
            == sorted(before)   # never partial or mixed
        for name, data in before.items():       # XLSX and the page carry the time they were made
            assert (out / name).read_bytes() == data or name.endswith((".xlsx", ".html"))
    r = run_kpi("publish", "--period", "2026-08", "--store", hw_copy, "--out", out)
    assert r.returncode == 0
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".")]    # what a killed run left is swept


# 6 — a unit code never leads a file outside outputs/ -------------------------------------------------

def test_unit_code_is_safe_in_paths(hw_copy, tmp_path):
    from kpi.fs import safe_name
    from kpi.report.runner import output_path
    assert safe_name("../../TRAVERSAL") == "_.._TRAVERSAL".replace("..", "_") or "/" not in safe_name("../../X")
    for code in ("../../TRAVERSAL", "..", "a/b\\c", "H44.50.05"):
        name = safe_name(code)
        assert "/" not in name and "\\" not in name and ".." not in name and name not in ("", ".")
    assert safe_name("H44.50.05") == "H44.50.05"
    con = duckdb.connect(str(hw_copy))
    con.execute("INSERT INTO units (unit_code, unit_name, parent_code, level) VALUES ('../../EVIL', 'Xã Ác', 'P', "
                "'commune')").fetchall()
    con.close()
    r = run_kpi("report", "unit", "--unit", "../../EVIL", "--period", "2026-08", "--store", hw_copy, "-q",
                env={"KPI_HOME": str(tmp_path / "home")})
    assert r.returncode == 0, r.stderr
    written = [p for p in tmp_path.rglob("*.html")]
    assert len(written) == 1 and written[0].parent == tmp_path / "home" / "outputs" / "2026-08", written
    assert output_path("unit", "2026-08", "../../EVIL").parent.name == "2026-08"


# 7 — a period the data cannot answer -------------------------------------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["score", "--period", "2030-01"], "nằm ngoài dữ liệu"),
    (["score", "--period", "1999-01"], "nằm ngoài dữ liệu"),
    (["publish", "--period", "2030-01"], "nằm ngoài dữ liệu"),
    (["report", "monthly", "--period", "1999-01"], "nằm ngoài dữ liệu"),
    (["score", "--period", "2026"], "--as-of 2026-10-31"),
    (["score", "--period", "2026-08", "--unit", "D1", "--official", "O1"], "không cả hai"),
    (["report", "unit", "--unit", "OLD", "--period", "2026-08"], "không tồn tại trong kỳ"),
])
def test_periods_and_scopes_without_data_are_one_line_errors(hw, args, needle):
    r = run_kpi(*args, "--store", hw)
    assert r.returncode == 2, r.stdout
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and needle in line and "không mong đợi" not in line, line
    if "ngoài dữ liệu" in needle:
        assert "10/06/2025" in line and "31/10/2026" in line        # names the data's range


@pytest.mark.parametrize("period,as_of,needle", [("2026", "2026-11-30", "sau ngày cuối của dữ liệu"),
                                                 ("2026-Q4", "2026-11-15", "sau ngày cuối của dữ liệu"),
                                                 ("2027", "2027-06-01", "nằm ngoài dữ liệu")])
def test_as_of_after_the_data_is_a_one_line_error(hw, period, as_of, needle):
    """A cron passing today's date against a stale export: the data end on 31/10/2026, so a figure as of a
    later day would judge open dossiers on days the data never saw — refused, naming the data's last day."""
    r = run_kpi("score", "--period", period, "--as-of", as_of, "--store", hw)
    assert r.returncode == 2, r.stdout
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and needle in line and "31/10/2026" in line, line
    assert "--as-of 2026-10-31" in line or "ngoài" in needle


def test_as_of_within_the_data_is_taken_and_a_finished_period_ignores_a_later_one(hw):
    """As of the data's last day is the figure of that day; a month that ended before the data's end is the
    same as of any later day within the data."""
    import kpi
    a = kpi.scores("2026-08", store=hw, as_of="2026-10-31")
    b = kpi.scores("2026-08", store=hw)
    pd.testing.assert_frame_equal(a.drop(columns="period"), b.drop(columns="period"))


def test_running_period_with_as_of(hw):
    r = run_kpi("score", "--period", "2026", "--as-of", "2026-10-31", "--unit", "D1", "--store", hw)
    assert r.returncode == 0, r.stderr


# 11 — read-only commands never write; another application's file is refused ------------------------------

def test_status_refuses_a_foreign_duckdb_file_and_never_writes(tmp_path):
    foreign = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE customers (id INTEGER)").fetchall()
    con.close()
    before = foreign.read_bytes()
    for args in (["status"], ["score", "--period", "2026-08"], ["load", BAD / "units_utf16.csv"]):
        r = run_kpi(*args, "--store", foreign)
        assert r.returncode == 2 and "không phải kho dữ liệu kpi766" in r.stderr, r.stderr
    assert _rows(foreign, "SELECT table_name FROM information_schema.tables") == [("customers",)]
    assert foreign.read_bytes() == before
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert run_kpi("status", "--store", empty).returncode == 0
    assert _rows(empty, "SELECT count(*) FROM information_schema.tables") == [(0,)]


def test_a_locked_store_is_named_in_vietnamese(hw_copy):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, time; c = duckdb.connect(r'%s'); "
                               "print('ok', flush=True); time.sleep(60)" % hw_copy], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        r = run_kpi("status", "--store", hw_copy)
        line = r.stderr.strip()
        assert r.returncode == 2 and len(line.splitlines()) == 1, line
        assert "đang được một tiến trình khác dùng" in line and f"PID {holder.pid}" in line, line
    finally:
        holder.kill()
        holder.wait()


# 12 — Ctrl-C -------------------------------------------------------------------------------------------

def _interrupt(args, delay):
    p = subprocess.Popen(KPI + [str(a) for a in args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    time.sleep(delay)
    os.killpg(p.pid, signal.SIGINT)                 # what a terminal's Ctrl-C sends: the whole process group
    out, err = p.communicate(timeout=120)
    return p.returncode, err


def test_ctrl_c_is_one_line_and_exit_130(sample_dir, hw_copy, tmp_path):
    import time
    times = []                       # interrupt while reading, and near the write: fractions of a whole load
    for i in range(2):               # (the shorter of two: the first also compiles and warms the disk cache)
        t0 = time.monotonic()
        assert run_kpi("load", "-q", "--store", tmp_path / f"whole{i}.duckdb", sample_dir).returncode == 0
        times.append(time.monotonic() - t0)
    whole = min(times)
    for delay in (0.3 * whole, 0.6 * whole):
        for attempt in range(4):     # a busy machine's load may end before the Ctrl-C: interrupt it sooner
            store = tmp_path / f"k{delay}-{attempt}.duckdb"
            rc, err = _interrupt(["load", "-q", "--store", store, sample_dir], delay / 2 ** attempt)
            if rc != 0:
                break
        assert rc == 130 and len(err.strip().splitlines()) == 1, err
        # the line says the truth: nothing written, or the load had committed before the Ctrl-C
        n = 0
        if store.exists():
            from kpi.store import connect
            con = connect(store, read_only=True)       # a file killed before its schema opens as empty
            n = con.execute("SELECT count(*) FROM dossiers").fetchone()[0]
            con.close()
        if "kho dữ liệu không đổi" in err:
            assert n == 0
        else:
            assert "kho đã nạp xong trước khi dừng" in err and n > 0, err
    report = ["report", "monthly", "--period", "2026-08", "--store", hw_copy, "-q", "--out"]
    t0 = time.monotonic()
    assert run_kpi(*report, tmp_path / "whole.html").returncode == 0
    whole = time.monotonic() - t0
    for attempt in range(4):         # interrupt while it renders: sooner when a run ends before the Ctrl-C
        out = tmp_path / f"r{attempt}.html"
        rc, err = _interrupt([*report, out], whole / 2 / 2 ** attempt)
        if rc != 0:
            break
    assert rc == 130 and len(err.strip().splitlines()) == 1 and "chưa ghi báo cáo" in err, err
    assert not out.exists()


# the terminal's Ctrl-C, delivered while Python imports the loader (what a command does first: a second or more
# on a busy machine) — the place a timed interrupt cannot be made to hit
CTRL_C_WHILE_IMPORTING = """import signal, sys
class Stop:
    def find_spec(self, name, path=None, target=None):
        if name == 'kpi.load.loader':
            signal.raise_signal(signal.SIGINT)
        return None
sys.meta_path.insert(0, Stop())
from kpi.cli import main
sys.exit(main())
"""


@pytest.mark.parametrize("command,said", [("load", "kho dữ liệu không đổi"), ("report", "chưa ghi báo cáo")])
def test_ctrl_c_while_the_command_imports_is_one_line_and_130(command, said, sample_dir, tmp_path):
    """A Ctrl-C before the command has begun its work (while its modules import) is reported as any other:
    one line that names the command's own outcome, exit 130, nothing written."""
    store, out = tmp_path / "k.duckdb", tmp_path / "r.html"
    args = ["load", "-q", "--store", store, sample_dir] if command == "load" else \
        ["report", "monthly", "--period", "2026-08", "--store", store, "-q", "--out", out]
    p = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_IMPORTING, *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 130 and len(lines) == 1 and lines[0].startswith(f"Đã dừng theo yêu cầu; {said}"), p.stderr
    assert not store.exists() and not out.exists()


def test_ctrl_c_python_had_to_swallow_is_still_one_line_and_130(hw_copy):
    """A Ctrl-C that lands inside a callback (an import's module lock) cannot stop the command: Python
    prints 'Exception ignored … KeyboardInterrupt' and goes on. The CLI remembers it, prints no
    traceback, and ends with the one line and 130 — saying the command ran to its end."""
    script = ("import sys, weakref, kpi.cli as c\n"
              "def status(args):\n"
              "    class X: pass\n"
              "    x = X(); r = weakref.ref(x, lambda _: c._on_sigint(2, None)); del x\n"
              "    print('chạy xong')\n"
              "    return 0\n"
              "c.cmd_status = status\n"
              f"sys.exit(c.main(['status', '--store', {str(hw_copy)!r}]))\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 130, r.stderr
    assert r.stderr.strip() == "Đã dừng theo yêu cầu; lệnh đã chạy xong trước khi dừng.", r.stderr
    assert "chạy xong" in r.stdout


# 13 — orphans are named ------------------------------------------------------------------------------

def test_orphan_units_are_listed_by_status(hw_copy):
    assert run_kpi("load", "-q", "--store", hw_copy, BAD / "units_orphan.csv").returncode == 0
    r = run_kpi("status", "--store", hw_copy)
    assert "Đơn vị không có đơn vị cha" in r.stdout and "X15" in r.stdout
    assert json.loads(run_kpi("status", "--json", "--store", hw_copy).stdout)["orphan_units"] == ["X15"]


# 2, 9, 10 — what the corpus files load to, exactly -------------------------------------------------------

def test_offsets_numbers_and_excel_headers_load_to_the_right_values(hw_copy):
    store = hw_copy
    for f in ("dossiers_offsets.csv", "dossiers_semicolon_vn_numbers.csv", "dossiers_titled_two_row_header.xlsx",
              "units_lowercase_code.csv"):
        r = run_kpi("load", "-q", "--store", store, BAD / f)
        assert r.returncode == 0, r.stderr
        if f.endswith(".xlsx"):
            assert "cột G (không có tiêu đề)" in r.stdout          # an untitled column is named, not dropped
    rows = dict(_rows(store, "SELECT dossier_code, strftime(received_at, '%Y-%m-%d %H:%M') || ' ' || "
                             "coalesce(strftime(due_at, '%Y-%m-%d %H:%M'), '') FROM dossiers "
                             "WHERE dossier_code IN ('B20', 'B21', 'B22', 'B31', 'B32')"))
    assert rows == {"B20": "2026-08-03 09:00 2026-08-10 09:00", "B21": "2026-08-03 09:00 2026-08-10 09:00",
                    "B22": "2026-08-03 09:00 2026-08-10 09:00", "B31": "2026-08-03 09:00 2026-08-10 09:00",
                    "B32": "2026-08-04 09:00 2026-08-11 09:00"}
    fees = dict(_rows(store, "SELECT dossier_code, fee_amount FROM dossiers WHERE dossier_code IN "
                             "('B24', 'B25', 'B26', 'B27')"))
    assert fees == {"B24": 1234.5, "B25": 3000.0, "B26": 12345678.9, "B27": 50000.0}
    assert _rows(store, "SELECT unit_code, parent_code FROM units WHERE unit_name = 'UBND xã Chữ Thường'") == \
        [("X12", "P")]


# low — bounded status, files we do not read, counts as people write them --------------------------------

def test_status_json_is_bounded_and_masked(hw_copy):
    con = duckdb.connect(str(hw_copy))
    con.execute("INSERT INTO quarantine SELECT 'f.csv', i, 'dossiers', 'channel', "
                "'giá trị ''09' || lpad(i::VARCHAR, 8, '0') || ''' không hợp lệ ở cột channel r' || (i % 500), "
                "'{}', now() FROM range(2000) t(i)").fetchall()
    con.close()
    data = json.loads(run_kpi("status", "--json", "--store", hw_copy).stdout)
    assert data["quarantined"] == 2000 and len(data["quarantine_reasons"]) == 50
    assert not any("'09" in r["reason"] for r in data["quarantine_reasons"])


def test_a_folder_names_the_files_it_cannot_read(hw_copy, tmp_path):
    folder = tmp_path / "xuat"
    folder.mkdir()
    (folder / "units_new.csv").write_text("unit_code,unit_name,parent_code,level\nX30,Xã Ba Mươi,P,commune\n",
                                          encoding="utf-8")
    (folder / "ho_so_cu.xls").write_bytes((BAD / "dossiers_old.xls").read_bytes())
    r = run_kpi("load", "-q", "--store", hw_copy, folder)
    assert r.returncode == 0 and "ho_so_cu.xls: không đọc định dạng này" in r.stdout and ".xlsx" in r.stdout


def test_counts_print_as_counts(hw):
    r = run_kpi("score", "--period", "2026-08", "--unit", "D1", "--store", hw)
    assert " 35/6 " in r.stdout and "35.0" not in r.stdout and "35,00/" not in r.stdout
    r = run_kpi("score", "--period", "2026-08", "--unit", "D1", "--profile", "mo-ta-cong-thuc", "--store", hw)
    assert "3,77/7 " in r.stdout                                  # a share keeps its decimals


def test_out_is_checked_before_the_work(hw, tmp_path):
    d = tmp_path / "adir.csv"
    d.mkdir()
    for args in (["score", "--period", "2026-08", "--format", "csv", "--out", d],
                 ["report", "monthly", "--period", "2026-08", "--out", tmp_path / "r.pdf"],
                 ["score", "--period", "2026-08", "--out", tmp_path / "x.csv"]):
        r = run_kpi(*args, "--store", hw)
        assert r.returncode == 2 and "--out" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.csv"]


# issue 24, item 1 — a nightly update is written, not only counted ------------------------------------------

NIGHT_HEADER = ("dossier_code,procedure_code,unit_code,channel,received_at,due_at,finished_at,returned_at,status,"
                "synced_at,fee_amount,has_financial_obligation,paid_online\n")


def _night(folder, name, status, due, synced, paid):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(NIGHT_HEADER + f"D1-DEM,PR1,D1,2,2026-08-03 09:00,{due},,,{status},{synced},50000,1,{paid}\n",
                               encoding="utf-8")


@pytest.mark.parametrize("order", ["night by night", "one folder", "newer night first"])
def test_a_dossier_sent_again_back_in_processing_keeps_the_newer_record(hw_copy, tmp_path, order):
    """Stored waiting for a supplement, sent again the next night back in processing with a new due date
    and paid online: whatever the path, the store ends with the newer record, and the load's count of
    updates is what it wrote."""
    import shutil
    from kpi.load import load_paths
    from kpi.store import connect
    n1, n2 = tmp_path / "n1", tmp_path / "n2"
    _night(n1, "dossiers_dem1.csv", "supplement", "2026-08-10 09:00", "2026-08-04 22:00", 0)
    _night(n2, "dossiers_dem2.csv", "processing", "2026-08-14 09:00", "2026-08-05 22:00", 1)
    con = connect(hw_copy)
    if order == "one folder":
        shutil.copy(n2 / "dossiers_dem2.csv", n1)
        load_paths(con, [n1], progress=False)
    else:
        first, second = (n1, n2) if order == "night by night" else (n2, n1)
        load_paths(con, [first], progress=False)
        report = load_paths(con, [second], progress=False)
        if order == "night by night":
            assert report.files[0].updated == 1
    row = con.execute("SELECT status, due_at, paid_online, synced_at FROM dossiers WHERE dossier_code = 'D1-DEM'").fetchone()
    con.close()
    assert row[0] == "processing" and str(row[1]) == "2026-08-14 09:00:00" and str(row[2]) == "1", (order, row)
    assert str(row[3]) == "2026-08-04 22:00:00"      # it reached the portal with its first record


# round 3, items 5, 7 and 11 — the careful and the fast CSV path read the same bytes the same way ------------

def test_a_trailing_delimiter_reads_the_same_on_both_paths(hw_copy, tmp_path):
    """Rows ending with a delimiter the header lacks: UTF-16 (the careful path) gives the rows the plain UTF-8
    file (the fast lane) gives — not every column shifted by one."""
    from kpi.load import load_paths
    from kpi.store import connect
    text = ("unit_code,unit_name,parent_code,level\n"
            "X30,Xã Dấu Phẩy,P,commune,\nX31,Phường Cuối Dòng,P,commune,\n")
    fast, careful = tmp_path / "fast", tmp_path / "careful"
    fast.mkdir(), careful.mkdir()
    (fast / "units_a.csv").write_text(text, encoding="utf-8")
    (careful / "units_b.csv").write_bytes(text.encode("utf-16"))
    rows = {}
    for folder in (fast, careful):
        con = connect(hw_copy)
        report = load_paths(con, [folder], progress=False)
        rows[folder.name] = con.execute("SELECT unit_code, unit_name, parent_code, level FROM units "
                                        "WHERE unit_code IN ('X30', 'X31') ORDER BY 1").fetchall()
        con.execute("DELETE FROM units WHERE unit_code IN ('X30', 'X31')")
        con.close()
        assert report.files[0].quarantined == 0
    assert rows["fast"] == rows["careful"] == [("X30", "Xã Dấu Phẩy", "P", "commune"),
                                               ("X31", "Phường Cuối Dòng", "P", "commune")]


def test_invisible_characters_neither_make_a_second_dossier_nor_reverse_a_name(hw_copy, tmp_path):
    store = hw_copy
    assert run_kpi("load", "-q", "--store", store, BAD / "dossiers_zero_width_code.csv",
                   BAD / "units_bidi_name.csv").returncode == 0
    assert _rows(store, "SELECT dossier_code FROM dossiers WHERE dossier_code LIKE 'B4%' ORDER BY 1") == \
        [("B44",), ("B45",)]
    assert _rows(store, "SELECT unit_name FROM units WHERE unit_code = 'X22'") == [("UBND xã Đảo Chữ Một",)]
    # the same dossier sent again with a zero-width space in its code (fast lane and careful lane alike)
    resent = tmp_path / "resent"
    resent.mkdir()
    header = "dossier_code,procedure_code,unit_code,channel,received_at,due_at,finished_at,status,fee_amount,e_result\n"
    (resent / "dossiers_again.csv").write_text(
        header + "\u200bB44,PR1,D1,1,2026-08-03 09:00,2026-08-10 09:00,2026-08-05 10:00,finished,0,0\n", encoding="utf-8")
    (resent / "dossiers_again_cp.csv").write_bytes(
        (header + "B45\ufeff,PR1,D1,1,2026-08-03 09:00,2026-08-10 09:00,2026-08-06 10:00,finished,0,0\n").encode("utf-16"))
    assert run_kpi("load", "-q", "--store", store, resent).returncode == 0
    assert _rows(store, "SELECT dossier_code, status FROM dossiers WHERE dossier_code LIKE 'B4%' ORDER BY 1") == \
        [("B44", "finished"), ("B45", "finished")]


def test_a_value_too_long_is_one_quarantined_row_on_the_careful_path(hw_copy):
    store = hw_copy
    r = run_kpi("load", "--store", store, BAD / "dossiers_value_too_long.csv")
    assert r.returncode == 0, r.stderr
    assert _rows(store, "SELECT dossier_code FROM dossiers WHERE dossier_code IN ('B48', 'B49')") == [("B48",)]
    (line, reason), = _rows(store, "SELECT line, reason FROM quarantine WHERE file LIKE '%value_too_long.csv'")
    assert line == 4 and "quá dài" in reason


# round 3, items 8, 9, 12 and 13 — sync payloads ------------------------------------------------------------

def _dossier_rec(code, **extra):
    rec = {"MaHoSo": code, "MaTTHC": "PR1", "MaDonVi": "D1", "NgayTiepNhan": "20260903090000",
           "NgayHenTra": "20260910090000", "TrangThaiHoSo": "4"}
    rec.update(extra)
    return rec


def test_one_step_in_two_time_notations_is_one_event(hw_copy, tmp_path):
    """Both logs send the step: the province's in local compact time, a vendor's in UTC ISO."""
    folder = tmp_path / "dong-bo"
    folder.mkdir()
    (folder / "DongBoHoSoMC_a.json").write_text(json.dumps([_dossier_rec("D1-TT")]), encoding="utf-8")
    (folder / "CapNhatTienDoHoSoMC_a.jsonl").write_text(
        json.dumps({"MaHoSo": "D1-TT", "ThoiDiemXuLy": "20261103100000", "TrangThai": "4", "NguoiXuLy": "O1",
                    "NoiDungXuLy": "Thẩm định"}) + "\n", encoding="utf-8")
    (folder / "CapNhatTienDoHoSoMC_b.jsonl").write_text(
        json.dumps({"MaHoSo": "D1-TT", "ThoiDiemXuLy": "2026-11-03T03:00:00Z", "TrangThai": "4", "NguoiXuLy": "O1",
                    "NoiDungXuLy": "Thẩm định"}) + "\n", encoding="utf-8")
    assert run_kpi("load", "-q", "--store", hw_copy, folder).returncode == 0
    assert _rows(hw_copy, "SELECT event, strftime(\"at\", '%Y-%m-%d %H:%M') FROM dossier_events "
                          "WHERE dossier_code = 'D1-TT'") == [("step_done", "2026-11-03 10:00")]


@pytest.mark.parametrize("text", [
    '{"error_code": "-1", "message": "Sai mã xác thực", "data": null}',
    '{"madonvi": "D1", "service": "DongBoHoSoMC", "data": [{"MaHoSo": "D1-E1", "MaTTHC": "PR1", "NgayTiepNhan": '
    '"20260903090000", "TrangThaiHoSo": "2"}]}\n{"error_code": "401", "message": "Hết phiên", "data": null}\n',
    # the key in any case, or written with escapes, in a line of its own among records
    '{"MaHoSo": "D1-E1", "MaTTHC": "PR1", "NgayTiepNhan": "20260903090000", "TrangThaiHoSo": "2"}\n'
    '{"ErrorCode": "500", "message": "Lỗi máy chủ"}\n',
    '{"MaHoSo": "D1-E1", "MaTTHC": "PR1", "NgayTiepNhan": "20260903090000", "TrangThaiHoSo": "2"}\n'
    '{"\\u0065rror": "500", "message": "Lỗi máy chủ"}\n',
])
def test_an_error_reply_with_null_data_stops_the_load(hw_copy, tmp_path, text):
    f = tmp_path / ("DongBoHoSoMC_x.json" if text.count("\n") < 1 else "DongBoHoSoMC_x.jsonl")
    f.write_text(text, encoding="utf-8")
    r = run_kpi("load", "-q", "--store", hw_copy, f)
    line = r.stderr.strip()
    assert r.returncode == 1 and len(line.splitlines()) == 1 and "phản hồi lỗi của Cổng DVCQG" in line \
        and f.name in line, line
    assert _rows(hw_copy, "SELECT count(*) FROM dossiers WHERE dossier_code = 'D1-E1'") == [(0,)]


def test_fees_are_read_by_their_json_type_and_infinite_ones_quarantined(hw_copy, tmp_path):
    f = tmp_path / "DongBoHoSoMC_phi.json"
    recs = [_dossier_rec("D1-PF1", DanhSachLePhi=[{"Gia": 50000.0}]),
            _dossier_rec("D1-PF2", DanhSachLePhi=[{"Gia": "50000.5"}]),
            _dossier_rec("D1-PF3", DanhSachLePhi=[{"Gia": "50.000"}, {"Gia": 1500}]),
            _dossier_rec("D1-PF4", DanhSachLePhi=[{"Gia": "1.234,5"}])]
    text = json.dumps(recs)[:-1] + ', {"MaHoSo": "D1-PF5", "MaTTHC": "PR1", "MaDonVi": "D1", "NgayTiepNhan": ' \
        '"20260903090000", "TrangThaiHoSo": "4", "DanhSachLePhi": [{"Gia": 1e400}]}, ' + \
        json.dumps(_dossier_rec("D1-PF6", DanhSachLePhi=[{"Gia": "Infinity"}])) + "]"
    f.write_text(text, encoding="utf-8")
    r = run_kpi("load", "--store", hw_copy, f)
    assert r.returncode == 0, r.stderr
    assert _rows(hw_copy, "SELECT dossier_code, fee_amount FROM dossiers WHERE dossier_code LIKE 'D1-PF%' ORDER BY 1") \
        == [("D1-PF1", 50000.0), ("D1-PF2", 50000.5), ("D1-PF3", 51500.0), ("D1-PF4", 1234.5)]
    reasons = _rows(hw_copy, "SELECT line, reason FROM quarantine WHERE file LIKE '%DongBoHoSoMC_phi.json' ORDER BY 1")
    assert [l for l, _ in reasons] == [5, 6] and all("không phải số hữu hạn" in r for _, r in reasons)


def test_an_envelope_unit_that_contradicts_the_record_is_quarantined(hw_copy, tmp_path):
    f = tmp_path / "DongBoHoSoMC_dv.jsonl"
    f.write_text(json.dumps({"madonvi": "D1", "service": "DongBoHoSoMC",
                             "data": [_dossier_rec("D1-U1"), _dossier_rec("D1-U2", MaDonVi="C1"),
                                      {k: v for k, v in _dossier_rec("D1-U3").items() if k != "MaDonVi"}]}) + "\n",
                 encoding="utf-8")
    assert run_kpi("load", "-q", "--store", hw_copy, f).returncode == 0
    assert _rows(hw_copy, "SELECT dossier_code, unit_code FROM dossiers WHERE dossier_code LIKE 'D1-U%' ORDER BY 1") \
        == [("D1-U1", "D1"), ("D1-U3", "D1")]
    (reason,), = _rows(hw_copy, "SELECT reason FROM quarantine WHERE file LIKE '%DongBoHoSoMC_dv.jsonl'")
    assert "MaDonVi của bản ghi (C1) khác madonvi của gói (D1)" in reason


# round 3, item 13 — the small ones --------------------------------------------------------------------------

def test_json_nested_too_deep_is_one_line_naming_the_file(hw_copy, tmp_path):
    for name, text in (("DongBoHoSoMC_sau.json", "[" * 100_000 + "]" * 100_000),
                       ("ket_qua_sau.json", '{"a":' * 100_000 + "1" + "}" * 100_000)):
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        r = run_kpi("load", "-q", "--store", hw_copy, f)
        line = r.stderr.strip()
        assert r.returncode == 1 and len(line.splitlines()) == 1 and name in line and "lồng nhau quá sâu" in line, line


def test_typed_arguments_are_read_as_meant_and_refused_in_vietnamese(hw, tmp_path):
    r = run_kpi("score", "--period", "2026-08 ", "--unit", "d1", "--store", hw)
    assert r.returncode == 0, r.stderr
    assert "kỳ 2026-08 " not in r.stdout and "kỳ 2026-08" in r.stdout and "D1" in r.stdout
    r = run_kpi("score", "--period", "2026-13", "--store", hw)
    assert r.returncode == 2 and r.stderr.strip() == ("Lỗi: kỳ '2026-13' không hợp lệ: tháng 13 không có — tháng viết "
                                                      "từ 01 đến 12 (vd. 2026-08)"), r.stderr
    r = run_kpi("score", "--period", "2026-02-30..2026-03-02", "--store", hw)
    assert r.returncode == 2 and "ngày không có trong lịch" in r.stderr and "day is out" not in r.stderr


def test_a_memory_limit_too_small_is_one_line(hw, tmp_path):
    r = run_kpi("report", "monthly", "--period", "2026-08", "--store", hw, "--out", tmp_path / "m.html", "-q",
                env={"KPI_MEMORY_LIMIT": "1KB"})
    line = r.stderr.strip()
    assert r.returncode == 1 and len(line.splitlines()) == 1 and "KPI_MEMORY_LIMIT=1KB" in line, line


@pytest.mark.parametrize("line,words", [("ky_hieu: [VP, X]", "'ky_hieu' cần một giá trị chữ"),
                                        ('ky_hieu: "VP\\udcff"', "'ky_hieu' có ký tự không hợp lệ")])
def test_settings_of_the_wrong_kind_are_one_line(hw, tmp_path, line, words):
    settings = tmp_path / "kpi766.yaml"
    settings.write_text("co_quan_chu_quan: UBND TỈNH\nco_quan_ban_hanh: VĂN PHÒNG\ndia_danh: Thử\n"
                        f"chuc_vu_nguoi_ky: CHÁNH VĂN PHÒNG\n{line}\n", encoding="utf-8")
    r = run_kpi("report", "quarterly", "--period", "2026-Q3", "--docx", "--store", hw, "-q", "--settings", settings,
                "--out", tmp_path / "q.docx")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert not (tmp_path / "q.docx").exists()


def test_xlsx_text_is_nfc_like_csv_text(hw_copy, tmp_path):
    import unicodedata
    from openpyxl import Workbook
    wb = Workbook()
    wb.active.append(["unit_code", "unit_name", "parent_code", "level"])
    wb.active.append(["X40", unicodedata.normalize("NFD", "Xã Hòa Thuận"), "P", "commune"])
    wb.save(tmp_path / "units_nfd.xlsx")
    assert run_kpi("load", "-q", "--store", hw_copy, tmp_path / "units_nfd.xlsx").returncode == 0
    assert _rows(hw_copy, "SELECT unit_name FROM units WHERE unit_code = 'X40'") == [("Xã Hòa Thuận",)]


def test_ctrl_c_right_after_the_word_report_is_written_says_it_is_complete(hw, tmp_path):
    """The Ctrl-C reaches the command after it printed 'Đã ghi …docx': the line must not say it was not written."""
    out = tmp_path / "q.docx"
    p = subprocess.Popen([*KPI, "report", "quarterly", "--period", "2026-Q3", "--docx", "--store", str(hw),
                          "--out", str(out), "--settings", str(ROOT / "kpi766.yaml")], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    for line in p.stdout:
        if line.startswith("Đã ghi"):
            os.killpg(p.pid, signal.SIGINT)
            break
    rest, err = p.communicate(timeout=120)
    assert out.exists() and out.stat().st_size > 10_000
    if p.returncode == 130:         # the interrupt arrived before the command returned
        assert err.strip() == f"Đã dừng theo yêu cầu; {out} đã ghi xong, đầy đủ.", err
    else:
        assert p.returncode == 0 and not err.strip(), err


# round 3, item 6 — a unit's self-assessment never breaks the province's report --------------------------------

def test_out_of_range_self_assessments_are_quarantined_and_the_report_renders(hw_copy, tmp_path):
    f = tmp_path / "tu_danh_gia_d1.csv"
    f.write_text("unit_code,period,item_code,points\nD1,2026-Q3,TDGQ,99999\nD1,2026-Q3,TONG,inf\n"
                 "D1,2026-Q3,CKMB,1e308\nD1,2026-Q3,ON_TIME,27\nC1,2026-Q3,TONG,88.5\n", encoding="utf-8")
    r = run_kpi("load", "--store", hw_copy, f)
    assert r.returncode == 0, r.stderr
    assert _rows(hw_copy, "SELECT unit_code, item_code, points FROM self_assessments ORDER BY 1, 2") == \
        [("C1", "TONG", 88.5)]
    reasons = [x for (x,) in _rows(hw_copy, "SELECT reason FROM quarantine WHERE file LIKE '%tu_danh_gia_d1.csv' "
                                            "ORDER BY line")]
    assert len(reasons) == 4 and "vượt điểm tối đa 20" in reasons[0] and "không phải số hữu hạn" in reasons[1]
    assert "vượt điểm tối đa 18" in reasons[2] and "vượt điểm tối đa" in reasons[3]
    for args in (["--docx", "--out", tmp_path / "q.docx"], ["--out", tmp_path / "q.html"]):
        r = run_kpi("report", "quarterly", "--period", "2026-Q3", "--store", hw_copy, "-q",
                    "--settings", ROOT / "kpi766.yaml", *args)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr


# round 3, item 10 — a payload's size is bounded before it is read ------------------------------------------

def test_a_payload_that_decompresses_past_the_limit_is_one_line(hw_copy, tmp_path):
    """A 0.3 MB gzip of whitespace decompresses to 300 MB: refused at the limit, having read no more."""
    import gzip
    f = tmp_path / "DongBoHoSoMC_bom.json.gz"
    with gzip.open(f, "wb", compresslevel=9) as fh:
        fh.write(b"[")
        for _ in range(300):
            fh.write(b" " * (1 << 20))
        fh.write(b"]")
    assert f.stat().st_size < 1 << 20
    script = ("import resource, sys\nfrom kpi.cli import main\ncode = main(['load', '-q', '--store', sys.argv[1], "
              "sys.argv[2]])\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)\n")
    r = subprocess.run([sys.executable, "-c", script, str(hw_copy), str(f)], capture_output=True, text=True, cwd=ROOT)
    line = r.stderr.strip()
    assert r.returncode == 1 and len(line.splitlines()) == 1 and f.name in line and "lớn hơn 256 MB" in line, line
    assert int(r.stdout.split()[-1]) < 900_000          # kB: the text was never held whole


def test_a_large_plain_payload_is_refused_before_it_is_read(hw_copy, tmp_path, monkeypatch):
    from kpi.load import LoadError, load_paths, sync
    from kpi.store import connect
    f = tmp_path / "DongBoHoSoMC_lon.json"
    f.write_text(json.dumps([_dossier_rec(f"D1-L{i}") for i in range(200)]), encoding="utf-8")
    monkeypatch.setattr(sync, "MAX_PAYLOAD_BYTES", 10_000)
    con = connect(hw_copy)
    with pytest.raises(LoadError, match="lớn hơn 0 MB khi giải nén"):
        load_paths(con, [f], progress=False)
    con.close()


def test_a_command_takes_at_most_half_the_machine_unless_told(tmp_path, monkeypatch):
    """The memory budget — half the machine, or KPI_MEMORY_LIMIT — is the process's: DuckDB gets the budget
    less what Python keeps beside it (512 MiB), so that the whole command stays within it (a year at 10M
    under KPI_MEMORY_LIMIT=4GB: README, performance)."""
    import os
    from kpi.store import connect

    def duckdb_limit():
        con = connect(tmp_path / "k.duckdb")
        got = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        con.close()
        value, unit = got.split()
        return float(value) * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
    monkeypatch.delenv("KPI_MEMORY_LIMIT", raising=False)
    half = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2
    near = 0.1 * (1 << 30)              # DuckDB shows its setting to one decimal: 2.2 GiB
    assert abs(duckdb_limit() - (half - (512 << 20))) < max(near, 0.02 * half)
    monkeypatch.setenv("KPI_MEMORY_LIMIT", "3GB")
    assert abs(duckdb_limit() - (3e9 - (512 << 20))) < near
    monkeypatch.setenv("KPI_MEMORY_LIMIT", "600MB")           # a small budget: DuckDB gets half of it
    assert abs(duckdb_limit() - 300e6) < 0.01 * 300e6
