"""Pictures for the provincial portal and the Zalo page (1a, 5 of the directive): a headline card, the
rankings of departments and of communes in grade colours, the late-dossier rate and the online-submission
rate per unit. PNG, 1200 px wide, drawn by vl-convert with the font shipped in kpi/data/fonts (DejaVu Sans:
every Vietnamese letter), so a fresh machine with no fonts draws no empty boxes."""
from __future__ import annotations

import re
import struct
import textwrap
from pathlib import Path

import altair as alt
import pandas as pd

from kpi import config, labels
from kpi.fs import atomic_path, safe_name
from kpi.periods import Period, label_vi
from kpi.present import charts
from kpi.numbers import fmt_date, fmt_int, fmt_number

FONT_DIR = config.PACKAGE_DIR / "data" / "fonts"
FONT_FAMILY = "DejaVu Sans"
WIDTH = 1080
TICKS = alt.Axis(values=list(range(0, 101, 10)))
_registered = False


def _register() -> None:
    global _registered
    if not _registered:
        import vl_convert as vlc
        vlc.register_font_directory(str(FONT_DIR))
        _registered = True


def _spec(chart: alt.Chart) -> dict:
    spec = chart.configure(font=FONT_FAMILY, background="white", padding=24).configure_view(strokeWidth=0) \
        .configure_axis(labelFontSize=14, titleFontSize=15, labelLimit=360) \
        .configure_legend(labelFontSize=14, titleFontSize=15) \
        .configure_title(fontSize=24, anchor="start", subtitleFontSize=15, subtitleColor="#555").to_dict()
    return charts.printable_spec(spec)


def png(chart: alt.Chart, width: int = WIDTH) -> bytes:
    """The chart as PNG `width` pixels wide (scaled from its drawn size, so text stays sharp)."""
    import vl_convert as vlc
    _register()
    spec = _spec(chart)
    svg = vlc.vegalite_to_svg(spec, format_locale=charts.VI_LOCALE)
    drawn = float(re.search(r'width="([\d.]+)"', svg).group(1))
    return vlc.vegalite_to_png(spec, scale=width / drawn, format_locale=charts.VI_LOCALE)


def svg(chart: alt.Chart) -> bytes:
    """The chart as SVG (what the public page embeds: sharp on any screen, a tenth of the PNG's weight)."""
    import vl_convert as vlc
    _register()
    return vlc.vegalite_to_svg(_spec(chart), format_locale=charts.VI_LOCALE).encode("utf-8")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    return struct.unpack(">II", data[16:24])


def texts(chart: alt.Chart) -> str:
    """Every string the chart draws (titles, labels, data), for the glyph-coverage check."""
    spec = _spec(chart)
    out = []

    def walk(x):
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(spec)
    return "".join(out)


# ------------------------------------------------------------------------------------------------ charts

def text_card(rows: list[dict], width: int, height: int, colour: str, band_width: int | None = None) -> alt.Chart:
    """Lines of text (x, y, t, size, weight, c) placed where they say, a layer per font, under a coloured band
    (`band_width` wide, the card's width by default): the headline card and the early-warning cards."""
    d = pd.DataFrame(rows)
    base = alt.Chart(d).encode(x=alt.X("x:Q", scale=None, axis=None), y=alt.Y("y:Q", scale=None, axis=None),
                               text="t:N", color=alt.Color("c:N", scale=None))
    layers = [base.transform_filter(f"datum.size == {s} && datum.weight == '{w}'").mark_text(
        align="left", baseline="alphabetic", fontSize=s, fontWeight=w)
        for s, w in d[["size", "weight"]].drop_duplicates().itertuples(index=False)]
    band = alt.Chart(pd.DataFrame({"x": [0], "x2": [band_width or width], "y": [0], "y2": [16]})) \
        .mark_rect(color=colour).encode(x=alt.X("x:Q", scale=None), x2="x2:Q", y=alt.Y("y:Q", scale=None), y2="y2:Q")
    return alt.layer(band, *layers).properties(width=width, height=height)


