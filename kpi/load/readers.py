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
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kpi.load.errors import LoadError
from kpi.schema import TABLES, fold, header_map
import zipfile

SUPPORTED = {".csv", ".txt", ".xlsx", ".xlsm", ".parquet", ".json", ".jsonl", ".ndjson", ".gz"}


@dataclass
class Sheet:
    file: Path
    name: str            # file stem, or "stem#sheet" for a workbook sheet
    frame: pd.DataFrame  # all text, original headers
    lines: list          # source line/row number of each row
    quarantine: pd.DataFrame | None = None   # rows the reader already refused (file, line, column, reason, raw)
    fill_only: bool = False                  # rows only add keys not known yet (a catalogue never overwrites)
    notes: list | None = None                # what the reader has to say in the load summary
    files: list | None = None                # the file of each row, for a sheet merged from many files


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
    return len(re.findall(rb"[\xc3-\xc6\xe1][\x80-\xbf]{1,2}", raw)) >= 3


# control characters and terminal escapes (not \t \n \r); invisible format characters: zero-width spaces and
# joiners, the soft hyphen, a BOM inside the text, and the bidi controls that reverse text in pictures and HTML
CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
                     "|[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
csv.field_size_limit(1 << 30)     # a value longer than the csv module's 131,072 is quarantined by validate, not fatal


def clean_text(text: str) -> str:
    """Control characters, terminal escape sequences (`\\x1b[2J`) and invisible format characters (U+200B,
    the bidi overrides U+202E …) have no place in data: removed at read."""
    return CONTROL.sub("", text) if CONTROL.search(text) else text


def sniff_delimiter(header: str) -> str:
    """The delimiter that splits the header into the most known column names (a header such as
    `Phí, lệ phí` in a semicolon file must not make ',' win), then into the most fields."""
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
        # index_col=False: a row ending with a delimiter the header lacks (an empty last field) is read as the
        # fast lane reads it, not shifted by one column; a row whose extra fields hold values is refused below
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), sep=delim, dtype=str, keep_default_na=False,
                                na_values=[], engine="c", skip_blank_lines=True, index_col=False)
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        _refuse_extra_fields(path, text, delim)          # the line, in words, when that is what is wrong
        raise LoadError(f"{path}: không đọc được CSV ({str(exc).splitlines()[0]}) — kiểm tra dấu phân cách và dấu ngoặc kép.") from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        _refuse_extra_fields(path, text, delim)
    try:
        lines = _csv_lines(text, delim, len(frame))
    except csv.Error as exc:
        raise LoadError(f"{path}: không đọc được CSV ({exc}) — kiểm tra dấu phân cách và dấu ngoặc kép.") from None
    frame = frame.replace({"": None})
    return [Sheet(path, path.stem, frame, lines)]


def _refuse_extra_fields(path: Path, text: str, delim: str) -> None:
    """A row with more fields than the header, the extra ones not empty: which column is which cannot be
    known — the file is refused, naming the line (an empty extra field, a trailing delimiter, is harmless)."""
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    width = len(next(reader, []))
    while True:
        start = reader.line_num + 1
        row = next(reader, None)
        if row is None:
            return
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise LoadError(f"{path}: dòng {start} có {len(row)} cột, tiêu đề chỉ có {width} — kiểm tra dấu phân "
                            "cách trong dòng đó (giá trị có dấu phân cách phải đặt trong ngoặc kép).")


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
    s = unicodedata.normalize("NFC", clean_text(str(v)))      # as decode() gives CSV text
    return s if s.strip() else None


HEADER_SCAN_ROWS = 20


