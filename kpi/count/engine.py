"""Counting: run the metric SQL files (kpi/count/metrics/*.sql) against the store for a period and a scope.

Each metric file returns one evidence row per counted entity (dossier, procedure, service,
feedback, commune) with `in_num`, `in_den` and the reason. Counting a scope is then one
generic query: a unit's own rows, its whole sub-tree (a recount over all descendants — never a
mean of children), a procedure, or an official (a late dossier charged to whoever held the
overrunning step).
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from kpi import config
from kpi.count import facts
from kpi.count.sqlfile import INCLUDE, judgement_sql, statements, uncommented
from kpi.periods import Period
from kpi.store import check_calendar, extract_info, run

PARAM = re.compile(r"\$([a-z_]+)")
# Dossiers received in the periods one pass prepares at most (several passes else): the working tables of a
# pass hold a row per dossier and period it can judge, so a trend of twelve months at 10 million dossiers a
# year goes in a few passes within the memory cap, while at 1 million it is one.
ROWS_PER_PASS = 3_000_000
PERIOD_VALUES = ("ps", "pe", "months", "period_last")     # a period's own values, the columns of _periods
PERIOD_PARAM = re.compile(r"\$(" + "|".join(PERIOD_VALUES) + r")\b")
AGG_REF = re.compile(r"\b_agg_([a-z_]+)")
ONE_ROW = re.compile(r"^-- one row per entity$", re.MULTILINE)


@lru_cache(maxsize=None)
def sql_text(name: str) -> str:
    return (config.METRICS_DIR / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _prepare_files() -> tuple[str, ...]:
    """The working tables' SQL files (kpi/count/metrics/_prepare/), in the order they run."""
    return tuple(f"_prepare/{f.name}" for f in sorted((config.METRICS_DIR / "_prepare").glob("*.sql")))


@lru_cache(maxsize=None)
def _prepare_text() -> str:
    """The working tables' SQL (what every metric reads, and the profile's values it reads)."""
    return "\n".join(sql_text(name) for name in _prepare_files())


# The working tables every count reads (the macros, the unit tree): prepared whatever the metrics
BASE_FILES = ("_prepare/00_macros.sql", "_prepare/01_closure.sql")
# The columns of a working table a count by unit never reads: the judged dossiers' per-step lists (who is charged
# or involved — officials' figures — and the steps a reason names). A count by unit makes them NULL (`lean`):
# a quarter of the making of _dossier_eval.
LEAN = {"_dossier_eval": ("overrun_officials", "overrun_steps", "step_officials")}
CREATES = re.compile(r"\bCREATE\s+OR\s+REPLACE\s+TEMP\s+TABLE\s+(\w+)", re.IGNORECASE)


@lru_cache(maxsize=None)
def _file_tables() -> dict[str, tuple[str, ...]]:
    """Each working tables' file and the tables it makes."""
    return {name: tuple(CREATES.findall(uncommented(sql_text(name)))) for name in _prepare_files()}


def _named(text: str) -> set[str]:
    """The working tables a SQL text names (comments aside)."""
    code = uncommented(text).replace(INCLUDE, judgement_sql())
    return {t for tables in _file_tables().values() for t in tables if re.search(rf"\b{t}\b", code)}


def lean_statement(stmt: str) -> str:
    """A working table's statement with the columns LEAN names for it made NULL (other statements as they are)."""
    m = CREATES.match(stmt.lstrip())
    if not m or m.group(1) not in LEAN:
        return stmt
    query = re.sub(r"^\s*AS\b", "", stmt.lstrip()[m.end():], flags=re.I)
    nulls = ", ".join(f"CASE WHEN false THEN {c} END AS {c}" for c in LEAN[m.group(1)])     # NULL, of its type
    return f"CREATE OR REPLACE TEMP TABLE {m.group(1)} AS SELECT * REPLACE ({nulls}) FROM ({query})"


