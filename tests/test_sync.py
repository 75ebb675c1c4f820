"""The national sync payloads (DVCQG_SYNC.md, tests/data/sync/): every shape and uncertain case with the
exact rows or quarantine reasons it must give, and the round trip — the sample written as payloads and
loaded scores exactly as the same sample in canonical CSV."""
import shutil

import duckdb
import pandas as pd
import pytest

from conftest import ROOT, run_kpi

SYNC = ROOT / "tests" / "data" / "sync"
GOOD = [f for f in sorted(SYNC.iterdir()) if f.name != "DongBoHoSoMC_loi.json"]


# what two loads of the same payloads must both have written: rows with their file and line, the quarantine
STORE_ROWS = ["SELECT * REPLACE (regexp_replace(_file, '.*/', '') AS _file) FROM dossiers ORDER BY dossier_code",
              "SELECT * REPLACE (regexp_replace(_file, '.*/', '') AS _file) FROM dossier_events "
              "ORDER BY dossier_code, seq",
              "SELECT regexp_replace(file, '.*/', ''), line, table_name, column_name, reason, raw FROM quarantine "
              "ORDER BY ALL"]


def _rows(store, sql):
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def loaded(hw, tmp_path_factory):
    store = tmp_path_factory.mktemp("sync") / "kpi.duckdb"
    shutil.copy(hw, store)
    folder = tmp_path_factory.mktemp("payloads")
    for f in GOOD:
        shutil.copy(f, folder / f.name)
    r = run_kpi("load", "-q", "--store", store, folder)
    assert r.returncode == 0, r.stderr
    return store, r.stdout


def test_envelope_array_jsonl_gzip_and_iso_dates_become_dossiers(loaded):
    store, _ = loaded
    got = {r[0]: r[1:] for r in _rows(store, """SELECT dossier_code, unit_code, channel,
        strftime(received_at, '%Y-%m-%d %H:%M'), strftime(due_at, '%Y-%m-%d %H:%M'),
        strftime(finished_at, '%Y-%m-%d %H:%M'), strftime(returned_at, '%Y-%m-%d %H:%M'), status,
        strftime(synced_at, '%Y-%m-%d %H:%M'), fee_amount, paid_online, e_result, digitized_components,
        reused_digitized_data, from_personal_store, vneid_authenticated, from_national_portal,
        receiving_official_id, handling_official_id FROM dossiers WHERE dossier_code LIKE 'D1-S%'""")}
    # OpenCPS envelope (madonvi D1), captured 05/09 08:00: two fee lines, a result file, a submitted file, VNeID
    assert got["D1-S1"] == ("D1", "2", "2026-09-01 09:00", "2026-09-08 09:00", "2026-09-04 10:00", "2026-09-04 15:00",
                            "returned", "2026-09-05 08:00", 70000.0, "1", True, True, False, False, True, True,
                            "O1", "O1")
    # sent first from the envelope (waiting on a supplement), updated by the gzip JSON Lines of 12/09:
    # finished; synced_at stays at its first arrival
    assert got["D1-S2"] == ("D1", "1", "2026-09-02 09:00", "2026-09-11 09:00", "2026-09-10 11:00", None, "finished",
                            "2026-09-05 08:00", None, None, False, False, False, False, False, False, None, None)
    # a bare array with the newer fields, ISO dates (one with +07:00), the agency by name, payment "3" → 2,
    # no capture time in the name → synced when received; its receiver is not an official (kept as named)
    assert got["D1-S3"] == ("D1", None, "2026-09-07 08:30", "2026-09-14 08:30", "2026-09-10 16:00", None, "finished",
                            "2026-09-07 08:30", 0.0, "2", False, True, True, True, True, False,
                            "Nguyễn Vô Danh", None)


def test_steps_supplement_rounds_and_officials(loaded):
    store, out = loaded
    ev = [r[1:] for r in _rows(store, """SELECT dossier_code, dossier_code, event, strftime("at", '%Y-%m-%d %H:%M'),
        official_id, step_name, strftime(step_due_at, '%Y-%m-%d %H:%M') FROM dossier_events
        WHERE dossier_code LIKE 'D1-S%' ORDER BY dossier_code, seq""")]
    assert ev == [
        ("D1-S1", "received", "2026-09-01 09:00", "O1", None, None),
        ("D1-S1", "assigned", "2026-09-01 09:20", "O1", None, None),          # "Nguyễn Văn Một" in D1 → O1
        ("D1-S1", "step_done", "2026-09-03 10:00", "O2", "Phê duyệt", "2026-09-02 17:00"),   # "Trần Thị Hai"
        ("D1-S1", "finished", "2026-09-04 10:00", "O1", None, None),
        ("D1-S1", "returned", "2026-09-04 15:00", "O1", None, None),
        ("D1-S2", "supplement_requested", "2026-09-03 10:00", "O1", None, None),   # DanhSachHoSoBoSung round
        ("D1-S2", "deadline_extended", "2026-09-03 10:00", "O1", "hẹn trả mới 20260911090000", None),
        ("D1-S2", "supplement_completed", "2026-09-07 09:00", None, None, None),   # answered in the update
        ("D1-S3", "received", "2026-09-07 08:30", "Nguyễn Vô Danh", None, None),
        ("D1-S3", "supplement_requested", "2026-09-08 09:00", "O1", None, None),   # status 5
        ("D1-S3", "supplement_completed", "2026-09-09 09:00", "O1", None, None),   # the step leaving status 5
        ("D1-S3", "finished", "2026-09-10 16:00", "O1", None, None)]
    assert "không khớp danh sách cán bộ" in out and "Nguyễn Vô Danh" in out
    status = run_kpi("status", "--store", store).stdout
    assert "Dữ liệu đồng bộ DVCQG: 7 tệp — hồ sơ nạp 3" in status and "bước xử lý 12" in status
    assert "Người xử lý không có trong danh sách cán bộ: 1 — Nguyễn Vô Danh" in status
    # the late step is charged to the official who held it, found by name
    s = __import__("kpi").scores("2026-09", store=store, scope="official")
    assert not s[(s.official_id == "O2") & (s.metric_code == "ON_TIME")].empty


