"""Notebook execution: a failing cell or a hung cell becomes a one-line error naming the notebook."""
import nbformat
import pytest

from kpi.report import runner


def _notebook(path, source):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)
    return path


def test_failing_cell_names_notebook_cell_and_error(tmp_path):
    nb = _notebook(tmp_path / "hong.ipynb", "raise ValueError('thiếu cột due_date')")
    with pytest.raises(runner.ReportError) as e:
        runner.execute(nb, tmp_path / "out.ipynb", {"x": 2})
    msg = str(e.value)
    assert "hong.ipynb" in msg and "ValueError" in msg and "thiếu cột due_date" in msg and "\n" not in msg


def test_hung_cell_times_out_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_CELL_TIMEOUT", "3")
    nb = _notebook(tmp_path / "treo.ipynb", "import time\ntime.sleep(60)")
    with pytest.raises(runner.ReportError) as e:
        runner.execute(nb, tmp_path / "out.ipynb", {})
    assert "treo.ipynb" in str(e.value) and "quá 3 giây" in str(e.value)


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_bad_cell_timeout_is_a_clear_error(tmp_path, monkeypatch, value):
    monkeypatch.setenv("KPI_CELL_TIMEOUT", value)
    nb = _notebook(tmp_path / "ok.ipynb", "y = 2")
    with pytest.raises(runner.ReportError, match="KPI_CELL_TIMEOUT"):
        runner.execute(nb, tmp_path / "out.ipynb", {})
