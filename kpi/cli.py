"""`kpi` commands: thin — parse, call, print. Errors are one line, never a traceback. Each command imports
the layers it runs when it runs (pandas, DuckDB and the engine are deferred on purpose), so `kpi --help` and
a mistyped argument answer at once and a Ctrl-C during start-up is still one line."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kpi import config


class UsageError(Exception):
    """Invalid input from the user (exit code 2)."""


def _store(args) -> Path:
    if getattr(args, "store", None):
        config.adopt_store(args.store)
        return Path(args.store)
    return config.default_store()


def cmd_sample(args) -> int:
    from kpi.sample import generate
    counts = generate(Path(args.out), seed=args.seed, months=args.months, per_year=args.dossiers_per_year,
                      progress=not args.quiet, fmt=args.format)
    for name, n in counts.items():
        print(f"{name:32s} {n:>10,d} dòng".replace(",", "."))
    print(f"Đã tạo tỉnh mẫu trong {args.out} (seed {args.seed}).")
    return 0


def _tally(read, loaded, superseded, quarantined, updated) -> str:
    """`đọc N = nạp L + cách ly Q`, naming the rows left for a later record and the updates."""
    out = f"đọc {read} = nạp {loaded}"
    if superseded:
        out += f" + bỏ qua {superseded} (đã có bản ghi mới hơn)"
    out += f" + cách ly {quarantined}"
    if updated:
        out += f"; {updated} dòng nạp là cập nhật bản ghi đã có"
    return out


def cmd_load(args) -> int:
    from kpi.load import load_paths
    from kpi.numbers import printable
    from kpi.store import connect, extract_info, private_files
    with private_files():              # the write-ahead log and spill files: the owner's only, as the store
        con = connect(_store(args))
        try:
            if extract_info(con):
                raise UsageError(f"{_store(args)} là kho trích của một đơn vị — nạp dữ liệu vào kho của tỉnh rồi "
                                 "trích lại (`kpi extract`), không nạp vào kho trích.")
            report = load_paths(con, args.paths, progress=not args.quiet)
        finally:
            con.close()
    for f in report.files:
        if f.skipped:
            print(f"{printable(f.file)}: đã nạp trước đó (cùng mã băm) — bỏ qua, kho không đổi.")
            continue
        print(f"{printable(f.file)} → {f.table}: {_tally(f.read, f.loaded, f.superseded, f.quarantined, f.updated)}")
        for reason, n in list(f.reasons.items())[:5]:
            print(f"    cách ly {n}: {printable(reason)}")
        if f.unknown_columns:
            print(f"    bỏ qua các cột không dùng: {printable(', '.join(f.unknown_columns[:10]))}")
        for note in f.notes:
            print(f"    {printable(note)}")
    if report.calendar_changed:
        c = report.calendar_changed
        print(f"Lịch ngày làm việc đã đổi ở {len(c)} ngày (vd. {c[0]:%d/%m/%Y}): đã áp dụng vào kho và tính lại "
              "mọi hồ sơ theo lịch mới.")
    if report.sync_unmatched:
        u = report.sync_unmatched
        print(f"Người xử lý trong dữ liệu đồng bộ không khớp danh sách cán bộ (giữ nguyên, vẫn tính cho đơn vị): "
              f"{len(u)} — {printable(', '.join(u[:10]))}{' …' if len(u) > 10 else ''}")
    for f in report.ignored:
        hint = " (Excel 97–2003: mở bằng Excel, lưu lại dạng .xlsx)" if f.lower().endswith(".xls") else ""
        print(f"{printable(f)}: không đọc định dạng này — bỏ qua{hint}.")
    print(f"Tổng: {_tally(report.read, report.loaded, report.superseded, report.quarantined, report.updated)}. "
          f"Kho: {_store(args)}")
    return 0


def status_data(con, reasons: int = 50) -> dict:
    """What the store holds. Quarantine reasons are grouped, their quoted values masked, and at most
    `reasons` groups listed: the output stays small whatever was quarantined."""
    from kpi.store import extract_info, extract_label, quarantine_summary, run, table_counts
    x = extract_info(con)
    extract = None if x is None else {**{k: v for k, v in x.items() if k != "units"}, "units": sorted(x["units"]),
                                      "label": extract_label(x), "extracted_at": str(x["extracted_at"])}
    tables = table_counts(con)
    total_q = run(con, "SELECT count(*) FROM quarantine")[0][0]
    q = quarantine_summary(con, limit=reasons)
    files = con.execute("SELECT file, sha256, table_name, rows_read, rows_loaded, rows_quarantined, "
                        "strftime(loaded_at, '%Y-%m-%d %H:%M:%S') FROM loaded_files ORDER BY loaded_at, file").fetchall()
    period = con.execute("SELECT strftime(min(received_at), '%Y-%m-%d'), strftime(max(received_at), '%Y-%m-%d') "
                         "FROM dossiers").fetchone()
    orphans = [r[0] for r in run(con, "SELECT unit_code FROM units WHERE parent_code IS NULL AND level <> 'province' "
                                      "ORDER BY unit_code")]
    sync = sync_status(con)
    return {"extract": extract, "tables": tables, "quarantined": total_q,
            "quarantine_reasons": [{"table": t, "reason": r, "rows": n} for t, r, n in q],
            "quarantine_reasons_listed": len(q),
            "period": {"from": period[0], "to": period[1]},
            "orphan_units": orphans, "sync": sync,
            "files": [dict(zip(["file", "sha256", "table", "rows_read", "rows_loaded", "rows_quarantined", "loaded_at"], f))
                      for f in files]}


def sync_status(con) -> dict:
    """What the national sync payloads brought: files, dossiers loaded and updated, steps, step holders not
    among the officials, records quarantined."""
    from kpi.load import sync
    from kpi.store import run
    cols = {r[0] for r in run(con, "SELECT column_name FROM information_schema.columns WHERE table_name = 'loaded_files'")}
    updated = "rows_updated" if "rows_updated" in cols else "0"
    rows = run(con, f"SELECT file, table_name, rows_loaded, coalesce({updated}, 0), rows_quarantined FROM loaded_files")
    rows = [r for r in rows if sync.kind_of_name(Path(r[0])) or r[0].lower().endswith(sync.SUFFIXES[1:])]
    unmatched = [r[0] for r in run(con, "SELECT DISTINCT official_id FROM dossier_events WHERE official_id IS NOT NULL "
                                        "AND official_id NOT IN (SELECT official_id FROM officials) ORDER BY 1")]
    return {"files": len({r[0] for r in rows}),
            "dossiers_loaded": sum(r[2] for r in rows if r[1] == "dossiers"),
            "dossiers_updated": sum(r[3] for r in rows if r[1] == "dossiers"),
            "steps": sum(r[2] for r in rows if r[1] == "dossier_events"),
            "procedures": sum(r[2] for r in rows if r[1] == "procedures"),
            "quarantined": sum(r[4] for r in rows), "unmatched_officials": unmatched[:100],
            "unmatched_officials_count": len(unmatched)}


def cmd_status(args) -> int:
    from kpi.numbers import fmt_date, fmt_int, printable
    from kpi.store import connect, too_open
    con = connect(_store(args), read_only=True)
    try:
        data = status_data(con)
    finally:
        con.close()
    warning = too_open(_store(args))
    if warning:
        print(warning, file=sys.stderr)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    x = data["extract"]
    if x:
        print(printable(x["label"]))
        print(f"  trích từ {printable(x['source'])} ({printable(x['source_version'])}) lúc {fmt_date(x['extracted_at'])}"
              f"; {fmt_int(len(x['units']))} đơn vị")
    print(f"Kho dữ liệu: {_store(args)}")
    p = data["period"]
    if p["from"]:
        print(f"Hồ sơ tiếp nhận từ {fmt_date(p['from'])} đến {fmt_date(p['to'])}")
    print("Số dòng theo bảng:")
    for t, n in data["tables"].items():
        print(f"  {t:24s} {fmt_int(n):>10}")
    print(f"Dòng bị cách ly: {fmt_int(data['quarantined'])}")
    for r in data["quarantine_reasons"][:10]:
        print(f"  {r['table']}: {fmt_int(r['rows'])} — {printable(r['reason'])}")
    if data["orphan_units"]:
        o = data["orphan_units"]
        print(f"Đơn vị không có đơn vị cha (không tính vào tổng của tỉnh): {printable(', '.join(o[:10]))}"
              + (" …" if len(o) > 10 else ""))
    sy = data["sync"]
    if sy["files"]:
        print(f"Dữ liệu đồng bộ DVCQG: {sy['files']} tệp — hồ sơ nạp {fmt_int(sy['dossiers_loaded'])} (cập nhật "
              f"{fmt_int(sy['dossiers_updated'])}), bước xử lý {fmt_int(sy['steps'])}, thủ tục từ danh mục "
              f"{fmt_int(sy['procedures'])}, cách ly {fmt_int(sy['quarantined'])}")
    if data["sync"]["unmatched_officials_count"]:
        u = data["sync"]["unmatched_officials"]
        print(f"Người xử lý không có trong danh sách cán bộ: {data['sync']['unmatched_officials_count']} — "
              f"{printable(', '.join(u[:10]))}{' …' if len(u) > 10 else ''}")
    print(f"Tệp đã nạp: {len(data['files'])}")
    for f in data["files"]:
        print(f"  {printable(f['file'])}  sha256 {f['sha256'][:12]}…  {f['rows_loaded']}/{f['rows_read']} dòng")
    return 0


def _rounded(frame, cols=("rate", "points", "max_points", "total", "previous_total", "change")):
    """Figures as the portal publishes them: half-up to 2 decimals."""
    import pandas as pd
    from kpi.numbers import round_half_up
    out = frame.copy()
    for c in out.columns:
        if c in cols or (c.startswith("group_") and c != "group_code"):
            out[c] = out[c].map(lambda v: None if pd.isna(v) else round_half_up(float(v), 2))
        elif c in ("numerator", "denominator"):   # counts stay whole; a mean's sum keeps 2 decimals
            out[c] = pd.Series([None if pd.isna(v) else int(v) if float(v).is_integer() else round_half_up(float(v), 2)
                                for v in out[c]], index=out.index, dtype=object)
    return out


def cmd_score(args) -> int:
    import pandas as pd
    from kpi.analysis import api
    from kpi.labels import METRICS
    from kpi.periods import PeriodError, parse
    from kpi.numbers import fmt_count, fmt_int, fmt_number, fmt_pct, printable
    from kpi.count.scoring import ProfileError
    from kpi.store import StoreError
    try:
        as_of = parse(args.as_of + ".." + args.as_of).start if args.as_of else None
    except PeriodError:
        raise UsageError(f"--as-of '{args.as_of}' không hợp lệ — dùng dạng 2026-08-20") from None
    if args.official and args.unit:
        raise UsageError("chọn --unit hoặc --official, không cả hai (một cán bộ thuộc một đơn vị)")
    if args.out and args.format == "table":
        raise UsageError("--out cần --format csv hoặc xlsx")
    _checked_out(args.out, {"csv": ".csv", "xlsx": ".xlsx"}.get(args.format))
    try:
        parse(args.period)
        with api.session(_store(args), profile=args.profile) as engine:
            api.check_period(engine.con, args.period, as_of, complete=True)
            s = api.scores_with(engine, args.period, unit=args.unit, subtree=args.subtree, as_of=as_of,
                                official=args.official)
            t = None
            if args.format == "table" and not args.unit and not args.official:
                t = api.totals_with(engine, args.period, as_of=as_of, subtree=args.subtree)
    except (PeriodError, api.ScopeError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    from kpi.report.publish import safe_frame, write_csv
    out = _rounded(s[api.SCORE_COLUMNS])
    if args.format == "csv":
        if args.out:
            write_csv(out, Path(args.out))
            _wrote(args.out, f"Đã ghi {args.out} ({len(out)} dòng).")
        else:
            sys.stdout.write(safe_frame(out).to_csv(index=False, lineterminator="\n"))
        return 0
    if args.format == "xlsx":
        from kpi.report.publish import write_xlsx
        label = parse(args.period).label
        target = Path(args.out) if args.out else config.outputs_dir() / label / f"diem-766-{label}.xlsx"
        write_xlsx({"Điểm": out}, target)
        _wrote(target, f"Đã ghi {target} ({len(out)} dòng).")
        return 0
    if t is not None:
        print(f"Bộ chỉ số 766 — kỳ {args.period}{' (đến ' + args.as_of + ')' if args.as_of else ''}")
        print(f"{'Hạng':>4}  {'Mã':12} {'Đơn vị':40} {'Tổng điểm':>9}  Xếp loại")
        for r in t.itertuples():
            rank = "" if pd.isna(r.rank) else str(r.rank)
            print(f"{rank:>4}  {printable(r.unit_code):12} {printable(r.unit_name)[:40]:40} {fmt_number(r.total):>9}  "
                  f"{r.grade_label}")
        return 0
    who = args.official or args.unit
    means = {c for c, m in engine.profile["metrics"].items() if m["rule"] == "mean"}
    print(f"Bộ chỉ số 766 — {printable(who)} — kỳ {args.period}")
    for r in out.itertuples():
        print(f"  {r.group_code:6} {METRICS.get(r.metric_code, r.metric_code)[:58]:58} "
              f"{fmt_count(r.numerator):>8}/"
              f"{fmt_int(r.denominator):<8} {(fmt_number(r.rate) if r.metric_code in means else fmt_pct(r.rate)):>9} "
              f"{fmt_number(r.points):>7}/{fmt_number(r.max_points)}")
    return 0


def cmd_report(args) -> int:
    from kpi.analysis import api
    from kpi.settings import SettingsError
    from kpi.periods import PeriodError, parse
    from kpi.periods import last_complete_quarter
    from kpi.analysis.api import last_complete_month
    from kpi.report.runner import ReportError, render
    from kpi.count.scoring import ProfileError
    from kpi.store import StoreError
    store = _store(args)
    try:
        if args.kind == "unit" and not args.unit:
            raise UsageError("báo cáo đơn vị cần --unit MÃ_ĐƠN_VỊ")
        with api.session(store, profile=args.profile) as engine:
            if args.period:
                p = parse(args.period)
            else:
                p = parse(last_complete_month(engine.con))
                if args.kind == "quarterly":
                    p = last_complete_quarter(p)
            if args.kind == "quarterly" and p.kind != "quarter":
                raise UsageError(f"báo cáo quý cần kỳ dạng 2026-Q3, không phải '{args.period}'")
            api.check_period(engine.con, p.label, complete=True)
            if args.unit:
                api.scores_with(engine, p, unit=args.unit, include_tracked=False)   # the unit exists in the period
        out = _checked_out(args.out, ".docx" if args.docx else ".html")
        print(f"Đang lập báo cáo {args.kind} kỳ {p.label}{' — ' + args.unit if args.unit else ''} …")
        if args.docx:
            path, secs = _docx(args, p, store, out)
        else:
            path, secs = render(args.kind, p.label, args.unit if args.kind == "unit" else None, args.profile, str(store),
                            out, progress=not args.quiet)
    except (PeriodError, StoreError, api.ScopeError, ProfileError, SettingsError) as exc:
        raise UsageError(str(exc)) from None
    except ReportError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 1
    from kpi.numbers import fmt_int, fmt_number
    _wrote(path, f"Đã ghi {path} ({fmt_int(path.stat().st_size / 1024)} KB) trong {fmt_number(secs, 1)} giây.")
    return 0


def _docx(args, p, store, out):
    """The report as a Word document in the layout of Decree 30/2020/NĐ-CP (settings from kpi766.yaml)."""
    import time
    from kpi.report import docx
    from kpi.report.content import build
    from kpi.report.runner import output_path
    from kpi.settings import load_settings
    start = time.perf_counter()
    settings = load_settings(args.settings)       # a missing or broken settings file stops before computing
    report = build(p.label, unit=args.unit if args.kind == "unit" else None, profile=args.profile, store=store,
                   progress=not args.quiet, review=True)
    target = Path(out) if out else output_path(args.kind, p.label, args.unit if args.kind == "unit" else None) \
        .with_suffix(".docx")
    return docx.write(report, settings, target), time.perf_counter() - start


def _checked_out(out, suffix: str | None = None):
    """An --out path is checked before any long computation: its folder can be written, its kind fits."""
    if not out:
        return None
    path = Path(out)
    if suffix and path.suffix.lower() != suffix:
        raise UsageError(f"--out {out}: cần tệp {suffix}")
    parent = path.parent if str(path.parent) else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise UsageError(f"--out {out}: không ghi được vào thư mục {parent} — chọn thư mục khác")
    if path.is_dir():
        raise UsageError(f"--out {out} là một thư mục — ghi tên tệp, vd. {Path(out) / ('ket-qua' + (suffix or ''))}")
    return str(path)


def cmd_publish(args) -> int:
    from kpi.analysis import api
    from kpi.periods import PeriodError
    from kpi.report.publish import publication, write_package
    from kpi.analysis.api import last_complete_month
    from kpi.count.scoring import ProfileError
    from kpi.store import StoreError
    try:
        with api.session(_store(args), profile=args.profile) as engine:
            p = api.check_period(engine.con, args.period or last_complete_month(engine.con), complete=True)
            frames, pictures, page = publication(engine, p, progress=not args.quiet)
    except (PeriodError, StoreError, api.ScopeError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out) if args.out else config.outputs_dir() / p.label / "cong-khai"
    for path in write_package(frames, out, p.label, pictures, page):
        _wrote(out, f"Đã ghi {path}")
    late = frames["danh-sach-ho-so-tre-han"]
    print(f"Kỳ {p.label}: {len(late)} hồ sơ trễ hạn; gói công khai không chứa thông tin cá nhân của người nộp.")
    return 0


def cmd_officials(args) -> int:
    """Officials to commend and to hold to account (1d), with the months behind it and the evidence."""
    from kpi.analysis import api
    from kpi.periods import PeriodError, parse
    from kpi.numbers import fmt_int, fmt_number, printable
    from kpi.analysis.review import ACCOUNT, COMMEND, DECISIONS, commend_rule, late_sheet, official_review_with, review_sheet
    from kpi.count.scoring import ProfileError
    from kpi.store import StoreError
    out = _checked_out(args.out, ".xlsx")
    try:
        p = parse(args.period)
        with api.session(_store(args), profile=args.profile) as engine:
            api.check_period(engine.con, p.label, complete=True)
            r = official_review_with(engine, p, args.unit)
            rules = engine.profile["review"]
    except (PeriodError, StoreError, api.ScopeError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    who = f" — đơn vị {printable(args.unit)}" if args.unit else ""
    print(f"Đánh giá cán bộ kỳ {p.label}{who}: {fmt_int(len(r))} cán bộ có hồ sơ; "
          f"mỗi tháng cần từ {rules['min_dossiers']} hồ sơ để được xếp loại.\nKhen thưởng: {commend_rule(rules)}.")
    for decision, title in DECISIONS.items():
        d = r[r.decision == decision]
        print(f"\n{title}: {fmt_int(len(d))}")
        for x in d.itertuples():
            extra = f"; {x.late_dossiers}/{x.dossiers_reviewed} hồ sơ trễ hạn" + (
                f", {x.overrun_steps} bước quá hạn" if decision == ACCOUNT else "")
            print(f"  {printable(x.official_id):10} {printable(x.full_name)[:28]:28} {printable(x.unit_name)[:30]:30} "
                  f"{fmt_number(x.index):>6}  {x.reason}{extra}")
    if out:
        from kpi.report.publish import write_xlsx
        sheet = review_sheet(r)
        write_xlsx({"Khen thưởng": sheet[r.decision.eq(COMMEND).to_numpy()],
                    "Xem xét trách nhiệm": sheet[r.decision.eq(ACCOUNT).to_numpy()],
                    "Tất cả cán bộ": sheet, "Hồ sơ trễ hạn": late_sheet(r)}, Path(out))
        _wrote(out, f"\nĐã ghi {out}")
    return 0


def cmd_alerts(args) -> int:
    """Early warning: the open dossiers that will be late unless someone acts, and the points at stake."""
    from kpi.analysis import api
    from kpi.analysis.alerts import alerts_with, left_text, sheets
    from kpi.count.scoring import ProfileError
    from kpi.numbers import fmt_int, printable
    from kpi.store import StoreError
    fmt = args.format if args.format != "table" or not args.out else \
        ("xlsx" if Path(args.out).suffix.lower() == ".xlsx" else "csv")
    out = _checked_out(args.out, ".xlsx" if fmt == "xlsx" else ".csv")
    try:
        with api.session(_store(args), profile=args.profile) as engine:
            a = alerts_with(engine, args.as_of, args.days, args.unit, not args.own, args.official)
            if args.pictures:
                from kpi.present.pictures import alert_cards
                written = alert_cards(a, Path(args.pictures))
    except (StoreError, api.ScopeError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    d = a.dossiers
    if fmt == "csv" and not out:
        from kpi.report.publish import safe_frame
        sys.stdout.write(safe_frame(sheets(a)["Hồ sơ"]).to_csv(index=False, lineterminator="\n"))
        return 0
    print(f"Cảnh báo sớm lúc {a.label}: {fmt_int(len(d))} hồ sơ cần xử lý ({a.counts_text()}; "
          f"sắp đến hạn = trong {a.days} ngày làm việc).")
    if len(a.units):
        print("\nĐơn vị (điểm tháng đến nay đang bị đe dọa, nặng nhất trước):")
        for u in a.units.itertuples():
            print(f"  {printable(u.unit_code):10} {printable(u.unit_name)[:34]:34} quá hạn {u.overdue:>4} · sắp đến hạn "
                  f"{u.due_soon:>4} · chờ bổ sung {u.waiting_applicant:>4} — {u.sentence}")
    if len(a.officials):
        print("\nCán bộ có nhiều hồ sơ cần xử lý nhất:")
        for o in a.officials.head(10).itertuples():
            print(f"  {printable(o.official_id):10} {printable(o.official_name or '')[:28]:28} quá hạn {o.overdue:>4} · "
                  f"sắp đến hạn {o.due_soon:>4} · chờ bổ sung {o.waiting_applicant:>4}")
    if len(d):
        print("\nHồ sơ (quá hạn trước, rồi theo hạn):")
        for x in d.head(args.top).itertuples():
            print(f"  {printable(x.dossier_code):16} {printable(x.unit_code):8} {printable(x.step or '')[:22]:22} "
                  f"{printable(x.official_name or x.official_id or '—')[:24]:24} {left_text(x.state, x.working_days_left)}")
        if len(d) > args.top:
            print(f"  … và {fmt_int(len(d) - args.top)} hồ sơ nữa — xem đủ bằng --format xlsx --out canh-bao.xlsx")
    if out and fmt == "xlsx":
        from kpi.report.publish import write_xlsx
        write_xlsx(sheets(a), Path(out))
        _wrote(out, f"\nĐã ghi {out}")
    elif out:
        from kpi.report.publish import write_csv
        write_csv(sheets(a)["Hồ sơ"], Path(out))
        _wrote(out, f"\nĐã ghi {out}")
    if args.pictures:
        print(f"Đã ghi {fmt_int(len(written))} ảnh vào {args.pictures}")
    return 0


def cmd_extract(args) -> int:
    """A unit's own store: its dossiers, officials and figures, nothing of other units', no personal data
    unless asked for."""
    from kpi.analysis import api
    from kpi.analysis.extract import extract
    from kpi.count.scoring import ProfileError
    from kpi.numbers import fmt_int, printable
    from kpi.store import StoreError
    out = _checked_out(args.out, ".duckdb")
    if args.with_personal:
        print("CẢNH BÁO: kho trích sẽ chứa họ tên, số giấy tờ, điện thoại, địa chỉ của người nộp — chỉ giao cho người "
              "được giao xử lý hồ sơ, không gửi qua nhóm chat hay thư điện tử công cộng.", file=sys.stderr)
    try:
        x = extract(args.unit, out, store=_store(args), subtree=not args.own, personal=args.with_personal,
                    profile=args.profile, progress=not args.quiet)
    except (StoreError, api.ScopeError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    _wrote(x.path, f"Đã ghi {x.path} — {printable(x.label)}: {fmt_int(x.dossiers)} hồ sơ, {fmt_int(x.officials)} cán "
                   f"bộ, điểm tham chiếu của tỉnh {fmt_int(x.reference_periods)} kỳ; chỉ chủ tệp đọc được (600).")
    print(f"Đơn vị mở bằng: KPI_STORE={x.path} make lab (sổ tay), hoặc kpi report monthly --store {x.path}")
    return 0


def cmd_warm(args) -> int:
    """Scores of the last 12 months and quarters, kept beside the store: notebook 02 opens at once."""
    from kpi.analysis import cache
    from kpi.notebook.explore import Explorer
    from kpi.count.scoring import ProfileError
    from kpi.store import StoreError
    if not cache.enabled() or os.environ.get("KPI_CACHE") == "memory":
        raise UsageError("KPI_CACHE tắt việc giữ kết quả bên cạnh kho — bỏ biến này rồi chạy lại.")
    try:
        ex = Explorer(_store(args), args.profile)
        n = ex.warm([args.profile] if args.profile else None, progress=not args.quiet)
    except (StoreError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    which = f"hồ sơ chấm điểm {args.profile}" if args.profile else "các hồ sơ chấm điểm có sẵn"
    print(f"Đã tính sẵn {n} kỳ × hồ sơ (12 tháng và các quý gần nhất, {which}), giữ tại {ex.store}.cache/ — "
          "sổ tay 02 mở ngay; lần nạp sau sẽ cần tính lại.")
    return 0


def cmd_portal(args) -> int:
    from kpi.analysis import api, portal
    from kpi.load import portal_json
    from kpi.periods import PeriodError, parse
    from kpi.count.scoring import ProfileError
    from kpi.store import StoreError
    if args.action == "check":
        if not args.files:
            raise UsageError("cần ít nhất một tệp JSON của Cổng DVCQG")
        import pandas as pd
        frames = []
        for f in args.files:
            frames.append(portal_json.parse_file(Path(f)))   # LoadError names the file
        try:
            rows = portal.check_rows(portal.rescore(pd.concat(frames, ignore_index=True), args.profile))
        except ProfileError as exc:
            raise UsageError(str(exc)) from None
        from kpi.report.publish import write_csv
        out = write_csv(rows, Path(args.out or "outputs/portal-check.csv"))
        rates = portal.match_rates(rows)
        print("Khớp điểm (lệch ≤ 0,015) theo chỉ số:")
        for r in rates.itertuples():
            print(f"  {r.metric_code:36s} {r.matched:>5d}/{r.rows:<5d} {r.match_rate:6.2f}%".replace(".", ","))
        total = rates.matched.sum() / rates.rows.sum() * 100 if rates.rows.sum() else 0
        print(f"Tổng: {rates.matched.sum()}/{rates.rows.sum()} ({total:.2f}%). Chi tiết: {out}".replace(".", ",", 1))
        return 0
    try:
        with api.session(_store(args), profile=args.profile) as engine:
            from kpi.analysis.api import last_complete_month
            p = parse(args.period or last_complete_month(engine.con))
            rec = portal.reconcile(engine, p)
    except (PeriodError, StoreError, api.ScopeError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    from kpi.report.publish import write_csv
    out = write_csv(rec, Path(args.out or config.outputs_dir() / p.label / f"doi-chieu-cong-dvcqg-{p.label}.csv"))
    diff = rec[rec.explanation != "khớp"]
    print(f"Đối chiếu kỳ {p.label}: {len(rec)} cặp đơn vị × chỉ số, {len(rec) - len(diff)} khớp, {len(diff)} lệch.")
    for r in diff.head(args.top).itertuples():
        print(f"  {str(r.unit_code or '?'):12s} {r.metric_code:30s} lệch {r.diff:+.2f}: {r.explanation}")
    print(f"Chi tiết: {out}")
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
    s.add_argument("--format", choices=["csv", "sync"], default="csv",
                   help="csv: bảng chuẩn; sync: hồ sơ và bước xử lý dạng dữ liệu đồng bộ lên Cổng DVCQG")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("load", help="nạp tệp dữ liệu vào kho")
    common(s)
    s.add_argument("paths", nargs="+")
    s.set_defaults(func=cmd_load)

    s = sub.add_parser("score", help="tính điểm Bộ chỉ số 766")
    common(s)
    s.add_argument("--period", required=True, help="2026-08, 2026-Q3, 2026-H1, 2026-9M, 2026 hoặc 2026-08-01..2026-08-20")
    s.add_argument("--unit", help="mã đơn vị")
    s.add_argument("--subtree", action="store_true", help="đơn vị và toàn bộ đơn vị trực thuộc")
    s.add_argument("--official", help="mã cán bộ")
    s.add_argument("--as-of", help="tính đến ngày (YYYY-MM-DD)")
    s.add_argument("--profile", help="tệp cấu hình chấm điểm (YAML)")
    s.add_argument("--format", choices=["table", "csv", "xlsx"], default="table")
    s.add_argument("--out", help="tệp kết quả")
    s.set_defaults(func=cmd_score)

    s = sub.add_parser("report", help="lập báo cáo HTML (tháng, quý, đơn vị)")
    common(s)
    s.add_argument("kind", choices=["monthly", "quarterly", "unit"])
    s.add_argument("--period", help="mặc định: tháng (quý) đầy đủ gần nhất của dữ liệu")
    s.add_argument("--unit", help="mã đơn vị (báo cáo đơn vị)")
    s.add_argument("--profile", help="tệp cấu hình chấm điểm (YAML)")
    s.add_argument("--out", help="tệp kết quả (.html, hoặc .docx với --docx)")
    s.add_argument("--docx", action="store_true",
                   help="bản Word theo thể thức Nghị định 30/2020/NĐ-CP thay cho HTML (thông tin cơ quan: kpi766.yaml)")
    s.add_argument("--settings", help="tệp thông tin cơ quan (mặc định kpi766.yaml ở thư mục làm việc)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("publish", help="gói công khai hằng tháng (XLSX, CSV, ảnh PNG, trang index.html)")
    common(s)
    s.add_argument("--period", help="mặc định: tháng đầy đủ gần nhất của dữ liệu")
    s.add_argument("--profile", help="tệp cấu hình chấm điểm (YAML)")
    s.add_argument("--out", help="thư mục kết quả (mặc định outputs/KỲ/cong-khai)")
    s.set_defaults(func=cmd_publish)

    s = sub.add_parser("officials", help="cán bộ đề nghị khen thưởng, xem xét trách nhiệm (kỳ quý, năm hoặc tháng)")
    common(s)
    s.add_argument("--period", required=True, help="kỳ đánh giá, vd. 2026-Q3, 2026 hoặc 2026-09 (tháng: 3 tháng gần nhất)")
    s.add_argument("--unit", help="chỉ cán bộ của đơn vị này (và đơn vị trực thuộc)")
    s.add_argument("--profile", help="tệp cấu hình chấm điểm (YAML): ngưỡng ở mục review")
    s.add_argument("--out", help="tệp XLSX kết quả (ba trang: khen thưởng, xem xét trách nhiệm, tất cả)")
    s.set_defaults(func=cmd_officials)

    s = sub.add_parser("alerts", help="cảnh báo sớm: hồ sơ quá hạn, sắp đến hạn, chờ bổ sung và điểm đang bị đe dọa")
    common(s)
    s.add_argument("--as-of", help="tính tại thời điểm (YYYY-MM-DD: cuối ngày đó; mặc định: thời điểm cuối của dữ liệu)")
    s.add_argument("--days", type=int, default=2, help="sắp đến hạn = đến hạn trong N ngày làm việc (mặc định 2)")
    s.add_argument("--unit", help="chỉ đơn vị này (và đơn vị trực thuộc)")
    s.add_argument("--subtree", action="store_true", help="với --unit: gồm cả đơn vị trực thuộc (mặc định)")
    s.add_argument("--own", action="store_true", help="với --unit: chỉ hồ sơ của chính đơn vị, không gồm trực thuộc")
    s.add_argument("--official", help="chỉ hồ sơ của cán bộ này (mã cán bộ)")
    s.add_argument("--profile", help="tệp cấu hình chấm điểm (YAML)")
    s.add_argument("--format", choices=["table", "csv", "xlsx"], default="table")
    s.add_argument("--out", help="tệp kết quả (.xlsx: ba trang hồ sơ, đơn vị, cán bộ; .csv: danh sách hồ sơ)")
    s.add_argument("--pictures", help="thư mục ghi ảnh PNG cảnh báo của từng đơn vị (gửi nhóm Zalo)")
    s.add_argument("--top", type=int, default=30, help="số hồ sơ in ra màn hình")
    s.set_defaults(func=cmd_alerts)

    s = sub.add_parser("portal", help="số liệu công bố của Cổng DVCQG: chấm lại (check), đối chiếu (reconcile)")
    common(s)
    s.add_argument("action", choices=["check", "reconcile"])
    s.add_argument("files", nargs="*", help="tệp JSON của Cổng DVCQG (check)")
    s.add_argument("--period", help="kỳ đối chiếu (reconcile)")
    s.add_argument("--profile", help="tệp cấu hình chấm điểm (YAML)")
    s.add_argument("--out", help="tệp CSV kết quả")
    s.add_argument("--top", type=int, default=15, help="số dòng lệch in ra màn hình")
    s.set_defaults(func=cmd_portal)

    s = sub.add_parser("extract", help="kho trích cho một đơn vị (và đơn vị trực thuộc): chỉ dữ liệu của đơn vị đó")
    common(s)
    s.add_argument("--unit", required=True, help="mã đơn vị")
    s.add_argument("--subtree", action="store_true", help="gồm cả đơn vị trực thuộc (mặc định)")
    s.add_argument("--own", action="store_true", help="chỉ chính đơn vị, không gồm đơn vị trực thuộc")
    s.add_argument("--with-personal", action="store_true",
                   help="giữ thông tin cá nhân của người nộp (mặc định: để trống)")
    s.add_argument("--profile", help="tệp cấu hình chấm điểm của điểm tham chiếu (mặc định: cấu hình mặc định)")
    s.add_argument("--out", required=True, help="tệp kho trích (.duckdb)")
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("warm", help="tính sẵn điểm 12 tháng và các quý gần nhất (sổ tay 02 mở ngay)")
    common(s)
    s.add_argument("--profile", help="chỉ hồ sơ chấm điểm này (mặc định: mọi hồ sơ có sẵn)")
    s.set_defaults(func=cmd_warm)

    s = sub.add_parser("status", help="tình trạng kho dữ liệu")
    common(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
    return p


def _is_interrupt(exc: Exception) -> bool:
    """A Ctrl-C that arrived while DuckDB was calling back into Python comes back as a DuckDB error."""
    import duckdb
    return isinstance(exc, getattr(duckdb, "InterruptException", ())) or \
        (isinstance(exc, duckdb.Error) and "KeyboardInterrupt" in str(exc))


def _interrupted(args, finished: bool = False, argv=None) -> int:
    """Ctrl-C: one line that says what is true, exit 130, and none of the interpreter's or the notebook
    kernel's shutdown noise after it. finished: the command ran to its end all the same. args: None when the
    Ctrl-C came before they were read (the command is then the first word of argv)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    command = getattr(args, "command", None) or next(
        (str(a) for a in (sys.argv[1:] if argv is None else argv) if not str(a).startswith("-")), None)
    msg = {"load": None, "report": "chưa ghi báo cáo (tệp cũ, nếu có, vẫn nguyên)",
           "publish": "chưa ghi gói công khai (gói cũ, nếu có, vẫn nguyên)",
           "officials": "chưa ghi danh sách cán bộ", "alerts": "chưa ghi tệp cảnh báo",
           "sample": "dữ liệu mẫu có thể chưa đủ — chạy lại lệnh"}.get(command, "kho dữ liệu không đổi")
    if finished:
        msg = "lệnh đã chạy xong trước khi dừng"
    if _SIGINT.get("written"):          # the file was complete before the Ctrl-C: say so, not "not written"
        msg = f"{_SIGINT['written']} đã ghi xong, đầy đủ"
    if command == "load":        # (the loader not imported yet: nothing was written)
        loader = sys.modules.get("kpi.load.loader")
        committed = bool(loader and getattr(loader, "PROGRESS", {}).get("committed"))
        msg = "kho đã nạp xong trước khi dừng" if committed else "kho dữ liệu không đổi"
    print(f"Đã dừng theo yêu cầu; {msg}.", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(130)


_SIGINT = {"seen": False, "written": None}


def _wrote(path, line: str) -> None:
    """Says a file (or a package's folder) is written — and remembers it, so a Ctrl-C after it says the same."""
    _SIGINT["written"] = str(path)
    print(line)


def _on_sigint(signum, frame):
    """Ctrl-C: remembered, then the usual KeyboardInterrupt. A library that turns the interrupt into an error
    of its own (pandas' C reader: 'Calling read(nbytes) on source failed') is still reported as Ctrl-C."""
    _SIGINT["seen"] = True
    raise KeyboardInterrupt


def _unraisable(info) -> None:
    """A KeyboardInterrupt Python had to swallow (it arrived inside a callback) is remembered by _on_sigint
    and reported once the command ends — never printed as a traceback."""
    if isinstance(info.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(info)


def normalise_args(args) -> None:
    """What a user types as they type it: a period or day with a stray space ('2026-10 '), a unit code in
    lower case (`--unit h44.01`: codes are stored upper-case)."""
    for name in ("period", "as_of"):
        if isinstance(getattr(args, name, None), str):
            setattr(args, name, getattr(args, name).strip())
    if isinstance(getattr(args, "unit", None), str):
        args.unit = args.unit.strip().upper()


def main(argv=None) -> int:
    import signal
    import threading
    _SIGINT["seen"], _SIGINT["written"] = False, None
    if threading.current_thread() is threading.main_thread():    # first: a Ctrl-C while the command's
        signal.signal(signal.SIGINT, _on_sigint)                  # modules import is one line too
        sys.unraisablehook = _unraisable
    args = None
    try:
        from kpi.load import LoadError
        from kpi.store import StoreError
        args = build_parser().parse_args(argv)
        normalise_args(args)
    except KeyboardInterrupt:
        return _interrupted(args, argv=argv)
    try:
        code = args.func(args)
        # a Ctrl-C raised where Python can only ignore it (an import's lock callback): still an interrupt
        if _SIGINT["seen"]:
            return _interrupted(args, finished=True)
        if argv is None and threading.current_thread() is threading.main_thread():
            # the command (the process's own, not a call from Python) is done: a Ctrl-C from now on (while the
            # interpreter closes DuckDB and its threads) changes nothing and must not end it as killed by it
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        return code
    except BrokenPipeError:   # `kpi score … | head`
        return 0
    except KeyboardInterrupt:
        return _interrupted(args)
    except Exception as exc:
        if _SIGINT["seen"] or _is_interrupt(exc):
            return _interrupted(args)
        if isinstance(exc, (UsageError, StoreError)):   # invalid input; the store cannot be used as asked
            print(f"Lỗi: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, LoadError):                  # a file that cannot be read
            print(f"Lỗi: {exc}", file=sys.stderr)
            return 1
        if os.environ.get("KPI_DEBUG"):     # last resort: one line, the details only on request
            raise
        if type(exc).__name__ == "OutOfMemoryException":      # DuckDB's, several lines of advice in English
            limit = os.environ.get("KPI_MEMORY_LIMIT")
            print("Lỗi: không đủ bộ nhớ cho phép để tính" + (f" (KPI_MEMORY_LIMIT={limit})" if limit else "")
                  + " — tăng KPI_MEMORY_LIMIT (vd. 4GB) hoặc đóng bớt chương trình khác rồi chạy lại.", file=sys.stderr)
            return 1
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"Lỗi không mong đợi ({type(exc).__name__}): {first} — chạy lại với KPI_DEBUG=1 để xem chi tiết.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
