"""What the monthly, quarterly and unit reports say, computed once from the store.

`Report` holds the frames (tested against kpi.totals); `render_*` methods turn them into HTML
sections for the notebook to display. The notebook holds no formulas.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kpi import labels
from kpi.analysis.alerts import STATES as ALERT_STATES, alerts_with, left_text
from kpi.analysis.api import (check_unit, data_range, default_unit, last_complete_month, official_index, scored_only,
                              scores_many, scores_with,
                              session, totals_with)
from kpi.periods import Period, label_vi, parse
from kpi.count.scoring import group_points
from kpi.store import extract_label, quarantine_summary, run
from kpi.present import charts
from kpi.present import html as h
from kpi.numbers import fmt_datetime, fmt_int, fmt_number, fmt_pct
from kpi.analysis.portal import published_total
from kpi.analysis.review import (COMMEND, DECISIONS, commend_rule, SELF_ASSESSMENT_COLUMNS, official_review_with,
                                 review_sheet, self_assessment_with, unit_gaps)


def trend_periods(p: Period, first_data: dt.date) -> list[Period]:
    n = 12 if p.kind == "month" else 6
    out = [parse(p.label)]
    while len(out) < n:
        prev = out[-1].previous()
        if prev.last < first_data:
            break
        out.append(prev)
    return out[::-1]


@dataclass
class Report:
    period: Period
    unit: str | None
    profile_name: str
    totals: pd.DataFrame
    scores: pd.DataFrame
    groups: pd.DataFrame
    trend: pd.DataFrame
    trend_groups: pd.DataFrame
    rates: pd.DataFrame
    procedures: pd.DataFrame
    lost: pd.DataFrame
    owners: pd.DataFrame
    quarantine: pd.DataFrame
    unsynced: pd.DataFrame
    files: pd.DataFrame
    late: pd.DataFrame
    officials: pd.DataFrame
    review: pd.DataFrame = field(default_factory=pd.DataFrame)            # officials to commend / hold to account
    self_assessment: pd.DataFrame = field(default_factory=pd.DataFrame)   # self-assessed vs computed
    alerts: object = None                 # a unit report of a period still running: the early warning (Alerts)
    extract: str | None = None            # made on a unit's extract: what it is (its header says so)
    portal_total: float | None = None     # the headline unit's total as the national portal published it
    review_rules: dict = field(default_factory=dict)   # the profile's review thresholds (the lists' notes)
    profile_label: str = ""               # the scoring method in words (the profile's description)
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))

    @property
    def top(self) -> pd.Series:
        """The headline row: the province, or the unit the report is about (its whole sub-tree)."""
        code = self.unit or self.province_code
        return self.totals.set_index("unit_code").loc[code]

    def metric(self, code: str) -> pd.Series | None:
        """The headline row's figures of one metric (None when the scores hold no such metric)."""
        s = self.scores
        row = s[(s.unit_code == (self.unit or self.province_code)) & (s.metric_code == code)]
        return row.iloc[0] if len(row) else None

    @property
    def province_code(self) -> str:
        return self.totals[self.totals.level == "province"].unit_code.iloc[0]


