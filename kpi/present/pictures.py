"""Pictures for the provincial portal and the Zalo page (1a, 5 of the directive): a headline card, the
rankings of departments and of communes in grade colours, the late-dossier rate and the online-submission
rate per unit. PNG, 1200 px wide, drawn by vl-convert with the font shipped in kpi/data/fonts (DejaVu Sans:
every Vietnamese letter), so a fresh machine with no fonts draws no empty boxes."""
from __future__ import annotations

import re
import struct
from pathlib import Path

import altair as alt
import pandas as pd

from kpi import config, labels
from kpi.fs import atomic_path, safe_name
from kpi.periods import Period, label_vi
from kpi.present import charts
from kpi.numbers import fmt_date, fmt_number

FONT_DIR = config.PACKAGE_DIR / "data" / "fonts"
FONT_FAMILY = "DejaVu Sans"
WIDTH = 1200
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


def headline(top: pd.Series, p: Period, data_last, place: str) -> alt.Chart:
    """A card 1200 × 630: the province's total, grade and change, with the period and the data's date."""
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
        dict(x=60, y=330, t=fmt_number(top.total), size=150, weight="bold", c=colour),
        dict(x=60, y=395, t="điểm trên 100", size=26, weight="normal", c="#333"),
        dict(x=640, y=270, t="Xếp loại", size=26, weight="normal", c="#333"),
        dict(x=640, y=335, t=labels.GRADES.get(grade, "—"), size=56, weight="bold", c=colour),
        dict(x=640, y=395, t=moved, size=24, weight="normal", c="#333"),
        dict(x=60, y=560, t=f"Số liệu tính từ dữ liệu hồ sơ đến ngày {fmt_date(data_last)}", size=20,
             weight="normal", c="#555"),
    ]
    return text_card(rows, 1152, 582, colour, band_width=1200)


def ranking(t: pd.DataFrame, title: str, subtitle: str) -> alt.Chart:
    """Horizontal bars of the units' totals in grade colours, the value at the end of each bar."""
    d = t.sort_values(["rank_in_level", "unit_code"])[["unit_name", "total", "grade_label", "rank_in_level"]].copy()
    d["total"] = d.total.astype(float)
    d["label"] = d.total.map(fmt_number)
    d["unit_name"] = [f"{r}. {n}" for r, n in zip(d.rank_in_level, d.unit_name)]
    h = max(200, 26 * len(d))
    y = alt.Y("unit_name:N", sort=list(d.unit_name), title=None)
    bars = alt.Chart(d).mark_bar().encode(
        x=alt.X("total:Q", title="Tổng điểm", scale=alt.Scale(domain=[0, 100]), axis=TICKS), y=y,
        color=alt.Color("grade_label:N", title="Xếp loại", scale=charts.GRADE_SCALE,
                        legend=alt.Legend(orient="top", direction="horizontal")))
    text = alt.Chart(d).mark_text(align="left", dx=4, fontSize=13).encode(x="total:Q", y=y, text="label:N")
    return alt.layer(bars, text, title=alt.Title(title, subtitle=subtitle)).properties(width=720, height=h)


def rate_bars(d: pd.DataFrame, value: str, title: str, subtitle: str, x_title: str, colour: str,
              descending: bool, rule: float | None = None, detail: str | None = None) -> alt.Chart:
    """One bar per unit for a percentage, sorted (worst first for a late rate), with its value (and
    `detail`, e.g. '3/12', beside it)."""
    d = d[["unit_name", value] + ([detail] if detail else [])].dropna(subset=[value]).copy()
    d[value] = d[value].astype(float)
    d = d.sort_values([value, "unit_name"], ascending=[not descending, True])
    d["label"] = [fmt_number(v) + "%" + (f" ({x})" if detail else "")
                  for v, x in zip(d[value], d[detail] if detail else d[value])]
    h = max(200, 20 * len(d))
    y = alt.Y("unit_name:N", sort=list(dict.fromkeys(d.unit_name)), title=None)
    bars = alt.Chart(d).mark_bar(color=colour).encode(
        x=alt.X(f"{value}:Q", title=x_title, scale=alt.Scale(domain=[0, 100]), axis=TICKS), y=y)
    text = alt.Chart(d).mark_text(align="left", dx=4, fontSize=12).encode(x=f"{value}:Q", y=y, text="label:N")
    layers = [bars, text]
    if rule is not None:      # under the values, so a value beside the target stays readable
        layers.insert(1, alt.Chart(pd.DataFrame({"r": [rule]})).mark_rule(color="#1f3b73", strokeDash=[6, 4],
                                                                         size=2).encode(x="r:Q"))
    return alt.layer(*layers, title=alt.Title(title, subtitle=subtitle)).properties(width=720, height=h)


def publication(totals: pd.DataFrame, frames: dict[str, pd.DataFrame], p: Period, data_last) -> dict[str, alt.Chart]:
    """The pictures of the monthly publication, by file stem (the period is added to the name)."""
    prov = totals[totals.level == "province"].iloc[0]
    place = re.sub(r"^(UBND|Ủy ban nhân dân)\s+", "", str(prov.unit_name), flags=re.I)
    when = label_vi(p)
    out = {"the-tong-hop": headline(prov, p, data_last, place)}
    for level, stem, name in (("department", "xep-hang-so-nganh", "Sở, ban, ngành"),
                              ("commune", "xep-hang-xa-phuong", "Xã, phường")):
        t = totals[(totals.level == level) & totals["rank"].notna()]
        if len(t):
            out[stem] = ranking(t, f"Xếp hạng {name.lower()} — {when}",
                                f"Tổng điểm Bộ chỉ số 766 của {len(t)} đơn vị, màu theo xếp loại")
    late = frames["ty-le-ho-so-tre-han"].rename(columns={"Tên đơn vị": "unit_name",
                                                          "Tỷ lệ hồ sơ trễ hạn (%)": "late_rate"})
    late = late[late["Khối"] != labels.LEVELS.get("province")].copy()
    late["detail"] = [f"{a}/{b} hồ sơ" for a, b in zip(late["Số hồ sơ trễ hạn"], late["Số hồ sơ phải giải quyết"])]
    out["ty-le-tre-han"] = rate_bars(late, "late_rate", f"Tỷ lệ hồ sơ trễ hạn theo đơn vị — {when}",
                                     "Đơn vị có tỷ lệ cao nhất ở trên cùng; trong ngoặc: hồ sơ trễ hạn / phải giải quyết",
                                     "Tỷ lệ hồ sơ trễ hạn (%)", labels.GRADE_COLORS["YEU"], descending=True,
                                     detail="detail")
    online = frames["ty-le-dvc-truc-tuyen"].rename(columns={"Tên đơn vị": "unit_name",
                                                            "Tỷ lệ hồ sơ trực tuyến (%)": "online_rate"})
    online = online[online["Khối"] != labels.LEVELS.get("province")]
    out["ty-le-truc-tuyen"] = rate_bars(online, "online_rate", f"Tỷ lệ hồ sơ nộp trực tuyến theo đơn vị — {when}",
                                        "Đường đứt nét: mục tiêu 50%", "Tỷ lệ hồ sơ trực tuyến (%)", "#1f6fb2",
                                        descending=True, rule=50)
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
