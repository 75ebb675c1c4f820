"""The raw tables of DATA_CONTRACT.md: columns, types, keys, references and Vietnamese aliases.

One description serves the store (DDL) and the loaders (validation), so they cannot disagree.
Types: str, int, float, bool, date, ts (local timestamp), and enum sets.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "str"            # str | int | float | bool | date | ts
    required: bool = False       # the header must be present
    not_null: bool = False       # a row with an empty value is quarantined
    values: tuple = ()           # allowed values (enum), after mapping
    aliases: tuple = ()          # other headers that mean this column
    future_ok: bool = True       # dates later than now are plausible (due dates)
    personal: bool = False       # applicant personal data
    min_value: float | None = None
    unit_code: bool = False      # a unit code: upper case, letters/digits/./-/_ only (it names files)
    pattern: str | None = None   # a code written one way (upper-cased first), e.g. a period '2026-Q3'
    example: str = ""            # shown in the quarantine reason when `pattern` does not match


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple
    key: tuple
    references: dict = field(default_factory=dict)   # column -> (table, column)
    file_aliases: tuple = ()                        # file-name stems that mean this table
    checks: tuple = ()                              # (sql-ish name, later_col, earlier_col)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


C = Column
BOOL_ALIASES = {"1", "true", "t", "yes", "y", "co", "có", "x", "0", "false", "f", "no", "n", "khong", "không", ""}

TABLES: dict[str, Table] = {}


def _t(table: Table) -> Table:
    TABLES[table.name] = table
    return table


_t(Table("units", (
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị", "Mã định danh", "Mã cơ quan")),
    C("unit_name", required=True, not_null=True, aliases=("Tên đơn vị", "Tên cơ quan")),
    C("parent_code", unit_code=True, aliases=("Mã đơn vị cha", "Đơn vị cấp trên", "Mã cơ quan cha")),
    C("level", required=True, not_null=True, values=("province", "department", "district", "commune"),
      aliases=("Cấp", "Cấp đơn vị")),
    C("valid_from", "date", aliases=("Hiệu lực từ", "Ngày bắt đầu")),
    C("valid_to", "date", aliases=("Hiệu lực đến", "Ngày kết thúc")),
    C("successor_code", unit_code=True, aliases=("Đơn vị kế thừa", "Mã đơn vị kế thừa")),
), key=("unit_code",), file_aliases=("units", "don_vi", "donvi", "co_quan"),
   references={"parent_code": ("units", "unit_code"), "successor_code": ("units", "unit_code")},
   checks=(("valid_to", "valid_from"),)))

_t(Table("officials", (
    C("official_id", required=True, not_null=True, aliases=("Mã cán bộ", "Mã công chức", "Tài khoản")),
    C("full_name", required=True, not_null=True, aliases=("Họ và tên", "Họ tên", "Tên cán bộ")),
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị",)),
    C("position", aliases=("Chức vụ", "Vị trí", "Vai trò")),
    C("active", "bool", aliases=("Đang công tác", "Hoạt động")),
), key=("official_id",), file_aliases=("officials", "can_bo", "canbo", "cong_chuc"),
   references={"unit_code": ("units", "unit_code")}))

_t(Table("procedures", (
    C("procedure_code", required=True, not_null=True, aliases=("Mã TTHC", "Mã thủ tục")),
    C("procedure_name", required=True, not_null=True, aliases=("Tên TTHC", "Tên thủ tục")),
    C("field", aliases=("Lĩnh vực",)),
    C("authority_level", aliases=("Cấp thực hiện",), values=("province", "commune", "district", "ministry")),
    C("agency_code", unit_code=True, aliases=("Cơ quan thực hiện", "Mã cơ quan thực hiện")),
    C("max_processing_time", "float", aliases=("Thời hạn giải quyết",), min_value=0),
    C("time_unit", aliases=("Đơn vị thời gian",), values=("working_day", "day", "hour", "month")),
    C("online_level", aliases=("Mức độ DVC", "Mức độ trực tuyến"), values=("none", "partial", "full")),
    C("full_online_eligible", "bool", aliases=("Đủ điều kiện toàn trình",)),
    C("paper_result_required", "bool", aliases=("Kết quả là giấy tờ",)),
    C("has_fee", "bool", aliases=("Có phí, lệ phí", "Có phí")),
    C("for_citizens", "bool", aliases=("Đối tượng công dân",)),
    C("status", aliases=("Trạng thái",), values=("public", "public_amended", "abolished", "draft")),
    C("publication_decision_date", "date", aliases=("Ngày QĐ công bố",)),
    C("legal_basis_effective_date", "date", aliases=("Ngày hiệu lực căn cứ pháp lý",)),
    C("made_public_at", "ts", aliases=("Ngày công khai",)),
    C("has_name", "bool"), C("has_sequence", "bool"), C("has_method", "bool"),
    C("has_components", "bool"), C("has_time_limit", "bool"), C("has_subjects", "bool"),
    C("has_agency", "bool"),
), key=("procedure_code",), file_aliases=("procedures", "thu_tuc", "tthc"),
   references={"agency_code": ("units", "unit_code")}))

_t(Table("publication_decisions", (
    C("decision_id", required=True, not_null=True, aliases=("Số quyết định",)),
    C("procedure_code", required=True, not_null=True, aliases=("Mã TTHC",)),
    C("decision_date", "date", required=True, not_null=True, aliases=("Ngày quyết định",)),
    C("action", values=("add", "amend", "abolish"), aliases=("Hình thức",)),
    C("legal_basis_effective_date", "date", aliases=("Ngày hiệu lực",)),
    C("made_public_at", "ts", aliases=("Ngày công khai",)),
), key=("decision_id", "procedure_code"), file_aliases=("publication_decisions", "quyet_dinh_cong_bo"),
   references={"procedure_code": ("procedures", "procedure_code")}))

_t(Table("online_services", (
    C("service_id", required=True, not_null=True, aliases=("Mã dịch vụ", "Mã DVC")),
    C("procedure_code", required=True, not_null=True, aliases=("Mã TTHC", "Mã thủ tục")),
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị",)),
    C("level", values=("partial", "full"), aliases=("Mức độ",)),
    C("status", values=("public", "testing", "stopping"), aliases=("Trạng thái",)),
), key=("service_id",), file_aliases=("online_services", "dvc_truc_tuyen", "dvctt"),
   references={"unit_code": ("units", "unit_code"), "procedure_code": ("procedures", "procedure_code")}))

_t(Table("dossiers", (
    C("dossier_code", required=True, not_null=True, aliases=("Mã hồ sơ", "Số hồ sơ")),
    C("procedure_code", required=True, not_null=True, aliases=("Mã TTHC", "Mã thủ tục")),
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị", "Cơ quan giải quyết", "Mã cơ quan")),
    C("channel", values=("1", "2", "3"), aliases=("Kênh nộp", "Hình thức nộp")),
    C("submitted_at", "ts", aliases=("Ngày nộp",), future_ok=False),
    C("received_at", "ts", required=True, not_null=True, aliases=("Ngày tiếp nhận",), future_ok=False),
    C("due_at", "ts", aliases=("Ngày hẹn trả",)),
    C("finished_at", "ts", aliases=("Ngày xử lý xong", "Ngày hoàn thành", "Ngày có kết quả"), future_ok=False),
    C("returned_at", "ts", aliases=("Ngày trả kết quả",), future_ok=False),
    C("status", required=True, not_null=True, aliases=("Trạng thái",),
      values=("received", "processing", "supplement", "finished", "returned", "rejected", "stopped", "withdrawn")),
    C("synced_at", "ts", aliases=("Ngày đồng bộ", "Đồng bộ DVCQG"), future_ok=False),
    C("from_national_portal", "bool", aliases=("Nộp qua Cổng DVCQG",)),
    C("fee_amount", "float", aliases=("Phí, lệ phí", "Số tiền phí"), min_value=0),
    C("has_financial_obligation", "bool", aliases=("Có nghĩa vụ tài chính",)),
    C("paid_online", values=("0", "1", "2"), aliases=("Thanh toán trực tuyến",)),
    C("e_result", "bool", aliases=("Có kết quả điện tử",)),
    C("digitized_components", "bool", aliases=("Số hóa thành phần",)),
    C("reused_digitized_data", "bool", aliases=("Tái sử dụng dữ liệu số",)),
    C("from_personal_store", "bool", aliases=("Kho dữ liệu cá nhân",)),
    C("vneid_authenticated", "bool", aliases=("Xác thực VNeID",)),
    C("receiving_official_id", aliases=("Cán bộ tiếp nhận",)),
    C("handling_official_id", aliases=("Cán bộ xử lý", "Cán bộ thụ lý")),
    C("applicant_name", aliases=("Tên người nộp", "Chủ hồ sơ", "Người nộp"), personal=True),
    C("applicant_id_number", aliases=("Số CCCD", "Số giấy tờ"), personal=True),
    C("applicant_phone", aliases=("Số điện thoại", "Điện thoại"), personal=True),
    C("applicant_address", aliases=("Địa chỉ",), personal=True),
), key=("dossier_code",), file_aliases=("dossiers", "ho_so", "hoso"),
   references={"unit_code": ("units", "unit_code"), "procedure_code": ("procedures", "procedure_code")},
   checks=(("due_at", "received_at"), ("finished_at", "received_at"), ("returned_at", "received_at"))))

_t(Table("dossier_events", (
    C("dossier_code", required=True, not_null=True, aliases=("Mã hồ sơ",)),
    C("seq", "int", required=True, not_null=True, aliases=("STT", "Thứ tự"), min_value=0),
    C("event", required=True, not_null=True, aliases=("Sự kiện", "Thao tác"),
      values=("received", "assigned", "step_done", "supplement_requested", "supplement_completed",
              "finished", "returned", "rejected", "stopped", "withdrawn", "deadline_extended", "apology_sent")),
    C("at", "ts", required=True, not_null=True, aliases=("Thời điểm", "Thời gian"), future_ok=False),
    C("official_id", aliases=("Cán bộ", "Mã cán bộ")),
    C("step_name", aliases=("Bước xử lý", "Tên bước")),
    C("step_due_at", "ts", aliases=("Hạn bước",)),
), key=("dossier_code", "seq"), file_aliases=("dossier_events", "events", "qua_trinh_xu_ly", "nhat_ky"),
   references={"dossier_code": ("dossiers", "dossier_code")}))

_t(Table("feedback", (
    C("feedback_id", required=True, not_null=True, aliases=("Mã PAKN", "Mã phản ánh")),
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị",)),
    C("category", values=("regulation", "staff", "other"), aliases=("Phân loại", "Loại")),
    C("source", values=("direct", "transferred"), aliases=("Nguồn",)),
    C("sent_at", "ts", required=True, not_null=True, aliases=("Ngày gửi",), future_ok=False),
    C("transferred_at", "ts", aliases=("Ngày chuyển",), future_ok=False),
    C("accepted_at", "ts", aliases=("Ngày tiếp nhận",), future_ok=False),
    C("rejected_at", "ts", aliases=("Ngày từ chối",), future_ok=False),
    C("supplement_requested_at", "ts", aliases=("Ngày yêu cầu bổ sung",), future_ok=False),
    C("processed_at", "ts", aliases=("Ngày xử lý", "Ngày trả lời"), future_ok=False),
    C("published_at", "ts", aliases=("Ngày công khai",), future_ok=False),
    C("likes", "int", aliases=("Lượt thích",), min_value=0),
    C("dislikes", "int", aliases=("Lượt không thích",), min_value=0),
    C("repeated", "bool", aliases=("Phản ánh lại",)),
    C("official_id", aliases=("Cán bộ bị phản ánh",)),
    C("dossier_code", aliases=("Mã hồ sơ",)),
), key=("feedback_id",), file_aliases=("feedback", "pakn", "phan_anh"),
   references={"unit_code": ("units", "unit_code")}))

_t(Table("ratings", (
    C("dossier_code", required=True, not_null=True, aliases=("Mã hồ sơ",)),
    C("rated_at", "ts", required=True, not_null=True, aliases=("Ngày đánh giá",), future_ok=False),
    C("rating", required=True, not_null=True, aliases=("Mức độ hài lòng", "Đánh giá"),
      values=("very_satisfied", "satisfied", "unsatisfied")),
    C("comment", aliases=("Ý kiến", "Nhận xét")),
), key=("dossier_code", "rated_at"), file_aliases=("ratings", "danh_gia"),
   references={"dossier_code": ("dossiers", "dossier_code")}))

_t(Table("certified_copy_units", (
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị",)),
    C("provides_e_certified_copy", "bool", required=True, not_null=True, aliases=("Chứng thực điện tử",)),
    C("as_of", "date", required=True, not_null=True, aliases=("Ngày cập nhật",)),
), key=("unit_code", "as_of"), file_aliases=("certified_copy_units", "chung_thuc"),
   references={"unit_code": ("units", "unit_code")}))

_t(Table("national_report", (
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị",)),
    C("period_start", "date", required=True, not_null=True, aliases=("Từ ngày",)),
    C("period_end", "date", required=True, not_null=True, aliases=("Đến ngày",)),
    C("received_count", "int", required=True, not_null=True, aliases=("Số hồ sơ tiếp nhận",), min_value=0),
), key=("unit_code", "period_start", "period_end"), file_aliases=("national_report", "bao_cao_quoc_gia"),
   references={"unit_code": ("units", "unit_code")}, checks=(("period_end", "period_start"),)))

_t(Table("owners", (
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị",)),
    C("metric_code", required=True, not_null=True, aliases=("Mã chỉ số", "Chỉ số")),
    C("owner_name", required=True, not_null=True, aliases=("Người phụ trách", "Họ tên")),
    C("owner_title", aliases=("Chức vụ",)),
), key=("unit_code", "metric_code"), file_aliases=("owners", "phu_trach"),
   references={"unit_code": ("units", "unit_code")}))

# A unit's own one-stop self-assessment (Decision 800/QĐ-UBND of 2019): points it gave itself for a group,
# a metric or its total ("TONG") in a period — compared with the computed figures (1d of the directive).
SELF_ASSESSMENT_TOTAL = "TONG"
_t(Table("self_assessments", (
    C("unit_code", unit_code=True, required=True, not_null=True, aliases=("Mã đơn vị", "Mã cơ quan")),
    C("period", required=True, not_null=True, aliases=("Kỳ", "Kỳ đánh giá", "Kỳ tự đánh giá"),
      pattern=r"\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?", example="2026-Q3, 2026-09 hoặc 2026"),
    C("item_code", unit_code=True, required=True, not_null=True,
      aliases=("Nhóm hoặc chỉ số", "Mã nhóm hoặc chỉ số", "Mã nhóm/chỉ số", "Nhóm chỉ số", "Mã chỉ số", "Nội dung"),
      pattern=r"[A-Z][A-Z0-9_]*", example="TDGQ, ON_TIME hoặc TONG"),
    C("points", "float", required=True, not_null=True, aliases=("Điểm tự đánh giá", "Điểm tự chấm", "Điểm"),
      min_value=0),
), key=("unit_code", "period", "item_code"), file_aliases=("self_assessments", "tu_danh_gia", "tu_cham_diem"),
   references={"unit_code": ("units", "unit_code")}))

# Applicant personal data: never in a publication output.
PERSONAL_COLUMNS = tuple(c.name for c in TABLES["dossiers"].columns if c.personal)

# Load order: referenced tables first, so one folder loads in one go.
LOAD_ORDER = ["units", "officials", "procedures", "publication_decisions", "online_services", "dossiers",
              "dossier_events", "feedback", "ratings", "certified_copy_units", "national_report", "owners", "self_assessments"]

RATING_NUMBERS = {"1": "unsatisfied", "2": "unsatisfied", "3": "satisfied", "4": "satisfied", "5": "very_satisfied",
                  "rất hài lòng": "very_satisfied", "hài lòng": "satisfied", "không hài lòng": "unsatisfied"}


def fold(text: str) -> str:
    """Header/name matching key: lower case, no diacritics, words joined by '_'."""
    text = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def header_map(table: Table) -> dict[str, str]:
    """Folded header → canonical column name."""
    out = {}
    for c in table.columns:
        out[fold(c.name)] = c.name
        for a in c.aliases:
            out.setdefault(fold(a), c.name)
    return out
