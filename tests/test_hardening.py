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
    assert len(list(out.iterdir())) == 8                   # 3 tables × CSV, XLSX; the pictures; the page
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
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert sorted(before) == sorted([f"{n}-2026-08.{e}" for n in ("ty-le-ho-so-tre-han", "danh-sach-ho-so-tre-han",
                                                                   "ty-le-dvc-truc-tuyen") for e in ("csv", "xlsx")]
                                    + ["index.html"])
    for delay in (1.0, 2.0, 3.0):
        p = subprocess.Popen(KPI + ["publish", "--period", "2026-08", "--store", str(hw_copy), "--out", str(out)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert sorted(q.name for q in out.iterdir() if q.is_file()) == sorted(before)   # never partial or mixed
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
    rc, err = _interrupt(["report", "monthly", "--period", "2026-08", "--store", hw_copy, "--out", tmp_path / "r.html",
                          "-q"], 6.0)
    assert rc == 130 and len(err.strip().splitlines()) == 1 and "chưa ghi báo cáo" in err, err
    assert not (tmp_path / "r.html").exists()


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
