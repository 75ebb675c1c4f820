"""A unit's own store (`kpi extract`): the province's store cut down to one unit (with its sub-tree by
default) — its dossiers with their events, ratings and facts, its feedback, officials, services,
self-assessments, owners and published figures; the procedure catalogue, publication decisions and calendar
every metric reads; and the units above it for their names only. Nothing of another unit's dossiers or
officials. Applicants' personal columns are emptied unless asked for.

The extract carries its own description (store.EXTRACT_META) and, for what needs the whole province (a
unit's rank among its peers), the province's totals of every complete month and quarter as reference
figures (REFERENCE_TABLE). It is written beside its target and renamed into place when complete, readable
by its owner only: extracting again replaces it whole, and a killed extract leaves the previous one."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kpi.analysis import api, cache
from kpi.analysis.api import ScopeError
from kpi.fs import atomic_path
from kpi.periods import Period, last_complete_quarter, parse
from kpi.schema import PERSONAL_COLUMNS
from kpi.store import (EXTRACT_META, EXTRACT_UNITS, MASKED_REASON, PRIVATE_FILE, REFERENCE_TABLE, connect,
                       extract_info, extract_label, path_of, private_files, run)

REFERENCE_COLUMNS = ["period", "profile_hash", "unit_code", "unit_name", "level", "total", "grade", "rank",
                     "rank_in_level"]

# which rows of each table belong to the extract: the units in scope (_x_units) and their dossiers (_x_dossiers)
BY_UNIT = "unit_code IN (SELECT unit_code FROM _x_units)"
BY_DOSSIER = "dossier_code IN (SELECT dossier_code FROM _x_dossiers)"
ROWS = {
    "officials": BY_UNIT, "online_services": BY_UNIT, "dossiers": BY_UNIT, "dossier_events": BY_DOSSIER,
    "feedback": BY_UNIT, "ratings": BY_DOSSIER, "certified_copy_units": BY_UNIT, "national_report": BY_UNIT,
    "owners": BY_UNIT, "self_assessments": BY_UNIT, "published_scores": BY_UNIT,
    # read by every unit's metrics, and published by the province anyway
    "procedures": "true", "publication_decisions": "true", "calendar": "true", "calendar_source": "true", "loaded_files": "true",
    # the unit's own and the units above it, for their names (never counted: api._units_frame)
    "units": "unit_code IN (SELECT unit_code FROM _x_units UNION ALL SELECT unit_code FROM _x_above)",
}


@dataclass
class Extract:
    path: Path
    unit_code: str
    unit_name: str
    subtree: bool
    personal: bool
    units: int
    dossiers: int
    officials: int
    reference_periods: int
    label: str = ""          # what it is, as its status, reports and notebooks say it


def extract(unit: str, out, store=None, subtree: bool = True, personal: bool = False, profile=None,
            progress: bool | None = None) -> Extract:
    """Write the store for `unit` (and its sub-tree unless subtree=False) to `out` (a .duckdb file)."""
    from tqdm.auto import tqdm
    out = Path(out)
    with api.session(store, profile=profile) as engine:
        src = path_of(engine.con)
        if out.resolve() == Path(src).resolve():
            raise ScopeError(f"--out {out} là chính kho nguồn — chọn tệp khác, vd. kho-{unit.lower()}.duckdb")
        api.check_unit(engine, unit)
        members = _members(engine, unit, subtree)
        above = _above(engine.con, unit)
        name = run(engine.con, "SELECT unit_name FROM units WHERE unit_code = ?", [unit])[0][0]
        # the source may itself be an extract without personal data: nothing can be put back
        personal = personal and api.holds_personal(engine)
        periods = reference_periods(engine.con)
        bar = tqdm(total=len(periods) + len(ROWS) + 2, desc=f"Trích kho cho {unit}", unit="bước",
                   disable=None if progress is not False else True)
        reference = _reference(engine, periods, bar)
        version = _version(engine.con)
    with private_files(), atomic_path(out, mode=PRIVATE_FILE) as tmp:
        os.unlink(tmp)                     # DuckDB makes its own file
        con = connect(tmp)
        try:
            _copy(con, src, members, above, personal, bar)
            con.register("_ref", reference)
            run(con, f"CREATE TABLE {REFERENCE_TABLE} AS SELECT * FROM _ref")
            con.unregister("_ref")
            run(con, f"""CREATE TABLE {EXTRACT_META} (unit_code VARCHAR, unit_name VARCHAR, subtree BOOLEAN,
                         personal BOOLEAN, source VARCHAR, source_version VARCHAR, extracted_at TIMESTAMP)""")
            run(con, f"INSERT INTO {EXTRACT_META} VALUES (?, ?, ?, ?, ?, ?, ?)",
                [unit, name, subtree, personal, str(src), version, dt.datetime.now().replace(microsecond=0)])
            run(con, f"CREATE TABLE {EXTRACT_UNITS} AS SELECT unnest(?::VARCHAR[]) AS unit_code", [members])
            counts = [run(con, f"SELECT count(*) FROM {t}")[0][0] for t in ("dossiers", "officials")]
            label = extract_label(extract_info(con))
            run(con, "CHECKPOINT")
            bar.update(1)
        finally:
            con.close()
    bar.close()
    return Extract(out, unit, name, subtree, personal, len(members), counts[0], counts[1], len(periods), label)


def _members(engine, unit: str, subtree: bool) -> list[str]:
    """The unit (and its sub-tree), and the units merged into them in 2025: their dossiers count for their
    successors in trends (merged=True), so they belong to the successor's extract."""
    scope = engine.scope_members(unit, subtree)
    merged = run(engine.con, """WITH RECURSIVE chain(unit_code, cur, depth) AS (
            SELECT unit_code, successor_code, 1 FROM units WHERE successor_code IS NOT NULL
            UNION ALL SELECT c.unit_code, u.successor_code, c.depth + 1 FROM chain c JOIN units u ON u.unit_code = c.cur
            WHERE u.successor_code IS NOT NULL AND c.depth < 10)
        SELECT DISTINCT unit_code FROM chain WHERE cur IN (SELECT unnest(?::VARCHAR[]))""", [sorted(scope)])
    return sorted(scope | {r[0] for r in merged})


