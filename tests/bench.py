"""`make bench [SIZE=1000000]`: the main steps timed on one sample, each in a process of its own so its
peak memory is its own, and reported as ratios to DuckDB doing the plain work in the same run:
`read_csv` of the same files into tables (for loading), and one scan joining dossiers and events grouped
by unit and month (for scoring).

Not a test: nothing here asserts a time. SIZE is dossiers a year; without it, the default sample
(150 000 a year, 18 months); with it, one year.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = {}


def step(name):
    def wrap(fn):
        STEPS[name] = fn
        return fn
    return wrap


@step("sample")
def _sample(raw, store, per_year, months):
    from kpi.sample import generate
    generate(Path(raw), 766, months, per_year, False)


@step("sample_sync")
def _sample_sync(raw, store, per_year, months):
    from kpi.sample import generate
    generate(Path(raw), 766, months, per_year, False, fmt="sync")


def _read_csvs(con, raw) -> None:
    """DuckDB's plain read of a folder's CSV files: each into a table of text columns."""
    for f in sorted(Path(raw).glob("*.csv")):
        con.execute(f"CREATE TABLE \"{f.stem}\" AS SELECT * FROM read_csv('{f}', all_varchar=true)")


@step("duckdb_load")
def _duckdb_load(raw, store, per_year, months):
    import duckdb
    con = duckdb.connect(store)
    _read_csvs(con, raw)
    con.close()


@step("duckdb_load_sync")
def _duckdb_load_sync(raw, store, per_year, months):
    """The plain work of the payloads: DuckDB's JSON reader (its own types) reads each service's files into a
    table, and read_csv the CSV files beside them."""
    import duckdb
    con = duckdb.connect(store)
    payloads: dict = {}          # (service, JSON Lines?) → files
    for f in sorted(Path(raw).rglob("*")):
        name = f.name.lower().removesuffix(".gz")
        if name.endswith((".json", ".jsonl")):
            payloads.setdefault((f.name.split("_")[0], name.endswith(".jsonl")), []).append(str(f))
    for (service, lines), files in payloads.items():
        con.execute(f"""CREATE TABLE "{service}{'' if lines else '_array'}" AS SELECT * FROM read_json({files!r},
                        format='{'newline_delimited' if lines else 'auto'}')""")
    _read_csvs(con, raw)
    con.close()


@step("load")
def _load(raw, store, per_year, months):
    from kpi.load import load_paths
    from kpi.store import connect
    con = connect(store)
    load_paths(con, [raw], progress=False)
    con.close()


@step("duckdb_scan")
def _duckdb_scan(raw, store, per_year, months):
    import duckdb
    con = duckdb.connect(store, read_only=True)
    con.execute("""SELECT d.unit_code, date_trunc('month', d.received_at) AS m, count(*) AS n,
                          count(*) FILTER (WHERE e.event = 'finished' AND e."at" <= d.due_at) AS on_time
                   FROM dossiers d LEFT JOIN dossier_events e USING (dossier_code)
                   GROUP BY ALL""").fetchall()
    con.close()


@step("scores_month")
def _scores_month(raw, store, per_year, months):
    import kpi
    kpi.scores(LAST_MONTH, store=store)


@step("scores_quarter")
def _scores_quarter(raw, store, per_year, months):
    import kpi
    kpi.scores(LAST_QUARTER, store=store)


@step("scores_year")
def _scores_year(raw, store, per_year, months):
    import kpi
    kpi.totals("2026", store=store, as_of="2026-11-20", compare=False)


@step("officials_month")
def _officials(raw, store, per_year, months):
    import kpi
    kpi.scores(LAST_MONTH, store=store, scope="official")


@step("report_monthly")
def _report(raw, store, per_year, months):
    from kpi.report.runner import render
    render("monthly", LAST_MONTH, store=store, out=Path(raw).parent / "bao-cao.html", progress=False)


@step("explorer_open")
def _explorer(raw, store, per_year, months):
    """Notebook 02's first view in a process of its own, from the explorer's import to the view drawn — what the
    analyst waits for. (Not the process's exit after it, ~0,2 s freeing what DuckDB held: a notebook's kernel
    goes on.)"""
    t = time.perf_counter()
    from kpi.explore import Explorer
    ex = Explorer(store, None, LAST_MONTH)
    ex.html()
    return time.perf_counter() - t


@step("explorer_change")
def _explorer_change(raw, store, per_year, months):
    """Open the explorer, then time the widget changes an analyst makes: group, unit, period, kind, profile
    (each redraw measured; the slowest is reported)."""
    from kpi.explore import Explorer
    ex = Explorer(store, None, LAST_MONTH)
    ex.html()
    changes = [("group", "TDGQ"), ("unit", ex.units[ex.units.level == "department"].unit_code.iloc[0]),
               ("period", ex.periods("month")[2]), ("kind", "quarter"), ("profile", "mo-ta-cong-thuc")]
    slowest = 0.0
    for k, v in changes:
        t = time.perf_counter()
        ex.state[k] = v
        ex.html()
        slowest = max(slowest, time.perf_counter() - t)
    return slowest


@step("alerts")
def _alerts(raw, store, per_year, months):
    """The morning's early warning for the whole province, as of the data's last moment (every open dossier
    judged, the units' figures at stake)."""
    import kpi
    kpi.alerts(store=store)


@step("warm")
def _warm(raw, store, per_year, months):
    from kpi.explore import Explorer
    Explorer(store).warm(progress=False)          # every shipped profile, as `kpi warm`


@step("split_day")
def _split_day(raw, store, per_year, months):
    """The sample as a province's exports: everything before the data's last day (base) and that day's
    export (new dossiers, updated ones with their current record, the day's events)."""
    import duckdb
    import shutil
    raw = Path(raw)
    base, day = raw.parent / "base", raw.parent / "day"
    for d in (base, day):
        d.mkdir(exist_ok=True)
    for f in raw.iterdir():
        if f.is_file() and f.name not in ("dossiers.csv", "dossier_events.csv"):
            shutil.copy(f, base / f.name)
    con = duckdb.connect()
    opts = "header=true, all_varchar=true"
    con.execute(f"CREATE VIEW d AS SELECT * FROM read_csv('{raw / 'dossiers.csv'}', {opts})")
    con.execute(f"CREATE VIEW e AS SELECT * FROM read_csv('{raw / 'dossier_events.csv'}', {opts})")
    last = con.execute("SELECT max(\"at\"::TIMESTAMP)::DATE FROM e").fetchone()[0]
    con.execute(f"COPY (SELECT * FROM d WHERE received_at::TIMESTAMP < DATE '{last}') TO '{base / 'dossiers.csv'}' (HEADER)")
    con.execute(f"COPY (SELECT e.* FROM e JOIN d USING (dossier_code) WHERE e.\"at\"::TIMESTAMP < DATE '{last}' "
                f"AND d.received_at::TIMESTAMP < DATE '{last}') TO '{base / 'dossier_events.csv'}' (HEADER)")
    con.execute(f"COPY (SELECT * FROM d WHERE received_at::TIMESTAMP >= DATE '{last}' OR dossier_code IN "
                f"(SELECT dossier_code FROM e WHERE \"at\"::TIMESTAMP >= DATE '{last}')) TO '{day / 'dossiers.csv'}' (HEADER)")
    con.execute(f"COPY (SELECT * FROM e WHERE \"at\"::TIMESTAMP >= DATE '{last}' OR dossier_code IN "
                f"(SELECT dossier_code FROM d WHERE received_at::TIMESTAMP >= DATE '{last}')) "
                f"TO '{day / 'dossier_events.csv'}' (HEADER)")


@step("load_day")
def _load_day(raw, store, per_year, months):
    """A one-day export loaded into a store holding everything before it (that load is not timed)."""
    from kpi.load import load_paths
    from kpi.store import connect
    con = connect(store)
    load_paths(con, [Path(raw).parent / "base"], progress=False)
    con.close()
    t = time.perf_counter()
    con = connect(store)
    load_paths(con, [Path(raw).parent / "day"], progress=False)
    con.close()
    return time.perf_counter() - t


@step("explorer_after_day")
def _explorer_after_day(raw, store, per_year, months):
    """Notebook 02 opened after a day's export into a store whose figures were kept before it (`kpi warm`
    after the load of the rest; neither timed): the periods the export does not reach are read from what
    was kept, the others counted (memory cleared: as a new process)."""
    from kpi.analysis import cache
    from kpi.explore import Explorer
    from kpi.load import load_paths
    from kpi.store import connect
    for part in ("base", "day"):
        con = connect(store)
        load_paths(con, [Path(raw).parent / part], progress=False)
        con.close()
        if part == "base":
            Explorer(store).warm(profiles=[None], progress=False)
    cache.clear()
    t = time.perf_counter()
    Explorer(store, None, LAST_MONTH).html()
    return time.perf_counter() - t


LAST_MONTH, LAST_QUARTER = "2026-10", "2026-Q3"
ON_ANOTHER_STORE = {"explorer_open_day": "explorer_open"}     # a row: a step run on the store of another row
SYNC_UP_TO = int(os.environ.get("BENCH_SYNC_UP_TO", 10**12))   # above it the sync steps are skipped (0: never)
LABELS = {
    "sample": "kpi sample", "sample_sync": "kpi sample --format sync", "duckdb_load": "DuckDB read_csv (chuẩn)",
    "duckdb_load_sync": "DuckDB read_json (đồng bộ)",
    "load": "kpi load (CSV chuẩn)", "load_sync": "kpi load (dữ liệu đồng bộ)", "duckdb_scan": "DuckDB quét hồ sơ × sự kiện",
    "scores_month": "kpi.scores 1 tháng", "scores_quarter": "kpi.scores 1 quý", "scores_year": "kpi.totals 1 năm",
    "officials_month": "kpi.scores cán bộ 1 tháng", "report_monthly": "kpi report monthly",
    "explorer_open": "sổ tay 02: mở, hình đầu tiên", "explorer_change": "sổ tay 02: đổi lựa chọn (chậm nhất)",
    "warm": "kpi warm (tính sẵn 12 tháng, các quý)",
    "report_monthly_kept": "kpi report monthly, sau kpi warm", "explorer_open_kept": "sổ tay 02: mở, sau kpi warm",
    "explorer_change_kept": "sổ tay 02: đổi lựa chọn, sau kpi warm",
    "alerts": "kpi alerts (cả tỉnh, sáng nay)", "split_day": "tách tệp một ngày (chuẩn bị)", "load_day": "kpi load tệp một ngày vào kho đã có",
    "explorer_open_day": "sổ tay 02: mở ngay sau khi nạp tệp một ngày",
    "explorer_after_day_kept": "sổ tay 02: mở sau tệp một ngày, giữ kỳ không chạm"}
BASELINE = {"load": "duckdb_load", "load_sync": "duckdb_load_sync", "scores_month": "duckdb_scan",
            "scores_quarter": "duckdb_scan", "scores_year": "duckdb_scan", "officials_month": "duckdb_scan",
            "report_monthly": "duckdb_scan", "explorer_open": "duckdb_scan", "alerts": "duckdb_scan",
            "explorer_open_day": "duckdb_scan"}
ALSO = {"load_sync": "load"}      # a second ratio: the payloads' load against the same province's CSV load (issue 19)


def measure(name: str, *args, kept: bool = False) -> tuple[float, float]:
    """Seconds and peak memory (MB) of one step run in a process of its own. A step that returns seconds
    (the part that matters, e.g. a widget change after the open) is timed by itself. kept: the figures
    kept beside the store (kpi.cache) may be read; otherwise each step computes from the data."""
    t = time.perf_counter()
    inner = Path(tempfile.mkstemp(suffix=".t")[1])
    env = {**os.environ, "BENCH_INNER": str(inner), "KPI_CACHE": "1" if kept else "memory"}
    step_name = ON_ANOTHER_STORE.get(name, name.removesuffix("_kept"))
    p = subprocess.Popen([sys.executable, "-m", "tests.bench", "--step", step_name, *map(str, args)],
                         env=env)
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t
    if status != 0:          # reported, and the run goes on (a 10M step may run out of memory)
        print(f"bước {name} lỗi (mã {status})", file=sys.stderr)
        return None, usage.ru_maxrss / 1024
    text = inner.read_text().strip()
    inner.unlink()
    return (float(text) if text else secs), usage.ru_maxrss / 1024


def _row(name: str, rows: dict) -> None:
    secs, mb = rows[name]
    base = BASELINE.get(name)
    if secs is None:
        print(f"{LABELS[name]:36s} {'lỗi':>8s} {mb:9.0f}", flush=True)
        return
    ratio = f"{secs / rows[base][0]:6.1f}× {LABELS[base]}" if base and rows.get(base, (None,))[0] else ""
    if (also := ALSO.get(name)) and rows.get(also, (None,))[0]:
        ratio += f"; {secs / rows[also][0]:.1f}× {LABELS[also]}"
    print(f"{LABELS[name]:36s} {secs:8.2f} {mb:9.0f}  {ratio}", flush=True)


NEEDS = {"load_day": ["split_day"], "explorer_open_day": ["split_day", "load_day"],
         "explorer_after_day_kept": ["split_day"], "load_sync": ["sample_sync", "load"], "report_monthly_kept": ["warm"],
         "explorer_open_kept": ["warm"], "explorer_change_kept": ["warm"]}
MAKES_STORE = {"kpi.duckdb": "load", "sync.duckdb": "load_sync"}   # a store a row runs on, and the row making it


def _chosen(plan: list, only: str | None, have_sample: bool, have_sync: bool = False) -> list:
    """The rows of `plan` asked for (BENCH_ONLY), with what they need made first: the sample (unless given),
    their baseline, the store they run on, the day's split. have_sync: the sync payload sample is given."""
    given = {name for name, has in (("sample", have_sample), ("sample_sync", have_sync)) if has}
    if not only:
        return [r for r in plan if r[0] not in given]
    want = {w.strip() for w in only.split(",") if w.strip()}
    unknown = want - {name for name, *_ in plan}
    if unknown:
        raise SystemExit(f"BENCH_ONLY: không có bước {', '.join(sorted(unknown))} — các bước: "
                         f"{', '.join(name for name, *_ in plan)}")
    while True:               # until what is wanted needs nothing more
        more = {need for name, _, store in plan if name in want
                for need in (BASELINE.get(name), MAKES_STORE.get(Path(store).name), *NEEDS.get(name, []))} - {None}
        if more <= want:
            break
        want |= more
    if not have_sample:
        want.add("sample")
    return [r for r in plan if r[0] in want and r[0] not in given]


def main(per_year: int | None = None) -> None:
    """BENCH_RAW=<folder>: a sample made before by `kpi sample` for the same size (the sample step is not run
    again: 13 minutes at 10M); BENCH_RAW_SYNC=<folder>: the same for `kpi sample --format sync`; BENCH_ONLY=load,scores_year,…: only these rows (and the baselines they are
    compared with, and the stores they run on, are made first)."""
    months = 12 if per_year else 18
    per_year = per_year or 150_000
    rows = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        raw, raw_sync = Path(os.environ.get("BENCH_RAW") or tmp / "raw"), Path(os.environ.get("BENCH_RAW_SYNC") or
                                                                               tmp / "raw-sync")
        if os.environ.get("BENCH_RAW"):          # the day's split goes beside the sample: a folder of our own
            (tmp / "raw").symlink_to(raw.resolve(), target_is_directory=True)
            raw = tmp / "raw"
        plan = [("sample", raw, tmp / "x"), ("duckdb_load", raw, tmp / "baseline.duckdb"),
                ("load", raw, tmp / "kpi.duckdb")]
        if per_year <= SYNC_UP_TO:       # the payload sample is made a few days at a time, as the CSV one
            plan += [("sample_sync", raw_sync, tmp / "x"), ("duckdb_load_sync", raw_sync, tmp / "baseline-sync.duckdb"),
                     ("load_sync", raw_sync, tmp / "sync.duckdb")]
        plan += [("duckdb_scan", raw, tmp / "kpi.duckdb")]
        plan += [(s, raw, tmp / "kpi.duckdb") for s in ("scores_month", "scores_quarter", "scores_year",
                                                         "officials_month", "report_monthly", "explorer_open",
                                                         "explorer_change", "alerts")]
        plan += [(s, raw, tmp / "kpi.duckdb") for s in ("warm", "report_monthly_kept", "explorer_open_kept",
                                                         "explorer_change_kept")]
        plan += [("split_day", raw, tmp / "x"), ("load_day", raw, tmp / "day.duckdb"),
                 ("explorer_open_day", raw, tmp / "day.duckdb"), ("explorer_after_day_kept", raw, tmp / "after.duckdb")]
        plan = _chosen(plan, os.environ.get("BENCH_ONLY"), bool(os.environ.get("BENCH_RAW")),
                       bool(os.environ.get("BENCH_RAW_SYNC")))
        print(f"Đo ngày {time.strftime('%d/%m/%Y')} · {os.cpu_count()} lõi · "
              f"{per_year:,} hồ sơ/năm".replace(",", ".") + f", {months} tháng")
        print(f"{'bước':36s} {'giây':>8s} {'MB đỉnh':>9s}  so với DuckDB cùng lượt", flush=True)
        for name, r, store in plan:       # each row as soon as it is measured (a 10M run takes an hour)
            rows[name] = measure("load" if name == "load_sync" else name, r, store, per_year, months,
                                 kept=name == "warm" or name.endswith("_kept"))
            _row(name, rows)
    print(json.dumps({k: {"seconds": v[0] and round(v[0], 3), "peak_mb": round(v[1])} for k, v in rows.items()}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--step":
        name, raw, store, per_year, months = sys.argv[2:7]
        inner = STEPS[name](raw, store, int(per_year), int(months))
        if inner is not None and os.environ.get("BENCH_INNER"):
            Path(os.environ["BENCH_INNER"]).write_text(f"{inner:.6f}")
    else:
        size = os.environ.get("SIZE") or (sys.argv[1] if len(sys.argv) > 1 else None)
        main(int(size) if size else None)
