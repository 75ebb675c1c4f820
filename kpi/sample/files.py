"""Writing the sample's files so that the same seed gives the same bytes: timestamps in one text form,
XLSX with fixed metadata and zip times."""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

DOSSIER_TS = ["submitted_at", "received_at", "due_at", "finished_at", "returned_at", "synced_at"]


def fmt_ts(frame, cols, fmt="%Y-%m-%d %H:%M:%S"):
    out = frame.copy()
    for c in cols:
        out[c] = pd.to_datetime(out[c]).dt.strftime(fmt)
    return out


def write_xlsx(frame: pd.DataFrame, path: Path, sheet: str) -> None:
    """XLSX with fixed metadata and zip timestamps, so the bytes depend only on the data."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append([None if (v is None or (isinstance(v, float) and np.isnan(v))) else
                   (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for v in row])
    fixed = dt.datetime(2026, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "kpi766"
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                # the time of saving, replaced inside the element (its namespace declarations kept: with lxml
                # installed openpyxl declares xsi on the element itself)
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, data)
