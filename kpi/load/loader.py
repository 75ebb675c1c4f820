"""`kpi load`: read every file, validate, check references, then write all in one transaction.

Nothing is written until every file has been read; a file that cannot be read at all stops
the load with the store unchanged. A file already loaded (same SHA-256) is skipped. Within
one load a repeated key is quarantined; a later load that brings a key again replaces the
row (exports repeat open dossiers with their new status).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..schema import LOAD_ORDER, TABLES
from ..store import run
from .errors import LoadError
from .. import portal
from . import sync
from .readers import SUPPORTED, Sheet, read_file, read_json_records
from .validate import recognise, validate


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


class KnownKeys:
    """The keys a reference may point at: the store's, and those of the files of this load already
    checked — read from the store once, grown with each file (a load of hundreds of files stays linear)."""

    def __init__(self, con):
        self.con, self.sets, self.seen = con, {}, {}

    def get(self, table: str, column: str, batch: dict) -> set:
        key = (table, column)
        if key not in self.sets:
            self.sets[key] = {r[0] for r in run(self.con, f'SELECT DISTINCT "{column}" FROM "{table}"')}
            self.seen[key] = 0
        frames = batch.get(table, [])
        for frame in frames[self.seen[key]:]:
            self.sets[key].update(frame[column].dropna().astype(str))
        self.seen[key] = len(frames)
        return self.sets[key]


def check_references(con, table, good: pd.DataFrame, batch: dict, keys: KnownKeys | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows pointing at unknown units/procedures/dossiers go to quarantine."""
    bad_rows = []
    keep = pd.Series(True, index=good.index)
    keys = keys or KnownKeys(con)
    for col, (ref_table, ref_col) in table.references.items():
        known = keys.get(ref_table, ref_col, batch)
        if ref_table == table.name:
            known = known | set(good[ref_col].dropna().astype(str))
        vals = good[col]
        bad = vals.notna() & ~vals.astype(str).isin(known) & keep
        if bad.any():
            bad_rows.append(pd.DataFrame({
                "file": good.loc[bad, "_file"], "line": good.loc[bad, "_line"], "table_name": table.name,
                "column_name": col,
                "reason": vals[bad].map(lambda v: f"mã '{v}' ở cột {col} không có trong bảng {ref_table} — "
                                                  f"nạp {ref_table} trước hoặc sửa mã"),
                "raw": vals[bad].astype(str)}))
            keep &= ~bad
    quarantine = pd.concat(bad_rows, ignore_index=True) if bad_rows else None
    return good[keep].reset_index(drop=True), quarantine


def check_unit_tree(con, good: pd.DataFrame, batch: dict) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """The unit tree has one root, the province: a second province root and units on a cycle of parents
    are quarantined; other units without a parent (orphans, left out of the province's total) are kept
    and named in the load summary."""
    known = {c: (p, lv) for c, p, lv in run(con, "SELECT unit_code, parent_code, level FROM units")}
    for f in batch.get("units", []):
        known.update(zip(f.unit_code, zip(f.parent_code, f.level)))
    roots = [c for c, (p, lv) in known.items() if lv == "province" and not isinstance(p, str)]
    tree = dict(known)
    tree.update({c: (p if isinstance(p, str) else None, lv) for c, p, lv in zip(good.unit_code, good.parent_code, good.level)})
    reasons = {}
    for c, p, lv in zip(good.unit_code, good.parent_code, good.level):
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
    bad = good.unit_code.isin(reasons)
    quarantine = None
    if bad.any():
        quarantine = pd.DataFrame({"file": good.loc[bad, "_file"], "line": good.loc[bad, "_line"], "table_name": "units",
                                   "column_name": "parent_code", "reason": good.loc[bad, "unit_code"].map(reasons),
                                   "raw": good.loc[bad, "unit_code"].astype(str)})
    good = good[~bad].reset_index(drop=True)
    orphans = sorted(c for c, p, lv in zip(good.unit_code, good.parent_code, good.level)
                     if lv != "province" and not isinstance(p, str))
    notes = [f"{len(orphans)} đơn vị không có đơn vị cha, không được tính vào tổng của tỉnh: "
             + ", ".join(orphans[:10]) + (" …" if len(orphans) > 10 else "")] if orphans else []
    return good, quarantine, notes


