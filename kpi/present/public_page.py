"""The public page of the monthly publication, made to be read on a phone (a link shared in a Zalo group)
and on the provincial portal: one self-contained HTML file — the period and the data's date, four headline
figures, the pictures (embedded, sized for a phone), the late and online rates per unit in short tables
that scroll within their box, the late dossiers summarised per unit, and links to the full lists (XLSX, and
CSV for machines) in the same folder. No script, nothing fetched, no applicant data, no internal names."""
from __future__ import annotations

import base64
import numbers

import pandas as pd

from kpi import labels
from kpi.periods import Period, label_vi
from kpi.present import html as h
from kpi.numbers import CONTROL, fmt_date, fmt_datetime, fmt_int, fmt_number

CSS = """
*{box-sizing:border-box}
body{font-family:'Segoe UI',Roboto,'Noto Sans','DejaVu Sans',Arial,sans-serif;margin:0;color:#1b1f24;
background:#f6f7f9;font-size:16px;line-height:1.5;-webkit-text-size-adjust:100%}
main{max-width:960px;margin:0 auto;padding:14px 14px 40px;background:#fff}
h1{color:#1f3b73;font-size:1.3rem;line-height:1.3;margin:.3em 0}
h2{color:#1f3b73;font-size:1.1rem;border-bottom:2px solid #1f3b73;padding-bottom:4px;margin-top:1.8em}
p.lead{color:#444;font-size:.95rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:12px 0}
.card{border:1px solid #e3e6ea;border-left:5px solid #1f3b73;border-radius:6px;padding:8px 10px}
.card .v{font-size:1.6rem;font-weight:700;display:block;line-height:1.2}.card .k{color:#555;font-size:.85rem}
figure{margin:14px 0}figure img{display:block;width:100%;max-width:720px;height:auto;border:1px solid #e3e6ea}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%;border:1px solid #e3e6ea;border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th{background:#1f3b73;color:#fff;text-align:left;padding:6px;font-weight:600;vertical-align:bottom}
td{border-bottom:1px solid #e3e6ea;padding:5px 6px;vertical-align:top}td.n{text-align:right;white-space:nowrap}
th.n{text-align:right}td:first-child{min-width:9em}
tr:nth-child(even) td{background:#f6f8fb}
details{margin:8px 0}summary{cursor:pointer;font-weight:600;padding:6px 0;color:#1f3b73}
ul.files{padding-left:1.2em}ul.files li{margin:.35em 0}a{color:#1f3b73}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:.95rem}
footer{color:#666;font-size:.85rem;margin-top:2.5em}
@media (min-width:700px){h1{font-size:1.6rem}main{padding:24px 24px 48px}}
"""

TABLE_TITLES = {"ty-le-ho-so-tre-han": "Tỷ lệ hồ sơ trễ hạn của các cơ quan, đơn vị, địa phương",
                "ty-le-dvc-truc-tuyen": "Tỷ lệ hồ sơ dịch vụ công trực tuyến",
                "danh-sach-ho-so-tre-han": "Danh sách hồ sơ trễ hạn"}
PICTURE_TITLES = {"the-tong-hop": "Kết quả chung", "xep-hang-so-nganh": "Xếp hạng sở, ban, ngành",
                  "xep-hang-xa-phuong": "Xếp hạng xã, phường", "ty-le-tre-han": "Tỷ lệ hồ sơ trễ hạn theo đơn vị",
                  "ty-le-truc-tuyen": "Tỷ lệ hồ sơ nộp trực tuyến theo đơn vị"}
# the short tables the page shows (every column is in the files)
PAGE_COLUMNS = {
    "ty-le-ho-so-tre-han": {"Tên đơn vị": "Đơn vị", "Số hồ sơ phải giải quyết": "Phải giải quyết",
                            "Số hồ sơ trễ hạn": "Trễ hạn", "Tỷ lệ hồ sơ trễ hạn (%)": "Tỷ lệ (%)"},
    "ty-le-dvc-truc-tuyen": {"Tên đơn vị": "Đơn vị", "Số hồ sơ tiếp nhận": "Tiếp nhận",
                             "Số hồ sơ trực tuyến": "Trực tuyến", "Tỷ lệ hồ sơ trực tuyến (%)": "Tỷ lệ (%)"},
}
LATE_UNITS_SHOWN = 10


