"""The national sync payloads (DVCQG_SYNC.md): what every provincial one-stop system pushes to the
National Public Service Portal — `DongBoHoSoMC` (a dossier a record), `CapNhatTienDoHoSoMC` (a processing
step a record) and the `LayThuTuc` procedure catalogue — read into the canonical raw tables.

Shapes: the OpenCPS envelope `{session, madonvi, service, isUpdating, data: [...]}`, a bare JSON array of
records, JSON Lines (a record or an envelope a line), any of them gzip-compressed. The service is known
from the file name (`DongBoHoSoMC*`, `CapNhatTienDoHoSoMC*`, `LayThuTuc*`), the envelope, or the fields.

Decisions where the public code leaves it open (README "Dữ liệu thật từ hệ thống một cửa"):
* every scalar is a string; dates are `yyyyMMddHHmmss` local time or ISO (VNPT); `""` is no date;
* status 1 (Mới đăng ký) is not received yet: the record waits in quarantine until a later one brings it
  received; an unknown status code is quarantined;
* `DanhSachHoSoBoSung`: NgayBoSung = the request, NgayTiepNhanBoSung = the citizen's answer received,
  NgayHenTraMoi ≠ NgayHenTraTruoc = a deadline extension at the request;
* a step whose NoiDungXuLy starts with "Phân công" is the assignment (its holder becomes the handling
  official); one that mentions "thư xin lỗi" is an apology letter; a step that leaves status 5 is the
  citizen's supplement received;
* `DuocThanhToanTrucTuyen` "1" national portal, "2" provincial gateway, any other non-zero value → "2";
* the unit: the envelope's `madonvi`, else a record's `MaDonVi`, else `DonViXuLy` matched by name;
* events get a key of their own from their time and kind (`seq` = yyyyMMddHHmmss × 100 + kind), so the
  same step sent twice, or by both the step stream and the dossier's supplement list, is one event.

This module holds the rules' constants, what a payload file is, and the careful reading of one file
(iter_records: exact messages for a broken file, any encoding); payloads.py reads the files in DuckDB and
maps their records in SQL; the LayThuTuc catalogue (one small file) is mapped here.
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pandas as pd

from kpi.load.errors import LoadError
from kpi.load.readers import Sheet, clean_text, decode, json_loads, too_deep
from kpi.load.validate import number_text
from kpi.store import drop_quietly, run

SERVICES = {"dongbohosomc": "dossiers", "capnhattiendohosomc": "steps", "laythutuc": "catalogue"}
SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz", ".ndjson")
STATUS = {"1": None, "2": "received", "3": "rejected", "4": "processing", "5": "supplement", "6": "processing",
          "7": "withdrawn", "8": "stopped", "9": "finished", "10": "returned"}
STEP_EVENT = {"2": "received", "3": "rejected", "4": "step_done", "5": "supplement_requested", "6": "step_done",
              "7": "withdrawn", "8": "stopped", "9": "finished", "10": "returned"}
# the kind part of an event's key: same time and kind → the same event, whichever payload brought it
SLOT = {"received": 1, "assigned": 5, "step_done": 10, "supplement_requested": 30, "supplement_completed": 31,
        "deadline_extended": 40, "apology_sent": 45, "finished": 60, "returned": 70, "rejected": 80, "stopped": 81,
        "withdrawn": 82}
TIME_UNITS = {"ngay lam viec": "working_day", "ngay": "day", "gio": "hour", "thang": "month"}
CAPTURED = re.compile(r"@(\d{8})(?:T?(\d{4,6}))?")
EVENT_COLUMNS = ["dossier_code", "seq", "event", "at", "official_id", "step_name", "step_due_at"]
DOSSIER_COLUMNS = ["dossier_code", "procedure_code", "unit_code", "unit_name", "channel", "submitted_at", "received_at",
                   "due_at", "finished_at", "returned_at", "status", "synced_at", "from_national_portal", "fee_amount",
                   "has_financial_obligation", "paid_online", "e_result", "digitized_components",
                   "reused_digitized_data", "from_personal_store", "vneid_authenticated", "applicant_name",
                   "applicant_id_number", "applicant_phone", "applicant_address"]


@lru_cache(maxsize=65536)       # step texts repeat ("Thẩm định", "Phân công …") over thousands of records
def _fold(text) -> str:
    text = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in text if unicodedata.category(c) != "Mn").lower().strip()


def kind_of_name(path: Path) -> str | None:
    stem = path.name.lower()
    for prefix, kind in SERVICES.items():
        if stem.startswith(prefix):
            return kind
    return None


def captured_at(path: Path) -> dt.datetime | None:
    m = CAPTURED.search(path.name)
    if not m:
        return None
    t = (m.group(2) or "0000").ljust(6, "0")
    return dt.datetime.strptime(m.group(1) + t, "%Y%m%d%H%M%S")


# ------------------------------------------------------------------------------------------ reading
MAX_PAYLOAD_BYTES = 256 << 20     # one payload file, decompressed: a day of a large province is a few tens of MB


def _too_big(path: Path) -> LoadError:
    return LoadError(f"{path}: tệp đồng bộ lớn hơn {MAX_PAYLOAD_BYTES >> 20} MB khi giải nén — không phải một gói "
                     "đồng bộ thường (có thể hỏng hay cố ý); xuất lại theo từng ngày để mỗi tệp nhỏ hơn.")


def _text(path: Path) -> str:
    """The file's text, never more than MAX_PAYLOAD_BYTES of it: a gzip is decompressed a chunk at a time
    and refused past the limit (a small file of whitespace that would decompress to gigabytes)."""
    if path.name.lower().endswith(".gz"):
        chunks, size = [], 0
        try:
            with gzip.open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_PAYLOAD_BYTES:
                        raise _too_big(path)
                    chunks.append(chunk)
        except (OSError, EOFError) as exc:
            raise LoadError(f"{path}: tệp nén gzip hỏng ({exc}) — tải lại hoặc nén lại tệp.") from None
        raw = b"".join(chunks)
    else:
        if path.stat().st_size > MAX_PAYLOAD_BYTES:
            raise _too_big(path)
        raw = path.read_bytes()
    return decode(raw, path) if raw else ""


def _refuse_non_payload(path: Path, text: str) -> None:
    head = text.lstrip()[:200].lower()
    if not head:
        raise LoadError(f"{path}: tệp rỗng — không có bản ghi đồng bộ nào; hãy xuất lại.")
    if head.startswith(("<!doctype", "<html", "<")):
        raise LoadError(f"{path}: là trang HTML, không phải dữ liệu đồng bộ JSON — lưu lại phản hồi JSON của hệ thống.")


def _error_reply(path: Path, obj) -> None:
    if isinstance(obj, dict) and not isinstance(obj.get("data"), list) and not isinstance(obj.get("result"), list) \
            and any(k.lower() in ("error_code", "errorcode", "error") for k in obj):
        code = next(v for k, v in obj.items() if k.lower() in ("error_code", "errorcode", "error"))
        msg = obj.get("message") or obj.get("error_message") or ""
        raise LoadError(f"{path}: là phản hồi lỗi của Cổng DVCQG (error_code {code}: {str(msg)[:80]}), không phải "
                        "dữ liệu — lấy lại tệp đồng bộ.")


def iter_records(path: Path):
    """Every record of the file as (service, envelope unit code, line or record number, record), one at a
    time: a bare array is parsed an element at a time."""
    text = _text(path)
    _refuse_non_payload(path, text)

    def take(obj, line, many_lines: bool):
        _error_reply(path, obj)
        if isinstance(obj, dict) and isinstance(obj.get("data"), list):          # an envelope
            service = SERVICES.get(str(obj.get("service", "")).lower())
            unit = obj.get("madonvi") or obj.get("MaDonVi")
            for i, rec in enumerate(obj["data"], start=1):
                if isinstance(rec, dict):
                    yield service, unit, line if many_lines else i, rec
        elif isinstance(obj, dict) and isinstance(obj.get("result"), list):      # LayThuTuc's reply
            for i, rec in enumerate(obj["result"], start=1):
                yield "catalogue", None, line if many_lines else i, rec
        elif isinstance(obj, dict):
            yield None, obj.get("madonvi"), line, obj
        else:
            raise LoadError(f"{path}: không phải dữ liệu đồng bộ (cần đối tượng hoặc mảng JSON) — kiểm tra lại tệp.")

    def elements(items):
        for i, rec in items:
            if isinstance(rec, dict) and isinstance(rec.get("data"), list):
                yield from take(rec, i, False)
            elif isinstance(rec, dict):
                yield None, None, i, rec

    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from elements(_array_items(text, path))
    elif stripped.startswith("{") and not _is_jsonl(stripped):
        try:
            obj = json_loads(text, path)
        except json.JSONDecodeError as exc:
            raise LoadError(f"{path}: JSON hỏng ở dòng {exc.lineno}, cột {exc.colno} ({exc.msg}) — tệp bị cắt ngang; "
                            "hãy lấy lại tệp.") from None
        yield from take(obj, 1, False)
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json_loads(line, path)
            except json.JSONDecodeError as exc:
                raise LoadError(f"{path}: dòng {n} không phải JSON ({exc.msg}) — tệp JSON Lines bị cắt ngang hoặc "
                                "hỏng; hãy lấy lại tệp.") from None
            if isinstance(obj, list):       # a line that is an array: numbered as a bare array's elements
                yield from elements(enumerate(obj, start=1))
            else:
                yield from take(obj, n, True)


SPACE = re.compile(r"[ \t\n\r]*")


def _array_items(text: str, path: Path):
    """The elements of the JSON array `text` holds, one at a time, numbered from 1."""
    decoder = json.JSONDecoder()

    def broken(pos: int, what: str) -> LoadError:
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        return LoadError(f"{path}: JSON hỏng ở dòng {line}, cột {col} ({what}) — tệp bị cắt ngang; hãy lấy lại tệp.")

    i = SPACE.match(text, text.index("[") + 1).end()
    n = 0
    if text.startswith("]", i):
        i += 1
    else:
        while True:
            try:
                obj, i = decoder.raw_decode(text, i)
            except json.JSONDecodeError as exc:
                raise broken(exc.pos, exc.msg) from None
            except RecursionError:
                raise too_deep(path) from None
            n += 1
            yield n, obj
            i = SPACE.match(text, i).end()
            if text.startswith(",", i):
                i = SPACE.match(text, i + 1).end()
            elif text.startswith("]", i):
                i += 1
                break
            else:
                raise broken(i, "thiếu dấu phẩy hoặc dấu ] đóng mảng")
    if text[i:].strip():
        raise broken(i + len(text[i:]) - len(text[i:].lstrip()), "còn dữ liệu sau dấu ] đóng mảng")


def _is_jsonl(text: str) -> bool:
    first = text.split("\n", 1)[0].strip()
    if not first.endswith("}"):
        return False
    try:
        json.loads(first)
        return "\n" in text.strip()
    except (json.JSONDecodeError, RecursionError):
        return False


def detect(rec: dict) -> str | None:
    keys = set(rec)
    if "MATTHC" in keys or "TENTTHC" in keys:
        return "catalogue"
    if "MaHoSo" in keys and ("TrangThaiHoSo" in keys or "NgayTiepNhan" in keys or "MaTTHC" in keys):
        return "dossiers"
    if "MaHoSo" in keys and ("ThoiDiemXuLy" in keys or "TrangThai" in keys):
        return "steps"
    return None


def looks_like_sync(payload) -> bool:
    """A JSON payload that is a sync payload (by envelope or fields), not the portal's evaluation reply."""
    if isinstance(payload, dict):
        if str(payload.get("service", "")).lower() in SERVICES:
            return True
        if isinstance(payload.get("data"), list) and payload["data"] and isinstance(payload["data"][0], dict):
            return detect(payload["data"][0]) is not None
        if isinstance(payload.get("result"), list) and payload["result"] and isinstance(payload["result"][0], dict):
            return detect(payload["result"][0]) == "catalogue"
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        first = payload[0]
        return detect(first) is not None or (isinstance(first.get("data"), list) and
                                             str(first.get("service", "")).lower() in SERVICES)
    return False