def headline(top: pd.Series, p: Period, data_last, place: str, rates: dict | None = None) -> alt.Chart:
    """A card 1200 × 630: the province's total, grade and change, its late and online rates (with their
    counts), the period and the data's date."""
    grade = top.grade if isinstance(top.grade, str) else None
    colour = labels.GRADE_COLORS.get(grade, "#555")
    change = top.change
    before = label_vi(p.previous()).lower()
    if change is None or pd.isna(change):
        moved = f"chưa có số liệu {before} để so sánh"
    elif abs(change) < 0.005:
        moved = f"không đổi so với {before}"
    else:
        moved = f"{'▲ tăng' if change > 0 else '▼ giảm'} {fmt_number(abs(change))} điểm so với {before}"
    rows = [
        dict(x=60, y=90, t=f"BỘ CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP — {place.upper()}", size=26, weight="bold", c="#1f3b73"),
        dict(x=60, y=140, t=f"{label_vi(p)} · theo Quyết định 766/QĐ-TTg", size=24, weight="normal", c="#333"),
        dict(x=60, y=310, t=fmt_number(top.total), size=140, weight="bold", c=colour),
        dict(x=60, y=370, t="điểm trên 100", size=26, weight="normal", c="#333"),
        dict(x=640, y=250, t="Xếp loại", size=26, weight="normal", c="#333"),
        dict(x=640, y=315, t=labels.GRADES.get(grade, "—"), size=56, weight="bold", c=colour),
        dict(x=640, y=370, t=moved, size=24, weight="normal", c="#333"),
        dict(x=60, y=560, t=f"Số liệu tính từ dữ liệu hồ sơ đến ngày {fmt_date(data_last)}", size=20,
             weight="normal", c="#555"),
    ]
    if rates:
        rows += [
            dict(x=60, y=450, t="Hồ sơ trễ hạn", size=22, weight="normal", c="#333"),
            dict(x=60, y=495, t=f"{fmt_number(rates['late_rate'])}%", size=40, weight="bold", c=labels.GRADE_COLORS["YEU"]),
            dict(x=250, y=495, t=f"{fmt_int(rates['late'])} / {fmt_int(rates['handled'])} hồ sơ", size=22,
                 weight="normal", c="#333"),
            dict(x=640, y=450, t="Hồ sơ nộp trực tuyến", size=22, weight="normal", c="#333"),
            dict(x=640, y=495, t=f"{fmt_number(rates['online_rate'])}%", size=40, weight="bold", c="#1f6fb2"),
            dict(x=830, y=495, t=f"{fmt_int(rates['online'])} / {fmt_int(rates['received'])} hồ sơ", size=22,
                 weight="normal", c="#333"),
        ]
    return text_card(rows, 1152, 582, colour, band_width=1200)


def short_name(name: str) -> str:
    """A commune's name as a picture on a phone shows it: 'UBND xã Bình Hòa' → 'Xã Bình Hòa'."""
    return re.sub(r"^(UBND|Ủy ban nhân dân)\s+(xã|phường|thị trấn)\s", lambda m: m.group(2).capitalize() + " ",
                  str(name), flags=re.I)


PHONE_BARS = 15           # a picture for a phone shows this many units; the full lists are in the files
PHONE_WIDTH = 340         # drawn width of the bars' area: the picture is ~390 px, a phone's width, at 1:1
ROW = 42                  # a unit's row: its name on a line of its own, the bar under it


def _named_bars(d: pd.DataFrame, x: alt.X, colour, order: list[str]) -> list:
    """Bars for a phone: each unit's name written above its bar (no axis of names eating the width), the
    value at the bar's end. d: unit_name, label and the x field."""
    y = alt.Y("unit_name:N", sort=order, title=None, axis=None, scale=alt.Scale(paddingInner=0.1))
    base = alt.Chart(d)
    bars = base.mark_bar(size=13, yOffset=8).encode(x=x, y=y, color=colour)
    names = base.mark_text(align="left", baseline="bottom", fontSize=14, yOffset=1).encode(
        x=alt.value(0), y=y, text="unit_name:N")
    values = base.mark_text(align="left", dx=4, fontSize=13, yOffset=8).encode(x=x, y=y, text="label:N")
    return [bars, names, values]


