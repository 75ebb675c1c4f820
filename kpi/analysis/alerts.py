"""Early warning: the open dossiers that will be late unless someone acts, and what is at stake.

* dossiers: every open dossier at the as-of moment that is overdue, due within N working days, or waiting
  for the applicant's supplement (kpi/count/queries/alerts.sql), with where it is and who holds it;
* units: for each unit with rows, its ON_TIME points and total this month so far, and what they become if
  every listed dossier still counted on time ends late (overdue ones are late already and stay so) — and
  whether that changes its grade band ("Nếu 14 hồ sơ này trễ hạn: Tốt → Khá");
* officials: how many of their dossiers are overdue, due soon, waiting.

No applicant data is read: nothing here can show a name, an ID number, a phone or an address.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from kpi import config, labels
from kpi.analysis.api import ScopeError, check_unit, data_range, scores_with, session, totals_with
from kpi.count import facts
from kpi.count.engine import sql_params
from kpi.count.scoring import grade, points
from kpi.count.sqlfile import statements
from kpi.numbers import fmt_date, fmt_int, fmt_number
from kpi.periods import parse
from kpi.store import StoreError

STATES = {"overdue": "Đã quá hạn", "due_soon": "Sắp đến hạn", "waiting_applicant": "Chờ công dân bổ sung"}
DOSSIER_COLUMNS = ["dossier_code", "unit_code", "unit_name", "procedure_code", "procedure_name", "step",
                   "official_id", "official_name", "received_at", "due_at", "deadline_now", "working_days_left",
                   "state", "late_already", "waiting_since", "waited_seconds"]


@dataclass
class Alerts:
    as_of: dt.datetime          # the moment the dossiers are judged at (inclusive)
    days: int
    dossiers: pd.DataFrame
    units: pd.DataFrame
    officials: pd.DataFrame

    @property
    def label(self) -> str:
        return f"{self.as_of:%H:%M} ngày {fmt_date(self.as_of)}"

    def counts_text(self) -> str:
        """'2 đã quá hạn, 3 sắp đến hạn, 1 chờ công dân bổ sung'."""
        return ", ".join(f"{fmt_int((self.dossiers.state == k).sum())} {v.lower()}" for k, v in STATES.items())


def left_text(state: str, working_days_left: int) -> str:
    """A listed dossier's time left as a clerk reads it (overdue by hours says so, not '0 ngày')."""
    if state == "overdue":
        return f"quá hạn {-working_days_left} ngày làm việc" if working_days_left else "quá hạn (trong ngày)"
    if state == "due_soon":
        return f"còn {working_days_left} ngày làm việc"
    return "chờ công dân bổ sung"


def as_of_moment(con, as_of=None) -> dt.datetime:
    """The moment to judge at: the data's latest timestamp by default; a date means the end of that day; a
    moment after the data's last day is refused (open dossiers would be judged on days the data never saw)."""
    first, last = data_range(con)
    if last is None:
        raise StoreError("kho dữ liệu chưa có hồ sơ nào — hãy chạy `kpi load data/raw` trước.")
    if as_of is None or as_of == "":
        return last
    if isinstance(as_of, str):
        try:
            moment = pd.Timestamp(as_of.strip()).to_pydatetime()
        except ValueError:
            raise ScopeError(f"ngày tính '{as_of}' không đọc được — viết như 2026-11-20 hoặc "
                             "'2026-11-20 08:00'") from None
        is_day = len(as_of.strip()) <= 10
    else:
        moment = pd.Timestamp(as_of).to_pydatetime()
        is_day = isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime)
    if is_day:
        moment = dt.datetime.combine(moment.date(), dt.time(23, 59, 59))
    if moment.date() > last.date():
        raise ScopeError(f"ngày tính {moment:%d/%m/%Y} sau ngày cuối của dữ liệu ({fmt_date(last)}) — dùng "
                         f"--as-of {last.date():%Y-%m-%d} hoặc nạp dữ liệu mới hơn trước")
    if moment < first:
        raise ScopeError(f"ngày tính {moment:%d/%m/%Y} trước hồ sơ đầu tiên của dữ liệu ({fmt_date(first)})")
    return moment


