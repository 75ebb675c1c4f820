"""1d of the directive on a province worked out by hand: officials to commend and to hold to account, and
self-assessments against the computed results.

Q3 2026, department D (procedure PR, 5 working days), commune C (procedure PC). The review profile counts
only ON_TIME for officials and needs 2 dossiers in a month; each dossier is received on a Monday at 09:00,
due a week later, and finished on the Wednesday (on time) or the Wednesday after the due date (late).

  official  July          August        September     → decision
  A (D)     2 on time     2 on time     2 on time     → commend (Xuất sắc every month, 6 dossiers, none late)
  B (D)     2 late        2 on time     2 late        → hold to account (Yếu in July and September);
                                                        his "Thẩm định" step overran on each late dossier
  CC (D)    2 on time     2 on time     1 on time     → neither: September has too few dossiers
  DD (D)    2 late        1 late        2 on time     → neither: August has too few to count as Yếu
  E (C)     2 late        2 late        —             → hold to account, but not in D's list (--unit D)

D's ON_TIME for the quarter: 22 dossiers, 7 late (B 4, DD 3) → 15/22 → 20 × 15/22 = 13,636364 points.
"""
from __future__ import annotations

import pandas as pd
import pytest

import kpi
from conftest import run_kpi
from kpi.analysis.review import ACCOUNT, COMMEND, decide

MONDAYS = {7: "2026-07-06", 8: "2026-08-03", 9: "2026-09-07"}
PLAN = {  # official: {month: (on time, late)}
    "A": {7: (2, 0), 8: (2, 0), 9: (2, 0)},
    "B": {7: (0, 2), 8: (2, 0), 9: (0, 2)},
    "CC": {7: (2, 0), 8: (2, 0), 9: (1, 0)},
    "DD": {7: (0, 2), 8: (0, 1), 9: (2, 0)},
    "E": {7: (0, 2), 8: (0, 2)},
}
PROFILE = {"official": {"metrics": ["ON_TIME"]}, "review": {"min_dossiers": 2, "commend_min_dossiers": 6}}


def _day(monday: str, plus: int, hour: str = "09:00") -> str:
    return f"{(pd.Timestamp(monday) + pd.Timedelta(days=plus)):%Y-%m-%d} {hour}"


