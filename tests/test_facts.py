"""Per-dossier facts kept by the loader (kpi/count/facts.py): a dossier that ended and has not changed since
is read from them; only the rest is judged at the period end. The facts after daily exports loaded in any
order equal a full rebuild, the figures equal a full load's, and a period re-judges exactly the dossiers
still open at its end or changed after it."""
import random
import shutil

import duckdb
import pandas as pd
import pytest

import kpi
from kpi.count import facts
from kpi.load import load_paths
from kpi.periods import parse
from kpi.store import connect

DAYS = ["2026-10-20", "2026-10-27", "2026-11-03", "2026-11-10", "2026-11-17"]


def _facts(store) -> pd.DataFrame:
    con = duckdb.connect(str(store), read_only=True)
    f = con.execute("SELECT * FROM dossier_facts").df()
    con.close()
    return f.sort_values("dossier_code").reset_index(drop=True)


def _spans(store) -> pd.DataFrame:
    con = duckdb.connect(str(store), read_only=True)
    s = con.execute("SELECT * FROM dossier_spans ORDER BY dossier_code").df()
    con.close()
    return s


def _rebuilt(store, tmp_path) -> pd.DataFrame:
    copy = tmp_path / "rebuilt.duckdb"
    shutil.copy(store, copy)
    con = connect(copy)
    facts.rebuild(con)
    con.close()
    return _facts(copy)


def _exports(sample_dir, tmp_path):
    """The sample as a province sends it: everything before the first day, then one export a week — the
    dossiers received in it or whose processing moved on in it (their current record, sent again), and
    the week's events."""
    out = []
    con = duckdb.connect()
    opts = "header=true, all_varchar=true"
    con.execute(f"CREATE VIEW d AS SELECT * FROM read_csv('{sample_dir / 'dossiers.csv'}', {opts})")
    con.execute(f"CREATE VIEW e AS SELECT * FROM read_csv('{sample_dir / 'dossier_events.csv'}', {opts})")
    edges = [None] + DAYS + [None]
    for i, (lo, hi) in enumerate(zip(edges, edges[1:])):
        folder = tmp_path / f"export{i}"
        folder.mkdir()
        if i == 0:
            for f in sample_dir.iterdir():
                if f.is_file() and f.name not in ("dossiers.csv", "dossier_events.csv", "ratings.csv"):
                    shutil.copy(f, folder / f.name)
        cond = " AND ".join(c for c in (lo and "{t}::TIMESTAMP >= DATE '%s'" % lo,
                                        hi and "{t}::TIMESTAMP < DATE '%s'" % hi) if c)
        rec, at = cond.format(t="received_at"), cond.format(t='"at"')
        con.execute(f"COPY (SELECT * FROM e WHERE {at}) TO '{folder / 'dossier_events.csv'}' (HEADER)")
        con.execute(f"COPY (SELECT * FROM d WHERE {rec} OR dossier_code IN (SELECT dossier_code FROM e WHERE {at})) "
                    f"TO '{folder / 'dossiers.csv'}' (HEADER)")
        out.append(folder)
    con.close()
    ratings = tmp_path / "ratings"          # the satisfaction survey's export, once its dossiers are in
    ratings.mkdir()
    shutil.copy(sample_dir / "ratings.csv", ratings / "ratings.csv")
    return out + [ratings]


