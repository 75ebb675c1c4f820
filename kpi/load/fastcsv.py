"""The fast lane for CSV: DuckDB reads the file and types, in SQL, every row written the plain way;
the rows it does not accept go through validate.py's rules, so every message stays the same.

A file takes this lane when its bytes are plain UTF-8 text with one record per line (no NUL, no control
characters, no CR, no blank line, no line separator): then row n of DuckDB's read is line n + 1 of the file.
Otherwise, or when DuckDB refuses the file, the caller reads it the careful way (readers.py).

What SQL accepts is deliberately narrow — trimmed values; ISO, day-first or compact dates; plain numbers;
the enum's own values; ASCII yes/no words — and gives exactly the value validate() would give. Anything
else is a "suspect" row, handed to validate() a batch at a time: memory stays bounded whatever the file.
Duplicate keys within the file are found in SQL over all rows, with validate()'s messages.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import unicodedata
from pathlib import Path

import pandas as pd

from kpi.schema import TABLES
from kpi.store import run
from kpi.load.readers import Sheet, sniff_delimiter
from kpi.load.validate import EARLIEST, MAX_TEXT, enum_value, is_code, recognise, plan_headers, validate

BATCH = 200_000          # suspect rows handed to validate() at a time
CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])
# C1 controls, line/paragraph separators, and the invisible format characters readers.clean_text removes
RARE = re.compile(rb"\xc2[\x80-\x9f\xad]|\xe2\x80[\xa8\xa9\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa0-\xa4\xa6-\xaf]"
                  rb"|\xef\xbb\xbf|\xd8\x9c")
NFD_MARKS = re.compile(rb"\xcc[\x80-\xbf]|\xcd[\x80-\xaf]")     # combining marks U+0300–U+036F
LEADS = b"\t\xc2\xcc\xcd\xe2\xe3\xd8\xef"      # first bytes of what RARE, NFD_MARKS and ODD_SPACE look for
CONTROL_OR_LEADS = CONTROL_BYTES + LEADS     # one pass says whether either is there (mostly: neither)
# spaces str.strip() removes besides ' ' (U+1680, the Ogham space mark, is left out: its lead byte \xe1
# begins most Vietnamese letters, and looking for it would cost a pass)
ODD_SPACE = re.compile(rb"\t|\xc2\xa0|\xe2\x80[\x80-\x8a\xaf]|\xe2\x81\x9f|\xe3\x80\x80")
EDGE_SPACE = r"^[[:space:]\pZ]|[[:space:]\pZ]$"
# what str.strip() and Python's \s take (every character whose str.isspace() is true; a test compares), written
# out: looking them up over the 1,1 million code points took 0,3 s of every command that loads
SPACES = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
          "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# validate.HIDDEN_SPACE in RE2: a space other than ' '
HIDDEN_SPACE_RE2 = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SPACES if c != " ") + "]"
MAX_LABELS = 100         # distinct texts of a column with a list of values that SQL types (more: validate() does)
ISO = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?"
DAY_FIRST = r"(0[1-9]|[12]\d|3[01])/(0[1-9]|1[0-2])/\d{4}( ([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?"
COMPACT = r"\d{14}"
PLAIN_TIMES = ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%d")   # the commonest forms (CSV, payloads): a round trip
CAST_FORMS = {"%Y-%m-%d %H:%M:%S": "TIMESTAMP", "%Y-%m-%d": "DATE"}   # those DuckDB prints its values in
BOOL_TRUE = ("1", "true", "t", "yes", "y", "co", "x", "dung")
BOOL_FALSE = ("0", "false", "f", "no", "n", "khong")


def prescan(path: Path) -> dict | None:
    """{'lines': physical lines up to the last non-empty one, 'nfd', 'quotes', 'spaces'} when the file can take
    the fast lane, else None. One pass of a few C-speed byte operations per chunk."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head.removeprefix(b"\xef\xbb\xbf")[:1] in (b"\n", b"\r", b""):
            return None
        fh.seek(max(0, size - 4096))
        tail = fh.read()
        trailing = tail[len(tail.rstrip(b"\r\n")):]       # newlines after the last record: harmless
        start = 3 if head.startswith(b"\xef\xbb\xbf") else 0     # a BOM opening the file is DuckDB's to skip
        fh.seek(start)
        plain = _plain(fh)
        if plain is not None:
            newlines, quotes = plain
            return {"nfd": False, "quotes": quotes, "spaces": False,
                    "lines": newlines - trailing.count(b"\n") + 1}
        fh.seek(start)
        out = {"nfd": False, "quotes": False, "spaces": False}
        newlines = crs = crlfs = 0
        carry = b""
        while True:
            chunk = fh.read(1 << 23)
            buf = carry + chunk
            body = buf if not chunk else buf[:-3]            # the last bytes are searched with the next chunk
            if len(body.translate(None, CONTROL_OR_LEADS)) != len(body):       # rarely: look closer
                if len(body.translate(None, CONTROL_BYTES)) != len(body):
                    return None
                if RARE.search(body):
                    return None
                out["nfd"] = out["nfd"] or bool(NFD_MARKS.search(body))
                out["spaces"] = out["spaces"] or bool(ODD_SPACE.search(body))
            newlines += body.count(b"\n")
            cr = body.count(b"\r")
            crs, crlfs = crs + cr, crlfs + (body.count(b"\r\n") if cr else 0)
            out["quotes"] = out["quotes"] or b'"' in body
            if not chunk:
                break
            carry = buf[len(body):]
    if crs != crlfs:                      # old Mac line ends
        return None
    out["lines"] = newlines - trailing.count(b"\n") + 1
    return out


