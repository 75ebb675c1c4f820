"""The trend explorer behind notebooks/02_explore_trends.ipynb: ipywidgets controls (period kind and
period, unit or sub-tree, group, profile) driving Altair charts rendered offline as SVG."""
from __future__ import annotations

import altair as alt
import pandas as pd

from . import labels
from .api import ScopeError, session, totals_with
from .periods import label_vi, parse
from .report import charts
from .report import html as h

KINDS = {"month": "Tháng", "quarter": "Quý"}


class Explorer:
    """Holds the controls and a cache of totals per (period, scope); `html()` is the current view."""

    def __init__(self, store=None, profile=None, period=None, unit=None):
        from .report.content import last_complete_month
        self.store, self.profile_path = store, profile
        with session(store, None, profile) as e:
            self.last_month = last_complete_month(e.con)
            self.first = e.con.execute("SELECT min(received_at) FROM dossiers").fetchone()[0].date()
            units = e.con.execute("SELECT unit_code, unit_name, level FROM units WHERE valid_to IS NULL "
                                  "ORDER BY CASE level WHEN 'province' THEN 0 WHEN 'department' THEN 1 ELSE 2 END, "
                                  "unit_code").df()
            self.province = units[units.level == "province"].unit_code.iloc[0]
        self.units = units
        self._cache: dict = {}
        self.renders = 0
        p = parse(period or self.last_month)
        self.state = {"kind": p.kind if p.kind in KINDS else "month", "period": p.label,
                      "unit": unit or self.province, "subtree": True, "group": "TOTAL", "profile": profile}
        self._widgets = None

    # ---------------------------------------------------------------- data
    def periods(self, kind: str) -> list[str]:
        out, p = [], parse(self.last_month if kind == "month" else
                           f"{self.last_month[:4]}-Q{(int(self.last_month[5:7]) - 1) // 3 + 1}")
        while p.last >= self.first and len(out) < 18:
            out.append(p.label)
            p = p.previous()
        return out

    def totals(self, period: str, merged: bool = True) -> pd.DataFrame:
        key = (period, merged, self.state["profile"])
        if key not in self._cache:
            with session(self.store, None, self.state["profile"]) as e:
                self._cache[key] = totals_with(e, period, merged=merged, compare=False)
        return self._cache[key]

    def trend(self) -> pd.DataFrame:
        rows = []
        for label in reversed(self.periods(self.state["kind"])[:12]):
            t = self.totals(label).set_index("unit_code")
            if self.state["unit"] in t.index:
                r = t.loc[self.state["unit"]]
                rows.append({"period": label, "period_label": label_vi(parse(label)).replace("Tháng ", ""),
                             "total": float(r.total), **{c: float(r[c]) for c in t.columns if c.startswith("group_")}})
        return pd.DataFrame(rows)

    # ---------------------------------------------------------------- views
    def html(self) -> str:
        st = self.state
        if st["period"] not in self.periods(st["kind"]):
            st["period"] = self.periods(st["kind"])[0]
        name = self.units.set_index("unit_code").unit_name.get(st["unit"], st["unit"])
        col = "total" if st["group"] == "TOTAL" else f"group_{st['group']}"
        what = "Tổng điểm" if st["group"] == "TOTAL" else labels.GROUPS[st["group"]]
        tr = self.trend()
        parts = [f"<h2>{h.esc(name)} — {h.esc(what)} — {h.esc(label_vi(parse(st['period'])))}</h2>"]
        if len(tr):
            d = tr.rename(columns={col: "value"})[["period_label", "value"]].rename(columns={"value": "total"})
            if col == "total":
                parts.append(h.figure(charts.svg(charts.trend(d, f"Xu hướng {what.lower()} (nền: các mức xếp loại)"))))
            else:
                mx = float(self._max(st["group"]))
                d["total"] = 100 * d.total / mx
                parts.append(h.figure(charts.svg(charts.trend(d, f"Xu hướng nhóm {what} (% điểm tối đa, nền: mức xếp loại)"))))
        cur = self.totals(st["period"])
        t = cur[cur["rank"].notna()].copy()
        t["value"] = t[col].astype(float) if col == "total" else 100 * t[col].astype(float) / float(self._max(st["group"]))
        rk = t.sort_values("value", ascending=False)[["unit_name", "value", "grade_label"]].rename(columns={"value": "total"})
        unit_of = "" if col == "total" else " (% điểm tối đa của nhóm; màu: xếp loại tổng)"
        parts.append(h.figure(charts.svg(charts.ranking(rk.head(30), f"Xếp hạng theo {what.lower()}{unit_of} — 30 đơn vị đầu"))))
        parts.append(h.figure(charts.svg(self._profile_chart(cur, st["unit"]))))
        parts.append(h.figure(charts.svg(self._movers_chart(st["period"], col, what))))
        self.renders += 1
        return "".join(parts)

    def _max(self, group):
        from .scoring import load_profile
        return load_profile(self.state["profile"])["groups"][group]["max"]

    def _profile_chart(self, cur, unit):
        groups = [c for c in cur.columns if c.startswith("group_")]
        rows = []
        for who, code in (("Đơn vị", unit), ("Toàn tỉnh", self.province)):
            r = cur.set_index("unit_code").loc[code]
            for g in groups:
                rows.append({"who": who, "group": labels.GROUPS[g[6:]],
                             "pct": 100 * float(r[g]) / float(self._max(g[6:]))})
        d = pd.DataFrame(rows)
        return alt.Chart(d, title="Hồ sơ nhóm chỉ số: đơn vị so với toàn tỉnh (% điểm tối đa)").mark_bar().encode(
            y=alt.Y("group:N", title=None), x=alt.X("pct:Q", title="% điểm tối đa", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("who:N", title=None), yOffset="who:N",
            tooltip=["who", "group", alt.Tooltip("pct:Q", format=",.2f")]).properties(width=460, height=260)

    def _movers_chart(self, period, col, what):
        prev = parse(period).previous().label
        if parse(prev).last < self.first:
            return alt.Chart(pd.DataFrame({"x": [0]}), title="Chưa có kỳ trước để so sánh").mark_text()
        a, b = self.totals(period), self.totals(prev)
        m = a[["unit_code", "unit_name", col]].merge(b[["unit_code", col]], on="unit_code", suffixes=("", "_prev"))
        m = m[m.unit_code != self.province]
        m["change"] = m[col].astype(float) - m[f"{col}_prev"].astype(float)
        m = pd.concat([m.nlargest(8, "change"), m.nsmallest(8, "change")]).drop_duplicates("unit_code")
        return alt.Chart(m, title=f"Đơn vị thay đổi nhiều nhất so với kỳ trước ({what.lower()})").mark_bar().encode(
            x=alt.X("change:Q", title="Thay đổi (điểm)"), y=alt.Y("unit_name:N", sort="-x", title=None),
            color=alt.condition("datum.change > 0", alt.value("#1a7f37"), alt.value("#cf222e")),
            tooltip=["unit_name", alt.Tooltip("change:Q", format="+,.2f")]).properties(width=460, height=16 * len(m))

    # ---------------------------------------------------------------- widgets
    @property
    def widget(self):
        """The controls and the output area; changing a control redraws the charts in place."""
        import ipywidgets as w
        if self._widgets is None:
            st = self.state
            self.kind = w.Dropdown(options=[(v, k) for k, v in KINDS.items()], value=st["kind"], description="Loại kỳ")
            self.period = w.Dropdown(options=self.periods(st["kind"]), value=st["period"], description="Kỳ")
            self.unit = w.Dropdown(options=[(f"{n} ({c})", c) for c, n in zip(self.units.unit_code, self.units.unit_name)],
                                   value=st["unit"], description="Đơn vị")
            self.group = w.Dropdown(options=[("Tổng điểm", "TOTAL")] + [(v, k) for k, v in labels.GROUPS.items()],
                                    value=st["group"], description="Nhóm")
            self.profile = w.Text(value=st["profile"] or "", description="Cấu hình", placeholder="mặc định dvcqg-2026")
            self.out = w.Output()
            for ctl in (self.kind, self.period, self.unit, self.group, self.profile):
                ctl.observe(self._changed, names="value")
            self._widgets = w.VBox([w.HBox([self.kind, self.period]), w.HBox([self.unit, self.group]), self.profile,
                                    self.out])
            self._redraw()
        return self._widgets

    def _changed(self, change):
        st = self.state
        if change["owner"] is self.kind:
            st["kind"] = self.kind.value
            opts = self.periods(st["kind"])
            st["period"] = opts[0]
            self.period.unobserve(self._changed, names="value")
            self.period.options, self.period.value = opts, opts[0]
            self.period.observe(self._changed, names="value")
        elif change["owner"] is self.period:
            st["period"] = self.period.value
        elif change["owner"] is self.unit:
            st["unit"] = self.unit.value
        elif change["owner"] is self.group:
            st["group"] = self.group.value
        elif change["owner"] is self.profile:
            st["profile"] = self.profile.value or None
        self._redraw()

    def _redraw(self):
        from IPython.display import HTML, clear_output, display
        with self.out:
            clear_output(wait=True)
            try:
                display(HTML(self.html()))
            except (ScopeError, ValueError) as exc:
                display(HTML(f"<p>{h.esc(str(exc))}</p>"))
