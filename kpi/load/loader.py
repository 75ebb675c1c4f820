"""`kpi load`: read every file, validate, check references, then write all in one transaction.

Nothing is written until every file has been read; a file that cannot be read at all stops
the load with the store unchanged. A file already loaded (same SHA-256) is skipped. Within
one load a repeated key is quarantined; a later load that brings a key again replaces the
row (exports repeat open dossiers with their new status).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kpi.schema import LOAD_ORDER, SELF_ASSESSMENT_TOTAL, TABLES, fold
from kpi.store import (SQL_TYPES, apply_calendar, calendar_changes, drop_quietly, record_calendar, run,
                       stamp_loaded, written_outside_loads)
from kpi.count import facts
from kpi.count.scoring import TOTAL_MAX, load_profile
from kpi.load.errors import LoadError
from kpi.load import portal_json as portal
from kpi.load import fastcsv, sync
from kpi.load import payloads as pl
from kpi.load.fastcsv import objects
from kpi.load.readers import SUPPORTED, Sheet, read_file, read_json_records
from kpi.load.validate import recognise, validate


@dataclass
class FileResult:
    file: str
    table: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    skipped: bool = False
    updated: int = 0          # rows that replaced a row already in the store
    superseded: int = 0       # rows not written: another file of this load, or the store, holds a later record
    unknown_columns: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    fill_only: bool = False   # a catalogue: adds keys, never replaces
    sync: bool = False        # from the national sync payloads
    parts: list = field(default_factory=list)   # the files of a sheet merged from many payload files
    sha256: str = ""


@dataclass
class LoadReport:
    files: list = field(default_factory=list)
    ignored: list = field(default_factory=list)    # files of a folder in a format we do not read
    sync_unmatched: list = field(default_factory=list)   # step holders of sync payloads not among officials
    calendar_changed: list = field(default_factory=list)  # days whose working status the load applied anew

    @property
    def read(self):
        return sum(f.read for f in self.files)

    @property
    def loaded(self):
        return sum(f.loaded for f in self.files)

    @property
    def quarantined(self):
        return sum(f.quarantined for f in self.files)

    @property
    def superseded(self):
        return sum(f.superseded for f in self.files)

    @property
    def updated(self):
        return sum(f.updated for f in self.files)


def expand(paths, ignored: list | None = None) -> list[Path]:
    """The files to read; files of a folder in a format we do not read are added to `ignored`."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not f.is_file() or any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                if f.suffix.lower() in SUPPORTED:
                    out.append(f)
                elif ignored is not None:
                    ignored.append(str(f))
        elif p.is_file():
            out.append(p)
        else:
            raise LoadError(f"{p}: không tìm thấy tệp hoặc thư mục — kiểm tra lại đường dẫn.")
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Staging:
    """The rows of one load before they are written: one temporary table per staged sheet, so the checks
    below run in SQL whatever the size, and the store is untouched until the one write transaction."""

    def __init__(self, con):
        self.con, self.names = con, []

    def new(self) -> str:
        name = f"_stage_{len(self.names)}"
        self.names.append(name)
        return name

    def from_frame(self, table, good: pd.DataFrame) -> str:
        """A validated frame → a temporary table typed as the store's."""
        name = self.new()
        cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.type]}' for c in table.columns)
        run(self.con, f'CREATE OR REPLACE TEMP TABLE {name} ({cols}, _file VARCHAR, _line BIGINT)')
        if len(good):
            self.con.register("_frame", good[table.names + ["_file", "_line"]])
            run(self.con, f"INSERT INTO {name} BY NAME SELECT * FROM _frame")
            self.con.unregister("_frame")
        return name

    def drop(self) -> None:
        for name in self.names:
            run(self.con, f"DROP TABLE IF EXISTS {name}")


def count(con, name: str, where: str = "") -> int:
    return run(con, f"SELECT count(*) FROM {name} {where}")[0][0]


REWRITE_FROM = 1_000_000       # a staged table of this many rows is written again rather than changed in place


def large(con, name: str) -> bool:
    """Whether a staged table is changed by writing it again: DuckDB keeps 16 KB of version information per
    2 048 rows a DELETE or an UPDATE touches, in memory, for as long as a temporary table lives — the records a
    few resent payloads supersede, spread over 63 million staged events (10M dossiers), held the load's whole
    1 GB and every later statement ran out of memory."""
    return count(con, name) >= REWRITE_FROM


def write_again(con, name: str, select: str) -> None:
    """Replace the staged table `name` by `select` (SQL reading it), its rows in the order they come."""
    order = run(con, "SELECT current_setting('preserve_insertion_order')")[0][0]
    run(con, "SET preserve_insertion_order = true")
    try:
        run(con, f"CREATE OR REPLACE TEMP TABLE _rewritten AS {select}")
    finally:
        run(con, f"SET preserve_insertion_order = {order}")
    run(con, f"DROP TABLE {name}")
    run(con, f"ALTER TABLE _rewritten RENAME TO {name}")


def delete_rows(con, name: str, rowids) -> None:
    """Delete rows of a staged table by rowid (a large one: written again without them)."""
    if not len(rowids):
        return
    con.register("_rowids", pd.DataFrame({"r": pd.array(list(rowids), dtype="Int64")}))
    try:
        if large(con, name):
            write_again(con, name, f"SELECT * FROM {name} WHERE rowid NOT IN (SELECT r FROM _rowids)")
        else:
            run(con, f"DELETE FROM {name} WHERE rowid IN (SELECT r FROM _rowids)")
    finally:
        con.unregister("_rowids")


def _known(table: str, column: str, staged_names: list) -> str:
    parts = [f'SELECT "{column}" AS k FROM "{table}"'] + [f'SELECT "{column}" FROM {n}' for n in staged_names]
    return f"SELECT k FROM ({' UNION ALL '.join(parts)}) WHERE k IS NOT NULL"


