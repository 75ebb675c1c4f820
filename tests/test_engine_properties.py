"""Properties on the sample province: bounds, roll-up = recount, monotonicity, all grade bands."""

import duckdb
import pandas as pd
import pytest

import kpi
from kpi.analysis.api import session
from kpi.count import engine as engine_module
from kpi.count.engine import available_metrics, one_row_per_entity
from kpi.periods import parse
from kpi.store import connect

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def sample_scores(sample_store):
    return kpi.scores(PERIOD, store=sample_store)


def test_rates_and_points_within_bounds(sample_scores):
    s = sample_scores[sample_scores.metric_code != "AVG_PROCESSING_TIME"]
    rates = s.rate.dropna().astype(float)
    assert ((rates >= 0) & (rates <= 100)).all()
    p = s.dropna(subset=["points"])
    assert ((p.points >= 0) & (p.points <= p.max_points)).all()
    assert (s.numerator <= s.denominator).all()


def test_subtree_is_a_recount_of_the_union(sample_store):
    """For dossier metrics a unit's sub-tree figure counts exactly the dossiers of all units below it:
    Σ own counts, never a mean of the children's rates (districts before 7/2025 are checked on the
    hand-worked province: test_subtree_of_district_before_merger)."""
    own = kpi.scores(PERIOD, store=sample_store)
    sub = kpi.scores(PERIOD, store=sample_store, scope="subtree")
    con = connect(sample_store, read_only=True)
    tree = con.execute("SELECT unit_code, parent_code, level FROM units").df()
    con.close()

    def below(code):
        kids = list(tree[tree.parent_code == code].unit_code)
        return kids + [k2 for k in kids for k2 in below(k)]
    parents = [u for u in tree.unit_code if below(u) and u in set(own.unit_code)]
    prov = tree[tree.level == "province"].unit_code.iloc[0]
    assert parents
    for code in ("ON_TIME", "DOSSIER_SYNC", "ONLINE_SUBMISSION", "PAID_ONLINE"):
        o = own[own.metric_code == code].set_index("unit_code")
        s = sub[sub.metric_code == code].set_index("unit_code")
        for parent in parents:
            own_row = [] if parent == prov else [parent]      # the province's own row is already its whole tree
            members = [u for u in below(parent) + own_row if u in o.index]
            if code == "DOSSIER_SYNC":   # raised to the national report's count where that is larger
                assert s.loc[parent, "numerator"] == o.loc[members, "numerator"].sum()
                continue
            assert s.loc[parent, "denominator"] == o.loc[members, "denominator"].sum()
            assert s.loc[parent, "numerator"] == o.loc[members, "numerator"].sum()
        prov = tree[tree.level == "province"].unit_code.iloc[0]
        others = [u for u in o.index if u != prov]
        total = o.loc[others, "denominator"].sum()
        if code == "DOSSIER_SYNC":   # denominators are raised per scope (national report, last year's
            assert o.loc[prov, "numerator"] == o.loc[others, "numerator"].sum()   # average), numerators add up
        else:
            assert o.loc[prov, "denominator"] == total
            assert o.loc[prov, "numerator"] == o.loc[others, "numerator"].sum()


def test_marking_a_dossier_on_time_never_lowers_points(store_copy):
    before = kpi.scores(PERIOD, store=store_copy, include_tracked=False)
    ev = kpi.evidence("ON_TIME", None, PERIOD, store=store_copy)
    late = ev[~ev.in_numerator & ev.finished_at.notna()].head(5)
    assert len(late) > 0
    con = duckdb.connect(str(store_copy))
    for code in late.entity:
        con.execute("UPDATE dossiers SET finished_at = received_at + INTERVAL 1 HOUR, due_at = received_at "
                    "+ INTERVAL 3 DAY WHERE dossier_code = ?", [code]).fetchall()
        con.execute("DELETE FROM dossier_events WHERE dossier_code = ? AND event LIKE 'supplement%'", [code]).fetchall()
    con.close()
    after = kpi.scores(PERIOD, store=store_copy, include_tracked=False)
    key = ["unit_code", "metric_code"]
    m = before.merge(after, on=key, suffixes=("_b", "_a"))
    ot = m[m.metric_code == "ON_TIME"]
    assert (ot.points_a.astype(float) >= ot.points_b.astype(float) - 1e-12).all()
    assert (ot.points_a.astype(float) > ot.points_b.astype(float)).any()


