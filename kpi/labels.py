"""Every Vietnamese text a person reads, in one place."""

GRADES = {"XUAT_SAC": "Xuất sắc", "TOT": "Tốt", "KHA": "Khá", "TRUNG_BINH": "Trung bình", "YEU": "Yếu"}
NO_DOSSIERS = "Không có hồ sơ"   # a unit that handled no dossier in the period: not graded
GRADE_COLORS = {"XUAT_SAC": "#1a7f37", "TOT": "#57ab5a", "KHA": "#d4a72c", "TRUNG_BINH": "#e16f24", "YEU": "#cf222e"}

GROUPS = {
    "CKMB": "Công khai, minh bạch",
    "TDGQ": "Tiến độ giải quyết",
    "DVCTT": "Dịch vụ công trực tuyến",
    "TTTT": "Thanh toán trực tuyến",
    "MDSH": "Mức độ số hóa hồ sơ",
    "MDHL": "Mức độ hài lòng",
}
# column headers where six groups sit side by side (the ranking): short words, never the internal codes
GROUP_SHORT = {"CKMB": "Công khai", "TDGQ": "Tiến độ", "DVCTT": "Trực tuyến", "TTTT": "Thanh toán",
               "MDSH": "Số hóa", "MDHL": "Hài lòng"}
DECISION_GROUPS = {**GROUPS, "DVCTT": "Dịch vụ công trực tuyến và thanh toán trực tuyến"}

METRICS = {
    "PUBLISH_ON_TIME": "Tỷ lệ TTHC công bố đúng hạn",
    "PUBLIC_UPDATE_ON_TIME": "Tỷ lệ TTHC được công khai đúng hạn trên CSDL quốc gia",
    "PUBLIC_CONTENT_FULL": "Tỷ lệ TTHC công khai đầy đủ nội dung",
    "DOSSIER_SYNC": "Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG",
    "ON_TIME": "Tỷ lệ hồ sơ giải quyết đúng hạn",
    "AVG_PROCESSING_TIME": "Thời gian giải quyết trung bình",
    "LATE_FINISHED": "Hồ sơ trễ hạn đã giải quyết",
    "LATE_OPEN": "Hồ sơ trễ hạn đang giải quyết",
    "LATE_APOLOGY": "Hồ sơ trễ hạn có thư xin lỗi",
    "ONLINE_PROVISION": "Tỷ lệ TTHC cung cấp dịch vụ công trực tuyến",
    "ONLINE_SERVICE_USED": "Tỷ lệ DVC trực tuyến có phát sinh hồ sơ",
    "ONLINE_SUBMISSION": "Tỷ lệ hồ sơ nộp trực tuyến",
    "FULL_ONLINE_DOSSIERS": "Tỷ lệ hồ sơ trực tuyến toàn trình",
    "CHANNEL_ONLINE": "Hồ sơ nộp trực tuyến",
    "CHANNEL_DIRECT": "Hồ sơ nộp trực tiếp",
    "CHANNEL_POSTAL": "Hồ sơ nộp qua bưu chính công ích",
    "PAID_ONLINE": "Tỷ lệ hồ sơ thanh toán trực tuyến",
    "FEE_PROCEDURES_PAID_ONLINE": "Tỷ lệ TTHC có phí có thanh toán trực tuyến",
    "FEE_PROCEDURES_WITH_DOSSIERS": "Tỷ lệ TTHC có phí có hồ sơ đồng bộ dữ liệu phí",
    "ORIGINAL_RESULT_AVAILABLE": "Tỷ lệ hồ sơ cấp kết quả điện tử",
    "SO_HOA_GIAY_TO_GIAI_QUYET": "Tỷ lệ số hóa hồ sơ, kết quả giải quyết",
    "ELECTRONIC_CERTIFIED_COPY": "Tỷ lệ xã cung cấp chứng thực bản sao điện tử",
    "REUSED_DIGITIZED_DATA": "Tỷ lệ hồ sơ tái sử dụng dữ liệu số hóa",
    "SYNCED_WITH_DVCQG_PERSONAL_STORAGE": "Tỷ lệ hồ sơ kết nối kho dữ liệu cá nhân",
    "CITIZEN_DATA_CONNECTED_DOSSIER": "Tỷ lệ hồ sơ khai thác dữ liệu dân cư",
    "CITIZEN_DATA_CONNECTED_FORMALITY": "Tỷ lệ TTHC có hồ sơ khai thác dữ liệu dân cư",
    "PETITION_PROCESSING_ON_TIME": "Tỷ lệ phản ánh, kiến nghị xử lý đúng hạn",
    "PETITION_HANDLING_SATISFACTION": "Mức độ hài lòng về xử lý phản ánh, kiến nghị",
    "DOSSIER_RECEIVING_SATISFACTION": "Mức độ hài lòng về tiếp nhận, giải quyết hồ sơ",
    "DOSSIER_NO_COMPLAINT": "Hồ sơ không bị phản ánh, không bị đánh giá không hài lòng",
    "PETITION_CLASSIFICATION_TTHC": "Phản ánh về quy định, TTHC",
    "PETITION_CLASSIFICATION_STAFF": "Phản ánh về hành vi cán bộ",
    "STAFF_CONDUCT": "Hồ sơ không bị phản ánh về hành vi cán bộ",
}

UNIT_LEVELS = ("department", "district", "commune")      # the levels units are ranked in, in report order
LEVELS = {"province": "Tỉnh", "department": "Sở, ban, ngành", "district": "Huyện (trước 7/2025)", "commune": "Xã, phường"}

COLUMNS = {
    "period": "Kỳ", "unit_code": "Mã đơn vị", "unit_name": "Đơn vị", "group_code": "Nhóm",
    "metric_code": "Chỉ số", "numerator": "Tử số", "denominator": "Mẫu số", "rate": "Tỷ lệ (%)",
    "points": "Điểm", "max_points": "Điểm tối đa", "total": "Tổng điểm", "grade": "Xếp loại",
    "rank": "Hạng", "rank_in_level": "Hạng trong khối", "change": "Thay đổi", "level": "Khối",
}

# a dossier event, as a step an official or a citizen reads it (where the dossier is)
EVENTS = {"received": "Tiếp nhận", "assigned": "Phân công xử lý", "step_done": "Xử lý",
          "supplement_requested": "Yêu cầu bổ sung", "supplement_completed": "Công dân đã bổ sung",
          "deadline_extended": "Gia hạn", "apology_sent": "Gửi thư xin lỗi", "finished": "Đã xử lý xong",
          "returned": "Đã trả kết quả", "rejected": "Từ chối", "stopped": "Dừng xử lý", "withdrawn": "Rút hồ sơ"}
