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

Line numbers are sync.iter_records's: a JSON Lines record its line, an envelope's records their line (or
their place in `data` when the envelope is the whole file), a bare array's records their place in it.
"""
from __future__ import annotations

import gzip
import json
import re
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

# --- SQL building blocks ------------------------------------------------------------------------------------
# what readers.clean_text removes (RE2); a time with an offset (RE2)
CONTROL_RE = (r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x{9f}\x{ad}\x{61c}"
              r"\x{200b}-\x{200f}\x{202a}-\x{202e}\x{2060}-\x{2064}\x{2066}-\x{206f}\x{feff}]")
OFFSET_RE = (r"(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2}):?(\d{2})(?::?(\d{2}))?(?:\.\d+)?\s*(Z|[+-]\d{2}(?::?\d{2})?)")
VN_RE, EN_RE = r"-?\d{1,3}(\.\d{3})+(,\d+)?", r"-?\d{1,3}(,\d{3})+(\.\d+)?"      # validate.VN_NUMBER, EN_NUMBER
STATUS_CASE = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sync.STATUS.items() if v)
STEP_CASE = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sync.STEP_EVENT.items())
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


def seq(at: str, event: str, ordinal: str = "0") -> str:
    """The event's key (seq) from its local time, kind (a name, or SQL of its slot) and ordinal."""
    d = f"left({digits(at)}, 14)"
    slot = sync.SLOT.get(event, event)
    return (f"CASE WHEN length({d}) >= 12 THEN CAST(CAST(rpad({d}, 14, '0') AS BIGINT) * 100 + {slot} "
            f"+ least({ordinal}, 9) AS VARCHAR) END")


def fold(x: str) -> str:
    """sync._fold in SQL: no diacritics, đ → d, lower case."""
    return f"lower(strip_accents(replace(replace(coalesce({x}, ''), 'đ', 'd'), 'Đ', 'D')))"   # x is stripped


def amount(x: str) -> str:
    """A fee line x (JSON), by its JSON type: a number is that number, a text is read as the CSV
    exports' numbers are, anything else is NaN; a number too large is +inf (refused by the caller)."""
    t = f"regexp_replace(trim(json_extract_string({x}, '$.Gia'), {lit(SPACES)}), '[\\s\\pZ]', '', 'g')"
    text = (f"CASE WHEN regexp_full_match({t}, {lit(VN_RE)}) THEN replace(replace({t}, '.', ''), ',', '.') "
            f"WHEN regexp_full_match({t}, {lit(EN_RE)}) THEN replace({t}, ',', '') ELSE replace({t}, ',', '.') END")
    return (f"CASE WHEN json_type({x}, '$.Gia') IN ('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE') "
            f"THEN coalesce(try_cast(json_extract_string({x}, '$.Gia') AS DOUBLE), 'inf'::DOUBLE) "
            f"WHEN json_type({x}, '$.Gia') = 'VARCHAR' THEN coalesce(try_cast({text} AS DOUBLE), 'nan'::DOUBLE) "
            f"ELSE 'nan'::DOUBLE END")


DOSSIER_SHAPE = json.dumps({
    **{k: "VARCHAR" for k in ("MaHoSo", "MaTTHC", "KenhThucHien", "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra",
                              "NgayKetThucXuLy", "NgayTra", "TrangThaiHoSo", "DuocThanhToanTrucTuyen", "MaDoiTuong",
                              "HoSoCoThanhPhanSoHoa", "TaiKhoanDuocXacThucVoiVNeID", "ChuHoSo", "SoGiayToChuHoSo",
                              "SoDienThoai", "DiaChiChuHoSo", "DonViXuLy", "MaDonVi", "NgayTuChoi")},
    "DanhSachLePhi": "JSON[]", "DanhSachHoSoBoSung": "JSON[]",
    "DanhSachGiayToKetQua": [{"DuongDanTepTinKetQua": "VARCHAR"}],
    "TaiLieuNop": [{"IsDeleted": "VARCHAR", "DuongDanTaiTepTin": "VARCHAR", "DuocTaiSuDung": "VARCHAR",
                    "DuocLayTuKhoDMQG": "VARCHAR"}],
    "DSKetNoiCSDL": [{"MaCSDL": "VARCHAR"}], "DinhDanhCHS": [{"SoDinhDanh": "VARCHAR"}]}, ensure_ascii=False)
