"""HTML views for the inspection drill-down (notebook 03) and the officials notebook (04), and the
drill-down itself: pick a unit once and every view below redraws for it."""
from __future__ import annotations

import pandas as pd

from kpi import labels
from kpi.analysis import inspection, whatif
from kpi.analysis.alerts import alerts_with
from kpi.analysis.api import data_range, holds_personal, last_complete_month, session
from kpi.notebook.live import LiveView, extract_note, store_path
from kpi.periods import label_vi, parse
from kpi.present import charts
from kpi.present import html as h
from kpi.report.content import alerts_html
from kpi.numbers import fmt_date, fmt_number, fmt_pct


def units_view(engine, period) -> tuple[str, pd.DataFrame]:
    d = inspection.late_by_unit(engine, period)
    top = pd.concat([d.head(15), d[d.handled >= 20].nlargest(15, "late_rate")]).drop_duplicates("unit_code")
    top = top.assign(level=top.level.map(labels.LEVELS))
    chart = charts.late_units(top, "Đơn vị nhiều hồ sơ trễ hạn và tỷ lệ trễ hạn cao")
    body = h.figure(charts.svg(chart)) + h.table(top, {
        "unit_code": ("Mã", "text"), "unit_name": ("Đơn vị", "text"), "handled": ("Phải giải quyết", "int"),
        "late": ("Trễ hạn", "int"), "late_rate": ("Tỷ lệ trễ", "pct"), "apology": ("Có thư xin lỗi", "int"),
        "apology_rate": ("Tỷ lệ xin lỗi", "pct")})
    return h.section(f"1. Đơn vị cần kiểm tra — {label_vi(parse(period))}", body,
                     "Nhiều hồ sơ trễ nhất (15) và tỷ lệ trễ cao nhất trong các đơn vị có từ 20 hồ sơ (15)."), d


def unit_view(engine, period, unit, personal: bool = False, max_rows: int = 50) -> str:
    name = engine.con.execute("SELECT unit_name FROM units WHERE unit_code = ?", [unit]).fetchone()[0]
    ap = inspection.apology_coverage(engine, period, unit)
    procs = inspection.late_by_procedure(engine, period, unit)
    steps = inspection.step_overruns(engine, period, unit)
    offs = inspection.late_by_official(engine, period, unit)
    dossiers = inspection.late_dossiers(engine, period, unit, personal)
    dossiers["apology"] = dossiers.apology.map({True: "Có", False: "Không"})
    parts = [h.cards([("Hồ sơ trễ hạn", h.esc(str(ap["late"])), h.esc(name)),
                      ("Đã gửi thư xin lỗi", h.esc(str(ap["apology"])),
                       "tỷ lệ " + h.esc(h.FORMATS["pct"](ap["rate"])))])]
    parts.append("<h3>2. Thủ tục</h3>" + h.table(procs, {
        "procedure_code": ("Mã TTHC", "text"), "procedure_name": ("Thủ tục", "text"), "handled": ("Phải giải quyết", "int"),
        "late": ("Trễ hạn", "int"), "late_rate": ("Tỷ lệ trễ", "pct")}, max_rows=15))
    parts.append("<h3>3. Bước xử lý quá hạn (quy trình nội bộ)</h3>" + h.table(steps, {
        "step_name": ("Bước", "text"), "full_name": ("Cán bộ giữ bước", "text"), "overruns": ("Số lần quá hạn", "int"),
        "avg_hours_late": ("Trễ trung bình (giờ)", "num"), "dossiers": ("Số hồ sơ", "int")}, max_rows=15))
    parts.append("<h3>4. Cán bộ</h3>" + h.table(offs, {
        "official_id": ("Mã", "text"), "full_name": ("Họ tên", "text"), "handled": ("Hồ sơ", "int"),
        "late_charged": ("Trễ do cán bộ", "int"), "on_time_rate": ("Tỷ lệ đúng hạn", "pct")}, max_rows=15))
    cols = {"dossier_code": ("Mã hồ sơ", "text"), "procedure_name": ("Thủ tục", "text"),
            "received_at": ("Tiếp nhận", "datetime"), "due_at": ("Hẹn trả", "datetime"),
            "finished_at": ("Hoàn thành", "datetime"), "overdue_wd": ("Ngày trễ", "int"),
            "reason": ("Lý do tính trễ hạn", "text"),
            "overrun_steps": ("Bước quá hạn", "text"), "apology": ("Thư xin lỗi", "text")}
    if personal:
        cols.update({"applicant_name": ("Người nộp", "text"), "applicant_phone": ("Điện thoại", "text")})
    parts.append("<h3>5. Hồ sơ trễ hạn</h3>" + h.table(dossiers, cols, max_rows=max_rows))
    note = ("Đang hiển thị thông tin cá nhân của người nộp (chạy với allow_personal=True) — không công bố."
            if personal else "Không hiển thị thông tin cá nhân của người nộp.")
    return h.section(f"Đi sâu: {name} ({unit})", "".join(parts), note)