@lru_cache(maxsize=None)
def files_reading(text: str) -> tuple[str, ...]:
    """The working tables' files a SQL text needs, in the order they run: those making a table it names, the
    files those read in turn, and the base ones (BASE_FILES)."""
    makes = {t: name for name, tables in _file_tables().items() for t in tables}
    chosen, todo = set(BASE_FILES), _named(text)
    while todo:
        name = makes[todo.pop()]
        if name not in chosen:
            chosen.add(name)
            todo |= _named(sql_text(name)) - set(_file_tables()[name])
    return tuple(name for name in _prepare_files() if name in chosen)


def _distinct(periods: list[Period]) -> dict:
    """Each period once, by its span (start, end), in the order first given."""
    out: dict = {}
    for p in periods:
        out.setdefault((p.start_ts, p.end_ts), p)
    return out


def per_pid(frame: pd.DataFrame, pids: list[int]) -> list[pd.DataFrame]:
    """A frame of several periods' rows (column pid) as one frame per period of `pids`, in that order, without
    the pid (one grouping, not a filter of every row per period)."""
    rows, at = frame.drop(columns="pid"), frame.groupby("pid", sort=False).indices
    return [rows.iloc[at.get(k, [])].reset_index(drop=True) for k in pids]


def metric_file(code: str) -> str:
    return f"{code.lower()}.sql"


def variant_file(code: str, variant: str) -> str:
    return f"{code.lower()}.{variant}.sql"


def adjust_file(code: str) -> str | None:
    """The file reworking a metric's counts by unit (`<code>.adjust.sql`), if it has one."""
    name = f"{code.lower()}.adjust.sql"
    return name if (config.METRICS_DIR / name).exists() else None


def reads_of(code: str, profile: dict) -> list[str]:
    """The metrics whose counts a metric's reading in the profile reads (its variant's `_agg_<code>`)."""
    v = profile["metrics"].get(code, {}).get("variant")
    return [d.upper() for d in sorted(set(AGG_REF.findall(sql_text(variant_file(code, v)))))] if v else []


def one_row_per_entity(code: str) -> bool:
    """A metric file that says `-- one row per entity` gives each entity (a dossier, a feedback, a service, a
    commune) one evidence row, in one unit: its counts need no DISTINCT (tests/test_engine_properties.py
    checks the claim on the sample for every such file)."""
    return bool(ONE_ROW.search(sql_text(metric_file(code))))


def available_metrics() -> list[str]:
    return list(_metric_codes_in(config.METRICS_DIR))


@lru_cache(maxsize=None)
def _metric_codes_in(folder) -> tuple[str, ...]:
    """The metric files' codes, listed once (as their texts are read once: `sql_text`)."""
    return tuple(sorted(p.stem.upper() for p in folder.glob("*.sql") if "." not in p.stem))


@lru_cache(maxsize=None)
def _params_read(code: str) -> tuple[str, ...]:
    """The values ($ps, $on_time_days, …) a metric's SQL and the working tables read, sorted."""
    return tuple(sorted(set(PARAM.findall(sql_text(metric_file(code)) + _prepare_text()))))


def sql_params(sql: str, values: dict) -> dict:
    """The values a SQL text names ($ps, $pe, …): DuckDB refuses parameters a statement does not use."""
    return {k: values[k] for k in set(PARAM.findall(sql))}