def _phone_picture(layers: list, title, subtitle: str, rows: int) -> alt.Chart:
    """The layers as one picture a phone's width, a row per unit, the subtitle in lines that fit."""
    return alt.layer(*layers, title=alt.Title(title, subtitle=_lines(subtitle))).properties(
        width=PHONE_WIDTH, height=ROW * rows)


def _lines(text: str, width: int = 44) -> list[str]:
    """A subtitle broken into lines that fit the picture's width."""
    return textwrap.wrap(text, width) or [""]


def ranking(t: pd.DataFrame, title: str, subtitle: str, ends: int | None = None) -> alt.Chart:
    """The units' totals in grade colours, each name above its bar, the value at the bar's end. `ends`: only
    the first and the last `ends` units (a long list on a phone), the gap between them marked."""
    d = t.sort_values(["rank_in_level", "unit_code"])[["unit_name", "total", "grade_label", "rank_in_level"]].copy()
    if ends and len(d) > 2 * ends:
        gap = pd.DataFrame([{"unit_name": "…", "total": None, "grade_label": None, "rank_in_level": None}])
        d = pd.concat([d.head(ends), gap, d.tail(ends)], ignore_index=True)
    d["total"] = d.total.astype(float)
    d["label"] = d.total.map(lambda v: "" if pd.isna(v) else fmt_number(v))
    d["unit_name"] = [n if pd.isna(r) else f"{int(r)}. {short_name(n)}" for r, n in zip(d.rank_in_level, d.unit_name)]
    x = alt.X("total:Q", title="Tổng điểm", scale=alt.Scale(domain=[0, 100]),
              axis=alt.Axis(values=list(range(0, 101, 20))))
    colour = alt.Color("grade_label:N", title=None, scale=charts.GRADE_SCALE,
                       legend=alt.Legend(orient="top", direction="horizontal", columns=3))
    layers = _named_bars(d, x, colour, list(d.unit_name))
    return _phone_picture(layers, title, subtitle, len(d))