OFFICIAL_COLUMNS = {"official_id": ("Mã", "text"), "full_name": ("Họ tên", "text"), "unit_name": ("Đơn vị", "text"),
                    "earned": ("Điểm đạt", "num"), "maximum": ("Điểm tối đa", "num"), "index": ("Chỉ số", "num"),
                    "grade": ("Xếp loại", "grade"), "metrics": ("Tính trên các chỉ số", "text")}


def officials_table(engine, period, unit=None) -> pd.DataFrame:
    """Every official's index, lowest first, with the metrics it covers in words."""
    o = inspection.officials(engine, period, unit).sort_values(["index", "official_id"])
    o["metrics"] = o.metrics.map(lambda m: "; ".join(labels.METRICS.get(c.strip(), c) for c in m.split(",")))
    return o.reset_index(drop=True)


STEP_COLUMNS = {"full_name": ("Cán bộ", "text"), "step_name": ("Bước", "text"), "overruns": ("Số lần", "int"),
                "avg_hours_late": ("Trễ TB (giờ)", "num")}


def steps_table(engine, period, unit=None) -> pd.DataFrame:
    """The internal-procedure steps that overran, per official (the whole province without `unit`)."""
    unit = unit or engine.con.execute("SELECT unit_code FROM units WHERE level='province'").fetchone()[0]
    return inspection.step_overruns(engine, period, unit)


def officials_view(engine, period, unit=None, table: bool = True) -> str:
    """Grade distribution, the history of the lowest, the officials' table and the steps that overran
    (unless `table` is False: the notebook pages through both)."""
    note = extract_note(engine)
    o = officials_table(engine, period, unit)
    hist = inspection.officials_history(engine, period, unit, months=6)
    worst = o.head(8).official_id
    hh = hist[hist.official_id.isin(worst)].copy()
    hh["period_label"] = hh.period.map(lambda p: label_vi(parse(p)).replace("Tháng ", ""))
    chart = charts.official_history(hh, "Lịch sử chỉ số cá nhân — 8 cán bộ thấp nhất kỳ này")
    dist = o.groupby("grade_label").size().reset_index(name="n")
    dchart = charts.grade_counts(dist, "Phân bố xếp loại cán bộ", "Số cán bộ")
    body = h.figure(charts.svg(dchart)) + h.figure(charts.svg(chart))
    if table:
        body += h.table(o, OFFICIAL_COLUMNS, max_rows=40)
        body += "<h3>Bước xử lý quá hạn theo cán bộ</h3>" + h.table(steps_table(engine, period, unit), STEP_COLUMNS,
                                                                      max_rows=20)
    return note + h.section(f"Cán bộ — {label_vi(parse(period))}", body,
                     "Chỉ số cá nhân = điểm đạt trên các chỉ số gắn với cán bộ ÷ điểm tối đa của chúng × 100; "
                     "chỉ số không có hồ sơ để tính thì không đưa vào.")


def whatif_view(engine, unit, as_of=None) -> str:
    """The running month for one unit: the figure today, the month-end projection, and what would change it."""
    newest = data_range(engine.con)[1]          # the data's last moment: the same "today" as the early warning
    as_of = pd.Timestamp(as_of or newest).date()
    month = f"{as_of:%Y-%m}"
    name = engine.con.execute("SELECT unit_name FROM units WHERE unit_code = ?", [unit]).fetchone()[0]
    proj = whatif.projection(engine, month, unit, as_of)
    parts = [h.table(proj, {"label": ("Kịch bản", "text"), "on_time_numerator": ("Đúng hạn", "count"),
                            "on_time_denominator": ("Phải giải quyết", "int"), "on_time_points": ("Điểm TDGQ", "num"),
                            "total": ("Tổng điểm", "num"), "grade": ("Xếp loại", "grade")})]
    p = proj.set_index("scenario").loc["expected"]
    parts.append(f'<p class="note">Dự báo dùng tỷ lệ đúng hạn 3 tháng trước ({h.esc(fmt_pct(100 * p.p_on_time))}) cho '
                 f'{int(p.at_risk)} hồ sơ đến hạn trong tháng, và {int(p.arrivals)} hồ sơ dự kiến tiếp nhận thêm '
                 'từ nay đến cuối tháng (coi là đúng hạn).</p>')
    w = whatif.what_if_finished(engine, month, unit, as_of)
    parts.append("<h3>Nếu giải quyết ngay hôm nay các hồ sơ đang mở đến hạn hoặc đã quá hạn</h3>" + h.table(w, {
        "scenario": ("Kịch bản", "text"), "on_time_points": ("Điểm TDGQ dự báo", "num"), "total": ("Tổng điểm dự báo", "num"),
        "grade": ("Xếp loại", "grade"), "change": ("Thay đổi", "change"), "note": ("Ghi chú", "text")}))
    need = whatif.needed_for_next_band(engine, month, unit, as_of)
    if need["target"] is None:
        msg = "Đơn vị đã ở mức cao nhất."
    elif need["needed"] is None:
        msg = f"Chỉ riêng hồ sơ đúng hạn không đủ để đạt {fmt_number(need['target'], 0)} điểm trong tháng này."
    else:
        msg = (f"Cần thêm <b>{need['needed']}</b> hồ sơ giải quyết đúng hạn để đạt mức "
               f"{h.badge(need['next_grade'])} ({fmt_number(need['target'], 0)} điểm).")
    parts.append(f"<h3>Mục tiêu tháng này</h3><p>{msg}</p>")
    r = whatif.what_if_rate(engine, month, unit, "ONLINE_SUBMISSION", 50, as_of)
    parts.append(f"<p>Nếu tỷ lệ nộp trực tuyến đạt 50% (hiện {h.esc(fmt_pct(r['rate']))}): điểm chỉ số "
                 f"{h.esc(fmt_number(r['points']))} → {h.esc(fmt_number(r['new_points']))}, tổng điểm "
                 f"{h.esc(fmt_number(r['total']))} → {h.esc(fmt_number(r['new_total']))} {h.badge(r['new_grade'])}.</p>")
    return h.section(f"Tháng đang chạy — {name}, tính đến {fmt_date(as_of)}", "".join(parts))


