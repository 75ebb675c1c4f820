import re
import subprocess
import sys
import tomllib

from conftest import ROOT


def _pins_pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = list(data["project"]["dependencies"])
    for extra in data["project"]["optional-dependencies"].values():
        deps += extra
    return {d.split("==")[0].lower(): d.split("==")[1] for d in deps}


def _pins_environment():
    pins = {}
    for line in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*-\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_every_dependency_is_pinned_exactly():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert all("==" in d for d in data["project"]["dependencies"])


def test_environment_yml_agrees_with_pyproject():
    assert _pins_environment() == _pins_pyproject()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme.split("\n## ")[0]
    assert "make report" in readme.split("\n## ")[0]
    assert "make test" in ci


def test_charts_start_without_building_the_iri_grammar():
    """Drawing a phone picture imports altair, hence jsonschema, which imports rfc3987_syntax (1,3 s building a
    grammar): kpi defers it to the first "iri" check — which still answers."""
    code = ("import sys, kpi.explore, jsonschema\n"
            "assert 'lark' not in sys.modules, 'the iri grammar was built at import'\n"
            "v = jsonschema.Draft202012Validator({'format': 'iri'}, format_checker=jsonschema.FormatChecker())\n"
            "print(len(list(v.iter_errors('http://exa mple'))), len(list(v.iter_errors('http://example.org/ä'))))\n"
            "print('lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0", "True"]