def _plain(fh) -> tuple[int, bool] | None:
    """(line breaks, whether a quote is there) of the rest of a file holding none of the bytes `prescan` looks
    closer at (a control byte or the first byte of a rare character) and no CR — the common file; None at the
    first chunk holding one (prescan then reads the file its careful way). Each chunk is looked at as read:
    nothing looked for here spans two chunks, so no chunk is copied."""
    newlines, quotes = 0, False
    while chunk := fh.read(1 << 23):
        if len(chunk.translate(None, CONTROL_OR_LEADS)) != len(chunk) or b"\r" in chunk:
            return None
        newlines += chunk.count(b"\n")
        quotes = quotes or b'"' in chunk
    return newlines, quotes


def _header(path: Path) -> tuple[list[str], str] | None:
    with open(path, "rb") as fh:
        line = fh.readline()
    try:
        text = unicodedata.normalize("NFC", line.decode("utf-8").lstrip("\ufeff").rstrip("\r\n"))
    except UnicodeDecodeError:
        return None
    delim = sniff_delimiter(text)
    fields = next(csv.reader([text], delimiter=delim), [])
    if not fields or text.count('"') % 2:
        return None
    seen: dict[str, int] = {}
    names = []
    for f in fields:          # as pandas names a repeated header: 'x', 'x.1', …
        n = seen.get(f, 0)
        names.append(f if n == 0 else f"{f}.{n}")
        seen[f] = n + 1
    return names, delim


def lit(v) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _prints_as_itself(v: str, sql_type: str) -> str:
    """SQL: the text `v` read as `sql_type` prints back as itself — typed by a cast, with nothing a cast would
    change unsaid (a leading zero, a sign, a one-digit month)."""
    return f"CAST(try_cast({v} AS {sql_type}) AS VARCHAR) = {v}"