def check_references(con, table, good: str, batch: dict) -> pd.DataFrame | None:
    """Rows pointing at unknown units/procedures/dossiers go to quarantine (the first such column of the
    row names the reason): known are the store's keys and those of the sheets of this load checked before."""
    if not table.references:
        return None
    whens = []
    for col, (ref_table, ref_col) in table.references.items():
        names = list(batch.get(ref_table, [])) + ([good] if ref_table == table.name else [])
        whens.append(f"""WHEN "{col}" IS NOT NULL AND "{col}" NOT IN ({_known(ref_table, ref_col, names)})
                         THEN '{col}'""")
    bad = con.execute(f"""SELECT * FROM (SELECT rowid AS _rid, _file, _line, CASE {' '.join(whens)} END AS _col,
                          {', '.join(f'"{c}"' for c in table.references)} FROM {good}) WHERE _col IS NOT NULL
                          ORDER BY _rid""").df()
    if not len(bad):
        return None
    delete_rows(con, good, bad._rid)
    value = [str(r[c]) for r, c in zip(bad.to_dict("records"), bad._col)]
    return pd.DataFrame({
        "file": bad._file, "line": bad._line, "table_name": table.name, "column_name": bad._col,
        "reason": [f"mã '{v}' ở cột {c} không có trong bảng {table.references[c][0]} — "
                   f"nạp {table.references[c][0]} trước hoặc sửa mã" for v, c in zip(value, bad._col)],
        "raw": value})


def item_maxima() -> dict:
    """The most points each self-assessment item can have: the total 100, a group or a metric its maximum in
    the default profile (an item the profile does not know: the total)."""
    prof = load_profile()
    out = {SELF_ASSESSMENT_TOTAL: float(TOTAL_MAX)}
    out.update({g: float(s["max"]) for g, s in prof["groups"].items()})
    out.update({m: float(s.get("max", 0)) for m, s in prof["metrics"].items() if "group" in s})
    return out


def check_points(con, table, good: str) -> pd.DataFrame | None:
    """Self-assessed points above the item's maximum (99999 for a group of 20) are quarantined: one unit's
    slip never reaches the province's report."""
    if table.name != "self_assessments":
        return None
    maxima = pd.DataFrame(list(item_maxima().items()), columns=["item_code", "max_points"])
    con.register("_item_max", maxima)
    try:
        bad = con.execute(f"""SELECT * FROM (
                                  SELECT g.rowid AS _rid, g._file, g._line, g.item_code, g.points,
                                         coalesce(m.max_points, {maxima.max_points.max()}) AS max_points
                                  FROM {good} g LEFT JOIN _item_max m USING (item_code))
                              WHERE points > max_points + 1e-9 ORDER BY _rid""").df()
    finally:
        con.unregister("_item_max")
    if not len(bad):
        return None
    delete_rows(con, good, bad._rid)
    return pd.DataFrame({
        "file": bad._file, "line": bad._line, "table_name": table.name, "column_name": "points",
        "reason": [f"điểm tự đánh giá {p:g} của {i} vượt điểm tối đa {mx:g} — sửa điểm trong tệp của đơn vị"
                   for p, i, mx in zip(bad.points, bad.item_code, bad.max_points)],
        "raw": [f"{i}: {p:g}" for i, p in zip(bad.item_code, bad.points)]})


def staged_units(con, batch: dict) -> pd.DataFrame:
    parts = [f"SELECT unit_code, unit_name, parent_code, level FROM {n}" for n in batch.get("units", [])]
    if not parts:
        return pd.DataFrame(columns=["unit_code", "unit_name", "parent_code", "level"])
    return objects(con.execute(" UNION ALL ".join(parts)).df())


def check_unit_tree(con, good: str, batch: dict) -> tuple[pd.DataFrame | None, list[str]]:
    """The unit tree has one root, the province: a second province root and units on a cycle of parents
    are quarantined; other units without a parent (orphans, left out of the province's total) are kept
    and named in the load summary."""
    known = {c: (p, lv) for c, p, lv in run(con, "SELECT unit_code, parent_code, level FROM units")}
    before = staged_units(con, batch)
    known.update(zip(before.unit_code, zip(before.parent_code, before.level)))
    frame = objects(con.execute(f"SELECT rowid AS _rid, unit_code, parent_code, level, _file, _line FROM {good} "
                                 "ORDER BY rowid").df())
    roots = [c for c, (p, lv) in known.items() if lv == "province" and not isinstance(p, str)]
    tree = dict(known)
    tree.update({c: (p if isinstance(p, str) else None, lv) for c, p, lv in zip(frame.unit_code, frame.parent_code, frame.level)})
    reasons = {}
    for c, p, lv in zip(frame.unit_code, frame.parent_code, frame.level):
        if lv == "province" and not isinstance(p, str):
            if roots and c not in roots:
                reasons[c] = (f"tỉnh thứ hai trong cây đơn vị (đã có {roots[0]}) — mỗi kho một tỉnh; "
                              "nạp tỉnh khác vào kho khác (--store)")
            elif not roots:
                roots.append(c)
            continue
        seen, cur = [c], tree.get(c, (None, None))[0]
        while cur is not None and cur not in seen and len(seen) < 50:
            seen.append(cur)
            cur = tree.get(cur, (None, None))[0]
        if cur is not None and cur in seen:
            loop = seen[seen.index(cur):] + [cur]
            reasons[c] = f"vòng lặp trong cây đơn vị: {' → '.join(loop)} — sửa mã đơn vị cha"
    bad = frame.unit_code.isin(reasons)
    quarantine = None
    if bad.any():
        quarantine = pd.DataFrame({"file": frame.loc[bad, "_file"], "line": frame.loc[bad, "_line"],
                                   "table_name": "units", "column_name": "parent_code",
                                   "reason": frame.loc[bad, "unit_code"].map(reasons),
                                   "raw": frame.loc[bad, "unit_code"].astype(str)}).reset_index(drop=True)
        delete_rows(con, good, frame.loc[bad, "_rid"])
    kept = frame[~bad]
    orphans = sorted(c for c, p, lv in zip(kept.unit_code, kept.parent_code, kept.level)
                     if lv != "province" and not isinstance(p, str))
    notes = [f"{len(orphans)} đơn vị không có đơn vị cha, không được tính vào tổng của tỉnh: "
             + ", ".join(orphans[:10]) + (" …" if len(orphans) > 10 else "")] if orphans else []
    return quarantine, notes


