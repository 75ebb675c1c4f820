"""Charts: Vega-Lite specs rendered to SVG by vl-convert — offline, no Vega from a CDN, Vietnamese
number format (97,75) and labels.

The specs are written as the Vega-Lite JSON itself (dicts), not through Altair: importing Altair takes a
quarter of a second — a twentieth of notebook 02's first view, which draws only these charts. (The phone
pictures, kpi.present.pictures, are built with Altair: they are made for the publication package only.)"""
from __future__ import annotations

import pandas as pd

from kpi import labels
from kpi.numbers import CONTROL

VI_LOCALE = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " đ"]}
GRADE_ORDER = list(labels.GRADES.values())
GRADE_SCALE = {"domain": GRADE_ORDER, "range": [labels.GRADE_COLORS[k] for k in labels.GRADES]}
BANDS = pd.DataFrame({"from": [0, 50, 70, 80, 90], "to": [50, 70, 80, 90, 100],
                      "grade": ["Yếu", "Trung bình", "Khá", "Tốt", "Xuất sắc"]})
FONT = "Segoe UI, Roboto, 'Noto Sans', 'DejaVu Sans', Arial, sans-serif"
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.4.1.json"     # the Vega-Lite the pinned vl-convert renders
# every chart's look (a chart without a width or height of its own is 300 × 300, as Altair's default theme)
CONFIG = {"view": {"continuousWidth": 300, "continuousHeight": 300, "strokeWidth": 0},
          "axis": {"labelFontSize": 11, "titleFontSize": 12}, "font": FONT,
          "title": {"anchor": "start", "fontSize": 14}}
TYPES = {"N": "nominal", "Q": "quantitative", "O": "ordinal", "T": "temporal"}


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


def category_axis() -> dict:
    """Category labels horizontal, never cut, a line break in a label starting a second line."""
    return {"labelAngle": 0, "labelLimit": 0, "labelExpr": "split(datum.label, '\\n')", "labelPadding": 4}


def field(shorthand: str, **more) -> dict:
    """An encoding channel from 'name:Q' (Q, N, O, T), with what else it says (title, scale, axis, …)."""
    name, kind = shorthand.rsplit(":", 1)
    return {"field": name, "type": TYPES[kind], **more}


def tooltip(frame: pd.DataFrame, *columns) -> list[dict]:
    """Tooltip channels: a column's name (its type read from the frame, as Altair does) or a channel dict."""
    def one(c):
        if isinstance(c, dict):
            return c
        kind = "Q" if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) else "N"
        return field(f"{c}:{kind}")
    return [one(c) for c in columns]


def values(frame: pd.DataFrame) -> dict:
    """A frame as inline data: its rows as records, a missing value null, a time as ISO text (as Altair sends)."""
    times = {c: frame[c].dt.strftime("%Y-%m-%dT%H:%M:%S") for c in frame.columns
             if pd.api.types.is_datetime64_any_dtype(frame[c])}
    frame = frame.assign(**times) if times else frame
    return {"values": frame.astype(object).where(frame.notna(), None).to_dict("records")}


def chart(frame: pd.DataFrame, mark: dict, encoding: dict, title: str | None = None, **size) -> dict:
    """One view: its data, mark and encoding (and title, width, height)."""
    spec = {"data": values(frame), "mark": mark, "encoding": encoding}
    if title is not None:
        spec["title"] = title
    return {**spec, **size}


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


def svg(spec: dict) -> str:
    """The chart as an SVG string (rendered here, so the page needs no script to show it)."""
    import vl_convert as vlc
    return vlc.vegalite_to_svg(printable_spec({"$schema": SCHEMA, **spec, "config": CONFIG}), format_locale=VI_LOCALE)


def ranking(t: pd.DataFrame, title: str, x_title: str = "Tổng điểm") -> dict:
    """Horizontal bars of units' totals (or any 0–100 value), coloured by grade band."""
    d = t[["unit_name", "total", "grade_label"]].copy()
    d["total"] = d.total.astype(float)
    height = max(120, 16 * len(d))
    return chart(d, {"type": "bar"}, {
        "x": field("total:Q", title=x_title, scale={"domain": [0, 100]}),
        "y": field("unit_name:N", sort="-x", title=None, axis={"labelLimit": 0}),     # names never cut
        "color": field("grade_label:N", title="Xếp loại", scale=GRADE_SCALE),
        "tooltip": tooltip(d, "unit_name", field("total:Q", format=",.2f"), "grade_label")},
        title, width=520, height=height)