def _column_sql(c, now_ts: pd.Timestamp, spaces: bool, labels: dict | None = None,
                hidden: bool = True) -> tuple[str, str]:
    """(SQL of the typed value of the raw value v — NULL where SQL does not read it —, SQL that accepts the
    row's value, given v and its typed value t) for one column. labels: the allowed value each of the column's
    raw texts stands for (validate.enum_value), for a column with a list of values. spaces=False: the values
    hold no space other than ' ' and U+1680 (prescan looked for the rest in the file's bytes); hidden=False:
    nor does a code (a CSV file: a CR or a line break would have sent it the careful way).

    The common forms are read first by a round trip (the text is exactly what the typed value prints as),
    which is exact and several times cheaper than the regular expressions after it."""
    v, t = f'"{c.name}"', f'"{c.name}_t"'
    ok = []
    if c.type == "str":
        typed = f"upper({v})" if c.unit_code else v
        if c.values and labels:
            typed = f"CASE {v} {' '.join(f'WHEN {lit(k)} THEN {lit(x)}' for k, x in labels.items())} END"
        # without odd spaces in the file only ' ' and U+1680 (which prescan does not look for) can be one
        ok.append(f"regexp_matches({v}, '{EDGE_SPACE}')" if spaces else
                  f"starts_with({v}, ' ') OR ends_with({v}, ' ') OR contains({v}, chr(5760))")
        ok[-1] = f"NOT ({ok[-1]})"
        ok.append(f"length({v}) <= {MAX_TEXT}")
        if c.unit_code:
            ok.append(f"regexp_full_match({v}, '[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}') AND NOT contains({v}, '..')")
        elif is_code(c) and hidden:     # a code with a space other than ' ' is validate()'s to refuse (HIDDEN_SPACE)
            ok.append(f"NOT regexp_matches({v}, '{HIDDEN_SPACE_RE2}')")
        if c.pattern:
            ok.append("false")            # rare, small tables: validate() says it
        if c.values:
            ok.append(f"{t} IS NOT NULL" if labels else f"{v} IN ({', '.join(map(lit, c.values))})")
    elif c.type in ("ts", "date"):
        # (a failing try_strptime is slow — ten times a succeeding one —: the text's length picks the form; the
        # forms DuckDB prints a time or a day in are read by a cast both ways, a third cheaper than strptime's)
        plain = " ".join(f"WHEN length({v}) = {len(dt.datetime(2000, 1, 1).strftime(f))} AND "
                         + (f"{_prints_as_itself(v, CAST_FORMS[f])} "
                            f"THEN CAST(try_cast({v} AS {CAST_FORMS[f]}) AS TIMESTAMP)" if f in CAST_FORMS else
                            f"strftime(try_strptime({v}, {lit(f)}), {lit(f)}) = {v} THEN try_strptime({v}, {lit(f)})")
                         for f in PLAIN_TIMES)
        typed = (f"CASE {plain} "
                 f"WHEN regexp_full_match({v}, '{ISO}') THEN try_cast(replace({v}, 'T', ' ') AS TIMESTAMP) "
                 f"WHEN regexp_full_match({v}, '{DAY_FIRST}') THEN coalesce("
                 f"try_strptime({v}, '%d/%m/%Y %H:%M:%S'), try_strptime({v}, '%d/%m/%Y %H:%M'), "
                 f"try_strptime({v}, '%d/%m/%Y')) "
                 f"WHEN regexp_full_match({v}, '{COMPACT}') THEN try_strptime({v}, '%Y%m%d%H%M%S') END")
        if c.type == "date":
            typed = f"CAST({typed} AS DATE)"
        ok.append(f"{t} >= TIMESTAMP '{EARLIEST}'")
        if not c.future_ok:
            ok.append(f"{t} <= TIMESTAMP '{now_ts}'")
    elif c.type in ("int", "float"):
        sql_type = "BIGINT" if c.type == "int" else "DOUBLE"
        plain = r"-?\d{1,18}" if c.type == "int" else r"-?\d{1,15}(\.\d{1,15})?"
        typed = (f"CASE WHEN regexp_full_match({v}, '{plain}') AND NOT regexp_full_match({v}, '-?\\d{{1,3}}(\\.\\d{{3}})+') "
                 f"THEN try_cast({v} AS {sql_type}) END")
        whole = _prints_as_itself(v, "BIGINT")      # a plain whole number
        if c.type == "int":           # of up to 18 digits
            typed = f"CASE WHEN {whole} AND length({v}) <= 18 THEN try_cast({v} AS BIGINT) ELSE {typed} END"
        else:                         # of up to 15 characters, which the pattern would take as it is
            typed = (f"CASE WHEN length({v}) <= 15 AND {whole} THEN CAST(try_cast({v} AS BIGINT) AS DOUBLE) "
                     f"ELSE {typed} END")
        ok.append(f"{t} IS NOT NULL")
        if c.min_value is not None:
            ok.append(f"{t} >= {c.min_value}")
    elif c.type == "bool":
        typed = (f"CASE WHEN lower({v}) IN ({', '.join(map(lit, BOOL_TRUE))}) THEN true "
                 f"WHEN lower({v}) IN ({', '.join(map(lit, BOOL_FALSE))}) THEN false END")
        ok.append(f"{t} IS NOT NULL")
    else:
        raise ValueError(c.type)
    accept = " AND ".join(f"({x})" for x in ok)
    accept = f"({v} IS NULL OR ({accept}))" if not c.not_null else f"({v} IS NOT NULL AND {accept})"
    return f"CASE WHEN {v} IS NULL THEN NULL ELSE {typed} END", accept