def _load(store, paths):
    con = connect(store)
    load_paths(con, paths, progress=False)
    con.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_daily_exports_in_any_order_keep_the_facts_of_a_full_rebuild(sample_store, sample_dir, tmp_path,
                                                                     monkeypatch, seed):
    monkeypatch.setenv("KPI_CACHE", "0")
    exports = _exports(sample_dir, tmp_path)
    first, rest, ratings = exports[0], exports[1:-1], exports[-1]
    random.Random(seed).shuffle(rest)
    store = tmp_path / "daily.duckdb"
    _load(store, [first])
    for i, folder in enumerate(rest + [ratings]):
        _load(store, [folder])
        if i == 1:          # along the way, too: the facts are those of the rows the store holds
            pd.testing.assert_frame_equal(_facts(store), _rebuilt(store, tmp_path))
    got = _facts(store)
    pd.testing.assert_frame_equal(got, _rebuilt(store, tmp_path))
    # every dossier's span (its first event, from which a period's judgement reads its events) is that of
    # its events as stored now, open dossiers included: the same as the full load's, worked out from the rows
    spans = _spans(store)
    pd.testing.assert_frame_equal(spans, _spans(tmp_path / "rebuilt.duckdb"))
    pd.testing.assert_frame_equal(spans, _spans(sample_store))
    con = duckdb.connect(str(store), read_only=True)
    first = con.execute('SELECT d.dossier_code, min(e."at") AS first_event_at FROM dossiers d '
                        'LEFT JOIN dossier_events e USING (dossier_code) GROUP BY 1 ORDER BY 1').df()
    con.close()
    pd.testing.assert_frame_equal(spans, first)
    # the same dossiers and events as the full load: the same facts and the same figures
    whole = _facts(sample_store)
    cols = [c for c in whole.columns if c not in ("_file", "_line")]
    pd.testing.assert_frame_equal(got[cols], whole[cols])
    for period, as_of in (("2026-10", None), ("2026-11", "2026-11-20"), ("2026-Q4", "2026-11-20")):
        a = kpi.scores(period, as_of=as_of, store=store).sort_values(["unit_code", "metric_code"])
        b = kpi.scores(period, as_of=as_of, store=sample_store).sort_values(["unit_code", "metric_code"])
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_a_period_judges_again_only_what_is_open_at_its_end_or_changed_after(sample_store):
    """The active set of October: dossiers received by its end, not finished before it, that are still open
    at its end or have a record time or an event at or after it — worked out here from the raw rows."""
    con = duckdb.connect(str(sample_store), read_only=True)
    p = parse("2026-10")
    from kpi.count.engine import Engine
    from kpi.count.scoring import load_profile
    e = Engine(con, load_profile(None))
    e.prepare(p)
    active = {r[0] for r in con.execute("SELECT dossier_code FROM _cand").fetchall()}
    d = con.execute("SELECT dossier_code, received_at, finished_at, returned_at FROM dossiers").df()
    last = con.execute('SELECT dossier_code, max("at") AS last_event FROM dossier_events GROUP BY 1').df()
    kept = set(con.execute("SELECT dossier_code FROM dossier_facts").df().dossier_code)
    d = d.merge(last, on="dossier_code", how="left")
    pe, ps = pd.Timestamp(p.end_ts), pd.Timestamp(p.start_ts)
    judged = (d.received_at < pe) & ~((d.finished_at < ps) & (d.received_at < ps))
    changed = (d[["received_at", "finished_at", "returned_at", "last_event"]].max(axis=1) >= pe)
    expected = set(d[judged & (changed | ~d.dossier_code.isin(kept))].dossier_code)
    assert active == expected
    assert 0 < len(active) < 0.5 * judged.sum()          # most of what October judges is read, not judged
    # and an open dossier never has a fact: its judgement depends on the day
    n_open = con.execute("SELECT count(*) FROM dossier_facts WHERE end_at IS NULL").fetchone()[0]
    con.close()
    assert n_open == 0


