"""Every shipped notebook executes headless in a real kernel (nbclient) against the
sandbox; notebooks are committed clean; no key ever ends up in one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autoenhance_nb.sandbox import Sandbox

from ..helpers import without_autoenhance_env

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(180)]

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
SENTINEL = "sk-SENTINEL-notebook-41d2"
# Things that look like a credential: a key assignment, an x-api-key header with a
# value, or a long opaque token.
KEY_PATTERNS = [
    re.compile(r"AUTOENHANCE_API_KEY\s*=\s*['\"]?[A-Za-z0-9_\-]{8,}"),
    re.compile(r"x-api-key['\"]?\s*[:=]\s*['\"][A-Za-z0-9_\-]{8,}", re.I),
    re.compile(r"api_key\s*=\s*['\"][A-Za-z0-9_\-]{8,}['\"]"),
    re.compile(r"\b(?:sk|pk|ak)[-_][A-Za-z0-9]{16,}\b"),
]


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"quickstart.ipynb", "batch_orders.ipynb", "photos_to_results.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_an_id_and_every_heading_its_own_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert all(cell.get("id") for cell in cells), f"{path.name}: a cell has no id"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nbformat's MissingIDFieldWarning among them
        nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
    headings = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("## ")
    ]
    for a, b in zip(headings, headings[1:], strict=False):
        assert b > a + 1, f"{path.name}: {cells[a]['source'][0]!r} has no cell of its own"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_holds_nothing_that_looks_like_a_key(path):
    text = path.read_text(encoding="utf-8")
    for pattern in KEY_PATTERNS:
        assert not pattern.search(text), f"{path.name} matches {pattern.pattern}"


def _execute(path: Path, workdir: Path, env: dict) -> nbformat.NotebookNode:
    shutil.copytree(path.parent, workdir, dirs_exist_ok=True)
    nb = nbformat.read(workdir / path.name, as_version=4)
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:  # the kernel inherits this process's environment
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def _outputs_text(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom_on_the_sandbox(path, tmp_path):
    env = without_autoenhance_env()
    before = {p.relative_to(path.parent) for p in path.parent.rglob("*")}
    nb = _execute(path, tmp_path, env)  # nbclient raises CellExecutionError on any error
    text = _outputs_text(nb)
    assert "SANDBOX" in text
    assert '"output_type": "error"' not in text
    for cell in nb.cells:  # a cell ends with something a person reads, not a raw dict
        for out in cell.get("outputs", []):
            shown = out.get("data", {}).get("text/plain", "")
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {}) and "%|" in shown:
                # a progress bar: what the notebook keeps is where it ended
                assert shown.split("%|")[0].endswith("100"), shown
            if out["output_type"] == "execute_result" and set(out["data"]) == {"text/plain"}:
                shown = out["data"]["text/plain"]
                assert not shown.startswith("{") and shown not in ("True", "False"), shown
    # what a run writes beside the notebook is ignored by git, never left untracked
    made = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()} - before
    if shutil.which("git") and made:
        names = [f"notebooks/{p}" for p in sorted(made)]
        root = path.parents[1]
        ignored = subprocess.run(
            ["git", "check-ignore", "--no-index", *names], cwd=root, capture_output=True, text=True
        ).stdout.split()
        assert sorted(set(names) - set(ignored)) == [], "written and not ignored"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_with_a_key_never_shows_or_saves_it(path, tmp_path):
    with Sandbox(api_key=SENTINEL, processing_seconds=0) as live:
        env = without_autoenhance_env()
        env.update(AUTOENHANCE_API_KEY=SENTINEL, AUTOENHANCE_BASE_URL=live.url)
        nb = _execute(path, tmp_path, env)
        assert live.orders, "the notebook talked to the configured API"
    saved = tmp_path / ("saved-" + path.name)
    nbformat.write(nb, saved)
    assert SENTINEL not in saved.read_text(encoding="utf-8")
    for csv_file in tmp_path.glob("*.csv"):
        assert SENTINEL not in csv_file.read_text(encoding="utf-8")
