"""Writing outputs people open in a spreadsheet: formula text neutralised, UTF-8 with BOM for CSV."""
from __future__ import annotations

import datetime as dt
import numbers
from pathlib import Path

import pandas as pd

from kpi.fs import atomic_dir, atomic_path
from kpi.schema import PERSONAL_COLUMNS
from kpi import labels
from kpi.analysis.api import data_range, refuse_in_extract, scores_with, totals_with
from kpi.numbers import round_half_up
from kpi.periods import parse
from kpi.present import pictures, public_page

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A CSV text cell that a spreadsheet would evaluate (=, +, -, @) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in _text_columns(out):    # kept as objects: a column of whole numbers stays 20, not 20.0
        out[c] = pd.Series([neutralise(v) for v in out[c]], index=out.index, dtype=object)
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """A standard CSV for machines (CSV_GUIDE): UTF-8 with a BOM, comma-separated, CRLF, a header row, dates
    as YYYY-MM-DD, decimals with a point."""
    path = Path(path)
    out = safe_frame(frame)
    for c in out.columns:
        if _is_dates(_present(out[c])):
            out[c] = [v.isoformat() if isinstance(v, dt.date) else None for v in out[c]]
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return path


CSV_GUIDE = """Các tệp CSV trong thư mục này dành cho máy (phần mềm, cổng dữ liệu mở), không dành để mở bằng Excel.
Cán bộ xem và in số liệu: mở tệp .xlsx cùng tên ở thư mục phía trên.

Định dạng (RFC 4180):
- mã hóa UTF-8, có BOM (EF BB BF) ở đầu tệp;
- phân cách cột bằng dấu phẩy (,), xuống dòng CRLF, giá trị có dấu phẩy hay ngoặc kép được đặt trong ngoặc kép;
- dòng đầu là tên cột bằng tiếng Việt;
- số thập phân dùng dấu chấm (12.5), không có dấu phân cách hàng nghìn;
- ngày theo ISO 8601: YYYY-MM-DD (2026-10-05);
- mã thủ tục, mã hồ sơ, mã đơn vị là chuỗi (1.005050 không phải là số);
- ô trống là không có giá trị; một ô chữ bắt đầu bằng = + - @ được thêm dấu ' ở đầu để bảng tính không chạy
  nó như công thức.
"""


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> Path:
    """One workbook, a sheet per frame, for a clerk to double-click: a bold, wrapped header row with filters,
    frozen under the header; whole numbers as #,##0 and decimals as #,##0.00 (Excel shows them with the
    reader's separators: 1.234,50 on a Vietnamese machine); dates as real dates (dd/mm/yyyy, sortable);
    columns sized to their content. Text is stored as text: a cell beginning with '=' is a string, never a
    formula (so no apostrophe is needed), and characters a workbook cannot hold (control characters) are
    dropped."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font
    path = Path(path)
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            frame = frame.copy()
            for c in _text_columns(frame):
                frame[c] = frame[c].map(lambda v: ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v)
            frame.to_excel(xw, sheet_name=name[:31], index=False)
            ws = xw.sheets[name[:31]]
            for row in ws.iter_rows(min_row=2):
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"
            for i, col in enumerate(frame.columns, start=1):
                letter = ws.cell(row=1, column=i).column_letter
                fmt = _number_format(frame[col])
                if fmt:
                    for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                        cell.number_format = fmt
                head = ws.cell(row=1, column=i)
                head.font = Font(bold=True)
                head.alignment = Alignment(wrap_text=True, vertical="top")
                shown = [len(str(v)) for v in frame[col].head(200)]
                width = max([min(len(str(col)), 18)] + shown + [10 if fmt and "yy" in fmt else 0]) + 2
                ws.column_dimensions[letter].width = min(width, 60)
            ws.freeze_panes = "A2"
            if len(frame.columns):
                ws.auto_filter.ref = ws.dimensions          # filters on the header row
    return path


def _present(col: pd.Series) -> list:
    """A column's values that are there (no None, NaN, NaT, NA)."""
    return [v for v in col if v is not None and not (not isinstance(v, str) and pd.isna(v))]


def _is_dates(values: list) -> bool:
    return bool(values) and all(isinstance(v, (dt.date, pd.Timestamp)) for v in values)


