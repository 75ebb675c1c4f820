"""Scores remembered in the process (kpi.cache) and counted in one pass (Engine.count_units): never a
stale or different figure — cached equals freshly computed, before and after a load and across profiles;
the fused count equals the per-metric count."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import kpi
from kpi.analysis import api, cache
from kpi.periods import parse
from conftest import ROOT, load_into, split_exports


def _fresh(monkeypatch, *args, **kw):
    monkeypatch.setenv("KPI_CACHE", "0")
    try:
        return kpi.scores(*args, **kw)
    finally:
        monkeypatch.setenv("KPI_CACHE", "1")


def _load_late_dossier(store, tmp_path) -> None:
    """A new late dossier for D1 (ON_TIME 7/13 → 7/14 in 2026-08), loaded into `store`."""
    from kpi.load import load_paths
    from kpi.store import connect
    extra = tmp_path / "dossiers_them.csv"
    extra.write_text("dossier_code,procedure_code,unit_code,channel,received_at,due_at,finished_at,returned_at,status\n"
                     "D1-NEW,PR1,D1,1,2026-08-03 09:00,2026-08-10 09:00,2026-08-20 10:00,,finished\n", encoding="utf-8")
    con = connect(store)
    load_paths(con, [extra], progress=False)
    con.close()


def test_cached_equals_fresh_before_and_after_a_load(hw_copy, tmp_path, monkeypatch):
    cache.clear()
    first = kpi.scores("2026-08", store=hw_copy)
    again = kpi.scores("2026-08", store=hw_copy)
    assert cache.stats["hits"] >= 1
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, _fresh(monkeypatch, "2026-08", store=hw_copy))
    # a new late dossier for D1 arrives: the figure changes, and the remembered one is not served
    _load_late_dossier(hw_copy, tmp_path)
    after = kpi.scores("2026-08", store=hw_copy)
    ot = lambda s: tuple(s[(s.unit_code == "D1") & (s.metric_code == "ON_TIME")][["numerator", "denominator"]].iloc[0])
    assert ot(first) == (7, 13) and ot(after) == (7, 14)
    pd.testing.assert_frame_equal(after, _fresh(monkeypatch, "2026-08", store=hw_copy))


def test_another_profile_is_never_answered_from_memory(hw, monkeypatch):
    cache.clear()
    base = kpi.scores("2026-08", store=hw)
    heavier = {"metrics": {"ON_TIME": {"max": 20, "rule": "linear_target", "target": 50}}}
    other = kpi.scores("2026-08", store=hw, profile=heavier)
    d1 = lambda s: float(s[(s.unit_code == "D1") & (s.metric_code == "ON_TIME")].points.iloc[0])
    assert d1(base) == pytest.approx(20 * 7 / 13) and d1(other) == 20.0
    pd.testing.assert_frame_equal(other, _fresh(monkeypatch, "2026-08", store=hw, profile=heavier))
    pd.testing.assert_frame_equal(kpi.scores("2026-08", store=hw), base)


@pytest.mark.parametrize("period", ["2026-08", "2026-10", "2026-Q3"])
@pytest.mark.parametrize("profile", [None, "mo-ta-cong-thuc"])
@pytest.mark.parametrize("mode", ["own", "subtree"])
def test_one_pass_equals_one_query_per_metric(hw, period, profile, mode):
    with api.session(hw, profile=profile) as e:
        p = parse(period)
        codes = api.metric_codes(e.profile, True)
        one = pd.concat([e.count(c, p, mode=mode) for c in codes], ignore_index=True)
        fused = e.count_units(codes, p, mode=mode)
    k = ["metric_code", "scope_code"]
    one, fused = (f.sort_values(k).reset_index(drop=True)[k + ["numerator", "denominator"]] for f in (one, fused))
    pd.testing.assert_frame_equal(one, fused, check_dtype=False)


def test_the_next_process_reads_the_figure_kept_beside_the_store(hw_copy, tmp_path, monkeypatch):
    from pathlib import Path
    cache.clear()
    first = kpi.scores("2026-08", store=hw_copy)
    folder = Path(str(hw_copy) + ".cache")
    kept = sorted(folder.glob("*.parquet"))
    assert kept and cache.stats["misses"] >= 1
    cache.clear()                                   # a new process: nothing in memory
    again = kpi.scores("2026-08", store=hw_copy)
    assert cache.stats["disk_hits"] >= 1 and cache.stats["misses"] == 0
    pd.testing.assert_frame_equal(first, again)
    # a damaged file is computed again, never trusted
    for f in kept:
        f.write_bytes(b"not parquet")
    cache.clear()
    pd.testing.assert_frame_equal(kpi.scores("2026-08", store=hw_copy), first)
    assert cache.stats["misses"] >= 1
    # a load: the kept figures of the older data are never served, and the next write clears them
    _load_late_dossier(hw_copy, tmp_path)
    cache.clear()
    after = kpi.scores("2026-08", store=hw_copy)
    assert cache.stats["disk_hits"] == 0 and cache.stats["misses"] >= 1
    pd.testing.assert_frame_equal(after, _fresh(monkeypatch, "2026-08", store=hw_copy))
    assert not set(kept) & set(folder.glob("*.parquet"))
    # another profile is its own figure
    cache.clear()
    other = kpi.scores("2026-08", store=hw_copy, profile={"metrics": {"ON_TIME": {"max": 20, "rule": "linear_target",
                                                                                   "target": 50}}})
    assert cache.stats["disk_hits"] == 0
    assert not other.equals(after)


def test_kpi_warm_lets_the_explorer_open_from_kept_figures(hw_copy, monkeypatch):
    """`kpi warm` (a real CLI run) computes the explorer's periods; a new process opening notebook 02 then
    computes nothing, in months and in quarters — and draws what a fresh computation draws."""
    from kpi.explore import Explorer
    from conftest import run_kpi
    r = run_kpi("warm", "-q", "--store", hw_copy)
    assert r.returncode == 0 and "Đã tính sẵn" in r.stdout, r.stderr
    cache.clear()
    ex = Explorer(hw_copy)
    views = [ex.html()]
    ex.state["kind"] = "quarter"
    views.append(ex.html())
    ex.state["profile"] = "mo-ta-cong-thuc"        # the other shipped profile was computed ahead too
    views.append(ex.html())
    assert cache.stats["misses"] == 0 and cache.stats["disk_hits"] > 0
    monkeypatch.setenv("KPI_CACHE", "0")
    fresh = Explorer(hw_copy)
    expected = [fresh.html()]
    fresh.state["kind"] = "quarter"
    expected.append(fresh.html())
    fresh.state["profile"] = "mo-ta-cong-thuc"
    expected.append(fresh.html())
    assert views == expected


def test_figures_kept_by_other_counting_code_are_never_read(hw_copy, monkeypatch):
    """An upgrade that changes a counting rule (a metric's SQL, the judgement, the engine, the package
    version) never reads the figures kept by the code before it; the next write clears them."""
    from pathlib import Path
    cache.clear()
    first = kpi.scores("2026-08", store=hw_copy)
    folder = Path(str(hw_copy) + ".cache")
    kept = set(folder.glob("*.parquet"))
    assert kept
    assert len(cache.code_version()) == 16
    monkeypatch.setattr(cache, "code_version", lambda: "another-release")
    cache.clear()
    again = kpi.scores("2026-08", store=hw_copy)
    assert cache.stats["disk_hits"] == 0 and cache.stats["misses"] >= 1
    pd.testing.assert_frame_equal(first, again)
    assert not kept & set(folder.glob("*.parquet"))


def test_a_kept_file_changed_since_it_was_written_is_computed_again(hw_copy, monkeypatch):
    """A kept figure edited by hand (same shape, one value changed) or replaced by a file of another shape is
    never served: the figure is computed again, and no command fails on it; a temporary file left by a
    write that stopped long ago, and a figure nobody read for a month, are swept by the next write."""
    import os
    import time
    from pathlib import Path
    cache.clear()
    first = kpi.scores("2026-08", store=hw_copy)
    folder = Path(str(hw_copy) + ".cache")
    (kept,) = [f for f in folder.glob("*.parquet")]
    tampered = pd.read_parquet(kept)
    tampered.loc[0, "points"] = 99.0
    tampered.to_parquet(kept, index=False)
    cache.clear()
    pd.testing.assert_frame_equal(kpi.scores("2026-08", store=hw_copy), first)
    assert cache.stats["disk_hits"] == 0 and cache.stats["misses"] == 1
    pd.DataFrame({"x": [1, 2]}).to_parquet(kept, index=False)        # another shape altogether
    cache.clear()
    pd.testing.assert_frame_equal(kpi.scores("2026-08", store=hw_copy), first)
    assert cache.stats["disk_hits"] == 0
    cache.clear()                                                  # and the rewritten file is read again
    pd.testing.assert_frame_equal(kpi.scores("2026-08", store=hw_copy), first)
    assert cache.stats["disk_hits"] == 1
    left = folder / ".x.parquet.123.tmp"
    left.write_bytes(b"half")
    os.utime(left, (time.time() - 7200, time.time() - 7200))
    fresh = folder / ".y.parquet.456.tmp"
    fresh.write_bytes(b"being written")
    month_ago = time.time() - (cache.UNREAD_DAYS + 1) * 86400
    (read,) = [f for f in folder.glob("*.parquet")]
    os.utime(read, (month_ago, month_ago))
    cache.clear()
    kpi.scores("2026-08", store=hw_copy)           # read from the file: read now, so kept by the sweep
    assert cache.stats["disk_hits"] == 1 and time.time() - read.stat().st_mtime < 60
    unread = folder / "0123456789abcdef01234567-0123456789abcdef.parquet"   # a figure nobody asked for a month
    unread.write_bytes(b"x")
    os.utime(unread, (month_ago, month_ago))
    cache.clear()
    kpi.scores("2026-09", store=hw_copy)
    assert not left.exists() and fresh.exists()
    assert not unread.exists() and read.exists()
    left.write_bytes(b"half")                   # the folder is swept once a process, not at every write
    os.utime(left, (time.time() - 7200, time.time() - 7200))
    kpi.scores("2026-07", store=hw_copy)
    assert left.exists() and cache.stats["misses"] >= 2


def test_a_load_refreshes_only_the_periods_its_rows_reach(sample_dir, tmp_path, monkeypatch):
    """A province's export loaded into a store that keeps every month's figures: the months ending before
    the earliest receipt among the dossiers it touches (or its rows' own times) are read from what was kept
    — and equal a fresh count — while every later month is counted again; a load of a table that is not
    dated (the units) counts every month again."""
    from kpi.load import load_paths
    from kpi.store import connect
    con = connect(tmp_path / "x.duckdb")
    load_paths(con, [sample_dir], progress=False)
    first, last = con.execute("SELECT min(received_at), max(received_at) FROM dossiers").fetchone()
    con.close()
    cut = (last - pd.Timedelta(days=6)).strftime("%Y-%m-%d")
    base, export = split_exports(sample_dir, tmp_path, cut)
    # the earliest moment the export's rows reach: their own times, and the receipt of every dossier touched
    # (the sample's records keep their receipt: the export's are the stored ones)
    reach = min(pd.to_datetime(pd.read_csv(export / "dossiers.csv").received_at).min(),
                pd.to_datetime(pd.read_csv(export / "dossier_events.csv")["at"]).min(),
                pd.to_datetime(pd.read_csv(export / "ratings.csv").iloc[:, 1], dayfirst=True).min())
    store = tmp_path / "kpi.duckdb"
    load_into(store, base)
    months = [p for p in pd.period_range(first, last, freq="M").astype(str) if parse(p).last < last.date()]
    cache.clear()
    before = {m: kpi.scores(m, store=store) for m in months}
    load_into(store, export)
    con = connect(store, read_only=True)
    assert con.execute("SELECT reach_from FROM load_reach ORDER BY loaded_at DESC LIMIT 1").fetchone()[0] == reach
    con.close()
    kept = [m for m in months if parse(m).end_ts <= reach]
    assert kept and len(kept) < len(months), (reach, months)
    for m in months:
        cache.clear()                                   # a new process: what is kept beside the store
        got = kpi.scores(m, store=store)
        assert (cache.stats["disk_hits"] > 0) == (m in kept), m
        assert (cache.stats["misses"] > 0) == (m not in kept), m
        pd.testing.assert_frame_equal(got, _fresh(monkeypatch, m, store=store))
        if m in kept:
            pd.testing.assert_frame_equal(got, before[m])
    units = pd.read_csv(sample_dir / "units.csv", dtype=str, keep_default_na=False)
    units.loc[units.index[-1], units.columns[1]] += " (đổi tên)"        # a unit renamed: not dated
    (tmp_path / "units").mkdir()
    units.to_csv(tmp_path / "units" / "units.csv", index=False)
    load_into(store, tmp_path / "units")                 # every month counted again
    for m in kept:
        cache.clear()
        kpi.scores(m, store=store)
        assert cache.stats["disk_hits"] == 0 and cache.stats["misses"] > 0


@pytest.mark.parametrize("profile", [None, "mo-ta-cong-thuc"])
@pytest.mark.parametrize("by", ["official", "procedure"])
def test_metrics_counted_together_by_official_equal_each_alone(sample_store, profile, by):
    """An official's metrics counted in one query (`count_by_codes`, variant and all) equal each metric
    counted alone, for two months at once and for a quarter, by official and by procedure."""
    with api.session(sample_store, profile=profile) as e:
        codes = api.metric_codes(e.profile, True, official=True)
        periods = [parse("2026-09"), parse("2026-10"), parse("2026-Q3")]
        together = e.count_by_codes(codes, periods, by=by)
        alone = [pd.concat([e.count_by(c, periods, by=by)[i] for c in codes], ignore_index=True)
                 for i in range(len(periods))]
    k = ["metric_code", "scope_code"]
    for t, a in zip(together, alone):
        pd.testing.assert_frame_equal(t.sort_values(k).reset_index(drop=True), a.sort_values(k).reset_index(drop=True),
                                      check_dtype=False)
    assert sum(len(t) for t in together) > 500 and len({c for t in together for c in t.metric_code}) == len(codes)


def test_a_load_whose_every_row_is_quarantined_keeps_every_figure(tmp_path):
    """A file whose rows all go to quarantine writes no figure's rows: the figures kept before it are read
    from their files, and the load is recorded as reaching no period."""
    from kpi.load import load_paths
    from kpi.store import connect
    hw_copy = tmp_path / "kpi.duckdb"          # a store only kpi load wrote
    con = connect(hw_copy)
    load_paths(con, [ROOT / "tests" / "data" / "handworked"], progress=False)
    con.close()
    cache.clear()
    before = kpi.scores("2026-08", store=hw_copy)
    bad = tmp_path / "bad"
    bad.mkdir()
    src = (ROOT / "tests" / "data" / "handworked" / "dossiers.csv").read_text(encoding="utf-8").splitlines()
    row = src[1].split(",")
    row[0], row[4] = "D-BAD", "ngày 3 tháng 8"            # a receipt that is no date: quarantined
    (bad / "dossiers.csv").write_text(src[0] + "\n" + ",".join(row) + "\n", encoding="utf-8")
    con = connect(hw_copy)
    report = load_paths(con, [bad], progress=False)
    assert con.execute("SELECT count(*) FROM quarantine WHERE raw LIKE '%D-BAD%'").fetchone()[0] == 1
    # recorded as reaching no period (the handworked load, maybe within the same second, reaches every one)
    assert con.execute("SELECT list(reach_from ORDER BY reach_from NULLS FIRST) FROM load_reach").fetchone()[0] == \
        [None, dt.datetime(9999, 12, 30)]
    con.close()
    assert (report.loaded, report.quarantined) == (0, 1)
    cache.clear()
    pd.testing.assert_frame_equal(kpi.scores("2026-08", store=hw_copy), before)
    assert cache.stats["disk_hits"] == 1 and cache.stats["misses"] == 0
