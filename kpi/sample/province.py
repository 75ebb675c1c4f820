"""The sample province: a Tây Ninh-like province after the 2025 reform, with realistic,
deterministic raw exports (same seed → byte-identical files).

Units differ on purpose (a quality score per unit drives lateness, online use, digitisation,
payment, sync and satisfaction), so every grade band appears. Applicant data is fake.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from kpi.calendar import add_working_days_array
from kpi.sample import sync as sample_sync
from kpi.sample.files import DOSSIER_TS, fmt_ts, write_xlsx

PROVINCE = "H44"
MERGER = dt.date(2025, 7, 1)
END_MONTH = "2026-10"            # the sample's last complete month
RECENT_FROM = (pd.Period(END_MONTH, "M") - 3).start_time   # the portal's figures: dossiers received since
RECENT = ".gan-day"              # a large payload sample's recent dossiers as CSV, for the portal's figures
RUNNING_UNTIL = dt.date(2026, 11, 20)   # a part of the running month, for "to date" figures

DEPARTMENTS = [
    "Văn phòng UBND tỉnh", "Sở Tư pháp", "Sở Tài chính", "Sở Xây dựng", "Sở Nội vụ", "Sở Công Thương",
    "Sở Nông nghiệp và Môi trường", "Sở Giáo dục và Đào tạo", "Sở Y tế", "Sở Khoa học và Công nghệ",
    "Sở Văn hóa, Thể thao và Du lịch", "Sở Dân tộc và Tôn giáo", "Sở Ngoại vụ", "Thanh tra tỉnh",
    "Ban Quản lý Khu kinh tế", "Công an tỉnh", "Bảo hiểm xã hội tỉnh", "Thuế tỉnh",
    "Ban Quản lý các khu công nghiệp", "Sở Giao thông vận tải (cũ)"]
PLACES = [
    "Hòa Thành", "Tân Ninh", "Bình Minh", "Ninh Thạnh", "Long Hoa", "Thanh Điền", "Trường Hòa", "Hảo Đước",
    "Gò Dầu", "Phước Thạnh", "Thạnh Đức", "Truông Mít", "Bến Cầu", "Long Chữ", "Long Thuận", "Lợi Thuận",
    "Châu Thành", "Hòa Hội", "Ninh Điền", "Biên Giới", "Tân Biên", "Thạnh Bình", "Trà Vong", "Tân Châu",
    "Tân Đông", "Tân Hòa", "Tân Phú", "Tân Hội", "Dương Minh Châu", "Cầu Khởi", "Lộc Ninh", "Suối Đá",
    "Trảng Bàng", "An Tịnh", "Gia Lộc", "Hưng Thuận", "Phước Chỉ", "Tân An", "Long An", "Khánh Hậu",
    "Bến Lức", "Mỹ Yên", "Lương Hòa", "Đức Hòa", "Hậu Nghĩa", "Hòa Khánh", "Đức Lập", "Mỹ Hạnh",
    "Cần Giuộc", "Phước Lý", "Mỹ Lộc", "Cần Đước", "Rạch Kiến", "Long Cang", "Tân Trụ", "Nhựt Tảo",
    "Thủ Thừa", "Mỹ An", "Mỹ Thạnh", "Châu Thành Long An", "Tầm Vu", "Vĩnh Công", "Thạnh Hóa", "Bình Thành",
    "Thạnh Phước", "Tân Thạnh", "Nhơn Hòa", "Hậu Thạnh", "Mộc Hóa", "Bình Hòa", "Kiến Tường", "Tuyên Thạnh",
    "Vĩnh Hưng", "Khánh Hưng", "Tuyên Bình", "Tân Hưng", "Hưng Điền", "Vĩnh Thạnh", "Đức Huệ", "Mỹ Quý",
    "Đông Thành", "Tân Lân", "Long Hựu", "Phước Vĩnh Tây", "Long Hòa", "Tân Tập", "An Ninh", "Lộc Giang",
    "Mỹ Lệ", "Tân Lập", "Vàm Cỏ", "Thạnh Lợi", "Hiệp Hòa", "Xuân Thạnh", "Phước Vinh", "Thái Bình"]
DISTRICTS = ["Hòa Thành", "Gò Dầu", "Bến Cầu", "Châu Thành", "Tân Biên", "Tân Châu", "Dương Minh Châu",
             "Trảng Bàng", "Bến Lức"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Võ", "Phan", "Trương", "Bùi", "Đặng", "Đỗ",
          "Ngô", "Hồ", "Dương", "Đinh", "Lý", "Tô", "Châu", "Lâm"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hoàng", "Quốc", "Đức", "Thu", "Kim", "Hữu", "Bảo", "Mỹ"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Dung", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hòa", "Hùng", "Hương",
         "Khang", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Ngọc", "Nhân", "Phong", "Phúc", "Phương",
         "Quân", "Sơn", "Tâm", "Thảo", "Thắng", "Trang", "Trí", "Tuấn", "Uyên", "Việt", "Vy", "Xuân", "Yến"]
STREETS = ["Cách Mạng Tháng Tám", "30 Tháng 4", "Trần Hưng Đạo", "Nguyễn Trãi", "Lê Lợi", "Hùng Vương",
           "Nguyễn Chí Thanh", "Điện Biên Phủ", "Lý Thường Kiệt", "Phạm Văn Đồng"]
FIELDS = {
    "province": ["Hộ tịch", "Đất đai", "Xây dựng", "Đầu tư", "Doanh nghiệp", "Lao động", "Giáo dục",
                 "Y tế", "Văn hóa", "Giao thông", "Môi trường", "Công thương", "Tư pháp", "Thuế"],
    "commune": ["Hộ tịch", "Chứng thực", "Đất đai", "Bảo trợ xã hội", "Người có công", "Xây dựng",
                "Thi đua khen thưởng", "Nuôi con nuôi", "Hộ kinh doanh"]}
ACTIONS = ["Cấp", "Cấp lại", "Điều chỉnh", "Gia hạn", "Đăng ký", "Xác nhận", "Thẩm định", "Công nhận",
           "Cấp đổi", "Thu hồi"]
OBJECTS = ["giấy phép", "giấy chứng nhận", "hồ sơ", "quyết định", "chứng chỉ hành nghề", "văn bản chấp thuận",
           "giấy xác nhận", "đăng ký"]
COMMUNE_ONLINE_SERVICES = 30   # the most requested commune procedures get an online service
SCORED_METRICS = ["PUBLISH_ON_TIME", "PUBLIC_UPDATE_ON_TIME", "PUBLIC_CONTENT_FULL", "DOSSIER_SYNC", "ON_TIME",
                  "ONLINE_PROVISION", "ONLINE_SERVICE_USED", "ONLINE_SUBMISSION", "PAID_ONLINE",
                  "FEE_PROCEDURES_PAID_ONLINE", "FEE_PROCEDURES_WITH_DOSSIERS", "ORIGINAL_RESULT_AVAILABLE",
                  "SO_HOA_GIAY_TO_GIAI_QUYET", "ELECTRONIC_CERTIFIED_COPY", "REUSED_DIGITIZED_DATA",
                  "SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "CITIZEN_DATA_CONNECTED_DOSSIER",
                  "CITIZEN_DATA_CONNECTED_FORMALITY", "PETITION_PROCESSING_ON_TIME",
                  "PETITION_HANDLING_SATISFACTION", "DOSSIER_RECEIVING_SATISFACTION"]


# Officials and applicants take given names from disjoint halves, so a scan for applicants' names
# in a published file can never be fooled by an official who happens to share one.
STAFF_GIVEN, PUBLIC_GIVEN = GIVEN[0::2], GIVEN[1::2]


def _names(rng, n, given=PUBLIC_GIVEN):
    return (np.array(FAMILY)[rng.integers(0, len(FAMILY), n)].astype(object) + " "
            + np.array(MIDDLE)[rng.integers(0, len(MIDDLE), n)].astype(object) + " "
            + np.array(given)[rng.integers(0, len(given), n)].astype(object))


def make_units(rng):
    rows = [dict(unit_code=PROVINCE, unit_name="UBND tỉnh Tây Ninh", parent_code=None, level="province",
                 valid_from="2010-01-01", valid_to=None, successor_code=None)]
    for i, name in enumerate(DEPARTMENTS, start=1):
        rows.append(dict(unit_code=f"{PROVINCE}.{i:02d}", unit_name=name, parent_code=PROVINCE, level="department",
                         valid_from="2020-01-01", valid_to="2025-06-30" if "(cũ)" in name else None,
                         successor_code=f"{PROVINCE}.04" if "(cũ)" in name else None))
    communes = []
    for i, place in enumerate(PLACES, start=1):
        kind = "Phường" if i % 4 == 1 else "Xã"
        code = f"{PROVINCE}.50.{i:02d}"
        communes.append(code)
        rows.append(dict(unit_code=code, unit_name=f"UBND {kind.lower()} {place}", parent_code=PROVINCE,
                         level="commune", valid_from="2025-07-01", valid_to=None, successor_code=None))
    for d, place in enumerate(DISTRICTS, start=30):
        dcode = f"{PROVINCE}.{d}"
        rows.append(dict(unit_code=dcode, unit_name=f"UBND huyện {place}", parent_code=PROVINCE, level="district",
                         valid_from="2010-01-01", valid_to="2025-06-30", successor_code=communes[(d - 30) * 10]))
    # pre-merger communes: one or two per new commune, under the nine districts
    k = 0
    for i, code in enumerate(communes):
        for j in range(1 + (i % 3 == 0)):
            k += 1
            dcode = f"{PROVINCE}.{30 + (i * 9) // len(communes)}"
            rows.append(dict(unit_code=f"{dcode}.{k:03d}", unit_name=f"UBND xã {PLACES[i]} {'cũ' if j == 0 else 'Đông'}",
                             parent_code=dcode, level="commune", valid_from="2010-01-01", valid_to="2025-06-30",
                             successor_code=code))
    units = pd.DataFrame(rows)
    # quality: spread so that every grade band appears; the province itself is not scored on dossiers
    q = np.clip(rng.beta(2.4, 1.3, len(units)), 0.02, 0.995)
    q[::9] = 0.995                      # a few exemplary units (Xuất sắc)
    q[5::23] = 0.08                     # and a few struggling ones (Yếu)
    q[1:6] = [0.995, 0.15, 0.55, 0.8, 0.35]
    return units, q


def make_officials(rng, units):
    current = units[(units.valid_to.isna()) & (units.level != "province")]
    rows = []
    for code, level in zip(current.unit_code, current.level):
        n = 7 if level == "department" else 2
        for j in range(n):
            pos = "lãnh đạo" if j == 0 else ("tiếp nhận" if j == 1 else "thụ lý")
            rows.append(dict(unit_code=code, position=pos))
    off = pd.DataFrame(rows)
    off.insert(0, "official_id", [f"CB{i:05d}" for i in range(1, len(off) + 1)])
    off.insert(1, "full_name", _names(rng, len(off), STAFF_GIVEN))
    off["active"] = np.where(rng.random(len(off)) < 0.97, "1", "0")
    # some officials are chronically slow
    slowness = np.where(rng.random(len(off)) < 0.1, 3.0, 1.0)
    return off, slowness


def make_procedures(rng, units):
    depts = units[(units.level == "department") & units.valid_to.isna()].unit_code.to_numpy()
    n_prov, n_comm = 260, 140
    level = np.array(["province"] * n_prov + ["commune"] * n_comm)
    n = len(level)
    names, fields = [], []
    for i, lv in enumerate(level):
        f = FIELDS[lv][rng.integers(0, len(FIELDS[lv]))]
        names.append(f"{ACTIONS[rng.integers(0, len(ACTIONS))]} {OBJECTS[rng.integers(0, len(OBJECTS))]} "
                     f"lĩnh vực {f.lower()} (mẫu {i + 1:03d})")
        fields.append(f)
    unit_of_time = rng.choice(["working_day", "day", "hour"], n, p=[0.9, 0.06, 0.04])
    limit = np.where(unit_of_time == "hour", rng.choice([4, 8, 24], n),
                     rng.choice([1, 2, 3, 5, 7, 10, 15, 20, 30], n, p=[.1, .1, .15, .2, .15, .12, .08, .06, .04]))
    online = rng.choice(["none", "partial", "full"], n, p=[0.2, 0.45, 0.35])
    base = pd.Timestamp("2024-06-01")
    decision = base + pd.to_timedelta(rng.integers(0, 880, n), unit="D")
    effective = decision + pd.to_timedelta(rng.integers(-3, 30, n), unit="D")
    made_public = decision + pd.to_timedelta(rng.integers(1, 12, n), unit="D") + pd.to_timedelta(9, unit="h")
    flags = {f: np.where(rng.random(n) < 0.95, "1", "0") for f in
             ["has_name", "has_sequence", "has_method", "has_components", "has_time_limit", "has_subjects", "has_agency"]}
    flags["has_name"][:] = "1"
    proc = pd.DataFrame({
        "procedure_code": [f"{1 + (i % 3)}.{4000 + i * 7:06d}" for i in range(n)],
        "procedure_name": names, "field": fields, "authority_level": level,
        "agency_code": np.where(level == "province", depts[rng.integers(0, len(depts), n)], None),
        "max_processing_time": limit, "time_unit": unit_of_time, "online_level": online,
        "full_online_eligible": np.where((online == "full") | (rng.random(n) < 0.2), "1", "0"),
        "paper_result_required": np.where(rng.random(n) < 0.6, "1", "0"),
        "has_fee": np.where(rng.random(n) < np.where(level == "commune", 0.12, 0.4), "1", "0"),
        "for_citizens": np.where(rng.random(n) < 0.75, "1", "0"),
        "status": rng.choice(["public", "public_amended", "abolished"], n, p=[0.9, 0.07, 0.03]),
        "publication_decision_date": decision.date, "legal_basis_effective_date": effective.date,
        "made_public_at": made_public, **flags})
    return proc


def make_decisions(rng, procedures):
    """Publication decisions: a few a month, some procedures in several decisions."""
    rows = []
    months = pd.period_range("2024-06", END_MONTH, freq="M")
    codes = procedures.procedure_code.to_numpy()
    k = 0
    for m in months:
        for _ in range(rng.integers(1, 3)):
            k += 1
            day = m.start_time + pd.Timedelta(days=int(rng.integers(0, 27)))
            chosen = rng.choice(codes, int(rng.integers(3, 15)), replace=False)
            lead = rng.integers(-2, 25, len(chosen))
            for code, lead_days in zip(chosen, lead):
                rows.append(dict(decision_id=f"{k:03d}/QĐ-UBND", procedure_code=code, decision_date=day.date(),
                                 action=rng.choice(["add", "amend", "abolish"], p=[0.5, 0.4, 0.1]),
                                 legal_basis_effective_date=(day + pd.Timedelta(days=int(lead_days))).date(),
                                 made_public_at=(day + pd.Timedelta(days=int(rng.integers(1, 14)), hours=10))))
    return pd.DataFrame(rows)


def make_online_services(rng, units, procedures):
    """Departments offer every online procedure of theirs; a commune registers the online services
    of the commune procedures people actually use (the most requested ones)."""
    communes = units[(units.level == "commune") & units.valid_to.isna()].unit_code.to_numpy()
    commune_codes = procedures[(procedures.authority_level == "commune")].procedure_code.tolist()
    popular = set(commune_codes[:COMMUNE_ONLINE_SERVICES])
    rows = []
    for p in procedures.itertuples():
        if p.online_level == "none" or p.status == "abolished":
            continue
        if p.authority_level == "commune" and p.procedure_code not in popular:
            continue
        targets = [p.agency_code] if p.authority_level == "province" else communes
        for u in targets:
            rows.append(dict(procedure_code=p.procedure_code, unit_code=u, level=p.online_level,
                             status=rng.choice(["public", "testing", "stopping"], p=[0.92, 0.05, 0.03])))
    svc = pd.DataFrame(rows)
    svc.insert(0, "service_id", [f"DVC{i:06d}" for i in range(1, len(svc) + 1)])
    return svc


def _bool_str(mask):
    return np.where(mask, "1", "0")


def sample_days(months: int) -> tuple[pd.Timestamp, int]:
    """The first day of the sample and how many days it covers (to the running day)."""
    start = (pd.Period(END_MONTH, "M") - (months - 1)).start_time
    return start, (pd.Timestamp(RUNNING_UNTIL) + pd.Timedelta(days=1) - start).days


def make_dossiers(rng, units, quality, officials, slowness, procedures, months, per_year, span=None):
    """Dossiers and their event timelines, vectorised. span: (first day, days) of one chunk of the sample
    (a large sample is made a few days at a time, so memory stays bounded)."""
    start, days = span or sample_days(months)
    n = int(per_year * days / 365)
    recv_day = start + pd.to_timedelta(np.sort(rng.integers(0, days, n)), unit="D")
    # working hours, occasionally late evening (online submissions at 23:30 count on their own day)
    minutes = np.where(rng.random(n) < 0.03, 23 * 60 + rng.integers(0, 59, n), 7 * 60 + 30 + rng.integers(0, 540, n))
    received = recv_day + pd.to_timedelta(minutes, unit="m")
    before = recv_day < pd.Timestamp(MERGER)

    unit_q = dict(zip(units.unit_code, quality))
    u = units.set_index("unit_code")
    cur_dept = units[(units.level == "department") & units.valid_to.isna()].unit_code.to_numpy()
    old_dept = units[(units.level == "department") & units.valid_to.notna()].unit_code.to_numpy()
    new_comm = units[(units.level == "commune") & units.valid_to.isna()].unit_code.to_numpy()
    old_comm = units[(units.level == "commune") & units.valid_to.notna()].unit_code.to_numpy()
    is_dept = rng.random(n) < 0.45
    unit = np.empty(n, dtype=object)
    # departments: weighted by size; the old transport department only before the merger
    w_dept = rng.pareto(1.5, len(cur_dept)) + 0.3
    unit[is_dept] = cur_dept[rng.choice(len(cur_dept), is_dept.sum(), p=w_dept / w_dept.sum())]
    move = is_dept & before & (rng.random(n) < 0.04)
    unit[move] = old_dept[0]
    w_new = rng.pareto(2.0, len(new_comm)) + 0.5
    w_old = rng.pareto(2.0, len(old_comm)) + 0.5
    m_new = ~is_dept & ~before
    m_old = ~is_dept & before
    unit[m_new] = new_comm[rng.choice(len(new_comm), m_new.sum(), p=w_new / w_new.sum())]
    unit[m_old] = old_comm[rng.choice(len(old_comm), m_old.sum(), p=w_old / w_old.sum())]
    # units' old dossiers count for the successor's people
    current_of = {c: (u.loc[c, "successor_code"] if isinstance(u.loc[c, "successor_code"], str) else c) for c in u.index}
    current_unit = np.array([current_of[x] for x in unit], dtype=object)

    # procedure: province procedures of the department's agency; commune procedures for communes
    procs = procedures[procedures.status != "abolished"].reset_index(drop=True)
    by_agency = {a: g.index.to_numpy() for a, g in procs[procs.authority_level == "province"].groupby("agency_code")}
    comm_idx = procs.index[procs.authority_level == "commune"].to_numpy()
    pidx = np.empty(n, dtype=int)
    all_prov = procs.index[procs.authority_level == "province"].to_numpy()
    for agency in np.unique(current_unit[is_dept]):
        m = is_dept & (current_unit == agency)
        pool = by_agency.get(agency, all_prov)
        w = 1.0 / (np.arange(len(pool)) + 1.5)
        pidx[m] = pool[rng.choice(len(pool), m.sum(), p=w / w.sum())]
    wc = 1.0 / (np.arange(len(comm_idx)) + 4.0) ** 1.3
    pidx[~is_dept] = comm_idx[rng.choice(len(comm_idx), (~is_dept).sum(), p=wc / wc.sum())]
    p = procs.loc[pidx].reset_index(drop=True)

    q = np.array([unit_q[x] for x in current_unit])
    # officials
    offs = officials.reset_index(drop=True)
    by_unit = {k: g.index.to_numpy() for k, g in offs.groupby("unit_code")}
    recv_off = np.empty(n, dtype=int)
    hand_off = np.empty(n, dtype=int)
    lead_off = np.empty(n, dtype=int)
    for cu in np.unique(current_unit):
        m = current_unit == cu
        pool = by_unit[cu]
        lead_off[m] = pool[0]
        recv_off[m] = pool[min(1, len(pool) - 1)]
        hand_off[m] = pool[rng.integers(min(1, len(pool) - 1), len(pool), m.sum())] if len(pool) > 2 else pool[-1]
    slow = slowness[hand_off]

    # time limit in working days (hours and calendar days converted for the schedule)
    limit = p.max_processing_time.to_numpy().astype(float)
    tu = p.time_unit.to_numpy()
    limit_wd = np.where(tu == "hour", np.ceil(limit / 8), np.where(tu == "day", np.ceil(limit * 5 / 7), limit))
    limit_wd = np.maximum(limit_wd, 1).astype(int)
    recv_d = received.values.astype("datetime64[D]")
    tod = received.values - recv_d
    due_d = add_working_days_array(recv_d, limit_wd)
    due = due_d + tod

    p_late = np.clip((0.01 + 0.45 * (1 - q) ** 2) * slow, 0, 0.9)
    late = rng.random(n) < p_late
    frac = rng.uniform(0.1, 1.0, n)
    used = np.where(late, limit_wd + rng.integers(1, 12, n), np.floor(frac * limit_wd)).astype(int)

    # supplements: waiting for the citizen, not counted; a few get a second request
    supp = rng.random(n) < 0.07
    supp2 = supp & (rng.random(n) < 0.06)
    supp_open = supp & (rng.random(n) < 0.05)
    supp_at_wd = np.maximum(np.floor(used * rng.uniform(0.1, 0.6, n)), 0).astype(int)
    supp_wait = rng.integers(1, 10, n)
    supp_req = add_working_days_array(recv_d, supp_at_wd) + tod + np.timedelta64(1, "h")
    supp_done = add_working_days_array(supp_req.astype("datetime64[D]"), supp_wait) + np.timedelta64(9, "h")
    total_wd = used + np.where(supp & ~supp_open, supp_wait, 0)
    fin_d = add_working_days_array(recv_d, total_wd)
    fin_minutes = rng.integers(7 * 60 + 30, 17 * 60, n)
    finished = fin_d + fin_minutes.astype("timedelta64[m]")
    finished = np.maximum(finished, received.values + np.timedelta64(30, "m"))
    returned = finished + rng.integers(1, 72, n).astype("timedelta64[h]")

    outcome = rng.choice(["done", "rejected", "withdrawn", "stopped"], n, p=[0.95, 0.03, 0.012, 0.008])
    cutoff = np.datetime64(pd.Timestamp(RUNNING_UNTIL) + pd.Timedelta(hours=17))
    status = np.where(outcome == "done", "returned", outcome).astype(object)
    not_yet_finished = finished > cutoff
    not_yet_returned = returned > cutoff
    returned_ok = (outcome == "done") & ~not_yet_returned & (rng.random(n) < 0.97)
    status[(outcome == "done") & ~returned_ok] = "finished"
    status[(outcome == "done") & not_yet_finished] = "processing"
    status[supp_open] = "supplement"
    just_in = (received.values > cutoff - np.timedelta64(1, "D")) & (outcome == "done")
    status[just_in & ~supp_open] = "received"
    finished_col = np.where(np.isin(status, ["finished", "returned"]), finished, np.datetime64("NaT"))
    returned_col = np.where(status == "returned", returned, np.datetime64("NaT"))
    other_at = received.values + (np.ceil(used * 0.3).astype(int) * 24 + 4).astype("timedelta64[h]")
    other_at = np.minimum(other_at, cutoff)

    online = rng.random(n) < np.clip(0.05 + 0.85 * q ** 1.3, 0, 0.97)
    online &= p.online_level.to_numpy() != "none"
    postal = ~online & (rng.random(n) < 0.03)
    channel = np.where(online, "2", np.where(postal, "3", np.where(rng.random(n) < 0.1, "", "1")))
    from_portal = online & (rng.random(n) < 0.6)
    submitted = np.where(online, received.values - rng.integers(10, 600, n).astype("timedelta64[m]"), received.values)

    synced = rng.random(n) < np.clip(0.7 + 0.32 * q, 0, 0.995)
    synced_at = np.where(synced, received.values + rng.integers(1, 240, n).astype("timedelta64[m]"), np.datetime64("NaT"))
    synced_at = np.where(synced & (synced_at > cutoff), cutoff, synced_at)
    has_fee = p.has_fee.to_numpy() == "1"
    fee = np.where(has_fee, rng.choice([0, 20000, 50000, 100000, 200000, 500000], n, p=[.1, .2, .3, .2, .15, .05]), 0)
    obligation = fee > 0
    paid = np.where(obligation & (rng.random(n) < np.clip(0.02 + 0.9 * q ** 1.5, 0, 0.97)),
                    rng.choice(["1", "2"], n, p=[0.7, 0.3]), "0")
    e_result = np.isin(status, ["finished", "returned"]) & (rng.random(n) < np.clip(0.1 + 0.9 * q, 0, 0.99))
    digitized = rng.random(n) < np.clip(0.1 + 0.9 * q, 0, 0.99)
    reused = rng.random(n) < np.clip(0.85 * q ** 1.5, 0, 0.95)
    personal = rng.random(n) < np.clip(0.95 * q ** 2, 0, 0.95)
    vneid = rng.random(n) < np.clip(0.15 + 0.8 * q, 0, 0.99)

    yymmdd = pd.Series(recv_day).dt.strftime("%y%m%d").to_numpy()
    codes_frame = pd.DataFrame({"u": unit, "d": yymmdd})
    seq = codes_frame.groupby(["u", "d"]).cumcount().to_numpy() + 1
    code = unit.astype(str) + "-" + yymmdd.astype(object) + "-" + pd.Series(seq).map("{:04d}".format).to_numpy()

    names = _names(rng, n)
    idnum = "072" + pd.Series(rng.integers(0, 10 ** 9, n)).map("{:09d}".format).to_numpy().astype(object)
    phone = "09" + pd.Series(rng.integers(0, 10 ** 8, n)).map("{:08d}".format).to_numpy().astype(object)
    street = np.array(STREETS)[rng.integers(0, len(STREETS), n)].astype(object)
    uname = units.set_index("unit_code").unit_name
    address = ("Số " + pd.Series(rng.integers(1, 400, n)).astype(str).to_numpy().astype(object) + ", đường " + street
               + ", " + pd.Series(current_unit).map(uname).str.replace("UBND ", "").to_numpy().astype(object)
               + ", tỉnh Tây Ninh")

    off_ids = offs.official_id.to_numpy()
    dossiers = pd.DataFrame({
        "dossier_code": code, "procedure_code": p.procedure_code.to_numpy(), "unit_code": unit,
        "channel": channel, "submitted_at": submitted, "received_at": received.values, "due_at": due,
        "finished_at": finished_col, "returned_at": returned_col, "status": status, "synced_at": synced_at,
        "from_national_portal": _bool_str(from_portal), "fee_amount": fee,
        "has_financial_obligation": _bool_str(obligation), "paid_online": paid,
        "e_result": _bool_str(e_result), "digitized_components": _bool_str(digitized),
        "reused_digitized_data": _bool_str(reused), "from_personal_store": _bool_str(personal),
        "vneid_authenticated": _bool_str(vneid), "receiving_official_id": off_ids[recv_off],
        "handling_official_id": off_ids[hand_off], "applicant_name": names, "applicant_id_number": idnum,
        "applicant_phone": phone, "applicant_address": address})

    # ---- events
    ev = []

    def add(mask, event, at, official=None, step=None, step_due=None, order=0):
        idx = np.flatnonzero(mask)
        ev.append(pd.DataFrame({
            "i": idx, "order": order, "event": event, "at": np.asarray(at)[idx] if np.ndim(at) else at,
            "official_id": off_ids[official[idx]] if official is not None else None,
            "step_name": step, "step_due_at": np.asarray(step_due)[idx] if step_due is not None else pd.NaT}))

    every = np.ones(n, dtype=bool)
    add(every, "received", received.values, recv_off, order=0)
    assigned = received.values + np.timedelta64(20, "m")
    add(~(status == "received"), "assigned", assigned, hand_off, order=1)
    step1_due = add_working_days_array(recv_d, np.maximum(np.floor(limit_wd * 0.6), 1).astype(int)) + tod
    # a late dossier overran at the handling step (usually) or at the leader's approval
    lead_late = late & (rng.random(n) < 0.3)
    step1_done_wd = np.where(late & ~lead_late, np.maximum(used - 1, 0), np.floor(used * 0.6)).astype(int)
    step1_done = add_working_days_array(recv_d, step1_done_wd + np.where(supp & ~supp_open, supp_wait, 0)) \
        + np.timedelta64(15, "h")
    step1_done = np.minimum(np.maximum(step1_done, assigned + np.timedelta64(10, "m")), finished - np.timedelta64(20, "m"))
    done_mask = np.isin(status, ["finished", "returned"])
    add(done_mask | (status == "processing") & (step1_done < cutoff), "step_done", step1_done, hand_off,
        step="Thẩm định, xử lý hồ sơ", step_due=step1_due, order=3)
    add(supp, "supplement_requested", supp_req, hand_off, order=2)
    add(supp & ~supp_open, "supplement_completed", supp_done, recv_off, order=2)
    add(supp2 & ~supp_open, "supplement_requested", supp_done + np.timedelta64(2, "h"), hand_off, order=2)
    add(supp2 & ~supp_open, "supplement_completed", supp_done + np.timedelta64(26, "h"), recv_off, order=2)
    add(done_mask, "step_done", finished - np.timedelta64(10, "m"), lead_off,
        step="Phê duyệt kết quả", step_due=due - np.timedelta64(4, "h"), order=4)
    add(done_mask, "finished", finished, hand_off, order=5)
    add(status == "returned", "returned", returned, recv_off, order=6)
    for s in ("rejected", "withdrawn", "stopped"):
        add(status == s, s, other_at, hand_off, order=5)
    extended = (status == "processing") & late & (rng.random(n) < 0.1)
    add(extended, "deadline_extended", np.minimum(due, cutoff), lead_off, order=4)
    late_done = done_mask & (finished > due)
    apology = late_done & (rng.random(n) < np.clip(0.2 + 0.7 * q, 0, 0.95))
    add(apology, "apology_sent", np.minimum(due + np.timedelta64(2, "h"), finished), lead_off, order=4)

    events = pd.concat(ev, ignore_index=True)
    events = events[events["at"] <= cutoff]
    events = events.sort_values(["i", "at", "order"], kind="stable")
    events["seq"] = events.groupby("i").cumcount() + 1
    events["dossier_code"] = code[events["i"].to_numpy()]
    events = events[["dossier_code", "seq", "event", "at", "official_id", "step_name", "step_due_at"]]
    return dossiers, events, q, late


def make_feedback(rng, units, quality, officials, months):
    current = units[units.valid_to.isna() & (units.level != "province")].reset_index(drop=True)
    qmap = dict(zip(units.unit_code, quality))
    start = (pd.Period(END_MONTH, "M") - (months - 1)).start_time
    days = (pd.Timestamp(RUNNING_UNTIL) - start).days
    n = int(len(current) * months * 0.8)
    ui = rng.integers(0, len(current), n)
    ucode = current.unit_code.to_numpy()[ui]
    q = np.array([qmap[x] for x in ucode])
    sent = start + pd.to_timedelta(rng.integers(0, days * 24 * 60, n), unit="m")
    transferred = rng.random(n) < 0.3
    t_at = np.where(transferred, (sent + pd.to_timedelta(rng.integers(1, 48, n), unit="h")).values,
                    np.datetime64("NaT"))
    base = np.where(transferred, t_at, sent.values)
    accepted = base + pd.to_timedelta(rng.integers(1, 30, n), unit="h").values
    on_time = rng.random(n) < np.clip(0.3 + 0.7 * q, 0, 0.98)
    handle_days = np.where(on_time, rng.integers(1, 14, n), rng.integers(16, 40, n))
    base_d = pd.to_datetime(base).values.astype("datetime64[D]")
    processed = add_working_days_array(base_d, handle_days) + np.timedelta64(10, "h")
    cutoff = np.datetime64(RUNNING_UNTIL)
    rejected = rng.random(n) < 0.05
    processed = np.where(processed > cutoff, np.datetime64("NaT"), processed)
    cat = rng.choice(["regulation", "staff", "other"], n, p=[0.5, 0.2, 0.3])
    off_by_unit = officials.groupby("unit_code").official_id.first()
    return pd.DataFrame({
        "feedback_id": [f"PAKN{i:06d}" for i in range(1, n + 1)], "unit_code": ucode, "category": cat,
        "source": np.where(transferred, "transferred", "direct"), "sent_at": sent.values, "transferred_at": t_at,
        "accepted_at": accepted,
        "rejected_at": np.where(rejected, accepted + np.timedelta64(20, "h"), np.datetime64("NaT")),
        "supplement_requested_at": pd.NaT,
        "processed_at": np.where(rejected, np.datetime64("NaT"), processed),
        "published_at": np.where(rejected, np.datetime64("NaT"), processed + np.timedelta64(1, "D")),
        "likes": rng.integers(0, 12, n), "dislikes": np.where(rng.random(n) < 0.3 * (1 - q), rng.integers(5, 20, n),
                                                             rng.integers(0, 3, n)),
        "repeated": _bool_str(rng.random(n) < 0.08 * (1 - q)),
        "official_id": np.where(cat == "staff", pd.Series(ucode).map(off_by_unit).to_numpy(), None),
        "dossier_code": None})


def make_ratings(rng, dossiers, q, late):
    rated = (np.isin(dossiers.status, ["finished", "returned"])) & (rng.random(len(dossiers)) < 0.3)
    p_unsat = np.clip(0.02 + 0.25 * (1 - q) + 0.3 * late, 0, 0.9)
    r = rng.random(len(dossiers))
    rating = np.where(r < p_unsat, "Không hài lòng", np.where(r < p_unsat + 0.4, "Hài lòng", "Rất hài lòng"))
    d = dossiers[rated]
    at = pd.to_datetime(d.finished_at) + pd.Timedelta(hours=3)
    return pd.DataFrame({"Mã hồ sơ": d.dossier_code, "Ngày đánh giá": at.dt.strftime("%d/%m/%Y %H:%M"),
                         "Mức độ hài lòng": rating[rated],
                         "Ý kiến": np.where(rating[rated] == "Không hài lòng", "Giải quyết chậm, phải đi lại nhiều lần", "")})


def national_counts(dossiers) -> pd.DataFrame:
    d = dossiers.assign(m=pd.to_datetime(dossiers.received_at).dt.to_period("M"))
    d = d[d.m <= pd.Period(END_MONTH, "M")]
    return d.groupby(["unit_code", "m"]).size().reset_index(name="n")


def make_national_report(rng, units, dossiers, counts=None):
    g = national_counts(dossiers) if counts is None else counts
    factor = np.where(rng.random(len(g)) < 0.15, rng.uniform(1.0, 1.15, len(g)), rng.uniform(0.9, 1.0, len(g)))
    return pd.DataFrame({"unit_code": g.unit_code, "period_start": g.m.dt.start_time.dt.date,
                         "period_end": g.m.dt.end_time.dt.date, "received_count": np.round(g.n * factor).astype(int)})


def make_owners(rng, units):
    current = units[units.valid_to.isna()]
    rows = []
    names = _names(rng, len(current) * 6, STAFF_GIVEN)
    titles = ["Phó Giám đốc", "Trưởng phòng", "Phó Chủ tịch UBND", "Công chức Văn phòng"]
    for i, code in enumerate(current.unit_code):
        for j, m in enumerate(SCORED_METRICS):
            k = i * 6 + (j * 6) // len(SCORED_METRICS)
            rows.append(dict(unit_code=code, metric_code=m, owner_name=names[k], owner_title=titles[(i + j) % 4]))
    return pd.DataFrame(rows)


PROCEDURE_HEADERS_VI = {
    "procedure_code": "Mã TTHC", "procedure_name": "Tên TTHC", "field": "Lĩnh vực", "authority_level": "Cấp thực hiện",
    "agency_code": "Cơ quan thực hiện", "max_processing_time": "Thời hạn giải quyết", "time_unit": "Đơn vị thời gian",
    "online_level": "Mức độ DVC", "full_online_eligible": "Đủ điều kiện toàn trình",
    "paper_result_required": "Kết quả là giấy tờ", "has_fee": "Có phí, lệ phí", "for_citizens": "Đối tượng công dân",
    "status": "Trạng thái", "publication_decision_date": "Ngày QĐ công bố",
    "legal_basis_effective_date": "Ngày hiệu lực căn cứ pháp lý", "made_public_at": "Ngày công khai"}


def write_province(out: Path, seed: int = 766, months: int = 18, per_year: int = 150_000, progress: bool = True,
                   fmt: str = "csv") -> tuple[dict, tuple[pd.DataFrame, pd.DataFrame] | None]:
    """Write the sample province into `out`; returns row counts per file. fmt 'sync': the dossiers and
    their steps as the national sync payloads (kpi/sample/sync.py) instead of dossiers.csv and
    dossier_events.csv — the same province, the same scores."""
    from tqdm.auto import tqdm
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    steps = tqdm(total=8, desc="Tạo tỉnh mẫu", unit="bước", disable=None if progress else True)
    units, quality = make_units(rng)
    officials, slowness = make_officials(rng, units)
    procedures = make_procedures(rng, units)
    decisions = make_decisions(rng, procedures)
    services = make_online_services(rng, units, procedures)
    steps.update(1)
    total = int(per_year * sample_days(months)[1] / 365)
    chunked = total > CHUNKED_FROM
    if chunked:             # a large province: a few days at a time, straight to the files
        feedback = make_feedback(rng, units, quality, officials, months)
        counts = _write_chunks(out, rng, units, quality, officials, slowness, procedures, months, per_year, progress,
                               fmt, np.random.default_rng(seed + 1))
        national = make_national_report(rng, units, None, counts.pop("_national"))
        steps.update(3)
    else:
        dossiers, events, q, late = make_dossiers(rng, units, quality, officials, slowness, procedures, months,
                                                  per_year)
        steps.update(3)
        feedback = make_feedback(rng, units, quality, officials, months)
        ratings = make_ratings(rng, dossiers, q, late)
        national = make_national_report(rng, units, dossiers)
    communes = units[(units.level == "commune") & units.valid_to.isna()]
    ccu = pd.DataFrame({"unit_code": communes.unit_code,
                        "provides_e_certified_copy": _bool_str(quality[communes.index] > 0.35),
                        "as_of": "2026-01-01"})
    owners = make_owners(rng, units)
    steps.update(1)
    counts = counts if chunked else {}

    def csv(frame, name):
        frame.to_csv(out / name, index=False, lineterminator="\n")
        counts[name] = len(frame)

    csv(units, "units.csv")
    csv(officials, "officials.csv")
    proc = procedures.copy()
    write_xlsx(proc[list(PROCEDURE_HEADERS_VI)].rename(columns=PROCEDURE_HEADERS_VI)
               .join(proc[[c for c in proc.columns if c.startswith("has_") and c != "has_fee"]]),
               out / "procedures.xlsx", "TTHC")
    counts["procedures.xlsx"] = len(proc)
    csv(decisions, "publication_decisions.csv")
    csv(services, "online_services.csv")
    steps.update(1)
    if fmt == "sync" and chunked:
        counts.update(sample_sync.write_catalogue(out, procedures))
    elif fmt == "sync":
        counts.update(sample_sync.write(out, dossiers, events, procedures, units, officials,
                                        np.random.default_rng(seed + 1)))
    elif not chunked:
        csv(fmt_ts(dossiers, DOSSIER_TS), "dossiers.csv")
        csv(fmt_ts(events, ["at", "step_due_at"]), "dossier_events.csv")
    steps.update(1)
    csv(fmt_ts(feedback, ["sent_at", "transferred_at", "accepted_at", "rejected_at", "supplement_requested_at",
                           "processed_at", "published_at"]), "feedback.csv")
    if not chunked:
        csv(ratings, "ratings.csv")
    csv(ccu, "certified_copy_units.csv")
    csv(national, "national_report.csv")
    csv(owners, "owners.csv")
    steps.update(1)
    steps.close()
    return counts, (None if chunked else (dossiers, events))


CHUNKED_FROM = 400_000      # dossiers: a larger sample is written a few days at a time
CHUNK = 150_000            # dossiers in one chunk


def _write_chunks(out: Path, rng, units, quality, officials, slowness, procedures, months, per_year,
                  progress, fmt: str = "csv", sync_rng=None) -> dict:
    """Dossiers, events and ratings of a large sample, made and appended a few days at a time: memory
    stays bounded whatever the size (each chunk's dossier codes are its own days'). fmt 'sync': each chunk's
    dossiers and steps as payload files of their own (sync_rng: the payloads' own generator)."""
    from tqdm.auto import tqdm
    start, days = sample_days(months)
    step = max(1, int(CHUNK * 365 / per_year))
    counts = {"ratings.csv": 0} if fmt == "sync" else {"dossiers.csv": 0, "dossier_events.csv": 0, "ratings.csv": 0}
    national = []
    bar = tqdm(total=days, desc="Hồ sơ mẫu", unit="ngày", disable=None if progress else True)
    for first in range(0, days, step):
        span = (start + pd.Timedelta(days=first), min(step, days - first))
        dossiers, events, q, late = make_dossiers(rng, units, quality, officials, slowness, procedures, months,
                                                  per_year, span)
        ratings = make_ratings(rng, dossiers, q, late)
        national.append(national_counts(dossiers))
        frames = [(ratings, "ratings.csv")]
        if fmt == "sync":
            recent = dossiers[pd.to_datetime(dossiers.received_at) >= RECENT_FROM]
            for frame, name in ((fmt_ts(recent, DOSSIER_TS), "dossiers.csv"),
                                (fmt_ts(events[events.dossier_code.isin(set(recent.dossier_code))],
                                        ["at", "step_due_at"]), "dossier_events.csv")):
                path = out / RECENT / name
                path.parent.mkdir(exist_ok=True)
                frame.to_csv(path, index=False, lineterminator="\n", mode="a" if first else "w", header=not first)
            for name, n in sample_sync.write(out, dossiers, events, procedures, units, officials, sync_rng,
                                             chunk=len(national) - 1).items():
                counts[name] = counts.get(name, 0) + n
        else:
            frames += [(fmt_ts(dossiers, DOSSIER_TS), "dossiers.csv"),
                       (fmt_ts(events, ["at", "step_due_at"]), "dossier_events.csv")]
        for frame, name in frames:
            frame.to_csv(out / name, index=False, lineterminator="\n", mode="a" if first else "w", header=not first)
            counts[name] += len(frame)
        bar.update(span[1])
    bar.close()
    counts["_national"] = pd.concat(national).groupby(["unit_code", "m"], as_index=False).n.sum()
    return counts


