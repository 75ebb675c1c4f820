"""The golden figures: every metric for every unit (own dossiers and sub-tree), official and procedure, for
months, quarters, a date range, a year and as-of days, under both shipped profiles (and so their variants),
and the totals — computed through the public API and written as sorted CSV text. Saved before the engine
changed (tests/data/golden/); test_golden asserts the engine reproduces them exactly.

    python -m tests.golden            # rewrite the files (a deliberate rule change, in its own commit)
"""
from __future__ import annotations

import datetime as dt
import gzip
import io
import sys
from pathlib import Path

import pandas as pd

import kpi

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
PROFILES = [None, "mo-ta-cong-thuc"]


def periods(store) -> list[tuple[str, str | None]]:
    """(period, as_of) the store's data can answer: every complete month, every complete quarter, the
    running month and quarter as of the data's last day, a month as of its 15th, a date range and the year
    as of the last day."""
    import duckdb
    con = duckdb.connect(str(store), read_only=True)
    first, last = con.execute("SELECT min(received_at), max(received_at) FROM dossiers").fetchone()
    con.close()
    first, last = first.date(), last.date()
    out = []
    m = pd.Period(first, "M")
    while m.end_time.date() <= last:
        if m.start_time.date() >= first.replace(day=1):
            out.append((str(m), None))
        m += 1
    running = pd.Period(last, "M")
    out.append((str(running), f"{last:%Y-%m-%d}"))
    complete = [p for p, _ in out if _ is None]
    if complete:
        mid = pd.Period(complete[-1], "M")
        out.append((str(mid), f"{mid.start_time.date() + dt.timedelta(days=14):%Y-%m-%d}"))
        start = pd.Period(complete[0], "M").start_time.date() + dt.timedelta(days=9)
        out.append((f"{start:%Y-%m-%d}..{start + dt.timedelta(days=50):%Y-%m-%d}", None))
    q = pd.Period(first, "Q")
    while q.start_time.date() <= last:
        label = f"{q.year}-Q{q.quarter}"
        if q.start_time.date() >= first.replace(day=1):
            out.append((label, None if q.end_time.date() <= last else f"{last:%Y-%m-%d}"))
        q += 1
    out.append((str(last.year), f"{last:%Y-%m-%d}"))
    return out


def _csv(frame: pd.DataFrame) -> str:
    """CSV text with ten significant digits (the last bits of a sum depend on DuckDB's threads), its lines
    sorted as text so the order is the same whatever order the rows came in."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    head, *rows = buf.getvalue().splitlines(True)
    return head + "".join(sorted(rows))


def figures(store) -> dict[str, str]:
    """name → CSV text of the figures of the store."""
    out: dict[str, list[pd.DataFrame]] = {}

    def add(name, frame, **keys):
        out.setdefault(name, []).append(frame.assign(**keys))

    ps = periods(store)
    for prof in PROFILES:
        pname = prof or "dvcqg-2026"
        for period, as_of in ps:
            add("scores_unit", kpi.scores(period, as_of=as_of, profile=prof, store=store), profile=pname, as_of=as_of)
            add("totals_unit", kpi.totals(period, as_of=as_of, profile=prof, store=store, compare=False),
                profile=pname, as_of=as_of)
        for period, as_of in [p for p in ps if p[1] is None][-2:] + [p for p in ps if "Q" in p[0]][:1]:
            add("scores_official", kpi.scores(period, scope="official", as_of=as_of, profile=prof, store=store),
                profile=pname, as_of=as_of)
    complete = [p for p in ps if p[1] is None]
    for period, as_of in complete[-1:] + [p for p in ps if "Q" in p[0]][:1]:
        add("scores_subtree", kpi.scores(period, scope="subtree", as_of=as_of, store=store), as_of=as_of)
        add("scores_procedure", kpi.scores(period, scope="procedure", as_of=as_of, store=store), as_of=as_of)
    return {name: _csv(pd.concat(frames, ignore_index=True)) for name, frames in out.items()}


def read(kind: str) -> dict[str, str]:
    return {p.name.removesuffix(".csv.gz").removeprefix(f"{kind}."): gzip.decompress(p.read_bytes()).decode("utf-8")
            for p in sorted(GOLDEN.glob(f"{kind}.*.csv.gz"))}


def write(kind: str, store) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, text in figures(store).items():
        (GOLDEN / f"{kind}.{name}.csv.gz").write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


def sample_store(tmp: Path) -> Path:
    """The test suite's sample province (tests/conftest.py: seed 7, four months, 12 000 dossiers a year)."""
    from kpi.load import load_paths
    from kpi.sample import generate
    from kpi.store import connect
    generate(tmp / "raw", seed=7, months=4, per_year=12_000, progress=False)
    store = tmp / "kpi.duckdb"
    con = connect(store)
    load_paths(con, [tmp / "raw"], progress=False)
    con.close()
    return store


def handworked_store(tmp: Path) -> Path:
    from kpi.load import load_paths
    from kpi.store import connect
    store = tmp / "hw.duckdb"
    con = connect(store)
    load_paths(con, [Path(__file__).resolve().parent / "data" / "handworked"], progress=False)
    con.close()
    return store


if __name__ == "__main__":
    import os
    import tempfile
    os.environ["KPI_CACHE"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        write("sample", sample_store(Path(tmp)))
        write("handworked", handworked_store(Path(tmp)))
    print("\n".join(f"{p.name}: {p.stat().st_size} B" for p in sorted(GOLDEN.glob("*.csv.gz"))), file=sys.stderr)
