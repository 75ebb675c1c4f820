"""The DuckDB store: connection (never downloads an extension) and schema."""
from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path

import duckdb

from kpi import config
from kpi.schema import TABLES
from kpi.calendar import calendar_frame
from kpi.calendar import source as calendar_source

SQL_TYPES = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN",
             "date": "DATE", "ts": "TIMESTAMP"}

META_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    file VARCHAR, line BIGINT, table_name VARCHAR, column_name VARCHAR, reason VARCHAR,
    raw VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS loaded_files (
    file VARCHAR, sha256 VARCHAR, table_name VARCHAR, rows_read BIGINT, rows_loaded BIGINT,
    rows_quarantined BIGINT, loaded_at TIMESTAMP, rows_updated BIGINT);
CREATE TABLE IF NOT EXISTS published_scores (
    period VARCHAR, endpoint VARCHAR, group_code VARCHAR, scope VARCHAR, department_id VARCHAR,
    department_code VARCHAR, department_type VARCHAR, unit_name VARCHAR, unit_code VARCHAR, metric_code VARCHAR,
    metric_name VARCHAR, numerator DOUBLE, denominator DOUBLE, ratio DOUBLE, published_points DOUBLE,
    max_points DOUBLE, dq_status VARCHAR, dq_message VARCHAR, file VARCHAR, captured_at TIMESTAMP,
    sha256 VARCHAR, is_current BOOLEAN, matched BOOLEAN);
CREATE TABLE IF NOT EXISTS calendar (
    d DATE PRIMARY KEY, is_working BOOLEAN, wd_index BIGINT);
CREATE TABLE IF NOT EXISTS calendar_source (
    source VARCHAR, content UBIGINT);
CREATE TABLE IF NOT EXISTS load_reach (
    loaded_at TIMESTAMP, reach_from TIMESTAMP);
