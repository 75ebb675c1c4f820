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
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from kpi import config
from kpi.load.errors import LoadError
from kpi.load.readers import Sheet, clean_text, decode, json_loads, too_deep
from kpi.load.validate import number_text
from kpi.store import run

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


def is_candidate(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(SUFFIXES) and (kind_of_name(path) is not None or name.endswith((".jsonl", ".jsonl.gz",
                                                                                         ".ndjson", ".json.gz")))


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


def _flag(v) -> str | None:
    s = _s(v)
    if s is None:
        return None
    return "1" if s.lower() in ("1", "true", "co", "có", "yes") else "0"


OFFSET_TIME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2}):?(\d{2})(?::?(\d{2}))?(?:\.\d+)?\s*(Z|[+-]\d{2}(?::?\d{2})?)")


@lru_cache(maxsize=65536)
def local_digits(at: str | None) -> str:
    """A time's yyyyMMddHHmmss in local time: an ISO time with an offset (`2026-11-03T03:00:00Z`) is converted,
    so both notations of one moment give the same digits (and one event); any other text its digits."""
    m = OFFSET_TIME.fullmatch((at or "").strip())
    if not m:
        return re.sub(r"\D", "", at or "")
    y, mo, d, h, mi, sec, off = m.groups()
    try:
        t = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec or 0), tzinfo=_zone(off))
    except ValueError:
        return re.sub(r"\D", "", at)
    return t.astimezone(_local_zone()).strftime("%Y%m%d%H%M%S")


def _zone(off: str) -> dt.tzinfo:
    if off == "Z":
        return dt.timezone.utc
    sign = -1 if off[0] == "-" else 1
    digits = off[1:].replace(":", "").ljust(4, "0")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


@lru_cache(maxsize=1)
def _local_zone():
    return ZoneInfo(config.TIMEZONE)


def _seq(at: str | None, event: str, ordinal: int = 0) -> int | None:
    digits = local_digits(at)[:14]
    if len(digits) < 12:
        return None
    return int(digits.ljust(14, "0")) * 100 + SLOT[event] + min(ordinal, 9)


def read(path: Path, kind_hint: str | None = None) -> list[Sheet]:
    """The file's records as canonical sheets: dossiers (+ the events their supplement lists and refusals
    carry), steps → dossier_events, the catalogue → procedures (filling gaps only). Each record is mapped as
    it is parsed: memory holds the file's text and its rows, not every record as a dict."""
    name_kind = kind_of_name(path) or kind_hint
    dossiers, steps, catalogue, unknown = _DossierRows(path), _StepRows(path), [], 0
    for service, unit, line, rec in iter_records(path):
        kind = service or name_kind or detect(rec)
        if kind == "dossiers":
            dossiers.add(unit, line, rec)
        elif kind == "steps":
            steps.add(unit, line, rec)
        elif kind == "catalogue":
            catalogue.append((unit, line, rec))
        else:
            unknown += 1
    if not (dossiers.n or steps.n or catalogue):
        raise LoadError(f"{path}: không có bản ghi DongBoHoSoMC, CapNhatTienDoHoSoMC hay LayThuTuc nào — kiểm tra "
                        "lại tệp (tên tệp hoặc trường 'service' cho biết loại dữ liệu).")
    sheets = []
    if dossiers.n:
        sheets += dossiers.sheets()
    if steps.n:
        sheets.append(steps.sheet())
    if catalogue:
        sheets.append(_catalogue_sheet(path, catalogue))
    if unknown:
        sheets[0].notes = (sheets[0].notes or []) + [f"{unknown} bản ghi không rõ loại (không có MaHoSo/MATTHC) — bỏ qua"]
    return sheets


def _quarantine_rows(path, rows) -> pd.DataFrame | None:
    if not rows:
        return None
    return pd.DataFrame([{"file": str(path), "line": line, "table_name": table, "column_name": col, "reason": reason,
                          "raw": json.dumps(rec, ensure_ascii=False)[:500]} for line, table, col, reason, rec in rows])


