"""Validation: map headers, parse types, apply the row rules of DATA_CONTRACT.md.

Vectorised over whole columns; every failing row becomes one quarantine row naming the
file, line, column and reason (the first problem found in the row).
"""
from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd

from kpi import config
from kpi.schema import BOOL_ALIASES, RATING_NUMBERS, Table, fold, header_map
from kpi.load.errors import LoadError
from kpi.load.readers import Sheet

MAX_TEXT = 4000
UNIT_CODE = r"[A-Z0-9][A-Z0-9._-]{0,63}"
EARLIEST = pd.Timestamp("2000-01-01")
TRUE = {"1", "true", "t", "yes", "y", "co", "có", "x", "đúng", "dung"}

ENUM_ALIASES = {
    "channel": {"truc tiep": "1", "direct": "1", "truc tuyen": "2", "online": "2", "buu chinh": "3",
                "buu chinh cong ich": "3", "postal": "3"},
    "level": {"tinh": "province", "so": "department", "so_ban_nganh": "department", "huyen": "district",
              "xa": "commune", "phuong": "commune", "dac khu": "commune", "mot phan": "partial",
              "toan trinh": "full"},
    "online_level": {"mot phan": "partial", "toan trinh": "full", "khong": "none", "": "none"},
    "rating": {fold(k): v for k, v in RATING_NUMBERS.items()},
    "paid_online": {"khong": "0", "dvcqg": "1", "cong dvcqg": "1", "cong thanh toan tinh": "2"},
}


class Problems:
    """Collects the first problem of each row."""

    def __init__(self, n: int):
        self.column = np.full(n, None, dtype=object)
        self.reason = np.full(n, None, dtype=object)
        self.values = None   # the raw values of the column being checked

    def add(self, mask, column: str, reason) -> None:
        mask = np.asarray(pd.array(np.asarray(mask, dtype=object), dtype="boolean").fillna(False), dtype=bool) \
            & pd.isna(self.reason)
        if not mask.any():
            return
        self.column[mask] = column
        if callable(reason):   # built only for the failing rows: cheap on a clean million-row file
            self.reason[mask] = [reason(v) for v in self.values[mask]] if self.values is not None \
                else [reason(None)] * int(mask.sum())
        elif isinstance(reason, (pd.Series, np.ndarray)):
            self.reason[mask] = np.asarray(reason, dtype=object)[mask]
        else:
            self.reason[mask] = reason

    @property
    def bad(self) -> np.ndarray:
        return ~pd.isna(self.reason)


def recognise(sheet: Sheet, tables: dict[str, Table]) -> Table:
    """Which table a sheet holds: by its (sheet or file) name, else by its headers."""
    stem = fold(sheet.name.split("#")[-1])
    named = [(len(alias) + (stem == alias) * 1000, t) for t in tables.values()
             for alias in map(fold, (t.name,) + t.file_aliases)
             if stem == alias or stem.startswith(alias + "_") or stem.endswith("_" + alias)]
    if named:
        return max(named, key=lambda x: x[0])[1]
    headers = {fold(h) for h in sheet.frame.columns}
    best, best_score = None, 0
    for t in tables.values():
        hmap = header_map(t)
        cols = {hmap[h] for h in headers if h in hmap}
        required = {c.name for c in t.columns if c.required}
        if required <= cols and len(cols) > best_score:
            best, best_score = t, len(cols)
    if best is None:
        raise LoadError(f"{sheet.file}: không nhận ra bảng dữ liệu ({sheet.name}) — đặt tên tệp theo bảng "
                        f"(vd. dossiers.csv, units.csv) hoặc dùng tiêu đề cột theo DATA_CONTRACT.md.")
    return best


def plan_headers(file, headers, table: Table) -> tuple[dict, list[str]]:
    """Each header that names a column of the table → that column (the first of two that name the same
    one wins); the others are unknown. A missing required column is an error naming the file."""
    hmap = header_map(table)
    rename, unknown = {}, []
    for h in headers:
        canon = hmap.get(fold(h))
        if canon and canon not in rename.values():
            rename[h] = canon
        else:
            unknown.append(str(h))
    missing = [c.name for c in table.columns if c.required and c.name not in rename.values()]
    if missing:
        hints = "; ".join(f"{m} (hoặc {', '.join(table.column(m).aliases[:2])})" if table.column(m).aliases else m
                          for m in missing)
        raise LoadError(f"{file}: bảng {table.name} thiếu cột bắt buộc: {hints} — thêm cột này vào tệp rồi nạp lại.")
    return rename, unknown