def _axis_top(worst: float) -> float:
    """An axis end a little past the worst value, on a round number (42 % → 50 %), never past 100."""
    step = 5 if worst <= 30 else 10
    return float(min(100, (int(worst * 1.1 // step) + 1) * step))


def rate_bars(d: pd.DataFrame, value: str, title: str, subtitle: str, x_title: str, colour: str,
              descending: bool, rule: float | None = None, detail: str | None = None, average: float | None = None,
              top: int | None = None) -> alt.Chart:
    """One bar per unit for a percentage, sorted (worst first), each name above its bar, with its value and
    `detail` ('3/12') at the bar's end; the axis runs a little past the largest value (and the label);
    `average`: the province's line; `rule`: a target line; `top`: only the first units (a phone's picture)."""
    d = d[["unit_name", value] + ([detail] if detail else [])].dropna(subset=[value]).copy()
    d["unit_name"] = d.unit_name.map(short_name)
    d[value] = d[value].astype(float)
    d = d.sort_values([value, "unit_name"], ascending=[not descending, True])
    if top:
        d = d.head(top)
    d["label"] = [fmt_number(v) + "%" + (f" ({x})" if detail else "")
                  for v, x in zip(d[value], d[detail] if detail else d[value])]
    worst = float(d[value].max()) if len(d) else 0.0
    end = _axis_top(max([worst * 1.45, average or 0, rule or 0]))     # room for the label after the longest bar
    x = alt.X(f"{value}:Q", title=x_title, scale=alt.Scale(domain=[0, end]), axis=alt.Axis(tickCount=5))
    layers = _named_bars(d, x, alt.value(colour), list(dict.fromkeys(d.unit_name)))
    marks = [(v, dash, name) for v, dash, name in ((rule, [6, 4], "Mục tiêu"), (average, [2, 2], "Bình quân tỉnh"))
             if v is not None and not pd.isna(v)]
    right = max((float(v) for v, _, _ in marks), default=None)
    for v, dash, name in marks:
        # two lines' labels never overlap: the right-hand one written to its right, the other to its left
        side = "left" if float(v) == right else "right"
        line = pd.DataFrame({"r": [float(v)], "t": [f"{name} {fmt_number(v)}%"]})
        layers.insert(1, alt.Chart(line).mark_rule(color="#1f3b73", strokeDash=dash, size=2).encode(x="r:Q"))
        layers.append(alt.Chart(line).mark_text(align=side, dx=4 if side == "left" else -4, dy=-6, fontSize=12,
                                                color="#1f3b73", baseline="bottom")
                      .encode(x="r:Q", y=alt.value(0), text="t:N"))
    return _phone_picture(layers, title, subtitle, len(d))


def province_rates(frames: dict[str, pd.DataFrame]) -> dict:
    """The province's row of the two rate tables: late, handled, late rate, online, received, online rate."""
    late = frames["ty-le-ho-so-tre-han"]
    online = frames["ty-le-dvc-truc-tuyen"]
    lp = late[late["Khối"] == labels.LEVELS.get("province")].iloc[0]
    op = online[online["Khối"] == labels.LEVELS.get("province")].iloc[0]
    z = lambda v: 0 if v is None or pd.isna(v) else v      # noqa: E731
    return {"late": z(lp["Số hồ sơ trễ hạn"]), "handled": z(lp["Số hồ sơ phải giải quyết"]),
            "late_rate": z(lp["Tỷ lệ hồ sơ trễ hạn (%)"]), "online": z(op["Số hồ sơ trực tuyến"]),
            "received": z(op["Số hồ sơ tiếp nhận"]), "online_rate": z(op["Tỷ lệ hồ sơ trực tuyến (%)"])}


def publication(totals: pd.DataFrame, frames: dict[str, pd.DataFrame], p: Period, data_last) -> dict[str, alt.Chart]:
    """The pictures of the monthly publication, by file stem (the period is added to the name), sized to be
    read on a phone: the headline card, the rankings (a long one: its first and last ten), the fifteen units
    with the highest late rate and the fifteen with the lowest online rate, each beside the province's
    average."""
    prov = totals[totals.level == "province"].iloc[0]
    place = re.sub(r"^(UBND|Ủy ban nhân dân)\s+", "", str(prov.unit_name), flags=re.I)
    when = label_vi(p)
    rates = province_rates(frames)
    out = {"the-tong-hop": headline(prov, p, data_last, place, rates)}
    for level, stem, name in (("department", "xep-hang-so-nganh", "Sở, ban, ngành"),
                              ("commune", "xep-hang-xa-phuong", "Xã, phường")):
        t = totals[(totals.level == level) & totals["rank"].notna()]
        if len(t):
            long = len(t) > 2 * 10 + 2
            out[stem] = ranking(t, [f"Xếp hạng {name.lower()}", when],
                                f"{'10 đơn vị cao nhất và 10 thấp nhất trong ' if long else ''}{len(t)} đơn vị; "
                                "màu theo xếp loại", ends=10 if long else None)
    for stem, table, rate, part, whole, title, colour, worst_first, target, x_title in (
            ("ty-le-tre-han", "ty-le-ho-so-tre-han", "Tỷ lệ hồ sơ trễ hạn (%)", "Số hồ sơ trễ hạn",
             "Số hồ sơ phải giải quyết", "Tỷ lệ hồ sơ trễ hạn", labels.GRADE_COLORS["YEU"], True, None,
             "trễ hạn / phải giải quyết"),
            ("ty-le-truc-tuyen", "ty-le-dvc-truc-tuyen", "Tỷ lệ hồ sơ trực tuyến (%)", "Số hồ sơ trực tuyến",
             "Số hồ sơ tiếp nhận", "Tỷ lệ hồ sơ nộp trực tuyến", "#1f6fb2", False, 50, "trực tuyến / tiếp nhận")):
        d = frames[table].rename(columns={"Tên đơn vị": "unit_name", rate: "rate"})
        d = d[d["Khối"] != labels.LEVELS.get("province")].copy()
        d["detail"] = [f"{fmt_int(a)}/{fmt_int(b)}" for a, b in zip(d[part], d[whole])]
        n = int(d.rate.notna().sum())
        which = "cao nhất" if worst_first else "thấp nhất"
        out[stem] = rate_bars(d, "rate", [title, when],
                              f"{min(PHONE_BARS, n)} đơn vị {which} trong {n}; trong ngoặc: số hồ sơ {x_title}",
                              rate, colour, descending=worst_first, rule=target, detail="detail",
                              average=rates["late_rate" if worst_first else "online_rate"], top=PHONE_BARS)
    return out


# ------------------------------------------------------------------------------------------------ early warning

def alert_card(unit: pd.Series, dossiers: pd.DataFrame, as_of) -> alt.Chart:
    """One unit's morning card, portrait for a phone: counts by state, the grade at stake, the officials with
    the most dossiers to act on. No applicant data (the rows carry none)."""
    at_risk_colour = "#cf222e" if unit.grade_changes else ("#9a6700" if unit.at_risk else "#1f3b73")
    rows = [dict(x=40, y=80, t="CẢNH BÁO SỚM — BỘ CHỈ SỐ 766", size=30, weight="bold", c="#1f3b73"),
            dict(x=40, y=130, t=str(unit.unit_name)[:48], size=30, weight="bold", c="#222"),
            dict(x=40, y=172, t=f"Tính đến {as_of:%H:%M} ngày {fmt_date(as_of)}", size=22, weight="normal", c="#555")]
    y = 270
    for label, value, colour in (("Đã quá hạn", unit.overdue, "#cf222e"), ("Sắp đến hạn", unit.due_soon, "#9a6700"),
                                 ("Chờ công dân bổ sung", unit.waiting_applicant, "#555")):
        rows += [dict(x=40, y=y, t=f"{int(value):,}".replace(",", "."), size=64, weight="bold", c=colour),
                 dict(x=260, y=y - 8, t=label, size=30, weight="normal", c="#333")]
        y += 100
    sentence = str(unit.sentence)
    words, lines, line = sentence.split(), [], ""
    for w in words:                        # wrapped to the card's width
        if len(line) + len(w) + 1 > 44:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    y += 10
    for text in lines[:4]:
        rows.append(dict(x=40, y=y, t=text, size=30, weight="bold", c=at_risk_colour))
        y += 44
    people = dossiers[dossiers.official_id.notna()].groupby(["official_id", "official_name"], dropna=False) \
        .size().sort_values(ascending=False).head(5)
    if len(people):
        y += 30
        rows.append(dict(x=40, y=y, t="Cán bộ có nhiều hồ sơ cần xử lý nhất", size=24, weight="bold", c="#333"))
        for (oid, name), n in people.items():
            y += 40
            who = name if isinstance(name, str) and name else oid
            rows.append(dict(x=60, y=y, t=f"{str(who)[:34]} — {n} hồ sơ", size=24, weight="normal", c="#333"))
    y += 70
    rows.append(dict(x=40, y=y, t="Danh sách đầy đủ: kpi alerts --unit " + str(unit.unit_code), size=20,
                     weight="normal", c="#555"))
    return text_card(rows, 900, y + 30, at_risk_colour)


def alert_cards(a, folder) -> list:
    """A PNG per unit with rows, `canh-bao-<unit>.png` in `folder` (written whole or not at all)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for unit in a.units.itertuples(index=False):
        u = pd.Series(unit._asdict())
        path = folder / f"canh-bao-{safe_name(u.unit_code)}.png"
        data = png(alert_card(u, a.dossiers[a.dossiers.unit_code == u.unit_code], a.as_of), width=1080)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
        out.append(path)
    return out
