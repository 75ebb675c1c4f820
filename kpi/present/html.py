"""HTML pieces for reports: escaped tables, grade badges, headline cards. Names are data: every
value is escaped, so a unit called `<script>` shows as text."""
from __future__ import annotations

import html
import re
from itertools import count

import pandas as pd

from kpi import labels
from kpi.numbers import fmt_date, fmt_datetime, fmt_int, fmt_number, fmt_pct, fmt_count

_chart_ids = count(1)

FORMATS = {"num": fmt_number, "int": fmt_int, "count": fmt_count, "pct": fmt_pct, "date": fmt_date, "datetime": fmt_datetime,
           "text": lambda v: "—" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)}


def esc(v) -> str:
    return html.escape(str(v), quote=True)


def badge(grade_code: str | None) -> str:
    if not grade_code or grade_code not in labels.GRADES:
        return "—"
    return (f'<span class="grade" style="background:{labels.GRADE_COLORS[grade_code]}">'
            f'{esc(labels.GRADES[grade_code])}</span>')


def change(v) -> str:
    if v is None or pd.isna(v):
        return "—"
    cls = "up" if v > 0.005 else "down" if v < -0.005 else "flat"
    arrow = "▲" if cls == "up" else "▼" if cls == "down" else "■"
    return f'<span class="{cls}">{arrow} {esc(fmt_number(abs(v)))}</span>'


def table(frame: pd.DataFrame, columns: dict, caption: str | None = None, max_rows: int | None = None) -> str:
    """columns: source column → (Vietnamese header, format) with format in FORMATS, 'grade' or 'change'."""
    rows = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f"<th>{esc(h)}</th>" for h, _ in columns.values())
    body = []
    for rec in rows.to_dict("records"):
        cells = []
        for col, (_, kind) in columns.items():
            v = rec.get(col)
            if kind == "grade":
                cells.append(f"<td>{badge(v)}</td>")
            elif kind == "change":
                cells.append(f'<td class="n">{change(v)}</td>')
            else:
                text = FORMATS[kind](v)
                # numbers right-aligned on one line; text wide enough that a name wraps at most once
                cls = ' class="n"' if kind in ("num", "int", "count", "pct") else (
                    ' class="w"' if len(text) > 40 else ' class="t"' if len(text) > 12 else "")
                cells.append(f"<td{cls}>{esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    more = (f'<p class="note">… và {fmt_int(len(frame) - max_rows)} dòng nữa.</p>'
            if max_rows is not None and len(frame) > max_rows else "")
    return f'<table class="kpi">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'


def cards(items: list[tuple[str, str, str]]) -> str:
    """Headline figures: (label, value html, sub-line html)."""
    inner = "".join(f'<div class="card"><div class="label">{esc(l)}</div><div class="value">{v}</div>'
                    f'<div class="sub">{s}</div></div>' for l, v, s in items)
    return f'<div class="cards">{inner}</div>'


def figure(svg_text: str) -> str:
    """An inline SVG chart; ids made unique so several charts on one page never clash."""
    n = next(_chart_ids)
    svg_text = re.sub(r'id="([^"]+)"', rf'id="c{n}-\1"', svg_text)
    svg_text = re.sub(r'url\(#([^)]+)\)', rf'url(#c{n}-\1)', svg_text)
    svg_text = re.sub(r'href="#([^"]+)"', rf'href="#c{n}-\1"', svg_text)
    return f'<figure class="chart">{svg_text}</figure>'


def extract_note(label: str | None) -> str:
    """The line an output made on a unit's extract opens with ("Kho trích cho …")."""
    return f'<p class="extract-note">{esc(label)}</p>' if label else ""


def section(title: str, body: str, note: str | None = None) -> str:
    n = f'<p class="note">{esc(note)}</p>' if note else ""
    return f"<section><h2>{esc(title)}</h2>{n}{body}</section>"


def details(summary: str, body: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{body}</details>"