def _merged_ranges(wb, ws) -> list[tuple[int, int, int, int]]:
    """Merged cell ranges (min_row, min_col, max_row, max_col) of a read-only sheet, read from its XML
    (read-only worksheets do not expose them); only those starting in the header area matter."""
    from openpyxl.utils.cell import range_boundaries
    path = getattr(ws, "_worksheet_path", None)
    if not path:
        return []
    out, tail = [], ""
    pat = re.compile(r'<(?:\w+:)?mergeCell ref="([A-Z]+\d+:[A-Z]+\d+)"')
    with zipfile.ZipFile(wb._archive.filename if hasattr(wb._archive, "filename") else wb._archive) as z, \
            z.open(path) as fh:
        while chunk := fh.read(1 << 20):
            text = tail + chunk.decode("utf-8", errors="ignore")
            for m in pat.finditer(text):
                c1, r1, c2, r2 = range_boundaries(m.group(1))
                if r1 <= HEADER_SCAN_ROWS:
                    out.append((r1, c1, r2, c2))
            tail = text[-200:]
    return sorted(set(out))


def _header(top: list[list], known: set) -> tuple[int, list[str], int]:
    """(index of the first header row, column names, header rows: 1 or 2) among the first rows: the row —
    or two rows joined, as in the national "Sổ theo dõi hồ sơ" layout — naming the most known columns."""

    def names_of(i, two):
        names = []
        for j in range(max(len(top[i]), len(top[i + 1]) if two else 0)):
            a = top[i][j] if j < len(top[i]) else None
            b = top[i + 1][j] if two and j < len(top[i + 1]) else None
            options = [f"{a} {b}", b, a] if a and b and a != b else [a or b]
            names.append(next((o for o in options if o and fold(o) in known), options[0]))
        return names

    best = (0, 0, 1, None)
    for i in range(len(top)):
        for two in (False, True) if i + 1 < len(top) else (False,):
            names = names_of(i, two)
            score = sum(1 for n in names if n and fold(n) in known)
            if score > best[0]:
                best = (score, i, 2 if two else 1, names)
    if best[3] is None:
        return 0, [str(v) if v is not None else None for v in (top[0] if top else [])], 1
    return best[1], best[3], best[2]


def read_xlsx(path: Path) -> list[Sheet]:
    """Each sheet with data. The header is found among the first rows (a title above it is skipped),
    merged header cells are spread over the columns they cover, a two-row header is joined, and a column
    without a name keeps one (`cột F`) so that it is listed, never silently dropped."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter
    known = {h for t in TABLES.values() for h in header_map(t)}
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken zip
        raise LoadError(f"{path}: không mở được tệp Excel ({type(exc).__name__}) — hãy mở bằng Excel và lưu lại dạng .xlsx.") from None
    sheets = []
    for ws in wb.worksheets:
        rows = ws.iter_rows(values_only=True)
        top = []
        for row in rows:
            top.append([_cell(v) for v in row])
            if len(top) == HEADER_SCAN_ROWS:
                break
        if not any(v is not None for r in top for v in r):
            continue
        for r1, c1, r2, c2 in _merged_ranges(wb, ws):
            value = top[r1 - 1][c1 - 1] if r1 - 1 < len(top) and c1 - 1 < len(top[r1 - 1]) else None
            for r in range(r1 - 1, min(r2, len(top))):
                top[r] += [None] * (c2 - len(top[r]))
                for c in range(c1 - 1, c2):
                    top[r][c] = value
        first, names, depth = _header(top, known)
        header = [str(h).strip() if h is not None else f"cột {get_column_letter(i + 1)} (không có tiêu đề)"
                  for i, h in enumerate(names)]
        data, lines = [], []
        start = first + depth
        buffered = [(r + 1, vals) for r, vals in enumerate(top) if r >= start]
        def more():
            yield from buffered
            for r, row in enumerate(rows, start=len(top) + 1):
                yield r, [_cell(v) for v in row]
        for r, vals in more():
            vals = vals[: len(header)]
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


def too_deep(path: Path) -> LoadError:
    """A JSON nesting too deep for Python (a hostile or broken file), as one line."""
    return LoadError(f"{path}: JSON lồng nhau quá sâu — không phải dữ liệu xuất từ hệ thống; lấy lại tệp.")


def json_loads(text: str, path: Path):
    """json.loads, with a nesting too deep for Python as a one-line LoadError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise too_deep(path) from None


def load_json(path: Path):
    try:
        return json_loads(decode(path.read_bytes(), path), path)
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