class _DossierRows:
    """DongBoHoSoMC records → the dossiers sheet (+ the events their supplement lists and refusals carry), a
    record at a time: the file's records are mapped as they are parsed, never all held as dicts."""

    def __init__(self, path: Path):
        self.path, self.captured, self.n = path, captured_at(path), 0
        self.rows, self.lines, self.events, self.ev_lines, self.refused, self.other_paid = [], [], [], [], [], 0

    def add(self, unit, line, r) -> None:
        self.n += 1
        code = _s(r.get("MaHoSo"))
        status_code = _s(r.get("TrangThaiHoSo"))
        if status_code is not None and status_code not in STATUS:
            self.refused.append((line, "dossiers", "status", f"mã trạng thái hồ sơ không có trong danh sách 1–10 của "
                                                        f"Cổng DVCQG — kiểm tra bản ghi {code}", _public(r)))
            return
        if status_code == "1":
            self.refused.append((line, "dossiers", "status", "hồ sơ mới đăng ký (trạng thái 1), chưa được tiếp nhận — chưa "
                                                        "tính; bản ghi sau có trạng thái tiếp nhận sẽ nạp hồ sơ này",
                            _public(r)))
            return
        paid = _s(r.get("DuocThanhToanTrucTuyen"))
        if paid not in (None, "0", "1", "2"):
            self.other_paid += 1
            paid = "2"
        fees = [f for f in (r.get("DanhSachLePhi") or []) if isinstance(f, dict)]
        fee = None
        if fees:
            amounts = [_amount(f.get("Gia")) for f in fees]
            if any(math.isinf(a) for a in amounts):
                self.refused.append((line, "dossiers", "fee_amount", f"lệ phí (DanhSachLePhi.Gia) không phải số hữu hạn "
                                                                f"— kiểm tra bản ghi {code}", _public(r)))
                return
            fee = repr(sum(a for a in amounts if pd.notna(a)))
        record_unit, envelope_unit = _s(r.get("MaDonVi")) or _s(r.get("madonvi")), _s(unit)
        if record_unit and envelope_unit and record_unit.upper() != envelope_unit.upper():
            self.refused.append((line, "dossiers", "unit_code", f"MaDonVi của bản ghi ({record_unit}) khác madonvi của gói "
                                                           f"({envelope_unit}) — không rõ đơn vị nào đúng; kiểm tra "
                                                           f"bản ghi {code}", _public(r)))
            return
        results = [g for g in (r.get("DanhSachGiayToKetQua") or []) if isinstance(g, dict)]
        files = [f for f in (r.get("TaiLieuNop") or []) if isinstance(f, dict) and _flag(f.get("IsDeleted")) != "1"]
        received = _s(r.get("NgayTiepNhan"))
        self.rows.append({
            "dossier_code": code, "procedure_code": _s(r.get("MaTTHC")),
            "unit_code": envelope_unit or record_unit,
            "unit_name": _s(r.get("DonViXuLy")),
            "channel": _s(r.get("KenhThucHien")), "submitted_at": _s(r.get("NgayNopHoSo")), "received_at": received,
            "due_at": _s(r.get("NgayHenTra")), "finished_at": _s(r.get("NgayKetThucXuLy")),
            "returned_at": _s(r.get("NgayTra")), "status": STATUS.get(status_code) if status_code else None,
            "synced_at": self.captured.strftime("%Y-%m-%d %H:%M:%S") if self.captured else received,
            "from_national_portal": "1" if _s(r.get("MaDoiTuong")) else "0",
            "fee_amount": fee, "has_financial_obligation": "1" if status_code == "6" else None, "paid_online": paid,
            "e_result": "1" if any(_s(g.get("DuongDanTepTinKetQua")) for g in results) else "0",
            "digitized_components": "1" if (_flag(r.get("HoSoCoThanhPhanSoHoa")) == "1" or
                                            any(_s(f.get("DuongDanTaiTepTin")) for f in files)) else "0",
            "reused_digitized_data": "1" if any(_flag(f.get("DuocTaiSuDung")) == "1" for f in files) else "0",
            "from_personal_store": "1" if any(_flag(f.get("DuocLayTuKhoDMQG")) == "1" for f in files) else "0",
            "vneid_authenticated": "1" if (_flag(r.get("TaiKhoanDuocXacThucVoiVNeID")) == "1" or
                                           any(_s(c.get("MaCSDL")) for c in (r.get("DSKetNoiCSDL") or [])
                                               if isinstance(c, dict))) else "0",
            "applicant_name": _s(r.get("ChuHoSo")),
            "applicant_id_number": _s(r.get("SoGiayToChuHoSo")) or next(
                (_s(d.get("SoDinhDanh")) for d in (r.get("DinhDanhCHS") or []) if isinstance(d, dict)), None),
            "applicant_phone": _s(r.get("SoDienThoai")), "applicant_address": _s(r.get("DiaChiChuHoSo")),
        })
        self.lines.append(line)
        # what the dossier record itself says happened: refusal, supplement rounds, extensions
        refused_at = _s(r.get("NgayTuChoi"))
        if refused_at:
            self.events.append(_event(code, "rejected", refused_at))
            self.ev_lines.append(line)
        for k, b in enumerate(x for x in (r.get("DanhSachHoSoBoSung") or []) if isinstance(x, dict)):
            asked, answered = _s(b.get("NgayBoSung")), _s(b.get("NgayTiepNhanBoSung"))
            who = _s(b.get("NguoiYeuCauBoSung"))
            if asked:
                self.events.append(_event(code, "supplement_requested", asked, who, k, _s(b.get("NoiDungBoSung"))))
                self.ev_lines.append(line)
            if answered:
                self.events.append(_event(code, "supplement_completed", answered, None, k))
                self.ev_lines.append(line)
            before, after = _s(b.get("NgayHenTraTruoc")), _s(b.get("NgayHenTraMoi"))
            if after and after != before and asked:
                self.events.append(_event(code, "deadline_extended", asked, who, k, f"hẹn trả mới {after}"))
                self.ev_lines.append(line)


    def sheets(self) -> list[Sheet]:
        frame = pd.DataFrame(self.rows, columns=DOSSIER_COLUMNS, dtype=object)
        notes = [f"{self.other_paid} hồ sơ có DuocThanhToanTrucTuyen khác 0/1/2 — tính là cổng thanh toán của tỉnh (2)"] \
            if self.other_paid else []
        sheets = [Sheet(self.path, "dossiers", frame, self.lines, _quarantine_rows(self.path, self.refused), notes=notes)]
        if self.events:
            sheets.append(Sheet(self.path, "dossier_events", pd.DataFrame(self.events, columns=EVENT_COLUMNS, dtype=object),
                                self.ev_lines))
        return sheets


