"""Charts: Altair specs rendered to SVG by vl-convert — offline, no Vega from a CDN, Vietnamese
number format (97,75) and labels."""
from __future__ import annotations

import altair as alt
import pandas as pd

from kpi import labels
from kpi.numbers import CONTROL

VI_LOCALE = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " đ"]}
GRADE_ORDER = list(labels.GRADES.values())
GRADE_SCALE = alt.Scale(domain=GRADE_ORDER, range=[labels.GRADE_COLORS[k] for k in labels.GRADES])
BANDS = pd.DataFrame({"from": [0, 50, 70, 80, 90], "to": [50, 70, 80, 90, 100],
                      "grade": ["Yếu", "Trung bình", "Khá", "Tốt", "Xuất sắc"]})
FONT = "Segoe UI, Roboto, 'Noto Sans', 'DejaVu Sans', Arial, sans-serif"


LABEL_PX = 6.6      # one character of an 11 px axis label (DejaVu Sans, the widest font the page may fall back to)
LABEL_GAP = 12


def label_step(texts) -> int:
    """The width one category needs for its label, horizontal and whole (a label may hold line breaks)."""
    longest = max((len(line) for t in texts for line in str(t).split("\n")), default=1)
    return int(longest * LABEL_PX + LABEL_GAP)


def fit_width(texts, minimum: int) -> int:
    """A chart at least `minimum` wide, wider when its category labels need it."""
    texts = list(dict.fromkeys(texts))
    return max(minimum, len(texts) * label_step(texts))


def category_axis() -> alt.Axis:
    """Category labels horizontal, never cut, a line break in a label starting a second line."""
    return alt.Axis(labelAngle=0, labelLimit=0, labelExpr="split(datum.label, '\\n')", labelPadding=4)


def _config(chart: alt.Chart) -> alt.Chart:
    return chart.configure(font=FONT).configure_view(strokeWidth=0).configure_axis(
        labelFontSize=11, titleFontSize=12).configure_title(fontSize=14, anchor="start")


def printable_spec(x):
    """A chart spec with control characters removed from every string (its data included): a name
    holding '\x1b' would make the renderer abort."""
    if isinstance(x, str):
        return CONTROL.sub("", x)
    if isinstance(x, dict):
        return {k: printable_spec(v) for k, v in x.items()}
    if isinstance(x, list):
        return [printable_spec(v) for v in x]
    return x


def svg(chart: alt.Chart) -> str:
    """The chart as an SVG string (rendered here, so the page needs no script to show it)."""
    import vl_convert as vlc
    return vlc.vegalite_to_svg(printable_spec(_config(chart).to_dict()), format_locale=VI_LOCALE)


def grade_bands(y_title: str = "Điểm") -> alt.Chart:
    return alt.Chart(BANDS).mark_rect(opacity=0.12).encode(
        y=alt.Y("from:Q", title=y_title, scale=alt.Scale(domain=[0, 100])), y2="to:Q",
        color=alt.Color("grade:N", scale=GRADE_SCALE, legend=None))


