"""What the notebooks take from kpi besides figures: the workspace's store, the report's look inside
JupyterLab, views that stay live when a control changes, and tables to filter and page through."""
from __future__ import annotations

import re

import pandas as pd

from kpi import config
from kpi.present import html as h
from kpi.store import StoreError, extract_label

CSS = config.PACKAGE_DIR / "report" / "templates" / "kpi766" / "kpi766.css"   # the reports' own look
PAGE_ONLY = ("body", "main", ".jp-Cell", ".jp-OutputArea-output", "@media")


def extract_note(engine) -> str:
    """On a unit's extract, the line a view opens with ("Kho trích cho …"); nothing on a province's store."""
    return h.extract_note(extract_label(engine.extract))


def store_path(store=None) -> str:
    """The store a notebook reads: its `store` parameter, else KPI_STORE, else the workspace's
    data/processed/kpi.duckdb — a relative path taken from the workspace root, not from notebooks/."""
    path = config.resolve_store(store)
    if not path.exists():
        raise NotebookError(f"không có kho dữ liệu {path} (đường dẫn lấy từ {config.where_store_came_from(store)}) — "
                            "nếu đã nạp dữ liệu ở chỗ khác, đặt KPI_STORE hoặc tham số store đúng tệp đó; nếu chưa, "
                            "chạy `make load` ở thư mục gốc.")
    return str(path)


class NotebookError(StoreError):
    """Shown in a notebook as its one line, without a traceback (IPython's _render_traceback_)."""

    def _render_traceback_(self):
        return [f"\x1b[31mLỗi: {self}\x1b[0m"]


def style() -> "IPython.display.HTML":
    """The report's stylesheet for views inside JupyterLab, scoped to `.kpi766` so the Lab itself keeps its
    look: text left-aligned, numbers right-aligned, cards, grade badges."""
    from IPython.display import HTML
    rules = []
    for rule in re.findall(r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", CSS.read_text(encoding="utf-8"), flags=re.S)):
        selectors = [sel.strip() for sel in rule[0].split(",")]
        if any(sel.startswith(PAGE_ONLY) for sel in selectors):
            continue
        scoped = ", ".join(sel if sel.startswith(".jp-RenderedHTMLCommon") else f".kpi766 {sel}" for sel in selectors)
        scoped = scoped.replace(".jp-RenderedHTMLCommon table.kpi", ".jp-RenderedHTMLCommon .kpi766 table.kpi")
        rules.append(f"{scoped} {{{rule[1]}}}")
    rules.append(".kpi766 { max-width: 1180px; } .kpi766 .error { color: #cf222e; font-weight: 600; }")
    return HTML("<style>" + "\n".join(rules) + "</style>")


def wrap(html: str) -> str:
    return f'<div class="kpi766">{html}</div>'


class LiveView:
    """One output that changes in place when a control changes (and is kept, as its latest content, in
    the saved notebook and its HTML export)."""

    def __init__(self, html: str = ""):
        from IPython.display import HTML, display
        self.html = html
        self.handle = display(HTML(wrap(html)), display_id=True)

    def update(self, html: str) -> None:
        from IPython.display import HTML
        self.html = html
        if self.handle is not None:          # None outside a notebook (a script, a test): nothing shown to update
            self.handle.update(HTML(wrap(html)))


def error_line(exc: Exception) -> str:
    return f'<p class="error">{h.esc(str(exc))}</p>'


class TableBrowser:
    """A table to filter (any text of a row) and page through, instead of "… và 281 dòng nữa": the
    controls are widgets, the page is a live view (so the saved notebook keeps the first page)."""

    def __init__(self, frame: pd.DataFrame, columns: dict, page_size: int = 25, title: str = ""):
        self.frame, self.columns, self.page_size, self.title = frame.reset_index(drop=True), columns, page_size, title
        self._text = (self.frame.astype(str).agg(" ".join, axis=1).str.casefold() if len(self.frame)
                      else pd.Series(dtype=str))
        self.view: LiveView | None = None
        self.search = self.page = self.count = None

    def show(self) -> None:
        import ipywidgets as w
        from IPython.display import display
        self.search = w.Text(placeholder="gõ tên, mã, đơn vị … để lọc", description="Lọc",
                             layout=w.Layout(width="420px"))
        self.page = w.BoundedIntText(value=1, min=1, max=1, description="Trang", layout=w.Layout(width="170px"))
        self.count = w.HTML()
        self.search.observe(lambda _: self.refresh(reset=True), names="value")
        self.page.observe(lambda _: self.refresh(), names="value")
        display(w.HBox([self.search, self.page, self.count]))
        self.view = LiveView(self.page_html(reset=True))

    def rows(self) -> pd.DataFrame:
        q = (self.search.value if self.search else "").strip().casefold()
        return self.frame[self._text.str.contains(q, regex=False)] if q else self.frame

    def page_html(self, reset: bool = False) -> str:
        rows = self.rows()
        pages = max(1, -(-len(rows) // self.page_size))
        page = 1
        if self.page is not None:
            if reset:
                self.page.max, self.page.value = max(pages, self.page.value), 1
            self.page.max = pages
            page = min(self.page.value, pages)
            self.count.value = f"&nbsp;{len(rows)} dòng · {pages} trang"
        start = (page - 1) * self.page_size
        head = f"<h3>{h.esc(self.title)}</h3>" if self.title else ""
        return head + h.table(rows.iloc[start:start + self.page_size], self.columns) + \
            f'<p class="note">Dòng {start + 1 if len(rows) else 0}–{min(start + self.page_size, len(rows))} / {len(rows)}</p>'

    def refresh(self, reset: bool = False) -> None:
        if self.view is not None:
            self.view.update(self.page_html(reset))