"""
META_TABLES = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", META_DDL)


class StoreError(Exception):
    """A problem a user can fix (missing store, locked file); shown as one line."""


KPI_MARKERS = {"loaded_files", "calendar"}

# A store, its kept figures and extracts hold applicants' personal data and every unit's dossiers: they are
# created readable by their owner only. Reports and the publication package keep the usual mode.
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700


@contextmanager
def private_files():
    """Files and folders created meanwhile (the store's write-ahead log and spill folder while a load or an
    extract writes) are readable by their owner only."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def too_open(path: str | Path) -> str | None:
    """A one-line warning when a store (or extract) can be read by others than its owner."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (f"Cảnh báo: {path} đọc được bởi người khác ngoài chủ tệp (quyền {mode:o}) — kho chứa dữ liệu cá nhân "
            f"của người nộp; chạy `chmod 600 {path}`.")


# An extract (`kpi extract`): one unit's store. Its meta table says which unit, which sub-tree, from which
# store and data version, when, and whether applicants' personal data is in it.
EXTRACT_META = "extract_meta"
EXTRACT_UNITS = "extract_units"           # the units it speaks for: the sub-tree and the units merged into it
REFERENCE_TABLE = "reference_totals"      # the province's totals and ranks it carries, per period and profile


def extract_info(con) -> dict | None:
    """What the store is an extract of (None for a province's store): unit_code, unit_name, subtree, personal,
    source, source_version, extracted_at, and `units` — the units whose figures it can give."""
    if not run(con, f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{EXTRACT_META}'")[0][0]:
        return None
    cols = ["unit_code", "unit_name", "subtree", "personal", "source", "source_version", "extracted_at"]
    row = run(con, f"SELECT {', '.join(cols)} FROM {EXTRACT_META}")
    if not row:
        return None
    info = dict(zip(cols, row[0]))
    info["units"] = {r[0] for r in run(con, f"SELECT unit_code FROM {EXTRACT_UNITS}")} | {info["unit_code"]}
    tree = run(con, f"""WITH RECURSIVE t(c) AS (SELECT ?::VARCHAR UNION SELECT u.unit_code FROM units u JOIN t
                        ON u.parent_code = t.c WHERE u.unit_code IN (SELECT unit_code FROM {EXTRACT_UNITS}))
                        SELECT count(*) FROM t""", [info["unit_code"]])[0][0]
    info["below"], info["merged"] = tree - 1, len(info["units"]) - tree
    return info


def extract_label(info: dict | None) -> str | None:
    """The line every output of an extract opens with (None for a province's store)."""
    if info is None:
        return None
    parts = [f"{info['below']} đơn vị trực thuộc"] if info["below"] else []
    parts += [f"{info['merged']} đơn vị cũ đã sáp nhập vào"] if info["merged"] else []
    tree = ", gồm " + " và ".join(parts) if parts else ""
    personal = "CÓ dữ liệu cá nhân của người nộp — chỉ dùng nội bộ" if info["personal"] else \
        "không gồm dữ liệu cá nhân"
    return f"Kho trích cho {info['unit_name']} ({info['unit_code']}{tree}) ({personal})"


PYTHON_RESERVE = 512 << 20     # of a memory budget, what the Python side keeps (libraries, frames): DuckDB has the rest
UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
         "tib": 1 << 40}


def default_memory_limit() -> str | None:
    """Half the machine's memory (DuckDB would take 80 %): the notebook, the browser and the rest keep the
    other half. None where the machine does not say (DuckDB's own default then)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return f"{max(total // 2 >> 20, 256)}MiB"


def duckdb_share(budget: str) -> str:
    """DuckDB's memory limit within a command's budget (`KPI_MEMORY_LIMIT`, or half the machine): the budget
    less what Python keeps beside it (PYTHON_RESERVE, at most half the budget), so that the process — not
    only DuckDB — stays within it. A budget that is not a size ('4GB', '800MB', '3.5GiB') is passed on as
    written (DuckDB says whether it is one)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b)?\s*", budget, re.IGNORECASE)
    if not m or (m.group(2) or "b").lower() not in UNITS:
        return budget
    size = float(m.group(1)) * UNITS[(m.group(2) or "b").lower()]
    return f"{int(max(size - PYTHON_RESERVE, size / 2))}B"


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store. Read-only never writes: an empty file, or a store made by an older version, gets
    its missing tables as temporary ones for this connection. A DuckDB file of another application is
    refused (read-only or not): kpi never writes its tables into it."""
    origin = "--store / tham số store" if path else config.where_store_came_from()
    path = Path(path) if path else config.default_store()
    if read_only and not path.exists():
        raise StoreError(f"Không có kho dữ liệu {path} (đường dẫn lấy từ {origin}) — nếu đã "
                         "nạp dữ liệu ở chỗ khác, đặt KPI_STORE hoặc --store đúng tệp đó; nếu chưa, chạy `make load` "
                         "(hay `kpi load data/raw`).")
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    # Timestamps are stored naive, in local time (Asia/Ho_Chi_Minh): no ICU extension needed.
    cfg = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=cfg)
    except duckdb.Error as exc:
        raise StoreError(_open_error(path, exc)) from None
    if new and not read_only:
        os.chmod(path, PRIVATE_FILE)        # applicants' personal data: readable by the owner only
    limit = os.environ.get("KPI_MEMORY_LIMIT") or default_memory_limit()
    if limit:                  # a shared server: DuckDB spills to disk beyond its share of the budget
        try:
            con.execute(f"SET memory_limit = '{duckdb_share(limit)}'")
        except duckdb.Error:
            con.close()
            raise StoreError(f"KPI_MEMORY_LIMIT={limit!r} không hợp lệ — viết như 1GB hoặc 800MB.") from None
    have = _tables(con)
    if have and not (have & KPI_MARKERS):
        con.close()
        raise StoreError(f"{path} không phải kho dữ liệu kpi766 (có {len(have)} bảng khác: "
                         f"{', '.join(sorted(have)[:3])}…) — chọn tệp kho khác bằng --store hoặc KPI_STORE.")
    if not read_only:
        ensure_schema(con)
    elif _outdated(con):
        ensure_schema(con, temp=True)
    return con


def _open_error(path: Path, exc: Exception) -> str:
    msg = str(exc).splitlines()[0]
    lock = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", msg)
    if lock:
        return (f"kho dữ liệu {path} đang được một tiến trình khác dùng ({lock.group(1)}, PID {lock.group(2)}) — "
                f"chờ tiến trình đó xong hoặc đóng nó (sổ tay Jupyter đang mở kho?), rồi chạy lại.")
    if "lock" in msg.lower():
        return f"kho dữ liệu {path} đang được một tiến trình khác dùng — chờ tiến trình đó xong rồi chạy lại."
    if "not a valid DuckDB database" in msg or "Unable to open" in msg or "IO Error" in msg:
        return f"không mở được {path} như một kho DuckDB ({msg[:120]}) — kiểm tra đường dẫn --store / KPI_STORE."
    return f"Không mở được kho dữ liệu {path}: {msg}"


def path_of(con) -> str | None:
    """The file the connection's store is in (None in memory)."""
    return run(con, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()")[0][0]


def cache_folder(path) -> Path:
    """The folder beside a store holding what is kept about it (kpi.cache's figures, the state a load left)."""
    return Path(str(path) + ".cache")


def file_state(path) -> list:
    """The store file and its write-ahead log as the system sees them (size, last write; None: absent): any write
    changes it, a read does not."""
    return [[os.stat(f).st_size, os.stat(f).st_mtime_ns] if os.path.exists(f) else None
            for f in (str(path), str(path) + ".wal")]


def stamp_loaded(con) -> None:
    """After a load's commit: its writes made durable in the file (CHECKPOINT), and the file's state kept
    beside it. A store still in that state was last written by `kpi load`, which records how far back each
    load reaches (load_reach); any other write changes the state (`written_outside_loads`)."""
    path = path_of(con)
    if not path:
        return
    run(con, "CHECKPOINT")
    folder = cache_folder(path)
    try:
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        tmp = folder / f".store-state.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(file_state(path)), encoding="utf-8")
        os.replace(tmp, folder / "store-state")
    except OSError:          # a folder that cannot be written: every figure is then keyed by the file's state
        pass


def written_outside_loads(con) -> list | None:
    """None when the store's file is as the last `kpi load` left it; else its state (size and modification
    time of the file and its write-ahead log): something else wrote it since."""
    path = path_of(con)
    if not path:
        return None
    state = file_state(path)
    try:
        kept = json.loads((cache_folder(path) / "store-state").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return state
    return None if kept == state else state


def _tables(con) -> set[str]:
    return {r[0] for r in run(con, "SELECT table_name FROM information_schema.tables "
                                   "WHERE table_schema = 'main' AND table_catalog = current_database()")}


def _outdated(con) -> bool:
    return not ({*TABLES, *META_TABLES} <= _tables(con))


def run(con, sql: str, params=None) -> list:
    """Execute and fetch everything (DuckDB 2 refuses new work while a result is unfetched)."""
    return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()


def drop_quietly(con, tables: list) -> None:
    """Drop these temporary tables if they exist; a connection that can no longer run anything (the reason
    a load stops) is left as it is, the error that stopped it being the one reported."""
    for t in tables:
        try:
            run(con, f"DROP TABLE IF EXISTS {t}")
        except Exception:      # noqa: BLE001
            pass


# The large tables carry no index: the loader keeps their keys unique (a repeated key in a file is
# quarantined, the latest record of a key wins between files and against the store), and a key index on
# tens of millions of rows would cost more memory and time than the rest of a load. Stores made before
# keep theirs; both work.
UNINDEXED = {"dossiers", "dossier_events", "ratings", "feedback"}


def table_ddl(name: str, temp: bool = False) -> str:
    t = TABLES[name]
    cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.type]}' for c in t.columns)
    key = "" if name in UNINDEXED else f", PRIMARY KEY ({', '.join(t.key)})"
    return f'CREATE {"TEMP " if temp else ""}TABLE IF NOT EXISTS "{name}" ({cols}, _file VARCHAR, _line BIGINT{key})'