class Engine:
    """Holds a connection and the per-period working tables (_dossier_eval, _authority, …)."""

    def __init__(self, con, profile: dict):
        self.con = con
        self.profile = profile
        self._prepared: tuple | None = None
        self._ready: dict[str, bool] = {}          # the working tables' files run for the periods prepared: lean?
        self._period_tables: list[str] = []       # the working tables holding a row set per period (pid)
        self._scope_key: tuple | None = None
        self._profile_hash: str | None = None      # kpi.cache's key for this profile
        self._facts_checked = False
        self._spans: list[tuple] = []              # the periods of _periods, in pid order
        # counts of metrics before their adjust and variant files, by period, scope kind and what the metric's
        # SQL reads of the profile: a dict the caller keeps (the explorer, across profiles) or None
        self.counted: dict | None = None
        # metrics counted in the same pass as those asked for and kept in `counted`, not returned: what the
        # caller will ask next under another profile (the explorer's profile control)
        self.also: list[str] = []
        # counts by unit or procedure make the working tables without what only officials' figures and evidence
        # read (LEAN); a caller that goes on to those for the same periods (the report's review) sets it False,
        # and the tables are made once, whole
        self.lean = True
        self.extract = extract_info(con)          # one unit's extract: its units are the only ones it speaks for
        check_calendar(con)        # every working-day figure reads the store's calendar: it must be the one in force

    def values(self, period: Period) -> dict:
        months = {"month": 1, "quarter": 3, "half": 6, "9m": 9, "year": 12}.get(period.kind, 0)
        v = {"ps": period.start_ts, "pe": period.end_ts, "months": months,
             "period_last": dt.datetime.combine(period.last, dt.time())}
        v.update({k: val for k, val in self.profile.items() if isinstance(val, (int, float))})
        return v

    def execute(self, sql: str, period: Period):
        return self.con.execute(sql, sql_params(sql, self.values(period)))

    def frame(self, sql: str, period: Period) -> pd.DataFrame:
        return self.execute(sql, period).df()

    def prepare(self, period: Period | list[Period], reuse: bool = False, reads: str | None = None,
                lean: bool = False) -> None:
        """The working tables (kpi/count/metrics/_prepare/) for one period, or for several at once: every
        table holds a row set per period of `_periods` (pid, ps, pe, months, period_last; pid = the
        period's place in the list). reuse: tables prepared for more periods will do (the counting reads
        its periods' rows by pid; what reads the tables directly — evidence, the named queries — needs
        exactly its one period). reads: the SQL to be run over them — only the tables it names are made
        (with those they read, and the base ones); None: every table. lean: what is made is read by a count by
        unit only — the columns LEAN names are left NULL (tables made in full serve it too)."""
        periods = period if isinstance(period, list) else [period]
        distinct = _distinct(periods)
        key = tuple(distinct)
        if not (self._prepared == key or reuse and self._holds(periods)):
            if not self._facts_checked:
                facts.ensure_readable(self.con)
                self._facts_checked = True
            self._periods_table(list(distinct.values()))
            self._prepared = key
        todo = [name for name in (_prepare_files() if reads is None else files_reading(reads))
                if name not in self._ready or self._ready[name] and not lean]
        for name in todo:
            for stmt in statements(sql_text(name)):
                self.execute(lean_statement(stmt) if lean else stmt, periods[0]).fetchall()
            self._ready[name] = lean
        if set(todo) & set(BASE_FILES):
            self._scope_key = None          # the unit tree made again: the scopes too
        if todo:
            self._period_tables = [r[0] for r in run(self.con, "SELECT DISTINCT table_name FROM duckdb_columns() "
                                                               "WHERE database_name = 'temp' AND column_name = 'pid' "
                                                               "AND table_name <> '_periods'")]

    def _periods_table(self, periods: list[Period]) -> None:
        """_periods: each period's pid (its place in the list) and values. The working tables prepared for
        other periods are no longer those of _periods."""
        self._prepared = None
        self._ready = {}
        run(self.con, "CREATE OR REPLACE TEMP TABLE _periods (pid INTEGER, ps TIMESTAMP, pe TIMESTAMP, months INTEGER, "
                      "period_last TIMESTAMP)")
        self.con.executemany("INSERT INTO _periods VALUES (?, ?, ?, ?, ?)",
                             [(i, *(self.values(p)[k] for k in PERIOD_VALUES)) for i, p in enumerate(periods)])
        self._spans = [(p.start_ts, p.end_ts) for p in periods]

    def _counted_key(self, code: str, period: Period, mode: str, merged: bool) -> tuple:
        """What a metric's counts for a period depend on, besides the data: the period, the scopes, whether
        the profile sums values (rule 'mean') and the profile's values its SQL or the working tables read."""
        mean = self.profile["metrics"].get(code, {}).get("rule") == "mean"
        values = self.values(period)
        used = tuple((k, values[k]) for k in _params_read(code))
        return (period.start_ts, period.end_ts, mode, merged, code, mean, used)

    def set_scope(self, mode: str, merged: bool = False) -> None:
        """_scope_units(scope_code, unit_code): which units' rows count for each scope.
        mode 'own': a unit alone (the province: its whole tree); 'subtree': a unit and all below it.
        merged: units that were merged away count for their final successor (trends across 2025)."""
        key = (mode, merged)
        if self._scope_key == key:
            return
        succ = "s.current_code" if merged else "c.unit_code"
        if mode == "own":
            sql = f"""CREATE OR REPLACE TEMP TABLE _scope_units AS
                SELECT DISTINCT {succ} AS scope_code, c.unit_code
                FROM _closure c JOIN _successor s ON s.unit_code = c.unit_code WHERE c.ancestor = c.unit_code
                UNION
                SELECT DISTINCT cl.ancestor, cl.unit_code FROM _closure cl JOIN units u ON u.unit_code = cl.ancestor
                WHERE u.level = 'province'"""
        else:
            sql = f"""CREATE OR REPLACE TEMP TABLE _scope_units AS
                SELECT DISTINCT c.ancestor AS scope_code, s0.unit_code
                FROM _successor s0 JOIN _closure c ON c.unit_code = {('s0.current_code' if merged else 's0.unit_code')}
                UNION
                SELECT DISTINCT c.ancestor, c.unit_code FROM _closure c"""
        run(self.con, sql)
        self._scope_key = key

    def query(self, name: str, period: Period) -> pd.DataFrame:
        """A named query from kpi/count/queries/ over the period's working tables."""
        sql = (config.QUERIES_DIR / f"{name}.sql").read_text(encoding="utf-8")
        self.prepare(period, reads=sql)
        return self.frame(sql, period)

    def scope_members(self, unit: str, subtree: bool = True) -> set[str]:
        """The units whose rows count for `unit` (itself, or its whole sub-tree)."""
        rows = run(self.con, """WITH RECURSIVE t(c) AS (SELECT ?::VARCHAR UNION
                   SELECT u.unit_code FROM units u JOIN t ON u.parent_code = t.c) SELECT c FROM t""", [unit])
        return {r[0] for r in rows} if subtree else {unit}

    def evidence(self, code: str, period: Period, columns: str = "*", where: str | None = None) -> pd.DataFrame:
        """The evidence rows of a metric for the period (every unit): all of them, or those `where` (SQL over
        the rows' columns) selects, with `columns` — a question about a few rows of millions asks for those."""
        sql = sql_text(metric_file(code))
        self.prepare(period, reads=sql)
        if columns != "*" or where:
            sql = f"SELECT {columns} FROM ({sql}) ev" + (f" WHERE {where}" if where else "")
        return self.frame(sql, period)

    def count(self, code: str, period: Period, by: str = "unit", units: list[str] | None = None,
              mode: str = "own", merged: bool = False) -> pd.DataFrame:
        """Numerator and denominator of one metric per scope_code (see `count_by`)."""
        return self.count_by(code, [period], by, units, mode, merged)[0]

    def count_by(self, code: str, periods: list[Period], by: str = "unit", units: list[str] | None = None,
                 mode: str = "own", merged: bool = False) -> list[pd.DataFrame]:
        """Numerator and denominator of one metric per scope_code, for each period (one pass over them).
        by: 'unit' (scope = unit code), 'procedure' or 'official'; `units` restricts the rows
        (for procedure/official) to those units' sub-trees."""
        return self.count_by_codes([code], periods, by, units, mode, merged)

    def count_by_codes(self, codes: list[str], periods: list[Period], by: str = "unit",
                       units: list[str] | None = None, mode: str = "own", merged: bool = False) -> list[pd.DataFrame]:
        """`count_by` for several metrics in one query (an official's metrics): a frame per period, the
        metrics' rows one after the other (scope_code, metric_code, numerator, denominator)."""
        groups = self.passes(periods)
        if len(groups) > 1:
            return self._by_pass(groups, periods, lambda ps: self.count_by_codes(codes, ps, by, units, mode, merged))
        self.prepare(periods, reuse=True, reads=self._texts(self._with_reads(codes)),
                     lean=self.lean and by != "official")
        self.set_scope(mode, merged)
        pids = self.pids(periods)

        def counted(cs):
            sql = " UNION ALL ".join(f"SELECT '{c}' AS metric_code, * FROM ({self._by_sql(c, pids, by, units)})"
                                     for c in cs)
            agg = self.frame(sql, periods[0])
            return {c: agg[agg.metric_code == c].drop(columns="metric_code") for c in cs}
        raw = counted(codes)
        done: dict[str, pd.DataFrame] = {}

        def final(c):          # a metric's counts (with pid) as its files rework them
            if c not in done:
                done[c] = self._reworked(c, raw[c] if c in raw else counted([c])[c], pids, periods[0], by, final)
            return done[c]
        every = pd.concat([final(c).assign(metric_code=c) for c in codes], ignore_index=True)
        return per_pid(every[["pid", "scope_code", "metric_code", "numerator", "denominator"]], pids)

    def _by_sql(self, code: str, pids: list[int], by: str, units: list[str] | None) -> str:
        """One metric's counts (pid, scope_code, numerator, denominator) by unit, procedure or official."""
        metric = self.per_period(sql_text(metric_file(code)), pids)
        mean = self.profile["metrics"].get(code, {}).get("rule") == "mean"
        # an entity with one row (in one unit, for one procedure; once per official after unnest) is
        # counted without DISTINCT
        distinct = "" if one_row_per_entity(code) else "DISTINCT "
        num = "sum(ev.value) FILTER (WHERE ev.in_num AND ev.in_den)" if mean else \
            f"count({distinct}ev.entity) FILTER (WHERE ev.in_num AND ev.in_den)"
        restrict = ""
        if units:
            codes = ", ".join("'" + u.replace("'", "''") + "'" for u in units)
            restrict = f"AND ev.unit_code IN (SELECT unit_code FROM _closure WHERE ancestor IN ({codes}))"
        if by == "unit":
            return f"""WITH ev AS ({metric})
                SELECT ev.pid, s.scope_code, {num} AS numerator,
                       count({distinct}ev.entity) FILTER (WHERE ev.in_den) AS denominator
                FROM ev JOIN _scope_units s ON s.unit_code = ev.unit_code GROUP BY ev.pid, s.scope_code"""
        if by == "procedure":
            return f"""WITH ev AS ({metric})
                SELECT ev.pid, ev.procedure_code AS scope_code, {num} AS numerator,
                       count({distinct}ev.entity) FILTER (WHERE ev.in_den) AS denominator
                FROM ev WHERE ev.procedure_code IS NOT NULL {restrict} GROUP BY 1, 2"""
        if by == "official":
            onum = num.replace("ev.in_num AND", "(ev.in_num OR NOT list_contains(ev.charged, ev.off)) AND")
            # the officials a row concerns: the accountable one, those charged, and (where the metric
            # names them) everyone who held a step of the dossier
            involved = ", coalesce(involved, [])" if "AS involved" in sql_text(metric_file(code)) else ""
            return f"""WITH ev0 AS ({metric}),
                ev AS (SELECT *, unnest(list_distinct(list_filter(list_concat(coalesce(charged, []), [official_id]{involved}),
                                                                 lambda x: x IS NOT NULL))) AS off
                       FROM ev0)
                SELECT ev.pid, ev.off AS scope_code, {onum} AS numerator,
                       count({distinct}ev.entity) FILTER (WHERE ev.in_den) AS denominator
                FROM ev WHERE ev.off IS NOT NULL {restrict} GROUP BY 1, 2"""
        raise ValueError(by)

    def count_units(self, codes: list[str], period: Period, mode: str = "own", merged: bool = False) -> pd.DataFrame:
        """`count(code, by='unit')` for many metrics in one pass (see `count_periods`)."""
        return self.count_periods(codes, [period], mode, merged)[0]

    def _holds(self, periods: list[Period]) -> bool:
        """Whether the working tables at hand were prepared for every one of `periods` (and maybe more)."""
        return bool(self._prepared) and {(p.start_ts, p.end_ts) for p in periods} <= set(self._prepared)

    def passes(self, periods: list[Period]) -> list[list[int]]:
        """The periods (their places in the list) grouped into passes of at most ROWS_PER_PASS dossiers
        received (one period, or periods already prepared, are one pass)."""
        if len(periods) == 1 or self._holds(periods):
            return [list(range(len(periods)))]
        # one scan of the received times, a count for each period (a subquery per period scanned them each)
        counts = ", ".join(f"count(*) FILTER (WHERE received_at >= TIMESTAMP '{p.start_ts}' "
                           f"AND received_at < TIMESTAMP '{p.end_ts}')" for p in periods)
        sizes = list(run(self.con, f"SELECT {counts} FROM dossiers")[0])
        out, rows = [[]], 0
        for i, n in enumerate(sizes):
            if out[-1] and rows + n > ROWS_PER_PASS:
                out.append([])
                rows = 0
            out[-1].append(i)
            rows += n
        return out

    def pids(self, periods: list[Period]) -> list[int]:
        """Each period's pid in the prepared `_periods`."""
        return [self._spans.index((p.start_ts, p.end_ts)) for p in periods]

    def per_period(self, sql: str, pids: list[int], tables: list[str] = ()) -> str:
        """A metric's SQL, written for one period ($ps, $pe, … and the working tables), evaluated for the
        periods `pids` of _periods at once: each period's values and its rows of the working tables (and of
        `tables`, also holding a pid column), a `pid` column added to its rows."""
        tables = [*self._period_tables, *tables]
        body = PERIOD_PARAM.sub(lambda m: f"_p.{m.group(1)}", sql)
        if tables:
            body = re.sub(r"\b(" + "|".join(sorted(tables, key=len, reverse=True)) + r")\b",
                          lambda m: f"(SELECT * EXCLUDE (pid) FROM {m.group(1)} WHERE pid = _p.pid)", body)
        chosen = ", ".join(str(int(i)) for i in sorted(set(pids)))
        return f"SELECT _p.pid, _m.* FROM (SELECT * FROM _periods WHERE pid IN ({chosen})) _p, LATERAL (\n{body}\n) _m"

    def count_periods(self, codes: list[str], periods: list[Period], mode: str = "own",
                      merged: bool = False) -> list[pd.DataFrame]:
        """`count(code, by='unit')` for many metrics and many periods in one pass: every metric's evidence
        rows for every period in one UNION ALL, grouped once per (period, metric, scope) — one query
        instead of one per metric and period (or a few: `passes`). Adjust and variant files then rework
        their metric's counts, as `count` does. One frame per period, in the order given."""
        groups = self.passes(periods)
        if len(groups) > 1:
            return self._by_pass(groups, periods, lambda ps: self.count_periods(codes, ps, mode, merged))
        # the metrics asked for, those kept beside them and those their variants read
        needed = self._with_reads(list(codes) + (list(self.also) if self.counted is not None else []))
        memo = self.counted if self.counted is not None else {}
        keys = {(c, i): self._counted_key(c, p, mode, merged) for c in needed for i, p in enumerate(periods)}
        kept = [c for c in needed if all(keys[c, i] in memo for i in range(len(periods)))]
        needed = [c for c in needed if c not in kept]
        self.prepare(periods, reuse=True, reads=self._texts(needed), lean=self.lean)
        self.set_scope(mode, merged)
        pids = self.pids(periods)
        means = [c for c in needed if self.profile["metrics"].get(c, {}).get("rule") == "mean"]
        mean_list = ", ".join(f"'{c}'" for c in means) or "NULL"

        def union(cs):
            return " UNION ALL ".join(
                f"SELECT pid, '{c}' AS metric_code, entity::VARCHAR AS entity, unit_code, in_num, in_den, "
                f"value::DOUBLE AS value FROM ({self.per_period(sql_text(metric_file(c)), pids)})" for c in cs) or \
                "SELECT NULL::INTEGER AS pid, NULL AS metric_code, NULL AS entity, NULL AS unit_code, " \
                "NULL::BOOLEAN AS in_num, NULL::BOOLEAN AS in_den, NULL::DOUBLE AS value WHERE false"

        def direct(cs):     # each metric grouped by itself (one grouping of every metric's rows, keyed by the
            # metric's code too, took a sixth longer)
            return " UNION ALL ".join(
                f"SELECT pid, '{c}' AS metric_code, unit_code, count(entity) FILTER (WHERE in_num AND in_den) AS n, "
                f"count(entity) FILTER (WHERE in_den) AS d, sum(value::DOUBLE) FILTER (WHERE in_num AND in_den) AS v "
                f"FROM ({self.per_period(sql_text(metric_file(c)), pids)}) GROUP BY pid, unit_code" for c in cs) or \
                "SELECT NULL::INTEGER AS pid, NULL AS metric_code, NULL AS unit_code, 0::BIGINT AS n, 0::BIGINT AS d, " \
                "NULL::DOUBLE AS v WHERE false"
        # A metric with one row per entity (nearly every row: dossiers) is counted per unit as it comes and
        # summed up the scopes. The others' rows are first folded per unit and entity; an entity counted in
        # one unit only is then summed up the scopes, and only entities found in several units (procedures,
        # services) are counted DISTINCT over the scopes — the same counts as one count(DISTINCT) over
        # every row joined to every scope, without that join.
        sql = f"""WITH direct AS ({direct([c for c in needed if one_row_per_entity(c)])}),
            ev AS ({union([c for c in needed if not one_row_per_entity(c)])}),
            per AS (
                SELECT pid, metric_code, unit_code, entity, bool_or(in_num AND in_den) AS n, bool_or(in_den) AS d,
                       sum(value) FILTER (WHERE in_num AND in_den) AS v
                FROM ev GROUP BY ALL
            ),
            multi AS (SELECT pid, metric_code, entity FROM per GROUP BY ALL HAVING count(*) > 1),
            alone AS (
                SELECT pid, metric_code, unit_code, count(entity) FILTER (WHERE n) AS n,
                       count(entity) FILTER (WHERE d) AS d, sum(v) AS v
                FROM per ANTI JOIN multi USING (pid, metric_code, entity) GROUP BY ALL
                UNION ALL
                SELECT * FROM direct
            ),
            counted AS (
                SELECT a.pid, s.scope_code, a.metric_code, sum(a.n) AS n, sum(a.d) AS d, sum(a.v) AS v
                FROM alone a JOIN _scope_units s USING (unit_code) GROUP BY ALL
                UNION ALL
                SELECT p.pid, s.scope_code, p.metric_code, count(DISTINCT p.entity) FILTER (WHERE p.n),
                       count(DISTINCT p.entity) FILTER (WHERE p.d), sum(p.v)
                FROM per p SEMI JOIN multi USING (pid, metric_code, entity) JOIN _scope_units s USING (unit_code)
                GROUP BY ALL
            )
            SELECT pid, scope_code, metric_code,
                   CASE WHEN metric_code IN ({mean_list}) THEN sum(v) ELSE CAST(sum(n) AS BIGINT) END AS numerator,
                   CAST(sum(d) AS BIGINT) AS denominator
            FROM counted GROUP BY pid, scope_code, metric_code"""
        agg = self.frame(sql, periods[0]) if needed else pd.DataFrame(
            columns=["pid", "scope_code", "metric_code", "numerator", "denominator"])
        agg["numerator"] = agg.numerator.astype("float64")
        if self.counted is not None:     # what was counted is kept; what was kept joins it
            rows = agg.drop(columns=["pid", "metric_code"])      # each metric's and period's rows: a slice of them
            at = agg.groupby(["metric_code", "pid"], sort=False).indices
            for c in needed:
                for i, k in enumerate(pids):
                    memo[keys[c, i]] = rows.iloc[at.get((c, k), [])]
            parts = [(c, k, memo[keys[c, i]]) for c in kept for i, k in enumerate(pids)]
            if parts:
                sizes = [len(f) for _, _, f in parts]
                more = pd.concat([f for _, _, f in parts], ignore_index=True)
                more["pid"] = np.repeat([k for _, k, _ in parts], sizes)
                more["metric_code"] = np.repeat([c for c, _, _ in parts], sizes)
                agg = pd.concat([agg, more], ignore_index=True)
        of_metric = dict(tuple(agg.groupby("metric_code", sort=False)))
        done: dict[str, pd.DataFrame] = {}

        def final(c):
            if c not in done:
                done[c] = self._reworked(c, of_metric.get(c, agg.iloc[:0])[["pid", "scope_code", "numerator", "denominator"]],
                                         pids, periods[0], "unit", final)
            return done[c]
        every = pd.concat([final(c).assign(metric_code=c) for c in codes], ignore_index=True)
        first = ["scope_code", "metric_code"]
        return per_pid(every[["pid"] + first + [c for c in every.columns if c not in first and c != "pid"]], pids)

    @staticmethod
    def _by_pass(groups: list[list[int]], periods: list[Period], count) -> list[pd.DataFrame]:
        out: dict[int, pd.DataFrame] = {}
        for g in groups:
            out.update(zip(g, count([periods[i] for i in g])))
        return [out[i] for i in range(len(periods))]

    def _variant(self, code: str) -> str | None:
        """The file of the profile's named reading of a metric (`<code>.<variant>.sql`), if any."""
        v = self.profile["metrics"].get(code, {}).get("variant")
        return variant_file(code, v) if v else None

    def _with_reads(self, codes: list[str]) -> list[str]:
        """The metrics and, after them, those their variants read (and so on), each once."""
        out, todo = [], list(codes)
        while todo:
            c = todo.pop(0)
            if c not in out:
                out.append(c)
                todo += self._variant_reads(c)
        return out

    def _texts(self, codes: list[str]) -> str:
        """The SQL counting the metrics runs: their files, adjust files and the profile's variants (what the
        working tables are made for)."""
        names = [metric_file(c) for c in codes] + [a for c in codes if (a := adjust_file(c))]
        names += [self._variant(c) for c in codes if self._variant(c)]
        return "\n".join(sql_text(n) for n in names)

    def _variant_reads(self, code: str) -> list[str]:
        """The metrics whose counts the metric's variant reads (`_agg_<code>`)."""
        return reads_of(code, self.profile)

    def _reworked(self, code: str, counted: pd.DataFrame, pids: list[int], period: Period, by: str,
                  counts_of) -> pd.DataFrame:
        """A metric's counts (with pid) as its files rework them: the adjust file (units only), then the
        profile's variant, reading other metrics' counts for the same scopes as _agg_<code> (`counts_of`:
        code → their counts with pid)."""
        adjust = adjust_file(code)
        if by == "unit" and adjust:
            counted = self._rework(adjust, counted, pids, period)
        if self._variant(code):
            counted = self._rework(self._variant(code), counted, pids, period,
                                   {d.lower(): counts_of(d) for d in self._variant_reads(code)})
        return counted

    def _rework(self, name: str, agg: pd.DataFrame, pids: list[int], period: Period,
                deps: dict | None = None) -> pd.DataFrame:
        """Run an adjust or variant SQL file over the counts `_agg` (and `_agg_<code>` of other metrics), each
        with a pid column, for every period `pids` at once; `period`: one of them (the profile's values)."""
        frames = {"_agg": agg, **{f"_agg_{d}": f for d, f in (deps or {}).items()}}
        for n, f in frames.items():
            self.con.register(n, f)
        try:
            return self.frame(self.per_period(sql_text(name), pids, list(frames)), period)
        finally:
            for n in frames:
                self.con.unregister(n)