FAST = True                    # plain CSV files through DuckDB (fastcsv.py); False: every file the careful way
MEMORY_LIMIT = "1GB"           # DuckDB's own memory during a load (the process stays near 2 GB at 10M)

# whether the last load's transaction was committed: what a Ctrl-C message may truthfully say
PROGRESS = {"committed": False}

STATUS_RANK = {"received": 0, "processing": 1, "supplement": 2, "finished": 3, "returned": 4, "rejected": 4,
               "stopped": 4, "withdrawn": 4}
PROGRESS_COLUMNS = ["received_at", "finished_at", "returned_at", "synced_at"]


def rank_sql(alias: str) -> tuple[str, str]:
    """How far a dossier record has got: its latest timestamp, and its status's rank."""
    latest = ", ".join(f"{alias}.{c}" for c in PROGRESS_COLUMNS)
    rank = " ".join(f"WHEN '{k}' THEN {v}" for k, v in STATUS_RANK.items())
    return f"greatest({latest})", f"CASE {alias}.status {rank} ELSE 0 END"


def progress_sql(alias: str) -> str:
    """How far a dossier record has got, as a comparable row: its latest timestamp, then its status."""
    return "({}, {})".format(*rank_sql(alias))


OLDER = f"t.dossier_code IS NOT NULL AND {progress_sql('g')} < {progress_sql('t')}"   # record g stays unwritten


SHARE_ROWS = 8_000_000     # staged rows grouped at a time (a share of their hashes): within the load's memory cap