def ranking(t: pd.DataFrame, title: str, x_title: str = "Tổng điểm") -> alt.Chart:
    """Horizontal bars of units' totals (or any 0–100 value), coloured by grade band."""
    d = t[["unit_name", "total", "grade_label"]].copy()
    d["total"] = d.total.astype(float)
    height = max(120, 16 * len(d))
    return alt.Chart(d, title=title).mark_bar().encode(
        x=alt.X("total:Q", title=x_title, scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("unit_name:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),     # names never cut
        color=alt.Color("grade_label:N", title="Xếp loại", scale=GRADE_SCALE),
        tooltip=["unit_name", alt.Tooltip("total:Q", format=",.2f"), "grade_label"],
    ).properties(width=520, height=height)


def trend(tr: pd.DataFrame, title: str, y_title: str = "Tổng điểm") -> alt.Chart:
    """Total (or any 0–100 value) over time with the grade bands behind it."""
    d = tr.copy()
    d["total"] = d.total.astype(float)
    line = alt.Chart(d).mark_line(point=True, color="#1f3b73").encode(
        x=alt.X("period_label:N", sort=list(d.period_label), title=None, axis=category_axis()),
        y=alt.Y("total:Q", title=y_title, scale=alt.Scale(domain=[0, 100])),
        tooltip=["period_label", alt.Tooltip("total:Q", format=",.2f")])
    bands = alt.Chart(BANDS).mark_rect(opacity=0.12).encode(
        y="from:Q", y2="to:Q", color=alt.Color("grade:N", scale=GRADE_SCALE, title="Xếp loại"))
    return alt.layer(bands, line, title=title).properties(width=fit_width(d.period_label, 560), height=260)


def group_trend(g: pd.DataFrame, title: str) -> alt.Chart:
    """Each group's points as a share of its maximum, over time."""
    d = g.copy()
    d["pct"] = 100 * d.points.astype(float) / d.max_points.astype(float)
    return alt.Chart(d, title=title).mark_line(point=True).encode(
        x=alt.X("period_label:N", sort=list(dict.fromkeys(d.period_label)), title=None, axis=category_axis()),
        y=alt.Y("pct:Q", title="% điểm tối đa của nhóm", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("group_label:N", title="Nhóm chỉ số"),
        tooltip=["period_label", "group_label", alt.Tooltip("pct:Q", format=",.2f")],
    ).properties(width=fit_width(d.period_label, 560), height=260)


def groups_bar(g: pd.DataFrame, title: str) -> alt.Chart:
    d = g.copy()
    d["points"] = d.points.astype(float)
    base = alt.Chart(d, title=title).encode(y=alt.Y("group_label:N", title=None, sort=None,
                                                    axis=alt.Axis(labelLimit=0)))
    mx = base.mark_bar(color="#e5e7eb").encode(x=alt.X("max_points:Q", title="Điểm"))
    got = base.mark_bar(color="#1f6feb").encode(x="points:Q",
                                                 tooltip=["group_label", alt.Tooltip("points:Q", format=",.2f"),
                                                          "max_points"])
    text = base.mark_text(align="left", dx=4).encode(x="max_points:Q", text=alt.Text("points:Q", format=",.2f"))
    return alt.layer(mx, got, text).properties(width=480, height=30 * len(d))


def grade_distribution(t: pd.DataFrame, title: str) -> alt.Chart:
    d = t.groupby(["level_label", "grade_label"]).size().reset_index(name="n")
    return alt.Chart(d, title=title).mark_bar().encode(
        x=alt.X("grade_label:N", sort=GRADE_ORDER, title="Xếp loại", axis=category_axis()),
        y=alt.Y("n:Q", title="Số đơn vị"),
        color=alt.Color("grade_label:N", scale=GRADE_SCALE, legend=None),
        column=alt.Column("level_label:N", title=None),
        tooltip=["level_label", "grade_label", "n"]).properties(width=fit_width(d.grade_label, 220), height=200)


def grade_counts(d: pd.DataFrame, title: str, y_title: str, minimum: int = 360) -> alt.Chart:
    """How many are in each grade band (columns grade_label, n), the bands in their order and colours."""
    return alt.Chart(d, title=title).mark_bar().encode(
        x=alt.X("grade_label:N", sort=GRADE_ORDER, title=None, axis=category_axis()), y=alt.Y("n:Q", title=y_title),
        color=alt.Color("grade_label:N", scale=GRADE_SCALE, legend=None),
        tooltip=["grade_label", "n"]).properties(width=fit_width(d.grade_label, minimum), height=200)


def late_vs_online(rates: pd.DataFrame, title: str) -> alt.Chart:
    d = rates.copy()
    for c in ("late_rate", "online_rate"):
        d[c] = d[c].astype(float)
    return alt.Chart(d, title=title).mark_circle(size=70, opacity=0.8).encode(
        x=alt.X("online_rate:Q", title="Tỷ lệ hồ sơ nộp trực tuyến (%)"),
        y=alt.Y("late_rate:Q", title="Tỷ lệ hồ sơ trễ hạn (%)"),
        color=alt.Color("grade_label:N", scale=GRADE_SCALE, title="Xếp loại"),
        tooltip=["unit_name", alt.Tooltip("late_rate:Q", format=",.2f"), alt.Tooltip("online_rate:Q", format=",.2f")],
    ).properties(width=520, height=320)


def lost_points(lost: pd.DataFrame, title: str) -> alt.Chart:
    d = lost.copy()
    d["lost"] = d.lost.astype(float)
    return alt.Chart(d, title=title).mark_bar(color="#cf222e").encode(
        x=alt.X("lost:Q", title="Điểm bị mất (bình quân đơn vị)"),
        y=alt.Y("metric_label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
        tooltip=["metric_label", alt.Tooltip("lost:Q", format=",.2f")]).properties(width=480, height=22 * len(d))


def unit_vs_province(d: pd.DataFrame, title: str) -> alt.Chart:
    """Each group's points as a share of its maximum (pct), for the unit and the province side by side (who)."""
    return alt.Chart(d, title=title).mark_bar().encode(
        y=alt.Y("group:N", title=None), x=alt.X("pct:Q", title="% điểm tối đa của nhóm",
                                                scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("who:N", title=None), yOffset="who:N",
        tooltip=["who", "group", alt.Tooltip("pct:Q", format=",.2f")]).properties(width=460, height=260)


def movers(m: pd.DataFrame, title: str, x_title: str) -> alt.Chart:
    """The units whose value changed most (change: up green, down red), largest first."""
    return alt.Chart(m, title=title).mark_bar().encode(
        x=alt.X("change:Q", title=x_title), y=alt.Y("unit_name:N", sort="-x", title=None),
        color=alt.condition("datum.change > 0", alt.value("#1a7f37"), alt.value("#cf222e")),
        tooltip=["unit_name", alt.Tooltip("change:Q", format="+,.2f")]).properties(width=460, height=16 * len(m))


def message(title: str) -> alt.Chart:
    """A chart with nothing to draw but its title (no earlier period to compare with, …)."""
    return alt.Chart(pd.DataFrame({"x": [0]}), title=title).mark_text()
