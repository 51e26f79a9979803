"""The toolkit as headless runners and the terminal meet it: papermill and nbconvert
report a failed magic's reason; terminal IPython prints one line, not the whole table."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
import pytest

from ..helpers import without_autoenhance_env


def _failing_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext autoenhance_nb"),
        nbformat.v4.new_code_cell("%autoenhance_order --export ''"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _clean_env():
    env = without_autoenhance_env()
    env["PYTHONWARNINGS"] = "ignore"
    return env


@pytest.mark.notebook
def test_papermill_reports_the_reason_of_a_failed_magic(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    source = tmp_path / "fails.ipynb"
    _failing_notebook(source)
    for key in [k for k in os.environ if k.startswith("AUTOENHANCE_") and "JOURNAL" not in k]:
        monkeypatch.delenv(key)
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(source),
            str(tmp_path / "out.ipynb"),
            kernel_name="python3",
            progress_bar=False,
            cwd=str(tmp_path),
        )
    text = str(info.value)
    assert info.value.ename == "MagicError"
    assert "--export needs a file name" in info.value.evalue
    assert "--export needs a file name" in text
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert "never reached" not in str(out.cells[2].get("outputs"))


@pytest.mark.notebook
def test_nbconvert_execute_names_the_reason(tmp_path):
    source = tmp_path / "fails.ipynb"
    _failing_notebook(source)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            str(source),
            "--output",
            str(tmp_path / "done.ipynb"),
        ],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=120,
    )
    assert proc.returncode != 0
    assert "MagicError" in proc.stderr and "--export needs a file name" in proc.stderr


def test_terminal_ipython_prints_one_line_and_timestamps_to_the_second(tmp_path):
    commands = (
        "%load_ext autoenhance_nb\n"
        "%autoenhance_order Kitchen\n"
        "%autoenhance_order Hall\n"
        "%autoenhance_order --list\n"
        "exit\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "IPython",
            "--simple-prompt",
            "--colors=NoColor",
            "--no-banner",
            "--HistoryManager.hist_file=:memory:",
        ],
        input=commands,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=120,
        cwd=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Created order" in out and "2 orders in the table (waiting 2)" in out
    assert "rows x" not in out and "<OrderTracker" not in out  # no table dump, no repr
    # --list prints a compact table: every column, times to the second, no +00:00
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out)
    assert "+00:00" not in out and "status" in out and "Kitchen" in out