# ------------------------------------------------------------------------------------------ mapping
def _s(v) -> str | None:
    if v is None:
        return None
    s = str(v)
    s = (s if s.isprintable() else clean_text(s)).strip()     # isprintable: no control character to remove
    return s or None


def _amount(v) -> float:
    """A fee by its JSON type: a number is that number (50000.0 is fifty thousand); a text is read as the
    CSV exports' numbers are ('50.000', '1.234,5', '50000.5'); NaN when it is not a number. May be ±inf
    ('Infinity', 1e400): the caller refuses that."""
    if isinstance(v, bool) or v is None:
        return float("nan")
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(number_text(str(v).strip()))
    except ValueError:
        return float("nan")


def _quarantine_rows(path, rows) -> pd.DataFrame | None:
    if not rows:
        return None
    return pd.DataFrame([{"file": str(path), "line": line, "table_name": table, "column_name": col, "reason": reason,
                          "raw": json.dumps(rec, ensure_ascii=False)[:500]} for line, table, col, reason, rec in rows])


def _public(r: dict) -> dict:
    """A record without its applicant and free-text fields: what a quarantine row may keep of it."""
    drop = {"ChuHoSo", "SoGiayToChuHoSo", "DinhDanhCHS", "SoDienThoai", "Email", "DiaChiChuHoSo", "TrichYeuHoSo",
            "ThongTinKhac", "GhiChu", "Fax"}
    return {k: v for k, v in r.items() if k not in drop and not isinstance(v, (list, dict))}


