"""Figures remembered for the life of a process (a notebook kernel, a report): scores for a period and a
scope, keyed by what they depend on — the store file and its data version (the files loaded, and the file's
size and modification time, which any write changes) and the profile's content. A load or another profile
changes the key, so a remembered figure is never stale; the store itself is never written (read-only
commands stay read-only). `KPI_CACHE=0` turns it off."""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict

import pandas as pd

MAX_ENTRIES = 512
_memory: OrderedDict = OrderedDict()
stats = {"hits": 0, "misses": 0}


def enabled() -> bool:
    return os.environ.get("KPI_CACHE", "1") != "0"


def profile_hash(profile: dict) -> str:
    return hashlib.sha256(json.dumps(profile, sort_keys=True, default=str).encode()).hexdigest()[:16]


def data_version(con) -> tuple:
    """The store's identity and data version: its file (size, modification time) and what was loaded."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    st = os.stat(path) if path and os.path.exists(path) else None
    loads = con.execute("SELECT count(*), max(loaded_at), sum(rows_loaded) FROM loaded_files").fetchone()
    return (path, st.st_size if st else None, st.st_mtime_ns if st else None, *map(str, loads))


def key(engine, *parts) -> tuple | None:
    if not enabled():
        return None
    if engine._profile_hash is None:
        engine._profile_hash = profile_hash(engine.profile)
    return (data_version(engine.con), engine._profile_hash, *parts)


def remember(k, compute) -> pd.DataFrame:
    """The remembered frame for `k` (a copy: callers may change it), else `compute()` remembered."""
    if k is None:
        return compute()
    if k in _memory:
        stats["hits"] += 1
        _memory.move_to_end(k)
        return _memory[k].copy()
    stats["misses"] += 1
    value = compute()
    _memory[k] = value.copy()
    while len(_memory) > MAX_ENTRIES:
        _memory.popitem(last=False)
    return value


def clear() -> None:
    _memory.clear()
    stats.update(hits=0, misses=0)