def calendar_changes(con) -> list:
    """The days whose working status in the calendar in force (the `holidays` data, calendar_overrides.csv,
    KPI_CALENDAR_OVERRIDES) differs from the store's calendar, which every working-day figure reads."""
    con.register("_calendar_now", calendar_frame())
    try:
        rows = run(con, """SELECT coalesce(c.d, s.d) FROM _calendar_now c FULL JOIN calendar s ON s.d = c.d
                           WHERE c.is_working IS DISTINCT FROM s.is_working ORDER BY 1""")
    finally:
        con.unregister("_calendar_now")
    return [r[0] for r in rows]


def apply_calendar(con) -> None:
    """The calendar in force written into the store (a load does it, in its transaction)."""
    con.register("_calendar_now", calendar_frame())
    try:
        run(con, "DELETE FROM calendar")
        run(con, "INSERT INTO calendar SELECT d, is_working, wd_index FROM _calendar_now")
    finally:
        con.unregister("_calendar_now")


CALENDAR_CONTENT = "SELECT hash(string_agg(d || ':' || is_working || ':' || wd_index, ',' ORDER BY d)) FROM calendar"


def record_calendar(con) -> None:
    """What the store's calendar was made from (kpi.calendar.source) and its content's digest, so that
    opening the store need not compute the calendar in force to know it is the same."""
    run(con, "DELETE FROM calendar_source")
    run(con, f"INSERT INTO calendar_source SELECT ?, ({CALENDAR_CONTENT})", [calendar_source()])


