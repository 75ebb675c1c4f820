"""Readers: CSV (any of the encodings exports come in), XLSX, Parquet, JSON → frames of text.

Every reader returns `Sheet`s whose values are strings (or None) and whose `lines` are the
line (row) numbers in the source file, so a quarantine row can point at the place to fix.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import LoadError

SUPPORTED = {".csv", ".txt", ".xlsx", ".xlsm", ".parquet", ".json"}


@dataclass
class Sheet:
    file: Path
    name: str            # file stem, or "stem#sheet" for a workbook sheet
    frame: pd.DataFrame  # all text, original headers
    lines: list          # source line/row number of each row


def decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 (BOM), else Windows-1258; NFC-normalised."""
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 without BOM shows NULs in every other byte
        if raw[1:200:2].count(0) > 50:
            text = raw.decode("utf-16-le", errors="strict")
        else:
            raise LoadError(f"{path}: tệp có byte NUL, không phải văn bản CSV hợp lệ — hãy xuất lại tệp từ hệ thống dưới dạng CSV UTF-8.")
    elif raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8", errors="strict")
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if _has_utf8_multibyte(raw):
                line = raw[:exc.start].count(b"\n") + 1
                raise LoadError(f"{path}: tệp trộn lẫn bảng mã (UTF-8 và Windows-1258), byte lạ ở dòng {line} — "
                                "xuất lại toàn bộ tệp dạng CSV UTF-8.") from None
            text = raw.decode("cp1258", errors="replace")
    if "\x00" in text:
        raise LoadError(f"{path}: tệp chứa ký tự NUL — hãy xuất lại tệp từ hệ thống dưới dạng CSV UTF-8.")
    return unicodedata.normalize("NFC", text)


def _has_utf8_multibyte(raw: bytes) -> bool:
    """True if the bytes contain well-formed UTF-8 sequences for Vietnamese letters (so the file is
    meant to be UTF-8, and the bytes that fail are a second encoding mixed in)."""
    import re
    return len(re.findall(rb"[\xc3-\xc6\xe1][\x80-\xbf]{1,2}", raw)) >= 3


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")   # not \t \n \r


def clean_text(text: str) -> str:
    """Control characters (terminal escapes, form feeds, …) have no place in data: removed at read."""
    return CONTROL.sub("", text) if CONTROL.search(text) else text


def sniff_delimiter(header: str) -> str:
    """The delimiter that splits the header into the most known column names (a header such as
    `Phí, lệ phí` in a semicolon file must not make ',' win), then into the most fields."""
    from ..schema import TABLES, fold, header_map
    known = {h for t in TABLES.values() for h in header_map(t)}

    def score(d):
        fields = next(csv.reader([header], delimiter=d), [])
        return sum(fold(f) in known for f in fields), len(fields)
    return max(",;\t|", key=score)


def read_csv(path: Path) -> list[Sheet]:
    text = decode(path.read_bytes(), path)
    if not text.strip():
        raise LoadError(f"{path}: tệp rỗng — không có dòng tiêu đề nào; hãy xuất lại dữ liệu.")
    if "\r" in text:      # Windows (CRLF) and old Mac (CR only) line endings → \n
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = clean_text(text)
    delim = sniff_delimiter(text.lstrip("\n").split("\n", 1)[0])
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delim, dtype=str, keep_default_na=False,
                            na_values=[], engine="c", skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise LoadError(f"{path}: không đọc được CSV ({str(exc).splitlines()[0]}) — kiểm tra dấu phân cách và dấu ngoặc kép.") from None
    try:
        lines = _csv_lines(text, delim, len(frame))
    except csv.Error as exc:
        raise LoadError(f"{path}: không đọc được CSV ({exc}) — kiểm tra dấu phân cách và dấu ngoặc kép.") from None
    frame = frame.replace({"": None})
    return [Sheet(path, path.stem, frame, lines)]


def _csv_lines(text: str, delim: str, n: int) -> list[int]:
    """Physical line where each record starts (exact even with quoted newlines)."""
    if '"' not in text:
        lines = []
        for i, line in enumerate(text.splitlines()[1:], start=2):
            if line.strip():
                lines.append(i)
        return lines[:n] if len(lines) >= n else list(range(2, n + 2))
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    next(reader, None)
    out = []
    while True:
        start = reader.line_num + 1
        row = next(reader, None)
        if row is None:
            break
        if any(cell.strip() for cell in row):
            out.append(start)
    return out[:n] if len(out) >= n else list(range(2, n + 2))


def _cell(v):
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = clean_text(str(v))
    return s if s.strip() else None


def read_xlsx(path: Path) -> list[Sheet]:
    from openpyxl import load_workbook
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken zip
        raise LoadError(f"{path}: không mở được tệp Excel ({type(exc).__name__}) — hãy mở bằng Excel và lưu lại dạng .xlsx.") from None
    sheets = []
    for ws in wb.worksheets:
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(h is None for h in header):
            continue
        header = [str(h).strip() if h is not None else f"_col{i}" for i, h in enumerate(header)]
        data, lines = [], []
        for r, row in enumerate(rows, start=2):
            vals = [_cell(v) for v in row[: len(header)]]
            if any(v is not None for v in vals):
                data.append(vals + [None] * (len(header) - len(vals)))
                lines.append(r)
        name = path.stem if len(wb.worksheets) == 1 else f"{path.stem}#{ws.title}"
        sheets.append(Sheet(path, name, pd.DataFrame(data, columns=header, dtype=object), lines))
    wb.close()
    if not sheets:
        raise LoadError(f"{path}: tệp Excel không có trang tính nào có dữ liệu.")
    return sheets


def read_parquet(path: Path) -> list[Sheet]:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        raise LoadError(f"{path}: không đọc được Parquet ({type(exc).__name__}) — tệp có thể bị hỏng; hãy xuất lại.") from None
    frame = frame.astype(object).where(frame.notna(), None)
    frame = frame.map(_cell)
    return [Sheet(path, path.stem, frame, list(range(1, len(frame) + 1)))]


def read_json_records(path: Path, payload) -> list[Sheet]:
    """JSON: a list of records, or {"table": [records]} / {"data": [records]}."""
    if isinstance(payload, dict):
        for key in ("data", "rows", "records", "items"):
            if isinstance(payload.get(key), list):
                payload = payload[key]
                break
    if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
        raise LoadError(f"{path}: JSON không phải danh sách bản ghi (hay phản hồi của Cổng DVCQG) — kiểm tra lại tệp.")
    frame = pd.DataFrame(payload, dtype=object)
    frame = frame.map(_cell)
    return [Sheet(path, path.stem, frame, list(range(1, len(frame) + 1)))]


def load_json(path: Path):
    try:
        return json.loads(decode(path.read_bytes(), path))
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path}: JSON hỏng ở dòng {exc.lineno}, cột {exc.colno} ({exc.msg}) — tệp bị cắt ngang hoặc không phải JSON; hãy tải lại.") from None


def read_file(path: Path) -> list[Sheet]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    if suffix == ".parquet":
        return read_parquet(path)
    if suffix == ".json":
        return read_json_records(path, load_json(path))
    raise LoadError(f"{path}: không hỗ trợ định dạng '{suffix}' — dùng CSV, XLSX, Parquet hoặc JSON.")
