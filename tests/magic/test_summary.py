"""The magic's output: one display object per cell (a ``Summary``: its lines, then the
order table), shown once in every front end; ``--list``/``--refresh`` give the whole
table as a DataFrame that shows itself as the tidy table; a failure prints what was done
once, then stops the cell with one line. Flag families are plain functions behind a thin
dispatcher; the magic's class composes nothing but ``Magics``."""

from __future__ import annotations

import getpass
import inspect
from pathlib import Path

import pandas as pd
from IPython.core.magic import Magics
from IPython.utils.capture import capture_output

import autoenhance_nb as ae
from autoenhance_nb.display import Summary, SummaryFrame
from autoenhance_nb.magic import AutoenhanceMagics, MagicError
from autoenhance_nb.magic._dispatch import commands
from autoenhance_nb.magic._line import check_line
from autoenhance_nb.magic._magics import magics_of

#: The sample HDR shoot shipped with the notebooks.
SAMPLES = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "brackets"


def cell(ip, code):
    """(result, stdout + stderr, rich outputs displayed during the cell)."""
    with capture_output() as cap:
        result = ip.run_cell(code)
    return result, cap.stdout + cap.stderr, cap.outputs


def test_a_line_shows_one_summary_holding_its_line_and_one_table(ip, sandbox):
    result, out, shown = cell(ip, '%autoenhance_order "Kitchen <b>12</b>"')
    assert result.success and shown == []  # nothing displayed besides the cell's result
    summary = result.result
    assert isinstance(summary, Summary)
    assert out.count("1 order in the table") == 1 and out.count("Created order") == 1
    html = summary._repr_html_()
    assert html.count("<table") == 1 and html.count("<b>1</b> order") == 1
    assert "Kitchen &lt;b&gt;12&lt;/b&gt;" in html and "<b>12</b>" not in html
    assert html.index("Created order") < html.index("<table")


def test_a_cell_shows_its_count_once(ip, sandbox):
    result, out, shown = cell(ip, "%%autoenhance_order -o week\nHall\nGarden")
    assert result.success and shown == []
    assert out.count("created 2 of 2, 0 failed") == 1 and out.count("2 orders in the table") == 1
    assert list(ip.user_ns["week"]["name"]) == ["Hall", "Garden"]


def test_list_and_refresh_give_the_frame_shown_as_the_tidy_table(ip, sandbox):
    cell(ip, "%autoenhance_order One")
    for flag in ("--list", "--refresh"):
        result, out, _ = cell(ip, f"%autoenhance_order {flag}")
        frame = result.result
        assert isinstance(frame, SummaryFrame) and isinstance(frame, pd.DataFrame)
        assert list(frame["name"]) == ["One"]
        html = frame._repr_html_()
        assert 'class="autoenhance-orders"' in html and 'class="dataframe' not in html
        assert out.count("1 order in the table") == 1
    assert "Refreshed 1 order" in out
    cell(ip, "df = %autoenhance_order --list")
    assert list(ip.user_ns["df"]["name"]) == ["One"]


def test_a_failure_prints_what_was_done_once_then_one_error_line(ip, sandbox):
    result, out, _ = cell(ip, "%%autoenhance_order -o partial\nGood\ntoo,many,fields")
    assert isinstance(result.error_in_exec, MagicError)
    assert out.count("created 1 of 2, 1 failed") == 1 and out.count("line 2: expected") == 1
    assert out.strip().splitlines()[-1].startswith("MagicError: 1 of 2 lines failed")
    assert "Traceback" not in out and "in the table" not in out
    assert list(ip.user_ns["partial"]["name"]) == ["Good"]


def test_a_dry_run_shows_the_grouping_once_and_sends_nothing(ip, sandbox, tmp_path):
    import shutil

    for path in sorted(SAMPLES.glob("DSC_*.jpg"))[:6]:
        shutil.copy(path, tmp_path)
    sandbox.clear_log()
    result, out, shown = cell(
        ip, f'%autoenhance_order Loft --brackets auto "{tmp_path}/*.jpg" --dry-run'
    )
    assert result.success and shown == [] and sandbox.request_log == []
    html = result.result._repr_html_()
    assert html.count("<table") == 1 and "Dry run: nothing was sent" in html
    assert out.count("Grouping: 6 files") == 1 and "DSC_" in out


def test_login_answers_with_a_message(shell, sandbox, monkeypatch):
    monkeypatch.delenv("AUTOENHANCE_API_KEY", raising=False)
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "test-key")
    ae.reset_session()
    shell.extension_manager.load_extension("autoenhance_nb")
    try:
        result, out, _ = cell(shell, f"%autoenhance_login --base-url {sandbox.url}")
        assert result.success and isinstance(result.result, ae.display.Message)
        assert out.count("now using the") == 1 and "test-key" not in out
    finally:
        ae.reset_session()


def test_the_dispatcher_orders_a_lines_commands(ip):
    parser = magics_of(ip).autoenhance_order
    line = check_line(parser, "--sync --refresh --export out.csv", None, {})
    names = [getattr(c, "func", c).__name__ for c in commands(line, None)]
    assert names == ["sync", "refresh", "export"]
    assert line.quiet and line.wants_table


def test_the_magic_composes_no_mixin_and_sniffs_no_front_end():
    assert AutoenhanceMagics.__bases__ == (Magics,)
    folder = Path(inspect.getfile(AutoenhanceMagics)).parent
    for path in list(folder.glob("*.py")) + list((folder.parent / "display").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "TerminalInteractiveShell" not in text and '"kernel"' not in text, path.name
        assert "if TYPE_CHECKING" not in text, path.name


def test_the_readme_says_what_a_terminal_prints(ip, sandbox):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    claim = " ".join(readme.split("Terminal IPython prints", 1)[1].split(". ", 1)[0].split())
    assert "the status line" in claim and "the latest 20 rows" in claim
    result, _, _ = cell(ip, "%autoenhance_order Kitchen")
    lines = repr(result.result).splitlines()
    assert lines[0].startswith("Created order ") and lines[0].endswith("'Kitchen' (waiting)")
    assert lines[1].startswith("[SANDBOX 127.0.0.1:")
    assert lines[1].endswith("] 1 order in the table (waiting 1)")
    assert lines[2].split()[:2] == ["order_id", "name"] and len(lines) == 4