def test_holders_named_before_their_official_is_known_are_settled_when_a_later_load_brings_both(hw_copy, tmp_path):
    """A step holder named by full name is settled for this load's rows before they are written, and for the
    rows the store already held of the dossiers a load touches after it: an official added later, with a
    step of the same dossier, names the earlier steps too and fills the dossier's receiving and handling
    officials; a name two officials of the unit share stays as written."""
    import json
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    dossier = {"MaHoSo": "D1-S9", "MaTTHC": "PR1", "KenhThucHien": "1", "NgayTiepNhan": "20260901090000",
               "NgayHenTra": "20260908090000", "TrangThaiHoSo": "4", "DuocThanhToanTrucTuyen": "0"}
    (first / "DongBoHoSoMC_a@20260901T1200.json").write_text(json.dumps(
        {"madonvi": "D1", "service": "DongBoHoSoMC", "data": [dossier]}, ensure_ascii=False), encoding="utf-8")
    step = '{{"MaHoSo": "D1-S9", "ThoiDiemXuLy": "{}", "TrangThai": "{}", "NguoiXuLy": "{}", "NoiDungXuLy": "{}"}}'
    (first / "CapNhatTienDoHoSoMC_a.jsonl").write_text("\n".join([
        step.format("20260901090000", "2", "Phạm Văn Chín", "Tiếp nhận hồ sơ"),
        step.format("20260901100000", "4", "Lê Thị Trùng", "Phân công thụ lý")]) + "\n", encoding="utf-8")
    r = run_kpi("load", "-q", "--store", hw_copy, first)
    assert r.returncode == 0, r.stderr
    assert _rows(hw_copy, "SELECT receiving_official_id, handling_official_id FROM dossiers "
                          "WHERE dossier_code = 'D1-S9'") == [("Phạm Văn Chín", "Lê Thị Trùng")]
    (second / "officials.csv").write_text("official_id,full_name,unit_code,position,active\n"
                                          "O9,Phạm Văn Chín,D1,thụ lý,1\nO10,Lê Thị Trùng,D1,thụ lý,1\n"
                                          "O11,lê thị trùng ,D1,lãnh đạo,1\n", encoding="utf-8")
    (second / "CapNhatTienDoHoSoMC_b.jsonl").write_text(
        step.format("20260902100000", "4", " phạm văn chín", "Thẩm định") + "\n", encoding="utf-8")
    r = run_kpi("load", "-q", "--store", hw_copy, second)
    assert r.returncode == 0, r.stderr
    assert _rows(hw_copy, "SELECT event, official_id FROM dossier_events WHERE dossier_code = 'D1-S9' "
                          "ORDER BY seq") == [("received", "O9"), ("assigned", "Lê Thị Trùng"), ("step_done", "O9")]
    # the receiving official was still a name: now the official; the handling one stays as it was written
    assert _rows(hw_copy, "SELECT receiving_official_id, handling_official_id FROM dossiers "
                          "WHERE dossier_code = 'D1-S9'") == [("O9", "Lê Thị Trùng")]
    assert "Lê Thị Trùng" in r.stdout and "Phạm Văn Chín" not in r.stdout