def _catalogue_sheet(path: Path, items) -> Sheet:
    rows, lines = [], []
    for _, line, r in items:
        ways = [w for w in (r.get("CACHTHUCTHUCHIEN") or []) if isinstance(w, dict)]
        direct = next((w for w in ways if str(w.get("KENH", "")).strip() == "1"), ways[0] if ways else {})
        times = [t for t in (direct.get("THOIGIAN") or []) if isinstance(t, dict)]
        t0 = times[0] if times else {}
        fees = [f for w in ways for t in (w.get("THOIGIAN") or []) if isinstance(t, dict)
                for f in (t.get("PHILEPHI") or []) if isinstance(f, dict)]
        amounts = [_amount(f.get("SOTIEN"))
                   for f in fees]
        fields = [f for f in (r.get("LINHVUCTHUCHIEN") or []) if isinstance(f, dict)]
        rows.append({"procedure_code": _s(r.get("MATTHC")), "procedure_name": _s(r.get("TENTTHC")),
                     "field": _s(fields[0].get("TENLINHVUC")) if fields else None,
                     "max_processing_time": _s(t0.get("THOIGIANGIAIQUYET")),
                     "time_unit": TIME_UNITS.get(_fold(t0.get("DONVITINH", "")), None) if t0 else None,
                     "has_fee": "1" if any(pd.notna(a) and a > 0 for a in amounts) else "0",
                     "paper_result_required": "1" if r.get("KETQUATHUCHIEN") else "0"})
        lines.append(line)
    return Sheet(path, "procedures", pd.DataFrame(rows, columns=["procedure_code", "procedure_name", "field",
                                                                  "max_processing_time", "time_unit", "has_fee",
                                                                  "paper_result_required"], dtype=object),
                 lines, fill_only=True)


