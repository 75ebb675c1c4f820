"""Run a report notebook with Papermill and convert it to one self-contained HTML file."""
from __future__ import annotations

import os
import sys
import re
import tempfile
import time
from pathlib import Path

from kpi import config
from kpi.fs import atomic_path, safe_name
import subprocess

TEMPLATES = Path(__file__).resolve().parent / "templates"
NOTEBOOKS = {"monthly": "01_monthly_report.ipynb", "quarterly": "01_monthly_report.ipynb",
             "unit": "01_monthly_report.ipynb"}


class ReportError(Exception):
    pass


# A cell of the report takes seconds; a cell that runs past this has hung (e.g. a lost kernel message),
# and the user gets an error naming the cell instead of a report that never comes.
KERNEL_START_TIMEOUT_S = 120


def cell_timeout() -> int:
    """KPI_CELL_TIMEOUT (seconds, default 600)."""
    raw = os.environ.get("KPI_CELL_TIMEOUT", "600")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ReportError(f"KPI_CELL_TIMEOUT='{raw}' không hợp lệ — đặt một số giây dương, vd. KPI_CELL_TIMEOUT=900")
    return value


def _quiet_kernel_manager():
    """A kernel whose own stderr goes nowhere: its errors reach us through the notebook's outputs, and
    what it prints while shutting down (a Ctrl-C, a library's leak report) must not reach the user."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw["stderr"] = subprocess.DEVNULL
            return await super()._async_launch_kernel(kernel_cmd, **kw)
    return QuietKernelManager


def execute(notebook: Path, executed: Path, params: dict, progress: bool = False) -> None:
    """Run a notebook headless with Papermill; errors and hangs become one-line ReportErrors."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    timeout = cell_timeout()

    try:
        pm.execute_notebook(str(notebook), str(executed), parameters=params, progress_bar=progress,
                            cwd=str(config.project_root()), kernel_name="python3", log_output=False,
                            execution_timeout=timeout, start_timeout=KERNEL_START_TIMEOUT_S,
                            kernel_manager_class=_quiet_kernel_manager())
    except pm.PapermillExecutionError as exc:
        raise ReportError(f"sổ tay {notebook.name} lỗi ở ô {exc.exec_count}: {exc.ename}: {exc.evalue}") from None
    except CellTimeoutError:
        raise ReportError(f"sổ tay {notebook.name}: một ô chạy quá {timeout} giây — nhân Python không "
                          "phản hồi; chạy lại lệnh (hoặc đặt KPI_CELL_TIMEOUT lớn hơn nếu dữ liệu rất lớn)") from None
    except (DeadKernelError, RuntimeError, TimeoutError) as exc:
        raise ReportError(f"sổ tay {notebook.name}: không chạy được nhân Python ({str(exc).splitlines()[0]}) — "
                          "kiểm tra `pip show ipykernel` trong .venv") from None


def notebook_path(name: str) -> Path:
    """The workspace's own copy of a notebook if it has one, else the one beside the installed package (so
    `kpi report` works from any folder)."""
    for folder in (config.project_root() / "notebooks", config.PACKAGE_DIR.parent / "notebooks"):
        if (folder / name).exists():
            return folder / name
    raise ReportError(f"không tìm thấy sổ tay {name} trong {config.project_root() / 'notebooks'} — chạy lệnh từ "
                      "thư mục gốc của kpi766")


def output_path(kind: str, period: str, unit: str | None) -> Path:
    name = f"bao-cao-766-{period}" + (f"-{safe_name(unit)}" if unit else "") + ".html"
    return config.outputs_dir() / period / name


def render(kind: str, period: str, unit: str | None = None, profile: str | None = None, store: str | None = None,
           out: Path | None = None, progress: bool = True) -> tuple[Path, float]:
    """Execute the notebook with the parameters, export HTML with inputs hidden; returns (path, seconds)."""
    import nbformat

    start = time.perf_counter()
    store = str(Path(store or config.default_store()).resolve())
    params = {"period": period, "unit": unit, "profile": str(Path(profile).resolve()) if profile else None,
              "store": store}
    target = Path(out) if out else output_path(kind, period, unit)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / "executed.ipynb"
        execute(notebook_path(NOTEBOOKS[kind]), executed, params, progress=progress and sys.stderr.isatty())
        nb = nbformat.read(executed, as_version=4)
    export_html(nb, target, markdown=False)
    return target, time.perf_counter() - start


def export_html(nb, target: Path, markdown: bool = True) -> Path:
    """An executed notebook → one offline HTML file (inputs hidden, no script fetched at view time)."""
    from nbconvert import HTMLExporter
    nb.metadata["title"] = Path(target).stem
    exporter = HTMLExporter(template_name="kpi766", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            exclude_markdown=not markdown)
    body, _ = exporter.from_notebook_node(nb)
    body = body.replace('<html lang="en">', '<html lang="vi">')
    if re.search(r"<script[^>]*\ssrc=|<link[^>]*href=\"https?:", body):
        raise ReportError("báo cáo có tài nguyên tải từ mạng — không được phép")
    with atomic_path(Path(target)) as tmp:      # never a half-written report
        tmp.write_text(body, encoding="utf-8")
    return Path(target)
