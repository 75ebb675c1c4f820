"""The figures do not move unless a rule says so: the engine reproduces, exactly, the golden figures saved
before it changed (tests/golden.py) — every metric for every unit, sub-tree, official and procedure, for
months, quarters, a range, the year and as-of days, under both shipped profiles — on the sample and on the
hand-worked province. A deliberate rule change rewrites them (`python -m tests.golden`) in its own commit."""
import difflib

import pytest

import golden


def _same(kind: str, store):
    saved = golden.read(kind)
    assert len(saved) == 5, f"golden files missing in {golden.GOLDEN}"
    now = golden.figures(store)
    assert set(now) == set(saved)
    for name in sorted(saved):
        if now[name] != saved[name]:
            diff = "".join(list(difflib.unified_diff(saved[name].splitlines(True), now[name].splitlines(True),
                                                     "golden", "now", n=0))[:40])
            pytest.fail(f"{kind}.{name} moved:\n{diff}")


def test_sample_figures_equal_the_golden_ones(sample_store, monkeypatch):
    monkeypatch.setenv("KPI_CACHE", "0")
    _same("sample", sample_store)


def test_handworked_figures_equal_the_golden_ones(hw, monkeypatch):
    monkeypatch.setenv("KPI_CACHE", "0")
    _same("handworked", hw)
