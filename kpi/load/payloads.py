"""The national sync payloads read by DuckDB's JSON reader, a batch of files at a time, and mapped to the
canonical raw tables in SQL — sync.py's rules (its module text says what each field means), messages and
quarantine, in bounded memory whatever the number of files.

Python looks at each file once, a chunk at a time, only to see what it is: its size (refused past
sync.MAX_PAYLOAD_BYTES), its first bytes (empty, an HTML page), its shape (a bare array, or values one a
line) and whether its text needs cleaning. DuckDB then reads the file itself. A file of any other shape —
a blank line between records, another encoding, a pretty-printed file of several values, a line that is
an array, an error reply of the portal, bytes DuckDB refuses — goes through sync.iter_records, which says
exactly what is wrong with it, or writes its records one a line (with their line numbers) for DuckDB to
read the same way: one mapping, in SQL, whatever the file's shape.

A plain file whose name says what it holds and whose shape is the usual one (step records one a line or in an
array, dossier records in an array, dossier envelopes one a line) is read the typed way: DuckDB's read_json
straight into the fields the mapping reads — one parse, where the general way parses its text three times (the
values, an envelope's records, each record's fields). The general way's JSON transform is the typed reader's,
lenient where that one is strict, so a file the typed reader refuses, or that the general way would read
otherwise, goes the general way (Reader._typed says which); both ways give the mapping the same table.

Line numbers are sync.iter_records's: a JSON Lines record its line, an envelope's records their line (or
their place in `data` when the envelope is the whole file), a bare array's records their place in it.
"""
from __future__ import annotations

import gzip
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kpi import config
from kpi.load import sync
from kpi.load.errors import LoadError
from kpi.load.fastcsv import CONTROL_BYTES, NFD_MARKS, RARE, SPACES, lit
from kpi.store import run

BATCH_BYTES = 256 << 20       # payload text (decompressed) read by one statement: DuckDB spills beyond its limit
SLICE_BYTES = 16 << 20        # payload text whose JSON one statement parses (DuckDB holds a vector's documents)
VECTOR_ROWS = 2048            # the rows of one DuckDB vector (its STANDARD_VECTOR_SIZE)
LARGEST_PLAIN = 64 << 20      # a larger file is read by Python (DuckDB's reader would hold it four times over)
TYPED = True                  # files of the usual shapes read straight into their fields (Reader._typed)
PARALLEL_FROM = 512 << 20     # the payloads' bytes (on disk) from which two processes look at them (look_all):
#                               a child Python starts in ~0,5 s, one process looks at ~300 MB a second

# --- SQL building blocks ------------------------------------------------------------------------------------
# what readers.clean_text removes (RE2); a time with an offset (RE2)
CONTROL_RE = (r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x{9f}\x{ad}\x{61c}"
              r"\x{200b}-\x{200f}\x{202a}-\x{202e}\x{2060}-\x{2064}\x{2066}-\x{206f}\x{feff}]")
OFFSET_RE = (r"(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2}):?(\d{2})(?::?(\d{2}))?(?:\.\d+)?\s*(Z|[+-]\d{2}(?::?\d{2})?)")
VN_RE, EN_RE = r"-?\d{1,3}(\.\d{3})+(,\d+)?", r"-?\d{1,3}(,\d{3})+(\.\d+)?"      # validate.VN_NUMBER, EN_NUMBER
STATUS_CASE = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sync.STATUS.items() if v)
STEP_CASE = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sync.STEP_EVENT.items())
SERVICE_CASE = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sync.SERVICES.items())     # an envelope's service
CODES = lambda keys: ", ".join(f"'{k}'" for k in keys)      # noqa: E731


def s(x: str) -> str:
    """A value as text: cleaned (files that need it), stripped, NULL when empty. (Stripping only what
    has a space at an edge, its first or last character found in SPACES: DuckDB's trim with a set of
    characters is slow, and so is a pattern.)"""
    edge = f"contains({lit(SPACES)}, left({x}, 1)) OR contains({lit(SPACES)}, right({x}, 1))"
    return (f"nullif(CASE WHEN _dirty THEN trim(regexp_replace(nfc_normalize({x}), {lit(CONTROL_RE)}, '', 'g'), {lit(SPACES)}) "
            f"WHEN {edge} THEN trim({x}, {lit(SPACES)}) ELSE {x} END, '')")


def flag(x: str) -> str:
    """A yes/no field: '1' for a yes word, '0' for any other text, NULL for none."""
    return f"CASE WHEN {s(x)} IS NULL THEN NULL WHEN lower({s(x)}) IN ('1', 'true', 'co', 'có', 'yes') THEN '1' ELSE '0' END"


def digits(at: str) -> str:
    """A time's yyyyMMddHHmmss in local time: a time with an offset (ISO, VNPT) is converted in the configured zone's local time, else its digits."""
    plain = f"regexp_replace({at}, '[^0-9]', '', 'g')"
    both = f"replace(regexp_replace(trim({at}, {lit(SPACES)}), {lit(OFFSET_RE)}, '\\1-\\2-\\3 \\4:\\5:\\6|\\7'), ':|', ':00|')"
    off = f"split_part({both}, '|', 2)"
    hhmm = f"rpad(replace({off}[2:], ':', ''), 4, '0')"
    zone = f"CASE {off} WHEN 'Z' THEN '+00:00' ELSE left({off}, 1) || left({hhmm}, 2) || ':' || right({hhmm}, 2) END"
    local = (f"strftime(timezone({lit(config.TIMEZONE)}, try_cast(split_part({both}, '|', 1) || {zone} "
             f"AS TIMESTAMPTZ)), '%Y%m%d%H%M%S')")
    return (f"CASE WHEN regexp_full_match({at}, '[0-9]{{14}}') THEN {at} "
            f"WHEN regexp_full_match(trim({at}, {lit(SPACES)}), {lit(OFFSET_RE)}) THEN coalesce({local}, {plain}) "
            f"ELSE {plain} END")


def seq(at: str, event: str, ordinal: str = "0", local: str | None = None) -> str:
    """The event's key (seq) from its local time (`local`: its digits, when the SQL has them), kind (a name,
    or SQL of its slot) and ordinal."""
    d = f"left({local or digits(at)}, 14)"
    slot = sync.SLOT.get(event, event)
    return (f"CASE WHEN length({d}) >= 12 THEN CAST(CAST(rpad({d}, 14, '0') AS BIGINT) * 100 + {slot} "
            f"+ least({ordinal}, 9) AS VARCHAR) END")


def fold(x: str) -> str:
    """sync._fold in SQL: no diacritics, đ → d, lower case."""
    return f"lower(strip_accents(replace(replace(coalesce({x}, ''), 'đ', 'd'), 'Đ', 'D')))"   # x is stripped


