"""The notebooks' controls, driven through the objects the notebooks build (Explorer in 02, Inspection in 03):
each control changes the view as it says, a control that cannot be applied says why and keeps the view, and
picking a unit in 03 redraws both the drill-down and the running month for that unit."""
import subprocess
import sys

import pandas as pd
import pytest

from kpi.analysis import cache
from kpi.present import charts
from kpi.notebook import Explorer, Inspection

PERIOD = "2026-10"


def _opened(store, monkeypatch) -> Explorer:
    monkeypatch.setenv("KPI_CACHE", "memory")
    ex = Explorer(str(store), None, PERIOD, None)
    ex.show()
    return ex


@pytest.fixture
def explorer(sample_store, monkeypatch):
    return _opened(sample_store, monkeypatch)


def _title(ex):
    return ex.view.html.split("</h2>", 1)[0]


def test_explorer_opens_on_the_asked_month(explorer):
    assert "Tháng 10/2026" in _title(explorer) and "Tổng điểm" in _title(explorer)
    assert explorer.renders == 1 and explorer.history == [explorer.title()]


def test_the_first_view_is_drawn_without_importing_altair(sample_store):
    """Notebook 02's charts are Vega-Lite specs written as dicts (kpi.present.charts): the first view does not
    pay for Altair's import (a quarter of a second of its 5 s), in a fresh process as the analyst's kernel."""
    code = ("import os, sys; os.environ['KPI_CACHE'] = 'memory'; from kpi.notebook import Explorer; "
            f"html = Explorer({str(sample_store)!r}, None, {PERIOD!r}).html(); "
            "print(html.count('<svg'), sorted({m.split('.')[0] for m in sys.modules} & {'altair', 'jsonschema'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "[]"]      # trend, ranking top and bottom, the groups, the movers


def test_a_charts_tooltip_reads_each_columns_type_and_its_data_keeps_missing_values_missing():
    d = pd.DataFrame({"unit_name": ["Sở A", "Xã B"], "total": [97.75, None], "n": [3, 4], "ok": [True, False]})
    spec = charts.ranking(d.assign(grade_label=["Xuất sắc", None]), "Xếp hạng")
    assert spec["encoding"]["tooltip"] == [{"field": "unit_name", "type": "nominal"},
                                           {"field": "total", "type": "quantitative", "format": ",.2f"},
                                           {"field": "grade_label", "type": "nominal"}]
    assert spec["data"]["values"][1] == {"unit_name": "Xã B", "total": None, "grade_label": None}
    assert [c["type"] for c in charts.tooltip(d, "n", "ok", "unit_name")] == ["quantitative", "nominal", "nominal"]
    at = pd.DataFrame({"at": pd.to_datetime(["2026-10-31 17:05:00", None]), "n": [1, 2]})
    assert charts.values(at)["values"] == [{"at": "2026-10-31T17:05:00", "n": 1}, {"at": None, "n": 2}]
    svg = charts.svg(spec)            # rendered, with the shared look and the Vietnamese number format
    assert svg.startswith("<svg") and "Sở A" in svg and "Xã B" in svg and "Segoe UI" in svg
    # the movers' names are never cut, as a ranking's (a long board's name ended in '…' before)
    long = "Ban Quản lý các khu công nghiệp và khu kinh tế tỉnh"
    moved = pd.DataFrame({"unit_name": [long, "Xã B"], "change": [2.5, -1.0]})
    movers = charts.svg(charts.movers(moved, "Thay đổi", "Điểm"))
    assert long in movers and "…" not in movers


def test_each_control_redraws_the_view_as_it_says(explorer):
    ex = explorer
    ex.kind.value = "quarter"                    # the newest quarter, running: marked partial
    assert "Quý IV/2026 (đến 20/11)" in _title(ex) and ex.renders == 2
    ex.group.value = "TDGQ"
    assert "Nhóm Tiến độ giải quyết" in _title(ex) and "% điểm tối đa của nhóm" in ex.view.html
    second = ex.units.unit_code.iloc[1]
    name = ex.units.set_index("unit_code").unit_name[second]
    ex.unit.value = ex.unit_option(second)
    assert _title(ex).startswith(f"<h2>{name} — ") and ex.state["unit"] == second
    oldest = ex.period.options[-1]
    ex.period.value = oldest[1]
    assert oldest[0] in _title(ex) and ex.state["period"] == oldest[1]
    assert ex.renders == 5 and len(ex.history) == 5


def test_a_change_that_counts_says_so_while_it_counts(explorer):
    """The quarters' trend (a year of dossiers counted from the data) takes seconds at a province's size: the line
    under the controls says so while they are counted, and is cleared once the view is drawn; a change whose
    figures are at hand says nothing."""
    ex, seen = explorer, []
    ex.message.observe(lambda change: seen.append(change["new"]), names="value")
    n = len(ex.periods("quarter")[:12])
    ex.kind.value = "quarter"
    assert seen == [f"Đang tính điểm {n} quý từ dữ liệu hồ sơ — chờ một chút…", ""] and ex.renders == 2
    seen.clear()
    ex.group.value = "TDGQ"
    ex.kind.value = "month"                      # counted at the opening
    assert seen == [] and ex.renders == 4 and not ex.waiting()
    opened = Explorer(ex.store, None, PERIOD, None)      # the first view too, under the controls shown first
    seen, n = [], len(opened.shown())
    opened.controls.children[-1].observe(lambda change: seen.append(change["new"]), names="value")
    opened.show()
    assert seen == [f"Đang tính điểm {n} tháng từ dữ liệu hồ sơ — chờ một chút…", ""] and n >= 3


def test_a_load_while_the_notebook_is_open_is_counted_from_the_new_data(sample_dir, tmp_path, monkeypatch):
    """A night's `kpi load` into the store while notebook 02 stays open: the next change reads the store again —
    every figure counted from the new data (none kept from before), the periods and units offered as the store
    has them, the view the one a notebook opened now draws — and says so under the controls."""
    from conftest import load_into, split_exports
    base, export = split_exports(sample_dir, tmp_path, "2026-11-01")
    store = tmp_path / "kpi.duckdb"
    load_into(store, base)
    ex = _opened(store, monkeypatch)
    seen, november = [], ex.totals("2026-11")       # the running month, in the trend
    assert ex.reloaded() is False             # nothing written since it was read
    ex.message.observe(lambda change: seen.append(change["new"]), names="value")
    load_into(store, export)           # November's dossiers, events and ratings
    ex.group.value = "TDGQ"
    assert ex.state["period"] == "2026-10" and ex.period.value == "2026-10"
    assert ex.period.options == tuple(ex._period_options())
    now = Explorer(str(store), None, "2026-10", None)
    now.state["group"] = "TDGQ"
    assert ex.view.html == now.html() and ex.renders == 2
    assert not ex.totals("2026-11").equals(november)
    pd.testing.assert_frame_equal(ex.totals("2026-11"), now.totals("2026-11"))
    n = len(now.shown())
    assert seen == [f"Kho vừa được nạp dữ liệu mới (đến 20/11/2026). Đang tính điểm {n} tháng từ dữ liệu hồ sơ — "
                    "chờ một chút…", "Đã tính lại từ dữ liệu mới nạp (đến 20/11/2026)."]
    seen.clear()
    ex.kind.value = "quarter"          # the kind's newest period, the running quarter of the new data
    assert ex.state["period"] == "2026-Q4" and ex.period.value == "2026-Q4" and seen[-1] == ""


def test_a_change_while_the_store_is_being_loaded_says_so_and_draws_once_it_is_done(store_copy, monkeypatch):
    """A widget moved while a load holds the store (written, still locked by that process): one line naming the
    store and the wait, the view kept as it was; once the load is over the same change draws."""
    ex = _opened(store_copy, monkeypatch)
    before = ex.view.html
    code = ("import sys; from kpi.store import connect; con = connect(sys.argv[1]); "
            "con.execute('CREATE TABLE _being_loaded AS SELECT 1 AS x'); con.execute('CHECKPOINT'); "
            "print('ready', flush=True); sys.stdin.read(); con.close()")
    writer = subprocess.Popen([sys.executable, "-c", code, str(store_copy)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        ex.group.value = "TDGQ"
        assert "đang được một tiến trình khác dùng" in ex.message.value and str(store_copy) in ex.message.value
        assert ex.view.html == before and ex.renders == 1 and ex.state["group"] == "TOTAL"
    finally:
        writer.communicate("")
    ex.group.value = "CKMB"
    assert "Nhóm Công khai, minh bạch" in _title(ex) and ex.renders == 2
    assert ex.message.value == "Đã tính lại từ dữ liệu mới nạp (đến 20/11/2026)."


def test_typing_part_of_a_unit_draws_nothing(explorer):
    before = explorer.view.html
    explorer.unit.value = "Sở"
    assert explorer.renders == 1 and explorer.view.html == before


def test_a_profile_that_does_not_load_says_so_and_keeps_the_view(explorer):
    ex = explorer
    before = ex.view.html
    ex.profile.value = "__file__"
    assert "Nhập đường dẫn" in ex.message.value and ex.renders == 1
    ex.profile_file.value = "/khong/co/tep.yaml"
    assert "tep.yaml" in ex.message.value and ex.renders == 1 and ex.view.html == before
    assert ex.state["profile"] is None


def test_another_shipped_profile_redraws_with_its_figures(sample_store, monkeypatch):
    cache.clear()                  # nothing remembered by an earlier test: the opening pass counts
    ex = _opened(sample_store, monkeypatch)
    before, kept = ex.view.html, len(ex._counted)
    assert kept
    ex.profile.value = "mo-ta-cong-thuc"
    assert ex.state["profile"] == "mo-ta-cong-thuc" and not ex.message.value and ex.renders == 2
    # what the other shipped profile reads was counted in the opening pass: nothing is counted again
    assert len(ex._counted) == kept
    assert ex.view.html != before
    # back to the portal's profile: the first figures again, exactly
    ex.profile.value = "dvcqg-2026"
    assert ex.state["profile"] is None and ex.view.html == before


def test_picking_a_unit_redraws_the_detail_and_the_running_month(sample_store):
    ins = Inspection(str(sample_store), PERIOD)
    ins.show()
    first, second = ins.late_units.unit_code.iloc[0], ins.late_units.unit_code.iloc[1]
    names = ins.late_units.set_index("unit_code").unit_name
    assert ins.unit == first and f"Tháng đang chạy — {names[first]}," in ins.whatif_view.html
    detail_before, running_before = ins.detail_view.html, ins.whatif_view.html
    ins.pick.value = "Sở"                      # still typing: nothing redrawn
    assert ins.shown == [] and ins.detail_view.html == detail_before
    ins.pick.value = ins.label_of[second]
    assert ins.shown == [second] and ins.unit == second
    assert ins.detail_view.html != detail_before and names[second] in ins.detail_view.html
    assert names[first] not in ins.detail_view.html.split("</h2>", 1)[0]
    assert ins.whatif_view.html != running_before
    assert f"Tháng đang chạy — {names[second]}," in ins.whatif_view.html
    assert ins.detail_view.html == ins.views(second)[0]


def test_personal_data_only_when_asked(sample_store, sample_dir):
    import pandas as pd
    names = set(pd.read_csv(sample_dir / "dossiers.csv", dtype=str).applicant_name)
    hidden = Inspection(str(sample_store), PERIOD)
    shown = Inspection(str(sample_store), PERIOD, personal=True)
    code = hidden.unit
    without, with_ = hidden.views(code)[0], shown.views(code)[0]
    assert not any(n in without for n in names)
    assert any(n in with_ for n in names)
