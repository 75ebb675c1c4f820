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
from .readers import SUPPORTED, read_file, read_json_records
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


@dataclass
class LoadReport:
    files: list = field(default_factory=list)
    ignored: list = field(default_factory=list)    # files of a folder in a format we do not read

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


def _keys(con, table: str, column: str, batch: dict) -> set:
    known = {r[0] for r in run(con, f'SELECT DISTINCT "{column}" FROM "{table}"')}
    for frame in batch.get(table, []):
        known.update(frame[column].dropna().astype(str))
    return known


def check_references(con, table, good: pd.DataFrame, batch: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows pointing at unknown units/procedures/dossiers go to quarantine."""
    bad_rows = []
    keep = pd.Series(True, index=good.index)
    for col, (ref_table, ref_col) in table.references.items():
        known = _keys(con, ref_table, ref_col, batch)
        if ref_table == table.name:
            known |= set(good[ref_col].dropna().astype(str))
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
                                       "_rank": rank.to_numpy(),
                                       "_captured": portal.captured_of(Path(staged[i][1].file)),
                                       **{k: good[k].astype("string").to_numpy() for k in table.key}}))
        allrows = pd.concat(parts, ignore_index=True)
        allrows = allrows.sort_values(["_latest", "_rank", "_captured", "_src"], ascending=False, kind="stable")
        winners = allrows.drop_duplicates(list(table.key), keep="first")
        for i in idx:
            keep = winners[winners._src == i]._row.to_numpy()
            table_, res, good, quarantine, digest = staged[i]
            if len(keep) < len(good):
                res.superseded += len(good) - len(keep)
                good = good.iloc[sorted(keep)].reset_index(drop=True)
                res.loaded = len(good)
                staged[i] = (table_, res, good, quarantine, digest)


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
    portal_staged = []   # (FileResult, published rows, hash)
    bar = tqdm(files, desc="Đọc tệp", unit="tệp", disable=None if progress else True)
    for path in bar:
        bar.set_postfix_str(path.name)
        digest = sha256(path)
        if digest in loaded_hashes:
            report.files.append(FileResult(str(path), "-", skipped=True))
            continue
        loaded_hashes.add(digest)
        if path.suffix.lower() == ".json":
            payload = portal.read_payload(path)
            if isinstance(payload, dict) and "code" in payload:
                frame = portal.parse_file(path, payload)
                portal_staged.append((FileResult(str(path), "published_scores", read=len(frame), loaded=len(frame)),
                                      frame, digest))
                continue
            sheets = read_json_records(path, payload)
        else:
            sheets = read_file(path)
        for sheet in sheets:
            table = recognise(sheet, TABLES)
            good, quarantine, unknown = validate(sheet, table, now=now)
            res = FileResult(str(path), table.name, read=len(sheet.frame), unknown_columns=unknown)
            staged.append((table, res, good, quarantine, digest))
    staged.sort(key=lambda s: LOAD_ORDER.index(s[0].name))
    batch: dict[str, list] = {}
    for i, (table, res, good, quarantine, digest) in enumerate(staged):
        good, ref_bad = check_references(con, table, good, batch)
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
    _write(con, staged, progress)
    report.files += [s[1] for s in staged]
    return report


def match_units(con, frame: pd.DataFrame, batch: dict) -> pd.DataFrame:
    """Published units → our unit codes: by code, else by name (diacritics, 'UBND', '- Tỉnh X' ignored)."""
    from ..schema import fold
    units = run(con, "SELECT unit_code, unit_name FROM units")
    for f in batch.get("units", []):
        units += list(zip(f.unit_code, f.unit_name))
    codes = {c for c, _ in units}

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
        if strip(n) in exact:          # with diacritics: 'Long Hoa' and 'Long Hòa' are two places
            return exact[strip(n)]
        hits = folded.get(fold(strip(n)), set())
        return next(iter(hits)) if len(hits) == 1 else None
    out = frame.copy()
    code = out.department_code.where(out.department_code.isin(codes))
    out["unit_code"] = code.fillna(out.unit_name.map(by_name))
    out["matched"] = out.unit_code.notna()
    return out


def _write(con, staged, progress: bool) -> None:
    from tqdm.auto import tqdm

    now = dt.datetime.now().replace(microsecond=0)
    PROGRESS["committed"] = False
    run(con, "BEGIN TRANSACTION")
    try:
        for table, res, good, quarantine, digest in tqdm(staged, desc="Ghi vào kho", unit="bảng", disable=None if progress else True):
            if table is None:      # the portal's published figures: kept as published, revisions side by side
                con.register("_pub", good.assign(is_current=True))
                run(con, "INSERT INTO published_scores BY NAME SELECT * FROM _pub")
                con.unregister("_pub")
                run(con, """UPDATE published_scores p SET is_current = (p.captured_at, p.file) = (
                    SELECT max((q.captured_at, q.file)) FROM published_scores q
                    WHERE q.endpoint = p.endpoint AND q.period = p.period)""")
                run(con, "INSERT INTO loaded_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [res.file, digest, res.table, res.read, res.loaded, 0, now])
                continue
            if len(good):
                con.register("_good", good)
                cols = ", ".join(f'"{c}"' for c in table.names + ["_file", "_line"])
                on = " AND ".join(f'g."{k}" = t."{k}"' for k in table.key)
                older = "false"
                if table.name == "dossiers":    # a later export never takes a dossier back in time
                    older = f"t.dossier_code IS NOT NULL AND {progress_sql('g')} < {progress_sql('t')}"
                counts = run(con, f'SELECT count(t."{table.key[0]}") FILTER (WHERE NOT ({older})), '
                                  f'count(*) FILTER (WHERE {older}) '
                                  f'FROM _good g LEFT JOIN "{table.name}" t ON {on}')[0]
                res.updated, stale = counts[0], counts[1]
                res.superseded += stale
                res.loaded -= stale
                keep = f"WHERE NOT EXISTS (SELECT 1 FROM \"{table.name}\" t WHERE {on} AND {older})" if stale else ""
                run(con, f'INSERT OR REPLACE INTO "{table.name}" ({cols}) SELECT {cols} FROM _good g {keep}')
                con.unregister("_good")
            if len(quarantine):
                q = quarantine.assign(loaded_at=now)
                con.register("_q", q)
                run(con, "INSERT INTO quarantine SELECT file, line, table_name, column_name, reason, raw, loaded_at FROM _q")
                con.unregister("_q")
            run(con, "INSERT INTO loaded_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [res.file, digest, table.name, res.read, res.loaded, res.quarantined, now])
        run(con, "COMMIT")
        PROGRESS["committed"] = True
    except BaseException:
        if not PROGRESS["committed"]:
            try:
                run(con, "ROLLBACK")
            except Exception:      # the transaction is gone already: nothing was written
                pass
        raise