def amounts(fees: str) -> str:
    """The amounts of a list of fee lines (JSON), each by its JSON type: a number is that number, a text is
    read as the CSV exports' numbers are, anything else is NaN; a number too large is +inf (refused by the
    caller). (Each line's price read once, its text cleaned once, a plain number taken as it is.)"""
    g = f"list_transform({fees}, lambda x: {{'ty': json_type(x, '$.Gia'), 'g': json_extract_string(x, '$.Gia')}})"
    t = (f"list_transform({g}, lambda x: {{'ty': x.ty, 'g': x.g, "
         f"'t': regexp_replace(trim(x.g, {lit(SPACES)}), '[\\s\\pZ]', '', 'g')}})")
    text = (f"CASE WHEN NOT contains(x.t, '.') AND NOT contains(x.t, ',') THEN x.t "
            f"WHEN regexp_full_match(x.t, {lit(VN_RE)}) THEN replace(replace(x.t, '.', ''), ',', '.') "
            f"WHEN regexp_full_match(x.t, {lit(EN_RE)}) THEN replace(x.t, ',', '') ELSE replace(x.t, ',', '.') END")
    return (f"list_transform({t}, lambda x: CASE WHEN x.ty IN ('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE') "
            f"THEN coalesce(try_cast(x.g AS DOUBLE), 'inf'::DOUBLE) "
            f"WHEN x.ty = 'VARCHAR' THEN coalesce(try_cast({text} AS DOUBLE), 'nan'::DOUBLE) "
            f"ELSE 'nan'::DOUBLE END)")


# the fields of a record the mapping reads, as DuckDB types: a record's JSON is transformed into them (the
# general way), or the file read straight into them (the typed way)
RECORD = {
    **{k: "VARCHAR" for k in ("MaHoSo", "MaTTHC", "KenhThucHien", "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra",
                              "NgayKetThucXuLy", "NgayTra", "TrangThaiHoSo", "DuocThanhToanTrucTuyen", "MaDoiTuong",
                              "HoSoCoThanhPhanSoHoa", "TaiKhoanDuocXacThucVoiVNeID", "ChuHoSo", "SoGiayToChuHoSo",
                              "SoDienThoai", "DiaChiChuHoSo", "DonViXuLy", "MaDonVi", "NgayTuChoi")},
    "DanhSachLePhi": "JSON[]", "DanhSachHoSoBoSung": "JSON[]",
    "DanhSachGiayToKetQua": "STRUCT(DuongDanTepTinKetQua VARCHAR)[]",
    "TaiLieuNop": "STRUCT(IsDeleted VARCHAR, DuongDanTaiTepTin VARCHAR, DuocTaiSuDung VARCHAR, "
                  "DuocLayTuKhoDMQG VARCHAR)[]",
    "DSKetNoiCSDL": "STRUCT(MaCSDL VARCHAR)[]", "DinhDanhCHS": "STRUCT(SoDinhDanh VARCHAR)[]"}
STEP = {k: "VARCHAR" for k in ("MaHoSo", "ThoiDiemXuLy", "TrangThai", "NguoiXuLy", "NoiDungXuLy",
                               "NgayKetThucTheoQuyDinh")}
DOSSIER_SHAPE, STEP_SHAPE = json.dumps(RECORD), json.dumps(STEP)


def _fields(fields: dict) -> str:
    """Fields as SQL's column list: "name" TYPE, …"""
    return ", ".join(f'"{k}" {v}' for k, v in fields.items())


def _struct(fields: dict) -> str:
    return f"STRUCT({_fields(fields)})"


# what a file of each usual shape is read into (the typed way): step records, dossier records (each with an
# envelope's or a results list's key, which the general way would read as one), dossier envelopes
_COLUMNS = {"s": {**STEP, "data": "JSON", "result": "JSON"}, "d": {**RECORD, "data": "JSON", "result": "JSON"},
            "e": {"service": "VARCHAR", "madonvi": "VARCHAR", "data": f"{_struct(RECORD)}[]"}}
ROUND_SHAPE = json.dumps({k: "VARCHAR" for k in ("NgayBoSung", "NgayTiepNhanBoSung", "NguoiYeuCauBoSung",
                                                  "NoiDungBoSung", "NgayHenTraTruoc", "NgayHenTraMoi")})