def open_dossiers(engine, moment: dt.datetime, days: int = 2) -> pd.DataFrame:
    """The listed dossiers of every unit (alerts.sql) at `moment`."""
    facts.ensure_readable(engine.con)
    facts.macros(engine.con)
    sql = (config.QUERIES_DIR / "alerts.sql").read_text(encoding="utf-8")
    values = {"pe": moment + dt.timedelta(seconds=1), "days": int(days)}
    *setup, query = statements(sql)
    for stmt in setup:
        engine.con.execute(stmt, sql_params(stmt, values)).fetchall()
    frame = engine.con.execute(query, sql_params(query, values)).df()
    for t in ("_alert_judged", "_cand"):
        engine.con.execute(f"DROP TABLE IF EXISTS {t}")
    frame["step"] = frame.step.map(lambda x: labels.EVENTS.get(x, x) if isinstance(x, str) else "Chưa xử lý bước nào")
    return frame[DOSSIER_COLUMNS]


def alerts_with(engine, as_of=None, days: int = 2, unit: str | None = None, subtree: bool = True,
                official: str | None = None) -> Alerts:
    if days < 0:
        raise ScopeError(f"--days {days}: số ngày làm việc phải từ 0 trở lên")
    moment = as_of_moment(engine.con, as_of)
    rows = open_dossiers(engine, moment, days)
    if unit:
        check_unit(engine, unit)
        rows = rows[rows.unit_code.isin(engine.scope_members(unit, subtree))]
    if official:
        if not engine.con.execute("SELECT count(*) FROM officials WHERE official_id = ?", [official]).fetchone()[0]:
            raise ScopeError(f"không có cán bộ '{official}' trong kho — xem danh sách cán bộ bằng `kpi officials`")
        rows = rows[rows.official_id == official]
    rows = rows.reset_index(drop=True)
    return Alerts(moment, days, rows, at_stake(engine, moment, rows), by_official(rows))