def check_calendar(con) -> None:
    """A one-line error when the calendar in force is not the store's: figures would be counted on the
    old working days while the text and the what-ifs use the new ones. A store whose calendar was made
    from the same sources, unchanged since, is the same: nothing is computed."""
    kept = run(con, "SELECT source, content FROM calendar_source")
    if kept and kept[0] == (calendar_source(), run(con, CALENDAR_CONTENT)[0][0]):
        return
    changed = calendar_changes(con)
    if changed:
        raise StoreError(f"Lịch ngày làm việc đang dùng khác lịch trong kho ở {len(changed)} ngày (vd. "
                         f"{changed[0]:%d/%m/%Y}) — chạy `kpi load data/raw` để áp dụng lịch mới (kho tính lại theo "
                         "lịch đó), hoặc trả tệp lịch về như cũ.")


def ensure_schema(con: duckdb.DuckDBPyConnection, temp: bool = False) -> None:
    """Create whatever is missing, all in one transaction: a process killed half-way leaves no half schema.
    temp: as temporary tables of this connection (a read-only open of an empty or older store)."""
    have = _tables(con)
    if "loaded_files" in have and not temp:     # stores made before updates were counted
        run(con, "ALTER TABLE loaded_files ADD COLUMN IF NOT EXISTS rows_updated BIGINT")
    if not _outdated(con) and run(con, "SELECT count(*) FROM calendar")[0][0] > 0:
        return
    run(con, "BEGIN TRANSACTION")
    try:
        for name in TABLES:
            if name not in have:
                run(con, table_ddl(name, temp))
        for stmt in META_DDL.split(";"):
            table = re.search(r"EXISTS (\w+)", stmt)
            if stmt.strip() and table.group(1) not in have:
                run(con, stmt.replace("CREATE TABLE", "CREATE TEMP TABLE") if temp else stmt)
        if run(con, "SELECT count(*) FROM calendar")[0][0] == 0:
            cal = calendar_frame()
            con.register("_cal", cal)
            run(con, "INSERT INTO calendar SELECT d, is_working, wd_index FROM _cal")
            con.unregister("_cal")
            record_calendar(con)
        run(con, "COMMIT")
    except BaseException:
        run(con, "ROLLBACK")
        raise


def table_counts(con) -> dict[str, int]:
    names = list(TABLES) + ["published_scores"]
    return {name: run(con, f'SELECT count(*) FROM "{name}"')[0][0] for name in names}


# A quarantine reason as shown outside the store: the quoted raw value (which may be an applicant's phone
# number under a mislabelled column) becomes '…'; the store keeps the full reason and the raw row.
MASKED_REASON = r"regexp_replace(reason, '''[^'']*''', '''…''', 'g')"


def quarantine_summary(con, units: set[str] | None = None, limit: int | None = None) -> list[tuple]:
    """(table, masked reason, rows) grouped, largest first; `units`: only rows of those units."""
    where, params = "", None
    if units is not None:
        where = ("WHERE coalesce(regexp_extract(raw, '\"unit_code\": \"([^\"]*)\"', 1), '') "
                 "IN (SELECT unnest(?::VARCHAR[]))")
        params = [sorted(units)]
    sql = (f"SELECT table_name, {MASKED_REASON} AS reason, count(*) AS n FROM quarantine {where} "
           f"GROUP BY ALL ORDER BY n DESC, table_name, reason" + (f" LIMIT {int(limit)}" if limit else ""))
    return run(con, sql, params)