def _dossiers_sql() -> str:
    """Every dossier record → its canonical row, the reason it is refused (or NULL), and its own events' inputs."""
    return f"""
    CREATE OR REPLACE TEMP TABLE _pl_d AS
    WITH base AS (
        SELECT r._fid, r._rno, r._line, r.d, r._env, r._own, f._dirty, f._captured
        FROM _pl_dt r JOIN _pl_files f USING (_fid)),
    m AS (
        SELECT *, {s('d.MaHoSo')} AS code, {s('d.TrangThaiHoSo')} AS st, {s('d.DuocThanhToanTrucTuyen')} AS paid,
               list_filter(d.DanhSachLePhi, lambda x: json_type(x) = 'OBJECT') AS fees,
               coalesce({s('d.MaDonVi')}, {s('_own')}) AS rec_unit, {s('_env')} AS env_unit,
               {s('d.NgayTiepNhan')} AS received,
               -- the files sent (not deleted)
               list_filter(d.TaiLieuNop, lambda f: coalesce({flag('f.IsDeleted')}, '') <> '1') AS _files
        FROM base),
    a AS (SELECT *, {amounts('fees')} AS amounts FROM m)
    SELECT _fid, _rno, _line, _dirty,
        CASE WHEN st IS NOT NULL AND st NOT IN ({CODES(sync.STATUS)}) THEN 'status'
             WHEN st = '1' THEN 'status'
             WHEN coalesce(list_bool_or(list_transform(amounts, lambda v: isinf(v))), false) THEN 'fee_amount'
             WHEN rec_unit IS NOT NULL AND env_unit IS NOT NULL AND upper(rec_unit) <> upper(env_unit) THEN 'unit_code'
        END AS _col,
        CASE WHEN st IS NOT NULL AND st NOT IN ({CODES(sync.STATUS)})
                  THEN 'mã trạng thái hồ sơ không có trong danh sách 1–10 của Cổng DVCQG — kiểm tra bản ghi '
                       || coalesce(code, 'None')
             WHEN st = '1' THEN 'hồ sơ mới đăng ký (trạng thái 1), chưa được tiếp nhận — chưa tính; bản ghi sau có '
                                || 'trạng thái tiếp nhận sẽ nạp hồ sơ này'
             WHEN coalesce(list_bool_or(list_transform(amounts, lambda v: isinf(v))), false)
                  THEN 'lệ phí (DanhSachLePhi.Gia) không phải số hữu hạn — kiểm tra bản ghi ' || coalesce(code, 'None')
             WHEN rec_unit IS NOT NULL AND env_unit IS NOT NULL AND upper(rec_unit) <> upper(env_unit)
                  THEN 'MaDonVi của bản ghi (' || rec_unit || ') khác madonvi của gói (' || env_unit
                       || ') — không rõ đơn vị nào đúng; kiểm tra bản ghi ' || coalesce(code, 'None')
        END AS _reason,
        (st IS NULL OR st IN ({CODES(sync.STATUS)})) AND st IS DISTINCT FROM '1'
            AND paid IS NOT NULL AND paid NOT IN ('0', '1', '2') AS _other_paid,
        code AS dossier_code, {s('d.MaTTHC')} AS procedure_code, coalesce(env_unit, rec_unit) AS unit_code,
        {s('d.DonViXuLy')} AS unit_name, {s('d.KenhThucHien')} AS channel, {s('d.NgayNopHoSo')} AS submitted_at,
        received AS received_at, {s('d.NgayHenTra')} AS due_at, {s('d.NgayKetThucXuLy')} AS finished_at,
        {s('d.NgayTra')} AS returned_at, CASE st {STATUS_CASE} END AS status,
        coalesce(_captured, received) AS synced_at,
        CASE WHEN {s('d.MaDoiTuong')} IS NOT NULL THEN '1' ELSE '0' END AS from_national_portal,
        CASE WHEN len(fees) > 0 THEN CAST(coalesce(list_sum(list_filter(amounts, lambda v: NOT isnan(v))), 0)::DOUBLE
             AS VARCHAR) END AS fee_amount,
        CASE WHEN st = '6' THEN '1' END AS has_financial_obligation,
        CASE WHEN paid IS NULL OR paid IN ('0', '1', '2') THEN paid ELSE '2' END AS paid_online,
        CASE WHEN coalesce(list_bool_or(list_transform(d.DanhSachGiayToKetQua,
                  lambda g: {s('g.DuongDanTepTinKetQua')} IS NOT NULL)), false) THEN '1' ELSE '0' END AS e_result,
        CASE WHEN {flag('d.HoSoCoThanhPhanSoHoa')} = '1' OR coalesce(list_bool_or(list_transform(_files,
                  lambda f: {s('f.DuongDanTaiTepTin')} IS NOT NULL)), false) THEN '1' ELSE '0' END AS digitized_components,
        CASE WHEN coalesce(list_bool_or(list_transform(_files, lambda f: {flag('f.DuocTaiSuDung')} = '1')), false)
             THEN '1' ELSE '0' END AS reused_digitized_data,
        CASE WHEN coalesce(list_bool_or(list_transform(_files, lambda f: {flag('f.DuocLayTuKhoDMQG')} = '1')), false)
             THEN '1' ELSE '0' END AS from_personal_store,
        CASE WHEN {flag('d.TaiKhoanDuocXacThucVoiVNeID')} = '1' OR coalesce(list_bool_or(list_transform(d.DSKetNoiCSDL,
                  lambda c: {s('c.MaCSDL')} IS NOT NULL)), false) THEN '1' ELSE '0' END AS vneid_authenticated,
        {s('d.ChuHoSo')} AS applicant_name,
        coalesce({s('d.SoGiayToChuHoSo')}, list_filter(list_transform(d.DinhDanhCHS, lambda i: {s('i.SoDinhDanh')}),
                 lambda v: v IS NOT NULL)[1]) AS applicant_id_number,
        {s('d.SoDienThoai')} AS applicant_phone, {s('d.DiaChiChuHoSo')} AS applicant_address,
        {s('d.NgayTuChoi')} AS _refused_at,
        list_filter(d.DanhSachHoSoBoSung, lambda x: json_type(x) = 'OBJECT') AS _rounds
    FROM a"""


def _record_events_sql() -> str:
    """The events a kept dossier record carries: its refusal, and each supplement round's request, answer and
    deadline extension, in that order."""
    r = lambda f: s(f"b.{f}")      # noqa: E731
    return f"""
    CREATE OR REPLACE TEMP TABLE _pl_re AS
    SELECT _fid, _rno, 0 AS _sub, _line, dossier_code, {seq('_refused_at', 'rejected')} AS seq, 'rejected' AS event,
           _refused_at AS "at", NULL AS official_id, NULL AS step_name
    FROM _pl_d WHERE _reason IS NULL AND _refused_at IS NOT NULL
    UNION ALL
    SELECT _fid, _rno, e._sub, _line, dossier_code, e.seq, e.event, e."at", e.official_id, e.step_name FROM (
        SELECT _fid, _rno, _line, dossier_code, k, unnest([
            {{'_sub': 1 + 3 * k, 'seq': {seq(r('NgayBoSung'), 'supplement_requested', 'k')}, 'event': 'supplement_requested',
              'at': {r('NgayBoSung')}, 'official_id': {r('NguoiYeuCauBoSung')}, 'step_name': {r('NoiDungBoSung')},
              'keep': {r('NgayBoSung')} IS NOT NULL}},
            {{'_sub': 2 + 3 * k, 'seq': {seq(r('NgayTiepNhanBoSung'), 'supplement_completed', 'k')},
              'event': 'supplement_completed', 'at': {r('NgayTiepNhanBoSung')}, 'official_id': NULL, 'step_name': NULL,
              'keep': {r('NgayTiepNhanBoSung')} IS NOT NULL}},
            {{'_sub': 3 + 3 * k, 'seq': {seq(r('NgayBoSung'), 'deadline_extended', 'k')}, 'event': 'deadline_extended',
              'at': {r('NgayBoSung')}, 'official_id': {r('NguoiYeuCauBoSung')},
              'step_name': 'hẹn trả mới ' || {r('NgayHenTraMoi')},
              'keep': {r('NgayHenTraMoi')} IS NOT NULL AND {r('NgayBoSung')} IS NOT NULL
                      AND {r('NgayHenTraMoi')} IS DISTINCT FROM {r('NgayHenTraTruoc')}}}]) AS e
        FROM (SELECT _fid, _rno, _line, _dirty, dossier_code, k - 1 AS k,
                     json_transform(_rounds[k], {lit(ROUND_SHAPE)}) AS b
              FROM (SELECT *, unnest(generate_series(1, len(_rounds))) AS k FROM _pl_d
                    WHERE _reason IS NULL AND len(_rounds) > 0)))
    WHERE e.keep"""


