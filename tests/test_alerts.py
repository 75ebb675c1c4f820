"""Early warning (kpi alerts, kpi.alerts): a small province worked out by hand.

As of Friday 28/08/2026 17:00 (the data's last moment). The National Day holiday makes 31/08–02/09 days off,
so the working days after Friday are Thursday 03/09 (1), Friday 04/09 (2), Monday 07/09 (3).
Department U1 (procedure PR, 5 working days), commune X2. Dossiers of U1, all received in August:

  A1 due 27/08 17:00, open                       → overdue, 1 working day (28/08 against 27/08)
  A2 due 03/09 17:00, open                       → due_soon, 1 working day left (the holiday in between)
  A3 due 04/09 17:00, open                       → due_soon, exactly the 2nd working day: listed
  A4 due 07/09 17:00, open                       → the 3rd working day: not listed
  A5 due 28/08 17:00, finished 28/08 16:59       → ended a minute before: not listed
  A6 due 03/09 09:00, supplement asked 26/08 10:00, unanswered
                                                 → waiting_applicant, waited 2 days 7 hours (198 000 s);
                                                   deadline if answered now 03/09 09:00 + 55 h = 05/09 16:00
                                                   (a Saturday: 2 working days left)
  A7 due 28/08 10:00, supplement 25/08 09:00 → 27/08 09:00 (48 h of the citizen's time)
                                                 → not late (28/08 17:00 − 48 h = 26/08 17:00 ≤ 28/08 10:00);
                                                   deadline now 30/08 10:00 (a Sunday): 0 working days left
  X1 (commune X2) due 28/08 14:00, open          → overdue by hours: 0 working days

ON_TIME for U1 this month: on time A2 A3 A4 A5 A6 A7 (6) of 7 → 20 × 6/7 points. The listed dossiers still
counted on time are A2 A3 A6 A7 (A1 is late already): if they all end late, 2 of 7 → 20 × 2/7, the total
falls by 20 × 4/7 = 11.43 points.
"""
import datetime as dt
import json
import shutil
import zipfile

import duckdb
import pandas as pd
import pytest

from conftest import ROOT, run_kpi

UNITS = """unit_code,unit_name,parent_code,level,valid_from,valid_to,successor_code
P,UBND tỉnh Cảnh Báo,,province,2020-01-01,,
U1,Sở Cảnh Báo,P,department,2020-01-01,,
X2,UBND xã Hai,P,commune,2020-01-01,,
"""
PROCEDURES = """procedure_code,procedure_name,field,authority_level,agency_code,max_processing_time,time_unit,online_level,full_online_eligible,paper_result_required,has_fee,for_citizens,status
PR,Cấp phép cảnh báo,Thử nghiệm,province,U1,5,working_day,full,1,0,0,1,public
PX,Chứng thực cảnh báo,Chứng thực,commune,,3,working_day,partial,0,0,0,1,public
"""
OFFICIALS = """official_id,full_name,unit_code,position,active
O1,Nguyễn Văn Một,U1,thụ lý,1
O2,Trần Thị Hai,U1,thụ lý,1
O3,Lê Văn Ba,X2,thụ lý,1
"""
HEAD = ("dossier_code,procedure_code,unit_code,channel,received_at,due_at,finished_at,status,synced_at,"
        "handling_official_id,applicant_name,applicant_id_number,applicant_phone,applicant_address\n")
PERSON = ["Phạm Thị Riêng Tư", "079111222333", "0988777666", "Số 9 ngõ Bí Mật"]


def _d(code, unit, proc, received, due, finished="", status="processing", official="O1", i=0):
    name, idn, phone, addr = PERSON
    return (f"{code},{proc},{unit},1,{received},{due},{finished},{status},{received},{official},"
            f"{name} {i},{idn}{i},{phone[:-1]}{i},{addr} {i}\n")