def stage_csv(con, path: Path, now: dt.datetime | None, target: str):
    """Read one CSV into the temp table `target` (typed, with _file and _line). Returns (table, read, unknown
    headers, quarantine frame) — or None when the file must take the careful way."""
    scan = prescan(path)
    head = _header(path) if scan else None
    if head is None:
        return None
    names, delim = head
    table = recognise(Sheet(path, path.stem, pd.DataFrame(columns=names), []), TABLES)
    rename, unknown = plan_headers(path, names, table)
    raw = f"{target}_raw"
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names)))
    by_pos = {canon: f"c{names.index(h)}" for h, canon in rename.items()}
    norm = "nfc_normalize({})" if scan["nfd"] else "{}"
    select = ", ".join(norm.format(f"nullif({by_pos[c]}, '')") + f' AS "{c}"' if c in by_pos
                       else f'NULL::VARCHAR AS "{c}"' for c in table.names)
    try:
        run(con, f"""CREATE OR REPLACE TEMP TABLE {raw} AS SELECT {select} FROM read_csv({lit(path)},
            delim={lit(delim)}, quote='"', escape='"', header=false, skip=1, auto_detect=false,
            columns={{{cols}}}, null_padding=true, strict_mode=true)""")
    except Exception as exc:  # DuckDB refuses it (encoding, a broken quote, too many fields): the careful way
        if "Interrupt" in type(exc).__name__:        # but a Ctrl-C stops the load
            raise
        run(con, f"DROP TABLE IF EXISTS {raw}")
        return None
    read = run(con, f"SELECT count(*) FROM {raw}")[0][0]
    if read + 1 != scan["lines"]:         # a blank line or a quoted line break: line numbers would drift
        run(con, f"DROP TABLE {raw}")
        return None
    file = str(path)
    quarantine, keys = type_rows(con, raw, table, now, target, spaces=scan["spaces"], path=path)
    key = list(table.key)
    suspects = pd.concat(keys, ignore_index=True) if keys else None
    typed_key = ", ".join(f'"{k}"' for k in key)
    # a key's hash: a narrow table to group tens of millions of rows in bounded memory. Only rows whose key
    # hash repeats, or whose key a suspect row also holds, can be duplicates: the exact check below reads
    # those (two keys with one hash are told apart there).
    run(con, f"""CREATE OR REPLACE TEMP TABLE {raw}_rep AS SELECT hash({typed_key}) AS h FROM {target} WHERE _fast
                 GROUP BY 1 HAVING count(*) > 1""")
    repeated = count_rows(con, f"{raw}_rep")
    if repeated or (suspects is not None and len(suspects)):     # the exact check, over those rows' key text
        text_key = [f'CAST("{k}" AS VARCHAR)' for k in key]
        keyed = ", ".join(f'{t} AS "{k}"' for t, k in zip(text_key, key))
        near = f"hash({typed_key}) IN (SELECT h FROM {raw}_rep)"
        if suspects is not None and len(suspects):
            con.register("_sus_keys", suspects)
            sus_key = ", ".join(f'CAST("{k}" AS VARCHAR)' for k in key)
            near += f" OR hash({', '.join(text_key)}) IN (SELECT hash({sus_key}) FROM _sus_keys)"
        run(con, f"CREATE OR REPLACE TEMP TABLE {raw}_keys AS SELECT _line, {keyed}, false AS _bad FROM {target} "
                 f"WHERE _fast AND ({near})")
        if suspects is not None and len(suspects):
            run(con, f"INSERT INTO {raw}_keys BY NAME SELECT * FROM _sus_keys")
            con.unregister("_sus_keys")
        dups = _duplicates(con, raw, table, file)
    else:
        dups = pd.DataFrame()
    if len(dups):
        con.register("_dups", dups[["_line"]])
        run(con, f"DELETE FROM {target} WHERE _line IN (SELECT _line FROM _dups)")
        con.unregister("_dups")
        quarantine.append(dups.drop(columns="_line"))
    for t in (raw, f"{raw}_keys", f"{raw}_rep"):
        run(con, f"DROP TABLE IF EXISTS {t}")
    q = pd.concat(quarantine, ignore_index=True) if quarantine else pd.DataFrame(
        columns=["file", "line", "table_name", "column_name", "reason", "raw"])
    q = q.sort_values("line", kind="stable").reset_index(drop=True)
    return table, read, unknown, q


