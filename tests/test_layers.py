"""The package's folders show the flow raw → load → store → count → analysis → present/report/notebook → cli,
and the imports keep to it: no import runs from a lower layer to a higher one, no circle, no private name
taken from another module, and no import hidden inside a function but a heavy optional library deferred on
purpose. Read from the source with `ast`, so a move that breaks the layout fails here, naming both files."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kpi"

# the layer a module is in, by its folder (a module at the root of kpi/ is in "root"; cli, the package's
# public face and the kpi.explore alias sit on top)
TOP = {"kpi", "kpi.cli", "kpi.explore"}
STORE = {"kpi.store"}
MAY_IMPORT = {
    "root": {"root"},
    "store": {"root"},
    "load": {"root", "store", "count", "load"},     # count: the loader keeps the dossiers' facts
    "count": {"root", "store", "count"},
    "analysis": {"root", "store", "load", "count", "analysis"},
    "present": {"root", "present"},
    "report": {"root", "store", "load", "count", "analysis", "present", "report"},
    "notebook": {"root", "store", "load", "count", "analysis", "present", "report", "notebook"},
    "sample": {"root", "store", "load", "count", "analysis", "sample"},
    "top": {"root", "store", "load", "count", "analysis", "present", "report", "notebook", "sample", "top"},
}
# the sample province's raw files are written from the root alone: only its portal responses score a store
SAMPLE_WRITERS = {"kpi.sample.province", "kpi.sample.sync", "kpi.sample.files"}

# heavy libraries a function may import when it needs them, so that importing kpi (a CLI's --help, a
# notebook's first cell) does not pay for them: progress bars, Excel, Word, chart export, the notebook stack
DEFERRED_OK = {"holidays", "tqdm", "openpyxl", "docx", "vl_convert", "IPython", "ipywidgets", "papermill", "nbclient",
               "nbformat", "nbconvert", "jupyter_client"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(mod: str) -> str:
    if mod in TOP:
        return "top"
    if mod in STORE:
        return "store"
    parts = mod.split(".")
    if len(parts) == 2 and (PACKAGE / f"{parts[1]}.py").is_file():
        return "root"
    return parts[1]


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(node: ast.ImportFrom, mod: str, path: Path) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mod: str, path: Path):
    """(imported kpi module, names taken, line, inside a function) for each import of a kpi module, and the
    same for other libraries with the module's top name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = set()
    for f in ast.walk(tree):
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(n) for n in ast.walk(f) if n is not f)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], node.lineno, id(node) in inside
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node, mod, path)
            names = [a.name for a in node.names]
            if target in MODULES and target.count(".") >= 0:
                subs = [n for n in names if f"{target}.{n}" in MODULES]
                for n in subs:
                    yield f"{target}.{n}", [], node.lineno, id(node) in inside
                rest = [n for n in names if n not in subs]
                if rest:
                    yield target, rest, node.lineno, id(node) in inside
            else:
                yield target, names, node.lineno, id(node) in inside


def own(target: str) -> bool:
    return target == "kpi" or target.startswith("kpi.")


def where(mod: str, line: int) -> str:
    return f"{MODULES[mod].relative_to(PACKAGE.parent)}:{line}"


EDGES = [(mod, target, names, line, deferred)
         for mod, path in MODULES.items() for target, names, line, deferred in imports(mod, path)]


def test_the_walk_sees_the_package():
    """The walk finds the layers and the imports between them (a walk that saw nothing would pass all)."""
    layers = {layer(m) for m in MODULES}
    assert {"root", "store", "load", "count", "analysis", "present", "report", "notebook", "sample", "top"} <= layers
    assert ("kpi.analysis.api", "kpi.count.engine") in {(a, b) for a, b, *_ in EDGES}
    assert len([e for e in EDGES if own(e[1])]) > 100


def test_no_import_runs_back_up():
    bad = []
    for mod, target, _, line, _ in EDGES:
        if not own(target) or target not in MODULES:
            continue
        if layer(target) not in MAY_IMPORT[layer(mod)]:
            bad.append(f"{where(mod, line)} ({layer(mod)}) imports {MODULES[target].relative_to(PACKAGE.parent)} "
                       f"({layer(target)})")
        elif mod in SAMPLE_WRITERS and layer(target) not in {"root", "sample"}:
            bad.append(f"{where(mod, line)} writes sample files but imports {target}")
    assert not bad, "imports against the flow:\n" + "\n".join(bad)


def test_no_circle():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, target, _, _, _ in EDGES:
        if own(target) and target in MODULES and target != mod and mod != "kpi" and not target == "kpi":
            graph[mod].add(target)
    # a package's __init__ is imported before its submodules: an edge into a submodule goes through it too
    seen, stack, cycles = set(), [], []

    def visit(m):
        if m in stack:
            cycles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for t in sorted(graph[m]):
            visit(t)
        stack.pop()

    for m in sorted(graph):
        visit(m)
    names = [" → ".join(str(MODULES[c].relative_to(PACKAGE.parent)) for c in cyc) for cyc in cycles]
    assert not cycles, "import circles:\n" + "\n".join(names)


def test_no_private_name_crosses_modules():
    bad = [f"{where(mod, line)} takes {n} from {target}"
           for mod, target, names, line, _ in EDGES if own(target) and target != mod
           for n in names if n.startswith("_")]
    assert not bad, "\n".join(bad)


def test_imports_inside_functions_are_deferred_heavy_libraries_only():
    bad = []
    for mod, target, _, line, deferred in EDGES:
        if not deferred or layer(mod) == "top":     # cli: each command imports what it runs (its docstring)
            continue
        if own(target):
            if layer(mod) != "top":
                bad.append(f"{where(mod, line)} imports {target} inside a function")
        elif target.split(".")[0] not in DEFERRED_OK:
            bad.append(f"{where(mod, line)} defers {target}, which is not a heavy optional library")
    assert not bad, "\n".join(bad)


def test_every_import_of_kpi_names_something_that_exists():
    """Imports inside functions (the CLI's) run only when their command runs: each one, like every other,
    must name a module or a name that is there — so a move cannot leave a command broken."""
    import importlib
    bad = []
    for mod, target, names, line, _ in EDGES:
        if not own(target):
            continue
        module = importlib.import_module(target)
        bad += [f"{where(mod, line)}: {target} has no {n}" for n in names if not hasattr(module, n)]
    assert not bad, "\n".join(bad)


def test_every_folder_says_what_lives_there():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and "import" in doc.lower(), f"{init}: the docstring says what lives here and what it may import"


@pytest.mark.parametrize("source, message", [
    ("from kpi.report.content import build\n", "imports against the flow"),
    ("from kpi.analysis.api import _check\n", "takes _check"),
])
def test_the_checks_fail_on_a_bad_import(source, message, monkeypatch):
    """The checks above are real: a count module importing the report, or a private name, is caught."""
    fake = PACKAGE / "count" / "engine.py"
    extra = [(module_name(fake), t, n, 1, d) for t, n, _, d in _parse(source, "kpi.count.engine", fake)]
    monkeypatch.setitem(globals(), "EDGES", EDGES + extra)
    with pytest.raises(AssertionError, match=message):
        if "flow" in message:
            test_no_import_runs_back_up()
        else:
            test_no_private_name_crosses_modules()


def _parse(source, mod, path):
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            target = resolve(node, mod, path)
            yield target, [a.name for a in node.names], 1, False