DOSSIERS = HEAD + "".join([
    _d("A1", "U1", "PR", "2026-08-20 09:00", "2026-08-27 17:00", i=1),
    _d("A2", "U1", "PR", "2026-08-25 09:00", "2026-09-03 17:00", i=2),
    _d("A3", "U1", "PR", "2026-08-26 09:00", "2026-09-04 17:00", i=3),
    _d("A4", "U1", "PR", "2026-08-27 09:00", "2026-09-07 17:00", i=4),
    _d("A5", "U1", "PR", "2026-08-21 09:00", "2026-08-28 17:00", "2026-08-28 16:59", "finished", i=5),
    _d("A6", "U1", "PR", "2026-08-24 09:00", "2026-09-03 09:00", status="supplement", official="O2", i=6),
    _d("A7", "U1", "PR", "2026-08-21 09:00", "2026-08-28 10:00", official="O2", i=7),
    _d("X1", "X2", "PX", "2026-08-25 09:00", "2026-08-28 14:00", official="O3", i=8),
])
EVENTS = """dossier_code,seq,event,at,official_id,step_name,step_due_at
A1,1,received,2026-08-20 09:00,O1,,
A1,2,step_done,2026-08-24 10:00,O1,Thẩm định,2026-08-25 17:00
A6,1,received,2026-08-24 09:00,O2,,
A6,2,supplement_requested,2026-08-26 10:00,O2,,
A7,1,supplement_requested,2026-08-25 09:00,O2,,
A7,2,supplement_completed,2026-08-27 09:00,,,
A5,1,finished,2026-08-28 16:59,O1,,
X1,1,received,2026-08-28 17:00,O3,,
"""


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    raw = tmp_path_factory.mktemp("canh-bao")
    for name, text in (("units", UNITS), ("procedures", PROCEDURES), ("officials", OFFICIALS),
                       ("dossiers", DOSSIERS), ("dossier_events", EVENTS)):
        (raw / f"{name}.csv").write_text(text, encoding="utf-8")
    store = raw / "kpi.duckdb"
    r = run_kpi("load", "-q", "--store", store, raw)
    assert r.returncode == 0, r.stderr
    return store


def test_every_state_and_boundary_as_worked_by_hand(province):
    import kpi
    a = kpi.alerts(store=province)
    assert a.as_of == dt.datetime(2026, 8, 28, 17, 0)           # the data's last moment (X1's receipt)
    got = a.dossiers.set_index("dossier_code")
    assert list(a.dossiers.dossier_code) == ["A1", "X1", "A7", "A2", "A3", "A6"]
    assert got.state.to_dict() == {"A1": "overdue", "X1": "overdue", "A7": "due_soon", "A2": "due_soon",
                                   "A3": "due_soon", "A6": "waiting_applicant"}
    assert got.working_days_left.to_dict() == {"A1": -1, "X1": 0, "A7": 0, "A2": 1, "A3": 2, "A6": 2}
    assert got.loc["A7", "deadline_now"] == pd.Timestamp("2026-08-30 10:00")
    assert got.loc["A6", "waiting_since"] == pd.Timestamp("2026-08-26 10:00")
    assert got.loc["A6", "waited_seconds"] == 198_000
    assert got.loc["A6", "deadline_now"] == pd.Timestamp("2026-09-05 16:00")
    assert got.loc["A1", "step"] == "Thẩm định" and got.loc["A6", "step"] == "Yêu cầu bổ sung"
    assert got.official_id.to_dict() == {"A1": "O1", "X1": "O3", "A7": "O2", "A2": "O1", "A3": "O1", "A6": "O2"}
    assert got.loc["A2", "official_name"] == "Nguyễn Văn Một" and got.loc["X1", "unit_name"] == "UBND xã Hai"
    # N working days: 3 reaches Monday's A4; 0 keeps only what is due today (A7's Sunday deadline counts as 0)
    assert set(kpi.alerts(store=province, days=3).dossiers.dossier_code) == {"A1", "X1", "A7", "A2", "A3", "A4", "A6"}
    assert set(kpi.alerts(store=province, days=0).dossiers.dossier_code) == {"A1", "X1", "A7", "A6"}