# ------------------------------------------------------------------------------------------ step holders
# Sync payloads name a step's holder by full name. It is matched to an official of the dossier's unit (exactly
# one of that name, case and edge spaces aside); a dossier's receiving official is the holder of its 'received'
# step, its handling official the holder of its assignment (else of its first step) — unless the record names
# an official already; a name on the record gives way to the official its step found. The rule is applied to
# this load's rows before they are written (settle_staged: nothing of the store is rewritten in bulk), and once
# more after the write, to what the store already held of the same dossiers (finish).
def _names(officials: str) -> str:
    return f"""(SELECT unit_code, lower(trim(full_name)) AS name, min(official_id) AS official_id
            FROM {officials} WHERE full_name IS NOT NULL GROUP BY ALL HAVING count(*) = 1)"""


def _known(officials: str) -> str:
    return f"(SELECT official_id FROM {officials})"


def unresolved(e: str, officials: str = "officials") -> str:
    """A holder that is not an official's id (a name, to be matched). officials: the table of officials read
    (the store's, or the officials as this load will write them)."""
    return f"{e}.official_id IS NOT NULL AND {e}.official_id NOT IN {_known(officials)}"


def official(found: str, current: str, officials: str = "officials") -> str:
    """A dossier's receiving or handling official once its steps are read: `current` if it names an official,
    else the official its steps found (`found`), else what it had."""
    known = _known(officials)
    return (f"CASE WHEN {current} IS NULL OR ({current} NOT IN {known} AND {found} IN {known}) "
            f"THEN coalesce({found}, {current}) ELSE {current} END")


