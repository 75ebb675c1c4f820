"""Figures remembered: scores for a period and a scope, keyed by what they depend on — the store file, the
loads that reached the period (each load records the earliest moment its rows can change a figure:
`load_reach`) and the profile's content. A load that reaches a period, or another profile, changes the key,
so a remembered figure is never stale; a day's export leaves the periods before its oldest dossier kept.

Two layers: the process (a notebook kernel, a report) and a folder beside the store, `<store>.cache/`,
one Parquet file per figure, so that the next process — tomorrow's notebook, the report after the
explorer — does not recompute the twelve months of a trend. The store itself is never written
(read-only commands stay read-only); the folder holds one file per figure (writing a figure for newer data
removes the older one), and a folder that cannot be written is simply not used.
`KPI_CACHE=0` turns both off; `KPI_CACHE=memory` keeps only the process layer."""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kpi import config
from kpi.store import PRIVATE_DIR, PRIVATE_FILE, cache_folder, path_of, written_outside_loads

MAX_ENTRIES = 512
FINGERPRINT = b"kpi766.fingerprint"
STALE_TMP_SECONDS = 3600
UNREAD_DAYS = 30           # a kept figure nobody read for so long is removed (it is computed again if asked)
_memory: OrderedDict = OrderedDict()
_swept: set = set()         # the folders this process swept (kpi.cache._sweep)
stats = {"hits": 0, "misses": 0, "disk_hits": 0}


def enabled() -> bool:
    return os.environ.get("KPI_CACHE", "1") != "0"