def _number_format(col: pd.Series) -> str | None:
    """The Excel format of a column: dates, whole numbers, decimals; None for text."""
    values = _present(col)
    if not values:
        return None
    if _is_dates(values):
        timed = any(isinstance(v, (dt.datetime, pd.Timestamp)) and (v.hour or v.minute) for v in values)
        return "dd/mm/yyyy hh:mm" if timed else "dd/mm/yyyy"
    if all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in values):
        whole = all(float(v).is_integer() for v in values) and not pd.api.types.is_float_dtype(col)
        return "#,##0" if whole else "#,##0.00"
    return None


# ------------------------------------------------------------------ the monthly publication package

LATE_RATE_COLUMNS = {"unit_code": "Mã đơn vị", "unit_name": "Tên đơn vị", "level_label": "Khối",
                     "handled": "Số hồ sơ phải giải quyết", "on_time": "Số hồ sơ đúng hạn", "late": "Số hồ sơ trễ hạn",
                     "late_rate": "Tỷ lệ hồ sơ trễ hạn (%)"}
LATE_LIST_COLUMNS = {"stt": "STT", "dossier_code": "Mã hồ sơ", "unit_name": "Đơn vị giải quyết",
                     "procedure_code": "Mã TTHC", "procedure_name": "Tên thủ tục hành chính",
                     "received": "Ngày tiếp nhận", "due": "Ngày hẹn trả", "finished": "Ngày hoàn thành",
                     "state": "Tình trạng", "delay_text": "Thời gian trễ hạn", "reason": "Lý do tính trễ hạn",
                     "apology": "Đã gửi thư xin lỗi"}
STATES = {"finished": "Đã giải quyết", "returned": "Đã trả kết quả", "supplement": "Dừng ở yêu cầu bổ sung",
          "rejected": "Từ chối giải quyết", "stopped": "Dừng xử lý", "withdrawn": "Công dân rút hồ sơ"}
ONLINE_COLUMNS = {"unit_code": "Mã đơn vị", "unit_name": "Tên đơn vị", "level_label": "Khối",
                  "received": "Số hồ sơ tiếp nhận", "online": "Số hồ sơ trực tuyến", "online_rate": "Tỷ lệ hồ sơ trực tuyến (%)",
                  "services": "Số DVC trực tuyến", "services_used": "DVC trực tuyến có hồ sơ"}


def package_frames(engine, period) -> dict[str, pd.DataFrame]:
    """The three public tables, with Vietnamese headers. Built from the late-dossier query and the
    ON_TIME / ONLINE_SUBMISSION / ONLINE_SERVICE_USED counts — never from applicant columns."""

    p = parse(period)
    s = scores_with(engine, p)
    units = engine.con.execute("SELECT unit_code, level FROM units").df()
    by = {code: s[s.metric_code == code].set_index("unit_code") for code in
          ("ON_TIME", "ONLINE_SUBMISSION", "ONLINE_SERVICE_USED")}
    base = s[["unit_code", "unit_name"]].drop_duplicates().merge(units, on="unit_code")
    base["level_label"] = base.level.map(labels.LEVELS)
    base = base.sort_values(["level", "unit_code"], key=lambda c: c.map({"province": 0, "department": 1,
                                                                          "district": 2, "commune": 3}).fillna(9)
                            if c.name == "level" else c)

    def pct(n, d):
        return [round_half_up(100 * a / b, 2) if b else None for a, b in zip(n, d)]

    late_rate = base.copy()
    ot = by["ON_TIME"].reindex(late_rate.unit_code)
    late_rate["handled"] = ot.denominator.to_numpy()
    late_rate["on_time"] = ot.numerator.to_numpy()
    late_rate["handled"] = late_rate.handled.astype("Int64")
    late_rate["on_time"] = late_rate.on_time.astype("Int64")
    late_rate["late"] = late_rate.handled - late_rate.on_time
    late_rate["late_rate"] = pct(late_rate.late, late_rate.handled)

    online = base.copy()
    on = by["ONLINE_SUBMISSION"].reindex(online.unit_code)
    used = by["ONLINE_SERVICE_USED"].reindex(online.unit_code)
    online["received"] = on.denominator.to_numpy()
    online["online"] = on.numerator.to_numpy()
    online["online"] = online.online.astype("Int64")
    online["online_rate"] = pct(online.online, online.received)
    online["services"] = used.denominator.to_numpy()
    online["services_used"] = pd.array(used.numerator.to_numpy(), dtype="Int64")

    late = engine.query("late_dossiers", p)
    late = late.drop(columns=[c for c in PERSONAL_COLUMNS if c in late.columns])
    late.insert(0, "stt", range(1, len(late) + 1))
    late["received"] = late.received_at.map(_day)
    late["due"] = late.due_at.map(_day)
    late["finished"] = [None if o else _day(f) for f, o in zip(late.finished_at, late.is_open)]
    late["state"] = ["Đang giải quyết" if o else STATES.get(k, "Đã giải quyết") for o, k in zip(late.is_open, late.end_kind)]
    late["apology"] = late.apology.map({True: "Có", False: "Không"})
    return {
        "ty-le-ho-so-tre-han": late_rate[list(LATE_RATE_COLUMNS)].rename(columns=LATE_RATE_COLUMNS),
        "danh-sach-ho-so-tre-han": late[list(LATE_LIST_COLUMNS)].rename(columns=LATE_LIST_COLUMNS),
        "ty-le-dvc-truc-tuyen": online[list(ONLINE_COLUMNS)].rename(columns=ONLINE_COLUMNS),
    }