def build(period: str | None = None, unit: str | None = None, profile=None, store=None, progress=None,
          review: bool | None = None) -> Report:
    """Compute everything a report shows. unit: restrict to one unit's sub-tree (unit report). review=False
    leaves out the officials' review (1d), which every report shows by default."""
    from tqdm.auto import tqdm
    with session(store, None, profile) as engine:
        con = engine.con
        engine.lean = review is False      # the review reads officials' figures of the trend's months: made whole once
        period = period or last_complete_month(con)
        p = parse(period)
        unit = default_unit(engine, unit)        # an extract's report is its unit's
        if unit:
            check_unit(engine, unit)
        first = run(con, "SELECT min(received_at) FROM dossiers")[0][0].date()
        steps = trend_periods(p, first)
        bar = tqdm(total=len(steps) + 6, desc="Tính số liệu báo cáo", unit="bước", disable=None if progress is not False else True)
        # the periods counted together, the trend first (merged units count for their successors so the line
        # does not break in 7/2025): the headline, the one before it and a month's review months are among
        # its periods, whose working tables are then at hand
        trend_scores = scores_many(engine, steps, subtree=bool(unit), merged=True, include_tracked=False)
        # the headline figures: every unit's own, the province (or the chosen unit) as a sub-tree
        s, before = scores_many(engine, [p, p.previous()])
        t = totals_with(engine, p, scores=scored_only(engine, s), previous=scored_only(engine, before))
        bar.update(2)
        if unit:
            members = engine.scope_members(unit)
            sub_s, sub_before = (x[x.unit_code == unit].reset_index(drop=True)
                                 for x in scores_many(engine, [p, p.previous()], subtree=True))
            sub_t = totals_with(engine, p, unit=unit, subtree=True, scores=scored_only(engine, sub_s),
                                previous=scored_only(engine, sub_before))
            t = pd.concat([sub_t, t[t.unit_code.isin(members - {unit})]], ignore_index=True)
            s = pd.concat([sub_s, s[s.unit_code.isin(members - {unit})]], ignore_index=True)
        head_code = unit or t[t.level == "province"].unit_code.iloc[0]
        g = group_points(s[s.unit_code == head_code], engine.profile, ["unit_code"])
        g["group_label"] = g.group_code.map(labels.GROUPS)
        tr_rows, tg_rows = [], []
        for q, ss in zip(steps, trend_scores):
            gg = group_points(ss[ss.unit_code == head_code], engine.profile, ["unit_code"])
            gg["period_label"] = label_vi(q).replace("Tháng ", "")
            tg_rows.append(gg)
            tr_rows.append({"period": q.label, "period_label": gg.period_label.iloc[0] if len(gg) else q.label,
                            "total": gg.points.sum()})
            bar.update(1)
        trend = pd.DataFrame(tr_rows)
        tgroups = pd.concat(tg_rows, ignore_index=True)
        tgroups["group_label"] = tgroups.group_code.map(labels.GROUPS)
        # late and online rates per unit (the directive's monthly publication)
        rates = unit_rates(s, t)
        # procedures that cost the most ON_TIME points
        procs = scores_with(engine, p, scope="procedure", unit=unit, include_tracked=False)
        procs = procedure_losses(procs, s[s.unit_code == head_code])
        bar.update(1)
        lost = lost_points(s[s.unit_code != head_code], t)
        owners = con.execute("SELECT unit_code, metric_code, owner_name, owner_title FROM owners").df()
        if unit:
            owners = owners[owners.unit_code.isin(set(t.unit_code))]
        quarantine = pd.DataFrame(quarantine_summary(con, set(engine.scope_members(unit)) if unit else None),
                                  columns=["table_name", "reason", "n"])
        officials = pd.DataFrame()
        if unit:
            officials = official_index(scores_with(engine, p, scope="official", unit=unit), engine.profile)
        # before the named queries, which read the working tables of the period alone: the review's months
        # are counted with the periods prepared above
        rv = official_review_with(engine, p, unit) if review is not False else pd.DataFrame()
        unsynced = engine.query("data_quality", p)
        unsynced = unsynced[unsynced.unit_code.isin(set(t.unit_code))]
        files = con.execute("SELECT file, sha256, rows_loaded, strftime(loaded_at, '%Y-%m-%d %H:%M') AS loaded_at "
                            "FROM loaded_files ORDER BY file").df()
        late = engine.query("late_dossiers", p)
        late = late[late.unit_code.isin(engine.scope_members(unit))] if unit else late
        bar.update(1)
        sa = self_assessment_with(engine, p, unit)
        # a unit's period still running at the data's last moment: what must be done before it ends
        warn = alerts_with(engine, None, unit=unit) if unit and p.last >= data_range(con)[1].date() else None
        bar.update(2)
        bar.close()
        return Report(p, unit, engine.profile.get("name", "?"), t, s, g, trend, tgroups, rates, procs, lost,
                      owners, quarantine, unsynced, files, late, officials, rv, sa, alerts=warn,
                      extract=extract_label(engine.extract),
                      portal_total=published_total(con, p.label, head_code) if not p.as_of else None,
                      review_rules=dict(engine.profile.get("review", {})),
                      profile_label=engine.profile.get("description") or engine.profile.get("name", "?"))