def profile_hash(profile: dict) -> str:
    return hashlib.sha256(json.dumps(profile, sort_keys=True, default=str).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def code_version() -> str:
    """The counting code's identity: the package version and every file of kpi/count (metric SQL, the
    judgement, the engine). An upgrade that changes a rule never reads figures kept by the code before."""
    h = hashlib.sha256(metadata.version("kpi766").encode())
    for f in sorted((config.PACKAGE_DIR / "count").rglob("*")):
        if f.suffix in (".sql", ".py"):
            h.update(f.relative_to(config.PACKAGE_DIR).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def data_versions(con, period_ends: list) -> list[tuple]:
    """The store's identity and the version of its data for the figures of periods ending at `period_ends`
    (None: any period): the loads that reached each period (kpi.load records how far back each load's rows
    reach: a day's export leaves the months before its oldest dossier as they were), any load recorded
    without its reach (by an older kpi766), any write by something else — and the counting code's version.
    What does not depend on the period is read once."""
    path = path_of(con)
    loads = con.execute("SELECT loaded_at, reach_from FROM load_reach").fetchall()
    unrecorded = con.execute("SELECT count(*), max(loaded_at), sum(rows_loaded) FROM loaded_files "
                             "WHERE loaded_at NOT IN (SELECT loaded_at FROM load_reach)").fetchone()
    # a write by anything but kpi load (not recorded in load_reach) makes every period's figures old
    rest = (*map(str, unrecorded), repr(written_outside_loads(con)), code_version())
    store = str(Path(path).resolve()) if path else None
    out = []
    for end in period_ends:
        reaching = [at for at, reach in loads if reach is None or end is None or reach < end]
        out.append((store, str(len(reaching)), str(max(reaching, default=None)), *rest))
    return out


def data_version(con, period_end=None) -> tuple:
    """`data_versions` of one period (None: any period)."""
    return data_versions(con, [period_end])[0]


def versions(engine, periods: list) -> list[tuple | None]:
    """What every figure of each of `periods` is keyed by (Periods: a period's end decides which loads reached
    it): the data's version, the profile, the period; None each when nothing is remembered. Read once for
    several figures of the same periods (`extend`)."""
    if not enabled():
        return [None] * len(periods)
    if engine._profile_hash is None:
        engine._profile_hash = profile_hash(engine.profile)
    return [(v, engine._profile_hash, p.label, p.as_of)
            for v, p in zip(data_versions(engine.con, [p.end_ts for p in periods]), periods)]


def extend(version: tuple | None, *parts) -> tuple | None:
    """The key of one figure of a period whose `versions` entry is `version`."""
    return None if version is None else (*version, *parts)


def key(engine, period, *parts) -> tuple | None:
    """The key of a figure of `period` (a Period: its end decides which loads reached it)."""
    return extend(versions(engine, [period])[0], *parts)


def peek(k) -> pd.DataFrame | None:
    """The remembered frame for `k` (a copy: callers may change it), or None: nothing is computed."""
    if k is None:
        return None
    if k in _memory:
        stats["hits"] += 1
        _memory.move_to_end(k)
        return _memory[k].copy()
    value = _read(k)
    if value is not None:
        stats["disk_hits"] += 1
        _keep(k, value)
    return value


def remember(k, compute) -> pd.DataFrame:
    """The remembered frame for `k` (a copy: callers may change it), else `compute()` remembered."""
    if k is None:
        return compute()
    value = peek(k)
    return put(k, compute()) if value is None else value


def put(k, value: pd.DataFrame) -> pd.DataFrame:
    """A frame computed because `k` was not remembered (a miss: `peek` found nothing), remembered now; returned."""
    if k is not None:
        stats["misses"] += 1
        _write(k, value)
        _keep(k, value)
    return value


def _keep(k, value: pd.DataFrame) -> None:
    _memory[k] = value.copy()
    while len(_memory) > MAX_ENTRIES:
        _memory.popitem(last=False)


def _files(k) -> tuple[Path, str, str] | None:
    """(the store's cache folder, the figure's name, its file name: the figure and its data version)."""
    if os.environ.get("KPI_CACHE", "1") == "memory" or not k[0][0]:
        return None
    version = hashlib.sha256(repr(k[0]).encode()).hexdigest()[:16]
    figure = hashlib.sha256(repr(k[1:]).encode()).hexdigest()[:24]
    return cache_folder(k[0][0]), figure, f"{figure}-{version}.parquet"


def _fingerprint(frame: pd.DataFrame) -> str:
    """The figure's content: its columns, their types and every value."""
    h = hashlib.sha256(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return h.hexdigest()


def _read(k) -> pd.DataFrame | None:
    where = _files(k)
    if where is None or not (where[0] / where[2]).exists():
        return None
    try:
        table = pq.read_table(where[0] / where[2])
        frame = table.to_pandas()
        kept = (table.schema.metadata or {}).get(FINGERPRINT, b"").decode()
    except Exception:          # a damaged or half-copied file: computed again
        return None
    # a file changed since it was written (by hand, by another tool, of another shape): computed again
    if kept != _fingerprint(frame):
        return None
    try:
        os.utime(where[0] / where[2])        # read now: the sweep below keeps it
    except OSError:
        pass
    return frame


def _write(k, value: pd.DataFrame) -> None:
    where = _files(k)
    if where is None:
        return
    folder, figure, name = where
    try:
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)     # figures of every unit: the owner's only, as the store
        for old in folder.glob(f"{figure}-*.parquet"):     # the figure for older data can never be asked again
            if old.name != name:
                old.unlink(missing_ok=True)
        if folder not in _swept:
            _sweep(folder)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        table = pa.Table.from_pandas(value, preserve_index=False)
        # the fingerprint of the frame as it will be read back (Arrow's types, not the computing frame's)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               FINGERPRINT: _fingerprint(table.to_pandas())})
        pq.write_table(table, tmp)
        os.chmod(tmp, PRIVATE_FILE)
        os.replace(tmp, folder / name)
    except Exception:          # a read-only folder, a full disk: the figure is simply not kept
        pass


def _sweep(folder: Path) -> None:
    """Once a process, at its first write: what a write stopped half-way (a full disk, a kill) left long ago,
    and the figures nobody read for a month (an as-of day long past)."""
    now = time.time()
    for left in folder.glob(".*.tmp"):
        if now - left.stat().st_mtime > STALE_TMP_SECONDS:
            left.unlink(missing_ok=True)
    for unread in folder.glob("*.parquet"):
        if now - unread.stat().st_mtime > UNREAD_DAYS * 86400:
            unread.unlink(missing_ok=True)
    _swept.add(folder)


def clear() -> None:
    _memory.clear()
    _swept.clear()
    stats.update(hits=0, misses=0, disk_hits=0)
