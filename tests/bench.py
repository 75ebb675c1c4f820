"""`make bench`: timings of the main steps on one sample, reported as ratios to the first in one run.

Not a test: nothing here asserts a time. It prints seconds and ratios so a change that makes
a step slower shows up side by side with the others.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import kpi
from kpi.load import load_paths
from kpi.sample import generate
from kpi.store import connect


def timed(label, fn, rows):
    t = time.perf_counter()
    fn()
    rows.append((label, time.perf_counter() - t))


def main(per_year: int = 150_000, months: int = 18) -> None:
    rows: list = []
    with tempfile.TemporaryDirectory() as tmp:
        raw, store = Path(tmp) / "raw", Path(tmp) / "kpi.duckdb"
        timed(f"kpi sample ({per_year:,} hồ sơ/năm, {months} tháng)", lambda: generate(raw, 766, months, per_year, False), rows)

        def load():
            con = connect(store)
            load_paths(con, [raw], progress=False)
            con.close()
        timed("kpi load", load, rows)
        sync_raw, sync_store = Path(tmp) / "raw-sync", Path(tmp) / "sync.duckdb"
        timed("kpi sample --format sync", lambda: generate(sync_raw, 766, months, per_year, False, fmt="sync"), rows)

        def load_sync():
            con = connect(sync_store)
            load_paths(con, [sync_raw], progress=False)
            con.close()
        timed("kpi load (dữ liệu đồng bộ DVCQG)", load_sync, rows)
        timed("kpi.scores một tháng (mọi đơn vị, mọi chỉ số)", lambda: kpi.scores("2026-10", store=store), rows)
        timed("kpi.totals một tháng (có so sánh kỳ trước)", lambda: kpi.totals("2026-10", store=store), rows)
        timed("kpi.totals một quý", lambda: kpi.totals("2026-Q3", store=store, compare=False), rows)
        timed("kpi.scores theo cán bộ một tháng", lambda: kpi.scores("2026-10", store=store, scope="official"), rows)
    base = rows[4][1]
    load = dict(rows)["kpi load"]
    print(f"{'bước':55s} {'giây':>8s} {'so với scores 1 tháng':>22s}")
    for label, secs in rows:
        print(f"{label:55s} {secs:8.2f} {secs / base:22.2f}")
    print(f"nạp dữ liệu đồng bộ / nạp CSV chuẩn: {dict(rows)['kpi load (dữ liệu đồng bộ DVCQG)'] / load:.2f}×")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