def trend(tr: pd.DataFrame, title: str, y_title: str = "Tổng điểm") -> dict:
    """Total (or any 0–100 value) over time with the grade bands behind it."""
    d = tr.copy()
    d["total"] = d.total.astype(float)
    line = chart(d, {"type": "line", "color": "#1f3b73", "point": True}, {
        "x": field("period_label:N", sort=list(d.period_label), title=None, axis=category_axis()),
        "y": field("total:Q", title=y_title, scale={"domain": [0, 100]}),
        "tooltip": tooltip(d, "period_label", field("total:Q", format=",.2f"))})
    bands = chart(BANDS, {"type": "rect", "opacity": 0.12}, {
        "y": field("from:Q"), "y2": {"field": "to"},
        "color": field("grade:N", scale=GRADE_SCALE, title="Xếp loại")})
    return {"layer": [bands, line], "title": title, "width": fit_width(d.period_label, 560), "height": 260}


def period_lines(d: pd.DataFrame, value: str, y_title: str, series: str, series_title: str, tips: list,
                 title: str, minimum: int, height: int) -> dict:
    """A 0–100 value over the periods (period_label, in the order given), a line for each `series`."""
    return chart(d, {"type": "line", "point": True}, {
        "x": field("period_label:N", sort=list(dict.fromkeys(d.period_label)), title=None, axis=category_axis()),
        "y": field(f"{value}:Q", title=y_title, scale={"domain": [0, 100]}),
        "color": field(f"{series}:N", title=series_title),
        "tooltip": tooltip(d, *tips, field(f"{value}:Q", format=",.2f"))},
        title, width=fit_width(d.period_label, minimum), height=height)


def group_trend(g: pd.DataFrame, title: str) -> dict:
    """Each group's points as a share of its maximum, over time."""
    d = g.copy()
    d["pct"] = 100 * d.points.astype(float) / d.max_points.astype(float)
    return period_lines(d, "pct", "% điểm tối đa của nhóm", "group_label", "Nhóm chỉ số",
                        ["period_label", "group_label"], title, 560, 260)


def groups_bar(g: pd.DataFrame, title: str) -> dict:
    d = g.copy()
    d["points"] = d.points.astype(float)
    y = {"y": field("group_label:N", title=None, sort=None, axis={"labelLimit": 0})}
    mx = {"mark": {"type": "bar", "color": "#e5e7eb"}, "encoding": {**y, "x": field("max_points:Q", title="Điểm")}}
    got = {"mark": {"type": "bar", "color": "#1f6feb"}, "encoding": {
        **y, "x": field("points:Q"),
        "tooltip": tooltip(d, "group_label", field("points:Q", format=",.2f"), "max_points")}}
    text = {"mark": {"type": "text", "align": "left", "dx": 4}, "encoding": {
        **y, "x": field("max_points:Q"), "text": field("points:Q", format=",.2f")}}
    return {"data": values(d), "layer": [mx, got, text], "title": title, "width": 480, "height": 30 * len(d)}


def grade_distribution(t: pd.DataFrame, title: str) -> dict:
    d = t.groupby(["level_label", "grade_label"]).size().reset_index(name="n")
    return chart(d, {"type": "bar"}, {
        "x": field("grade_label:N", sort=GRADE_ORDER, title="Xếp loại", axis=category_axis()),
        "y": field("n:Q", title="Số đơn vị"),
        "color": field("grade_label:N", scale=GRADE_SCALE, legend=None),
        "column": field("level_label:N", title=None),
        "tooltip": tooltip(d, "level_label", "grade_label", "n")},
        title, width=fit_width(d.grade_label, 220), height=200)


def grade_counts(d: pd.DataFrame, title: str, y_title: str, minimum: int = 360) -> dict:
    """How many are in each grade band (columns grade_label, n), the bands in their order and colours."""
    return chart(d, {"type": "bar"}, {
        "x": field("grade_label:N", sort=GRADE_ORDER, title=None, axis=category_axis()),
        "y": field("n:Q", title=y_title),
        "color": field("grade_label:N", scale=GRADE_SCALE, legend=None),
        "tooltip": tooltip(d, "grade_label", "n")},
        title, width=fit_width(d.grade_label, minimum), height=200)