def _above(con, unit: str) -> list[str]:
    rows = run(con, """WITH RECURSIVE up(c) AS (SELECT parent_code FROM units WHERE unit_code = ? UNION
               SELECT u.parent_code FROM units u JOIN up ON u.unit_code = up.c) SELECT c FROM up WHERE c IS NOT NULL""",
               [unit])
    return [r[0] for r in rows]


def _version(con) -> str:
    """The source store's data version: what was loaded, and when last."""
    n, last, rows = run(con, "SELECT count(*), max(loaded_at), sum(rows_loaded) FROM loaded_files")[0]
    digest = hashlib.sha256(repr(cache.data_version(con)[1:]).encode()).hexdigest()[:12]
    return f"{n} tệp, {rows or 0} dòng, nạp lần cuối {last:%d/%m/%Y %H:%M} ({digest})" if last else f"chưa nạp ({digest})"


REFERENCE_MONTHS = 24     # how far back the reference figures go


def reference_periods(con) -> list[Period]:
    """The complete months of the data (at most the last REFERENCE_MONTHS) and their complete quarters. The
    province's figures behind them are kept beside its store (kpi.cache): the next unit's extract reads them."""
    first, last = api.data_range(con)
    if first is None:
        return []
    months, m = [], parse(api.last_complete_month(con))
    while len(months) < REFERENCE_MONTHS and m.last >= first.date():
        months.append(m)
        m = m.previous()
    quarters = {}
    for m in months:
        q = last_complete_quarter(m)
        if q.start >= first.date().replace(day=1):
            quarters[q.label] = q
    return sorted(months, key=lambda p: p.start) + sorted(quarters.values(), key=lambda p: p.start)


def _reference(engine, periods: list[Period], bar) -> pd.DataFrame:
    """The province's totals, grades and ranks per period (or, from an extract, the ones it carries)."""
    if engine.extract:
        bar.update(len(periods))
        return engine.con.execute(f"SELECT * FROM {REFERENCE_TABLE}").df()
    frames = []
    h = cache.profile_hash(engine.profile)
    for p in periods:
        t = api.totals_with(engine, p, compare=False)
        t = t.assign(period=p.label, profile_hash=h)
        frames.append(t[REFERENCE_COLUMNS])
        bar.update(1)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in REFERENCE_COLUMNS})
    ref = pd.concat(frames, ignore_index=True)
    for c in ("rank", "rank_in_level"):
        ref[c] = ref[c].astype("Int64")
    return ref


def _copy(con, src: str, members: list[str], above: list[str], personal: bool, bar) -> None:
    """Every table's rows of the extract, in one transaction."""
    run(con, "ATTACH '" + str(src).replace("'", "''") + "' AS src (READ_ONLY)")
    try:
        run(con, "BEGIN TRANSACTION")
        run(con, "CREATE TEMP TABLE _x_units AS SELECT unnest(?::VARCHAR[]) AS unit_code", [members])
        run(con, "CREATE TEMP TABLE _x_above AS SELECT unnest(?::VARCHAR[]) AS unit_code", [above])
        run(con, f"CREATE TEMP TABLE _x_dossiers AS SELECT dossier_code FROM src.dossiers WHERE {BY_UNIT}")
        src_tables = {r[0] for r in run(con, "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'")}
        for table, where in ROWS.items():
            if table in src_tables:
                cols = "*"
                if table == "dossiers" and not personal:
                    cols = "* REPLACE (" + ", ".join(f"NULL::VARCHAR AS {c}" for c in PERSONAL_COLUMNS) + ")"
                run(con, f"DELETE FROM {table}")
                run(con, f"INSERT INTO {table} BY NAME SELECT {cols} FROM src.{table} WHERE {where}")
            bar.update(1)
        for kept in ("dossier_facts", "dossier_spans"):
            if kept in src_tables:
                run(con, f"CREATE TABLE {kept} AS SELECT * FROM src.{kept} WHERE {BY_DOSSIER}")
        if "facts_source" in src_tables:          # which code made them: the extract reads them as the store does
            run(con, "CREATE TABLE facts_source AS SELECT * FROM src.facts_source")
        # the quarantined rows of the unit's files: the reason's quoted values masked and the raw row left out
        # unless personal data is asked for (a raw row may hold an applicant's name)
        raw = "raw" if personal else "NULL"
        reason = "reason" if personal else MASKED_REASON
        run(con, f"""INSERT INTO quarantine SELECT file, line, table_name, column_name, {reason}, {raw}, loaded_at
                     FROM src.quarantine WHERE regexp_extract(raw, '"unit_code": "([^"]*)"', 1)
                     IN (SELECT unit_code FROM _x_units)""")
        run(con, "COMMIT")
    except BaseException:
        run(con, "ROLLBACK")
        raise
    finally:
        run(con, "DETACH src")
    bar.update(1)
