"""The fast lane (DuckDB reads plain CSV, SQL types the plain rows, validate() the rest) against the careful
way (every file through readers.py and validate(), the loader as it was): the same rows in every table,
the same quarantine, the same messages — on the sample, the hand-worked province and the hostile corpus."""
import shutil
from pathlib import Path

import pytest

from kpi.load import loader, load_paths
from kpi.load.errors import LoadError
from kpi.schema import TABLES
from kpi.store import connect
from conftest import split_exports

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
NOW = __import__("datetime").datetime(2026, 11, 20, 12, 0)


def _load(store, paths, fast, monkeypatch):
    monkeypatch.setattr(loader, "FAST", fast)
    con = connect(store)
    try:
        report = load_paths(con, paths, progress=False, now=NOW)
        return report, None
    except LoadError as exc:
        return None, str(exc)
    finally:
        con.close()


def _contents(store) -> dict:
    con = connect(store, read_only=True)
    out = {}
    for name in list(TABLES) + ["quarantine", "loaded_files"]:
        cols = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall() if r[0] != "loaded_at"]
        out[name] = sorted(con.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM {name}").fetchall(), key=repr)
    con.close()
    return out


def _summary(report) -> list:
    return [(Path(f.file).name, f.table, f.read, f.loaded, f.quarantined, f.updated, f.superseded,
             sorted(f.unknown_columns), sorted(f.reasons.items()), f.notes) for f in report.files]


def _both(tmp_path, base, paths, monkeypatch):
    results = []
    for fast in (False, True):
        store = tmp_path / f"{fast}.duckdb"
        if base is not None:
            shutil.copy(base, store)
        report, error = _load(store, paths, fast, monkeypatch)
        results.append((_summary(report) if report else None, error, _contents(store)))
    return results


def test_sample_loads_the_same_both_ways(sample_dir, tmp_path, monkeypatch):
    careful, fast = _both(tmp_path, None, [sample_dir], monkeypatch)
    assert fast[1] is None and careful[1] is None
    assert sum(len(v) for v in fast[2].values()) > 10_000
    for name in careful[2]:
        assert fast[2][name] == careful[2][name], name
    assert fast[0] == careful[0]


def test_handworked_loads_the_same_both_ways(tmp_path, monkeypatch):
    careful, fast = _both(tmp_path, None, [ROOT / "tests" / "data" / "handworked"], monkeypatch)
    assert fast == careful


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.iterdir()
                                        if p.suffix in (".csv", ".txt") and p.name != "MANIFEST.csv"))
def test_hostile_file_gives_the_same_rows_quarantine_and_messages(name, hw, tmp_path, monkeypatch):
    careful, fast = _both(tmp_path, hw, [BAD / name], monkeypatch)
    assert fast[1] == careful[1]
    assert fast[2] == careful[2]
    assert fast[0] == careful[0]


def test_fast_lane_takes_plain_files_and_leaves_odd_ones(tmp_path):
    from kpi.load.fastcsv import prescan
    plain = tmp_path / "dossiers.csv"
    plain.write_bytes(b"dossier_code,status\nA,processing\n\n")         # trailing blank lines are harmless
    assert prescan(plain)["lines"] == 2
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(b"a,b\r\n1,2\r\n")
    assert prescan(crlf)["lines"] == 2
    for body in (b"a,b\r1,2\r", b"a,b\n1,\x1b[2J\n", b"\xff\xfea\x00", b"a,b\n1,x\xc2\x85\n"):
        odd = tmp_path / "odd.csv"
        odd.write_bytes(body)
        assert prescan(odd) is None, body
    import duckdb
    from kpi.load.fastcsv import stage_csv
    head = b"dossier_code,procedure_code,unit_code,received_at,status\n"
    for body in (b"A,P,U,2026-08-03,received\n\nB,P,U,2026-08-03,received\n",      # a blank line
                 b'A,"P\n2",U,2026-08-03,received\nB,P,U,2026-08-03,received\n'):   # a line break in a value
        odd = tmp_path / "dossiers.csv"
        odd.write_bytes(head + body)
        assert prescan(odd) is not None and stage_csv(duckdb.connect(), odd, None, "_t") is None, body
    odd.write_bytes(head + b"A,P,U,2026-08-03,received\nB,P,U,2026-08-03,received\n")
    assert stage_csv(duckdb.connect(), odd, None, "_t")[1] == 2
    nfd = tmp_path / "nfd.csv"
    nfd.write_bytes("a,b\n1,Hoa\u0300\n".encode())
    assert prescan(nfd)["nfd"]