def named_holders(events: str, units: str, officials: str = "officials") -> str:
    """`events` (a table or subquery with dossier_events' columns) with every holder named by full name
    replaced by the one official of that name in the dossier's unit (`units`: dossier_code, unit_code, one
    row a dossier); an official's id, an unknown name or a name several officials share stays as written."""
    return f"""SELECT e.* REPLACE (CASE WHEN {unresolved('e', officials)} THEN coalesce(n.official_id, e.official_id)
                                    ELSE e.official_id END AS official_id)
               FROM {events} e LEFT JOIN {units} u USING (dossier_code)
               LEFT JOIN {_names(officials)} n ON n.unit_code = u.unit_code AND n.name = lower(trim(e.official_id))"""


def first_holders(events: str) -> str:
    """Per dossier, from its events: its receiving official, and its handling official (the holder of its
    assignment, else of its first step)."""
    return f"""SELECT dossier_code, arg_min(official_id, seq) FILTER (WHERE event = 'received') AS recv,
                      coalesce(arg_min(official_id, seq) FILTER (WHERE event = 'assigned'),
                               arg_min(official_id, seq) FILTER (WHERE event = 'step_done')) AS handling
               FROM {events} WHERE event IN ('received', 'assigned', 'step_done') GROUP BY dossier_code"""


