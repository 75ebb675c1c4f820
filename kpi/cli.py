"""`kpi` commands: thin — parse, call, print. Errors are one line, never a traceback."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import config


class UsageError(Exception):
    """Invalid input from the user (exit code 2)."""


def _store(args) -> Path:
    return Path(args.store) if getattr(args, "store", None) else config.default_store()


def cmd_sample(args) -> int:
    from .sample import generate
    counts = generate(Path(args.out), seed=args.seed, months=args.months, per_year=args.dossiers_per_year,
                      progress=not args.quiet)
    for name, n in counts.items():
        print(f"{name:32s} {n:>10,d} dòng".replace(",", "."))
    print(f"Đã tạo tỉnh mẫu trong {args.out} (seed {args.seed}).")
    return 0


def cmd_load(args) -> int:
    from .load import load_paths
    from .store import connect
    con = connect(_store(args))
    report = load_paths(con, args.paths, progress=not args.quiet)
    con.close()
    for f in report.files:
        if f.skipped:
            print(f"{f.file}: đã nạp trước đó (cùng mã băm) — bỏ qua, kho không đổi.")
            continue
        print(f"{f.file} → {f.table}: đọc {f.read} = nạp {f.loaded} + cách ly {f.quarantined}")
        for reason, n in list(f.reasons.items())[:5]:
            print(f"    cách ly {n}: {reason}")
        if f.unknown_columns:
            print(f"    bỏ qua các cột không dùng: {', '.join(f.unknown_columns[:10])}")
    print(f"Tổng: đọc {report.read} = nạp {report.loaded} + cách ly {report.quarantined}. Kho: {_store(args)}")
    return 0


def status_data(con) -> dict:
    from .store import table_counts
    tables = table_counts(con)
    q = con.execute("SELECT table_name, reason, count(*) FROM quarantine GROUP BY ALL ORDER BY 3 DESC").fetchall()
    files = con.execute("SELECT file, sha256, table_name, rows_read, rows_loaded, rows_quarantined, "
                        "strftime(loaded_at, '%Y-%m-%d %H:%M:%S') FROM loaded_files ORDER BY loaded_at, file").fetchall()
    period = con.execute("SELECT strftime(min(received_at), '%Y-%m-%d'), strftime(max(received_at), '%Y-%m-%d') "
                         "FROM dossiers").fetchone()
    return {"tables": tables, "quarantined": sum(r[2] for r in q),
            "quarantine_reasons": [{"table": t, "reason": r, "rows": n} for t, r, n in q],
            "period": {"from": period[0], "to": period[1]},
            "files": [dict(zip(["file", "sha256", "table", "rows_read", "rows_loaded", "rows_quarantined", "loaded_at"], f))
                      for f in files]}


def cmd_status(args) -> int:
    from .store import connect
    from .report.fmt import fmt_date
    con = connect(_store(args), read_only=True)
    data = status_data(con)
    con.close()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"Kho dữ liệu: {_store(args)}")
    p = data["period"]
    if p["from"]:
        print(f"Hồ sơ tiếp nhận từ {fmt_date(p['from'])} đến {fmt_date(p['to'])}")
    print("Số dòng theo bảng:")
    for t, n in data["tables"].items():
        print(f"  {t:24s} {n:>10,d}".replace(",", "."))
    print(f"Dòng bị cách ly: {data['quarantined']}")
    for r in data["quarantine_reasons"][:10]:
        print(f"  {r['table']}: {r['rows']} — {r['reason']}")
    print(f"Tệp đã nạp: {len(data['files'])}")
    for f in data["files"]:
        print(f"  {f['file']}  sha256 {f['sha256'][:12]}…  {f['rows_loaded']}/{f['rows_read']} dòng")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kpi", description="Bộ chỉ số 766 — tính, giải thích và công khai.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--store", help="tệp kho DuckDB (mặc định: $KPI_STORE hoặc data/processed/kpi.duckdb)")
        sp.add_argument("-q", "--quiet", action="store_true", help="không hiện thanh tiến trình")

    s = sub.add_parser("sample", help="tạo dữ liệu tỉnh mẫu")
    common(s)
    s.add_argument("--out", default="data/raw")
    s.add_argument("--seed", type=int, default=766)
    s.add_argument("--months", type=int, default=18)
    s.add_argument("--dossiers-per-year", type=int, default=150_000)
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("load", help="nạp tệp dữ liệu vào kho")
    common(s)
    s.add_argument("paths", nargs="+")
    s.set_defaults(func=cmd_load)

    s = sub.add_parser("status", help="tình trạng kho dữ liệu")
    common(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
    return p


def main(argv=None) -> int:
    from .load import LoadError
    from .store import StoreError
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    except (LoadError, StoreError) as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Đã dừng theo yêu cầu; kho dữ liệu không đổi.", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, the details only on request
        if os.environ.get("KPI_DEBUG"):
            raise
        print(f"Lỗi không mong đợi ({type(exc).__name__}): {exc} — chạy lại với KPI_DEBUG=1 để xem chi tiết.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