def test_sample_shows_every_grade_band(sample_store):
    t = kpi.totals(PERIOD, store=sample_store, compare=False)
    graded = t[t.grade.notna()]
    assert set(graded.grade_label) == {"Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"}
    assert set(t[t.grade.isna()].grade_label) <= {"Không có hồ sơ"}


@pytest.mark.parametrize("store_name", ["sample_store", "hw"])
def test_one_row_per_entity_is_true_of_the_files_that_say_it(store_name, request):
    """A metric file that says `-- one row per entity` is counted without DISTINCT (kpi/count/engine.py):
    on the sample and the hand-worked province, for a month, a quarter, a range and the year, each of its
    entities has one evidence row, and that row's unit is the entity's only unit."""
    store = request.getfixturevalue(store_name)
    claimed = [c for c in available_metrics() if one_row_per_entity(c)]
    assert "ON_TIME" in claimed and "ONLINE_PROVISION" not in claimed and len(claimed) >= 20
    con = connect(store, read_only=True)
    first, last = con.execute("SELECT min(received_at), max(received_at) FROM dossiers").fetchone()
    con.close()
    periods = [f"{last:%Y-%m}", f"{last.year}-Q{(last.month - 1) // 3 + 1}", f"{first:%Y-%m-%d}..{last:%Y-%m-%d}",
               f"{last.year}"]
    with session(store) as e:
        for label in periods:
            for code in claimed:
                ev = e.evidence(code, parse(label))
                dup = ev[ev.duplicated("entity", keep=False)]
                assert dup.empty, f"{code} {label}: {len(dup)} rows share an entity, e.g. {dup.head(3).to_dict('records')}"


@pytest.mark.parametrize("profile,mode,merged,rows_per_pass", [(None, "own", True, 3_000_000),
                                                               ("mo-ta-cong-thuc", "subtree", False, 3_000_000),
                                                               (None, "own", False, 1_500)])
def test_periods_counted_together_equal_each_counted_alone(sample_store, profile, mode, merged, rows_per_pass,
                                                          monkeypatch):
    """A trend's periods counted in one pass (`count_periods`: the explorer) give, period by period, exactly
    the counts of each period counted alone — months, a quarter, a range and the running month as of the
    data's last day, every metric of the profile (adjusted and variant ones too); and so do they when a
    bigger province's trend is split into several passes (`ROWS_PER_PASS`)."""
    monkeypatch.setattr(engine_module, "ROWS_PER_PASS", rows_per_pass)
    con = connect(sample_store, read_only=True)
    last = con.execute("SELECT max(received_at) FROM dossiers").fetchone()[0]
    con.close()
    labels = [str(pd.Period(last, "M") - k) for k in range(6, 0, -1)]
    periods = [parse(x) for x in labels] + [parse(f"{last:%Y-%m}", last.date()), parse("2026-Q3"),
                                            parse("2026-08-10..2026-09-20")]
    with session(sample_store, profile=profile) as e:
        codes = [c for c in e.profile["metrics"] if c in set(available_metrics())]
        assert (len(e.passes(periods)) == 1) == (rows_per_pass > 1_000_000)
        assert len(e.passes(periods)) >= (1 if rows_per_pass > 1_000_000 else 3)
        together = e.count_periods(codes, periods, mode, merged)
        for p, t in zip(periods, together):
            alone = e.count_periods(codes, [p], mode, merged)[0]
            key = ["scope_code", "metric_code"]
            pd.testing.assert_frame_equal(t.sort_values(key).reset_index(drop=True),
                                          alone.sort_values(key).reset_index(drop=True), obj=p.label,
                                          check_dtype=False)
        assert sum(len(t) for t in together) > 1000