ROUND_SHAPE = json.dumps({k: "VARCHAR" for k in ("NgayBoSung", "NgayTiepNhanBoSung", "NguoiYeuCauBoSung",
                                                  "NoiDungBoSung", "NgayHenTraTruoc", "NgayHenTraMoi")})
STEP_SHAPE = json.dumps({k: "VARCHAR" for k in ("MaHoSo", "ThoiDiemXuLy", "TrangThai", "NguoiXuLy", "NoiDungXuLy",
                                                 "NgayKetThucTheoQuyDinh")})


def _dossiers_sql() -> str:
    """Every dossier record → its canonical row, the reason it is refused (or NULL), and its own events' inputs."""
    return f"""
    CREATE OR REPLACE TEMP TABLE _pl_d AS
    WITH base AS (
        SELECT r._fid, r._rno, r._line, r._r, f._dirty, f._captured, r._unit AS _env,
               json_transform(r._r, {lit(DOSSIER_SHAPE)}) AS d
        FROM _pl_recs r JOIN _pl_files f USING (_fid) WHERE r._kind = 'dossiers'),
    m AS (
        SELECT *, {s('d.MaHoSo')} AS code, {s('d.TrangThaiHoSo')} AS st, {s('d.DuocThanhToanTrucTuyen')} AS paid,
               list_filter(d.DanhSachLePhi, lambda x: json_type(x) = 'OBJECT') AS fees,
               coalesce({s('d.MaDonVi')}, {s("json_extract_string(_r, '$.madonvi')")}) AS rec_unit, {s('_env')} AS env_unit,
               {s('d.NgayTiepNhan')} AS received,
               -- the files sent (not deleted)
               list_filter(d.TaiLieuNop, lambda f: coalesce({flag('f.IsDeleted')}, '') <> '1') AS _files
        FROM base),
    a AS (SELECT *, list_transform(fees, lambda x: {amount('x')}) AS amounts FROM m)
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
        FROM (SELECT r._fid, r._rno, r._line, f._dirty, json_transform(r._r, {lit(STEP_SHAPE)}) AS x
              FROM _pl_recs r JOIN _pl_files f USING (_fid) WHERE r._kind = 'steps')),
    k AS (SELECT *, coalesce({digits('"at"')}, '') AS _ld, CASE st {STEP_CASE} END AS _kind
          FROM v WHERE st IN ({CODES(sync.STEP_EVENT)})),
    -- a step leaving status 5 is the supplement received: only dossiers with a status-5 step need the order
    five AS (SELECT DISTINCT _fid, code FROM k WHERE st = '5'),
    p AS (SELECT *, lag(st) OVER (PARTITION BY _fid, code ORDER BY _ld, _rno) AS _prev FROM k SEMI JOIN five USING (_fid, code)
          UNION ALL BY NAME
          SELECT *, NULL AS _prev FROM k ANTI JOIN five USING (_fid, code)),
    e AS (SELECT * EXCLUDE (_folded), CASE WHEN _prev = '5' AND st <> '5' THEN 'supplement_completed'
                         WHEN starts_with(_folded, 'phan cong') THEN 'assigned'
                         WHEN contains(_folded, 'thu xin loi') THEN 'apology_sent'
                         ELSE _kind END AS event
          FROM (SELECT *, CASE WHEN _kind = 'step_done' THEN {fold('what')} END AS _folded FROM p)),  -- once
    -- the same dossier, time and kind twice in the file: numbered in time order (only those need the order)
    twice AS (SELECT _fid, code, "at", event FROM e GROUP BY ALL HAVING count(*) > 1),
    o AS (SELECT *, row_number() OVER (PARTITION BY _fid, code, "at", event ORDER BY _ld, _rno) - 1 AS _ordinal
          FROM e SEMI JOIN twice USING (_fid, code, "at", event)
          UNION ALL BY NAME
          SELECT *, 0 AS _ordinal FROM e ANTI JOIN twice USING (_fid, code, "at", event))
    SELECT _fid, _rno, _line, code AS dossier_code, event, "at", who AS official_id, _ordinal,
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


BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")


RARE_LEADS = b"\xc2\xe2\xef\xd8"     # the first bytes of every sequence RARE finds


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
                if not p.dirty and (b"\\u" in buf or len(buf.translate(None, CONTROL_BYTES)) != len(buf)
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
    stripped_tail = carry.rstrip(b" \t\r\n")
    tail_blank = carry[len(stripped_tail):].count(b"\n")
    p.lines = newlines - tail_blank + 1
    if not p.array and (blank or not head[:1] in (b"{",)):     # a blank or indented line: lines drift
        p.plain = False
    if p.size > LARGEST_PLAIN:
        p.plain = False
    p.size = max(p.size, 1)
    return p


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
            for t in ("_pl_files", "_pl_vals", "_pl_env", "_pl_unnested", "_pl_recs", "_pl_d", "_pl_re", "_pl_s", "_pl_ev"):
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
        for fmt, group in (("array", [p for p in batch if p.plain and p.array]),
                           ("unstructured", [p for p in batch if p.plain and not p.array])):
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
                for f2, g2 in (("array", [p for p in batch if p.plain and p.array]),
                               ("unstructured", [p for p in batch if p.plain and not p.array])):
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
        kinds = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sync.SERVICES.items())
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
                             CASE lower(_x[3] ->> '$') {kinds} END AS _svc,
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

    def _batch(self, batch: list[Payload]) -> dict[int, Counts]:
        con = self.con
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
        counts = {p.fid: Counts() for p in batch}
        for fid, kind, n in run(con, "SELECT _fid, coalesce(_kind, ''), count(*) FROM _pl_recs GROUP BY ALL"):
            c = counts[fid]
            if kind == "dossiers":
                c.dossiers = n
            elif kind == "steps":
                c.steps = n
            elif kind == "catalogue":
                pass
            else:
                c.unknown = n
        for fid, line, unit, rec in run(con, "SELECT _fid, _line, _unit, _r FROM _pl_recs WHERE _kind = 'catalogue' "
                                             "ORDER BY _fid, _rno"):
            c = counts[fid]
            c.catalogue = (c.catalogue or []) + [(unit, line, json.loads(rec))]
        self._map(counts)
        return counts

    def _map(self, counts: dict[int, Counts]) -> None:
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
                       {seq('"at"', '_slot', '_ordinal')}, event, "at", official_id,
                       step_name, step_due_at
                FROM (SELECT *, CASE event {" ".join(f"WHEN '{k}' THEN {v}" for k, v in sync.SLOT.items())} END AS _slot
                      FROM _pl_s WHERE _reason IS NULL)) JOIN _pl_files f USING (_fid)
            ORDER BY _fid, _part, _a, _b, _c""")
        self.append("dossier_events", "_pl_rows")
        run(con, "DROP TABLE _pl_rows")
        for fid, kept, other in run(con, "SELECT _fid, count(*) FILTER (WHERE _reason IS NULL), "
                                         "count(*) FILTER (WHERE _other_paid) FROM _pl_d GROUP BY 1"):
            counts[fid].kept, counts[fid].other_paid = kept, other
        for fid, n in run(con, "SELECT _fid, count(*) FROM _pl_re GROUP BY 1"):
            counts[fid].events = n
        for fid, n in run(con, "SELECT _fid, count(*) FROM _pl_s WHERE _reason IS NULL GROUP BY 1"):
            counts[fid].steps_kept = n
        refused = run(con, """
            SELECT d._fid, d._rno, d._line, 'dossiers', d._col, d._reason, r._r
            FROM _pl_d d JOIN _pl_recs r USING (_fid, _rno) WHERE d._reason IS NOT NULL
            UNION ALL
            SELECT s._fid, s._rno, s._line, 'dossier_events', 'event', s._reason, r._r
            FROM _pl_s s JOIN _pl_recs r USING (_fid, _rno) WHERE s._reason IS NOT NULL
            ORDER BY 4 DESC, 1, 2""")
        for fid, _, line, table, col, reason, rec in refused:
            c = counts[fid]
            c.refused = (c.refused or []) + [(line, table, col, reason, sync._public(json.loads(rec)))]