def test_what_is_at_stake_per_unit_and_official(province):
    import kpi
    from kpi.count.scoring import grade
    a = kpi.alerts(store=province)
    u = a.units.set_index("unit_code")
    assert u.loc["U1", ["overdue", "due_soon", "waiting_applicant", "at_risk"]].tolist() == [1, 3, 1, 4]
    assert u.loc["U1", "on_time_points"] == pytest.approx(20 * 6 / 7, abs=1e-9)
    assert u.loc["U1", "worst_on_time_points"] == pytest.approx(20 * 2 / 7, abs=1e-9)
    assert u.loc["U1", "total"] - u.loc["U1", "worst_total"] == pytest.approx(20 * 4 / 7, abs=1e-9)
    now, worst = grade(u.loc["U1", "total"]), grade(u.loc["U1", "worst_total"])
    names = {"XUAT_SAC": "Xuất sắc", "TOT": "Tốt", "KHA": "Khá", "TRUNG_BINH": "Trung bình", "YEU": "Yếu"}
    total = f"{u.loc['U1', 'total']:.2f}".replace(".", ",")
    assert u.loc["U1", "sentence"].startswith(f"Nếu 4 hồ sơ này trễ hạn: " + (
        f"{names[now]} → {names[worst]}" if now != worst else f"vẫn {names[now]}, tổng điểm {total}"))
    # X1 is late already: nothing of X2's figure depends on it any more
    assert u.loc["X2", "at_risk"] == 0 and u.loc["X2", "total"] == u.loc["X2", "worst_total"]
    assert list(a.units.unit_code)[0] == "U1"            # worst first
    o = a.officials.set_index("official_id")
    assert o.loc[["O1", "O2", "O3"], ["overdue", "due_soon", "waiting_applicant"]].values.tolist() == \
        [[1, 2, 0], [0, 1, 1], [1, 0, 0]]


def test_a_grade_band_crossed_is_said(province):
    """A profile whose bands sit around U1's total: the same four dossiers now move it down a band."""
    import kpi
    t = kpi.alerts(store=province).units.set_index("unit_code").loc["U1"]
    cut = round((t.total + t.worst_total) / 2, 2)
    profile = {"grade_bands": [{"grade": "XUAT_SAC", "min": 99.5}, {"grade": "TOT", "min": cut},
                               {"grade": "KHA", "min": 0.0}]}
    u = kpi.alerts(store=province, profile=profile).units.set_index("unit_code").loc["U1"]
    assert u.grade == "TOT" and u.worst_grade == "KHA" and bool(u.grade_changes)
    assert u.sentence.startswith("Nếu 4 hồ sơ này trễ hạn: Tốt → Khá")


def test_scopes_and_as_of(province):
    import kpi
    assert set(kpi.alerts(store=province, unit="U1").dossiers.dossier_code) == {"A1", "A2", "A3", "A6", "A7"}
    assert set(kpi.alerts(store=province, official="O2").dossiers.dossier_code) == {"A6", "A7"}
    # the end of 27/08: A1 was due at 17:00; A5 (finished the next day) and X1 are due on 28/08, A7's deadline
    # (answered that morning) is Sunday 30/08 — one working day; A6 waits; A2 is two working days away
    b = kpi.alerts(store=province, as_of="2026-08-27", days=1).dossiers.set_index("dossier_code")
    assert b.state.to_dict() == {"A1": "overdue", "A5": "due_soon", "X1": "due_soon", "A7": "due_soon",
                                 "A6": "waiting_applicant"}
    assert b.loc["A1", "working_days_left"] == 0         # late since 17:00 the same day: by hours
    for bad, words in (("2026-09-01", "sau ngày cuối của dữ liệu"), ("hôm qua", "không đọc được")):
        r = run_kpi("alerts", "--store", province, "--as-of", bad)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run_kpi("alerts", "--store", province, "--unit", "ZZ")
    assert r.returncode == 2 and "ZZ" in r.stderr


