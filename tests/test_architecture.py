"""The package's shape, checked: the import contracts in pyproject.toml (import-linter),
no import cycle between modules (imports under TYPE_CHECKING and inside functions
count), folders instead of module families, implementation modules private, names
re-exported only by ``__init__`` files, small modules and functions, composition
instead of several project base classes, and every public name of the docs importable."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "autoenhance_nb"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def test_the_import_contracts_hold():
    """Layers (front ends > session > tracker > client > rules > display), the client
    without pandas or widgets, the tracker without widgets, the sandbox alone."""
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
            "--no-cache",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if "No module named importlinter" in run.stderr:
        pytest.fail("import-linter is not installed (pip install -e '.[test]')")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "4 kept, 0 broken" in run.stdout, run.stdout[-3000:]


def _graph():
    import grimp

    return grimp.build_graph("autoenhance_nb", exclude_type_checking_imports=False)


def test_no_import_cycle_between_modules():
    """A cycle hides which module depends on which (the table <-> CSV cycle was held
    together by an import at the bottom of a file)."""
    graph = _graph()
    modules = sorted(graph.modules)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in modules}
    # a package's __init__ importing its own submodules is how it exports them
    for m in modules:
        edges[m] = {t for t in edges[m] if not t.startswith(m + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for m in modules:
        if m not in index:
            visit(m)
    assert cycles == []


def test_no_module_family_shares_a_prefix_and_implementation_is_private():
    """``magic_*``, ``widget_*``, ``table_*`` were folders in all but name."""
    families = defaultdict(list)
    for name in _modules():
        parent, _, leaf = name.rpartition(".")
        if leaf.startswith("_") or "." not in name:
            continue
        prefix = leaf.split("_")[0]
        families[(parent, prefix)].append(leaf)
    shared = {k: v for k, v in families.items() if len(v) > 1}
    assert shared == {}
    public = sorted(
        n
        for n, p in _modules().items()
        if p.name != "__init__.py" and not p.stem.startswith("_") and n not in PUBLIC_MODULES
    )
    assert public == []


#: Modules that are public on purpose (documented, or run with ``python -m``).
PUBLIC_MODULES = {
    "autoenhance_nb.errors",
    "autoenhance_nb.rules.brackets",
}


def test_names_are_re_exported_only_by_init_files():
    """A module other than ``__init__`` that imports a name only to list it in its
    ``__all__`` re-exports it (``table`` re-exported the CSV and row functions)."""
    offenders = []
    for name, path in _modules().items():
        if path.name == "__init__.py" or "__main__" in name:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            (a.asname or a.name)
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for a in node.names
        }
        exported: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                exported = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
        both = sorted(imported & exported)
        if both:
            offenders.append(f"{name}: {both}")
    assert offenders == []


def test_every_public_name_of_the_readme_and_docs_imports():
    """``from autoenhance_nb import X`` and ``autoenhance_nb.X`` as the README, the
    docs and the notebooks write them."""
    import importlib

    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    texts += sorted((ROOT / "notebooks").glob("*.ipynb"))
    names: set[tuple[str, str]] = set()
    for path in texts:
        text = path.read_text(encoding="utf-8")
        for module, items in re.findall(r"from (autoenhance_nb[\w.]*) import ([\w, ]+)", text):
            for item in items.split(","):
                if item.strip():
                    names.add((module, item.strip().split(" as ")[0]))
        for dotted in re.findall(r"\b(?:autoenhance_nb|ae)\.([A-Za-z_][\w.]*)", text):
            names.add(("autoenhance_nb", dotted))
    missing = []
    for module, dotted in sorted(names):
        try:
            obj = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{module}: {exc}")
            continue
        for part in dotted.split("."):
            if not hasattr(obj, part):
                try:
                    obj = importlib.import_module(f"{obj.__name__}.{part}")
                    continue
                except (ImportError, AttributeError):
                    missing.append(f"{module}.{dotted}")
                    break
            obj = getattr(obj, part)
    assert missing == []
    assert len(names) >= 10


def _classes() -> dict[str, tuple[str, list[str]]]:
    """Every class of the package: qualified name -> (module, the names of its bases)."""
    found = {}
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found[f"{name}.{node.name}"] = (name, [ast.unparse(b) for b in node.bases])
    return found


def test_no_class_inherits_from_more_than_one_project_class():
    """The four biggest objects were one class spread over files and joined by
    inheritance (``OrderTracker(OrderOperations, PhotoOperations, BracketOperations)``):
    composition now, as stripe's client builds services around one requestor."""
    classes = _classes()
    ours = {q.rsplit(".", 1)[1] for q in classes}
    framework = {"Exception", "Generic", "Protocol", "NamedTuple", "TypedDict", "Enum"}
    offenders = []
    for qualified, (_, bases) in classes.items():
        project = [b for b in bases if b.split(".")[-1].split("[")[0] in ours - framework]
        if len(project) > 1:
            offenders.append(f"{qualified}({', '.join(bases)})")
    assert offenders == []


def test_no_type_checking_stub_declares_methods():
    """Mixins re-declared each other's methods under ``TYPE_CHECKING`` and drifted."""
    offenders = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                        offenders.append(f"{name}: {inner.name}")
    assert offenders == []


def test_modules_and_functions_stay_small():
    """About 400 lines a module, 60 a function (complexity 12 is ruff's C901, in CI)."""
    big_modules = []
    long_functions = []
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 420:
            big_modules.append(f"{name}: {text.count(chr(10))}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    long_functions.append(f"{name}.{node.name}: {length}")
    assert big_modules == [] and long_functions == []