def _esc(v) -> str:
    return h.esc(CONTROL.sub("", str(v)))


def _table(frame: pd.DataFrame, percent: tuple[str, ...] = ()) -> str:
    """A short table: every value escaped; numbers in Vietnamese format, right-aligned; in a box that
    scrolls sideways on its own (the page never does)."""
    numeric = [c for c in frame.columns if c != frame.columns[0]]
    head = "".join(f'<th class="n">{_esc(c)}</th>' if c in numeric else f"<th>{_esc(c)}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for c, v in zip(frame.columns, rec):
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append('<td class="n">—</td>' if c in numeric else "<td>—</td>")
            elif c in numeric and isinstance(v, numbers.Number) and not isinstance(v, bool):
                text = fmt_number(v) if c in percent else fmt_int(v)
                cells.append(f'<td class="n">{h.esc(text)}</td>')
            else:
                cells.append(f"<td>{_esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _by_level(frame: pd.DataFrame, name: str) -> str:
    """The unit table of one of the two rates, a collapsible part per level (departments open)."""
    cols = PAGE_COLUMNS[name]
    pct = tuple(v for v in cols.values() if "(%)" in v)
    out = []
    for i, level in enumerate(labels.UNIT_LEVELS):
        part = frame[frame["Khối"] == labels.LEVELS.get(level)]
        if part.empty:
            continue
        short = part[list(cols)].rename(columns=cols)
        out.append(f"<details{' open' if i == 0 else ''}><summary>{_esc(labels.LEVELS.get(level))} "
                   f"({fmt_int(len(part))} đơn vị)</summary>{_table(short, pct)}</details>")
    return "".join(out)


def late_by_unit(late: pd.DataFrame) -> pd.DataFrame:
    """The late dossiers summarised per unit: how many, how many still being handled, apologies sent."""
    g = late.groupby("Đơn vị giải quyết", sort=False)
    out = pd.DataFrame({"Đơn vị": list(g.groups),
                        "Hồ sơ trễ hạn": g.size().to_numpy(),
                        "Đang giải quyết": g["Tình trạng"].apply(lambda s: int((s == "Đang giải quyết").sum())).to_numpy(),
                        "Đã gửi thư xin lỗi": g["Đã gửi thư xin lỗi"].apply(lambda s: int((s == "Có").sum())).to_numpy()})
    return out.sort_values(["Hồ sơ trễ hạn", "Đơn vị"], ascending=[False, True]).reset_index(drop=True)


def page(frames: dict[str, pd.DataFrame], pictures: dict[str, bytes], p: Period, data_last, place: str,
         generated_at, top: pd.Series | None = None, rates: dict | None = None, files: dict | None = None) -> str:
    """The page as one HTML string (pictures — SVG or PNG bytes — as data: URIs, CSS inline). top: the province's totals row
    (score, grade); rates: its late and online figures; files: table name → the XLSX and CSV names to link."""
    when = label_vi(p)
    late = frames["danh-sach-ho-so-tre-han"]
    files = files or {}
    method = (f"Số liệu {when.lower()} của {h.esc(place)}, tính từ dữ liệu hồ sơ thủ tục hành chính của tỉnh đến ngày "
              f"{h.esc(fmt_date(data_last))}, theo Bộ chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg). "
              "Hồ sơ trễ hạn là hồ sơ giải quyết xong sau ngày hẹn trả, hoặc đến cuối tháng chưa xong dù đã quá hạn "
              "(thời gian chờ người nộp bổ sung không tính). Trang này không có thông tin cá nhân của người nộp hồ sơ.")
    parts = [f"<h1>Kết quả giải quyết thủ tục hành chính — {h.esc(when)}</h1>", f'<p class="lead">{method}</p>']
    cards = []
    if top is not None:
        cards.append(("Tổng điểm", fmt_number(top.total), f"trên 100 · {labels.GRADES.get(top.grade, '—')}"))
    if rates:
        cards += [("Tỷ lệ trễ hạn", f"{fmt_number(rates['late_rate'])}%",
                   f"{fmt_int(rates['late'])} / {fmt_int(rates['handled'])} hồ sơ"),
                  ("Tỷ lệ nộp trực tuyến", f"{fmt_number(rates['online_rate'])}%",
                   f"{fmt_int(rates['online'])} / {fmt_int(rates['received'])} hồ sơ")]
    cards.append(("Hồ sơ trễ hạn", fmt_int(len(late)), f"ở {fmt_int(late['Đơn vị giải quyết'].nunique())} đơn vị"))
    parts.append('<div class="cards">' + "".join(
        f'<div class="card"><span class="k">{h.esc(k)}</span><span class="v">{h.esc(v)}</span>'
        f'<span class="k">{h.esc(s)}</span></div>' for k, v, s in cards) + "</div>")
    parts.append('<nav><a href="#anh">Biểu đồ</a><a href="#ty-le-ho-so-tre-han">Trễ hạn theo đơn vị</a>'
                 '<a href="#ty-le-dvc-truc-tuyen">Trực tuyến theo đơn vị</a><a href="#danh-sach-ho-so-tre-han">'
                 'Hồ sơ trễ hạn</a><a href="#tai-ve">Tải về</a></nav>')
    parts.append('<h2 id="anh">Biểu đồ</h2>')
    for stem, data in pictures.items():
        mime = "image/svg+xml" if data.lstrip()[:4] in (b"<svg", b"<?xm") else "image/png"
        uri = base64.b64encode(data).decode("ascii")
        title = PICTURE_TITLES.get(stem, stem)
        parts.append(f'<figure><img alt="{h.esc(title)} — {h.esc(when)}" src="data:{mime};base64,{uri}"></figure>')
    for name in ("ty-le-ho-so-tre-han", "ty-le-dvc-truc-tuyen"):
        parts.append(f'<h2 id="{name}">{h.esc(TABLE_TITLES[name])}</h2>' + _by_level(frames[name], name))
    summary = late_by_unit(late)
    link = files.get("danh-sach-ho-so-tre-han", {}).get("xlsx")
    full = f' Danh sách đầy đủ từng hồ sơ: <a href="{h.esc(link)}">tải tệp Excel</a>.' if link else ""
    parts.append(f'<h2 id="danh-sach-ho-so-tre-han">{h.esc(TABLE_TITLES["danh-sach-ho-so-tre-han"])} '
                 f'({fmt_int(len(late))} hồ sơ)</h2><p>Số hồ sơ trễ hạn của từng đơn vị, nhiều nhất trước.{full}</p>'
                 + _table(summary.head(LATE_UNITS_SHOWN))
                 + (f"<details><summary>Xem cả {fmt_int(len(summary))} đơn vị</summary>{_table(summary)}</details>"
                    if len(summary) > LATE_UNITS_SHOWN else ""))
    if files:
        parts.append('<h2 id="tai-ve">Tải về</h2><ul class="files">' + "".join(
            f'<li><a href="{h.esc(f["xlsx"])}">{h.esc(TABLE_TITLES[n])}</a> (Excel)'
            + (f' · <a href="{h.esc(f["csv"])}">CSV</a> cho phần mềm' if f.get("csv") else "") + "</li>"
            for n, f in files.items()) + "</ul>")
    parts.append(f"<footer>Cập nhật lúc {h.esc(fmt_datetime(generated_at))}.</footer>")
    return ('<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Kết quả giải quyết thủ tục hành chính — {h.esc(when)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>")
