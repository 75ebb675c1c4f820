"""The workspace's settings (`kpi766.yaml` at the workspace root): who issues the Word report and to whom
it goes. Never hard-coded: a province edits this file."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from kpi import config

FILE_NAME = "kpi766.yaml"
TEXT_KEYS = ("co_quan_chu_quan", "co_quan_ban_hanh", "ten_co_quan", "ky_hieu", "dia_danh", "quyen_han_ky", "chuc_vu_nguoi_ky",
             "nguoi_ky")
REQUIRED = ("co_quan_chu_quan", "co_quan_ban_hanh", "ky_hieu", "dia_danh", "chuc_vu_nguoi_ky")


BAD_CHAR = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")   # a lone surrogate, a control


class SettingsError(ValueError):
    """A missing or malformed settings file (a one-line error naming the file and the key)."""


def settings_path(path=None) -> Path:
    return Path(path) if path else config.project_root() / FILE_NAME


def load_settings(path=None) -> dict:
    """The settings as a dict with every key (optional ones empty); SettingsError names the file and key."""
    p = settings_path(path)
    if not p.is_file():
        raise SettingsError(f"không có tệp {p} — tạo tệp {FILE_NAME} ở thư mục làm việc (xem mẫu trong kho mã "
                            "kpi766 và mục 'Báo cáo Word' của README)")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" dòng {where.line + 1}" if where else ""
        raise SettingsError(f"{p}{line}: không đọc được YAML ({type(exc).__name__}) — sửa theo tệp mẫu") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{p}: cần các dòng 'khóa: giá trị' — sửa theo tệp mẫu")
    unknown = set(data) - set(TEXT_KEYS) - {"noi_nhan"}
    if unknown:
        raise SettingsError(f"{p}: khóa không biết {', '.join(sorted(unknown))} — dùng được: "
                            f"{', '.join(TEXT_KEYS + ('noi_nhan',))}")
    for k in TEXT_KEYS:
        v = data.get(k)
        if isinstance(v, (list, dict, set)):
            raise SettingsError(f"{p}: '{k}' cần một giá trị chữ, không phải danh sách — viết trên một dòng "
                                f"(vd. {k}: \"VP-KSTT\"), đặt trong ngoặc kép nếu có dấu phẩy hay ngoặc vuông")
    out = {k: "" if data.get(k) is None else str(data[k]).strip() for k in TEXT_KEYS}
    for k, v in [*out.items(), *(("noi_nhan", x) for x in data.get("noi_nhan") or [] if isinstance(x, str))]:
        if BAD_CHAR.search(v):
            raise SettingsError(f"{p}: '{k}' có ký tự không hợp lệ (mã thoát \\u… không thành chữ, hay ký tự điều "
                                "khiển) — gõ lại giá trị bằng chữ tiếng Việt thường")
    for k in REQUIRED:
        if not out[k]:
            raise SettingsError(f"{p}: thiếu '{k}' — điền giá trị (vd. {k}: …)")
    recipients = data.get("noi_nhan") or []
    if not isinstance(recipients, list):
        raise SettingsError(f"{p}: 'noi_nhan' cần danh sách, mỗi dòng bắt đầu bằng '  - '")
    for x in recipients:
        if not isinstance(x, str):     # '- Lưu: VT' without quotes reads as a key and a value
            raise SettingsError(f"{p}: dòng '{x}' của 'noi_nhan' cần đặt trong ngoặc kép (vd. - \"Lưu: VT, KSTT.\")")
    out["noi_nhan"] = [x.strip() for x in recipients if x.strip()]
    return out