@pytest.mark.parametrize("second", ["mo-ta-cong-thuc", {"feedback_answer_working_days": 10,
                                                        "publish_lead_working_days": 3}])
def test_counts_kept_for_one_profile_serve_another_exactly(sample_store, second):
    """The explorer keeps the metrics' counts before a profile reads them (`Engine.counted`) and reuses them
    when the profile changes: another profile's counts made from them equal that profile counting alone.
    Counts its SQL reads the profile for (a working-day limit) are counted again, the others are not."""
    periods = [parse("2026-08"), parse("2026-09"), parse("2026-Q3")]
    kept: dict = {}
    with session(sample_store) as e:
        e.counted = kept
        e.count_periods([c for c in e.profile["metrics"] if c in set(available_metrics())], periods, "own", True)
    first_keys = set(kept)
    with session(sample_store, profile=second) as e:
        codes = [c for c in e.profile["metrics"] if c in set(available_metrics())]
        e.counted = kept
        reused = e.count_periods(codes, periods, "own", True)
        recounted = {k[4] for k in set(kept) - first_keys}
        assert (set(e._ready) <= set(engine_module.BASE_FILES)) == (not recounted)   # nothing counted: no working table made
    # the same limits: nothing counted again; other limits (read by the working tables): counted again
    assert bool(recounted) == (not isinstance(second, str))
    with session(sample_store, profile=second) as e:
        alone = e.count_periods(codes, periods, "own", True)
    key = ["scope_code", "metric_code"]
    for p, r, a in zip(periods, reused, alone):
        pd.testing.assert_frame_equal(r.sort_values(key).reset_index(drop=True),
                                      a.sort_values(key).reset_index(drop=True), obj=p.label, check_dtype=False)
    assert sum(len(r) for r in reused) > 1000


def test_working_tables_a_metric_reads_are_found_in_its_sql():
    """Each metric's SQL makes the working tables it names, those they read, and the unit tree — no more:
    checked by hand for metrics reading none, one, and two files' tables."""
    def files(code):
        return [f.split("/")[1][:2] for f in engine_module.files_reading(engine_module.sql_text(
            engine_module.metric_file(code)))]
    assert files("DOSSIER_SYNC") == ["00", "01"]
    assert files("ON_TIME") == ["00", "01", "03"]
    assert files("PUBLISH_ON_TIME") == ["00", "01", "02", "04"]
    assert files("PETITION_PROCESSING_ON_TIME") == ["00", "01", "05"]
    assert files("STAFF_CONDUCT") == ["00", "01", "03", "05"]