def test_holders_named_by_officials_of_the_same_load_are_settled_before_the_write(hw_copy, tmp_path, monkeypatch):
    """Officials brought by the same load as the payloads naming them settle those payloads' holders before
    the write (against the officials as this load writes them): the pass after the write, which changes
    stored rows in place (memory the transaction holds until its commit), finds nothing to change."""
    import json

    import kpi.load.sync as sync
    from kpi.load import load_paths
    from kpi.store import connect
    folder = tmp_path / "load"
    folder.mkdir()
    (folder / "officials.csv").write_text("official_id,full_name,unit_code,position,active\n"
                                          "O9,Phạm Văn Chín,D1,thụ lý,1\nO10,Lê Thị Mười,D1,lãnh đạo,1\n",
                                          encoding="utf-8")
    (folder / "DongBoHoSoMC_a@20260901T1200.json").write_text(json.dumps(
        {"madonvi": "D1", "service": "DongBoHoSoMC", "data": [
            {"MaHoSo": "D1-S10", "MaTTHC": "PR1", "KenhThucHien": "1", "NgayTiepNhan": "20260901090000",
             "NgayHenTra": "20260908090000", "TrangThaiHoSo": "4", "DuocThanhToanTrucTuyen": "0"}]},
        ensure_ascii=False), encoding="utf-8")
    step = '{{"MaHoSo": "D1-S10", "ThoiDiemXuLy": "{}", "TrangThai": "{}", "NguoiXuLy": "{}", "NoiDungXuLy": "{}"}}'
    (folder / "CapNhatTienDoHoSoMC_a.jsonl").write_text("\n".join([
        step.format("20260901090000", "2", "Phạm Văn Chín", "Tiếp nhận hồ sơ"),
        step.format("20260901100000", "4", "lê thị mười", "Phân công thụ lý")]) + "\n", encoding="utf-8")
    changed = []
    real = sync.run

    def spy(con, sql, params=None):
        out = real(con, sql, params)
        if sql.lstrip().startswith("UPDATE"):
            changed.append(out[0][0])
        return out
    monkeypatch.setattr(sync, "run", spy)
    con = connect(hw_copy)
    load_paths(con, [folder], progress=False)
    con.close()
    assert _rows(hw_copy, "SELECT event, official_id FROM dossier_events WHERE dossier_code = 'D1-S10' "
                          "ORDER BY seq") == [("received", "O9"), ("assigned", "O10")]
    assert _rows(hw_copy, "SELECT receiving_official_id, handling_official_id FROM dossiers "
                          "WHERE dossier_code = 'D1-S10'") == [("O9", "O10")]
    assert changed == [0, 0]        # finish(): the events' holders, the dossiers' officials


def test_a_settle_that_fails_leaves_nothing_on_the_connection(hw_copy, tmp_path, monkeypatch):
    """A load stopped while it settles the payloads' step holders (before its transaction) writes nothing and
    leaves none of its working tables on the connection a notebook keeps using: neither the settle's helpers
    nor the settled copies made before the failure."""
    import json

    import duckdb

    import kpi.load.sync as sync
    from kpi.load import load_paths
    from kpi.store import connect
    folder = tmp_path / "load"
    folder.mkdir()
    (folder / "DongBoHoSoMC_b@20260901T1200.json").write_text(json.dumps(
        {"madonvi": "D1", "service": "DongBoHoSoMC", "data": [
            {"MaHoSo": "D1-S11", "MaTTHC": "PR1", "KenhThucHien": "1", "NgayTiepNhan": "20260901090000",
             "NgayHenTra": "20260908090000", "TrangThaiHoSo": "4", "DuocThanhToanTrucTuyen": "0"}]}),
        encoding="utf-8")
    (folder / "CapNhatTienDoHoSoMC_b.jsonl").write_text(
        '{"MaHoSo": "D1-S11", "ThoiDiemXuLy": "20260901090000", "TrangThai": "2", "NguoiXuLy": "O1", '
        '"NoiDungXuLy": "Tiếp nhận hồ sơ"}\n', encoding="utf-8")
    real = sync.run

    def failing(con, sql, params=None):
        if "TEMP TABLE _sync_firsts" in sql:       # after the events' copy was made
            raise duckdb.OutOfMemoryException("Out of Memory Error: simulated")
        return real(con, sql, params)
    monkeypatch.setattr(sync, "run", failing)
    before = _rows(hw_copy, "SELECT count(*) FROM dossier_events")
    con = connect(hw_copy)
    temp = "SELECT table_name FROM duckdb_tables() WHERE temporary ORDER BY 1"
    with pytest.raises(duckdb.OutOfMemoryException):
        load_paths(con, [folder], progress=False)
    assert con.execute(temp).fetchall() == []
    con.close()
    assert _rows(hw_copy, "SELECT count(*) FROM dossiers WHERE dossier_code = 'D1-S11'") == [(0,)]
    assert _rows(hw_copy, "SELECT count(*) FROM dossier_events") == before


def test_quarantined_records_and_catalogue(loaded):
    store, _ = loaded
    q = sorted(_rows(store, "SELECT regexp_extract(file, '[^/]+$'), line, column_name, reason FROM quarantine"))
    assert q == [
        ("DongBoHoSoMC_ngayhong.json", 1, "received_at",
         "ngày giờ '20261345090000' không đọc được ở cột received_at; dùng dạng 25/08/2026 14:05 hoặc 2026-08-25"),
        ("DongBoHoSoMC_trangthai.json", 1, "status",
         "mã trạng thái hồ sơ không có trong danh sách 1–10 của Cổng DVCQG — kiểm tra bản ghi D1-S4"),
        ("DongBoHoSoMC_trangthai.json", 2, "status",
         "hồ sơ mới đăng ký (trạng thái 1), chưa được tiếp nhận — chưa tính; bản ghi sau có trạng thái tiếp nhận "
         "sẽ nạp hồ sơ này")]
    # no applicant data and no free text in what quarantine keeps of a refused payload record
    raw = " ".join(r[0] for r in _rows(store, "SELECT raw FROM quarantine WHERE file LIKE '%trangthai%'"))
    assert "D1-S5" in raw and "NgayNopHoSo" in raw
    procs = {r[0]: r[1:] for r in _rows(store, "SELECT procedure_code, procedure_name, max_processing_time, time_unit, "
                                               "has_fee, paper_result_required FROM procedures")}
    assert procs["1.000001"] == ("Thủ tục từ danh mục quốc gia", 3.0, "working_day", True, True)   # direct channel
    assert procs["PR1"] == ("Cấp giấy phép thử", 5.0, "working_day", True, True)   # the province's list wins