def test_prescan_plain_files_read_once_as_the_careful_way_reads_them(tmp_path, monkeypatch):
    """A file without a control byte, a rare character's first byte or a CR is scanned chunk by chunk without
    copies (`_plain`); what that gives is what the careful scan gives (forced here) — lines, quotes — also when
    a quote, a line break or a BOM falls on a chunk's edge, and several chunks long."""
    from kpi.load import fastcsv
    chunk = 1 << 23
    bodies = [b"a,b\n1,2\n", b"a,b\n1,2", b"\xef\xbb\xbfa,b\n1,2\n\n\n", b'a,b\n1,"x, y"\n',
              b"a,b\n" + b"x" * (chunk - 5) + b'"\n1,2\n',             # a quote as a chunk's last byte
              b"a,b\n" + b"x" * (chunk - 4) + b"\n1,2\n" * 3,          # a line break as a chunk's first byte
              b"a,b\n" + b"1,2\n" * (chunk // 2) + b"3,4\n\n"]         # three chunks
    plain = []
    for i, body in enumerate(bodies):
        f = tmp_path / f"p{i}.csv"
        f.write_bytes(body)
        plain.append((f, fastcsv.prescan(f)))
    monkeypatch.setattr(fastcsv, "_plain", lambda fh: None)
    for (f, got), body in zip(plain, bodies):
        assert got == fastcsv.prescan(f) and got is not None, body[:20]
    assert [g["lines"] for _, g in plain] == [2, 2, 2, 2, 3, 7, chunk // 2 + 2]
    assert [g["quotes"] for _, g in plain] == [False, False, False, True, True, False, False]


def test_mixed_file_quarantines_odd_rows_with_validate_messages(hw, tmp_path, monkeypatch):
    """Plain rows, rows only validate() reads (day-first dates with one digit, aliases, Vietnamese numbers),
    bad rows and duplicates of each, in one file: both ways agree, row by row."""
    f = tmp_path / "dossiers_mixed.csv"
    f.write_text(
        "dossier_code,procedure_code,unit_code,channel,received_at,due_at,status,fee_amount,e_result\n"
        "M1,PR1,D1,1,2026-08-03 09:00:00,2026-08-10 09:00:00,processing,0,0\n"
        "M2,PR1,d1,trực tuyến,3/8/2026 9:00,10/08/2026,processing,\"1.500,5\",có\n"
        "M3,PR1,D1,1,2026-08-03 09:00:00,2026-08-01 09:00:00,processing,0,1\n"
        "M1,PR1,D1,1,2026-08-03 09:00:00,2026-08-10 09:00:00,processing,0,0\n"
        "M2,PR1,D1,1,2026-08-03 09:00:00,2026-08-10 09:00:00,processing,0,0\n"
        "M4,PR1,D1,9,2026-08-03 09:00:00,,processing,-3,maybe\n"
        "M5, PR1 ,D1,1,20260803090000,03/08/2026 17:30,received,50.000,x\n"
        "M3,PR1,D1,1,2026-08-03 09:00:00,2026-08-10 09:00:00,processing,0,1\n"
        "M6,PR9,D1,1,2026-08-03 09:00:00,,processing,0,0\n", encoding="utf-8")
    careful, fast = _both(tmp_path, hw, [f], monkeypatch)
    assert fast == careful
    q = {r[1]: r[4] for r in fast[2]["quarantine"] if r[0].endswith("dossiers_mixed.csv")}
    assert q[5] == "trùng lặp giống hệt dòng 2 (bản ghi đã được nạp một lần)"
    assert q[6].startswith("mã trùng với dòng 3 nhưng nội dung khác")
    assert q[9].startswith("mã trùng với dòng 4 nhưng nội dung khác")    # though line 4 itself was quarantined
    assert q[4].startswith("ngày hẹn trả trước ngày tiếp nhận")
    assert set(q) == {4, 5, 6, 7, 9, 10}
    loaded = {r[0]: r for r in fast[2]["dossiers"] if r[0].startswith("M")}
    assert loaded["M2"][2] == "D1" and loaded["M2"][3] == "2" and loaded["M2"][12] == 1500.5
    assert loaded["M5"][12] == 50000.0 and loaded["M5"][1] == "PR1"


@pytest.mark.parametrize("indexed", [False, True])
def test_incremental_load_scores_as_a_full_reload(sample_dir, tmp_path, monkeypatch, indexed):
    """A daily export loaded on top of the rest gives the same rows and the same scores as loading
    everything at once — into a new store, and into one made before the large tables lost their key
    index (`indexed`)."""
    import kpi
    from kpi.store import table_ddl
    from kpi.schema import TABLES as T
    base, new = split_exports(sample_dir, tmp_path, "2026-11-10")
    daily, whole = tmp_path / "daily.duckdb", tmp_path / "whole.duckdb"
    if indexed:
        con = connect(daily)
        for name in ("dossiers", "dossier_events"):
            con.execute(f"DROP TABLE {name}")
            con.execute(table_ddl(name).replace("_line BIGINT)", f"_line BIGINT, PRIMARY KEY ({', '.join(T[name].key)}))"))
        con.close()
    for paths, store in (([base], daily), ([new], daily), ([sample_dir], whole)):
        report, error = _load(store, paths, True, monkeypatch)
        assert error is None, error
    assert report is not None
    a, b = _contents(daily), _contents(whole)
    for name in ("dossiers", "dossier_events", "ratings"):
        strip = (lambda rows: sorted((r[:-2] for r in rows), key=repr))     # file and line differ
        assert strip(a[name]) == strip(b[name]), name
    monkeypatch.setenv("KPI_CACHE", "0")
    for period in ("2026-10", "2026-11"):
        sa = kpi.scores(period, store=daily).sort_values(["unit_code", "metric_code"]).reset_index(drop=True)
        sb = kpi.scores(period, store=whole).sort_values(["unit_code", "metric_code"]).reset_index(drop=True)
        __import__("pandas").testing.assert_frame_equal(sa, sb)


def test_a_large_sample_is_written_a_few_days_at_a_time(tmp_path, monkeypatch):
    """The chunked sample (used from 400 000 dossiers) is one clean province: one header per file, every
    dossier code once, every row loads, the portal files and self-assessments are made, and nothing
    of the memory cap it scores under is left in the environment."""
    import os
    import duckdb
    import kpi.sample.province as sample
    from kpi.sample import generate
    monkeypatch.setattr(sample, "CHUNKED_FROM", 1000)
    monkeypatch.setattr(sample, "CHUNK", 4000)
    monkeypatch.delenv("KPI_MEMORY_LIMIT", raising=False)
    out = tmp_path / "raw"
    counts = generate(out, seed=5, months=2, per_year=60_000, progress=False)
    assert "KPI_MEMORY_LIMIT" not in os.environ
    assert counts["dossiers.csv"] > 8000 and (out / "portal").is_dir() and counts["tu_danh_gia.csv"] > 0
    con = duckdb.connect()
    d = con.execute(f"SELECT count(*), count(DISTINCT dossier_code) FROM read_csv('{out / 'dossiers.csv'}')").fetchone()
    assert d == (counts["dossiers.csv"], counts["dossiers.csv"])
    assert (out / "dossier_events.csv").read_text(encoding="utf-8").count("dossier_code,seq") == 1
    con = connect(tmp_path / "k.duckdb")
    report = load_paths(con, [out], progress=False)      # today: the sample runs to 20/11/2026
    con.close()
    assert report.quarantined == 0
    assert sum(f.loaded for f in report.files if f.table == "dossiers") == counts["dossiers.csv"]


def test_round_trip_forms_and_rare_spaces_agree_with_validate(hw, tmp_path, monkeypatch):
    """The fast lane reads a plain time or whole number by a round trip (its text is what the value prints
    as) and leaves every other form to the patterns or to validate(); an Ogham space mark (U+1680, which
    prescan does not look for) sends the row to validate(). Both ways agree, row by row."""
    d = tmp_path / "dossiers_forms.csv"
    d.write_text(
        "dossier_code,procedure_code,unit_code,channel,received_at,due_at,status,fee_amount\n"
        "R1,PR1,D1,1,2026-08-03 09:00:00,2026-08-10,processing,1500\n"
        "R2,PR1,D1,1,2026-8-3 09:00:00,2026-08-10 9:00:00,processing,015\n"
        "R3,PR1,D1,1,2026-08-03T09:00:00,2026-08-10 09:00,processing,123456789012345\n"
        "R4,PR1,D1,1,0999-08-03 09:00:00,2026-08-10 09:00:00,processing,1234567890123456\n"
        "R5\u1680X,PR1,D1,1,2026-08-03 09:00:00,2026-08-10 09:00:00,processing,0\n"
        "R6,PR1\u1680,D1,1,2026-08-03 09:00:00,2026-08-10 09:00:00,processing,0\n"
        "R7,PR1,D1,1,2026-02-30 09:00:00,2026-08-10 09:00:00,processing,0\n"
        "R8,PR1,D1,1,2026-08-03 09:00:00,2026-08-10T09:00:00,processing,1500.50\n"
        "R9,PR1,D1,1,2026-08-03 09:00:00,2026-8-10,processing,+15\n"
        "R10,PR1,D1,1,2026-08-03 09:00:00,2026/08/10,processing,1.500\n"
        "R11,PR1,D1,1,2026-08-03 09:00:00,2026-08-10 24:00:00,processing,0\n"
        "R12,PR1,D1,1,2026-08-03 09:00:00,0001-08-10,processing,0\n"
        "R13,PR1,D1,1, 2026-08-03 09:00,2026-08-10 ,processing, 12\n", encoding="utf-8")
    e = tmp_path / "dossier_events_forms.csv"
    e.write_text(
        "dossier_code,seq,event,at\n"
        "R1,1,received,2026-08-03 09:00:00\n"
        "R1,007,assigned,2026-08-03 10:00:00\n"
        "R1,-0,step_done,2026-08-03 11:00:00\n"
        "R1,1234567890123456789,step_done,2026-08-03 12:00:00\n"
        "R1,+3,step_done,2026-08-03 13:00:00\n"
        "R1,1.000,step_done,2026-08-03 14:00:00\n"
        "R3,2,received,20260803090000\n"
        "R3,3,received,03/08/2026 09:00\n", encoding="utf-8")
    careful, fast = _both(tmp_path, hw, [d, e], monkeypatch)
    assert fast == careful
    q = {(r[0].rsplit("/", 1)[-1], r[1]) for r in fast[2]["quarantine"] if "_forms" in r[0]}
    loaded = {r[0] for r in fast[2]["dossiers"] if r[0].startswith("R")}
    assert {"R1", "R3"} <= loaded and "R4" not in loaded and "R7" not in loaded
    assert ("dossiers_forms.csv", 5) in q and ("dossiers_forms.csv", 8) in q     # year 999, 30 February
    fees = {r[0]: r[12] for r in fast[2]["dossiers"] if r[0].startswith("R")}
    assert fees["R1"] == 1500.0 and fees["R3"] == 123456789012345.0 and fees["R8"] == 1500.5
    seqs = sorted(r[1] for r in fast[2]["dossier_events"] if r[0] == "R1")
    assert 1 in seqs and 7 in seqs


def test_the_spaces_written_out_are_those_python_strips():
    """fastcsv.SPACES, written out (not looked up at import), is exactly the characters str.isspace() takes on
    this Python: a newer Unicode table that adds one is caught here."""
    from kpi.load.fastcsv import SPACES
    assert SPACES == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
