"""The analyst's JupyterLab, in a real browser: JupyterLab on a free local port against the small sample
store, Debian's Chromium driven through Playwright (launched from the system's executable — never a
downloaded browser). Every cell of 02, 03 and 04 runs; no error output; widgets render as controls; SVG
charts are drawn; changing the group and the unit in 02 and the unit in 03 changes the views.
Screenshots of each notebook are written to the test's temporary folder."""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT

TOKEN = "kpi766-test"
NOTEBOOKS = ("02_explore_trends", "03_inspection_drilldown", "04_officials")


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium not installed")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(sample_store, tmp_path_factory):
    """A JupyterLab server on a copy of the notebooks (the repository's files are never written)."""
    chromium = _chromium()
    if not os.environ.get("CI"):
        pytest.importorskip("playwright")
    root = tmp_path_factory.mktemp("lab")
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", root / f"{name}.ipynb")
    home = tmp_path_factory.mktemp("jupyter-home")
    # every cell in the page (no windowing: the checks read every cell's prompt), no news pop-up
    settings = home / "settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = _free_port()
    env = {**os.environ, "KPI_STORE": str(sample_store), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root",
         "--LabApp.news_url=", "--ServerApp.open_browser=False"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail("JupyterLab did not start: " + (root / "jupyterlab.log").read_text()[-2000:])
            time.sleep(0.5)
    yield {"base": base, "root": root, "chromium": chromium}
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=lab["chromium"], args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _open_and_run_all(browser, lab, name, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{lab['base']}/lab/tree/{name}.ipynb?token={TOKEN}&reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # the kernel started and idle before anything is sent to it (a Run All sent earlier can be lost)
    page.wait_for_function("() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
                           ".some(e => /ipykernel\\)? \\| Idle/.test(e.textContent))", timeout=120_000)
    page.wait_for_timeout(1000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # done when every code cell has an execution count and none is running ("[*]") — or a cell failed
    # (Run All stops there), which the checks below then report with its error
    try:
        _wait_done(page)
    except Exception:
        page.screenshot(path=str(tmp_path / f"{name}-timeout.png"), full_page=True)
        raise
    page.wait_for_timeout(1500)
    return page


def _wait_done(page):
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            const failed = document.querySelector(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']");
            return prompts.length > 0 && !prompts.some(p => p.textContent.includes('*'))
                && (failed || prompts.every(p => /\\[\\d+\\]/.test(p.textContent)));
        }""", timeout=int(os.environ.get("KPI_LAB_TIMEOUT", "300")) * 1000)


def _check_clean(page, name, tmp_path):
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.first.inner_text()[:2000]
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    assert all(re.search(r"\[\d+\]", p) for p in prompts), prompts          # every cell ran
    text = page.locator(".jp-NotebookPanel").inner_text()
    assert "Error displaying widget" not in text and "Traceback" not in text
    assert page.locator(".jp-NotebookPanel svg.marks").count() > 0


def _view_state(page, selector="h2"):
    """The title of the live view and a digest of its charts: what a person sees change."""
    title = page.locator(f".jp-NotebookPanel .kpi766 {selector}").first.inner_text()
    svgs = page.locator(".jp-NotebookPanel .kpi766 svg.marks").evaluate_all("els => els.map(e => e.innerHTML).join('')")
    return title, hashlib.sha256(svgs.encode()).hexdigest()


def test_explore_trends_in_jupyterlab(browser, lab, tmp_path):
    page = _open_and_run_all(browser, lab, "02_explore_trends", tmp_path)
    _check_clean(page, "02_explore_trends", tmp_path)
    assert page.locator(".jp-NotebookPanel .widget-dropdown select").count() >= 4      # real controls
    assert page.locator(".jp-NotebookPanel input[list]").count() == 1                  # the unit, with search
    assert page.locator(".jp-NotebookPanel .kpi766 h2").count() == 1                  # one live view
    before = _view_state(page)
    group = page.locator(".jp-NotebookPanel .widget-dropdown").filter(has_text="Nhóm").locator("select")
    group.select_option(label="Tiến độ giải quyết")
    page.wait_for_function("() => document.querySelector('.jp-NotebookPanel .kpi766 h2').textContent"
                           ".includes('Tiến độ giải quyết')", timeout=60_000)
    after_group = _view_state(page)
    assert after_group[1] != before[1]
    assert "% điểm tối đa của nhóm" in page.locator(".jp-NotebookPanel .kpi766").first.inner_text()
    unit = page.locator(".jp-NotebookPanel input[list]")
    option = page.locator(".jp-NotebookPanel datalist option").nth(3).get_attribute("value")
    unit.fill(option)
    unit.press("Enter")
    code = option.rsplit("(", 1)[-1].rstrip(")")
    name = option.rsplit(" (", 1)[0]
    page.wait_for_function(f"() => document.querySelector('.jp-NotebookPanel .kpi766 h2').textContent"
                           f".startsWith({name!r})", timeout=60_000)
    after_unit = _view_state(page)
    assert after_unit[0] != after_group[0] and after_unit[1] != after_group[1], code
    page.screenshot(path=str(tmp_path / "02_after_changes.png"), full_page=True)


def test_inspection_drilldown_in_jupyterlab(browser, lab, tmp_path):
    page = _open_and_run_all(browser, lab, "03_inspection_drilldown", tmp_path)
    _check_clean(page, "03_inspection_drilldown", tmp_path)
    detail = page.locator(".jp-NotebookPanel .kpi766 section h2").filter(has_text="Đi sâu")
    before = detail.first.inner_text()
    text = page.locator(".jp-NotebookPanel").inner_text()
    assert "Lý do tính trễ hạn" in text
    # the unit's section opens on today's early warning, then its running month, then the period
    assert text.index("Cảnh báo sớm hôm nay") < text.index("Tháng đang chạy") < text.index("Đi sâu")
    page.screenshot(path=str(tmp_path / "03_opened.png"), full_page=True)
    pick = page.locator(".jp-NotebookPanel input[list]")
    option = page.locator(".jp-NotebookPanel datalist option").nth(1).get_attribute("value")
    pick.fill(option)
    pick.press("Enter")
    code = option.split(" — ")[0].rsplit("(", 1)[-1].rstrip(")")
    page.wait_for_function(f"() => [...document.querySelectorAll('.jp-NotebookPanel .kpi766 section h2')]"
                           f".some(h => h.textContent.includes('({code})'))", timeout=120_000)
    assert detail.first.inner_text() != before
    page.screenshot(path=str(tmp_path / "03_after_pick.png"), full_page=True)


def test_officials_in_jupyterlab(browser, lab, tmp_path):
    page = _open_and_run_all(browser, lab, "04_officials", tmp_path)
    _check_clean(page, "04_officials", tmp_path)
    officials = page.locator(".jp-NotebookPanel .kpi766").filter(has_text="Chỉ số cá nhân của từng cán bộ") \
        .locator("table.kpi")
    assert officials.locator("tbody tr").count() == 25                  # a page, not "… và 281 dòng nữa"
    assert "1–25 /" in page.locator(".jp-NotebookPanel").inner_text()
    first_name = officials.locator("tbody tr td").nth(1).inner_text()
    box = page.locator(".jp-NotebookPanel .widget-text input[type='text']").first   # the officials' filter
    box.fill(first_name)
    page.wait_for_function("""() => { const v = [...document.querySelectorAll('.jp-NotebookPanel .kpi766')]
        .find(d => d.textContent.includes('Chỉ số cá nhân của từng cán bộ'));
        return v && v.querySelectorAll('tbody tr').length < 25; }""", timeout=60_000)
    rows = officials.locator("tbody tr")
    assert 1 <= rows.count() < 25 and first_name in rows.first.inner_text()
    # text cells read left to right, numbers to the right, as in the report
    cells = officials.locator("tbody tr").first.locator("td")
    assert cells.nth(1).evaluate("e => getComputedStyle(e).textAlign") in ("left", "start")
    assert cells.nth(5).evaluate("e => getComputedStyle(e).textAlign") == "right"
    page.screenshot(path=str(tmp_path / "04_filtered.png"), full_page=True)