# whether the last load's transaction was committed: what a Ctrl-C message may truthfully say
PROGRESS = {"committed": False}

STATUS_RANK = {"received": 0, "processing": 1, "supplement": 2, "finished": 3, "returned": 4, "rejected": 4,
               "stopped": 4, "withdrawn": 4}
PROGRESS_COLUMNS = ["received_at", "finished_at", "returned_at", "synced_at"]


def progress_sql(alias: str) -> str:
    """How far a dossier record has got, as a comparable row: its latest timestamp, then its status."""
    latest = ", ".join(f"{alias}.{c}" for c in PROGRESS_COLUMNS)
    rank = " ".join(f"WHEN '{k}' THEN {v}" for k, v in STATUS_RANK.items())
    return f"(greatest({latest}), CASE {alias}.status {rank} ELSE 0 END)"


def _progress(frame: pd.DataFrame, table) -> tuple[pd.Series, pd.Series]:
    if table.name != "dossiers":
        zero = pd.Series(0, index=frame.index)
        return zero, zero
    latest = frame[PROGRESS_COLUMNS].max(axis=1)
    return latest.fillna(pd.Timestamp.min), frame.status.map(STATUS_RANK).fillna(0)


def keep_latest(staged: list) -> None:
    """Within one load, a key brought by several files keeps the record most advanced in time (for
    dossiers: latest status or event timestamp, then status; then the file's capture time — `@…` in its
    name, else its modification time). The others are counted as superseded, not written."""
    by_table: dict[str, list[int]] = {}
    for i, (table, *_rest) in enumerate(staged):
        if table is not None:
            by_table.setdefault(table.name, []).append(i)
    for name, idx in by_table.items():
        if len(idx) < 2:
            continue
        table = staged[idx[0]][0]
        parts = []
        for i in idx:
            good = staged[i][2]
            latest, rank = _progress(good, table)
            parts.append(pd.DataFrame({"_src": i, "_row": range(len(good)), "_latest": latest.to_numpy(),
                                       "_rank": rank.to_numpy(), "_captured": _captured(good).to_numpy(),
                                       **{k: good[k].astype("string").to_numpy() for k in table.key}}))
        allrows = pd.concat(parts, ignore_index=True)
        allrows = allrows.sort_values(["_latest", "_rank", "_captured", "_src"], ascending=False, kind="stable")
        winners = allrows.drop_duplicates(list(table.key), keep="first")
        first_sync = None
        if name == "dossiers":     # the dossier reached the portal when its first record did
            synced = pd.concat([staged[i][2].synced_at for i in idx], ignore_index=True)
            first_sync = pd.Series(synced.to_numpy(), index=allrows.sort_index().dossier_code.to_numpy()) \
                .groupby(level=0).min()
        for i in idx:
            keep = winners[winners._src == i]._row.to_numpy()
            table_, res, good, quarantine, digest = staged[i]
            if first_sync is not None:
                good = good.assign(synced_at=good.dossier_code.astype("string").map(first_sync).to_numpy())
                staged[i] = (table_, res, good, quarantine, digest)
            if len(keep) < len(good):
                res.superseded += len(good) - len(keep)
                good = good.iloc[sorted(keep)].reset_index(drop=True)
                res.loaded = len(good)
                staged[i] = (table_, res, good, quarantine, digest)


def _captured(good: pd.DataFrame) -> pd.Series:
    """When each row's file was captured: `@20260905T0800` in its name, else its modification time."""
    files = good["_file"].astype(str)
    when = {f: portal.captured_of(Path(f)) for f in files.unique()}
    return files.map(when)


