"""Per-dossier facts: each dossier's ON_TIME judgement at the end of its processing (everything that does
not depend on a period), kept in the store's `dossier_facts` by the loader, in the load's transaction, for
the dossiers the load touched and those its other changes reach (`reached`). A period reads an ended
dossier that has not changed since its end from here, and judges at the period end only the rest
(kpi/count/metrics/_prepare/03_dossier_eval.sql).

A dossier still open at the data's end has no fact (the judgement of an open dossier depends on the day
it is judged); `changed_at` is the latest time in its record or events that the judgement reads.
Every dossier, open or ended, has its span in `dossier_spans`: the time of its first event (NULL: none),
from which a judgement at a period end reads its events (older row groups of events are not read)."""
from __future__ import annotations

import hashlib
import inspect
from functools import lru_cache

from kpi import config
from kpi.count.sqlfile import judgement_sql, statements
from kpi.store import run

# The end of a fact's judgement: the first day after the calendar. Every time a store holds is before it (the
# loader refuses times in the future), so an ended dossier is judged as at its end; and a dossier still open
# is judged on days the calendar has (none would be judged past it), so it too gives the span of its events.
NEVER = "(SELECT max(d) + INTERVAL 1 DAY FROM calendar)"


def macros(con) -> None:
    for stmt in statements((config.METRICS_DIR / "_prepare" / "00_macros.sql").read_text(encoding="utf-8")):
        run(con, stmt)


def _build(con, where: str) -> None:
    """_judged_new: the dossiers `where` selects (SQL over dossiers d) judged at their end, with their record's
    hash, the latest time the judgement reads and the span of their events (one reading of their events for
    both): what FACT and SPAN select."""
    run(con, f"CREATE OR REPLACE TEMP TABLE _cand AS SELECT 0 AS pid, {NEVER} AS pe, d.*, "
        f"every_event() AS events_from FROM judged_dossiers() d WHERE {where}")
    run(con, f"""CREATE OR REPLACE TEMP TABLE _judged_new AS
        WITH j AS ({judgement_sql()})
        SELECT j.* EXCLUDE (pid, pe), dossier_record_hash(c) AS record_hash,
               greatest(c.received_at, coalesce(c.finished_at, c.received_at), coalesce(c.returned_at, c.received_at),
                        coalesce(j.last_event_at, c.received_at)) AS changed_at
        FROM j JOIN _cand c USING (dossier_code)""")


@lru_cache(maxsize=1)
def version() -> str:
    """The facts' code: the judgement, its macros and what this file makes of them (`_build`, a row of the
    spans, the end a fact is judged at) — not how many dossiers are judged at a time (CHUNK: the same facts).
    Facts kept by other code (an upgrade that changes a rule) are never read, and the next load makes them
    again."""
    h = hashlib.sha256()
    for f in (config.PACKAGE_DIR / "count" / "dossier_judgement.sql", config.METRICS_DIR / "_prepare" / "00_macros.sql"):
        h.update(f.read_bytes())
    h.update("\n".join((inspect.getsource(_build), SPAN, FACT, NEVER)).encode("utf-8"))
    return h.hexdigest()[:16]


def exists(con) -> bool:
    """Whether the store keeps facts made by this code."""
    if not run(con, f"SELECT count(*) FROM duckdb_tables() WHERE table_name IN {KEPT} AND NOT temporary")[0][0] \
            == len(KEPT):
        return False
    return run(con, "SELECT list(version) FROM facts_source")[0][0] == [version()]


def _record_version(con) -> None:
    run(con, "CREATE TABLE IF NOT EXISTS facts_source (version VARCHAR)")
    run(con, "DELETE FROM facts_source")
    run(con, "INSERT INTO facts_source VALUES (?)", [version()])


KEPT = ("dossier_facts", "dossier_spans", "facts_source")      # what a store keeps of the facts
SPAN = "SELECT c.dossier_code, j.first_event_at FROM _cand c LEFT JOIN _judged_new j USING (dossier_code)"  # spans
FACT = "SELECT * EXCLUDE (first_event_at, last_event_at) FROM _judged_new WHERE end_at IS NOT NULL"     # facts
CHUNK = 360_000     # dossiers judged at a time: the load's memory cap holds whatever the province's size