def settle_staged(con, codes: str, dossiers: list, events: list, sync_events: list, new, written: str,
                  officials: str = "officials") -> dict:
    """Before the write: this load's rows as the store will hold them once finish() has run. codes: the table
    of the dossiers the sync payloads touched; dossiers / events: every staged table of dossiers / events
    (sync_events: the sync payloads' own among them); new(): a name for a staged table; written: SQL, true
    when the staged record `g` is the one written over the stored `t`; officials: the officials as this load
    will write them. A dossier's unit is its written record's. Returns {staged table: its settled copy}."""
    copies: dict = {}
    try:
        staged = (" UNION ALL BY NAME ".join(f"SELECT * FROM {d}" for d in dossiers)
                  or "SELECT * FROM dossiers WHERE false")
        run(con, f"""CREATE OR REPLACE TEMP TABLE _sync_units AS
            SELECT c.dossier_code, CASE WHEN g.dossier_code IS NOT NULL AND ({written}) THEN g.unit_code
                                        ELSE t.unit_code END AS unit_code
            FROM {codes} c LEFT JOIN ({staged}) g USING (dossier_code) LEFT JOIN dossiers t USING (dossier_code)""")
        for name in sync_events:
            copies[name] = new()
            run(con, f"CREATE OR REPLACE TEMP TABLE {copies[name]} AS {named_holders(name, '_sync_units', officials)}")
        if dossiers:
            cols = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
            # the events of the touched dossiers once written: this load's, and those stored it does not replace
            # (found without a hash table of this load's events: a first load stores none, a day's few); only
            # the sync payloads' own are settled already
            run(con, f"CREATE OR REPLACE TEMP TABLE _sync_stored AS SELECT {cols} FROM dossier_events "
                     f"SEMI JOIN {codes} USING (dossier_code)")
            mine = [f"SELECT {cols} FROM {copies.get(e, e)}" for e in events]
            others = [f"SELECT {cols} FROM {e} SEMI JOIN {codes} USING (dossier_code)" for e in events if e not in copies]
            if run(con, "SELECT EXISTS (SELECT 1 FROM _sync_stored)")[0][0]:
                others.append(f"SELECT s.* FROM _sync_stored s LEFT JOIN (SELECT dossier_code, seq FROM "
                              f"({' UNION ALL '.join(mine)}) m SEMI JOIN _sync_stored USING (dossier_code, seq)) r "
                              f"USING (dossier_code, seq) WHERE r.seq IS NULL")
            after = [f"SELECT {cols} FROM {copies[e]}" for e in sync_events] or \
                [f"SELECT {cols} FROM dossier_events WHERE false"]
            if others:
                after.append(named_holders("(" + " UNION ALL ".join(others) + ")", "_sync_units", officials))
            run(con, f"CREATE OR REPLACE TEMP TABLE _sync_firsts AS {first_holders('(' + ' UNION ALL '.join(after) + ')')}")
            for name in dossiers:
                copies[name] = new()
                run(con, f"""CREATE OR REPLACE TEMP TABLE {copies[name]} AS
                    SELECT g.* REPLACE ({official('f.recv', 'g.receiving_official_id', officials)} AS receiving_official_id,
                                        {official('f.handling', 'g.handling_official_id', officials)} AS handling_official_id)
                    FROM {name} g LEFT JOIN _sync_firsts f USING (dossier_code)""")
    except BaseException:        # nothing of a settle that failed stays on the connection
        drop_quietly(con, list(copies.values()))
        raise
    finally:
        drop_quietly(con, ["_sync_firsts", "_sync_stored", "_sync_units"])
    return copies


def finish(con, codes: str) -> dict:
    """After the write, inside its transaction: the same rule for what the store held before this load of the
    dossiers it touched (codes: their table); only the rows it changes are rewritten. Returns the names of
    step holders still matching no official."""
    stored = f"(SELECT * FROM dossier_events x SEMI JOIN {codes} USING (dossier_code) WHERE {unresolved('x')})"
    run(con, f"""UPDATE dossier_events e SET official_id = m.official_id FROM ({named_holders(stored, 'dossiers')}) m
                 WHERE e.dossier_code = m.dossier_code AND e.seq = m.seq AND e.official_id <> m.official_id""")
    known = _known("officials")
    open_ = (f"(SELECT e.* FROM dossier_events e SEMI JOIN (SELECT dossier_code FROM dossiers "
             f"SEMI JOIN {codes} USING (dossier_code) WHERE receiving_official_id IS NULL OR handling_official_id "
             f"IS NULL OR receiving_official_id NOT IN {known} OR handling_official_id NOT IN {known}) "
             f"USING (dossier_code))")
    recv, handling = official("x.recv", "d.receiving_official_id"), official("x.handling", "d.handling_official_id")
    run(con, f"""UPDATE dossiers d SET receiving_official_id = {recv}, handling_official_id = {handling}
                 FROM ({first_holders(open_)}) x
                 WHERE d.dossier_code = x.dossier_code
                   AND ({recv} IS DISTINCT FROM d.receiving_official_id
                        OR {handling} IS DISTINCT FROM d.handling_official_id)""")
    return {"unmatched": [r[0] for r in run(con, f"""SELECT DISTINCT e.official_id FROM dossier_events e
        SEMI JOIN {codes} USING (dossier_code) WHERE {unresolved('e')} ORDER BY 1""")]}