def at_stake(engine, moment: dt.datetime, rows: pd.DataFrame) -> pd.DataFrame:
    """Per unit with rows: ON_TIME and the total this month so far (to the as-of day), and if every listed
    dossier counted on time today ended late."""
    cols = ["unit_code", "unit_name", "overdue", "due_soon", "waiting_applicant", "at_risk", "on_time_points",
            "total", "grade", "worst_on_time_points", "worst_total", "worst_grade", "grade_changes", "sentence"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    p = parse(f"{moment:%Y-%m}", moment.date())
    s = scores_with(engine, p, include_tracked=False)
    ot = s[s.metric_code == "ON_TIME"].set_index("unit_code")
    t = totals_with(engine, p, compare=False).set_index("unit_code")
    engine.prepare(p)
    engine.con.register("_listed", rows[["dossier_code", "unit_code"]])
    try:
        # listed dossiers the month's figure counts on time today: the ones whose lateness would move it
        risk = dict(engine.con.execute("""SELECT l.unit_code, count(*) FROM _listed l
            JOIN _dossier_eval e USING (dossier_code) WHERE NOT e.late GROUP BY l.unit_code""").fetchall())
    finally:
        engine.con.unregister("_listed")
    counts = rows.pivot_table(index="unit_code", columns="state", values="dossier_code", aggfunc="count",
                              fill_value=0).reindex(columns=list(STATES), fill_value=0)
    out = []
    for code, n in counts.iterrows():
        k = int(risk.get(code, 0))
        num, den = _num(ot.numerator.get(code)), _num(ot.denominator.get(code))
        ot_now = _num(ot.points.get(code))
        total = float(t.total[code]) if code in t.index and pd.notna(t.total[code]) else None
        worst_ot = (points("ON_TIME", num - k, den, engine.profile) or 0.0) if den else ot_now
        worst = None if total is None else total - ot_now + worst_ot
        now_grade, worst_grade = grade(total, engine.profile), grade(worst, engine.profile)     # None for None
        listed = int(n.sum())
        if total is None:
            sentence = f"{listed} hồ sơ cần xử lý (đơn vị chưa có điểm trong tháng)"
        elif k == 0:
            sentence = f"{listed} hồ sơ đã tính trễ hạn trong tháng; không còn điểm nào có thể giữ bằng các hồ sơ này"
        elif worst_grade != now_grade:
            sentence = (f"Nếu {k} hồ sơ này trễ hạn: {labels.GRADES.get(now_grade, '—')} → "
                        f"{labels.GRADES.get(worst_grade, '—')} (tổng điểm {fmt_number(total)} → {fmt_number(worst)})")
        else:
            sentence = (f"Nếu {k} hồ sơ này trễ hạn: vẫn {labels.GRADES.get(now_grade, '—')}, tổng điểm "
                        f"{fmt_number(total)} → {fmt_number(worst)}")
        out.append({"unit_code": code, "unit_name": t.unit_name.get(code) if code in t.index else code,
                    "overdue": int(n.overdue), "due_soon": int(n.due_soon),
                    "waiting_applicant": int(n.waiting_applicant), "at_risk": k, "on_time_points": ot_now,
                    "total": total, "grade": now_grade, "worst_on_time_points": worst_ot, "worst_total": worst,
                    "worst_grade": worst_grade, "grade_changes": worst_grade != now_grade and total is not None,
                    "sentence": sentence})
    frame = pd.DataFrame(out, columns=cols)
    frame["_drop"] = (frame.total - frame.worst_total).astype(float).fillna(0)
    return frame.sort_values(["grade_changes", "_drop", "overdue", "unit_code"], ascending=[False, False, False, True]) \
        .drop(columns="_drop").reset_index(drop=True)


def _num(v) -> float:
    return float(v) if v is not None and pd.notna(v) else 0.0


def by_official(rows: pd.DataFrame) -> pd.DataFrame:
    cols = ["official_id", "official_name", "unit_code", "overdue", "due_soon", "waiting_applicant", "total"]
    r = rows[rows.official_id.notna()]
    if r.empty:
        return pd.DataFrame(columns=cols)
    g = r.pivot_table(index=["official_id"], columns="state", values="dossier_code", aggfunc="count",
                      fill_value=0).reindex(columns=list(STATES), fill_value=0)
    first = r.drop_duplicates("official_id").set_index("official_id")
    g["official_name"], g["unit_code"] = first.official_name, first.unit_code
    g["total"] = g[list(STATES)].sum(axis=1)
    g = g.reset_index()[cols]
    return g.sort_values(["overdue", "total", "official_id"], ascending=[False, False, True]).reset_index(drop=True)


DOSSIER_HEADERS = {"dossier_code": "Mã hồ sơ", "state_label": "Tình trạng", "working_days_left": "Ngày làm việc còn lại",
                   "deadline_now": "Hạn xử lý hiện tại", "due_at": "Ngày hẹn trả", "received_at": "Ngày tiếp nhận",
                   "unit_code": "Mã đơn vị", "unit_name": "Đơn vị", "procedure_code": "Mã TTHC",
                   "procedure_name": "Thủ tục", "step": "Bước hiện tại", "official_id": "Mã cán bộ",
                   "official_name": "Cán bộ", "waiting_since": "Chờ bổ sung từ", "waited_days": "Đã chờ (ngày)"}
UNIT_HEADERS = {"unit_code": "Mã đơn vị", "unit_name": "Đơn vị", "overdue": "Đã quá hạn", "due_soon": "Sắp đến hạn",
                "waiting_applicant": "Chờ bổ sung", "at_risk": "Hồ sơ còn giữ được điểm", "total": "Tổng điểm tháng đến nay",
                "grade_label": "Xếp loại hiện tại", "worst_total": "Tổng điểm nếu các hồ sơ này trễ",
                "worst_grade_label": "Xếp loại khi đó", "sentence": "Điểm đang bị đe dọa"}
OFFICIAL_HEADERS = {"official_id": "Mã cán bộ", "official_name": "Cán bộ", "unit_code": "Mã đơn vị",
                    "overdue": "Đã quá hạn", "due_soon": "Sắp đến hạn", "waiting_applicant": "Chờ bổ sung",
                    "total": "Tổng"}


def sheets(a: Alerts) -> dict[str, pd.DataFrame]:
    """The three views with Vietnamese headers (the XLSX's sheets; the dossiers' sheet is the CSV)."""
    d = a.dossiers.assign(state_label=a.dossiers.state.map(STATES),
                          waited_days=(a.dossiers.waited_seconds / 86400).round(1))
    u = a.units.assign(grade_label=a.units.grade.map(labels.GRADES),
                       worst_grade_label=a.units.worst_grade.map(labels.GRADES))
    return {"Hồ sơ": d[list(DOSSIER_HEADERS)].rename(columns=DOSSIER_HEADERS),
            "Đơn vị": u[list(UNIT_HEADERS)].rename(columns=UNIT_HEADERS),
            "Cán bộ": a.officials[list(OFFICIAL_HEADERS)].rename(columns=OFFICIAL_HEADERS)}


def alerts(as_of=None, days: int = 2, unit: str | None = None, subtree: bool = True, official: str | None = None,
           store=None, con=None, profile=None) -> Alerts:
    """The morning's early warning (see the module): `.dossiers`, `.units` (worst first), `.officials`."""
    with session(store, con, profile) as engine:
        return alerts_with(engine, as_of, days, unit, subtree, official)


__all__ = ["Alerts", "STATES", "alerts", "alerts_with", "left_text", "sheets"]