def alerts_view(engine, unit) -> str:
    """Today's early warning for one unit (and the units below it): what is at stake, then the dossiers."""
    name = engine.con.execute("SELECT unit_name FROM units WHERE unit_code = ?", [unit]).fetchone()[0]
    a = alerts_with(engine, None, unit=unit)
    return h.section(f"Cảnh báo sớm hôm nay — {name}", alerts_html(a, unit))


class Inspection:
    """Notebook 03: the units to inspect, a unit picker (type to search) and two live views — the unit's
    day (today's early warning, then its running month: projection and what-if) and its drill-down for the
    period. Picking a unit redraws both;
    `shown` lists the units drawn after the first, in order."""

    def __init__(self, store=None, period=None, unit=None, personal: bool = False, profile=None):
        self.store, self.profile, self.personal = store_path(store), profile, personal
        with session(self.store, profile=profile) as e:
            self.period = period or last_complete_month(e.con)
            self.overview, self.late_units = units_view(e, self.period)
            self.overview = extract_note(e) + self.overview
            if personal and not holds_personal(e):     # asked for, but the extract holds none: said, not failed
                self.overview += ('<p class="note">Kho trích này không gồm dữ liệu cá nhân của người nộp '
                                  '(allow_personal=True không có tác dụng).</p>')
                self.personal = False
        self.unit = unit or self.late_units.unit_code.iloc[0]
        self.options = {f"{n} ({c}) — {l} hồ sơ trễ": c for c, n, l in
                        zip(self.late_units.unit_code, self.late_units.unit_name, self.late_units.late)}
        self.label_of = {c: k for k, c in self.options.items()}
        self.shown: list[str] = []
        self.pick = self.detail_view = self.whatif_view = None

    def views(self, code: str) -> tuple[str, str]:
        """(the unit's drill-down for the period, its day: today's early warning and the running month —
        projection and what-if). The notebook shows the day first."""
        with session(self.store, profile=self.profile) as e:
            return (unit_view(e, self.period, code, personal=self.personal),
                    "<h2>Hôm nay: cảnh báo sớm, dự báo cuối tháng và các phương án (what-if)</h2>"
                    + alerts_view(e, code) + whatif_view(e, code))

    def show_overview(self) -> None:
        LiveView(self.overview)

    def show(self) -> None:
        """The picker and the two views (in one cell)."""
        import ipywidgets as w
        from IPython.display import display
        self.pick = w.Combobox(options=list(self.options), value=self.label_of.get(self.unit, ""), ensure_option=True,
                               description="Đơn vị", placeholder="gõ tên hoặc mã để tìm",
                               style={"description_width": "70px"}, layout=w.Layout(width="640px"))
        display(self.pick)
        detail, running = self.views(self.unit)
        self.whatif_view, self.detail_view = LiveView(running), LiveView(detail)      # the day first
        self.pick.observe(self._picked, names="value")

    def _picked(self, change) -> None:
        code = self.options.get(change["new"])
        if code is None:
            return            # still typing
        detail, running = self.views(code)
        self.unit = code
        self.shown.append(code)
        self.detail_view.update(detail)
        self.whatif_view.update(running)