def latest_per_key(good: pd.DataFrame, table) -> pd.DataFrame:
    """One row per key: the most advanced record (see keep_latest), then the latest capture."""
    if not len(good):
        return good
    latest, rank = _progress(good, table)
    order = pd.DataFrame({"_latest": latest.to_numpy(), "_rank": rank.to_numpy(),
                          "_captured": _captured(good).to_numpy(), "_pos": range(len(good))})
    order = order.sort_values(["_latest", "_rank", "_captured", "_pos"], ascending=False, kind="stable")
    ranked = good.iloc[order._pos.to_numpy()]
    first = ranked.drop_duplicates(list(table.key), keep="first")
    if table.name == "dossiers":     # the dossier reached the portal when its first record did
        first = first.assign(synced_at=first.dossier_code.map(good.groupby("dossier_code").synced_at.min()).to_numpy())
    return first.sort_index().reset_index(drop=True)


def _stage_merged(name: str, parts: list, match, now) -> tuple:
    """The sheets of one table from many payload files, validated as one (a province's daily logs are
    thousands of small files); every row keeps its file and line, and each file its own counts."""
    frames, lines, files, pre, results = [], [], [], [], []
    for sheet, digest in parts:
        frame = sync.resolve_units(sheet.frame, match) if "unit_name" in sheet.frame else sheet.frame
        frames.append(frame)
        lines += list(sheet.lines)
        files += [str(sheet.file)] * len(frame)
        refused = sheet.quarantine if sheet.quarantine is not None else pd.DataFrame()
        if len(refused):
            pre.append(refused)
        results.append(FileResult(str(sheet.file), name, read=len(frame) + len(refused), notes=list(sheet.notes or []),
                                  sync=True, fill_only=sheet.fill_only, sha256=digest))
    merged = Sheet(Path(parts[0][0].file), name, pd.concat(frames, ignore_index=True), lines, files=files,
                   fill_only=parts[0][0].fill_only)
    table = recognise(merged, TABLES)
    good, quarantine, unknown = validate(merged, table, now=now, dedupe=False)
    if pre:
        quarantine = pd.concat([quarantine, *[q.assign(table_name=table.name) for q in pre]], ignore_index=True)
    good = latest_per_key(good, table)
    res = FileResult(f"{len(parts)} tệp đồng bộ", table.name, read=sum(r.read for r in results),
                     unknown_columns=unknown, sync=True, fill_only=merged.fill_only, parts=results)
    return table, res, good, quarantine, ""


def settle_parts(staged: list) -> None:
    """Each payload file's own counts, from the rows of the merged sheet that came from it."""
    for table, res, good, quarantine, digest in staged:
        if table is None or not res.parts:
            continue
        loaded = good["_file"].value_counts() if len(good) else pd.Series(dtype=int)
        q = quarantine.groupby("file") if len(quarantine) else None
        for part in res.parts:
            part.loaded = int(loaded.get(part.file, 0))
            rows = q.get_group(part.file) if q is not None and part.file in q.groups else pd.DataFrame()
            part.quarantined = len(rows)
            part.reasons = rows["reason"].str.replace(r"'[^']*'", "'…'", regex=True).value_counts().to_dict() \
                if len(rows) else {}
            part.superseded = part.read - part.loaded - part.quarantined


def _stage(sheet, digest: str, now, is_sync: bool) -> tuple:
    """Validate one sheet: (table, its FileResult, good rows, quarantine rows, file hash)."""
    table = recognise(sheet, TABLES)
    good, quarantine, unknown = validate(sheet, table, now=now)
    if sheet.quarantine is not None and len(sheet.quarantine):
        quarantine = pd.concat([quarantine, sheet.quarantine.assign(table_name=table.name)], ignore_index=True)
    res = FileResult(str(sheet.file), table.name, read=len(sheet.frame) + (0 if sheet.quarantine is None
                                                                             else len(sheet.quarantine)),
                     unknown_columns=unknown, notes=list(sheet.notes or []), fill_only=sheet.fill_only, sync=is_sync)
    return table, res, good, quarantine, digest