@pytest.mark.parametrize("name,text,needle", [
    ("DongBoHoSoMC_loi.json", None, "phản hồi lỗi của Cổng DVCQG (error_code -1"),
    ("DongBoHoSoMC_trang.json", "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "trang HTML"),
    ("DongBoHoSoMC_cut.json", '{"madonvi": "D1", "service": "DongBoHoSoMC", "data": [{"MaHoSo": "X"', "JSON hỏng"),
    ("CapNhatTienDoHoSoMC_cut.jsonl", '{"MaHoSo": "D1-A", "TrangThai": "4"}\n{"MaHoSo": "D1-A", "Tr', "dòng 2"),
    ("DongBoHoSoMC_cutarray.json", '[{"MaHoSo": "D1-X1", "TrangThaiHoSo": "2"},\n {"MaHoSo": "D1-X2", "Tr', "dòng 2"),
    ("DongBoHoSoMC_nocomma.json", '[{"MaHoSo": "D1-X1", "TrangThaiHoSo": "2"} {"MaHoSo": "D1-X2"}]', "thiếu dấu phẩy"),
    ("DongBoHoSoMC_tail.json", '[{"MaHoSo": "D1-X1", "TrangThaiHoSo": "2"}]\nrác', "còn dữ liệu sau"),
])
def test_a_file_that_is_not_a_payload_stops_the_load(hw_copy, tmp_path, name, text, needle):
    f = SYNC / name if text is None else tmp_path / name
    if text is not None:
        f.write_text(text, encoding="utf-8")
    before = _rows(hw_copy, "SELECT count(*) FROM dossiers")
    r = run_kpi("load", "-q", "--store", hw_copy, f)
    line = r.stderr.strip()
    assert r.returncode == 1 and len(line.splitlines()) == 1 and name in line and needle in line, line
    assert _rows(hw_copy, "SELECT count(*) FROM dossiers") == before


def test_applicant_data_from_payloads_stays_out_of_publications(loaded, tmp_path):
    store, _ = loaded
    out = tmp_path / "pub"
    assert run_kpi("publish", "--period", "2026-09", "--store", store, "--out", out).returncode == 0
    text = " ".join(p.read_text(encoding="utf-8-sig") for p in out.glob("*.csv"))
    for secret in ("Phan Thị Đồng Bộ", "0911000001", "072099000001", "Đồng Bộ", "Xin cấp giấy phép thử",
                   "gọi trước khi đến"):
        assert secret not in text


@pytest.fixture(scope="module")
def sync_store(tmp_path_factory):
    """The test sample (seed 7, 4 months, 12 000 a year: the same as conftest's) written as payloads."""
    from kpi.load import load_paths
    from kpi.sample import generate
    from kpi.store import connect
    raw = tmp_path_factory.mktemp("sample-sync")
    generate(raw, seed=7, months=4, per_year=12_000, progress=False, fmt="sync")
    assert not (raw / "dossiers.csv").exists() and list((raw / "dong-bo").glob("DongBoHoSoMC_*.jsonl.gz"))
    assert list((raw / "dong-bo").glob("DongBoHoSoMC_*.json")) and (raw / "dong-bo" / "LayThuTuc.json").exists()
    store = tmp_path_factory.mktemp("store-sync") / "kpi.duckdb"
    con = connect(store)
    report = load_paths(con, [raw], progress=False)
    con.close()
    assert report.quarantined == 0 and report.superseded > 0          # some dossiers were sent twice
    return store


@pytest.mark.parametrize("period", ["2026-07", "2026-08", "2026-09", "2026-10", "2026-Q3"])
def test_round_trip_scores_equal_the_canonical_sample(sample_store, sync_store, tmp_path, period):
    outs = []
    for store in (sample_store, sync_store):
        out = tmp_path / f"{store.parent.name}.csv"
        r = run_kpi("score", "--period", period, "--format", "csv", "--out", out, "--store", store)
        assert r.returncode == 0, r.stderr
        outs.append(pd.read_csv(out, encoding="utf-8-sig", dtype=str))
    assert len(outs[0]) > 3000
    pd.testing.assert_frame_equal(outs[0], outs[1])


@pytest.mark.parametrize("module,name,value", [
    ("fastcsv", "BATCH", 3),            # payload rows validated three at a time
    ("payloads", "BATCH_BYTES", 1),     # DuckDB reads the files one at a time
    ("payloads", "SLICE_BYTES", 1),     # and parses their values one at a time
    ("loader", "SHARE_ROWS", 2),        # codes, and keys brought more than once, found a share of hashes at a time
    ("loader", "REWRITE_FROM", 0),      # the records superseded left out by writing the staged tables again
])
def test_payloads_read_in_small_pieces_give_the_same_store(loaded, hw, tmp_path, monkeypatch, module, name, value):
    """Memory holds a piece of the payloads, not every file: rows validated a batch at a time, files read by
    DuckDB a batch of text at a time, values parsed a slice at a time — the smallest pieces give exactly the
    rows, lines, quarantine and counts of one piece."""
    import importlib

    from kpi.load import load_paths
    from kpi.store import connect
    store, _ = loaded
    small = tmp_path / "kpi.duckdb"
    shutil.copy(hw, small)
    folder = tmp_path / "payloads"
    folder.mkdir()
    for f in GOOD:
        shutil.copy(f, folder / f.name)
    monkeypatch.setattr(importlib.import_module(f"kpi.load.{module}"), name, value)
    con = connect(small)
    report = load_paths(con, [folder], progress=False)
    # nothing of the load stays on the connection (a notebook's goes on): no staged table, no settled view
    assert con.execute("SELECT list(table_name) FROM duckdb_tables() WHERE temporary").fetchone()[0] in (None, [])
    assert con.execute("SELECT list(view_name) FROM duckdb_views() WHERE temporary AND NOT internal"
                       ).fetchone()[0] in (None, [])
    con.close()
    for q in STORE_ROWS:
        got, want = _rows(small, q), _rows(store, q)
        assert got == want and len(got) >= 3, q
    assert sum(f.read for f in report.files) == sum(f.loaded + f.quarantined + f.superseded for f in report.files)
    assert report.superseded > 0            # records resent: the keep-latest rule chose among them


def test_a_payload_file_read_leaves_nothing_of_its_rows_in_memory(tmp_path):
    """What SyncParts keeps of a file once its rows are in the store is its name, counts and notes: not a view
    of its frame (a slice keeps every row of the file alive — 4 GB more at a million dossiers)."""
    from kpi.load.loader import Staging, SyncParts
    from kpi.load.readers import Sheet
    from kpi.store import connect
    con = connect(tmp_path / "k.duckdb")
    frame = pd.DataFrame({"dossier_code": [f"D{i}" for i in range(5000)], "status": ["received"] * 5000}, dtype=object)
    parts = SyncParts(con, Staging(con))
    parts.add(Sheet(tmp_path / "DongBoHoSoMC_x.json", "dossiers", frame, list(range(1, 5001))), "h")
    kept, _, n = parts.parts["dossiers"][0]
    assert n == 5000 and len(kept.frame) == 0 and list(kept.frame.columns) == ["dossier_code", "status"]
    assert all(b.values.base is None or b.values.base.size == 0 for b in kept.frame._mgr.blocks)
    assert con.execute(f"SELECT count(*) FROM {parts.tables['dossiers']}").fetchone()[0] == 5000
    con.close()


def _rec(code, **kw):
    return {"MaHoSo": code, "MaTTHC": "PR1", "MaDonVi": "D1", "NgayTiepNhan": "20260903090000",
            "NgayHenTra": "20260910090000", "TrangThaiHoSo": "4", **kw}


@pytest.mark.parametrize("shape", ["plain_invisible", "blank_line_crlf", "utf16", "bom", "pretty", "indented_array",
                                   "escaped"])
def test_a_payload_of_another_shape_gives_the_rows_and_lines_of_the_plain_one(hw_copy, tmp_path, shape):
    """The fast way reads plain files; a blank line between records, another encoding, a BOM, a pretty-printed
    envelope, escaped or invisible characters go the careful way — with the same rows and the same lines."""
    import json
    recs = [_rec("D1-SH1"), _rec("D1-SH2", ChuHoSo="Lê\u200b Văn A"), _rec("D1-SH3", TrangThaiHoSo="99")]
    name, data = {
        "plain_invisible": ("DongBoHoSoMC_a.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in recs).encode()),
        "blank_line_crlf": ("DongBoHoSoMC_a.jsonl", ("\r\n".join([json.dumps(recs[0]), "", json.dumps(recs[1]),
                                                                   json.dumps(recs[2])]) + "\r\n").encode()),
        "utf16": ("DongBoHoSoMC_a.jsonl", ("\n".join(json.dumps(r, ensure_ascii=False) for r in recs)).encode("utf-16")),
        "bom": ("DongBoHoSoMC_a.json", b"\xef\xbb\xbf" + json.dumps(recs, ensure_ascii=False).encode()),
        "pretty": ("DongBoHoSoMC_a.json", json.dumps({"madonvi": "D1", "service": "DongBoHoSoMC", "data": recs},
                                                     indent=2, ensure_ascii=False).encode()),
        "indented_array": ("DongBoHoSoMC_a.json", b"\n  " + json.dumps(recs, indent=1).encode()),
        "escaped": ("DongBoHoSoMC_a.jsonl", "\n".join(json.dumps(r) for r in recs).encode()),
    }[shape]
    (tmp_path / name).write_bytes(data)
    r = run_kpi("load", "-q", "--store", hw_copy, tmp_path / name)
    assert r.returncode == 0, r.stderr
    lines = {"blank_line_crlf": [1, 3, 4]}.get(shape, [1, 2, 3])
    got = _rows(hw_copy, "SELECT dossier_code, _line, applicant_name FROM dossiers WHERE dossier_code LIKE 'D1-SH%' "
                         "ORDER BY 1")
    assert got == [("D1-SH1", lines[0], None), ("D1-SH2", lines[1], "Lê Văn A")]
    assert _rows(hw_copy, "SELECT line, column_name FROM quarantine WHERE file LIKE '%DongBoHoSoMC_a%'") == \
        [(lines[2], "status")]


def test_a_large_sample_as_payloads_is_the_same_province_as_its_csv(tmp_path, monkeypatch):
    """A sample above CHUNKED_FROM is made a few days at a time (memory bounded, 10M included): as payloads too,
    each chunk's dossiers and steps in files of their own beside the other chunks' of the same day — the same
    province as the CSV sample of the same seed, so the same scores."""
    from kpi.load import load_paths
    from kpi.sample import generate, province
    from kpi.store import connect
    monkeypatch.setattr(province, "CHUNKED_FROM", 1_000)
    monkeypatch.setattr(province, "CHUNK", 4_000)            # about four months of 12 000 a year: two chunks
    outs = []
    for fmt in ("csv", "sync"):
        raw = tmp_path / f"raw-{fmt}"
        generate(raw, seed=5, months=6, per_year=12_000, progress=False, fmt=fmt)
        store = tmp_path / f"{fmt}.duckdb"
        con = connect(store)
        report = load_paths(con, [raw], progress=False)
        con.close()
        assert report.quarantined == 0
        out = tmp_path / f"{fmt}.csv"
        r = run_kpi("score", "--period", "2026-Q3", "--format", "csv", "--out", out, "--store", store)
        assert r.returncode == 0, r.stderr
        outs.append(pd.read_csv(out, encoding="utf-8-sig", dtype=str))
    parts = {p.name.rsplit("-p", 1)[-1].split(".")[0] for p in (tmp_path / "raw-sync" / "dong-bo").glob("*-p*")}
    assert parts == {"000", "001"} and not (tmp_path / "raw-sync" / "dossiers.csv").exists()
    # the portal's figures and the self-assessments, from the same recent dossiers; nothing left beside
    portal = [sorted((tmp_path / f"raw-{fmt}" / "portal").glob("*.json")) for fmt in ("csv", "sync")]
    assert len(portal[0]) >= 2 and [p.read_bytes() for p in portal[0]] == [p.read_bytes() for p in portal[1]]
    assert (tmp_path / "raw-csv" / "tu_danh_gia.csv").read_bytes() == (tmp_path / "raw-sync" / "tu_danh_gia.csv").read_bytes()
    assert not list((tmp_path / "raw-sync").glob(".*"))
    assert len(outs[0]) > 1000
    pd.testing.assert_frame_equal(outs[0], outs[1])


def _typed_way_files(folder):
    """Payload files of the usual shapes, with what the mapping refuses, numbers and settles in each: and files
    the typed way must leave to the general one."""
    import gzip
    import json
    st = lambda code, at, status, who="O1", what="Thẩm định", **kw: {   # noqa: E731
        "MaHoSo": code, "ThoiDiemXuLy": at, "TrangThai": status, "NguoiXuLy": who, "NoiDungXuLy": what, **kw}
    files = {
        # steps one a line: a supplement round (a step leaving status 5), the same time and kind twice, an apology,
        # a step status the portal does not have (refused: its line in the quarantine), a number as a status
        "CapNhatTienDoHoSoMC_t1.jsonl": [
            st("D1-T1", "20260901090000", "2", what="Tiếp nhận"),
            st("D1-T1", "20260901100000", "4", what="Phân công"),
            st("D1-T1", "20260902090000", "5"), st("D1-T1", "20260903090000", "4", NgayKetThucTheoQuyDinh="20260904"),
            st("D1-T1", "20260903090000", "4"), st("D1-T1", "20260903100000", "4", what="Gửi thư xin lỗi"),
            st("D1-T2", "20260905090000", "42"), {"MaHoSo": "D1-T2", "ThoiDiemXuLy": "2026-09-05T10:00:00+07:00",
                                                  "TrangThai": 9, "NguoiXuLy": " O1 "}],
        # steps in an array
        "CapNhatTienDoHoSoMC_t2.json": [st("D1-T3", "20260906090000", "2"), st("D1-T3", "20260907090000", "10")],
        # dossier records in an array: fees as texts and numbers, one too large (refused), a status not listed
        "DongBoHoSoMC_t3.json": [
            _rec("D1-T1", DanhSachLePhi=[{"Gia": "1.234.567,5"}, {"Gia": 20000}, "not a line"]),
            _rec("D1-T2", TrangThaiHoSo="10"), _rec("D1-T12", DanhSachLePhi=[{"Gia": "TOO_LARGE"}]),
            _rec("D1-T4", TrangThaiHoSo="77"), _rec("D1-T5", MaDonVi=None, DonViXuLy="Đơn vị Một"),
            _rec("D1-T6", TaiLieuNop=[{"IsDeleted": "False", "DuongDanTaiTepTin": "a.pdf", "DuocTaiSuDung": "1"}],
                 DanhSachHoSoBoSung=[{"NgayBoSung": "20260904090000", "NgayTiepNhanBoSung": "20260905090000",
                                      "NguoiYeuCauBoSung": "O1", "NgayHenTraMoi": "20260912090000"}])],
        # dossier envelopes one a line: the second line's records numbered by that line; a record of another unit
        "DongBoHoSoMC_t4.jsonl": [
            {"madonvi": "D1", "service": "DongBoHoSoMC", "data": [_rec("D1-T3", MaDonVi=None), _rec("D1-T7")]},
            {"madonvi": "D1", "service": "DongBoHoSoMC", "data": [_rec("D1-T8", MaDonVi="D9"), _rec("D1-T9")]}],
        # one envelope on its one line: its records numbered by their place in it (gzip)
        "DongBoHoSoMC_t5.jsonl.gz": [{"madonvi": "D1", "service": "DongBoHoSoMC", "data": [_rec("D1-T10"),
                                                                                           _rec("D1-T11")]}],
        # the general way's: a record's own madonvi, another service's envelope, a key DuckDB finds twice
        "DongBoHoSoMC_g1.json": [_rec("D1-G1", MaDonVi=None, madonvi="D1")],
        "DongBoHoSoMC_g2.jsonl": [{"madonvi": "D1", "service": "CapNhatTienDoHoSoMC",
                                   "data": [st("D1-T7", "20260906090000", "2")]}],
        "DongBoHoSoMC_g3.json": '[{"MaHoSo": "D1-G3", "MaTTHC": "PR1", "MaDonVi": "D1", "NgayTiepNhan": '
                                '"20260903090000", "TrangThaiHoSo": "4", "TrangThaiHoSo": "9"}]',
        # a fee list that is not a list: DuckDB's reader refuses it, the general way reads no fee
        "DongBoHoSoMC_g4.json": [_rec("D1-G4", DanhSachLePhi={"Gia": 5})],
    }
    for name, content in files.items():
        text = content if isinstance(content, str) else (
            json.dumps(content, ensure_ascii=False) if name.endswith(".json") else
            "\n".join(json.dumps(r, ensure_ascii=False) for r in content) + "\n")
        text = text.replace('"TOO_LARGE"', "1e999")
        (folder / name).write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    return sorted(files)


def test_the_typed_way_gives_the_general_way_s_rows_lines_and_quarantine(hw, tmp_path, monkeypatch):
    """Files of the usual shapes are read straight into their fields (one parse): exactly the rows, lines,
    quarantine and counts the general way gives — and the files the typed way leaves (a record's own unit,
    another service's envelope, what DuckDB's reader refuses) are read the general way."""
    from kpi.load import load_paths, payloads
    from kpi.store import connect
    folder = tmp_path / "payloads"
    folder.mkdir()
    names = _typed_way_files(folder)
    typed = []
    real = payloads.Reader._map
    monkeypatch.setattr(payloads.Reader, "_map", lambda self, counts, t: (typed.extend(p.path.name for p in t),
                                                                          real(self, counts, t))[1])
    stores = []
    for way in (True, False):
        monkeypatch.setattr(payloads, "TYPED", way)
        store = tmp_path / f"{way}.duckdb"
        shutil.copy(hw, store)
        con = connect(store)
        report = load_paths(con, [folder], progress=False)
        con.close()
        stores.append((store, sorted((f.file.rsplit("/", 1)[-1], f.table, f.read, f.loaded, f.quarantined,
                                      f.superseded, f.notes) for f in report.files)))
    assert sorted(typed) == [n for n in names if "_t" in n]       # the second load: none
    for q in STORE_ROWS:
        got, want = _rows(stores[0][0], q), _rows(stores[1][0], q)
        assert got == want and len(got) >= 3, q
    assert stores[0][1] == stores[1][1]
    quarantine = _rows(stores[0][0], "SELECT regexp_replace(file, '.*/', ''), line, column_name, raw FROM quarantine "
                                     "WHERE file LIKE '%\\_t%' ESCAPE '\\' ORDER BY 1, 2")
    assert [q[:3] for q in quarantine] == [("CapNhatTienDoHoSoMC_t1.jsonl", 7, "event"),
                                           ("DongBoHoSoMC_t3.json", 3, "fee_amount"),
                                           ("DongBoHoSoMC_t3.json", 4, "status"),
                                           ("DongBoHoSoMC_t3.json", 5, "unit_code"),      # a name no unit has
                                           ("DongBoHoSoMC_t4.jsonl", 2, "unit_code")]
    assert '"MaHoSo": "D1-T8"' in quarantine[4][3] and '"TrangThaiHoSo": "77"' in quarantine[2][3]
    assert _rows(stores[0][0], "SELECT dossier_code, _line FROM dossiers WHERE dossier_code IN ('D1-T9', 'D1-T10', "
                               "'D1-T11') ORDER BY 1") == [("D1-T10", 1), ("D1-T11", 2), ("D1-T9", 2)]


def test_codes_are_looked_at_for_hidden_spaces_only_when_a_payload_file_can_hold_one(hw, tmp_path, monkeypatch):
    """A space other than ' ' can be in a payload's value only as an escape or written as it is (the others are
    control characters, refused inside a JSON string): when no file of the load holds either (Payload.spaced),
    the codes are typed without looking for one — the same rows and quarantine as when looked for; a file that
    holds one, written or escaped, has the code refused with validate()'s message, as always."""
    import json
    from kpi.load import fastcsv, load_paths, payloads
    from kpi.store import connect
    clean, spaced = tmp_path / "clean", tmp_path / "spaced"
    for folder in (clean, spaced):
        folder.mkdir()
        _typed_way_files(folder)
    st = {"MaHoSo": "D1-H2", "ThoiDiemXuLy": "20260901090000", "TrangThai": "2", "NoiDungXuLy": "Tiếp nhận"}
    (spaced / "DongBoHoSoMC_h1.json").write_text(json.dumps([_rec("D1-H1"), _rec("D1-H\u00a02")], ensure_ascii=False),
                                                 encoding="utf-8")
    (spaced / "CapNhatTienDoHoSoMC_h2.jsonl").write_text(
        json.dumps({**st, "NguoiXuLy": "O1"}) + "\n" + json.dumps({**st, "ThoiDiemXuLy": "20260901100000",
                                                                   "NguoiXuLy": "O\t1"}) + "\n", encoding="utf-8")
    assert [payloads.look(f, "x", None).spaced for f in (spaced / "DongBoHoSoMC_h1.json",
                                                        spaced / "CapNhatTienDoHoSoMC_h2.jsonl")] == [True, True]
    assert not any(payloads.look(f, "x", None).spaced for f in clean.iterdir())
    split = tmp_path / "split.jsonl"            # one written across two chunks of the look: found too
    split.write_bytes(b'{"MaHoSo": "' + b"x" * ((1 << 23) - 13) + "\u3000".encode() + b'"}\n')
    assert payloads.look(split, "x", None).spaced
    seen, force = [], []
    real = fastcsv.type_rows
    monkeypatch.setattr(fastcsv, "type_rows", lambda *a, **kw: (seen.append(kw["hidden"]), real(
        *a, **{**kw, "hidden": kw["hidden"] or bool(force)}))[1])
    got = {}
    for folder in (clean, spaced):
        for looked in (False, True):        # as the files say, then as if any could hold one
            force[:] = [True] if looked else []
            store = tmp_path / f"{folder.name}-{looked}.duckdb"
            shutil.copy(hw, store)
            con = connect(store)
            load_paths(con, [folder], progress=False)
            con.close()
            got[folder.name, looked] = [_rows(store, q) for q in STORE_ROWS]
    assert seen == [False, False, False, False, True, True, True, True]      # dossiers, events: per load
    assert got["clean", False] == got["clean", True]
    assert got["spaced", False] == got["spaced", True]
    hidden = [(f, line, col) for f, line, _, col, reason, _ in got["spaced", False][2] if "khoảng trắng ẩn" in reason]
    assert hidden == [("CapNhatTienDoHoSoMC_h2.jsonl", 2, "official_id"), ("DongBoHoSoMC_h1.json", 2, "dossier_code")]


def test_payloads_looked_at_in_two_processes_are_those_looked_at_in_one(tmp_path, monkeypatch):
    """look_all gives every other file to a child process: the same Payloads in the files' order, and a file's
    error the first raised, whichever process looked at it — with the message one process gives."""
    from kpi.load import payloads, sync
    from kpi.load.errors import LoadError
    files = [(f, "x", sync.kind_of_name(f)) for f in GOOD]
    one = payloads.look_all(files)
    monkeypatch.setattr(payloads, "PARALLEL_FROM", 0)
    here = []                     # the files this process looked at: every other one, the child the rest
    real = payloads.look_or_error
    monkeypatch.setattr(payloads, "look_or_error", lambda f: (here.append(f[0]), real(f))[1])
    assert payloads.look_all(files) == one and [p.path for p in one] == GOOD
    assert here == GOOD[0::2]
    html = tmp_path / "DongBoHoSoMC_html.json"
    html.write_text("<html><body>Phiên đăng nhập hết hạn</body></html>")
    for at in (1, 2):             # the child's file, then this process's
        bad = files[:at] + [(html, "y", "dossiers")] + files[at:]
        with pytest.raises(LoadError) as err:
            payloads.look_all(bad)
        monkeypatch.setattr(payloads, "PARALLEL_FROM", 1 << 60)
        with pytest.raises(LoadError) as err1:
            payloads.look_all(bad)
        monkeypatch.setattr(payloads, "PARALLEL_FROM", 0)
        assert str(err.value) == str(err1.value) and "HTML" in str(err.value)