def build(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "units.csv").write_text(
        "unit_code,unit_name,parent_code,level,valid_from,valid_to,successor_code\n"
        "P,UBND tỉnh Duyệt,,province,2020-01-01,,\nD,Sở Duyệt,P,department,2020-01-01,,\n"
        "C,UBND xã Duyệt,P,commune,2025-07-01,,\n", encoding="utf-8")
    (folder / "officials.csv").write_text(
        "official_id,full_name,unit_code,position,active\n" + "".join(
            f"{o},Cán bộ {o},{'C' if o == 'E' else 'D'},thụ lý,1\n" for o in PLAN), encoding="utf-8")
    (folder / "procedures.csv").write_text(
        "procedure_code,procedure_name,authority_level,agency_code,max_processing_time,time_unit,status\n"
        "PR,Thủ tục Sở,province,D,5,working_day,public\nPC,Thủ tục xã,commune,,5,working_day,public\n",
        encoding="utf-8")
    dossiers, events = [], []
    for o, months in PLAN.items():
        unit, proc = ("C", "PC") if o == "E" else ("D", "PR")
        for m, (good, late) in months.items():
            for i in range(good + late):
                code = f"{unit}-{o}-{m:02d}-{i}"
                mon = MONDAYS[m]
                fin = _day(mon, 2, "10:00") if i < good else _day(mon, 9, "10:00")
                dossiers.append(f"{code},{proc},{unit},1,{_day(mon, 0)},{_day(mon, 7)},{fin},,finished,{o},{o}")
                if i >= good and o == "B":   # his own step overran
                    events.append(f"{code},1,step_done,{_day(mon, 8)},{o},Thẩm định,{_day(mon, 4)}")
    # October's first dossier: the data reaches past the quarter, so the quarter is complete
    dossiers.append(f"D-A-10-0,PR,D,1,2026-10-05 09:00,2026-10-12 09:00,2026-10-07 10:00,,finished,A,A")
    (folder / "dossiers.csv").write_text(
        "dossier_code,procedure_code,unit_code,channel,received_at,due_at,finished_at,returned_at,status,"
        "receiving_official_id,handling_official_id\n" + "\n".join(dossiers) + "\n", encoding="utf-8")
    (folder / "dossier_events.csv").write_text(
        "dossier_code,seq,event,at,official_id,step_name,step_due_at\n" + "\n".join(events) + "\n", encoding="utf-8")
    # self-assessments with the Vietnamese headers and the ways people write them
    (folder / "tu_danh_gia.csv").write_text(
        "Mã đơn vị,Kỳ,Nhóm chỉ số,Điểm tự đánh giá\n"
        "D,2026-Q3,TDGQ,20\n"            # computed 13,64: 6,36 above, beyond 5 % of 20 → flagged
        "D,2026-q3,on_time,\"14,1\"\n"   # computed 13,64: 0,46 above, within 5 % of 20 (1 point) → not flagged
        "D,2026-Q3,TONG,5\n"             # far below the computed total → flagged, 'thấp hơn'
        "C,2026-Q3,TDGQ,0\n"             # computed 0 (4 late of 4) → exact
        "X9,2026-Q3,TDGQ,10\n"           # unknown unit → quarantine
        "D,Q3/2026,TDGQ,10\n"            # period written another way → quarantine
        "D,2026-Q3,MDSH,-1\n",           # negative → quarantine
        encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from kpi.load import load_paths
    from kpi.store import connect
    root = tmp_path_factory.mktemp("review")
    path = root / "kpi.duckdb"
    con = connect(path)
    load_paths(con, [build(root / "raw")], progress=False)
    con.close()
    return path


def test_officials_to_commend_and_to_hold_to_account(store):
    r = kpi.official_review("2026-Q3", store=store, profile=PROFILE).set_index("official_id")
    assert sorted(r.index) == ["A", "B", "CC", "DD", "E"]
    assert sorted(r.index[r.decision == COMMEND]) == ["A"]
    assert sorted(r.index[r.decision == ACCOUNT]) == ["B", "E"]
    assert list(r.loc["B", ["grade_2026_07", "grade_2026_08", "grade_2026_09"]]) == ["YEU", "XUAT_SAC", "YEU"]
    assert list(r.loc["CC", ["dossiers_2026_07", "dossiers_2026_08", "dossiers_2026_09"]]) == [2, 2, 1]
    assert r.loc["B", "reason"] == "Yếu 2 tháng: 07/2026, 09/2026"
    # the evidence: the late dossiers charged to him and the step of his that overran
    assert r.loc["B", "late_dossier_codes"] == "D-B-07-0, D-B-07-1, D-B-09-0, D-B-09-1"
    assert r.loc["B", "overrun_steps"] == 4 and r.loc["B", "overrun_step_names"] == "Thẩm định (4 lần)"
    assert r.loc["DD", "late_dossiers"] == 3 and pd.isna(r.loc["DD", "decision"])
    assert r.loc["B", "index"] == pytest.approx(100 * 2 / 6)          # the quarter's index: 2 of 6 on time
    # the evidence every list shows: dossiers over the review, late ones charged, late rate, months graded
    assert list(r.loc["A", ["dossiers_reviewed", "late_dossiers", "late_rate", "months_graded"]]) == [6, 0, 0.0, 3]
    assert list(r.loc["B", ["dossiers_reviewed", "late_dossiers", "months_graded"]]) == [6, 4, 3]
    assert r.loc["B", "late_rate"] == pytest.approx(100 * 4 / 6)
    assert r.loc["CC", "months_graded"] == 2


def test_commendation_needs_volume_and_few_late(store):
    """Xuất sắc every month is not enough: A's 6 dossiers fall short of a minimum of 7."""
    more = {**PROFILE, "review": {**PROFILE["review"], "commend_min_dossiers": 7}}
    r = kpi.official_review("2026-Q3", store=store, profile=more)
    assert not (r.decision == COMMEND).any()


def test_commend_rule_late_dossiers_share_and_cap():
    rules = {"min_dossiers": 1, "commend_grade": "XUAT_SAC", "account_grade": "YEU", "account_months": 2,
             "account_quarters": 2, "commend_min_dossiers": 10, "commend_max_late": 2,
             "commend_max_late_percent": 5, "commend_max_share_percent": 25}
    ids = ["P", "Q", "R", "S", "T", "U", "V", "W"]
    months = pd.DataFrame({"official_id": [o for o in ids for _ in range(2)], "period": ["m1", "m2"] * 8,
                           "grade": ["XUAT_SAC"] * 16, "dossiers": [20] * 16})
    ev = pd.DataFrame({"official_id": ids,
                       "dossiers": [40, 40, 40, 40, 9, 40, 20, 40],
                       "late":     [0, 2, 3, 1, 0, 0, 2, 0],      # R: 3 > 2; V: 2 of 20 = 10 % > 5 %; T: 9 < 10
                       "index":    [99.0, 98.0, 99.5, 97.0, 100.0, 99.0, 99.9, 96.0]})
    # eligible: P (99, 0 late), Q (98), S (97), U (99, 0 late), W (96); at most 25 % of 8 = 2: best index first,
    # then fewer late, then more dossiers, then the code — P and U tie on everything but the code
    got = decide(months, rules, evidence=ev)
    assert sorted(o for o, d in got.items() if d == COMMEND) == ["P", "U"]
    # without the cap, every eligible one
    got = decide(months, {**rules, "commend_max_share_percent": 100}, evidence=ev)
    assert sorted(o for o, d in got.items() if d == COMMEND) == ["P", "Q", "S", "U", "W"]
    # a share under one official still proposes the best one
    got = decide(months, {**rules, "commend_max_share_percent": 1}, evidence=ev)
    assert sorted(o for o, d in got.items() if d == COMMEND) == ["P"]


def test_review_is_unit_scoped(store, tmp_path):
    r = kpi.official_review("2026-Q3", unit="D", store=store, profile=PROFILE)
    assert sorted(r.official_id) == ["A", "B", "CC", "DD"]
    prof = tmp_path / "review.yaml"
    prof.write_text("official: {metrics: [ON_TIME]}\nreview: {min_dossiers: 2, commend_min_dossiers: 6}\n",
                    encoding="utf-8")
    out = tmp_path / "can-bo.xlsx"
    res = run_kpi("officials", "--store", store, "--period", "2026-Q3", "--unit", "D", "--profile", prof,
                  "--out", out)
    assert res.returncode == 0, res.stderr
    assert "Đề nghị khen thưởng: 1" in res.stdout and "Đề nghị xem xét trách nhiệm: 1" in res.stdout
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == ["Khen thưởng", "Xem xét trách nhiệm", "Tất cả cán bộ", "Hồ sơ trễ hạn"]
    assert list(sheets["Khen thưởng"]["Mã cán bộ"]) == ["A"]
    assert list(sheets["Xem xét trách nhiệm"]["Mã cán bộ"]) == ["B"]
    # a grade and a count each in a cell of its own; the evidence beside them
    b = sheets["Xem xét trách nhiệm"].iloc[0]
    assert (b["Tháng 7/2026: xếp loại"], b["Tháng 7/2026: số hồ sơ"]) == ("Yếu", 2)
    assert (b["Hồ sơ đã xử lý"], b["Hồ sơ trễ hạn do cán bộ"], b["Số tháng được xếp loại"]) == (6, 4, "3/3")
    assert b["Tỷ lệ trễ hạn (%)"] == pytest.approx(66.67)
    # the late dossiers' codes on a sheet of their own, one per row (never thousands in one cell)
    late = sheets["Hồ sơ trễ hạn"]
    assert list(late[late["Mã cán bộ"] == "B"]["Mã hồ sơ trễ hạn"]) == ["D-B-07-0", "D-B-07-1", "D-B-09-0", "D-B-09-1"]
    assert all("," not in str(v) for v in late["Mã hồ sơ trễ hạn"])
    assert "E" not in set(sheets["Tất cả cán bộ"]["Mã cán bộ"])
    bad = run_kpi("officials", "--store", store, "--period", "2026-Q3", "--unit", "NOPE")
    assert bad.returncode == 2 and "NOPE" in bad.stderr and "Traceback" not in bad.stderr


def test_decision_rule_for_a_year_needs_consecutive_quarters():
    rules = {"min_dossiers": 1, "commend_grade": "XUAT_SAC", "account_grade": "YEU", "account_months": 2,
             "account_quarters": 2}
    months = pd.DataFrame({"official_id": ["X"] * 4 + ["Y"] * 4, "period": ["m1", "m2", "m3", "m4"] * 2,
                           "grade": ["YEU"] * 4 + ["XUAT_SAC"] * 4, "dossiers": [3] * 8})
    quarters = pd.DataFrame({"official_id": ["X"] * 4 + ["Y"] * 4, "period": ["Q1", "Q2", "Q3", "Q4"] * 2,
                             "grade": ["YEU", "KHA", "YEU", "KHA", "XUAT_SAC", "XUAT_SAC", "XUAT_SAC", "XUAT_SAC"],
                             "dossiers": [9] * 8})
    # X is Yếu in four months but never in two consecutive quarters; Y is Xuất sắc throughout
    assert decide(months, rules, quarters).to_dict() == {"X": None, "Y": COMMEND}
    quarters.loc[1, "grade"] = "YEU"
    assert decide(months, rules, quarters).to_dict() == {"X": ACCOUNT, "Y": COMMEND}
    # months: Yếu twice makes the account list; a month below the minimum does not count
    assert decide(months.assign(dossiers=[3, 3, 0, 0, 3, 3, 3, 3]), rules).to_dict() == {"X": ACCOUNT, "Y": COMMEND}
    assert decide(months.assign(dossiers=[3, 0, 0, 0, 3, 3, 3, 0]), rules).to_dict() == {"X": None, "Y": None}


def test_self_assessment_against_results(store):
    sa = kpi.self_assessment("2026-Q3", store=store)
    got = {(r.unit_code, r.item_code): (r.self_points, round(r.computed_points, 6), r.flagged, r.note)
           for r in sa.itertuples()}
    total = float(kpi.totals("2026-Q3", store=store, compare=False).set_index("unit_code").loc["D", "total"])
    assert got == {
        ("D", "TONG"): (5.0, round(total, 6), True, "tự đánh giá thấp hơn kết quả"),
        ("D", "TDGQ"): (20.0, 13.64, True, "tự đánh giá cao hơn kết quả"),     # a group: its metrics' points as printed
        ("D", "ON_TIME"): (14.1, 13.636364, False, ""),
        ("C", "TDGQ"): (0.0, 0.0, False, ""),
    }
    # unit-scoped: the commune's own rows only
    assert set(kpi.self_assessment("2026-Q3", unit="C", store=store).unit_code) == {"C"}
    # a stricter profile flags the metric too (0,46 > 2 % of 20)
    strict = kpi.self_assessment("2026-Q3", store=store, profile={"review": {"self_assessment_gap_percent": 2}})
    assert set(strict[strict.flagged].item_code) == {"TONG", "TDGQ", "ON_TIME"}


def test_self_assessment_rows_that_cannot_be_read_are_quarantined(store):
    from kpi.store import connect
    con = connect(store, read_only=True)
    q = con.execute("SELECT line, column_name FROM quarantine WHERE table_name = 'self_assessments' "
                    "ORDER BY line").fetchall()
    con.close()
    assert q == [(6, "unit_code"), (7, "period"), (8, "points")]
