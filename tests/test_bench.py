"""`make bench` with BENCH_ONLY: the rows asked for, and what they need first — the sample (unless
BENCH_RAW gives one), the store they run on, their baseline, the day's split, the warm figures."""
from pathlib import Path

import pytest

from tests import bench

PLAN = [(n, Path("raw"), Path("/tmp/x") / store) for n, store in [
    ("sample", "x"), ("duckdb_load", "baseline.duckdb"), ("load", "kpi.duckdb"), ("sample_sync", "x"),
    ("duckdb_load_sync", "baseline-sync.duckdb"), ("load_sync", "sync.duckdb"), ("duckdb_scan", "kpi.duckdb"),
    ("scores_month", "kpi.duckdb"),
    ("scores_year", "kpi.duckdb"), ("warm", "kpi.duckdb"), ("explorer_open_kept", "kpi.duckdb"),
    ("split_day", "x"), ("load_day", "day.duckdb"), ("explorer_open_day", "day.duckdb")]]


def names(only, have_sample=True, have_sync=False):
    return [r[0] for r in bench._chosen(PLAN, only, have_sample, have_sync)]


def test_bench_only_runs_the_rows_asked_for_and_what_they_need_in_plan_order():
    assert names("scores_year") == ["duckdb_load", "load", "duckdb_scan", "scores_year"]
    assert names("explorer_open_day") == ["duckdb_load", "load", "duckdb_scan", "split_day", "load_day",
                                          "explorer_open_day"]
    assert names("explorer_open_kept") == ["duckdb_load", "load", "warm", "explorer_open_kept"]
    # the payloads' load: its own baseline (DuckDB reading the payloads) and the CSV load it is compared with
    assert names("load_sync", have_sample=False) == ["sample", "duckdb_load", "load", "sample_sync",
                                                     "duckdb_load_sync", "load_sync"]
    assert names(None) == [r[0] for r in PLAN[1:]]          # every row; the sample given
    assert names(None, have_sample=False) == [r[0] for r in PLAN]
    # BENCH_RAW_SYNC: the payload sample made before is not made again
    assert names("load_sync", have_sync=True) == ["duckdb_load", "load", "duckdb_load_sync", "load_sync"]
    assert "sample_sync" not in names(None, have_sync=True)


def test_bench_only_names_the_steps_it_knows():
    with pytest.raises(SystemExit, match="không có bước nope"):
        names("scores_year, nope")