def _write(con, where: str, replace: bool) -> None:
    """Judge the dossiers `where` selects (SQL over dossiers d) a chunk at a time (by a hash of the code)
    and write their facts: replacing the table, or the rows of those dossiers."""
    macros(con)
    n = run(con, f"SELECT count(*) FROM dossiers d WHERE {where}")[0][0]
    chunks = max(1, -(-n // CHUNK))
    if replace:
        _build(con, "false")
        run(con, f"CREATE OR REPLACE TABLE dossier_facts AS {FACT}")
        run(con, f"CREATE OR REPLACE TABLE dossier_spans AS {SPAN}")
    else:
        for t in ("dossier_facts", "dossier_spans"):
            run(con, f"DELETE FROM {t} WHERE dossier_code IN (SELECT dossier_code FROM dossiers d WHERE {where})")
    for k in range(chunks):
        part = where if chunks == 1 else f"({where}) AND hash(d.dossier_code) % {chunks} = {k}"
        _build(con, part)
        run(con, f"INSERT INTO dossier_facts BY NAME {FACT}")
        run(con, f"INSERT INTO dossier_spans {SPAN}")
    for t in ("_judged_new", "_cand"):
        run(con, f"DROP TABLE {t}")
    if replace:
        _record_version(con)


JUDGED_PROCEDURE = ("max_processing_time", "time_unit")     # what the judgement reads of a dossier's procedure
PROCEDURES_BEFORE = "_procedures_before"


def keep_procedures(con) -> str:
    """What the judgement reads of every procedure, kept before a load writes the catalogue (the table's name):
    `reached` compares it with what the load wrote."""
    run(con, f"CREATE OR REPLACE TEMP TABLE {PROCEDURES_BEFORE} AS "
             f"SELECT procedure_code, {', '.join(JUDGED_PROCEDURE)} FROM procedures")
    return PROCEDURES_BEFORE


def reached(procedures_before: str | None, calendar_from) -> list[str]:
    """Queries (column dossier_code) of the dossiers whose facts a load's other changes reach, besides the
    dossiers it wrote: those of a procedure whose time limit changed (`procedures_before`: the catalogue as it
    was, `keep_procedures`), and — the calendar changed from the day `calendar_from` on — those whose judgement
    reads a working-day index at or after it. The index counts working days from the calendar's first day: a
    day's change moves it for that day and every later one, never before. The judgement reads it at the
    receipt, the effective end (never after the end) and the due date, so a fact all of whose days are earlier
    stays right; a dossier without a fact (open, or its days outside the calendar) is judged again too."""
    out = []
    if procedures_before:
        cols = ", ".join(f"p.{c}" for c in JUDGED_PROCEDURE)
        was = ", ".join(f"b.{c}" for c in JUDGED_PROCEDURE)
        out.append(f"""(SELECT d.dossier_code FROM dossiers d WHERE d.procedure_code IN (
            SELECT procedure_code FROM procedures p FULL JOIN {procedures_before} b USING (procedure_code)
            WHERE ({cols}) IS DISTINCT FROM ({was})))""")
    if calendar_from is not None:
        out.append(f"""(SELECT dossier_code FROM dossier_facts
            WHERE greatest(received_at, end_at, coalesce(due_at, end_at)) >= TIMESTAMP '{calendar_from:%Y-%m-%d}')""")
        out.append("(SELECT dossier_code FROM dossiers ANTI JOIN dossier_facts USING (dossier_code))")
    return out


def rebuild(con) -> None:
    """Every dossier's facts, from scratch (a store without them or with another code's, a load whose changes
    reach most dossiers)."""
    _write(con, "true", replace=True)


def refresh(con, codes_table: str) -> None:
    """The facts of the dossiers whose codes are in `codes_table` (column dossier_code), recomputed."""
    _write(con, f"d.dossier_code IN (SELECT dossier_code FROM {codes_table})", replace=False)


def ensure_readable(con) -> None:
    """A store made before the facts, or whose facts other code made (opened read-only), reads an empty set
    (temporary tables of this connection): every dossier is judged at the period end from all its events,
    as it always was."""
    if not exists(con) and not run(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'dossier_facts' "
                                        "AND temporary")[0][0]:
        macros(con)
        _build(con, "false")
        run(con, f"CREATE TEMP TABLE dossier_facts AS {FACT}")
        run(con, f"CREATE TEMP TABLE dossier_spans AS {SPAN}")
