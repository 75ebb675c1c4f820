"""The sample province as the national sync payloads (`kpi sample --format sync`): what its one-stop
system pushed to the portal — DongBoHoSoMC files per day (JSON Lines of envelopes, bare arrays, some
gzip-compressed; some dossiers sent twice, an early state and later the final one), CapNhatTienDoHoSoMC
step files per day, and the LayThuTuc catalogue. Dossiers that never reached the portal stay in canonical
CSV files (the province's own export), as do units, officials, feedback, ratings and the rest, which the
payloads do not carry. Loaded, it gives the same scores as the canonical sample of the same seed."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from kpi.sample.files import DOSSIER_TS, fmt_ts

STATUS_CODE = {"received": "2", "processing": "4", "supplement": "5", "finished": "9", "returned": "10",
               "rejected": "3", "stopped": "8", "withdrawn": "7"}
STEP_CODE = {"received": ("2", "Tiếp nhận hồ sơ"), "assigned": ("4", "Phân công xử lý"), "step_done": ("4", None),
             "finished": ("9", "Đã xử lý xong"), "returned": ("10", "Đã trả kết quả"), "rejected": ("3", "Từ chối"),
             "stopped": ("8", "Dừng xử lý"), "withdrawn": ("7", "Công dân rút hồ sơ"),
             "apology_sent": ("4", "Gửi thư xin lỗi người dân")}


def _t(v) -> str:
    return "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y%m%d%H%M%S")


def _write(path: Path, text: str, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write(out: Path, dossiers: pd.DataFrame, events: pd.DataFrame, procedures: pd.DataFrame, units: pd.DataFrame,
          officials: pd.DataFrame, rng: np.random.Generator, chunk: int | None = None) -> dict:
    """Writes the payload files under out/dong-bo/ and the never-synced dossiers as canonical CSV; returns counts.
    chunk: a large sample's chunk of dossiers (its files named '-pNNN' beside the other chunks' files of the same
    day, as a one-stop system pushing several times a day; the CSVs appended to; the catalogue left to
    write_catalogue)."""
    sync_dir = out / "dong-bo"
    sync_dir.mkdir(parents=True, exist_ok=True)
    synced = dossiers[dossiers.synced_at.notna()].copy()
    never = dossiers[dossiers.synced_at.isna()]
    counts = {}
    tail = "" if chunk is None else f"-p{chunk:03d}"
    more = dict(mode="a", header=False) if chunk else {}
    fmt_ts(never, DOSSIER_TS).to_csv(out / "dossiers_chua_dong_bo.csv", index=False, lineterminator="\n", **more)
    ev_never = events[events.dossier_code.isin(set(never.dossier_code))]
    fmt_ts(ev_never, ["at", "step_due_at"]).to_csv(out / "dossier_events_chua_dong_bo.csv", index=False,
                                                     lineterminator="\n", **more)
    counts["dossiers_chua_dong_bo.csv"] = len(never)

    ev = events[events.dossier_code.isin(set(synced.dossier_code))]
    rounds = _rounds(ev)
    rejected_at = ev[ev.event == "rejected"].groupby("dossier_code")["at"].min()
    names = officials.set_index("official_id")
    unique_names = officials.groupby(["unit_code", "full_name"]).official_id.transform("count").eq(1)
    by_name = set(officials[unique_names].official_id)
    unit_names = units.set_index("unit_code").unit_name

    # the day each dossier reached the portal; some are sent first in an early state, later in full
    synced["day"] = pd.to_datetime(synced.synced_at).dt.normalize()
    final_at = pd.to_datetime(synced.returned_at).fillna(pd.to_datetime(synced.finished_at))
    resend = synced.status.isin(["finished", "returned"]) & (final_at.dt.normalize() > synced.day) & \
        (rng.random(len(synced)) < 0.05)
    records = []        # (day, unit, record)
    for row, again, last in zip(synced.itertuples(index=False), resend.to_numpy(), final_at.to_numpy()):
        full = _dossier_record(row, rounds.get(row.dossier_code, []), rejected_at.get(row.dossier_code))
        if again:
            early = dict(full, TrangThaiHoSo="4", NgayKetThucXuLy="", NgayTra="", DanhSachGiayToKetQua=[])
            records.append((row.day, row.unit_code, early, pd.Timestamp(row.synced_at)))
            records.append((pd.Timestamp(last).normalize(), row.unit_code, full, pd.Timestamp(last)))
        else:
            records.append((row.day, row.unit_code, full, pd.Timestamp(row.synced_at)))
    frame = pd.DataFrame(records, columns=["day", "unit", "rec", "at"])
    n_files = 0
    for k, (day, part) in enumerate(frame.groupby("day", sort=True)):
        capture = part["at"].max()
        stem = f"DongBoHoSoMC_{day:%Y%m%d}@{capture:%Y%m%dT%H%M%S}{tail}"
        if k % 2 == 0:      # JSON Lines: an OpenCPS envelope per unit, one a line
            lines = [json.dumps({"session": f"s{k}-{u}", "madonvi": u, "service": "DongBoHoSoMC", "isUpdating": "True",
                                 "data": list(p.rec)}, ensure_ascii=False) for u, p in part.groupby("unit", sort=True)]
            _write(sync_dir / f"{stem}.jsonl", "\n".join(lines) + "\n", gz=k % 5 == 4)
        else:               # a bare array, the agency named (and coded, as TD-style vendors send it)
            recs = [dict(r, DonViXuLy=f"{unit_names.get(u, u)}", MaDonVi=u) for u, r in zip(part.unit, part.rec)]
            _write(sync_dir / f"{stem}.json", json.dumps(recs, ensure_ascii=False), gz=k % 5 == 3)
        n_files += 1
    counts["DongBoHoSoMC (tệp)"] = n_files
    counts["DongBoHoSoMC (bản ghi)"] = len(frame)

    # processing steps, a file a day; a holder is named by account id, or by full name where that is unique
    steps = ev[ev.event.isin(list(STEP_CODE))].copy()
    steps["day"] = pd.to_datetime(steps["at"]).dt.normalize()
    use_name = steps.official_id.isin(by_name) & (rng.random(len(steps)) < 0.1)
    steps["who"] = np.where(use_name, steps.official_id.map(names.full_name), steps.official_id)
    n_steps = 0
    for k, (day, part) in enumerate(steps.groupby("day", sort=True)):
        lines = []
        for r in part.itertuples(index=False):
            code, text = STEP_CODE[r.event]
            rec = {"MaHoSo": r.dossier_code, "ThoiDiemXuLy": _t(r.at), "TrangThai": code,
                   "NguoiXuLy": None if pd.isna(r.who) else r.who, "NoiDungXuLy": text or r.step_name or ""}
            if r.event == "step_done" and pd.notna(r.step_due_at):
                rec["NgayKetThucTheoQuyDinh"] = _t(r.step_due_at)
            lines.append(json.dumps(rec, ensure_ascii=False))
        _write(sync_dir / f"CapNhatTienDoHoSoMC_{day:%Y%m%d}{tail}.jsonl", "\n".join(lines) + "\n", gz=k % 4 == 1)
        n_steps += len(lines)
    counts["CapNhatTienDoHoSoMC (bước)"] = n_steps
    if chunk is None:
        counts.update(write_catalogue(out, procedures))
    return counts


def write_catalogue(out: Path, procedures: pd.DataFrame) -> dict:
    """LayThuTuc.json: the national catalogue as the portal answers it."""
    sync_dir = out / "dong-bo"
    sync_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    # the catalogue (the province's own procedure list is written too: it carries what LayThuTuc does not)
    unit_word = {"working_day": "Ngày làm việc", "day": "Ngày", "hour": "Giờ", "month": "Tháng"}
    cat = [{"MATTHC": p.procedure_code, "TENTTHC": p.procedure_name,
            "LINHVUCTHUCHIEN": [{"MALINHVUC": "", "TENLINHVUC": p.field}],
            "CACHTHUCTHUCHIEN": [{"KENH": "1", "THOIGIAN": [{
                "THOIGIANGIAIQUYET": str(p.max_processing_time), "DONVITINH": unit_word.get(p.time_unit, "Ngày làm việc"),
                "PHILEPHI": [{"SOTIEN": "50000" if str(p.has_fee) == "1" else "0", "DONVI": "VNĐ"}]}]}],
            "KETQUATHUCHIEN": [{"MAKETQUA": "KQ", "TENKETQUA": "Kết quả"}] if str(p.paper_result_required) == "1" else [],
            "COQUANTHUCHIEN": [], "CANCUPHAPLY": []} for p in procedures.itertuples(index=False)]
    (sync_dir / "LayThuTuc.json").write_text(json.dumps({"error_code": "0", "result": cat}, ensure_ascii=False),
                                             encoding="utf-8")
    counts["LayThuTuc (thủ tục)"] = len(cat)
    return counts


def _rounds(ev: pd.DataFrame) -> dict:
    """Each dossier's supplement rounds: a request and the citizen's answer after it (if any)."""
    s = ev[ev.event.isin(["supplement_requested", "supplement_completed"])].sort_values(["dossier_code", "at", "seq"])
    out: dict[str, list] = {}
    for code, part in s.groupby("dossier_code", sort=False):
        cur = None
        for r in part.itertuples(index=False):
            if r.event == "supplement_requested":
                cur = {"NgayBoSung": _t(r.at), "NgayTiepNhanBoSung": "", "NguoiYeuCauBoSung": r.official_id or "",
                       "NoiDungBoSung": "Bổ sung thành phần hồ sơ", "TrangThaiBoSung": "0"}
                out.setdefault(code, []).append(cur)
            elif cur is not None and not cur["NgayTiepNhanBoSung"]:
                cur["NgayTiepNhanBoSung"], cur["TrangThaiBoSung"] = _t(r.at), "1"
    return out


def _dossier_record(r, rounds: list, rejected_at) -> dict:
    yes = lambda v: str(v) in ("1", "True", "true")       # noqa: E731
    rec = {"MaHoSo": r.dossier_code, "MaTTHC": r.procedure_code, "KenhThucHien": "" if pd.isna(r.channel) else str(r.channel),
           "NgayNopHoSo": _t(r.submitted_at), "NgayTiepNhan": _t(r.received_at), "NgayHenTra": _t(r.due_at),
           "NgayKetThucXuLy": _t(r.finished_at), "NgayTra": _t(r.returned_at), "TrangThaiHoSo": STATUS_CODE[r.status],
           "HinhThuc": "0", "DuocThanhToanTrucTuyen": str(r.paid_online),
           "MaDoiTuong": f"CD{r.dossier_code[-6:]}" if yes(r.from_national_portal) else "",
           "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "LP", "HinhThucThu": "1",
                              "Gia": str(int(float(r.fee_amount))), "LoaiPhiLePhi": "1"}],
           "DanhSachGiayToKetQua": [{"TenGiayTo": "Kết quả", "MaThanhPhanHoSo": "KQ", "GiayToId": "1",
                                     "DuongDanTepTinKetQua": f"https://motcua.tayninh.gov.vn/kq/{r.dossier_code}.pdf",
                                     "MaGiayToKetQua": "KQ1"}] if yes(r.e_result) else [],
           "TaiLieuNop": [{"TepDinhKemId": "1", "TenTepDinhKem": "to-khai.pdf", "IsDeleted": "False",
                           "MaThanhPhanHoSo": "TP1",
                           "DuongDanTaiTepTin": f"https://motcua.tayninh.gov.vn/tep/{r.dossier_code}.pdf"
                           if yes(r.digitized_components) else "",
                           "DuocSoHoa": "1" if yes(r.digitized_components) else "0",
                           "DuocTaiSuDung": "1" if yes(r.reused_digitized_data) else "0",
                           "DuocLayTuKhoDMQG": "1" if yes(r.from_personal_store) else "0"}],
           "TaiKhoanDuocXacThucVoiVNeID": "1" if yes(r.vneid_authenticated) else "0",
           "DanhSachHoSoBoSung": rounds,
           "ChuHoSo": r.applicant_name, "SoGiayToChuHoSo": r.applicant_id_number, "SoDienThoai": r.applicant_phone,
           "DiaChiChuHoSo": r.applicant_address, "TrichYeuHoSo": "Hồ sơ mẫu"}
    if rejected_at is not None and not pd.isna(rejected_at):
        rec["NgayTuChoi"] = _t(rejected_at)
    return rec
