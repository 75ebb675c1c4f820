"""The trend explorer behind notebooks/02_explore_trends.ipynb: controls (period kind and period, unit
with search, group, scoring profile) driving one live view of Vega-Lite charts rendered offline as SVG.

Periods the data covers only in part are marked ("đến 20/11", "từ 01/08") and are computed as of the
data's last day; rankings show ties as ties and the bottom as well as the top."""
from __future__ import annotations

import pandas as pd

from kpi import labels
from kpi.analysis.api import (ScopeError, data_range, default_unit, last_complete_month, metric_codes, scored_only,
                              scores_many, session, totals_many)
from kpi.notebook.live import LiveView, error_line, extract_note, store_path
from kpi.periods import label_vi, parse
from kpi.present import charts
from kpi.present import html as h
from kpi.count.engine import reads_of
from kpi.count.scoring import ProfileError, load_profile, rank_min, shipped_profiles
from kpi.store import StoreError, file_state

KINDS = {"month": "Tháng", "quarter": "Quý"}
OTHER_PROFILE = "__file__"
SHOWN = 15          # units shown at the top and at the bottom of a ranking


class Explorer:
    """Holds the controls, one live view and a cache of totals per (period, profile)."""

    def __init__(self, store=None, profile=None, period=None, unit=None):
        self.store = store_path(store)
        self._cache: dict = {}
        self._counted: dict = {}     # the metrics' counts before the profile's reading: shared by the profiles
        self._offer: list[str] | None = None
        self._read_store(profile)
        self.renders = 0
        self.history: list[str] = []        # the title of every view drawn (what changed, in order)
        p = parse(period or self.last_month)
        self.state = {"kind": p.kind if p.kind in KINDS else "month", "period": p.label,
                      "unit": unit or self.province, "group": "TOTAL", "profile": profile}
        self.view: LiveView | None = None
        self._controls = None

    def _read_store(self, profile=None) -> None:
        """What the controls offer from the store: its data's range and last complete month, its units (an
        extract's own), the unit shown first; and the store file's state as it was read (`_stamp`)."""
        stamp = file_state(self.store)        # taken first: a load during the reading is seen next time
        with session(self.store, None, profile) as e:
            self.last_month = last_complete_month(e.con)
            first, last = data_range(e.con)
            units = e.con.execute("SELECT unit_code, unit_name, level FROM units WHERE valid_to IS NULL "
                                  "ORDER BY CASE level WHEN 'province' THEN 0 WHEN 'department' THEN 1 ELSE 2 END, "
                                  "unit_code").df()
            self.note = extract_note(e)
            if e.extract:            # a unit's extract: its own units only
                units = units[units.unit_code.isin(e.extract["units"])]
            # the unit first shown and listed first: the province, or an extract's own unit
            home = default_unit(e, None) or units[units.level == "province"].unit_code.iloc[0]
        self.first, self.data_last = first.date(), last.date()
        self.units = pd.concat([units[units.unit_code == home], units[units.unit_code != home]], ignore_index=True)
        self.province = home
        self._stamp = stamp               # set once read: a reading that failed is tried again at the next view

    def reloaded(self) -> bool:
        """Whether the store was written since it was read (a night's `kpi load` while the notebook stayed open):
        then its range and units are read again and every figure at hand is dropped — the next view counts
        from the new data, as a notebook opened now would, never old figures beside new ones."""
        if file_state(self.store) == self._stamp:
            return False
        self._read_store(self.state["profile"])
        self._cache.clear()
        self._counted.clear()
        return True

    # ---------------------------------------------------------------- data
    def periods(self, kind: str) -> list[str]:
        """The periods to choose from, newest first: the running one (partial) and the 17 before it."""
        last = parse(f"{self.data_last:%Y-%m}") if kind == "month" else \
            parse(f"{self.data_last.year}-Q{(self.data_last.month - 1) // 3 + 1}")
        out, p = [], last
        while p.last >= self.first and len(out) < 18:
            out.append(p.label)
            p = p.previous()
        return out

    def period_label(self, label: str) -> str:
        """'Quý IV/2026 (đến 20/11)': a period the data covers only in part says so."""
        p = parse(label)
        text = label_vi(p)
        if p.last > self.data_last:
            text += f" (đến {self.data_last:%d/%m})"
        if p.start < self.first:
            text += f" (từ {self.first:%d/%m})"
        return text

    def totals(self, period: str) -> pd.DataFrame:
        self.count([period])
        return self._cache[(period, self.state["profile"])]

    def count(self, periods: list[str], tracked: bool = False) -> None:
        """The totals of the periods not yet at hand, counted in one pass over them (a trend's twelve).
        tracked: count the metrics without points too (`kpi warm`: the figures a report reads as well)."""
        prof = self.state["profile"]
        todo = list(dict.fromkeys(periods)) if tracked else self._uncounted(periods)
        if not todo:
            return
        # a running period: today's figure
        ps = [parse(label, self.data_last if parse(label).last > self.data_last else None) for label in todo]
        with session(self.store, None, prof) as e:
            e.counted, e.also = self._counted, self._offered()
            scored = [scored_only(e, s) for s in scores_many(e, ps, merged=True)] if tracked else \
                scores_many(e, ps, merged=True, include_tracked=False)
            for label, t in zip(todo, totals_many(e, ps, scored, merged=True)):
                self._cache[(label, prof)] = t

    def _uncounted(self, periods: list[str]) -> list[str]:
        """The periods (each once) whose totals under the chosen profile are not at hand."""
        return [label for label in dict.fromkeys(periods) if (label, self.state["profile"]) not in self._cache]

    def _offered(self) -> list[str]:
        """The metrics carrying points in the shipped profiles the control offers (and what their variants
        read): counted in the pass of the chosen one, a change of profile recounts nothing."""
        if self._offer is None:
            profiles = [load_profile(name) for name in shipped_profiles()]
            self._offer = list(dict.fromkeys(c for prof in profiles for code in metric_codes(prof, False)
                                             for c in [code, *reads_of(code, prof)]))
        return self._offer

    def warm(self, profiles: list | None = None, progress: bool = True) -> int:
        """Compute every period the views can show first (the last 12 of each kind), for each profile the
        control offers (default: the shipped ones), so that they are kept beside the store (kpi.cache):
        the next open of notebook 02 and its widget changes read them. Returns how many were computed."""
        from tqdm.auto import tqdm
        if profiles is None:
            profiles = [None] + [n for n in shipped_profiles() if n != "dvcqg-2026"]
        labels = list(dict.fromkeys(label for kind in KINDS for label in self.periods(kind)[:12]))
        chosen = self.state["profile"]
        try:          # a profile's periods of a kind counted in one pass
            with tqdm(total=len(profiles) * len(labels), desc="Tính sẵn điểm", unit="kỳ",
                      disable=None if progress else True) as bar:
                for prof in profiles:
                    self.state["profile"] = prof
                    for kind in KINDS:
                        shown = self.periods(kind)[:12]
                        self.count(shown, tracked=True)
                        bar.update(len(shown))
        finally:
            self.state["profile"] = chosen
        return len(profiles) * len(labels)

    def trend(self) -> pd.DataFrame:
        rows = []
        shown = self.periods(self.state["kind"])[:12]
        self.count(shown)
        for label in reversed(shown):
            t = self.totals(label).set_index("unit_code")
            if self.state["unit"] in t.index:
                r = t.loc[self.state["unit"]]
                rows.append({"period": label,      # a partial period's "(đến 20/11)" on a second line
                             "period_label": self.period_label(label).replace("Tháng ", "").replace(" (", "\n("),
                             "total": float(r.total), **{c: float(r[c]) for c in t.columns if c.startswith("group_")}})
        return pd.DataFrame(rows)

    # ---------------------------------------------------------------- views
    def title(self) -> str:
        st = self.state
        name = self.units.set_index("unit_code").unit_name.get(st["unit"], st["unit"])
        return f"{name} — {self._what()} — {self.period_label(st['period'])}"

    def _what(self) -> str:
        g = self.state["group"]
        return "Tổng điểm" if g == "TOTAL" else f"Nhóm {labels.GROUPS[g]}"

    def _value(self, frame: pd.DataFrame) -> tuple[pd.Series, str]:
        """What is plotted: the total (points of 100), or a group as % of the group's maximum."""
        g = self.state["group"]
        if g == "TOTAL":
            return frame.total.astype(float), "Tổng điểm (trên 100)"
        mx = float(load_profile(self.state["profile"])["groups"][g]["max"])
        return 100 * frame[f"group_{g}"].astype(float) / mx, f"% điểm tối đa của nhóm ({mx:g} điểm)"

    def shown(self) -> list[str]:
        """The periods the view shows: the trend's, the chosen one and the one before it."""
        st = self.state
        if st["period"] not in self.periods(st["kind"]):
            st["period"] = self.periods(st["kind"])[0]
        prev = parse(st["period"]).previous()
        return list(dict.fromkeys(self.periods(st["kind"])[:12] + [st["period"]]
                                  + ([prev.label] if prev.last >= self.first else [])))

    def waiting(self) -> str:
        """What the next view waits for, in words ('' when its figures are at hand): the periods not counted yet
        under the chosen profile — a kind of period not shown before (a year's dossiers for the quarters'
        trend), another profile's variants."""
        todo = self._uncounted(self.shown())
        if not todo:
            return ""
        return f"Đang tính điểm {len(todo)} {KINDS[self.state['kind']].lower()} từ dữ liệu hồ sơ — chờ một chút…"

    def html(self) -> str:
        st = self.state
        self.reloaded()
        self.count(self.shown())          # counted at once
        what = self._what()
        parts = [self.note + f"<h2>{h.esc(self.title())}</h2>"]
        tr = self.trend()
        if len(tr):
            d = tr.assign(total=self._value(tr)[0])[["period_label", "total"]]
            y_title = self._value(tr)[1]
            parts.append(h.figure(charts.svg(charts.trend(d, f"Xu hướng — {what.lower()} (nền: các mức xếp loại)",
                                                          y_title=y_title))))
        cur = self.totals(st["period"])
        parts += self._rankings(cur)
        parts.append(h.figure(charts.svg(self._profile_chart(cur, st["unit"]))))
        parts.append(h.figure(charts.svg(self._movers_chart(st["period"]))))
        self.renders += 1
        self.history.append(self.title())
        return "".join(parts)

    def _rankings(self, cur: pd.DataFrame) -> list[str]:
        """The top and the bottom of the ranking, ties shown as ties ('=3')."""
        t = cur[cur["rank"].notna()].copy()
        t["value"], x_title = self._value(t)
        t["r"] = rank_min(t.value)
        tied = t.r.map(t.r.value_counts()) > 1
        t["unit_name"] = [f"{'=' if tie else ''}{r}. {n}" for r, tie, n in zip(t.r, tied, t.unit_name)]
        t = t.sort_values(["r", "unit_name"])
        what = self._what().lower()
        n_first = int((t.r == 1).sum())
        ties = f" — {n_first} đơn vị đồng hạng 1" if n_first > 1 else ""
        top = t.head(SHOWN).rename(columns={"total": "_t", "value": "total"})
        out = [h.figure(charts.svg(charts.ranking(top, f"Xếp hạng theo {what}: {len(top)} đơn vị đầu / {len(t)}{ties}",
                                                  x_title=x_title)))]
        if len(t) > SHOWN:
            bottom = t.iloc[max(SHOWN, len(t) - SHOWN):].rename(columns={"total": "_t", "value": "total"})
            out.append(h.figure(charts.svg(charts.ranking(
                bottom, f"Xếp hạng theo {what}: {len(bottom)} đơn vị cuối / {len(t)}", x_title=x_title))))
        return out

    def _profile_chart(self, cur, unit):
        groups = [c for c in cur.columns if c.startswith("group_")]
        prof = load_profile(self.state["profile"])
        rows = []
        for who, code in (("Đơn vị", unit), ("Toàn tỉnh", self.province)):
            if code not in set(cur.unit_code):
                continue
            r = cur.set_index("unit_code").loc[code]
            for g in groups:
                rows.append({"who": who, "group": labels.GROUPS[g[6:]],
                             "pct": 100 * float(r[g]) / float(prof["groups"][g[6:]]["max"])})
        return charts.unit_vs_province(pd.DataFrame(rows),
                                       "Các nhóm chỉ số: đơn vị so với toàn tỉnh (% điểm tối đa của nhóm)")

    def _movers_chart(self, period):
        prev = parse(period).previous().label
        if parse(prev).last < self.first:
            return charts.message("Chưa có kỳ trước để so sánh")
        a, b = self.totals(period), self.totals(prev)
        va, x_title = self._value(a)
        m = a[["unit_code", "unit_name"]].assign(now=va)
        m = m.merge(b[["unit_code"]].assign(before=self._value(b)[0]), on="unit_code")
        m = m[m.unit_code != self.province]
        m["change"] = m.now - m.before
        m = pd.concat([m.nlargest(8, "change"), m.nsmallest(8, "change")]).drop_duplicates("unit_code")
        unit = "điểm" if self.state["group"] == "TOTAL" else "điểm % của nhóm"
        return charts.movers(m, f"Thay đổi nhiều nhất so với {self.period_label(prev)} ({self._what().lower()})",
                                f"Thay đổi ({unit})")

    # ---------------------------------------------------------------- controls
    def unit_option(self, code: str) -> str:
        name = self.units.set_index("unit_code").unit_name.get(code, code)
        return f"{name} ({code})"

    @property
    def controls(self):
        """Period kind, period, unit (type to search), group and profile; changing one redraws the view."""
        import ipywidgets as w
        if self._controls is None:
            st, wide = self.state, {"description_width": "90px"}
            self.kind = w.Dropdown(options=[(v, k) for k, v in KINDS.items()], value=st["kind"], description="Loại kỳ",
                                   style=wide, layout=w.Layout(width="240px"))
            self.period = w.Dropdown(options=self._period_options(), value=st["period"], description="Kỳ", style=wide,
                                     layout=w.Layout(width="360px"))
            self.unit = w.Combobox(options=[self.unit_option(c) for c in self.units.unit_code],
                                   value=self.unit_option(st["unit"]), description="Đơn vị", ensure_option=True,
                                   placeholder="gõ tên hoặc mã để tìm", style=wide, layout=w.Layout(width="600px"))
            self.group = w.Dropdown(options=[("Tổng điểm", "TOTAL")] + [(v, k) for k, v in labels.GROUPS.items()],
                                    value=st["group"], description="Nhóm", style=wide, layout=w.Layout(width="360px"))
            names = shipped_profiles()
            current = st["profile"] if st["profile"] in names else ("dvcqg-2026" if not st["profile"] else OTHER_PROFILE)
            self.profile = w.Dropdown(options=[(n, n) for n in names] + [("Tệp khác…", OTHER_PROFILE)],
                                      value=current, description="Cấu hình", style=wide, layout=w.Layout(width="360px"))
            self.profile_file = w.Text(value=st["profile"] if current == OTHER_PROFILE else "",
                                       placeholder="đường dẫn tệp .yaml, Enter để áp dụng", continuous_update=False,
                                       layout=w.Layout(width="420px",
                                                       display="" if current == OTHER_PROFILE else "none"))
            self.message = w.HTML()
            for ctl in (self.kind, self.period, self.unit, self.group, self.profile, self.profile_file):
                ctl.observe(self._changed, names="value")
            self._controls = w.VBox([w.HBox([self.kind, self.period]), self.unit, w.HBox([self.group, self.profile,
                                                                                          self.profile_file]),
                                     self.message])
        return self._controls

    def show(self):
        """Display the controls and the live view (in one cell)."""
        from IPython.display import display
        display(self.controls)
        self.message.value = self.waiting()         # the first view's figures: the longest wait
        self.view = LiveView(self.html())
        self.message.value = ""

    def _offer_again(self) -> None:
        """The periods and units the controls offer, as the store has them now (after a load the running month may
        be a new one) and for the kind chosen; the chosen period and unit kept where still offered."""
        if self._controls is None:
            return
        st = self.state
        self.shown()                           # a period no longer offered: the newest
        if st["unit"] not in set(self.units.unit_code):
            st["unit"] = self.province
        for ctl, options, value in ((self.period, self._period_options(), st["period"]),
                                    (self.unit, [self.unit_option(c) for c in self.units.unit_code],
                                     self.unit_option(st["unit"]))):
            ctl.unobserve(self._changed, names="value")
            ctl.options, ctl.value = options, value
            ctl.observe(self._changed, names="value")

    def _period_options(self):
        return [(self.period_label(p), p) for p in self.periods(self.state["kind"])]

    def _changed(self, change):
        st, before = self.state, dict(self.state)
        owner = change["owner"]
        if owner is self.kind:
            st["kind"], st["period"] = self.kind.value, None      # the kind's newest period (`shown`)
        elif owner is self.period:
            st["period"] = self.period.value
        elif owner is self.unit:
            code = self.unit.value.rsplit("(", 1)[-1].rstrip(")") if self.unit.value else ""
            if code not in set(self.units.unit_code):
                return          # still typing: nothing to draw yet
            st["unit"] = code
        elif owner is self.group:
            st["group"] = self.group.value
        elif owner is self.profile:
            chosen = self.profile.value
            self.profile_file.layout.display = "" if chosen == OTHER_PROFILE else "none"
            if chosen == OTHER_PROFILE:
                if not self.profile_file.value:
                    self.message.value = "Nhập đường dẫn tệp cấu hình rồi nhấn Enter."
                    return
                chosen = self.profile_file.value
            st["profile"] = None if chosen == "dvcqg-2026" else chosen
        elif owner is self.profile_file:
            if self.profile.value != OTHER_PROFILE or not self.profile_file.value:
                return
            st["profile"] = self.profile_file.value
        self._redraw(before)

    def _redraw(self, before: dict | None = None):
        """Draw the new state; if it cannot be drawn (a profile that does not load, …), say why in one line,
        keep the view as it was and go back to the previous state."""
        try:
            if self.state["profile"]:
                load_profile(self.state["profile"])
            fresh = self.reloaded()
            if fresh or before and before["kind"] != self.state["kind"]:
                self._offer_again()
            news = f"Kho vừa được nạp dữ liệu mới (đến {self.data_last:%d/%m/%Y}). " if fresh else ""
            self.message.value = news + self.waiting()      # sent at once: seen while the figures are counted
            html = self.html()
        except (ScopeError, ProfileError, StoreError, ValueError, OSError) as exc:    # a store being loaded: locked
            self.message.value = error_line(exc)
            if before:
                self.state.update(before)
            return
        self.message.value = f"Đã tính lại từ dữ liệu mới nạp (đến {self.data_last:%d/%m/%Y})." if fresh else ""
        if self.view is not None:
            self.view.update(html)