def test_a_count_makes_only_the_working_tables_its_metrics_read(sample_store):
    """Counting metrics that read no dossier judgement makes no `_dossier_eval` (the costly table); counting one
    that does then makes it for the same periods; the counts equal those of a session that made every table."""
    periods = [parse("2026-09"), parse("2026-10")]
    codes = ["DOSSIER_SYNC", "ONLINE_SUBMISSION", "PAID_ONLINE"]
    with session(sample_store) as e:
        light = e.count_periods(codes, periods)
        temp = {r[0] for r in e.con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'temp'").fetchall()}
        assert "_dossier_eval" not in temp and "_feedback_eval" not in temp and "_closure" in temp
        on_time = e.count_periods(["ON_TIME"], periods)
        assert "_prepare/03_dossier_eval.sql" in e._ready and "_prepare/05_feedback_eval.sql" not in e._ready
    with session(sample_store) as e:
        e.prepare(periods)
        assert set(e._ready) == set(engine_module._prepare_files())
        full = e.count_periods(codes + ["ON_TIME"], periods)
    key = ["scope_code", "metric_code"]
    for p, a, b, f in zip(periods, light, on_time, full):
        pd.testing.assert_frame_equal(pd.concat([a, b]).sort_values(key).reset_index(drop=True),
                                      f.sort_values(key).reset_index(drop=True), obj=p.label, check_dtype=False)
        assert (b.numerator > 0).any() and (a.denominator > 0).any()


def test_counts_by_unit_from_lean_tables_equal_those_from_whole_ones(sample_store):
    """A count by unit makes the judged dossiers without their per-step lists (`LEAN`: NULL there) — and gives
    exactly the counts made from the whole tables, every metric of both shipped profiles; officials' figures
    counted afterwards on the same periods remake the tables whole and equal a fresh count of them."""
    periods = [parse("2026-08"), parse("2026-09"), parse("2026-Q3")]
    key = ["scope_code", "metric_code"]
    for profile in (None, "mo-ta-cong-thuc"):
        with session(sample_store, profile=profile) as e:
            codes = [c for c in e.profile["metrics"] if c in set(available_metrics())]
            lean = e.count_periods(codes, periods, "own", True)
            nulls = e.con.execute("SELECT count(*) FILTER (WHERE step_officials IS NOT NULL), count(*) "
                                  "FROM _dossier_eval").fetchone()
            assert nulls[0] == 0 and nulls[1] > 1000
            official_codes = [c for c in e.profile["official"]["metrics"] if c in codes]
            by_official = e.count_by_codes(official_codes, periods[:2], by="official")
            assert e.con.execute("SELECT count(*) FROM _dossier_eval WHERE step_officials IS NOT NULL").fetchone()[0]
        with session(sample_store, profile=profile) as e:
            e.lean = False
            whole = e.count_periods(codes, periods, "own", True)
            assert e.con.execute("SELECT count(*) FROM _dossier_eval WHERE len(step_officials) > 0").fetchone()[0]
        with session(sample_store, profile=profile) as e:
            fresh = e.count_by_codes(official_codes, periods[:2], by="official")
        for p, a, b in zip(periods, lean, whole):
            pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                          b.sort_values(key).reset_index(drop=True), obj=p.label, check_dtype=False)
        for p, a, b in zip(periods, by_official, fresh):
            pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                          b.sort_values(key).reset_index(drop=True), obj=p.label, check_dtype=False)
            assert (a.numerator > 0).sum() > 10


@pytest.mark.parametrize("merged,unit", [(True, None), (False, None), (False, "H44.06")])
def test_scores_of_many_periods_scored_at_once_equal_each_alone(sample_store, monkeypatch, merged, unit):
    """`scores_many` scores its periods' counts in one frame; period by period that is exactly `scores_with` of the
    period alone (counted and scored by itself: nothing remembered) — for today's units and the period's own,
    every unit and one."""
    from kpi.analysis.api import scores_many, scores_with
    monkeypatch.setenv("KPI_CACHE", "0")
    periods = [parse(x) for x in ("2026-08", "2026-09", "2026-10", "2026-Q3")] + \
        [parse("2026-11", parse("2026-11").start + pd.Timedelta(days=9))]
    with session(sample_store) as e:
        many = scores_many(e, periods, unit=unit, merged=merged)
    for p, s in zip(periods, many):
        with session(sample_store) as e:
            alone = scores_with(e, p.label, as_of=p.as_of, unit=unit, merged=merged)
        pd.testing.assert_frame_equal(s, alone, obj=p.label)
        assert s.numerator.fillna(0).gt(0).sum() > (5 if unit else 500)


def test_totals_of_many_periods_at_once_equal_each_alone(sample_store):
    """`totals_many` (the explorer's trend: the groups of every period worked out in one pass) gives, period by
    period, exactly `totals_with` of that period alone — months, a quarter and the running month as of a day."""
    from kpi.analysis.api import scores_many, totals_many, totals_with
    periods = [parse(x) for x in ("2026-07", "2026-08", "2026-09", "2026-10", "2026-Q3")] + \
        [parse("2026-11", parse("2026-11").start + pd.Timedelta(days=9))]
    with session(sample_store) as e:
        scored = scores_many(e, periods, merged=True, include_tracked=False)
        many = totals_many(e, periods, scored, merged=True)
        for p, s, t in zip(periods, scored, many):
            alone = totals_with(e, p.label, as_of=p.as_of, merged=True, compare=False, scores=s)
            pd.testing.assert_frame_equal(t, alone, obj=p.label)
            assert t.total.notna().sum() > 50 and t["rank"].notna().any()
