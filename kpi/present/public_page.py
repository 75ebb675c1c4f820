"""The public page of the monthly publication: one self-contained HTML file for the provincial portal —
the period, the data's date and the method in one paragraph, the pictures (embedded), and the three
published tables. No script, nothing fetched, no applicant data (the tables are the package's own)."""
from __future__ import annotations

import base64
import numbers

import pandas as pd

from kpi.periods import Period, label_vi
from kpi.present import html as h
from kpi.numbers import CONTROL, fmt_date, fmt_datetime, fmt_int, fmt_number

CSS = """
body{font-family:'Segoe UI',Roboto,'Noto Sans','DejaVu Sans',Arial,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:1240px;margin:0 auto;padding:24px 20px 48px;background:#fff}
h1{color:#1f3b73;font-size:1.7rem;margin:.2em 0}
h2{color:#1f3b73;border-bottom:2px solid #1f3b73;padding-bottom:4px;margin-top:2em}
p.lead{color:#444;line-height:1.55}
figure{margin:16px 0}figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
table{border-collapse:collapse;width:100%;font-size:.92rem;margin:8px 0}
th{background:#1f3b73;color:#fff;text-align:left;padding:6px 8px;position:sticky;top:0}
td{border-bottom:1px solid #e3e6ea;padding:5px 8px;vertical-align:top}td.n{text-align:right;white-space:nowrap}
tr:nth-child(even) td{background:#f6f8fb}
nav a{margin-right:1em;color:#1f3b73}footer{color:#666;font-size:.85rem;margin-top:3em}
"""

TABLE_TITLES = {"ty-le-ho-so-tre-han": "Tỷ lệ hồ sơ trễ hạn của các cơ quan, đơn vị, địa phương",
                "ty-le-dvc-truc-tuyen": "Tỷ lệ hồ sơ dịch vụ công trực tuyến",
                "danh-sach-ho-so-tre-han": "Danh sách hồ sơ trễ hạn"}
PICTURE_TITLES = {"the-tong-hop": "Kết quả chung", "xep-hang-so-nganh": "Xếp hạng sở, ban, ngành",
                  "xep-hang-xa-phuong": "Xếp hạng xã, phường", "ty-le-tre-han": "Tỷ lệ hồ sơ trễ hạn theo đơn vị",
                  "ty-le-truc-tuyen": "Tỷ lệ hồ sơ nộp trực tuyến theo đơn vị"}
NUMERIC = ("Số ", "Tỷ lệ", "STT", "DVC trực tuyến có hồ sơ")


def _esc(v) -> str:
    return h.esc(CONTROL.sub("", str(v)))


def _table(frame: pd.DataFrame) -> str:
    """A published table as HTML: every value escaped; numbers in Vietnamese format, right-aligned."""
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for c, v in zip(frame.columns, rec):
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append('<td class="n">—</td>' if c.startswith(NUMERIC) else "<td>—</td>")
            elif c.startswith(NUMERIC) and isinstance(v, numbers.Number) and not isinstance(v, bool):
                text = fmt_int(v) if float(v).is_integer() and "Tỷ lệ" not in c else fmt_number(v)
                cells.append(f'<td class="n">{h.esc(text)}</td>')
            else:
                cells.append(f"<td>{_esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def page(frames: dict[str, pd.DataFrame], pictures: dict[str, bytes], p: Period, data_last, place: str,
         profile_name: str, generated_at) -> str:
    """The page as one HTML string (pictures as data: URIs, CSS inline)."""
    when = label_vi(p)
    late = frames["danh-sach-ho-so-tre-han"]
    method = (f"Số liệu {when.lower()} của {h.esc(place)}, tính từ dữ liệu hồ sơ thủ tục hành chính trên Hệ thống "
              f"thông tin giải quyết thủ tục hành chính của tỉnh đến ngày {h.esc(fmt_date(data_last))}, theo Bộ chỉ số "
              "chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg): "
              "hồ sơ trễ hạn là hồ sơ giải quyết xong sau ngày hẹn trả hoặc chưa xong khi đã quá hạn vào cuối kỳ "
              "(thời gian chờ công dân bổ sung không tính); tỷ lệ trực tuyến là số hồ sơ nộp trực tuyến trên số "
              "hồ sơ tiếp nhận; tổng điểm và xếp loại theo cấu hình chấm điểm "
              f"“{h.esc(profile_name)}”. Trang này không chứa thông tin cá nhân của người nộp hồ sơ.")
    parts = [f"<h1>Công khai kết quả giải quyết thủ tục hành chính — {h.esc(when)}</h1>",
             f'<p class="lead">{method}</p>',
             "<nav>" + "".join(f'<a href="#{k}">{h.esc(v)}</a>' for k, v in
                               [("anh", "Biểu đồ")] + list(TABLE_TITLES.items())) + "</nav>",
             '<h2 id="anh">Biểu đồ</h2>']
    for stem, data in pictures.items():
        uri = base64.b64encode(data).decode("ascii")
        title = PICTURE_TITLES.get(stem, stem)
        parts.append(f'<figure><img alt="{h.esc(title)} — {h.esc(when)}" src="data:image/png;base64,{uri}"></figure>')
    for name, title in TABLE_TITLES.items():
        frame = frames[name]
        note = f" ({fmt_int(len(late))} hồ sơ)" if name == "danh-sach-ho-so-tre-han" else ""
        parts.append(f'<h2 id="{name}">{h.esc(title)}{h.esc(note)}</h2>' + _table(frame))
    parts.append(f"<footer>Lập lúc {h.esc(fmt_datetime(generated_at))} bằng phần mềm kpi766. Các bảng cũng có ở "
                 "dạng XLSX và CSV trong cùng thư mục.</footer>")
    return ('<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Công khai kết quả giải quyết TTHC — {h.esc(when)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>")