def test_a_store_without_facts_gives_the_same_figures(sample_store, tmp_path, monkeypatch):
    """A store made before the facts (opened read-only, never written) judges every dossier at the period
    end, as it always did: the same figures."""
    monkeypatch.setenv("KPI_CACHE", "0")
    old = tmp_path / "old.duckdb"
    shutil.copy(sample_store, old)
    con = connect(old)
    con.execute("DROP TABLE dossier_facts")
    con.close()
    a = kpi.scores("2026-10", store=old).sort_values(["unit_code", "metric_code"]).reset_index(drop=True)
    b = kpi.scores("2026-10", store=sample_store).sort_values(["unit_code", "metric_code"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    con = duckdb.connect(str(old), read_only=True)
    assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'dossier_facts'").fetchone()[0]
    con.close()


def test_a_days_export_recomputes_the_facts_of_the_dossiers_it_touches(sample_store, sample_dir, tmp_path):
    """An open dossier finished in the next day's export gets its fact; the others stay as they were."""
    store = tmp_path / "s.duckdb"
    shutil.copy(sample_store, store)
    before = _facts(store)
    con = duckdb.connect()
    opts = "header=true, all_varchar=true"
    con.execute(f"CREATE VIEW d AS SELECT * FROM read_csv('{sample_dir / 'dossiers.csv'}', {opts})")
    code = con.execute("SELECT dossier_code FROM d WHERE finished_at IS NULL AND returned_at IS NULL "
                       "AND received_at >= '2026-11-15' ORDER BY dossier_code LIMIT 1").fetchone()[0]
    assert code not in set(before.dossier_code)
    day = tmp_path / "day"
    day.mkdir()
    con.execute(f"COPY (SELECT * REPLACE ('2026-11-20 16:00:00' AS finished_at, '2' AS status) FROM d "
                f"WHERE dossier_code = '{code}') TO '{day / 'dossiers.csv'}' (HEADER)")
    con.close()
    (day / "dossier_events.csv").write_text(
        f"dossier_code,seq,event,at\n{code},99,finished,2026-11-20 16:00:00\n", encoding="utf-8")
    _load(store, [day])
    after = _facts(store)
    assert code in set(after.dossier_code)
    row = after[after.dossier_code == code].iloc[0]
    assert row.end_kind == "finished" and str(row.end_at) == "2026-11-20 16:00:00"
    others = after[after.dossier_code != code].reset_index(drop=True)
    cols = [c for c in before.columns if c not in ("_file", "_line")]
    pd.testing.assert_frame_equal(others[cols], before[cols])
    pd.testing.assert_frame_equal(after, _rebuilt(store, tmp_path))


def test_facts_judged_a_chunk_at_a_time_equal_one_pass(sample_store, tmp_path, monkeypatch):
    """A large province's facts are judged a few hundred thousand dossiers at a time (bounded memory):
    the same facts as judging all at once."""
    store = tmp_path / "chunked.duckdb"
    shutil.copy(sample_store, store)
    monkeypatch.setattr(facts, "CHUNK", 700)
    con = connect(store)
    n = con.execute("SELECT count(*) FROM dossiers").fetchone()[0]
    assert n > 5 * 700
    facts.rebuild(con)
    con.close()
    pd.testing.assert_frame_equal(_facts(store), _facts(sample_store))


def test_chunks_equal_one_pass_with_events_scattered_and_dossiers_without_events(sample_store, tmp_path, monkeypatch):
    """Judged a chunk at a time, with the events written in another order (a dossier's events scattered over the
    table, as daily exports leave them) and dossiers without any event, the facts are those of judging every
    dossier at once."""
    store = tmp_path / "scattered.duckdb"
    shutil.copy(sample_store, store)
    con = connect(store)
    silent = [r[0] for r in con.execute("SELECT dossier_code FROM dossiers ORDER BY dossier_code LIMIT 40").fetchall()]
    con.execute("DELETE FROM dossier_events WHERE dossier_code IN (SELECT unnest(?))", [silent])
    con.execute("CREATE TEMP TABLE shuffled AS SELECT * FROM dossier_events ORDER BY hash(dossier_code, seq)")
    con.execute("DELETE FROM dossier_events")
    con.execute("INSERT INTO dossier_events SELECT * FROM shuffled")
    facts.macros(con)
    facts._build(con, "true")                       # every dossier, reading all the events at once
    every = con.execute(f"SELECT * FROM ({facts.FACT}) ORDER BY dossier_code").df()
    monkeypatch.setattr(facts, "CHUNK", 700)
    facts.rebuild(con)
    con.close()
    got = _facts(store)
    assert len(got) > 5 * 700 and set(silent) & set(got.dossier_code)
    pd.testing.assert_frame_equal(got[every.columns], every)
    assert not got.equals(_facts(sample_store))         # the silent dossiers are judged without their events


def test_facts_made_by_other_code_are_never_read_and_the_next_load_makes_them_again(sample_store, sample_dir,
                                                                                   tmp_path, monkeypatch):
    """Facts kept by another release's judgement (facts_source) are not read — every dossier is judged at
    the period end — and the next load rebuilds them. Shown with facts made wrong on purpose: read while
    they are this code's, ignored once they say they are another's."""
    monkeypatch.setenv("KPI_CACHE", "0")
    store = tmp_path / "kpi.duckdb"
    shutil.copy(sample_store, store)
    order = ["unit_code", "metric_code"]
    figures = lambda: (kpi.scores("2026-10", store=store).drop(columns="unit_name")      # (a unit is renamed below)
                       .sort_values(order).reset_index(drop=True))
    right = figures()
    con = connect(store)
    assert con.execute("SELECT list(version) FROM facts_source").fetchone()[0] == [facts.version()]
    con.execute("UPDATE dossier_facts SET late = NOT late")
    con.close()
    assert not figures().equals(right)                   # this code's facts are read
    con = connect(store)
    con.execute("UPDATE facts_source SET version = 'another-release'")
    con.close()
    pd.testing.assert_frame_equal(figures(), right)      # another code's are not
    units = pd.read_csv(sample_dir / "units.csv", dtype=str, keep_default_na=False)
    units.loc[units.index[-1], "unit_name"] += " (đổi tên)"
    (tmp_path / "units").mkdir()
    units.to_csv(tmp_path / "units" / "units.csv", index=False)
    con = connect(store)
    load_paths(con, [tmp_path / "units"], progress=False)
    assert con.execute("SELECT list(version) FROM facts_source").fetchone()[0] == [facts.version()]
    con.close()
    pd.testing.assert_frame_equal(_facts(store), _rebuilt(store, tmp_path))
    pd.testing.assert_frame_equal(figures(), right)


def _flip(store, codes):
    """Facts made wrong on purpose (`late` turned over): a fact a load judges again comes back right, one it
    leaves alone stays wrong — what shows which dossiers a load judged again."""
    con = duckdb.connect(str(store))
    con.execute("UPDATE dossier_facts SET late = NOT late WHERE list_contains(?, dossier_code)", [list(codes)])
    con.close()


def _catalogue(sample_dir, folder, change=None):
    """The sample's procedure catalogue as a file of its own, with `change` (code → time limit) applied."""
    folder.mkdir()
    procs = pd.read_excel(sample_dir / "procedures.xlsx", dtype=str)
    for code, limit in (change or {}).items():
        procs.loc[procs["Mã TTHC"] == code, "Thời hạn giải quyết"] = f"{limit:g}"
    procs.to_csv(folder / "procedures.csv", index=False)
    return folder


def test_a_catalogue_sent_again_judges_again_only_the_dossiers_of_a_changed_time_limit(sample_store, sample_dir,
                                                                                     tmp_path):
    """Exports often carry the whole procedure catalogue. Sent again unchanged it judges no dossier again;
    with one procedure's time limit changed, that procedure's dossiers — and only they — are judged again:
    the same facts as a full rebuild (before, every fact of the province was made again)."""
    store = tmp_path / "s.duckdb"
    shutil.copy(sample_store, store)
    before = _facts(store)
    # the procedure with the most dossiers, one of them, and a dossier of another procedure
    changed = before.procedure_code.value_counts().index[0]
    mine = before[before.procedure_code == changed].dossier_code.iloc[0]
    other = before[before.procedure_code != changed].dossier_code.iloc[0]
    _flip(store, [mine, other])
    _load(store, [_catalogue(sample_dir, tmp_path / "same")])
    after = _facts(store)
    assert (after.late != before.late).sum() == 2          # nothing judged again: both still wrong
    limit = float(before[before.procedure_code == changed].max_processing_time.iloc[0])
    _load(store, [_catalogue(sample_dir, tmp_path / "shorter", {changed: limit + 3})])
    after = _facts(store)
    assert set(after[after.procedure_code == changed].max_processing_time) == {limit + 3}
    assert (after.late != before.late).sum() == 1          # its dossier judged again, the other one not
    assert after[after.dossier_code == other].late.iloc[0] != before[before.dossier_code == other].late.iloc[0]
    _flip(store, [other])
    pd.testing.assert_frame_equal(_facts(store), _rebuilt(store, tmp_path))


def test_a_changed_calendar_judges_again_the_dossiers_whose_days_it_reaches(sample_store, sample_dir, tmp_path,
                                                                          monkeypatch):
    """A day off announced late (or a swapped day) moves the working-day index from that day on: the dossiers
    whose receipt, end or due date falls on or after it are judged again — the same facts as a full rebuild
    with the new calendar — and a dossier whose days are all earlier keeps its fact."""
    import kpi.calendar as cal
    store = tmp_path / "s.duckdb"
    shutil.copy(sample_store, store)
    before = _facts(store)
    day = pd.Timestamp("2026-10-14")          # a Wednesday in the sample's months
    last = before[["received_at", "end_at", "due_at"]].max(axis=1)
    spanning = before[(before.received_at < day) & (before.effective_end >= day + pd.Timedelta(days=1))]
    earlier = before[last < day].dossier_code.iloc[0]
    inside = spanning.dossier_code.iloc[0]
    _flip(store, [earlier, inside])
    off = tmp_path / "lich.csv"
    off.write_text(f"date,working\n{day:%Y-%m-%d},0\n", encoding="utf-8")
    units = tmp_path / "units"
    units.mkdir()
    shutil.copy(sample_dir / "units.csv", units / "units.csv")
    monkeypatch.setenv("KPI_CALENDAR_OVERRIDES", str(off))
    cal._table.cache_clear()
    try:
        con = connect(store)
        report = load_paths(con, [units], progress=False)
        con.close()
        assert report.calendar_changed == [day.date()]
        after = _facts(store)
        assert after[after.dossier_code == earlier].late.iloc[0] != before[before.dossier_code == earlier].late.iloc[0]
        assert after[after.dossier_code == inside].late.iloc[0] == _rebuilt(store, tmp_path).set_index(
            "dossier_code").late[inside]
        moved = after.set_index("dossier_code").effective_wd[spanning.dossier_code]
        assert (moved == spanning.set_index("dossier_code").effective_wd - 1).all()   # one working day fewer
        _flip(store, [earlier])
        pd.testing.assert_frame_equal(_facts(store), _rebuilt(store, tmp_path))
    finally:
        monkeypatch.delenv("KPI_CALENDAR_OVERRIDES")
        cal._table.cache_clear()


def test_a_load_judging_many_chunks_keeps_the_facts_of_one_pass(sample_store, sample_dir, tmp_path, monkeypatch):
    """A load of more dossiers than a chunk judges them a chunk at a time inside its transaction, over the rows it
    has not yet committed: the same facts and spans as judging them in one pass."""
    monkeypatch.setattr(facts, "CHUNK", 700)
    store = tmp_path / "chunked_load.duckdb"
    con = connect(store)
    load_paths(con, [sample_dir], progress=False)
    assert con.execute("SELECT count(*) FROM dossiers").fetchone()[0] > 5 * 700
    con.close()
    pd.testing.assert_frame_equal(_facts(store), _facts(sample_store))
    pd.testing.assert_frame_equal(_spans(store), _spans(sample_store))


def test_the_loads_checkpoint_lets_its_process_read_a_table_it_remade(tmp_path):
    """DuckDB 2.0: a table made and then filled by a large insert from a table (a row group, 122 880 rows, or
    more) in one transaction reads as empty in its process — after the commit too — until a CHECKPOINT. A load's
    rebuild remakes dossier_facts and dossier_spans so; the CHECKPOINT after its commit (`stamp_loaded`) is what
    lets the same process (a notebook that loads, then counts; a second load that replaces some facts) read them."""
    from kpi.store import stamp_loaded
    con = connect(tmp_path / "kpi.duckdb")
    con.execute("CREATE TABLE src AS SELECT range AS x, 'HS' || range AS code FROM range(130000)")
    con.execute("BEGIN")
    con.execute("CREATE OR REPLACE TABLE remade AS SELECT * FROM src LIMIT 0")
    con.execute("INSERT INTO remade SELECT * FROM src")
    con.execute("COMMIT")
    joined = "SELECT count(*) FROM remade r JOIN src s USING (code)"
    assert con.execute(joined).fetchone() == (0,)            # DuckDB's: the rows are there, a join reads none
    stamp_loaded(con)
    assert con.execute(joined).fetchone() == (130000,)
    con.close()