def _day(ts) -> dt.date | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).date()


SHEET_TITLES = {"ty-le-ho-so-tre-han": "Tỷ lệ trễ hạn", "danh-sach-ho-so-tre-han": "Hồ sơ trễ hạn",
                "ty-le-dvc-truc-tuyen": "Tỷ lệ DVC trực tuyến"}


def publication(engine, period, progress: bool = False) -> tuple[dict, dict, str]:
    """The whole monthly publication: the three tables, the pictures (PNG bytes by file stem) and the
    public page (HTML) — all from the tables and totals, never from applicant columns."""
    from tqdm.auto import tqdm
    refuse_in_extract(engine, "Gói công khai hằng tháng")
    p = parse(period)
    frames = package_frames(engine, p)
    totals = totals_with(engine, p)
    last = data_range(engine.con)[1]
    charts = pictures.publication(totals, frames, p, last)
    pngs, svgs = {}, {}
    for stem, chart in tqdm(charts.items(), desc="Vẽ ảnh công khai", unit="ảnh", disable=None if progress else True):
        pngs[stem] = pictures.png(chart)          # the files, for Zalo and the portal
        svgs[stem] = pictures.svg(chart)          # the page: light and sharp on a phone
    prov = totals[totals.level == "province"].iloc[0]
    files = {n: package_files(n, p.label) for n in frames}
    page = public_page.page(frames, svgs, p, last, prov.unit_name, dt.datetime.now().replace(microsecond=0),
                            top=prov, rates=pictures.province_rates(frames), files=files)
    return frames, pngs, page


def package_files(name: str, period: str) -> dict[str, str]:
    """A table's files in the package, relative to it: the XLSX a clerk opens, the CSV for machines under csv/
    (what write_package writes and the public page links)."""
    return {"xlsx": f"{name}-{period}.xlsx", "csv": f"csv/{name}-{period}.csv"}


def write_package(frames: dict[str, pd.DataFrame], out_dir: Path, period: str, images: dict | None = None,
                  page: str | None = None) -> list[Path]:
    """Each table as XLSX (what a clerk double-clicks) and, under csv/, as a standard CSV for machines with
    csv/doc-truoc.txt describing it; the pictures under anh/ and the public page index.html, the period in
    every data file's name. The package is built in a temporary folder that replaces `out_dir` whole when
    complete."""
    out_dir = Path(out_dir)
    names = []
    with atomic_dir(out_dir) as tmp:
        (tmp / "csv").mkdir()
        for name, frame in frames.items():
            f = package_files(name, period)
            write_xlsx({SHEET_TITLES[name]: frame}, tmp / f["xlsx"])
            write_csv(frame, tmp / f["csv"])
            names += [f["xlsx"], f["csv"]]
        (tmp / "csv" / "doc-truoc.txt").write_text(CSV_GUIDE, encoding="utf-8")
        names.append("csv/doc-truoc.txt")
        if images:
            (tmp / "anh").mkdir()
            for stem, data in images.items():
                (tmp / "anh" / f"{stem}-{period}.png").write_bytes(data)
                names.append(f"anh/{stem}-{period}.png")
        if page is not None:
            (tmp / "index.html").write_text(page, encoding="utf-8")
            names.append("index.html")
    return [out_dir / n for n in names]