def _steps_sql() -> str:
    """Every step record → its event: a file's steps in time order per dossier; a step leaving
    status 5 is the supplement received; 'Phân công …' the assignment; '… thư xin lỗi …' an apology."""
    return f"""
    CREATE OR REPLACE TEMP TABLE _pl_s AS
    WITH v AS (          -- (not the record: every table below is a copy of every step, and a refusal reads it after)
        SELECT _fid, _rno, _line, {s('x.MaHoSo')} AS code, {s('x.ThoiDiemXuLy')} AS "at",
               {s('x.TrangThai')} AS st, {s('x.NguoiXuLy')} AS who, {s('x.NoiDungXuLy')} AS what,
               {s('x.NgayKetThucTheoQuyDinh')} AS due
        FROM (SELECT r._fid, r._rno, r._line, f._dirty, r.x FROM _pl_st r JOIN _pl_files f USING (_fid))),
    k AS (SELECT *, coalesce({digits('"at"')}, '') AS _ld, CASE st {STEP_CASE} END AS _kind
          FROM v WHERE st IN ({CODES(sync.STEP_EVENT)})),
    -- a step leaving status 5 is the supplement received: only dossiers with a status-5 step need the order
    five AS (SELECT DISTINCT _fid, code FROM k WHERE st = '5'),
    p AS (SELECT *, lag(st) OVER (PARTITION BY _fid, code ORDER BY _ld, _rno) AS _prev FROM k SEMI JOIN five USING (_fid, code)
          UNION ALL BY NAME
          SELECT *, NULL AS _prev FROM k ANTI JOIN five USING (_fid, code)),
    e AS MATERIALIZED (SELECT * EXCLUDE (_folded), CASE WHEN _prev = '5' AND st <> '5' THEN 'supplement_completed'
                         WHEN starts_with(_folded, 'phan cong') THEN 'assigned'
                         WHEN contains(_folded, 'thu xin loi') THEN 'apology_sent'
                         ELSE _kind END AS event
          FROM (SELECT *, CASE WHEN _kind = 'step_done' THEN {fold('what')} END AS _folded FROM p)),  -- once
    -- the same dossier, time and kind twice in the file: numbered in time order (only those need the order)
    twice AS (SELECT hash(_fid, code, "at", event) AS _h FROM e GROUP BY 1 HAVING count(*) > 1),   -- (one key: faster;
                                                    -- a collision only numbers a group of one: 0, as the others)
    o AS (SELECT *, row_number() OVER (PARTITION BY _fid, code, "at", event ORDER BY _ld, _rno) - 1 AS _ordinal
          FROM e WHERE hash(_fid, code, "at", event) IN (SELECT _h FROM twice)
          UNION ALL BY NAME
          SELECT *, 0 AS _ordinal FROM e WHERE hash(_fid, code, "at", event) NOT IN (SELECT _h FROM twice))
    SELECT _fid, _rno, _line, code AS dossier_code, event, "at", _ld, who AS official_id, _ordinal,
           CASE WHEN event = 'step_done' THEN what END AS step_name,
           CASE WHEN event = 'step_done' THEN due END AS step_due_at, NULL AS _reason
    FROM o
    UNION ALL BY NAME
    SELECT _fid, _rno, _line, code AS dossier_code, NULL AS event, "at",
           NULL AS official_id, 0 AS _ordinal, NULL AS step_name, NULL AS step_due_at,
           'mã trạng thái bước xử lý không có trong danh sách 2–10 của Cổng DVCQG — kiểm tra bước của hồ sơ '
           || coalesce(code, 'None') AS _reason
    FROM v WHERE st IS NULL OR st NOT IN ({CODES(sync.STEP_EVENT)})"""


# --- looking at a file --------------------------------------------------------------------------------------
@dataclass
class Payload:
    path: Path
    digest: str
    kind: str | None            # by its name (or the caller's hint), else by each record's envelope or fields
    fid: int = 0
    array: bool = False         # a bare array: records numbered by their place
    lines: int = 0              # non-empty lines
    plain: bool = True          # DuckDB may read the file as it is
    dirty: bool = False         # its text needs cleaning (escapes, control or invisible characters, NFD)
    size: int = 0               # its text's size
    source: Path | None = None  # what DuckDB reads: the file, or its records written one a line
    escaped: bool = False       # holds a \u escape (a key may be spelt with one)
    errorish: bool = False      # holds 'error' in any case (an error reply's key may)
    madonvi: int = 0            # how many times it holds "madonvi" (once an envelope: any more, a record's own)
    envelopes: bool = False     # its first line is an envelope (a dossier file of JSON Lines)
    typed: bool = False         # read straight into the records' fields (Reader._typed)
    spaced: bool = False        # a value may hold a space other than ' ' (an escape, or one written as it is)


BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")


RARE_LEADS = b"\xc2\xe2\xef\xd8"     # the first bytes of every sequence RARE finds
# The spaces other than ' ' (fastcsv.SPACES) a JSON text can hold as they are: the others are control characters,
# refused inside a string (DuckDB's reader and Python's alike), so in a value only as an escape; and U+1680, found
# apart (its first byte begins most Vietnamese letters)
WRITTEN_SPACE = re.compile(rb"\xc2[\x85\xa0]|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")
WRITTEN_SPACE_LEADS = b"\xc2\xe2\xe3"


def _may_hold(buf: bytes, leads: bytes) -> bool:
    """Whether any of the bytes is in buf (a search of each: far faster than a regular expression's scan)."""
    return any(bytes((b,)) in buf for b in leads)


def look(path: Path, digest: str, kind: str | None) -> Payload:
    """What the file is, read once a chunk at a time: refused when it decompresses past the limit, is empty or
    an HTML page; `plain` when DuckDB may read it as it is."""
    p = Payload(path, digest, kind)
    gz = path.name.lower().endswith(".gz")
    if not gz and path.stat().st_size > sync.MAX_PAYLOAD_BYTES:
        raise sync._too_big(path)
    head, carry, newlines, blank, tail_blank = b"", b"", 0, False, 0
    count_madonvi = kind == "dossiers"
    try:
        fh = gzip.open(path, "rb") if gz else open(path, "rb")
        with fh:
            while chunk := fh.read(1 << 23):
                p.size += len(chunk)
                if p.size > sync.MAX_PAYLOAD_BYTES:
                    raise sync._too_big(path)
                if len(head) < 4096:
                    head += chunk[:4096]
                buf = carry + chunk
                # (a backslash looked for first: one byte is found far faster than two)
                slash = b"\\" in buf
                p.escaped = p.escaped or (slash and b"\\u" in buf)
                p.errorish = p.errorish or b"error" in buf.lower()
                p.spaced = p.spaced or slash or b"\xe1\x9a\x80" in buf or \
                    (_may_hold(buf, WRITTEN_SPACE_LEADS) and bool(WRITTEN_SPACE.search(buf)))
                if count_madonvi:        # a match across chunks starts in the last 8 bytes before this one
                    p.madonvi += (carry[-8:] + chunk).count(b'"madonvi"')
                if not p.dirty and (p.escaped or len(buf.translate(None, CONTROL_BYTES)) != len(buf)
                                    or (_may_hold(buf, RARE_LEADS) and RARE.search(buf))       # the lead bytes
                                    or (_may_hold(buf, b"\xcc\xcd") and NFD_MARKS.search(buf))):  # first: fast
                    p.dirty = True
                newlines += chunk.count(b"\n")
                blank = blank or bool(BLANK_LINE.search(buf))
                carry = buf[-64:]
    except (OSError, EOFError) as exc:
        raise LoadError(f"{path}: tệp nén gzip hỏng ({exc}) — tải lại hoặc nén lại tệp.") from None
    text = head.lstrip()
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        p.plain = False                     # a BOM, UTF-16: read by Python
        text = text.lstrip(b"\xef\xbb\xbf")
    sync._refuse_non_payload(path, text[:200].decode("utf-8", errors="replace"))
    p.array = text.startswith(b"[")
    p.envelopes = not p.array and b'"data"' in head.split(b"\n", 1)[0]
    stripped_tail = carry.rstrip(b" \t\r\n")
    tail_blank = carry[len(stripped_tail):].count(b"\n")
    p.lines = newlines - tail_blank + 1
    if not p.array and (blank or not head[:1] in (b"{",)):     # a blank or indented line: lines drift
        p.plain = False
    if p.size > LARGEST_PLAIN:
        p.plain = False
    p.size = max(p.size, 1)
    return p