def grouped(con, target: str, tables: list[str], value: str, having: str = "", column: str = "dossier_code") -> None:
    """The temporary table `target` (one column, `column`): each value of `value` (SQL over a row `g` of the
    staged `tables` — tables, or parenthesised queries: `_keep_facts` adds `facts.reached`'s) once, as `having`
    keeps them, grouped a share of the values' hashes at a time (one share
    up to SHARE_ROWS rows): the 73 million codes of a 10M province's staged payloads in one grouping ran the
    load's 1 GB out."""
    source = " UNION ALL ".join(f"SELECT {value} AS {column} FROM {t} g" for t in tables)
    parts = max(1, -(-sum(count(con, t) for t in tables) // SHARE_ROWS))
    run(con, f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {column} FROM ({source}) WHERE false")
    for k in range(parts):
        share = f"WHERE hash({column}) % {parts} = {k}" if parts > 1 else ""
        run(con, f"INSERT INTO {target} SELECT {column} FROM ({source}) {share} GROUP BY {column} {having}")


def keep_latest(con, staged: list, indices: list | None = None) -> None:
    """A key brought by several records keeps the one most advanced in time (for dossiers: latest status
    or event timestamp, then status; then the file's capture time — `@…` in its name, else its
    modification time; then the later sheet, the later row). The others are counted as superseded, not
    written. For dossiers, the one kept takes the earliest synced_at of them all: the dossier reached the
    portal when its first record did. indices: the staged sheets to compare (default: every table brought
    by two or more)."""
    by_table: dict[str, list[int]] = {}
    for i, (table, *_rest) in enumerate(staged):
        if table is not None and (indices is None or i in indices):
            by_table.setdefault(table.name, []).append(i)
    for name, idx in by_table.items():
        if len(idx) < 2 and indices is None:
            continue
        table = staged[idx[0]][0]
        key = ", ".join(f'"{k}"' for k in table.key)
        files = sorted({f for i in idx for (f,) in run(con, f"SELECT DISTINCT _file FROM {staged[i][2]}")})
        con.register("_captured", pd.DataFrame({"_file": files,
                                                "_captured": [portal.captured_of(Path(f)) for f in files]}))
        latest, rank = rank_sql("g") if name == "dossiers" else ("0", "0")
        latest = f"coalesce({latest}, TIMESTAMP '0001-01-01')" if name == "dossiers" else latest
        keys = ", ".join(f'g."{k}"' for k in table.key)
        union = " UNION ALL ".join(f"SELECT {i} AS _src, g.rowid AS _rid, {keys}, "
                                   f"{latest} AS _latest, {rank} AS _rank, c._captured"
                                   + (", g.synced_at" if name == "dossiers" else "")
                                   + f" FROM {staged[i][2]} g JOIN _captured c USING (_file)" for i in idx)
        # only keys that come more than once need ranking: found by a hash of the key first (a narrow
        # grouping, far cheaper than windows over every row; two keys of one hash are told apart by the window)
        grouped(con, "_repeated", [staged[i][2] for i in idx], f"hash({keys})", "HAVING count(*) > 1", column="h")
        run(con, f"""CREATE OR REPLACE TEMP TABLE _ranked AS SELECT *, row_number() OVER (PARTITION BY {key}
                     ORDER BY _latest DESC, _rank DESC, _captured DESC NULLS LAST, _src DESC, _rid DESC) AS _n,
                     count(*) OVER (PARTITION BY {key}) AS _records
                     FROM ({union}) WHERE hash({key}) IN (SELECT h FROM _repeated)""")
        run(con, "DROP TABLE _repeated")
        con.unregister("_captured")
        for i in idx:
            table_, res, good, quarantine, digest = staged[i]
            losers = [r for (r,) in run(con, f"SELECT _rid FROM _ranked WHERE _src = {i} AND _n > 1")]
            if losers:
                delete_rows(con, good, losers)
                res.superseded += len(losers)
                res.loaded = count(con, good)
        if name == "dossiers":        # (the records kept, once the others are left out: by dossier code)
            first = "SELECT dossier_code, min(synced_at) AS first FROM _ranked WHERE _records > 1 GROUP BY 1"
            for i in idx:
                g = staged[i][2]
                if large(con, g):
                    write_again(con, g, f"""SELECT g.* REPLACE (CASE WHEN f.dossier_code IS NULL THEN g.synced_at
                                                                    ELSE f.first END AS synced_at)
                                            FROM {g} g LEFT JOIN ({first}) f USING (dossier_code)""")
                else:
                    run(con, f"""UPDATE {g} g SET synced_at = f.first FROM ({first}) f
                                 WHERE g.dossier_code = f.dossier_code AND g.synced_at IS DISTINCT FROM f.first""")
        run(con, "DROP TABLE _ranked")


class SyncParts:
    """The sheets read from sync payload files, a table at a time: each file's rows go into one temporary
    table of text as soon as the file is read (memory holds one file, whatever the number of files), and are
    validated together at the end, a batch at a time (_stage_merged)."""

    def __init__(self, con, staging: Staging):
        self.con, self.staging = con, staging
        self.tables: dict[str, str] = {}            # sheet name → raw table
        self.parts: dict[str, list] = {}             # sheet name → [(sheet without its frame, file hash, rows)]
        self.rows: dict[str, int] = {}              # sheet name → rows so far (each row's _ord)
        self.spaced = True          # a code may hold a space other than ' ' (False: no payload file read can)

    def add(self, sheet: Sheet, digest: str) -> None:
        frame = sheet.frame
        name = self.tables.get(sheet.name)
        if name is None:
            name = self.tables[sheet.name] = self.staging.new()
            cols = ", ".join(f'"{c}" VARCHAR' for c in frame.columns)
            run(self.con, f"CREATE OR REPLACE TEMP TABLE {name} ({cols}, _file VARCHAR, _line BIGINT, _ord BIGINT)")
        if len(frame):
            done = self.rows.get(sheet.name, 0)
            part = frame.assign(_file=str(sheet.file), _line=list(sheet.lines)[:len(frame)],
                                _ord=range(done, done + len(frame)))
            self.con.register("_sync_part", part)
            cols = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in frame.columns)
            run(self.con, f"INSERT INTO {name} BY NAME SELECT {cols}, _file, _line, _ord FROM _sync_part")
            self.con.unregister("_sync_part")
            self.rows[sheet.name] = done + len(frame)
        self.part(sheet.file, sheet.name, list(frame.columns), digest, len(frame), sheet.quarantine, sheet.fill_only,
                  sheet.notes)

    def part(self, file, name: str, columns: list, digest: str, n: int, quarantine=None, fill_only=False,
             notes=None) -> None:
        """One file's share of a table: its name, hash, rows, the rows its reader refused and its notes."""
        self.parts.setdefault(name, []).append(
            (Sheet(file, name, pd.DataFrame(columns=columns, dtype=object), [],   # not a view: a slice
                   quarantine, fill_only, notes), digest, n))                    # would keep the file alive

    def add_rows(self, name: str, columns: list, rows: str) -> None:
        """The rows of the temporary table `rows` (columns, _file, _line, in order), appended to the table's."""
        raw = self.tables.get(name)
        if raw is None:
            raw = self.tables[name] = self.staging.new()
            cols = ", ".join(f'"{c}" VARCHAR' for c in columns)
            run(self.con, f"CREATE OR REPLACE TEMP TABLE {raw} ({cols}, _file VARCHAR, _line BIGINT, _ord BIGINT)")
        done = self.rows.get(name, 0)
        run(self.con, f"INSERT INTO {raw} BY NAME SELECT *, {done} + rowid AS _ord FROM {rows}")
        self.rows[name] = done + count(self.con, rows)

    def read_payloads(self, payloads: list) -> None:
        """The national sync payload files, read by DuckDB a batch at a time (payloads.py): their dossier and
        step rows appended to the tables' rows, each file's counts, refusals and notes kept as its parts."""
        for i, p in enumerate(payloads):
            p.fid = i
        self.spaced = any(p.spaced for p in payloads)
        columns = {"dossiers": sync.DOSSIER_COLUMNS, "dossier_events": sync.EVENT_COLUMNS}
        counts = pl.Reader(self.con, lambda name, rows: self.add_rows(name, columns[name], rows)).read(payloads)
        for p in payloads:
            c = counts[p.fid]
            if not (c.dossiers or c.steps or c.catalogue):
                raise LoadError(f"{p.path}: không có bản ghi DongBoHoSoMC, CapNhatTienDoHoSoMC hay LayThuTuc nào — "
                                "kiểm tra lại tệp (tên tệp hoặc trường 'service' cho biết loại dữ liệu).")
            refused = {t: [r for r in (c.refused or []) if r[1] == t] for t in ("dossiers", "dossier_events")}
            notes = [f"{c.unknown} bản ghi không rõ loại (không có MaHoSo/MATTHC) — bỏ qua"] if c.unknown else []
            if c.dossiers:
                paid = [f"{c.other_paid} hồ sơ có DuocThanhToanTrucTuyen khác 0/1/2 — tính là cổng thanh toán của tỉnh "
                        "(2)"] if c.other_paid else []
                self.part(p.path, "dossiers", sync.DOSSIER_COLUMNS, p.digest, c.kept,
                          sync._quarantine_rows(p.path, refused["dossiers"]), notes=paid + notes)
                notes = []
                if c.events:
                    self.part(p.path, "dossier_events", sync.EVENT_COLUMNS, p.digest, c.events)
            if c.steps:
                self.part(p.path, "dossier_events", sync.EVENT_COLUMNS, p.digest, c.steps_kept,
                          sync._quarantine_rows(p.path, refused["dossier_events"]), notes=notes or None)
                notes = []
            if c.catalogue:
                sheet = sync._catalogue_sheet(p.path, c.catalogue)
                if notes:
                    sheet.notes = notes
                self.add(sheet, p.digest)


def _stage_merged(con, staging: Staging, sync_parts: SyncParts, name: str, match, now) -> tuple:
    """The sheets of one table from many payload files, typed as one in SQL (fastcsv.type_rows: what SQL does
    not accept goes through validate() a batch at a time); every row keeps its file and line, and each file
    its own counts."""
    parts, raw = sync_parts.parts[name], sync_parts.tables[name]
    pre, results = [], []
    for sheet, digest, n in parts:
        refused = sheet.quarantine if sheet.quarantine is not None else pd.DataFrame()
        if len(refused):
            pre.append(refused)
        results.append(FileResult(str(sheet.file), name, read=n + len(refused), notes=list(sheet.notes or []),
                                  sync=True, fill_only=sheet.fill_only, sha256=digest))
    first = parts[0][0]
    present = [c for c, in run(con, f"SELECT column_name FROM duckdb_columns() WHERE table_name = '{raw}'")]
    if "unit_name" in present:
        _resolve_units(con, raw, match)
    table = recognise(Sheet(Path(first.file), name, pd.DataFrame(columns=[c for c in first.frame.columns
                                                                          if c != "unit_name"]), []), TABLES)
    for c in table.names:             # a column no payload carries: empty
        if c not in present:
            run(con, f'ALTER TABLE {raw} ADD COLUMN "{c}" VARCHAR')
    good_name = staging.new()
    q, _ = fastcsv.type_rows(con, raw, table, now, good_name, spaces=False, merged=True, hidden=sync_parts.spaced)
    run(con, f"DROP TABLE {raw}")
    quarantine = pd.concat(q + [r.assign(table_name=table.name) for r in pre], ignore_index=True) \
        if q or pre else pd.DataFrame(columns=["file", "line", "table_name", "column_name", "reason", "raw"])
    res = FileResult(f"{len(parts)} tệp đồng bộ", table.name, read=sum(r.read for r in results),
                     sync=True, fill_only=first.fill_only, parts=results)
    entry = [(table, res, good_name, quarantine, "")]
    keep_latest(con, entry, [0])
    return entry[0]


def _resolve_units(con, raw: str, match) -> None:
    """A record without a unit code names its agency (DonViXuLy): matched like the portal's unit names; a
    name that matches nothing stays as written, so the reference check quarantines it, naming it."""
    names = [n for n, in run(con, f"SELECT DISTINCT unit_name FROM {raw} WHERE unit_code IS NULL "
                                  "AND unit_name IS NOT NULL")]
    if names:
        con.register("_unit_names", pd.DataFrame({"unit_name": names,
                                                  "code": [match(n) or n for n in names]}, dtype=object))
        run(con, f"""UPDATE {raw} r SET unit_code = m.code FROM _unit_names m
                     WHERE r.unit_code IS NULL AND r.unit_name = m.unit_name""")
        con.unregister("_unit_names")
    run(con, f"ALTER TABLE {raw} DROP COLUMN unit_name")


def settle_parts(con, staged: list) -> None:
    """Each payload file's own counts, from the rows of the merged sheet that came from it."""
    for table, res, good, quarantine, digest in staged:
        if table is None or not res.parts:
            continue
        loaded = dict(run(con, f"SELECT _file, count(*) FROM {good} GROUP BY _file"))
        q = quarantine.groupby("file") if len(quarantine) else None
        for part in res.parts:
            part.loaded = int(loaded.get(part.file, 0))
            rows = q.get_group(part.file) if q is not None and part.file in q.groups else pd.DataFrame()
            part.quarantined = len(rows)
            part.reasons = rows["reason"].str.replace(r"'[^']*'", "'…'", regex=True).value_counts().to_dict() \
                if len(rows) else {}
            part.superseded = part.read - part.loaded - part.quarantined


def _stage(staging: Staging, sheet, digest: str, now, is_sync: bool) -> tuple:
    """Validate one sheet the careful way: (table, its FileResult, staged table, quarantine rows, file hash)."""
    table = recognise(sheet, TABLES)
    good, quarantine, unknown = validate(sheet, table, now=now)
    if sheet.quarantine is not None and len(sheet.quarantine):
        quarantine = pd.concat([quarantine, sheet.quarantine.assign(table_name=table.name)], ignore_index=True)
    res = FileResult(str(sheet.file), table.name, read=len(sheet.frame) + (0 if sheet.quarantine is None
                                                                             else len(sheet.quarantine)),
                     unknown_columns=unknown, notes=list(sheet.notes or []), fill_only=sheet.fill_only, sync=is_sync)
    return table, res, staging.from_frame(table, good), quarantine, digest


def _stage_fast(con, staging: Staging, path: Path, digest: str, now) -> tuple | None:
    """A plain CSV through DuckDB (fastcsv.py); None when it must take the careful way."""
    if not FAST or path.suffix.lower() not in (".csv", ".txt"):
        return None
    name = staging.new()
    got = fastcsv.stage_csv(con, path, now, name)
    if got is None:
        return None
    table, read, unknown, quarantine = got
    res = FileResult(str(path), table.name, read=read, unknown_columns=unknown)
    return table, res, name, quarantine, digest


def load_paths(con, paths, progress: bool = True, now: dt.datetime | None = None) -> LoadReport:
    PROGRESS["committed"] = False
    report = LoadReport()
    files = expand(paths, report.ignored)
    if not files:
        raise LoadError(f"{', '.join(map(str, paths))}: không có tệp CSV, XLSX, Parquet hay JSON nào để nạp"
                        + (f" ({len(report.ignored)} tệp định dạng khác, vd. {Path(report.ignored[0]).name})"
                           if report.ignored else "") + " — xuất dữ liệu dạng CSV UTF-8 hoặc XLSX.")
    staging = Staging(con)
    limit, order, bar = run(con, "SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order'), "
                                 "current_setting('enable_progress_bar')")[0]
    run(con, f"SET memory_limit = '{MEMORY_LIMIT}'")     # DuckDB spills to disk beyond it: memory stays bounded
    run(con, "SET enable_progress_bar = false")          # ours (tqdm) says what is being done
    # a store written since the last load by anything else: nothing kept about it can be trusted
    outside = written_outside_loads(con) is not None
    try:
        _load(con, staging, files, report, progress, now, outside)
        stamp_loaded(con)
    finally:
        staging.drop()
        run(con, f"SET memory_limit = '{limit}'")
        run(con, f"SET preserve_insertion_order = {order}")
        run(con, f"SET enable_progress_bar = {bar}")
    return report


def _load(con, staging: Staging, files: list, report: LoadReport, progress: bool, now, outside: bool) -> None:
    from tqdm.auto import tqdm
    loaded_hashes = {r[0] for r in run(con, "SELECT sha256 FROM loaded_files")}
    staged = []   # (table, FileResult, staged table, quarantine frame, hash)
    sync_parts = SyncParts(con, staging)   # the sync payload files' rows, a table at a time
    portal_staged = []   # (FileResult, published rows, hash)
    payloads = []        # the sync payload files: (path, digest, kind) — payloads.py looks at them, then reads them
    bar = tqdm(files, desc="Đọc tệp", unit="tệp", disable=None if progress else True)
    for path in bar:
        bar.set_postfix_str(path.name)
        digest = sha256(path)
        if digest in loaded_hashes:
            report.files.append(FileResult(str(path), "-", skipped=True))
            continue
        loaded_hashes.add(digest)
        is_sync = sync.kind_of_name(path) is not None or path.name.lower().endswith(sync.SUFFIXES[1:])
        if path.suffix.lower() == ".json" and not is_sync:
            payload = portal.read_payload(path)
            if isinstance(payload, dict) and "code" in payload:
                frame = portal.parse_file(path, payload)
                portal_staged.append((FileResult(str(path), "published_scores", read=len(frame), loaded=len(frame)),
                                      frame, digest))
                continue
            if sync.looks_like_sync(payload):
                payloads.append((path, digest, None))
                continue
            sheets = read_json_records(path, payload)
        elif is_sync:
            payloads.append((path, digest, sync.kind_of_name(path)))
            continue
        else:
            fast = _stage_fast(con, staging, path, digest, now)
            if fast is not None:
                staged.append(fast)
                continue
            sheets = read_file(path)
        for sheet in sheets:
            staged.append(_stage(staging, sheet, digest, now, is_sync))
    if payloads:        # merged per table once every file is read (units named, not coded, need them)
        sync_parts.read_payloads(pl.look_all(payloads, progress))
    if sync_parts.parts:
        match = name_matcher(known_units(con, {"units": [g for t, _, g, *_ in staged if t.name == "units"]}))
        for name in sync_parts.parts:
            staged.append(_stage_merged(con, staging, sync_parts, name, match, now))
    staged.sort(key=lambda s: LOAD_ORDER.index(s[0].name))
    drop_known(con, staged)
    batch: dict[str, list] = {}
    for i, (table, res, good, quarantine, digest) in enumerate(staged):
        ref_bad = check_references(con, table, good, batch)
        if ref_bad is not None:
            quarantine = pd.concat([quarantine, ref_bad], ignore_index=True)
        points_bad = check_points(con, table, good)
        if points_bad is not None:
            quarantine = pd.concat([quarantine, points_bad], ignore_index=True)
        if table.name == "units":
            tree_bad, notes = check_unit_tree(con, good, batch)
            res.notes += notes
            if tree_bad is not None:
                quarantine = pd.concat([quarantine, tree_bad], ignore_index=True)
        batch.setdefault(table.name, []).append(good)
        res.loaded, res.quarantined = count(con, good), len(quarantine)
        res.reasons = quarantine["reason"].str.replace(r"'[^']*'", "'…'", regex=True).value_counts().to_dict() \
            if len(quarantine) else {}
        staged[i] = (table, res, good, quarantine, digest)
    keep_latest(con, staged)
    for res, frame, digest in portal_staged:
        matched = match_units(con, frame, batch)
        unmatched = sorted(set(matched[~matched.matched].unit_name.dropna()))
        if unmatched:
            res.notes.append(f"{len(unmatched)} đơn vị không khớp với cây đơn vị (giữ lại, chưa gắn mã): "
                             + "; ".join(unmatched[:5]) + (" …" if len(unmatched) > 5 else ""))
        staged.append((None, res, matched.assign(sha256=digest), None, digest))
    settle_parts(con, staged)
    _write(con, staged, progress, report, outside)
    for s in staged:
        report.files += s[1].parts or [s[1]]


def known_units(con, batch: dict | None = None) -> list[tuple[str, str]]:
    units = run(con, "SELECT unit_code, unit_name FROM units")
    staged = staged_units(con, batch or {})
    return units + list(zip(staged.unit_code, staged.unit_name))


def name_matcher(units):
    """A unit's name → its code: with diacritics first ('Long Hoa' and 'Long Hòa' are two places), then
    without them when that is unambiguous; 'UBND ' and a trailing '- Tỉnh X' are ignored."""
    units = list(units.items()) if isinstance(units, dict) else list(units)

    def strip(name) -> str:
        n = str(name).split(" - ")[0].strip().casefold()
        return n[5:] if n.startswith("ubnd ") else n

    exact, folded = {}, {}
    for c, n in units:
        exact.setdefault(strip(n), c)
        folded.setdefault(fold(strip(n)), set()).add(c)

    def by_name(n):
        if not isinstance(n, str):
            return None
        if strip(n) in exact:
            return exact[strip(n)]
        hits = folded.get(fold(strip(n)), set())
        return next(iter(hits)) if len(hits) == 1 else None
    return by_name


def match_units(con, frame: pd.DataFrame, batch: dict) -> pd.DataFrame:
    """Published units → our unit codes: by code, else by name."""
    units = known_units(con, batch)
    codes = {c for c, _ in units}
    out = frame.copy()
    code = out.department_code.where(out.department_code.isin(codes))
    out["unit_code"] = code.fillna(out.unit_name.map(name_matcher(units)))
    out["matched"] = out.unit_code.notna()
    return out


def drop_known(con, staged: list) -> None:
    """A catalogue (fill-only) adds only keys nobody else brings: neither the store nor another file of
    this load (the province's own procedure list wins over the national catalogue)."""
    for i, (table, res, good, quarantine, digest) in enumerate(staged):
        if table is None or not res.fill_only or not count(con, good):
            continue
        key = table.key[0]
        others = [g for t2, r2, g, *_ in staged if t2 is not None and t2.name == table.name and not r2.fill_only]
        known = _known(table.name, key, others)
        res.superseded += run(con, f'DELETE FROM {good} WHERE "{key}" IN ({known})')[0][0]
        res.loaded = count(con, good)


def _as_written(table, staged: list[str], cols: str) -> str:
    """SQL of a table's rows (cols) as `_insert` leaves them when no row of it is older than another (every
    table but dossiers): the stored rows whose key no staged row has, then the staged rows."""
    assert table.name != "dossiers", "a dossier's record is replaced only by a newer one: see _insert"
    key = ", ".join(f'"{k}"' for k in table.key)
    keys = " UNION ALL ".join(f"SELECT {key} FROM {g}" for g in staged)
    return (f'SELECT {cols} FROM "{table.name}" ANTI JOIN ({keys}) USING ({key}) UNION ALL '
            + " UNION ALL ".join(f"SELECT {cols} FROM {g}" for g in staged))


def _insert(con, table, source: str, results: dict) -> None:
    """Write one table's rows of this load, replacing the stored records of their keys (`source`: the
    staged tables with their sheet's index `_src`); per file: how many replaced a stored row (updates) and
    how many were older than the stored one (dossiers only: never written)."""
    cols = ", ".join(f'"{c}"' for c in table.names + ["_file", "_line"])
    on = " AND ".join(f'g."{k}" = t."{k}"' for k in table.key)
    older = OLDER if table.name == "dossiers" else "false"   # a later export never takes a dossier back in time
    counts = run(con, f'SELECT g._src, g._file, count(t."{table.key[0]}") FILTER (WHERE NOT ({older})), '
                      f'count(*) FILTER (WHERE {older}) '
                      f'FROM {source} g LEFT JOIN "{table.name}" t ON {on} GROUP BY g._src, g._file')
    for src, file, updated, stale in counts:
        res = results[src][1]
        for r in [res] + [p for p in res.parts if p.file == file]:
            r.updated, r.superseded, r.loaded = r.updated + updated, r.superseded + stale, r.loaded - stale
    matched = any(r[2] or r[3] for r in counts)
    if table.name == "dossiers" and any(r[2] or r[3] for r in counts):
        # a later export never clears synced_at, nor moves it later: the first arrival counts. Which record
        # is the newer was decided on the records as sent (a re-sent record's own synced_at says it is),
        # and stays decided: the row counted as an update is the row written.
        run(con, f"""CREATE OR REPLACE TEMP TABLE _good_synced AS
            SELECT g.* REPLACE (CASE WHEN t.synced_at IS NULL THEN g.synced_at
                                     WHEN g.synced_at IS NULL THEN t.synced_at
                                     ELSE least(g.synced_at, t.synced_at) END AS synced_at),
                   coalesce({older}, false) AS _older
            FROM {source} g LEFT JOIN dossiers t USING (dossier_code)""")
        source, older = "_good_synced", "g._older"
    if matched:       # stored records this load replaces go; those newer than this load's stay (and win)
        run(con, f'DELETE FROM "{table.name}" t USING {source} g WHERE {on} AND NOT coalesce({older}, false)')
    keep = f"WHERE NOT EXISTS (SELECT 1 FROM \"{table.name}\" t WHERE {on})" if matched else ""
    run(con, f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM {source} g {keep}')
    if source == "_good_synced":     # an older record sent after a newer one: not written, but it came first
        run(con, """UPDATE dossiers t SET synced_at = g.synced_at FROM _good_synced g
                    WHERE t.dossier_code = g.dossier_code AND g._older AND g.synced_at < t.synced_at""")
    run(con, "DROP TABLE IF EXISTS _good_synced")


def _keep_facts(con, judged: list[str], procedures_before: str | None, calendar_from) -> None:
    """The facts of the dossiers this load touched (their record or their events), in the load's
    transaction, and of those its other changes reach (`facts.reached`: a procedure's time limit, the
    calendar from a day on); all of them when the store has none yet, or when the changes reach most."""
    if not facts.exists(con):
        facts.rebuild(con)
        return
    sources = [f"(SELECT dossier_code FROM {t})" for t in judged] + facts.reached(procedures_before, calendar_from)
    if not sources:
        return
    grouped(con, "_touched", sources, "g.dossier_code")
    if 2 * count(con, "_touched") > count(con, "dossiers"):
        facts.rebuild(con)          # (writing the table again costs less than replacing most of its rows)
    else:
        facts.refresh(con, "_touched")
    run(con, "DROP TABLE _touched")


REACHES_NOTHING = dt.datetime(9999, 12, 30)     # load_reach of a load that writes no row: after every period
DATED = {"dossiers": "received_at", "dossier_events": "at", "ratings": "rated_at"}   # a row's own time


def _reach(con, staged) -> tuple[bool, object]:
    """(whether this load writes anything, the earliest moment its rows can change a figure — None: any
    period). A dossier counts only in periods ending after it was received, an event or a rating only
    through its dossier or after its own time: the dossiers, events and ratings of a load reach from the
    earliest of their times and the receipt of every dossier they touch (as stored, and as loaded).
    Any other table (units, procedures, feedback, the calendar, the portal's figures …) reaches every
    period. Read before the load writes: the stored records are those it replaces."""
    written = [s for s in staged if s[1].loaded]
    if not written:
        return False, None
    if any(t is None or t.name not in DATED for t, *_ in written):
        return True, None
    codes = " UNION ".join(f"SELECT dossier_code FROM {g}" for _, _, g, *_ in written)
    own = " UNION ALL ".join(f'SELECT "{DATED[t.name]}" AS t FROM {g}' for t, _, g, *_ in written)
    reach = run(con, f"""SELECT min(t) FROM ({own} UNION ALL SELECT received_at FROM dossiers
                         WHERE dossier_code IN ({codes}))""")[0][0]
    return True, reach


def _settle_sync(con, staged: list, sync_parts: list) -> None:
    """The step holders of this load's rows, named as sync payloads name them, settled before the write's
    transaction (sync.settle_staged), against the officials as this load will write them: each staged table of
    dossiers and events is replaced by its settled copy. Outside the transaction, the copies are temporary
    tables like the staged ones and the tables they replace are freed at once: made inside it, a 10M
    province's 63 million copied events held memory DuckDB gives back only at the commit, and the facts'
    rebuild, the load's last step, ran out of the load's 1 GB."""
    of = {name: [s[2] for s in staged if s[0] is not None and s[0].name == name]
          for name in ("dossiers", "dossier_events", "officials")}
    officials = "officials"
    if of["officials"]:       # a staged official replaces the stored one of its id (keep-latest chose among them)
        table = next(s[0] for s in staged if s[0] is not None and s[0].name == "officials")
        run(con, f"CREATE OR REPLACE TEMP TABLE _officials_written AS "
                 f"{_as_written(table, of['officials'], 'official_id, unit_code, full_name')}")
        officials = "_officials_written"
    made = itertools.count()
    copies = sync.settle_staged(con, "_sync_codes", of["dossiers"], of["dossier_events"],
                                [s[2] for s in sync_parts if s[0].name == "dossier_events"],
                                lambda: f"_settled_{next(made)}", f"NOT ({OLDER})", officials)
    for name, copy in copies.items():
        run(con, f"DROP TABLE {name}")
        run(con, f"ALTER TABLE {copy} RENAME TO {name}")
    run(con, "DROP TABLE IF EXISTS _officials_written")


def _write(con, staged, progress: bool, report, outside: bool = False) -> None:
    """Everything in one transaction; each table written in one statement (a load of hundreds of payload
    files makes a handful of round trips, not thousands), with the counts still kept per file."""
    from tqdm.auto import tqdm
    sync_parts = [s for s in staged if s[0] is not None and s[1].sync and s[0].name in ("dossiers", "dossier_events")]
    judged = []                   # staged tables of dossiers and events: their dossiers' facts are recomputed
    now = dt.datetime.now().replace(microsecond=0)
    PROGRESS["committed"] = False
    # the store's rows need no order (staging did: a row's place in its file is its line); keeping one
    # would make DuckDB buffer whole tables while it writes them
    run(con, "SET preserve_insertion_order = false")
    tables = [s[0] for s in staged if s[0] is not None]
    order = sorted(dict.fromkeys(t.name for t in tables),       # officials before the dossiers naming them
                   key=lambda n: LOAD_ORDER.index(n) if n in LOAD_ORDER else len(LOAD_ORDER))
    try:
        if sync_parts:       # the dossiers the sync payloads brought: their step holders settled before the write
            grouped(con, "_sync_codes", [s[2] for s in sync_parts], "g.dossier_code")
            _settle_sync(con, staged, sync_parts)
        run(con, "BEGIN TRANSACTION")
        writes, reach = _reach(con, staged)
        # what the judgement reads of the catalogue, as it was: the facts of a changed procedure's dossiers again
        procedures_before = facts.keep_procedures(con) if "procedures" in order and facts.exists(con) else None
        files = []      # rows of loaded_files
        quarantines = []
        for name in tqdm(order, desc="Ghi vào kho", unit="bảng", disable=None if progress else True):
            part = [(i, s) for i, s in enumerate(staged) if s[0] is not None and s[0].name == name]
            table = part[0][1][0]
            cols = ", ".join(f'"{c}"' for c in table.names + ["_file", "_line"])
            union = " UNION ALL ".join(f"SELECT {cols}, {i} AS _src FROM {s[2]}" for i, s in part)
            run(con, f"CREATE OR REPLACE TEMP VIEW _good AS {union}")
            _insert(con, table, "_good", dict(part))
            run(con, "DROP VIEW _good")
            for i, (t, res, good, quarantine, digest) in part:
                if name in ("dossiers", "dossier_events"):
                    judged.append(good)
                if len(quarantine):
                    quarantines.append(quarantine)
                for r in res.parts or [res]:
                    files.append([r.file, r.sha256 or digest, name, r.read, r.loaded, r.quarantined, now, r.updated])
        for table, res, good, quarantine, digest in staged:
            if table is None:      # the portal's published figures: kept as published, revisions side by side
                con.register("_pub", good.assign(is_current=True))
                run(con, "INSERT INTO published_scores BY NAME SELECT * FROM _pub")
                con.unregister("_pub")
                run(con, """UPDATE published_scores p SET is_current = (p.captured_at, p.file) = (
                    SELECT max((q.captured_at, q.file)) FROM published_scores q
                    WHERE q.endpoint = p.endpoint AND q.period = p.period)""")
                files.append([res.file, digest, res.table, res.read, res.loaded, 0, now, 0])
        if quarantines:
            q = pd.concat(quarantines, ignore_index=True).assign(loaded_at=now)
            con.register("_q", q)
            run(con, "INSERT INTO quarantine SELECT file, line, table_name, column_name, reason, raw, loaded_at FROM _q")
            con.unregister("_q")
        if files:
            con.register("_files", pd.DataFrame(files, columns=["file", "sha256", "table_name", "rows_read",
                                                                "rows_loaded", "rows_quarantined", "loaded_at",
                                                                "rows_updated"]))
            run(con, "INSERT INTO loaded_files BY NAME SELECT * FROM _files")
            con.unregister("_files")
        if sync_parts:
            report.sync_unmatched = sync.finish(con, "_sync_codes")["unmatched"]
            run(con, "DROP TABLE _sync_codes")
        report.calendar_changed = calendar_changes(con)
        if report.calendar_changed:      # holidays or swapped days changed: the facts reading them again (below)
            apply_calendar(con)
        record_calendar(con)
        _keep_facts(con, judged, procedures_before,
                    min(report.calendar_changed) if report.calendar_changed else None)
        if procedures_before:
            run(con, f"DROP TABLE {procedures_before}")
        if files or writes or report.calendar_changed or outside:   # which periods' kept figures this load makes old
            # a load that writes no row (every row quarantined) reaches no period
            run(con, "INSERT INTO load_reach VALUES (?, ?)",
                [now, None if report.calendar_changed or outside else reach if writes else REACHES_NOTHING])
        run(con, "COMMIT")
        PROGRESS["committed"] = True
    except BaseException:
        if not PROGRESS["committed"]:
            try:
                run(con, "ROLLBACK")
            except Exception:      # no transaction (it failed before it, or is gone already): nothing was written
                pass
            drop_quietly(con, ["_sync_codes", "_officials_written"])
        raise