def _public(r: dict) -> dict:
    """A record without its applicant and free-text fields: what a quarantine row may keep of it."""
    drop = {"ChuHoSo", "SoGiayToChuHoSo", "DinhDanhCHS", "SoDienThoai", "Email", "DiaChiChuHoSo", "TrichYeuHoSo",
            "ThongTinKhac", "GhiChu", "Fax"}
    return {k: v for k, v in r.items() if k not in drop and not isinstance(v, (list, dict))}


def _event(code, event, at, official=None, ordinal=0, step=None, step_due=None) -> list:
    return [code, _seq(at, event, ordinal), event, at, official, step, step_due]


def resolve_units(frame: pd.DataFrame, by_name) -> pd.DataFrame:
    """A record without a unit code names its agency (DonViXuLy): matched like the portal's unit names; a
    name that matches nothing stays as written, so the reference check quarantines it, naming it."""
    missing = frame.unit_code.isna() & frame.unit_name.notna()
    if missing.any():
        found = frame.loc[missing, "unit_name"].map(by_name)
        frame.loc[missing, "unit_code"] = found.where(found.notna(), frame.loc[missing, "unit_name"])
    return frame.drop(columns="unit_name")


class _StepRows:
    """CapNhatTienDoHoSoMC records → events, a record at a time (kept as a few strings each). Within the file a
    dossier's steps are taken in time order; a step that leaves status 5 is the citizen's supplement received."""

    def __init__(self, path: Path):
        self.path, self.rows, self.refused, self.n = path, [], [], 0

    def add(self, unit, line, r) -> None:
        code, st = _s(r.get("MaHoSo")), _s(r.get("TrangThai"))
        self.n += 1
        if st not in STEP_EVENT:
            self.refused.append((line, "dossier_events", "event", "mã trạng thái bước xử lý không có trong danh sách "
                                 f"2–10 của Cổng DVCQG — kiểm tra bước của hồ sơ {code}", _public(r)))
            return
        self.rows.append((code, _s(r.get("ThoiDiemXuLy")), st, _s(r.get("NguoiXuLy")), _s(r.get("NoiDungXuLy")),
                          _s(r.get("NgayKetThucTheoQuyDinh")), line, self.n))

    def sheet(self) -> Sheet:
        rows = sorted(self.rows, key=lambda x: (x[0] or "", local_digits(x[1]), x[7]))
        events, lines, prev, ordinal = [], [], {}, {}
        for code, at, st, who, what, due, line, _ in rows:
            event = STEP_EVENT[st]
            text = _fold(what or "")
            if prev.get(code) == "5" and st != "5":
                event = "supplement_completed"
            elif event == "step_done" and text.startswith("phan cong"):
                event = "assigned"
            elif event == "step_done" and "thu xin loi" in text:
                event = "apology_sent"
            prev[code] = st
            key = (code, at, event)
            ordinal[key] = ordinal.get(key, -1) + 1
            events.append(_event(code, event, at, who, ordinal[key], what if event == "step_done" else None,
                                 due if event == "step_done" else None))
            lines.append(line)
        return Sheet(self.path, "dossier_events", pd.DataFrame(events, columns=EVENT_COLUMNS, dtype=object), lines,
                     _quarantine_rows(self.path, self.refused))


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