def look_all(files: list[tuple], progress: bool = False) -> list[Payload]:
    """look() at every (path, digest, kind), in the files' order; when they are large enough to pay for a
    second Python's start, every other file in a child process (kpi.load.looking) while this one looks at
    the rest: Python's byte scans hold one core (6 s for a year of a province's payloads, 3,5 s on two). A
    file's error is the first raised, as one at a time; a child that fails leaves its files to this one."""
    from tqdm.auto import tqdm
    bar = dict(desc="Xem tệp đồng bộ", unit="tệp", disable=None if progress else True)
    if (os.cpu_count() or 1) < 2 or len(files) < 2 or sum(f[0].stat().st_size for f in files) < PARALLEL_FROM:
        return [look(*f) for f in tqdm(files, **bar)]
    theirs = files[1::2]
    root = str(Path(__file__).resolve().parents[2])          # where kpi is, for the child to import it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-m", "kpi.load.looking"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        child.stdin.write(pickle.dumps(theirs))
        child.stdin.close()
        mine = [look_or_error(f) for f in tqdm(files[0::2], **bar)]
        out = child.stdout.read()
    except BaseException:      # (Ctrl-C, a broken pipe): the child stopped with this process
        child.kill()
        child.wait()
        raise
    try:
        got = pickle.loads(out) if child.wait() == 0 else None
    except Exception:          # noqa: BLE001 — (anything the child could not say: its files looked at here)
        got = None
    got = got if isinstance(got, list) and len(got) == len(theirs) else [look_or_error(f) for f in theirs]
    ordered = [x for pair in zip(mine, got) for x in pair] + mine[len(got):]
    for x in ordered:
        if isinstance(x, Exception):
            raise x
    return ordered


def look_or_error(f: tuple):
    """look() at (path, digest, kind), or the LoadError it raises."""
    try:
        return look(*f)
    except LoadError as exc:
        return exc


def _normalise(p: Payload, folder: Path) -> Path:
    """The file's records, one a line with their line number, envelope service and unit — read by sync's
    iter_records, which stops the load with the exact place when the file is broken."""
    out = folder / f"{p.fid}.jsonl"
    with open(out, "w", encoding="utf-8") as fh:
        for service, unit, line, rec in sync.iter_records(p.path):
            if isinstance(rec, dict):
                fh.write(json.dumps({"l": line, "s": service, "u": unit if isinstance(unit, str) else
                                     (None if unit is None else str(unit)), "r": rec}, ensure_ascii=False) + "\n")
    return out


# --- reading ------------------------------------------------------------------------------------------------
@dataclass
class Counts:
    dossiers: int = 0          # dossier records (kept or refused)
    kept: int = 0              # dossier rows
    events: int = 0            # events the dossier records carry
    steps: int = 0             # step records
    steps_kept: int = 0
    unknown: int = 0
    other_paid: int = 0
    catalogue: list | None = None
    refused: list | None = None       # (line, table, column, reason, public record), dossiers first, then steps