def load_paths(con, paths, progress: bool = True, now: dt.datetime | None = None) -> LoadReport:
    from tqdm.auto import tqdm

    PROGRESS["committed"] = False
    report = LoadReport()
    files = expand(paths, report.ignored)
    if not files:
        raise LoadError(f"{', '.join(map(str, paths))}: không có tệp CSV, XLSX, Parquet hay JSON nào để nạp"
                        + (f" ({len(report.ignored)} tệp định dạng khác, vd. {Path(report.ignored[0]).name})"
                           if report.ignored else "") + " — xuất dữ liệu dạng CSV UTF-8 hoặc XLSX.")
    loaded_hashes = {r[0] for r in run(con, "SELECT sha256 FROM loaded_files")}
    staged = []   # (table, FileResult, good frame, quarantine frame, hash)
    sync_sheets: dict[str, list] = {}   # table → [(sheet, file hash)] from the sync payload files
    portal_staged = []   # (FileResult, published rows, hash)
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
            is_sync = sync.looks_like_sync(payload)
            sheets = sync.read(path) if is_sync else read_json_records(path, payload)
        elif is_sync:
            sheets = sync.read(path)
        else:
            sheets = read_file(path)
        for sheet in sheets:
            if is_sync:        # merged per table once every file is read (units named, not coded, need them)
                sync_sheets.setdefault(sheet.name, []).append((sheet, digest))
                continue
            staged.append(_stage(sheet, digest, now, is_sync))
    if sync_sheets:
        match = name_matcher(known_units(con, {"units": [g for t, _, g, *_ in staged if t.name == "units"]}))
        for name, parts in sync_sheets.items():
            staged.append(_stage_merged(name, parts, match, now))
    staged.sort(key=lambda s: LOAD_ORDER.index(s[0].name))
    drop_known(con, staged)
    batch: dict[str, list] = {}
    keys = KnownKeys(con)
    for i, (table, res, good, quarantine, digest) in enumerate(staged):
        good, ref_bad = check_references(con, table, good, batch, keys)
        if ref_bad is not None:
            quarantine = pd.concat([quarantine, ref_bad], ignore_index=True)
        if table.name == "units":
            good, tree_bad, notes = check_unit_tree(con, good, batch)
            res.notes += notes
            if tree_bad is not None:
                quarantine = pd.concat([quarantine, tree_bad], ignore_index=True)
        batch.setdefault(table.name, []).append(good)
        res.loaded, res.quarantined = len(good), len(quarantine)
        res.reasons = quarantine["reason"].str.replace(r"'[^']*'", "'…'", regex=True).value_counts().to_dict() \
            if len(quarantine) else {}
        staged[i] = (table, res, good, quarantine, digest)
    keep_latest(staged)
    for res, frame, digest in portal_staged:
        matched = match_units(con, frame, batch)
        unmatched = sorted(set(matched[~matched.matched].unit_name.dropna()))
        if unmatched:
            res.notes.append(f"{len(unmatched)} đơn vị không khớp với cây đơn vị (giữ lại, chưa gắn mã): "
                             + "; ".join(unmatched[:5]) + (" …" if len(unmatched) > 5 else ""))
        staged.append((None, res, matched.assign(sha256=digest), None, digest))
    settle_parts(staged)
    _write(con, staged, progress, report)
    for s in staged:
        report.files += s[1].parts or [s[1]]
    return report


def known_units(con, batch: dict | None = None) -> list[tuple[str, str]]:
    units = run(con, "SELECT unit_code, unit_name FROM units")
    for f in (batch or {}).get("units", []):
        units += list(zip(f.unit_code, f.unit_name))
    return units


def name_matcher(units):
    """A unit's name → its code: with diacritics first ('Long Hoa' and 'Long Hòa' are two places), then
    without them when that is unambiguous; 'UBND ' and a trailing '- Tỉnh X' are ignored."""
    from ..schema import fold
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
        if table is None or not res.fill_only or not len(good):
            continue
        key = table.key[0]
        known = {r[0] for r in run(con, f'SELECT "{key}" FROM "{table.name}"')}
        for t2, r2, g2, *_ in staged:
            if t2 is not None and t2.name == table.name and not r2.fill_only:
                known |= set(g2[key].astype(str))
        keep = ~good[key].astype(str).isin(known)
        res.superseded += int((~keep).sum())
        staged[i] = (table, res, good[keep].reset_index(drop=True), quarantine, digest)
        res.loaded = int(keep.sum())