# ------------------------------------------------------------------------------------------ after the write
def finish(con, codes: list[str]) -> dict:
    """Inside the load's transaction, for the dossiers the sync payloads touched: step holders named by
    full name are matched to officials of the dossier's unit; a dossier's receiving official is the holder
    of its 'received' step, its handling official the holder of its assignment (else its first step)."""
    if not codes:
        return {"unmatched": []}
    con.register("_sync_codes", pd.DataFrame({"dossier_code": codes}))
    try:
        run(con, """UPDATE dossier_events e SET official_id = m.official_id
            FROM (SELECT e2.dossier_code, e2.seq, min(o.official_id) AS official_id, count(*) AS n
                  FROM dossier_events e2 JOIN _sync_codes s USING (dossier_code)
                  JOIN dossiers d USING (dossier_code)
                  JOIN officials o ON o.unit_code = d.unit_code
                       AND lower(trim(o.full_name)) = lower(trim(e2.official_id))
                  WHERE e2.official_id IS NOT NULL
                    AND e2.official_id NOT IN (SELECT official_id FROM officials)
                  GROUP BY ALL) m
            WHERE e.dossier_code = m.dossier_code AND e.seq = m.seq AND m.n = 1""")
        run(con, """UPDATE dossiers d SET
                receiving_official_id = coalesce(d.receiving_official_id, x.recv),
                handling_official_id = coalesce(d.handling_official_id, x.assigned, x.first_step)
            FROM (SELECT dossier_code,
                         arg_min(official_id, seq) FILTER (WHERE event = 'received') AS recv,
                         arg_min(official_id, seq) FILTER (WHERE event = 'assigned') AS assigned,
                         arg_min(official_id, seq) FILTER (WHERE event = 'step_done') AS first_step
                  FROM dossier_events JOIN _sync_codes USING (dossier_code) GROUP BY dossier_code) x
            WHERE d.dossier_code = x.dossier_code""")
        unmatched = [r[0] for r in run(con, """SELECT DISTINCT e.official_id FROM dossier_events e
            JOIN _sync_codes USING (dossier_code)
            WHERE e.official_id IS NOT NULL AND e.official_id NOT IN (SELECT official_id FROM officials)
            ORDER BY 1""")]
    finally:
        con.unregister("_sync_codes")
    return {"unmatched": unmatched}