class Reader:
    """Reads payload files into the loader's raw tables (SyncParts), a batch at a time."""

    def __init__(self, con, append):
        self.con = con
        self.append = append             # (sheet name, temp table of its rows in order) → None
        self.tmp = Path(tempfile.mkdtemp(prefix="kpi-payloads-"))

    def read(self, payloads: list[Payload]) -> dict[int, Counts]:
        counts: dict[int, Counts] = {}
        try:
            batch, size = [], 0
            for p in payloads:
                batch.append(p)
                size += p.size
                if size >= BATCH_BYTES:
                    counts.update(self._batch(batch))
                    batch, size = [], 0
            if batch:
                counts.update(self._batch(batch))
        finally:
            for t in ("_pl_files", "_pl_vals", "_pl_env", "_pl_unnested", "_pl_recs", "_pl_tl", "_pl_t0", "_pl_t1",
                      "_pl_t2", "_pl_t3", "_pl_dt", "_pl_st", "_pl_d", "_pl_re", "_pl_s", "_pl_ev"):
                run(self.con, f"DROP TABLE IF EXISTS {t}")
            for f in self.tmp.glob("*"):
                f.unlink()
            self.tmp.rmdir()
        return counts

    def _read_values(self, files: list[Payload], fmt: str, target: str) -> None:
        names = [str(p.source or p.path) for p in files]
        largest = max(p.size for p in files) + 1          # DuckDB's buffers: twice this, a thread
        run(self.con, f"""INSERT INTO {target} SELECT filename, json, strlen(json) FROM read_json_objects({names!r},
            format='{fmt}', filename=true, maximum_object_size={largest})""")

    def _values(self, batch: list[Payload]) -> None:
        """Every top-level value (a bare array's elements) of the batch's plain files into _pl_vals; a file DuckDB
        refuses, or whose values are not one a line, or that holds anything but records, is normalised."""
        run(self.con, "CREATE OR REPLACE TEMP TABLE _pl_vals (filename VARCHAR, _v JSON, _len BIGINT)")
        general = [p for p in batch if not p.typed]
        for fmt, group in (("array", [p for p in general if p.plain and p.array]),
                           ("unstructured", [p for p in general if p.plain and not p.array])):
            if not group:
                continue
            try:
                self._read_values(group, fmt, "_pl_vals")
            except Exception as exc:          # one file DuckDB refuses: find it, read it the careful way
                if "Interrupt" in type(exc).__name__:
                    raise
                for p in group:
                    try:
                        run(self.con, "CREATE OR REPLACE TEMP TABLE _pl_one (filename VARCHAR, _v JSON, _len BIGINT)")
                        self._read_values([p], fmt, "_pl_one")
                    except Exception as exc1:
                        if "Interrupt" in type(exc1).__name__:
                            raise
                        p.plain = False
                run(self.con, "DROP TABLE IF EXISTS _pl_one")
                run(self.con, "DELETE FROM _pl_vals")
                for f2, g2 in (("array", [p for p in general if p.plain and p.array]),
                               ("unstructured", [p for p in general if p.plain and not p.array])):
                    if g2:
                        self._read_values(g2, f2, "_pl_vals")
                break
        # Each value's fields: DuckDB's JSON functions hold every document of a vector (2,048 values) parsed until
        # the vector is done — 2,048 envelopes of 400 KB are gigabytes. The values no larger than SLICE_BYTES /
        # VECTOR_ROWS (bare records, small envelopes) are parsed in one statement, a vector of them holding at most
        # SLICE_BYTES; the larger ones a slice of at most SLICE_BYTES of text at a time. (Every value in slices, as
        # before, was 2,5 times slower for the millions of bare step records: 1,3 against 3,5 s for 2,3M, and 0,1 GB
        # more.)
        # An envelope's own text is not kept (only its records), a bare record's is. A bare object is an error reply
        # when a key says so: only one whose text holds 'error' in any case, or an escape, has its keys read (ILIKE
        # and contains: half the time of one pattern).
        frame = pd.DataFrame({"filename": [str(p.path) for p in batch], "_fid": [p.fid for p in batch],
                              "_array": [p.array for p in batch], "_lines": [p.lines for p in batch]})
        self.con.register("_pl_look", frame)
        run(self.con, "CREATE OR REPLACE TEMP TABLE _pl_env (_fid BIGINT, _array BOOLEAN, _lines BIGINT, _row BIGINT, "
                      "_type VARCHAR, _where VARCHAR, _svc VARCHAR, _envunit VARCHAR, _selfunit VARCHAR, "
                      "_error BOOLEAN, _list JSON[], _v JSON)")
        small = SLICE_BYTES // VECTOR_ROWS       # (read here: a test sets SLICE_BYTES)
        slices = [f"v._len <= {small}"] + [f"v._len > {small} AND v.rowid BETWEEN {first} AND {last}"
                                           for first, last in run(self.con, f"""SELECT min(rowid), max(rowid) FROM (
            SELECT rowid, sum(_len) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING) // {SLICE_BYTES} AS k
            FROM _pl_vals WHERE _len > {small}) GROUP BY k ORDER BY 1""")]
        for chosen in slices:
            run(self.con, f"""INSERT INTO _pl_env
                SELECT _fid, _array, _lines, _row, _type, _where, _svc, _envunit, _selfunit,
                       CASE WHEN _where = 'self' AND _type = 'OBJECT' AND (_v ILIKE '%error%' OR contains(_v, '\\u'))
                           THEN list_has_any(
                           list_transform(json_keys(_v), lambda k: lower(k)), ['error_code', 'errorcode', 'error'])
                       END,
                       CASE _where WHEN 'data' THEN CAST(_x[1] AS JSON[]) WHEN 'result' THEN CAST(_x[2] AS JSON[]) END,
                       CASE WHEN _where = 'self' THEN _v END
                FROM (SELECT *, CASE WHEN starts_with(_x[1], '[') THEN 'data'       -- a value's text as read:
                                     WHEN starts_with(_x[2], '[') THEN 'result'     -- valid JSON, an object when
                                     ELSE 'self' END AS _where,                     -- it starts with a brace
                             CASE WHEN regexp_matches(_v, '^\\s*[{{]') THEN 'OBJECT' END AS _type,
                             CASE lower(_x[3] ->> '$') {SERVICE_CASE} END AS _svc,
                             coalesce(nullif(_x[4] ->> '$', ''), _x[5] ->> '$') AS _envunit, _x[4] ->> '$' AS _selfunit
                      FROM (SELECT l._fid, l._array, l._lines, v.rowid AS _row, v._v,     -- each value parsed once
                                   json_extract(v._v, ['$.data', '$.result', '$.service', '$.madonvi', '$.MaDonVi']) AS _x
                            FROM _pl_vals v JOIN _pl_look l USING (filename) WHERE {chosen}))""")
        self.con.unregister("_pl_look")
        run(self.con, "DROP TABLE _pl_vals")
        # files whose values are not what the fast way expects
        odd = {r[0] for r in run(self.con, """
            SELECT _fid FROM _pl_env GROUP BY _fid, _array, _lines
            HAVING bool_or(_type IS NULL) OR bool_or(_error)
                OR (NOT _array AND count(*) > 1 AND count(*) <> _lines)""")}
        for p in batch:
            if p.plain and p.fid in odd:
                p.plain = False
        if odd:
            run(self.con, f"DELETE FROM _pl_env WHERE _fid IN ({', '.join(str(f) for f in odd)})")
        rare = [p for p in batch if not p.plain]
        for p in rare:
            p.source = _normalise(p, self.tmp)
            p.dirty = True

    # --- the typed way -------------------------------------------------------------------------------------------
    # A plain file whose name says what it holds, of the usual shape — step records one a line or in an array,
    # dossier records in an array, or dossier envelopes one a line — is read by DuckDB straight into the fields
    # the mapping reads: one parse of its text, where the general way parses it three times (its values, then an
    # envelope's records, then each record's fields). DuckDB's reader is the general way's transform, strict:
    # a value of another type, a duplicate key, anything else it refuses sends the file the general way; so does
    # a file the general way would read otherwise — a record that is an envelope, an envelope of another service
    # or without its unit, values not one a line —, or where the general way looks at what the fields leave
    # out: a key that may be an error reply's ('error' anywhere), a record's own 'madonvi' (counted in the
    # bytes: one an envelope), any key spelt with an escape.
    def _typed(self, batch: list[Payload]) -> dict[str, list[str]]:
        """The batch's files of the usual shapes read into a table per shape; returns the SQL of their dossier
        ('d') and step ('s') records, numbered as the general way numbers them."""
        con = self.con
        cand = [p for p in batch if TYPED and p.plain and not p.escaped and not p.errorish and (
            p.kind == "steps" or (p.kind == "dossiers" and (p.envelopes if not p.array else p.madonvi == 0)))]
        shapes = [("s", "array", [p for p in cand if p.kind == "steps" and p.array]),
                  ("s", "newline_delimited", [p for p in cand if p.kind == "steps" and not p.array]),
                  ("d", "array", [p for p in cand if p.kind == "dossiers" and p.array]),
                  ("e", "newline_delimited", [p for p in cand if p.kind == "dossiers" and not p.array])]
        frame = pd.DataFrame({"_fid": [p.fid for p in cand], "_lines": [p.lines for p in cand],
                              "_madonvi": [p.madonvi for p in cand]})
        con.register("_pl_tl_frame", frame)
        run(con, "CREATE OR REPLACE TEMP TABLE _pl_tl AS SELECT * FROM _pl_tl_frame")
        con.unregister("_pl_tl_frame")
        numbered = lambda t: f"""(SELECT t.*, t.rowid - g._first + 1 AS _vno, g._values FROM {t} t
            JOIN (SELECT _fid, min(rowid) AS _first, count(*) AS _values FROM {t} GROUP BY 1) g USING (_fid))"""  # noqa: E731
        pack = lambda fields: "{" + ", ".join(f"'{k}': \"{k}\"" for k in fields) + "}"     # noqa: E731
        parts = {"s": [], "d": []}
        for n, (shape, fmt, files) in enumerate(shapes):
            table = f"_pl_t{n}"
            columns = _COLUMNS[shape]
            run(con, f"CREATE OR REPLACE TEMP TABLE {table} (_fid BIGINT, {_fields(columns)})")
            if files:
                self._typed_parts(table, shape, fmt, files)
                self._check(table, shape, fmt, [p for p in files if p.typed])
            if shape == "s":
                parts["s"].append(f"SELECT _fid, _vno * 1048576 AS _rno, _vno AS _line, {pack(STEP)} AS x "
                                  f"FROM {numbered(table)}")
            elif shape == "d":
                parts["d"].append(f"SELECT _fid, _vno * 1048576 AS _rno, _vno AS _line, NULL AS _env, NULL AS _own, "
                                  f"{pack(RECORD)} AS d FROM {numbered(table)}")
            else:         # an envelope's records: numbered by their place in it, or by the envelope's line
                parts["d"].append(f"""SELECT _fid, _vno * 1048576 + x.i AS _rno,
                    CASE WHEN _values = 1 THEN x.i ELSE _vno END AS _line, madonvi AS _env, NULL AS _own, x.r AS d
                    FROM (SELECT _fid, _vno, _values, madonvi,
                                 unnest(list_transform(data, lambda r, i: {{'r': r, 'i': i}})) AS x
                          FROM {numbered(table)})""")
        return parts

    def _typed_parts(self, table: str, shape: str, fmt: str, files: list[Payload]) -> None:
        """The files read into `table` together; when DuckDB refuses one, each half again: a file refused alone
        is left to the general way."""
        names = [str(p.path) for p in files]
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _COLUMNS[shape].items()) + "}"
        fids = f"[{', '.join(str(p.fid) for p in files)}]"           # a file's place in the list: its fid
        try:          # (file_index, not filename: a number, not a path, on every row)
            run(self.con, f"""INSERT INTO {table} BY NAME SELECT *, {fids}[CAST(file_index AS BIGINT) + 1] AS _fid
                FROM read_json({names!r}, format='{fmt}', columns={columns},
                               maximum_object_size={max(p.size for p in files) + 1})""")
            for p in files:
                p.typed = True
        except Exception as exc:
            if "Interrupt" in type(exc).__name__:
                raise
            if len(files) > 1:
                half = len(files) // 2
                self._typed_parts(table, shape, fmt, files[:half])
                self._typed_parts(table, shape, fmt, files[half:])

    def _check(self, table: str, shape: str, fmt: str, files: list[Payload]) -> None:
        """A file read the typed way whose values the general way would read otherwise goes the general way."""
        if not files:
            return
        odd = "(count(*) > 1 AND count(*) <> any_value(l._lines))"        # values not one a line
        if shape == "e":          # not an envelope, another service's, or without its unit; a record's own unit
            odd += (f" OR bool_or(t.data IS NULL) OR bool_or(coalesce(t.madonvi, '') = '')"
                    f" OR bool_or(coalesce(CASE lower(t.service) {SERVICE_CASE} END, 'dossiers') <> 'dossiers')"
                    f" OR count(*) <> any_value(l._madonvi)")
        else:                     # a record that is an envelope
            odd = "bool_or(json_type(t.data) = 'ARRAY' OR json_type(t.result) = 'ARRAY')" + (
                "" if fmt == "array" else f" OR {odd}")
        bad = {r[0] for r in run(self.con, f"""SELECT _fid FROM {table} t JOIN _pl_tl l USING (_fid)
                                               GROUP BY _fid HAVING {odd}""")}
        if bad:
            run(self.con, f"DELETE FROM {table} WHERE _fid IN ({', '.join(map(str, bad))})")
        for p in files:
            if p.fid in bad:
                p.typed = False

    def _typed_records(self, typed: list[Payload], wanted: list[tuple]) -> dict:
        """The text of the typed files' records (fid, rno) — the refused ones, shown in the quarantine."""
        out = {}
        by_fid = {p.fid: p for p in typed}
        for fid in sorted({f for f, _ in wanted}):
            p = by_fid[fid]
            vnos = sorted({rno // 1048576 for f, rno in wanted if f == fid})
            fmt = "array" if p.array else "newline_delimited"
            values = dict(run(self.con, f"""SELECT _vno, json FROM (SELECT row_number() OVER () AS _vno, json
                FROM read_json_objects({lit(str(p.path))}, format='{fmt}', maximum_object_size={p.size + 1}))
                WHERE _vno IN ({', '.join(map(str, vnos))})"""))
            for f, rno in wanted:
                if f == fid:
                    v, i = divmod(rno, 1048576)
                    rec = json.loads(values[v])
                    out[(f, rno)] = rec["data"][i - 1] if i else rec
        return out

    def _batch(self, batch: list[Payload]) -> dict[int, Counts]:
        con = self.con
        typed_sql = self._typed(batch)
        self._values(batch)
        run(con, "SET preserve_insertion_order = true")
        files = pd.DataFrame({
            "_fid": [p.fid for p in batch], "filename": [str(p.path) for p in batch],
            "_src": [str(p.source) if p.source else None for p in batch],
            "_kind": [p.kind for p in batch], "_array": [p.array for p in batch], "_dirty": [p.dirty for p in batch],
            "_captured": [c.strftime("%Y-%m-%d %H:%M:%S") if (c := sync.captured_at(p.path)) else None for p in batch]})
        con.register("_pl_files_frame", files)
        run(con, "CREATE OR REPLACE TEMP TABLE _pl_files AS SELECT * FROM _pl_files_frame")
        con.unregister("_pl_files_frame")
        has = lambda k: f"json_exists(_r, '$.{k}')"       # noqa: E731
        detect = (f"CASE WHEN {has('MATTHC')} OR {has('TENTTHC')} THEN 'catalogue' "
                  f"WHEN {has('MaHoSo')} AND ({has('TrangThaiHoSo')} OR {has('NgayTiepNhan')} OR {has('MaTTHC')}) "
                  f"THEN 'dossiers' WHEN {has('MaHoSo')} AND ({has('ThoiDiemXuLy')} OR {has('TrangThai')}) "
                  f"THEN 'steps' END")
        # the records: (file, order in the file, line, envelope's service and unit, record)
        normalised = [p for p in batch if p.source]
        norm_sql = ""
        if normalised:
            names = [str(p.source) for p in normalised]
            norm_sql = f"""UNION ALL
                SELECT f._fid, n._no AS _vno, 0 AS _idx, CAST(json_extract(n.json, '$.l') AS BIGINT) AS _line,
                       json_extract_string(n.json, '$.s') AS _svc, json_extract_string(n.json, '$.u') AS _unit,
                       json_extract(n.json, '$.r') AS _r
                FROM (SELECT filename, json, row_number() OVER (PARTITION BY filename ORDER BY _i) AS _no
                      FROM (SELECT filename, json, row_number() OVER () AS _i FROM read_json_objects({names!r},
                            format='newline_delimited', filename=true,
                            maximum_object_size={max(p.source.stat().st_size for p in normalised) + 1}))) n
                JOIN _pl_files f ON f._src = n.filename"""
        # The records unnested from plain columns (DuckDB 2.0 runs out of memory unnesting a list beside a value
        # computed from the same JSON), their kinds read after.
        run(con, f"""CREATE OR REPLACE TEMP TABLE _pl_unnested AS
            WITH v AS (SELECT *, _row - _first + 1 AS _vno FROM _pl_env JOIN (      -- a file's values are read in a row
                           SELECT _fid, min(_row) AS _first, count(*) AS _values FROM _pl_env GROUP BY 1) USING (_fid))
            SELECT _fid, _vno, x.i AS _idx, CASE WHEN _array OR _values = 1 THEN x.i ELSE _vno END AS _line,
                   CASE _where WHEN 'data' THEN _svc ELSE 'catalogue' END AS _svc,
                   CASE _where WHEN 'data' THEN _envunit END AS _unit, x.r AS _r
            FROM (SELECT _fid, _vno, _array, _values, _where, _svc, _envunit,
                         unnest(list_transform(_list, lambda r, i: {{'r': r, 'i': i}})) AS x
                  FROM v WHERE _where <> 'self')
            UNION ALL
            SELECT _fid, _vno, 0, _vno, NULL, CASE WHEN NOT _array THEN _selfunit END, _v
            FROM v WHERE _where = 'self'
            {norm_sql}""")
        run(con, "DROP TABLE _pl_env")
        run(con, f"""CREATE OR REPLACE TEMP TABLE _pl_recs AS
            SELECT r._fid, _vno * 1048576 + _idx AS _rno, _line, _unit, _r,         -- the record's place in the file
                   coalesce(_svc, f._kind, {detect}) AS _kind
            FROM _pl_unnested r JOIN _pl_files f USING (_fid)
            WHERE regexp_matches(_r, '^\\s*[{{]')""")       # an object (valid JSON: its first brace says it)
        run(con, "DROP TABLE _pl_unnested")
        # every record's fields: the typed ones', and those read the general way (a table each: as views, the
        # mapping computed them inside itself — the steps' twice —, slower)
        run(con, f"""CREATE OR REPLACE TEMP TABLE _pl_dt AS {" UNION ALL ".join(typed_sql["d"])} UNION ALL
                     SELECT _fid, _rno, _line, _unit AS _env, json_extract_string(_r, '$.madonvi') AS _own,
                            json_transform(_r, {lit(DOSSIER_SHAPE)}) AS d FROM _pl_recs WHERE _kind = 'dossiers'""")
        run(con, f"""CREATE OR REPLACE TEMP TABLE _pl_st AS {" UNION ALL ".join(typed_sql["s"])} UNION ALL
                     SELECT _fid, _rno, _line, json_transform(_r, {lit(STEP_SHAPE)}) AS x
                     FROM _pl_recs WHERE _kind = 'steps'""")
        for n in range(4):
            run(con, f"DROP TABLE _pl_t{n}")
        counts = {p.fid: Counts() for p in batch}
        for fid, n in run(con, "SELECT _fid, count(*) FROM _pl_recs WHERE _kind IS NULL "
                               "OR _kind NOT IN ('dossiers', 'steps', 'catalogue') GROUP BY 1"):
            counts[fid].unknown = n
        for fid, line, unit, rec in run(con, "SELECT _fid, _line, _unit, _r FROM _pl_recs WHERE _kind = 'catalogue' "
                                             "ORDER BY _fid, _rno"):
            c = counts[fid]
            c.catalogue = (c.catalogue or []) + [(unit, line, json.loads(rec))]
        self._map(counts, [p for p in batch if p.typed])
        return counts

    def _map(self, counts: dict[int, Counts], typed: list[Payload]) -> None:
        con = self.con
        run(con, _dossiers_sql())
        run(con, _record_events_sql())
        run(con, _steps_sql())
        cols = ", ".join(f'"{c}"' for c in sync.DOSSIER_COLUMNS)
        run(con, f"""CREATE OR REPLACE TEMP TABLE _pl_rows AS SELECT {cols}, f.filename AS _file, _line
                     FROM _pl_d JOIN _pl_files f USING (_fid) WHERE _reason IS NULL ORDER BY _fid, _rno""")
        self.append("dossiers", "_pl_rows")
        ev = ", ".join(f'"{c}"' for c in sync.EVENT_COLUMNS)
        run(con, f"""CREATE OR REPLACE TEMP TABLE _pl_rows AS
            SELECT {ev}, f.filename AS _file, _line FROM (
                SELECT _fid, 0 AS _part, _rno AS _a, '' AS _b, _sub AS _c, _line, dossier_code, seq, event, "at",
                       official_id, step_name, NULL AS step_due_at FROM _pl_re
                UNION ALL
                SELECT _fid, 1, _rno, '', 0, _line, dossier_code,
                       {seq('"at"', '_slot', '_ordinal', '_ld')}, event, "at", official_id,
                       step_name, step_due_at
                FROM (SELECT *, CASE event {" ".join(f"WHEN '{k}' THEN {v}" for k, v in sync.SLOT.items())} END AS _slot
                      FROM _pl_s WHERE _reason IS NULL)) JOIN _pl_files f USING (_fid)
            ORDER BY _fid, _part, _a, _b, _c""")
        self.append("dossier_events", "_pl_rows")
        run(con, "DROP TABLE _pl_rows")
        for fid, n, kept, other in run(con, "SELECT _fid, count(*), count(*) FILTER (WHERE _reason IS NULL), "
                                            "count(*) FILTER (WHERE _other_paid) FROM _pl_d GROUP BY 1"):
            counts[fid].dossiers, counts[fid].kept, counts[fid].other_paid = n, kept, other
        for fid, n in run(con, "SELECT _fid, count(*) FROM _pl_re GROUP BY 1"):
            counts[fid].events = n
        for fid, n, kept in run(con, "SELECT _fid, count(*), count(*) FILTER (WHERE _reason IS NULL) FROM _pl_s "
                                     "GROUP BY 1"):       # (a record: one row, kept or refused)
            counts[fid].steps, counts[fid].steps_kept = n, kept
        refused = run(con, """
            SELECT d._fid, d._rno, d._line, 'dossiers', d._col, d._reason, r._r
            FROM _pl_d d LEFT JOIN _pl_recs r USING (_fid, _rno) WHERE d._reason IS NOT NULL
            UNION ALL
            SELECT s._fid, s._rno, s._line, 'dossier_events', 'event', s._reason, r._r
            FROM _pl_s s LEFT JOIN _pl_recs r USING (_fid, _rno) WHERE s._reason IS NOT NULL
            ORDER BY 4 DESC, 1, 2""")
        texts = self._typed_records(typed, [(fid, rno) for fid, rno, *_, rec in refused if rec is None])
        for fid, rno, line, table, col, reason, rec in refused:
            c = counts[fid]
            c.refused = (c.refused or []) + [(line, table, col, reason,
                                              sync._public(texts[(fid, rno)] if rec is None else json.loads(rec)))]