def _insert(con, table, good: pd.DataFrame, results: dict) -> None:
    """INSERT OR REPLACE one table's rows of this load; per file (`_src`): how many replaced a stored row
    (updates) and how many were older than the stored one (dossiers only: never written)."""
    con.register("_good", good)
    try:
        cols = ", ".join(f'"{c}"' for c in table.names + ["_file", "_line"])
        on = " AND ".join(f'g."{k}" = t."{k}"' for k in table.key)
        older = "false"
        if table.name == "dossiers":    # a later export never takes a dossier back in time
            older = f"t.dossier_code IS NOT NULL AND {progress_sql('g')} < {progress_sql('t')}"
        counts = run(con, f'SELECT g._src, g._file, count(t."{table.key[0]}") FILTER (WHERE NOT ({older})), '
                          f'count(*) FILTER (WHERE {older}) '
                          f'FROM _good g LEFT JOIN "{table.name}" t ON {on} GROUP BY g._src, g._file')
        stale_any = False
        for src, file, updated, stale in counts:
            res = results[src][1]
            for r in [res] + [p for p in res.parts if p.file == file]:
                r.updated, r.superseded, r.loaded = r.updated + updated, r.superseded + stale, r.loaded - stale
            stale_any |= stale > 0
        keep = f"WHERE NOT EXISTS (SELECT 1 FROM \"{table.name}\" t WHERE {on} AND {older})" if stale_any else ""
        source = "_good g"
        if table.name == "dossiers" and any(r[2] for r in counts):
            # a later export never clears synced_at, nor moves it later: the first arrival counts
            run(con, """CREATE OR REPLACE TEMP TABLE _good_synced AS
                SELECT g.* REPLACE (CASE WHEN t.synced_at IS NULL THEN g.synced_at
                                         WHEN g.synced_at IS NULL THEN t.synced_at
                                         ELSE least(g.synced_at, t.synced_at) END AS synced_at)
                FROM _good g LEFT JOIN dossiers t USING (dossier_code)""")
            source = "_good_synced g"
        run(con, f'INSERT OR REPLACE INTO "{table.name}" ({cols}) SELECT {cols} FROM {source} {keep}')
    finally:
        con.unregister("_good")


def _write(con, staged, progress: bool, report) -> None:
    """Everything in one transaction; each table written in one statement (a load of hundreds of payload
    files makes a handful of round trips, not thousands), with the counts still kept per file."""
    from tqdm.auto import tqdm
    touched: set[str] = set()     # dossiers the sync payloads brought: their officials are settled after
    now = dt.datetime.now().replace(microsecond=0)
    PROGRESS["committed"] = False
    run(con, "BEGIN TRANSACTION")
    try:
        files = []      # rows of loaded_files
        quarantines = []
        tables = [s[0] for s in staged if s[0] is not None]
        order = list(dict.fromkeys(t.name for t in tables))
        for name in tqdm(order, desc="Ghi vào kho", unit="bảng", disable=None if progress else True):
            part = [(i, s) for i, s in enumerate(staged) if s[0] is not None and s[0].name == name]
            table = part[0][1][0]
            goods = [s[2].assign(_src=i) for i, s in part if len(s[2])]
            if goods:
                _insert(con, table, pd.concat(goods, ignore_index=True), dict(part))
            for i, (t, res, good, quarantine, digest) in part:
                if res.sync and name in ("dossiers", "dossier_events") and len(good):
                    touched.update(good.dossier_code.astype(str))
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
        if touched:
            report.sync_unmatched = sync.finish(con, sorted(touched))["unmatched"]
        run(con, "COMMIT")
        PROGRESS["committed"] = True
    except BaseException:
        if not PROGRESS["committed"]:
            try:
                run(con, "ROLLBACK")
            except Exception:      # the transaction is gone already: nothing was written
                pass
        raise