def unit_rates(s: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """Per unit: dossiers due, late, late rate; received, online, online rate (ON_TIME, ONLINE_SUBMISSION)."""
    ot = s[s.metric_code == "ON_TIME"].set_index("unit_code")
    on = s[s.metric_code == "ONLINE_SUBMISSION"].set_index("unit_code")
    out = t[["unit_code", "unit_name", "level", "grade_label"]].set_index("unit_code")
    out["handled"] = ot.denominator
    out["late"] = ot.denominator - ot.numerator
    out["late_rate"] = (100 * out.late / out.handled.where(out.handled > 0)).astype("Float64")
    out["received"] = on.denominator
    out["online"] = on.numerator
    out["online_rate"] = (100 * out.online / out.received.where(out.received > 0)).astype("Float64")
    return out.reset_index()


def procedure_losses(procs: pd.DataFrame, head: pd.DataFrame) -> pd.DataFrame:
    """Procedures by late dossiers, with the ON_TIME points of the headline scope they cost:
    20 × late / (all dossiers the headline figure counts)."""
    ot = procs[procs.metric_code == "ON_TIME"].copy()
    ot["late"] = ot.denominator - ot.numerator
    den = head[head.metric_code == "ON_TIME"].denominator
    total = float(den.iloc[0]) if len(den) and den.iloc[0] else 0
    mx = float(head[head.metric_code == "ON_TIME"].max_points.iloc[0]) if len(den) else 20.0
    ot["points_lost"] = mx * ot.late / total if total else 0.0
    ot["late_rate"] = 100 * ot.late / ot.denominator.where(ot.denominator > 0)
    return ot.sort_values(["late", "procedure_code"], ascending=[False, True])[
        ["procedure_code", "unit_name", "denominator", "late", "late_rate", "points_lost"]].rename(
        columns={"unit_name": "procedure_name"}).reset_index(drop=True)


def lost_points(s: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """Points each unit lost on each scored metric (max − points), largest first. `actionable` is False where
    the unit had nothing to count (denominator 0) and the metric's rule gives no points then (`null_zero`, the
    portal's rule for the publicity metrics): the unit cannot win those points back by working better."""
    d = s[s.max_points > 0].copy()
    d["lost"] = d.max_points - d.points.astype("Float64").fillna(0.0)
    d = d[d.lost > 0.005]
    d["metric_label"] = d.metric_code.map(labels.METRICS)
    d["actionable"] = ~(d.denominator.fillna(0).eq(0) & d.rate.isna())
    return d.merge(t[["unit_code", "grade_label"]], on="unit_code", how="left").sort_values(
        ["lost", "unit_code"], ascending=[False, True]).reset_index(drop=True)


NULL_ZERO_NOTE = ("Chỉ số có mẫu số bằng 0 trong kỳ không có điểm theo cách tính của Cổng Dịch vụ công quốc gia; "
                  "đơn vị không tự khắc phục được phần điểm đó.")
PASSIVE_ROW = "mẫu số bằng 0 trong kỳ (Cổng tính 0 điểm)"


def passive_losses(lost: pd.DataFrame) -> str | None:
    """The sentence both reports give the points lost only because a unit had nothing to count (None if none)."""
    passive = lost[~lost.actionable]
    if passive.empty:
        return None
    names = ", ".join(f"“{x}”" for x in sorted(passive.metric_label.dropna().unique()))
    return (f"{fmt_int(passive.unit_code.nunique())} đơn vị mất điểm các chỉ số {names} chỉ vì không có gì phải tính "
            "trong kỳ (không có thủ tục phải công bố, công khai trong kỳ, hay hồ sơ, thủ tục phải tính ở chỉ số đó). "
            + NULL_ZERO_NOTE)


# ---------------------------------------------------------------- rendering (HTML for the notebook)

def _has_distribution(r: Report) -> bool:
    t = r.totals[r.totals["rank"].notna()]
    return not (t[t.unit_code != r.unit] if r.unit else t).empty


SECTIONS = [("summary", lambda r: True), ("groups", lambda r: True), ("ranking", lambda r: True),
            ("trend", lambda r: True), ("distribution", _has_distribution), ("rates", lambda r: True),
            ("losses", lambda r: True), ("officials", lambda r: not r.officials.empty),
            ("review", lambda r: not r.review.empty), ("self_assessment", lambda r: not r.self_assessment.empty),
            ("late_list", lambda r: bool(r.unit)), ("owners", lambda r: True), ("quality", lambda r: True)]


def number(r: Report, key: str) -> str:
    """A section's number in this report: its place among the sections the report has (the notebook shows
    them one by one, so each asks for its own)."""
    present = [k for k, has in SECTIONS if has(r)]
    return f"{present.index(key) + 1}."


def render_title(r: Report) -> str:
    who = r.top.unit_name
    return (f'<header class="report"><h1>Báo cáo Bộ chỉ số 766 — {h.esc(label_vi(r.period))}</h1>'
            f'<p class="lead">{h.esc(who)} · Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ '
            f'người dân, doanh nghiệp (Quyết định 766/QĐ-TTg)</p>{h.extract_note(r.extract)}</header>')


def render_summary(r: Report) -> str:
    top = r.top
    ranked = r.totals[r.totals["rank"].notna()]
    counts = ranked.grade_label.value_counts()
    dist = " · ".join(f"{g}: {fmt_int(counts.get(g, 0))}" for g in labels.GRADES.values())
    return h.section(f"{number(r, 'summary')} Kết quả chung", h.cards([
        ("Tổng điểm", fmt_number(top.total), f"trên 100 điểm · {h.badge(top.grade)}"),
        ("Thay đổi so với kỳ trước", h.change(top.change), f"kỳ trước: {fmt_number(top.previous_total)}"),
        ("Số đơn vị được đánh giá", fmt_int(len(ranked)), h.esc(dist)),
        ("Hồ sơ trễ hạn trong kỳ", fmt_int(len(r.late)),
         f"tỷ lệ đúng hạn {fmt_pct(r.metric('ON_TIME').rate)}"),
    ]))


def render_groups(r: Report) -> str:
    code = r.unit or r.province_code
    s = r.scores[(r.scores.unit_code == code) & (r.scores.max_points > 0)].copy()
    s["group_label"] = s.group_code.map(labels.GROUPS)
    s["metric_label"] = s.metric_code.map(labels.METRICS)
    owners = r.owners[r.owners.unit_code == code].set_index("metric_code").owner_name
    s["owner"] = s.metric_code.map(owners)
    g = r.groups.copy()
    g["group_label"] = g.group_code.map(labels.GROUPS)
    body = h.figure(charts.svg(charts.groups_bar(g, "Điểm theo nhóm chỉ số")))
    body += h.table(s, {"group_label": ("Nhóm", "text"), "metric_label": ("Chỉ số", "text"),
                        "numerator": ("Tử số", "count"), "denominator": ("Mẫu số", "int"),
                        "rate": ("Tỷ lệ", "pct"), "points": ("Điểm", "num"), "max_points": ("Tối đa", "num"),
                        "owner": ("Người phụ trách", "text")})
    return h.section(f"{number(r, 'groups')} Sáu nhóm chỉ số", body,
                     "Điểm hiển thị làm tròn 2 chữ số; tỷ lệ “—” là mẫu số bằng 0 (không tính điểm theo quy tắc của chỉ số).")


RANK_COLUMNS = {"rank_in_level": ("Hạng", "int"), "unit_code": ("Mã", "text"), "unit_name": ("Đơn vị", "text"),
                "total": ("Tổng điểm", "num"), "grade": ("Xếp loại", "grade"), "change": ("So với kỳ trước", "change"),
                **{f"group_{g}": (name, "num") for g, name in labels.GROUP_SHORT.items()}}


def render_ranking(r: Report) -> str:
    body = ""
    for level in labels.UNIT_LEVELS:
        title = labels.LEVELS[level]
        t = r.totals[r.totals.level == level].sort_values(["rank_in_level", "unit_code"])
        if r.unit:
            t = t[t.unit_code != r.unit]
        if t.empty:
            continue
        body += f"<h3>{h.esc(title)} ({fmt_int(len(t))} đơn vị)</h3>"
        if len(t) <= 40:
            body += h.figure(charts.svg(charts.ranking(t, f"Xếp hạng {title.lower()}")))
        body += h.table(t, RANK_COLUMNS)
    # on an extract the ranks are the province's, from the reference figures it carries
    among = ("Hạng là hạng trong toàn tỉnh, lấy từ số liệu tham chiếu của tỉnh mang theo trong kho trích. "
             if r.extract else "")
    return h.section(f"{number(r, 'ranking')} Xếp hạng đơn vị", body or "<p>Không có đơn vị trực thuộc.</p>",
                     among + "Đơn vị cùng điểm (làm tròn 2 chữ số) cùng hạng. Điểm từng nhóm: công khai, minh bạch; "
                     "tiến độ giải quyết; dịch vụ công trực tuyến; thanh toán trực tuyến; số hóa; hài lòng.")


def render_trend(r: Report) -> str:
    body = h.figure(charts.svg(charts.trend(r.trend, "Tổng điểm theo kỳ")))
    body += h.figure(charts.svg(charts.group_trend(r.trend_groups, "Từng nhóm chỉ số theo kỳ (% điểm tối đa)")))
    return h.section(f"{number(r, 'trend')} Xu hướng", body, "Đơn vị sáp nhập năm 2025 được tính vào đơn vị kế thừa để xu hướng liên tục.")


def render_distribution(r: Report) -> str:
    t = r.totals[r.totals["rank"].notna()].copy()
    if r.unit:
        t = t[t.unit_code != r.unit]
    if t.empty:
        return ""
    t["level_label"] = t.level.map(labels.LEVELS)
    return h.section(f"{number(r, 'distribution')} Phân bố xếp loại", h.figure(charts.svg(charts.grade_distribution(t, "Số đơn vị theo xếp loại"))))


def render_rates(r: Report) -> str:
    d = r.rates[r.rates.level != "province"].sort_values(["late_rate", "unit_code"], ascending=[False, True])
    body = h.figure(charts.svg(charts.late_vs_online(d.dropna(subset=["late_rate", "online_rate"]),
                                                   "Tỷ lệ trễ hạn và tỷ lệ nộp trực tuyến theo đơn vị")))
    body += h.table(d, {"unit_code": ("Mã", "text"), "unit_name": ("Đơn vị", "text"),
                        "handled": ("Hồ sơ phải giải quyết", "int"), "late": ("Trễ hạn", "int"),
                        "late_rate": ("Tỷ lệ trễ hạn", "pct"), "received": ("Hồ sơ tiếp nhận", "int"),
                        "online": ("Nộp trực tuyến", "int"), "online_rate": ("Tỷ lệ trực tuyến", "pct")})
    return h.section(f"{number(r, 'rates')} Hồ sơ trễ hạn và dịch vụ công trực tuyến theo đơn vị", body)


def render_losses(r: Report) -> str:
    """Where points were lost: the metrics that cost most (only points a unit can win back by working
    better), the units and metrics that lost most, the procedures with most late dossiers."""
    ok = r.lost[r.lost.actionable]
    by_metric = (ok.groupby("metric_label").lost.sum() / max(r.lost.unit_code.nunique(), 1)).reset_index()
    body = h.figure(charts.svg(charts.lost_points(by_metric.sort_values("lost", ascending=False).head(12),
                                                  "Chỉ số làm mất nhiều điểm nhất (điểm đơn vị có thể khắc phục)")))
    passive = passive_losses(r.lost)
    if passive:
        body += (f'<p class="note">{h.esc(passive)} Các điểm này không tính vào biểu đồ trên và được ghi chú trong '
                 "bảng dưới.</p>")
    worst = r.lost.merge(r.owners, on=["unit_code", "metric_code"], how="left")
    worst = worst.merge(r.totals[["unit_code", "unit_name"]].drop_duplicates(), on="unit_code", how="left",
                        suffixes=("", "_t"))
    worst["note"] = worst.actionable.map({True: "", False: PASSIVE_ROW})
    body += "<h3>Đơn vị và chỉ số mất nhiều điểm nhất</h3>" + h.table(worst, {
        "unit_name": ("Đơn vị", "text"), "metric_label": ("Chỉ số", "text"), "rate": ("Tỷ lệ đạt", "pct"),
        "points": ("Điểm", "num"), "max_points": ("Tối đa", "num"), "lost": ("Điểm mất", "num"),
        "owner_name": ("Người phụ trách", "text"), "owner_title": ("Chức vụ", "text"), "note": ("Ghi chú", "text")},
        max_rows=30)
    body += "<h3>Thủ tục có nhiều hồ sơ trễ hạn nhất</h3>" + h.table(r.procedures, {
        "procedure_code": ("Mã thủ tục", "text"), "procedure_name": ("Thủ tục", "text"),
        "denominator": ("Hồ sơ phải giải quyết", "int"), "late": ("Trễ hạn", "int"),
        "late_rate": ("Tỷ lệ trễ hạn", "pct"), "points_lost": ("Điểm tiến độ bị mất", "num")}, max_rows=15)
    return h.section(f"{number(r, 'losses')} Điểm bị mất ở đâu, vì sao", body,
                     "“Điểm tiến độ bị mất” = 20 × số hồ sơ trễ hạn của thủ tục ÷ tổng số hồ sơ phải giải quyết trong "
                     "kỳ (nhóm tiến độ giải quyết).")


def render_owners(r: Report) -> str:
    o = r.owners.merge(r.totals[["unit_code", "unit_name"]], on="unit_code", how="inner")
    o["metric_label"] = o.metric_code.map(labels.METRICS)
    body = h.details(f"Danh sách người phụ trách từng chỉ số ({fmt_int(len(o))} dòng)", h.table(
        o.sort_values(["unit_code", "metric_code"]), {"unit_name": ("Đơn vị", "text"),
                                                       "metric_label": ("Chỉ số", "text"),
                                                       "owner_name": ("Người phụ trách", "text"),
                                                       "owner_title": ("Chức vụ", "text")}))
    return h.section(f"{number(r, 'owners')} Người phụ trách chỉ số", body)


def render_officials(r: Report) -> str:
    if r.officials.empty:
        return ""
    o = r.officials.sort_values(["index", "official_id"])
    return h.section(f"{number(r, 'officials')} Cán bộ", h.table(o, {"official_id": ("Mã cán bộ", "text"), "full_name": ("Họ tên", "text"),
                                           "unit_name": ("Đơn vị", "text"), "index": ("Chỉ số cá nhân", "num"),
                                           "grade": ("Xếp loại", "grade"), "metrics": ("Tính trên các chỉ số", "text")}),
                     "Chỉ số cá nhân = điểm đạt trên các chỉ số gắn với cán bộ ÷ điểm tối đa × 100.")


def render_review(r: Report) -> str:
    """Officials to commend and to hold to account (1d), with the months behind each decision and the evidence
    a signer needs: dossiers handled, late, late rate, months graded."""
    if r.review.empty:
        return ""
    body = ""
    for decision, title in DECISIONS.items():
        d = r.review[r.review.decision == decision].sort_values(
            ["index", "official_id"], ascending=[decision != COMMEND, True])      # ranked: best (worst) first
        sheet = review_sheet(d)
        cols = [c for c in sheet.columns if c != "Đề nghị" and not (decision == COMMEND and c == "Bước xử lý quá hạn")]
        kinds = {"Chỉ số cả kỳ": "num", "Tỷ lệ trễ hạn (%)": "num", "Hồ sơ đã xử lý": "int",
                 "Hồ sơ trễ hạn do cán bộ": "int"}
        body += f"<h3>{h.esc(title)} ({fmt_int(len(d))} cán bộ)</h3>"
        body += h.table(sheet[cols], {c: (c, "int" if c.endswith("số hồ sơ") else kinds.get(c, "text")) for c in cols},
                        max_rows=60) if len(d) else "<p>Không có cán bộ nào.</p>"
    rules = r.review_rules
    return h.section(f"{number(r, 'review')} Cán bộ đề nghị khen thưởng, xem xét trách nhiệm", body,
                     f"Khen thưởng: {commend_rule(rules)}. Xem xét trách nhiệm: xếp loại Yếu từ "
                     f"{rules.get('account_months', 2)} tháng trở lên (năm: {rules.get('account_quarters', 2)} quý "
                     f"liên tiếp). Tháng có ít hơn {rules.get('min_dossiers', 0)} hồ sơ không được xếp loại. Một tháng "
                     "được xét cùng hai tháng trước đó.")


def render_self_assessment(r: Report) -> str:
    """Each unit's self-assessment (one-stop, Decision 800) against its computed figures (1d)."""
    if r.self_assessment.empty:
        return ""
    sa = r.self_assessment
    gaps = unit_gaps(sa)
    flagged = sa[sa.flagged]
    body = h.cards([("Đơn vị có tự đánh giá", fmt_int(sa.unit_code.nunique()), f"kỳ {h.esc(label_vi(r.period))}"),
                    ("Đơn vị lệch tổng điểm vượt ngưỡng", fmt_int(int(gaps.flagged.sum())),
                     "tự đánh giá khác kết quả tính từ dữ liệu"),
                    ("Nội dung lệch vượt ngưỡng", fmt_int(len(flagged)), "nhóm, chỉ số hoặc tổng điểm")])
    if len(gaps):
        body += "<h3>Tổng điểm: tự đánh giá và kết quả</h3>" + h.table(gaps, {
            "unit_code": ("Mã", "text"), "unit_name": ("Đơn vị", "text"), "self_points": ("Tự đánh giá", "num"),
            "computed_points": ("Theo Bộ chỉ số", "num"), "gap": ("Chênh lệch", "num"),
            "flagged_items": ("Số nội dung lệch vượt ngưỡng", "int")}, max_rows=40)
    body += "<h3>Nội dung lệch vượt ngưỡng</h3>" + h.table(
        flagged, {k: (v, "num" if k in ("self_points", "computed_points", "max_points", "gap") else "text")
                  for k, v in SELF_ASSESSMENT_COLUMNS.items()}, max_rows=60)
    return h.section(f"{number(r, 'self_assessment')} Tự đánh giá so với kết quả Bộ chỉ số", body,
                     "Chênh lệch = điểm tự đánh giá − điểm tính từ dữ liệu; đánh dấu khi chênh lệch vượt "
                     f"{fmt_number(float(r.review_rules.get('self_assessment_gap_percent', 5)))}% điểm tối đa của "
                     "nội dung.")


def render_late_list(r: Report) -> str:
    if not r.unit:
        return ""
    d = r.late.copy()
    d["state"] = d.is_open.map({True: "Đang giải quyết", False: "Đã giải quyết"})
    return h.section(f"{number(r, 'late_list')} Danh sách hồ sơ trễ hạn", h.table(d, {
        "dossier_code": ("Mã hồ sơ", "text"), "unit_name": ("Đơn vị", "text"), "procedure_name": ("Thủ tục", "text"),
        "received_at": ("Tiếp nhận", "date"), "due_at": ("Hẹn trả", "date"), "finished_at": ("Hoàn thành", "date"),
        "state": ("Tình trạng", "text"), "overdue_wd": ("Số ngày trễ", "int"), "reason": ("Lý do tính trễ hạn", "text")},
        max_rows=200))


def render_quality(r: Report) -> str:
    total_q = int(r.quarantine.n.sum()) if len(r.quarantine) else 0
    never = int(r.unsynced.never_synced.sum()) if len(r.unsynced) else 0
    body = h.cards([("Dòng bị cách ly khi nạp", fmt_int(total_q), "không được tính vào chỉ số"),
                    ("Hồ sơ chưa đồng bộ lên Cổng DVCQG", fmt_int(never),
                     f"trên {fmt_int(r.unsynced.received.sum() if len(r.unsynced) else 0)} hồ sơ tiếp nhận trong kỳ")])
    if total_q:
        body += h.table(r.quarantine, {"table_name": ("Bảng", "text"), "reason": ("Lý do", "text"), "n": ("Số dòng", "int")},
                        max_rows=15)
    body += "<h3>Đơn vị có nhiều hồ sơ chưa đồng bộ</h3>" + h.table(
        r.unsynced[r.unsynced.never_synced > 0], {"unit_code": ("Mã", "text"), "unit_name": ("Đơn vị", "text"),
                                                  "received": ("Tiếp nhận", "int"),
                                                  "never_synced": ("Chưa đồng bộ", "int")}, max_rows=15)
    return h.section(f"{number(r, 'quality')} Chất lượng dữ liệu", body)


ALERT_COLUMNS = {"dossier_code": ("Mã hồ sơ", "text"), "state_label": ("Tình trạng", "text"),
                 "left_label": ("Còn lại", "text"), "deadline_now": ("Hạn xử lý hiện tại", "datetime"),
                 "unit_name": ("Đơn vị", "text"), "procedure_name": ("Thủ tục", "text"), "step": ("Bước hiện tại", "text"),
                 "official_name": ("Cán bộ", "text")}


def alerts_html(a, unit: str | None = None, max_rows: int = 30) -> str:
    """The early warning as the notebooks and the unit report show it: what is at stake per unit, the
    officials with the most to act on, then the dossiers (overdue first). No applicant data."""
    d = a.dossiers
    if not len(d):
        return f"<p>Không có hồ sơ quá hạn, sắp đến hạn hay chờ bổ sung lúc {h.esc(a.label)}.</p>"
    parts = [f"<p>Lúc {h.esc(a.label)}: <b>{fmt_int(len(d))}</b> hồ sơ cần xử lý ({h.esc(a.counts_text())}; sắp đến hạn = "
             f"trong {a.days} ngày làm việc).</p>"]
    parts.append("<ul>" + "".join(f"<li><b>{h.esc(u.unit_name)}</b>: {h.esc(u.sentence)}</li>"
                                  for u in a.units.itertuples()) + "</ul>")
    if len(a.officials):
        parts.append(h.table(a.officials, {"official_name": ("Cán bộ", "text"), "overdue": ("Đã quá hạn", "int"),
                                           "due_soon": ("Sắp đến hạn", "int"), "waiting_applicant": ("Chờ bổ sung", "int")},
                             caption="Cán bộ có nhiều hồ sơ cần xử lý nhất", max_rows=10))
    rows = d.assign(state_label=d.state.map(ALERT_STATES),
                    left_label=[left_text(s, n) for s, n in zip(d.state, d.working_days_left)])
    parts.append(h.table(rows, ALERT_COLUMNS, caption="Hồ sơ (quá hạn trước, rồi theo hạn)", max_rows=max_rows))
    if len(d) > max_rows:
        parts.append(f'<p class="note">… và {fmt_int(len(d) - max_rows)} hồ sơ nữa: danh sách đủ bằng '
                     f'<code>kpi alerts{" --unit " + h.esc(unit) if unit else ""} --out canh-bao.xlsx</code>.</p>')
    return "".join(parts)


def render_alerts(r: Report) -> str:
    if r.alerts is None:
        return ""
    # a part of section 1 (the sections keep their numbers whether the period is running or not)
    return (f'<section><h3>{number(r, "summary")}1. Cảnh báo sớm: hồ sơ cần xử lý ngay</h3><p class="note">Kỳ báo cáo chưa kết thúc: '
            f'các hồ sơ dưới đây còn quyết định điểm của kỳ.</p>{alerts_html(r.alerts, r.unit)}</section>')


def render_footer(r: Report) -> str:
    files = "".join(f"<li>{h.esc(Path(f).name)} — sha256 {h.esc(s[:16])}… ({fmt_int(n)} dòng, nạp {h.esc(t)})</li>"
                    for f, s, n, t in r.files[["file", "sha256", "rows_loaded", "loaded_at"]].itertuples(index=False))
    return (f'<footer><p>Cách chấm điểm: <b>{h.esc(r.profile_label)}</b> · Lập lúc {h.esc(fmt_datetime(r.generated_at))}'
            f'</p><details><summary>Tệp dữ liệu đã dùng ({len(r.files)})</summary><ul>{files}</ul>'
            f'</details></footer>')


def render_all(r: Report) -> list[str]:
    parts = [render_title(r), render_summary(r), render_alerts(r), render_groups(r), render_ranking(r), render_trend(r),
             render_distribution(r), render_rates(r), render_losses(r), render_officials(r), render_review(r),
             render_self_assessment(r), render_late_list(r),
             render_owners(r), render_quality(r), render_footer(r)]
    return [p for p in parts if p]