def late_vs_online(rates: pd.DataFrame, title: str) -> dict:
    d = rates.copy()
    for c in ("late_rate", "online_rate"):
        d[c] = d[c].astype(float)
    return chart(d, {"type": "circle", "size": 70, "opacity": 0.8}, {
        "x": field("online_rate:Q", title="Tỷ lệ hồ sơ nộp trực tuyến (%)"),
        "y": field("late_rate:Q", title="Tỷ lệ hồ sơ trễ hạn (%)"),
        "color": field("grade_label:N", scale=GRADE_SCALE, title="Xếp loại"),
        "tooltip": tooltip(d, "unit_name", field("late_rate:Q", format=",.2f"), field("online_rate:Q", format=",.2f"))},
        title, width=520, height=320)


def lost_points(lost: pd.DataFrame, title: str) -> dict:
    d = lost.copy()
    d["lost"] = d.lost.astype(float)
    return chart(d, {"type": "bar", "color": "#cf222e"}, {
        "x": field("lost:Q", title="Điểm bị mất (bình quân đơn vị)"),
        "y": field("metric_label:N", sort="-x", title=None, axis={"labelLimit": 0}),
        "tooltip": tooltip(d, "metric_label", field("lost:Q", format=",.2f"))},
        title, width=480, height=22 * len(d))


def unit_vs_province(d: pd.DataFrame, title: str) -> dict:
    """Each group's points as a share of its maximum (pct), for the unit and the province side by side (who)."""
    return chart(d, {"type": "bar"}, {
        "y": field("group:N", title=None),
        "x": field("pct:Q", title="% điểm tối đa của nhóm", scale={"domain": [0, 100]}),
        "color": field("who:N", title=None), "yOffset": field("who:N"),
        "tooltip": tooltip(d, "who", "group", field("pct:Q", format=",.2f"))},
        title, width=460, height=260)


def movers(m: pd.DataFrame, title: str, x_title: str) -> dict:
    """The units whose value changed most (change: up green, down red), largest first."""
    return chart(m, {"type": "bar"}, {
        "x": field("change:Q", title=x_title),
        "y": field("unit_name:N", sort="-x", title=None, axis={"labelLimit": 0}),     # names never cut (as a ranking)
        "color": {"condition": {"test": "datum.change > 0", "value": "#1a7f37"}, "value": "#cf222e"},
        "tooltip": tooltip(m, "unit_name", field("change:Q", format="+,.2f"))},
        title, width=460, height=16 * len(m))


def late_units(top: pd.DataFrame, title: str) -> dict:
    """Units by how many dossiers they let run late (late) and how large a share that is (late_rate), by level."""
    return chart(top, {"type": "circle", "size": 90}, {
        "x": field("late:Q", title="Số hồ sơ trễ hạn"),
        "y": field("late_rate:Q", title="Tỷ lệ trễ hạn (%)"),
        "color": field("level:N", title="Khối"),
        "tooltip": tooltip(top, "unit_name", "late", field("late_rate:Q", format=",.2f"))},
        title, width=520, height=300)


def official_history(hh: pd.DataFrame, title: str) -> dict:
    """Officials' index (0–100) over the periods (period_label), a line each (full_name)."""
    return period_lines(hh, "index", "Chỉ số cá nhân", "full_name", "Cán bộ", ["full_name", "period_label"],
                        title, 520, 280)


def match_rates(d: pd.DataFrame, title: str) -> dict:
    """How many of the portal's published figures our recount matches (match_rate, %), per metric."""
    return chart(d, {"type": "bar", "color": "#1f6feb"}, {
        "x": field("match_rate:Q", title="% khớp", scale={"domain": [0, 100]}),
        "y": field("metric_label:N", title=None, sort="x"),
        "tooltip": tooltip(d, "metric_label", "matched", "rows")},
        title, width=420, height=18 * len(d))


def message(title: str) -> dict:
    """A chart with nothing to draw but its title (no earlier period to compare with, …)."""
    return chart(pd.DataFrame({"x": [0]}), {"type": "text"}, {}, title)
