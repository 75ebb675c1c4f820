"""The DuckDB store: connection (never downloads an extension) and schema."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb

from . import config
from .schema import TABLES

SQL_TYPES = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN",
             "date": "DATE", "ts": "TIMESTAMP"}

META_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    file VARCHAR, line BIGINT, table_name VARCHAR, column_name VARCHAR, reason VARCHAR,
    raw VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS loaded_files (
    file VARCHAR, sha256 VARCHAR, table_name VARCHAR, rows_read BIGINT, rows_loaded BIGINT,
    rows_quarantined BIGINT, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS published_scores (
    period VARCHAR, endpoint VARCHAR, group_code VARCHAR, scope VARCHAR, department_id VARCHAR,
    department_code VARCHAR, department_type VARCHAR, unit_name VARCHAR, unit_code VARCHAR, metric_code VARCHAR,
    metric_name VARCHAR, numerator DOUBLE, denominator DOUBLE, ratio DOUBLE, published_points DOUBLE,
    max_points DOUBLE, dq_status VARCHAR, dq_message VARCHAR, file VARCHAR, captured_at TIMESTAMP,
    sha256 VARCHAR, is_current BOOLEAN, matched BOOLEAN);
CREATE TABLE IF NOT EXISTS calendar (
    d DATE PRIMARY KEY, is_working BOOLEAN, wd_index BIGINT);
"""
META_TABLES = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", META_DDL)


class StoreError(Exception):
    """A problem a user can fix (missing store, locked file); shown as one line."""


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = Path(path) if path else config.default_store()
    if read_only and not path.exists():
        raise StoreError(f"Chưa có kho dữ liệu {path}: hãy chạy `kpi load data/raw` trước (hoặc đặt --store / KPI_STORE).")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Timestamps are stored naive, in local time (Asia/Ho_Chi_Minh): no ICU extension needed.
    cfg = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=cfg)
    except duckdb.Error as exc:
        raise StoreError(f"Không mở được kho dữ liệu {path}: {str(exc).splitlines()[0]}") from None
    if not read_only:
        ensure_schema(con)
    elif _outdated(con):
        # a store made by an older version: add the missing tables once, then read as asked
        con.close()
        connect(path).close()
        return connect(path, read_only=True)
    return con


def _outdated(con) -> bool:
    have = {r[0] for r in run(con, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")}
    return not ({*TABLES, *META_TABLES} <= have)


def run(con, sql: str, params=None) -> list:
    """Execute and fetch everything (DuckDB 2 refuses new work while a result is unfetched)."""
    return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()


def table_ddl(name: str) -> str:
    t = TABLES[name]
    cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.type]}' for c in t.columns)
    key = ", ".join(t.key)
    return f'CREATE TABLE IF NOT EXISTS "{name}" ({cols}, _file VARCHAR, _line BIGINT, PRIMARY KEY ({key}))'


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create whatever is missing, all in one transaction: a process killed half-way leaves no half schema."""
    if not _outdated(con) and run(con, "SELECT count(*) FROM calendar")[0][0] > 0:
        return
    run(con, "BEGIN TRANSACTION")
    try:
        for name in TABLES:
            run(con, table_ddl(name))
        for stmt in META_DDL.split(";"):
            if stmt.strip():
                run(con, stmt)
        if run(con, "SELECT count(*) FROM calendar")[0][0] == 0:
            from .calendar import calendar_frame
            cal = calendar_frame()
            con.register("_cal", cal)
            run(con, "INSERT INTO calendar SELECT d, is_working, wd_index FROM _cal")
            con.unregister("_cal")
        run(con, "COMMIT")
    except BaseException:
        run(con, "ROLLBACK")
        raise


def table_counts(con) -> dict[str, int]:
    names = list(TABLES) + ["published_scores"]
    return {name: run(con, f'SELECT count(*) FROM "{name}"')[0][0] for name in names}