def map_headers(sheet: Sheet, table: Table) -> tuple[pd.DataFrame, list[str]]:
    rename, unknown = plan_headers(sheet.file, sheet.frame.columns, table)
    frame = sheet.frame[list(rename)].rename(columns=rename)
    for c in table.columns:
        if c.name not in frame.columns:
            frame[c.name] = None
    return frame[table.names].reset_index(drop=True), unknown


OFFSET = r"[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"   # a time, then its offset


def _utc_offsets(text: pd.Series) -> pd.Series:
    """ISO text with an offset (`Z`, `+07`, `+0700`, `+07:00`) → naive local time; NaT where unreadable."""
    norm = (text.str.replace(r"\s*Z$", "+00:00", regex=True).str.replace(r"\s+([+-]\d)", r"\1", regex=True)
                .str.replace(r"([+-]\d{2})$", r"\1:00", regex=True)
                .str.replace(r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True))

    def convert(values):
        v = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
        return pd.Series(v, index=values.index).dt.tz_convert(config.TIMEZONE).dt.tz_localize(None)
    try:
        return convert(norm).astype("datetime64[us]")
    except (TypeError, ValueError):      # a value pandas cannot take in bulk: one distinct value at a time
        one = {}
        for v in norm.dropna().unique():
            try:
                one[v] = convert(pd.Series([v]))[0]
            except (TypeError, ValueError):
                one[v] = pd.NaT
        return norm.map(one).astype("datetime64[us]")