def test_the_command_its_files_and_pictures_carry_no_personal_data(province, tmp_path):
    from openpyxl import load_workbook
    r = run_kpi("alerts", "--store", province)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "6 hồ sơ cần xử lý (2 đã quá hạn, 3 sắp đến hạn, 1 chờ công dân bổ sung" in lines[0]
    units_at = lines.index("Đơn vị (điểm tháng đến nay đang bị đe dọa, nặng nhất trước):")
    assert lines[units_at + 1].split()[0] == "U1" and "Nếu 4 hồ sơ này trễ hạn" in lines[units_at + 1]
    # the same words as the reports: X1 is late by hours, not "0 days"; A3 has two working days left
    assert [l for l in lines if l.split()[:1] == ["X1"]][0].endswith("quá hạn (trong ngày)")
    assert [l for l in lines if l.split()[:1] == ["A3"]][0].endswith("còn 2 ngày làm việc")
    xlsx, csv, pics = tmp_path / "cb.xlsx", tmp_path / "cb.csv", tmp_path / "anh"
    assert run_kpi("alerts", "--store", province, "--out", xlsx, "--pictures", pics, "-q").returncode == 0
    assert run_kpi("alerts", "--store", province, "--format", "csv", "--out", csv).returncode == 0
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["Hồ sơ", "Đơn vị", "Cán bộ"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert [c.value for c in wb["Hồ sơ"][1]][:3] == ["Mã hồ sơ", "Tình trạng", "Ngày làm việc còn lại"]
    assert wb["Hồ sơ"].max_row == 7 and wb["Đơn vị"]["A2"].value == "U1"
    frame = pd.read_csv(csv, dtype=str)
    assert sorted(frame["Mã hồ sơ"]) == ["A1", "A2", "A3", "A6", "A7", "X1"]
    assert sorted(p.name for p in pics.iterdir()) == ["canh-bao-U1.png", "canh-bao-X2.png"]
    texts = [r.stdout, csv.read_text(encoding="utf-8")]
    with zipfile.ZipFile(xlsx) as z:
        texts += [z.read(n).decode("utf-8", "ignore") for n in z.namelist()]
    import kpi
    from kpi.present.pictures import alert_card, texts as chart_texts
    a = kpi.alerts(store=province)
    for u in a.units.itertuples(index=False):
        texts.append(chart_texts(alert_card(pd.Series(u._asdict()), a.dossiers[a.dossiers.unit_code == u.unit_code],
                                            a.as_of)))
    assert "Nếu 4 hồ sơ này trễ hạn" in texts[-2] or "Nếu 4 hồ sơ này trễ hạn" in texts[-1]
    for text in texts:
        for secret in ("Riêng Tư", "079111222", "098877766", "ngõ Bí Mật"):
            assert secret not in text


def test_the_unit_report_of_a_running_period_and_notebook_03_open_on_the_warning(province, hw):
    from kpi.notebook import Inspection
    from kpi.report.content import build, render_all
    r = build("2026-08", unit="U1", store=province, progress=False)
    html = "".join(render_all(r))
    assert "1.1. Cảnh báo sớm: hồ sơ cần xử lý ngay" in html and "Nếu 4 hồ sơ này trễ hạn" in html
    assert html.index("1. Kết quả chung") < html.index("1.1. Cảnh báo sớm") < html.index("2. Sáu nhóm chỉ số")
    assert "Riêng Tư" not in html and "X1" not in html               # the unit's own rows only
    finished = "".join(render_all(build("2026-08", unit="D1", store=hw, progress=False)))
    assert "Cảnh báo sớm" not in finished                            # a period over: nothing to warn of
    ins = Inspection(str(province), "2026-08", "U1")
    detail, day = ins.views("U1")
    assert day.index("Cảnh báo sớm hôm nay — Sở Cảnh Báo") < day.index("Tháng đang chạy")
    for code in ("A1", "A2", "A3", "A6", "A7"):
        assert f">{code}<" in day
    assert "Riêng Tư" not in day