def _labels(con, raw: str, c) -> dict | None:
    """The allowed value each distinct text of a column with a list of values stands for (validate's own
    reading), so that labels such as 'Rất hài lòng' are typed by SQL; None when the column has no list or
    more distinct texts than a list of values has labels (validate() reads them)."""
    if c.type != "str" or not c.values:
        return None
    texts = [r[0] for r in run(con, f'SELECT DISTINCT "{c.name}" FROM {raw} WHERE "{c.name}" IS NOT NULL '
                                    f'LIMIT {MAX_LABELS + 1}')]
    if len(texts) > MAX_LABELS:
        return None
    return {k: x for k in texts if k.strip() and k == k.strip() and (x := enum_value(c.name, k, c.values)) is not None}


def type_rows(con, raw: str, table, now, target: str, *, spaces: bool, path: Path | None = None,
              merged: bool = False, hidden: bool | None = None) -> tuple[list, list]:
    """The raw text rows of `raw` (every column of the table) typed into `target`: what SQL accepts directly,
    the rest through validate() a batch at a time (its good rows appended, its refusals returned with the
    keys it saw). One CSV file (`path`): a row's line is its place in the file. Rows merged from many files
    (`merged`: raw carries _file, _line and _ord, the order they were read in): each keeps its file and line,
    and `target` keeps the order of _ord. hidden: whether a code may hold a space other than ' ' (default: the
    file has odd spaces, or the rows are merged — unless their files say none can, payloads.Payload.spaced)."""
    now_ts = pd.Timestamp(now or dt.datetime.now()) + pd.Timedelta(days=1)
    hidden = spaces or merged if hidden is None else hidden
    typed, accept = zip(*(_column_sql(c, now_ts, spaces, _labels(con, raw, c), hidden=hidden)
                          for c in table.columns))
    checks = [f'coalesce("{later}_t" < "{earlier}_t", false)' for later, earlier in table.checks]
    fast = " AND ".join(accept + tuple(f"NOT {x}" for x in checks))
    typed_cols = ", ".join(f'{t} AS "{c.name}_t"' for c, t in zip(table.columns, typed))
    source = "_file, _line, _ord" if merged else f"{lit(str(path))} AS _file, _line"
    inner = f"SELECT *, {typed_cols} FROM {raw}" if merged else f"SELECT rowid + 2 AS _line, *, {typed_cols} FROM {raw}"
    # the staged table itself, each row with whether SQL accepted it (_fast): the others go to validate()
    # and leave (the staged table's extra column is never written: the store's columns are named)
    run(con, f"""CREATE OR REPLACE TEMP TABLE {target} AS
                 SELECT {', '.join(f'"{c}_t" AS "{c}"' for c in table.names)}, {source},
                        coalesce(({fast}), false) AS _fast
                 FROM ({inner})""")
    quarantine, keys, added = _suspects(con, raw, table, path, now, target, merged)
    run(con, f"DELETE FROM {target} WHERE NOT _fast")       # validate()'s good rows came in with _fast NULL
    if merged and added:          # validate()'s good rows were appended: back in the order they were read
        run(con, f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT * FROM {target} ORDER BY _ord")
    return quarantine, keys


def count_rows(con, table: str) -> int:
    return run(con, f"SELECT count(*) FROM {table}")[0][0]


def objects(frame: pd.DataFrame) -> pd.DataFrame:
    """A fetched frame as readers give it: Python values, None for missing."""
    return frame.astype(object).where(frame.notna(), None)


def _suspects(con, raw: str, table, path: Path | None, now, target: str, merged: bool = False) -> tuple[list, list, int]:
    """The rows SQL did not accept, through validate() a batch at a time: good ones appended to `target`."""
    quarantine, keys, added = [], [], 0
    cols = ", ".join(f'r."{c}"' for c in table.names)
    if merged:
        run(con, f"""CREATE OR REPLACE TEMP TABLE {raw}_sus AS SELECT r._ord, r._file, r._line, {cols} FROM {raw} r
                     WHERE r._ord IN (SELECT _ord FROM {target} WHERE NOT _fast) ORDER BY r._ord""")
    else:
        run(con, f"""CREATE OR REPLACE TEMP TABLE {raw}_sus AS SELECT k._line, {cols} FROM {raw} r
                     JOIN {target} k ON k._line = r.rowid + 2 WHERE NOT k._fast ORDER BY k._line""")
    n = run(con, f"SELECT count(*) FROM {raw}_sus")[0][0]
    for start in range(0, n, BATCH):
        frame = objects(con.execute(f"SELECT * FROM {raw}_sus WHERE rowid >= {start} AND rowid < {start + BATCH}"
                                       " ORDER BY rowid").df())
        if merged:       # validate() numbers the rows by _ord; each row's own file and line are put back after
            sheet = Sheet(Path(frame._file.iloc[0]), table.name, frame.drop(columns=["_ord", "_file", "_line"]),
                          frame._ord.tolist(), files=frame._file.tolist())
            good, q, _ = validate(sheet, table, now=now, dedupe=False)
            line_of = dict(zip(frame._ord, frame._line))
            good = good.assign(_ord=good._line, _line=good._line.map(line_of))
            q = q.assign(line=q.line.map(line_of)) if len(q) else q
        else:
            sheet = Sheet(path, path.stem, frame.drop(columns="_line"), frame._line.tolist())
            good, q, _ = validate(sheet, table, now=now, dedupe=False, keys=keys)
        if len(q):
            quarantine.append(q)
        if len(good):
            con.register("_good_batch", good)
            run(con, f"INSERT INTO {target} BY NAME SELECT * FROM _good_batch")
            con.unregister("_good_batch")
            added += len(good)
    run(con, f"DROP TABLE {raw}_sus")
    return quarantine, keys, added


def _duplicates(con, raw: str, table, file: str) -> pd.DataFrame:
    """Rows whose key an earlier row of the file holds: quarantined with validate()'s two messages."""
    key = list(table.key)
    part = ", ".join(f'"{k}"' for k in key)
    content = " || chr(31) || ".join(f'coalesce(r."{c}", {lit("")})' for c in table.names)
    cols = ", ".join(f'r."{c}"' for c in table.names)
    run(con, f"""CREATE OR REPLACE TEMP TABLE {raw}_dup AS SELECT _line, _first FROM (
                 SELECT _line, _bad, {part}, first_value(_line) OVER w AS _first, row_number() OVER w AS _n
                 FROM {raw}_keys WINDOW w AS (PARTITION BY {part} ORDER BY _line))
                 WHERE _n > 1 AND NOT _bad AND {' AND '.join(f'"{x}" IS NOT NULL' for x in key)}""")
    rows = con.execute(f"""
        SELECT d._line, d._first, ({content}) = ({content.replace('r."', 'f."')}) AS _same, {cols}
        FROM {raw}_dup d JOIN {raw} r ON r.rowid + 2 = d._line JOIN {raw} f ON f.rowid + 2 = d._first
        ORDER BY d._line""").df()
    run(con, f"DROP TABLE {raw}_dup")
    if not len(rows):
        return pd.DataFrame()
    raws = objects(rows[table.names])
    reason = [f"trùng lặp giống hệt dòng {f} (bản ghi đã được nạp một lần)" if same else
              f"mã trùng với dòng {f} nhưng nội dung khác — giữ dòng {f}, hãy kiểm tra bản ghi nào đúng"
              for f, same in zip(rows._first, rows._same)]
    return pd.DataFrame({"file": file, "line": rows._line.to_numpy(), "table_name": table.name,
                         "column_name": key[0], "reason": reason,
                         "raw": [json.dumps(r, ensure_ascii=False, default=str)[:500]
                                 for r in raws.to_dict("records")], "_line": rows._line.to_numpy()})