def parse_timestamps(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Text → naive local timestamps. Accepts ISO (with or without an offset: Z, +07, +0700, +07:00),
    day-first (25/08/2026, 25/08/2026 14:05, 25-08-2026), yyyyMMddHHmmss (20260825140500) and Excel serial
    numbers. Returns (values, bad)."""
    text = s.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    present = text.notna() & (text != "")
    iso = present & text.str.match(r"^\d{4}-\d{2}-\d{2}")
    tz = iso & text.str.contains(OFFSET, regex=True)
    naive = iso & ~tz
    if naive.any():
        try:
            out[naive] = pd.to_datetime(text[naive], format="ISO8601", errors="coerce").astype("datetime64[us]")
        except (TypeError, ValueError):
            out[naive] = text[naive].map(lambda v: pd.to_datetime(v, format="ISO8601", errors="coerce")) \
                .astype("datetime64[us]")
    if tz.any():
        out[tz] = _utc_offsets(text[tz])
    dayfirst = present & text.str.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}")
    if dayfirst.any():
        norm = text[dayfirst].str.replace(r"[.-]", "/", regex=True, n=2)
        parsed = pd.Series(pd.NaT, index=norm.index, dtype="datetime64[us]")
        for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
            todo = parsed.isna()
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(norm[todo], format=fmt, errors="coerce").astype("datetime64[us]")
        out[dayfirst] = parsed
    compact = present & text.str.match(r"^\d{14}$")          # yyyyMMddHHmmss: the national sync payloads
    if compact.any():
        out[compact] = pd.to_datetime(text[compact], format="%Y%m%d%H%M%S", errors="coerce").astype("datetime64[us]")
    serial = present & text.str.match(r"^\d{4,5}(?:\.\d+)?$")
    if serial.any():
        num = pd.to_numeric(text[serial], errors="coerce")
        ok = num.between(20000, 80000)
        vals = pd.to_datetime(num.where(ok), unit="D", origin="1899-12-30").dt.round("s")
        out[serial] = vals.astype("datetime64[us]")
    bad = (present & out.isna()).to_numpy()
    return out, bad


def _by_unique(s: pd.Series, fn) -> pd.Series:
    """Apply fn once per distinct value (exports repeat a handful of codes a million times)."""
    text = s.astype("string").str.strip()
    uniq = {v: fn(v) for v in text.dropna().unique()}
    return text.map(uniq, na_action="ignore").astype(object).where(text.notna(), None)


def _bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    known_values = BOOL_ALIASES | TRUE
    mapped = _by_unique(s, lambda v: (v.lower() in TRUE) if v.lower() in known_values else "\x00bad")
    bad = (mapped == "\x00bad").to_numpy(dtype=bool)
    return mapped.where(~bad, None).astype("boolean"), bad


def enum_value(name: str, raw: str, values: tuple) -> str | None:
    """The allowed value a (stripped) text stands for — itself, its lower case, a spreadsheet's '1.0', a
    Vietnamese or English label — or None."""
    if raw in values:
        return raw
    if raw.lower() in values:
        return raw.lower()
    if raw.endswith(".0") and raw[:-2] in values:
        return raw[:-2]
    aliases = ENUM_ALIASES.get(name, {})
    return aliases.get(fold(raw).replace("_", " "), aliases.get(fold(raw)))


def _enum(name: str, s: pd.Series, values: tuple) -> tuple[pd.Series, np.ndarray]:
    mapped = _by_unique(s, lambda raw: v if (v := enum_value(name, raw, values)) is not None else "\x00bad")
    bad = (mapped == "\x00bad").to_numpy(dtype=bool)
    return mapped.where(~bad, None), bad


VN_NUMBER = r"^-?\d{1,3}(\.\d{3})+(,\d+)?$"       # '1.234,5', '50.000'
EN_NUMBER = r"^-?\d{1,3}(,\d{3})+(\.\d+)?$"       # '50,000', '1,234.50'


def number_text(text: str) -> str:
    """One value as _number_text reads it (the sync payloads' fees, a record at a time)."""
    text = re.sub(r"[\s\u00a0]", "", text)
    if re.match(VN_NUMBER, text):
        return text.replace(".", "").replace(",", ".")
    if re.match(EN_NUMBER, text):
        return text.replace(",", "")
    return text.replace(",", ".")


def _number_text(s: pd.Series) -> pd.Series:
    """Numbers as exports write them → '1234.5'. Vietnamese: '.' groups thousands, ',' is the decimal
    mark ('1.234,50', '3.000,00', '12.345.678,9', '50.000'). A comma followed by groups of exactly three
    digits and nothing else groups thousands as well ('50,000', '1,234,567': fees are whole dong), as does
    a comma before a point ('1,234.50'). A single comma otherwise is a decimal mark ('2,5')."""
    text = s.astype("string").str.strip().str.replace(r"[\s\u00a0]", "", regex=True)
    vn = text.str.match(VN_NUMBER).fillna(False)
    en = text.str.match(EN_NUMBER).fillna(False) & ~vn
    text = text.where(~vn, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    text = text.where(~en, text.str.replace(",", "", regex=False))
    return text.where(vn | en, text.str.replace(",", ".", regex=False))


HIDDEN_SPACE = r"[^\S ]"      # a space other than ' ' (no-break, ideographic, tab, line separator …)


def is_code(c) -> bool:
    """A code or id column (dossier, procedure, official, service …): compared exactly, so nothing hidden in it."""
    return c.type == "str" and not c.unit_code and c.name.endswith(("_code", "_id"))


def validate(sheet: Sheet, table: Table, now: dt.datetime | None = None,
             dedupe: bool = True, keys: list | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Returns (typed good rows with _file/_line, quarantine rows, unknown headers). keys: a list that
    receives every row's key as text, and whether the row failed (the fast lane's duplicate check)."""
    frame, unknown = map_headers(sheet, table)
    n = len(frame)
    probs = Problems(n)
    lines = np.asarray(sheet.lines[:n] if len(sheet.lines) >= n else range(2, n + 2))
    now_ts = pd.Timestamp(now or dt.datetime.now()) + pd.Timedelta(days=1)
    out = pd.DataFrame(index=frame.index)
    for c in table.columns:
        s = frame[c.name]
        s = s.where(s.notna() & (s.astype("string").str.strip() != ""), None)
        probs.values = s.to_numpy(dtype=object)
        if c.not_null:
            probs.add(s.isna(), c.name, f"thiếu giá trị bắt buộc ở cột {c.name}")
        if c.type == "str":
            text = s.astype("string").str.strip()
            if c.unit_code:
                text = text.str.upper()
                probs.add((~text.str.fullmatch(UNIT_CODE) | text.str.contains("..", regex=False)).fillna(False)
                          .to_numpy(dtype=bool), c.name,
                          f"mã đơn vị ở cột {c.name} chứa ký tự không hợp lệ (chỉ dùng chữ, số và . - _) — sửa mã")
            elif is_code(c):
                probs.add(text.str.contains(HIDDEN_SPACE).fillna(False).to_numpy(dtype=bool), c.name,
                          f"mã ở cột {c.name} chứa khoảng trắng ẩn (khoảng trắng không ngắt, tab …) — sửa mã cho "
                          "đúng với mã trên hệ thống")
            probs.add((text.str.len() > MAX_TEXT).fillna(False).to_numpy(dtype=bool), c.name,
                      f"giá trị quá dài ở cột {c.name} (> {MAX_TEXT} ký tự)")
            if c.pattern:
                text = text.str.upper()
                probs.add((~text.str.fullmatch(c.pattern)).fillna(False).to_numpy(dtype=bool), c.name,
                          lambda v: f"'{str(v)[:40]}' không đúng dạng ở cột {c.name} — viết như {c.example}")
            if c.values:
                text, bad = _enum(c.name, text, c.values)
                probs.add(bad, c.name, lambda v: f"giá trị '{str(v)[:40]}' không hợp lệ ở cột {c.name}; "
                                                 f"cho phép: {', '.join(c.values)}")
            out[c.name] = text.astype("string")
        elif c.type in ("ts", "date"):
            vals, bad = parse_timestamps(s)
            probs.add(bad, c.name, lambda v: f"ngày giờ '{str(v)[:40]}' không đọc được ở cột {c.name}; "
                                             "dùng dạng 25/08/2026 14:05 hoặc 2026-08-25")
            probs.add((vals < EARLIEST).to_numpy(), c.name, f"ngày ở cột {c.name} trước năm 2000 — kiểm tra lại")
            if not c.future_ok:
                probs.add((vals > now_ts).to_numpy(), c.name, f"ngày ở cột {c.name} nằm trong tương lai — kiểm tra lại")
            out[c.name] = vals.dt.normalize().dt.date if c.type == "date" else vals
        elif c.type in ("int", "float"):
            num = pd.to_numeric(_number_text(s), errors="coerce")
            probs.add((s.notna() & num.isna()).to_numpy(), c.name,
                      lambda v: f"'{str(v)[:40]}' không phải số ở cột {c.name}")
            probs.add(np.isinf(num.astype("float64")).to_numpy(dtype=bool), c.name,
                      lambda v: f"'{str(v)[:40]}' không phải số hữu hạn ở cột {c.name} — sửa thành số thật")
            if c.type == "int":
                probs.add((num.notna() & (num != num.round())).to_numpy(), c.name, f"cột {c.name} phải là số nguyên")
            if c.min_value is not None:
                probs.add((num < c.min_value).to_numpy(), c.name, f"giá trị âm ở cột {c.name}")
            out[c.name] = num.astype("Int64") if c.type == "int" else num.astype("Float64")
        elif c.type == "bool":
            vals, bad = _bool(s)
            probs.add(bad, c.name, lambda v: f"'{str(v)[:40]}' không phải có/không (1/0) ở cột {c.name}")
            out[c.name] = vals
    for later, earlier in table.checks:
        labels = {"due_at": "ngày hẹn trả", "finished_at": "ngày xử lý xong", "returned_at": "ngày trả kết quả",
                  "received_at": "ngày tiếp nhận", "valid_to": "hiệu lực đến", "valid_from": "hiệu lực từ",
                  "period_end": "đến ngày", "period_start": "từ ngày"}
        mask = (pd.to_datetime(out[later]) < pd.to_datetime(out[earlier])).fillna(False).to_numpy(dtype=bool)
        probs.add(mask, later, f"{labels.get(later, later)} trước {labels.get(earlier, earlier)}")
    # duplicate keys inside this sheet: the first stays, the others are quarantined (a sheet merged from
    # many payload files keeps them: the loader keeps the most advanced record, as between files)
    key = list(table.key)
    keyed = out[key].astype("string").fillna("")
    if keys is not None:
        keys.append(pd.DataFrame({"_line": lines, **{k: keyed[k].to_numpy(dtype=object) for k in key},
                                  "_bad": probs.bad}))
    dup = keyed.duplicated(keep="first").to_numpy() & ~probs.bad & dedupe
    if dup.any():
        first_line = pd.Series(lines, index=out.index).groupby([keyed[k] for k in key]).transform("first")
        content = frame.astype("string").fillna("").agg("\x1f".join, axis=1)
        first_content = content.groupby([keyed[k] for k in key]).transform("first")
        same = (content == first_content).to_numpy()
        probs.add(dup & same, table.key[0],
                  first_line.map(lambda l: f"trùng lặp giống hệt dòng {l} (bản ghi đã được nạp một lần)"))
        probs.add(dup & ~same, table.key[0],
                  first_line.map(lambda l: f"mã trùng với dòng {l} nhưng nội dung khác — giữ dòng {l}, "
                                           "hãy kiểm tra bản ghi nào đúng"))
    files = np.asarray(sheet.files, dtype=object) if sheet.files is not None else np.full(n, str(sheet.file), dtype=object)
    out["_file"] = files
    out["_line"] = lines
    bad = probs.bad
    quarantine = pd.DataFrame({
        "file": files[bad], "line": lines[bad], "table_name": table.name,
        "column_name": probs.column[bad], "reason": probs.reason[bad],
        "raw": [json.dumps(r, ensure_ascii=False, default=str)[:500]
                for r in frame[bad].to_dict("records")],
    })
    return out[~bad].reset_index(drop=True), quarantine, unknown
