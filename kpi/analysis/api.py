"""The public API: scores, totals, evidence — tidy frames over the store."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pandas as pd

from kpi import labels
from kpi.count.engine import Engine, available_metrics
from kpi.periods import Period, parse
from kpi.schema import PERSONAL_COLUMNS
from kpi.count.scoring import grade, group_points, load_profile, rank_min, score_frame
from kpi.store import REFERENCE_TABLE, StoreError, connect, run
from kpi.analysis import cache
from kpi.numbers import fmt_date

SCORE_COLUMNS = ["period", "unit_code", "unit_name", "group_code", "metric_code", "numerator", "denominator",
                 "rate", "points", "max_points"]


class ScopeError(ValueError):
    """Unknown unit, official or procedure (a user error, exit code 2 on the CLI)."""


@contextmanager
def session(store=None, con=None, profile=None):
    """An Engine on an open store connection (opened read-only here unless one is given)."""
    own = con is None
    if own:
        con = connect(store, read_only=True)
    try:
        if run(con, "SELECT count(*) FROM dossiers")[0][0] == 0 and run(con, "SELECT count(*) FROM units")[0][0] == 0:
            raise StoreError("kho dữ liệu trống — hãy chạy `kpi load data/raw` trước.")
        yield Engine(con, load_profile(profile))
    finally:
        if own:
            con.close()


def _as_date(x) -> dt.date | None:
    if x is None or isinstance(x, dt.date) and not isinstance(x, dt.datetime):
        return x
    return pd.Timestamp(x).date()


def _units_frame(engine: Engine, period: Period, merged: bool) -> pd.DataFrame:
    u = engine.con.execute("SELECT unit_code, unit_name, parent_code, level, valid_from, valid_to, successor_code "
                           "FROM units ORDER BY unit_code").df()
    if engine.extract:         # the units above an extract's unit are there for their names only
        u = u[u.unit_code.isin(engine.extract["units"])]
    if merged:
        return u[u.valid_to.isna()].reset_index(drop=True)
    start, last = pd.Timestamp(period.start), pd.Timestamp(period.effective_last)
    vf = pd.to_datetime(u.valid_from).fillna(pd.Timestamp("1900-01-01"))
    vt = pd.to_datetime(u.valid_to).fillna(pd.Timestamp("2999-12-31"))
    return u[(vf <= last) & (vt >= start)].reset_index(drop=True)


def metric_codes(prof: dict, include_tracked: bool, official: bool = False) -> list[str]:
    """The metrics a profile counts for units (include_tracked=False: those carrying points), or for officials."""
    codes = [c for c in prof["metrics"] if c in set(available_metrics())]
    if official:
        return [c for c in prof["official"]["metrics"] if c in codes]
    codes = [c for c in codes if not prof["metrics"][c].get("official_only")]
    if not include_tracked:
        codes = [c for c in codes if float(prof["metrics"][c].get("max", 0)) > 0]
    return codes


def check_unit(engine: Engine, unit: str) -> None:
    x = engine.extract
    if not x and not run(engine.con, "SELECT 1 FROM units WHERE unit_code = ?", [unit]):
        raise ScopeError(f"không có đơn vị '{unit}' trong kho — xem danh sách bằng `kpi status` hoặc bảng units")
    if x and unit not in x["units"]:
        raise ScopeError(f"đơn vị '{unit}' không thuộc kho trích này (kho trích cho {x['unit_name']}, "
                         f"{x['unit_code']}) — hỏi Văn phòng UBND tỉnh kho trích của đơn vị đó, hoặc dùng kho của tỉnh")


def refuse_in_extract(engine: Engine, what: str) -> None:
    """A one-line refusal for what speaks for the whole province (the publication, the province's report)."""
    x = engine.extract
    if x:
        raise ScopeError(f"{what} nói thay cho cả tỉnh — kho trích cho {x['unit_name']} ({x['unit_code']}) không "
                         "làm được; chạy trên kho của tỉnh")


def holds_personal(engine: Engine) -> bool:
    """Whether the store holds applicants' personal data: an extract made without it does not."""
    return not (engine.extract and not engine.extract["personal"])


def check_personal(engine: Engine, personal: bool) -> None:
    """Personal data only on purpose: asked for explicitly, and only where the store holds it."""
    if personal and not holds_personal(engine):
        raise ScopeError(f"kho trích cho {engine.extract['unit_name']} không gồm dữ liệu cá nhân của người nộp — "
                         "bỏ allow_personal/personal, hoặc xin Văn phòng UBND tỉnh kho trích có dữ liệu cá nhân")


def default_unit(engine: Engine, unit: str | None) -> str | None:
    """The unit a question is about when none is named: an extract's own unit, else None (the province)."""
    return unit or (engine.extract["unit_code"] if engine.extract else None)


def data_range(con) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first dossier received and the latest timestamp in the data (dossiers and their events)."""
    first, last = run(con, "SELECT min(received_at), max(greatest(received_at, finished_at, returned_at)) "
                           "FROM dossiers")[0]
    ev = run(con, "SELECT max(\"at\") FROM dossier_events")[0][0]
    return first, max((x for x in (last, ev) if x is not None), default=None)


def last_complete_month(con) -> str:
    """The latest month whose data is complete: the month before the newest dossier's month,
    unless that dossier came on the month's last day."""
    newest = run(con, "SELECT max(received_at) FROM dossiers")[0][0]
    if newest is None:
        raise ScopeError("kho chưa có hồ sơ nào — hãy nạp dữ liệu trước")
    d = newest.date()
    month_end = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    if d == month_end:
        return f"{d:%Y-%m}"
    prev = d.replace(day=1) - dt.timedelta(days=1)
    return f"{prev:%Y-%m}"


def check_period(con, period, as_of=None, complete: bool = False) -> Period:
    """A period the data can answer: not after the data's last timestamp nor before its first dossier
    (a one-line error naming the data's range), nor as of a day after the data's last one; `complete`: a
    period still running at the end of the data needs an as-of date (the figure of that day)."""
    p = parse(period, _as_date(as_of))
    first, last = data_range(con)
    if first is None:
        raise StoreError("kho dữ liệu chưa có hồ sơ nào — hãy chạy `kpi load data/raw` trước.")
    span = f"dữ liệu có từ {fmt_date(first)} đến {fmt_date(last)}"
    if p.start > last.date() or p.last < first.date():
        raise ScopeError(f"kỳ {p.label} nằm ngoài dữ liệu ({span}) — chọn kỳ trong khoảng này")
    if p.as_of and p.effective_last > last.date():
        # a day the data never saw: open dossiers would be judged late on data that stops before it
        raise ScopeError(f"ngày tính {p.as_of:%d/%m/%Y} sau ngày cuối của dữ liệu ({fmt_date(last)}) — dùng "
                         f"--as-of {last.date():%Y-%m-%d} hoặc nạp dữ liệu mới hơn trước")
    if complete and not p.as_of and p.last > last.date():
        raise ScopeError(f"kỳ {p.label} chưa kết thúc trong dữ liệu ({span}) — thêm --as-of "
                         f"{last.date():%Y-%m-%d} để tính đến ngày đó, hoặc chọn kỳ đã kết thúc")
    return p


def scores_with(engine: Engine, period, scope: str = "unit", unit: str | None = None, subtree: bool = False,
                as_of=None, merged: bool = False, include_tracked: bool = True, official: str | None = None,
                procedure: str | None = None) -> pd.DataFrame:
    """Tidy scores for one period (see `scores`). Remembered for the life of the process, keyed by the
    store's data version and the profile (see `kpi.cache`): asking again — a widget moved back, a report's
    previous period — costs nothing, and a load or another profile is never answered from memory."""
    p = parse(period, _as_date(as_of))
    if not include_tracked and scope in ("unit", "subtree") and not (official or procedure):
        # the scored metrics: the full scores' rows where those are at hand (a report's scores and totals
        # counted once), else only the metrics that carry points counted
        return scores_many(engine, [p], "unit", unit, subtree or scope == "subtree", merged, False)[0]
    key = cache.key(engine, p, *_scores_parts(scope, unit, subtree, merged, include_tracked, official, procedure))
    return cache.remember(key, lambda: _scores_computed(engine, p, scope, unit, subtree, merged, include_tracked,
                                                        official, procedure))


def _scores_computed(engine, p, scope, unit, subtree, merged, include_tracked, official, procedure):
    if unit:
        check_unit(engine, unit)
    if scope == "official" or official:
        return _official_scores(engine, p, official, unit)
    if scope == "procedure" or procedure:
        return _procedure_scores(engine, p, unit, procedure, include_tracked)
    mode = "subtree" if (subtree or scope == "subtree") else "own"
    codes = metric_codes(engine.profile, include_tracked)
    counts = engine.count_units(codes, p, mode=mode, merged=merged)
    return _unit_scores(engine, p, codes, counts, unit, merged)


def _unit_scores(engine, p: Period, codes: list[str], counts: pd.DataFrame, unit: str | None,
                 merged: bool) -> pd.DataFrame:
    """Every unit of the period (or `unit` alone) × every metric, scored from the counts."""
    return _unit_scores_many(engine, [p], codes, [counts], unit, merged)[0]


def _unit_scores_many(engine, periods: list[Period], codes: list[str], counted: list[pd.DataFrame],
                      unit: str | None, merged: bool) -> list[pd.DataFrame]:
    """`_unit_scores` of each period, scored in one frame (a trend's twelve months: half the time of twelve
    frames; the arithmetic is row by row, the same)."""
    grids = []
    today = _units_frame(engine, periods[0], True) if merged else None     # merged: whatever the period
    for p, counts in zip(periods, counted):
        units = today if merged else _units_frame(engine, p, merged)
        if unit:
            units = units[units.unit_code == unit]
            if units.empty:
                raise ScopeError(f"đơn vị '{unit}' không tồn tại trong kỳ {p.label}")
        grids.append(_grid(units[["unit_code", "unit_name"]], "unit_code", codes, counts))
    scored = score_frame(pd.concat(grids, ignore_index=True), engine.profile)
    out, at = [], 0
    for p, g in zip(periods, grids):
        s = scored.iloc[at:at + len(g)]
        at += len(g)
        out.append(s.assign(period=p.label)[SCORE_COLUMNS].reset_index(drop=True))
    return out


def scored_only(engine: Engine, s: pd.DataFrame) -> pd.DataFrame:
    """The rows of the metrics that carry points (`include_tracked=False`) of a unit scores frame."""
    return s[s.metric_code.isin(metric_codes(engine.profile, False))].reset_index(drop=True)


def scores_many(engine: Engine, periods: list[Period], scope: str = "unit", unit: str | None = None,
                subtree: bool = False, merged: bool = False, include_tracked: bool = True) -> list[pd.DataFrame]:
    """`scores_with(engine, p, scope, unit, …)` for many periods (a trend, a review's months) — counted in one
    pass over the periods not remembered yet, then remembered each under its own key, as `scores_with`
    does. scope: 'unit' (every unit, or `unit` alone) or 'official' (`unit`: the officials of its tree).
    include_tracked=False: the scored metrics only — from the full scores where those are remembered (a
    report's, `kpi warm`'s), else counting only the metrics that carry points."""
    if unit:
        check_unit(engine, unit)
    versions = cache.versions(engine, periods)
    if include_tracked or scope == "official":
        full = _scores_counted(engine, periods, versions, scope, unit, subtree, merged, True)
        return full if include_tracked else [scored_only(engine, s) for s in full]
    full = [cache.peek(cache.extend(v, *_scores_parts(scope, unit, subtree, merged, True))) for v in versions]
    rest = [i for i, s in enumerate(full) if s is None]
    counted = iter(_scores_counted(engine, [periods[i] for i in rest], [versions[i] for i in rest], scope, unit,
                                   subtree, merged, False))
    return [next(counted) if s is None else scored_only(engine, s) for s in full]


def _scores_parts(scope: str, unit: str | None, subtree: bool, merged: bool, include_tracked: bool,
                  official: str | None = None, procedure: str | None = None) -> tuple:
    """What a period's scores are keyed by besides the period's `cache.versions` (`scores_with` and
    `scores_many` alike, so that either finds what the other remembered)."""
    return "scores", scope, unit, subtree, merged, include_tracked, official, procedure


def _scores_counted(engine: Engine, periods: list[Period], versions: list, scope: str, unit: str | None,
                    subtree: bool, merged: bool, include_tracked: bool) -> list[pd.DataFrame]:
    """`scores_many`'s figures of each period, remembered under its own key (`versions`: the periods'
    `cache.versions`), counted for those not yet."""
    if not periods:
        return []
    keys = [cache.extend(v, *_scores_parts(scope, unit, subtree, merged, include_tracked)) for v in versions]
    known = {i: cache.peek(k) for i, k in enumerate(keys)}
    todo = [i for i, v in known.items() if v is None]
    if todo:
        chosen = [periods[i] for i in todo]
        if scope == "official":
            codes = metric_codes(engine.profile, True, official=True)
            scored = [_official_from_counts(engine, p, codes, counts, unit)
                      for p, counts in zip(chosen, _official_counts(engine, codes, chosen))]
        else:
            codes = metric_codes(engine.profile, include_tracked)
            scored = _unit_scores_many(engine, chosen, codes,
                                       engine.count_periods(codes, chosen, "subtree" if subtree else "own", merged),
                                       unit, merged)
        for i, frame in zip(todo, scored):
            known[i] = cache.put(keys[i], frame)
    return [known[i] for i in range(len(periods))]


def _grid(entities: pd.DataFrame, key: str, codes: list[str], counts: pd.DataFrame) -> pd.DataFrame:
    """Every entity × every metric, with its counts (0 / 0 where nothing was counted)."""
    grid = entities.merge(pd.DataFrame({"metric_code": codes}), how="cross")
    grid = grid.merge(counts.rename(columns={"scope_code": key}), on=[key, "metric_code"], how="left")
    grid["numerator"] = grid.numerator.fillna(0)
    grid["denominator"] = grid.denominator.fillna(0)
    return grid


def _procedure_scores(engine, p, unit, procedure, include_tracked):
    codes = metric_codes(engine.profile, include_tracked)
    counts = pd.concat([engine.count(c, p, by="procedure", units=[unit] if unit else None) for c in codes],
                       ignore_index=True)
    procs = engine.con.execute("SELECT procedure_code, procedure_name FROM procedures").df()
    if procedure:
        if procedure not in set(procs.procedure_code):
            raise ScopeError(f"không có thủ tục '{procedure}' trong kho")
        counts = counts[counts.scope_code == procedure]
    counts = counts.rename(columns={"scope_code": "procedure_code"})
    scored = score_frame(counts, engine.profile).merge(procs, on="procedure_code", how="left")
    scored.insert(0, "period", p.label)
    scored["unit_code"] = unit
    scored["unit_name"] = scored.procedure_name
    return scored[SCORE_COLUMNS + ["procedure_code"]].reset_index(drop=True)


def _official_scores(engine, p, official, unit):
    codes = metric_codes(engine.profile, True, official=True)
    return _official_from_counts(engine, p, codes, _official_counts(engine, codes, [p])[0], unit, official)


def _official_counts(engine, codes: list[str], periods: list[Period]) -> list[pd.DataFrame]:
    """Every official metric's counts per official, a frame per period (every metric and period in one query)."""
    return engine.count_by_codes(codes, periods, by="official")


def _official_from_counts(engine, p: Period, codes: list[str], counts: pd.DataFrame, unit: str | None,
                          official: str | None = None) -> pd.DataFrame:
    """Every official (or one, or those of `unit`'s tree) × every official metric, scored from the counts."""
    offs = engine.con.execute("SELECT o.official_id, o.full_name, o.unit_code, u.unit_name FROM officials o "
                              "LEFT JOIN units u USING (unit_code) ORDER BY o.official_id").df()
    if official:
        if official not in set(offs.official_id):
            raise ScopeError(f"không có cán bộ '{official}' trong kho")
        offs = offs[offs.official_id == official]
    elif unit:
        offs = offs[offs.unit_code.isin(engine.scope_members(unit))]
    scored = score_frame(_grid(offs, "official_id", codes, counts), engine.profile)
    # a metric with nothing to count does not apply to this official: neither earned nor maximum
    scored.loc[scored.denominator == 0, "points"] = pd.NA
    scored.insert(0, "period", p.label)
    return scored[SCORE_COLUMNS + ["official_id", "full_name"]].reset_index(drop=True)


def scores(period, scope: str = "unit", unit: str | None = None, subtree: bool = False, as_of=None,
           profile=None, store=None, con=None, merged: bool = False, include_tracked: bool = True,
           official: str | None = None, procedure: str | None = None) -> pd.DataFrame:
    """Every metric for a period as a tidy frame:
    period, unit_code, unit_name, group_code, metric_code, numerator, denominator, rate, points, max_points.

    scope: 'unit' (each unit's own dossiers; the province row is its whole tree), 'subtree' (each unit
    with everything below it), 'procedure' or 'official'. as_of: the real-time figure up to that date.
    merged: units merged in 2025 count for their successors (for trends)."""
    with session(store, con, profile) as engine:
        check_period(engine.con, period, as_of)
        return scores_with(engine, period, scope, unit, subtree, as_of, merged, include_tracked, official, procedure)


def totals_with(engine: Engine, period, scope: str = "unit", unit: str | None = None, subtree: bool = False,
                as_of=None, merged: bool = False, view: str = "portal", compare: bool = True,
                scores: pd.DataFrame | None = None, previous: pd.DataFrame | None = None,
                groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per unit: total, grade, ranks, change versus the previous period of the same kind, and the groups.
    scores, previous: the period's and the previous period's unit scores (`include_tracked=False`) when
    already counted (`scores_many`); groups: the totals of `scores` by group, when worked out with other
    periods' (`totals_many`)."""
    p = parse(period, _as_date(as_of))
    s = scores_with(engine, p, scope, unit, subtree, p.as_of, merged, include_tracked=False) if scores is None else scores
    out = _totals_from_scores(engine, s, view) if groups is None else groups
    levels = engine.con.execute("SELECT unit_code, level FROM units").df()
    out = out.merge(levels, on="unit_code", how="left")
    # a unit that handled no dossier in the period is not graded or ranked: "không có hồ sơ", not "Yếu"
    handled = s[s.metric_code == "ON_TIME"].set_index("unit_code").denominator
    idle = out.unit_code.map(handled).fillna(0).astype(int).eq(0) & out.level.ne("province")
    out.loc[idle, "grade"] = None
    out.loc[idle, "grade_label"] = labels.NO_DOSSIERS
    ranked = out.level.isin(["department", "commune", "district"]) & ~idle
    out["rank"] = pd.NA
    out.loc[ranked, "rank"] = rank_min(out.loc[ranked, "total"]).values
    out["rank_in_level"] = pd.NA
    for lv, idx in out[ranked].groupby("level").groups.items():
        out.loc[idx, "rank_in_level"] = rank_min(out.loc[idx, "total"]).values
    if engine.extract and scope == "unit" and not subtree and not merged:
        out = out.drop(columns=["rank", "rank_in_level"]).merge(reference_ranks(engine, p, view), on="unit_code",
                                                                how="left")
    out["rank"] = out["rank"].astype("Int64")
    out["rank_in_level"] = out["rank_in_level"].astype("Int64")
    out["previous_total"] = pd.NA
    if compare:
        try:
            prev = scores_with(engine, p.previous(), scope, unit, subtree, None, merged, include_tracked=False) \
                if previous is None else previous
            pt = _totals_from_scores(engine, prev, view)[["unit_code", "total"]].rename(
                columns={"total": "previous_total"})
            out = out.drop(columns="previous_total").merge(pt, on="unit_code", how="left")
        except ScopeError:
            pass
    out["change"] = out.total - out.previous_total.astype("Float64")
    cols = ["period", "unit_code", "unit_name", "level", "total", "grade", "grade_label", "rank", "rank_in_level",
            "previous_total", "change"]
    return out[cols + [c for c in out.columns if c.startswith("group_")]].sort_values(
        ["rank", "unit_code"], na_position="first").reset_index(drop=True)


def totals_many(engine: Engine, periods: list[Period], scores: list[pd.DataFrame], merged: bool = False,
                compare: bool = False) -> list[pd.DataFrame]:
    """`totals_with` of many periods whose unit scores are at hand (a trend's, from `scores_many`), their totals
    by group worked out in one pass over all of them."""
    labels_ = [p.label for p in periods]
    if len(set(labels_)) < len(labels_) or not scores:      # one label, two as-of days: each on its own
        return [totals_with(engine, p.label, as_of=p.as_of, merged=merged, compare=compare, scores=s)
                for p, s in zip(periods, scores)]
    wide = _totals_from_scores(engine, pd.concat(scores, ignore_index=True), "portal")
    by = dict(tuple(wide.groupby("period", sort=False)))
    out = []
    for p, s in zip(periods, scores):
        w = by[p.label].reset_index(drop=True)
        # a group none of this period's metrics carries is left out, as when the period is worked out alone
        w = w.drop(columns=[c for c in w.columns if c.startswith("group_") and w[c].isna().all()])
        out.append(totals_with(engine, p.label, as_of=p.as_of, merged=merged, compare=compare, scores=s, groups=w))
    return out


def reference_ranks(engine: Engine, p: Period, view: str = "portal") -> pd.DataFrame:
    """An extract's ranks among the province's units: from the province's totals it carries for the period and
    profile (`kpi extract`); none (NA) for a period, an as-of day or a view it does not carry."""
    ref = pd.DataFrame({"unit_code": pd.Series(dtype="object"), "rank": pd.Series(dtype="Int64"),
                        "rank_in_level": pd.Series(dtype="Int64")})
    if p.as_of or view != "portal":          # every extract carries the table (kpi extract writes it)
        return ref
    if engine._profile_hash is None:
        engine._profile_hash = cache.profile_hash(engine.profile)
    found = engine.con.execute(f"SELECT unit_code, rank, rank_in_level FROM {REFERENCE_TABLE} "
                               "WHERE period = ? AND profile_hash = ?", [p.label, engine._profile_hash]).df()
    return found if len(found) else ref


def _totals_from_scores(engine: Engine, s: pd.DataFrame, view: str) -> pd.DataFrame:
    g = group_points(s, engine.profile, ["period", "unit_code", "unit_name"], view=view)
    wide = g.pivot_table(index=["period", "unit_code", "unit_name"], columns="group_code", values="points",
                         aggfunc="sum").reset_index()
    groups = [c for c in wide.columns if c not in ("period", "unit_code", "unit_name")]
    wide["total"] = wide[groups].sum(axis=1)
    wide = wide.rename(columns={c: f"group_{c}" for c in groups})
    wide["grade"] = wide.total.map(lambda t: grade(t, engine.profile))
    wide["grade_label"] = wide.grade.map(labels.GRADES)
    wide.columns.name = None
    return wide


def totals(period, scope: str = "unit", unit: str | None = None, subtree: bool = False, as_of=None, profile=None,
           store=None, con=None, merged: bool = False, view: str = "portal", compare: bool = True) -> pd.DataFrame:
    """Per unit total (exact; shown rounded half-up to 2 decimals), grade (on the rounded total),
    rank among departments, districts and communes (ties share a rank), rank within its level,
    and change versus the previous period of the same kind. view='decision' gives five groups."""
    with session(store, con, profile) as engine:
        check_period(engine.con, period, as_of)
        return totals_with(engine, period, scope, unit, subtree, as_of, merged, view, compare)


def official_index(scored: pd.DataFrame, profile=None) -> pd.DataFrame:
    """An official's index = points earned on the applicable metrics ÷ their maximum × 100, graded with the
    profile's bands."""
    s = scored[scored.points.notna() & (scored.max_points > 0)]
    g = s.groupby(["period", "official_id", "full_name", "unit_code", "unit_name"], dropna=False).agg(
        earned=("points", "sum"), maximum=("max_points", "sum"),
        metrics=("metric_code", lambda x: ", ".join(x))).reset_index()
    g["index"] = 100 * g.earned.astype(float) / g.maximum.astype(float)
    g["grade"] = g["index"].map(lambda t: grade(t, profile))
    g["grade_label"] = g.grade.map(labels.GRADES)
    return g


def evidence_with(engine: Engine, metric_code: str, unit_code: str | None, period, as_of=None,
                  subtree: bool = True, personal: bool = False) -> pd.DataFrame:
    """The rows behind a figure: one per counted entity, with in_numerator, in_denominator and the reason."""
    p = parse(period, _as_date(as_of))
    check_personal(engine, personal)
    if metric_code not in set(available_metrics()):
        raise ScopeError(f"không có chỉ số '{metric_code}'")
    ev = engine.evidence(metric_code, p)
    if unit_code:
        check_unit(engine, unit_code)
        ev = ev[ev.unit_code.isin(engine.scope_members(unit_code, subtree))]
    # a NULL test (a dossier without a channel) counts as the counting SQL counts it: not in
    ev = ev[ev.in_den.fillna(False).astype(bool)].copy()
    ev["in_numerator"] = ev.in_num.fillna(False).astype(bool)
    ev["in_denominator"] = True
    ev = ev.drop(columns=[c for c in ("in_num", "in_den", "charged", "involved") if c in ev.columns])
    ev = ev.drop_duplicates("entity")
    if ev.entity.str.contains("-", regex=False).any():
        cols = "dossier_code, received_at, due_at, finished_at, status, channel"
        if personal:
            cols += ", " + ", ".join(PERSONAL_COLUMNS)
        d = engine.con.execute(f"SELECT {cols} FROM dossiers").df()
        ev = ev.merge(d, left_on="entity", right_on="dossier_code", how="left").drop(columns="dossier_code")
    ev.insert(0, "metric_code", metric_code)
    ev.insert(0, "period", p.label)
    return ev.reset_index(drop=True)


def evidence(metric_code: str, unit_code: str | None, period, as_of=None, store=None, con=None, profile=None,
             subtree: bool = True, personal: bool = False) -> pd.DataFrame:
    """Rows counted in the numerator and denominator of a metric for a unit (and its sub-tree) and period,
    with the reason each row counts or fails. Applicant personal data only when personal=True."""
    with session(store, con, profile) as engine:
        return evidence_with(engine, metric_code, unit_code, period, as_of, subtree, personal)
