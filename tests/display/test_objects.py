"""display: the display objects (``Message``, ``Table``, ``Frame``, ``Summary``,
``SummaryFrame``) give IPython both forms, HTML escaped and text plain, with no front end
sniffed; every stylesheet lives in ``display`` and is built from ``--jp-*`` variables."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter

from autoenhance_nb import display as D

HOSTILE = '<script>alert(1)</script>"\u202e'


def formats(obj):
    """What IPython sends to a front end for ``obj`` (as a cell's result would be)."""
    data, _ = DisplayFormatter().format(obj)
    return data


def record(tracker, n, status="waiting"):
    for i in range(n):
        tracker.record({"order_id": f"o-{i}", "name": f"n{i}", "status": status}, notify=False)


def test_message_has_an_escaped_html_form_and_a_plain_one():
    data = formats(D.Message(HOSTILE, "error"))
    assert data["text/plain"] == HOSTILE
    assert "<script>" not in data["text/html"] and "&lt;script&gt;" in data["text/html"]
    assert (
        'class="ae-msg-error"' in data["text/html"] and "var(--jp-error-color1" in data["text/html"]
    )


def test_an_indented_message_is_indented_in_both_forms():
    message = D.Message("bad.png: not an image", "error", indent=True)
    assert repr(message) == "  bad.png: not an image"
    assert "margin-left:1.5em" in message._repr_html_()


def test_table_is_a_snapshot_with_the_same_html_as_render_table(tracker):
    record(tracker, 3)
    table = D.Table.of(tracker)
    assert str(table.html()) == str(D.render_table(tracker))
    record(tracker, 5)  # later changes do not reach the snapshot
    assert table.total == 3 and table.html().count("<tr>") == 4


def test_table_text_is_the_status_line_and_the_latest_rows(tracker):
    record(tracker, 25)
    text = repr(D.Table.of(tracker))
    lines = text.splitlines()
    assert (
        lines[0]
        == D.status_line(tracker)
        == f"[SANDBOX {tracker.client.host}] 25 orders in the table (waiting 25)"
    )
    assert lines[-1] == "(latest 20 of 25; -o VAR stores them all)"
    assert "<td" not in text and "<span" not in text


def test_a_table_without_rows_is_its_status_alone(tracker):
    record(tracker, 2)
    table = D.Table.of(tracker, max_rows=0)
    assert repr(table) == D.status_line(tracker)
    assert "<table" not in table._repr_html_() and "<b>2</b> orders" in table._repr_html_()


def test_frame_shows_an_escaped_table_without_index_and_chosen_columns_as_text():
    frame = pd.DataFrame({"files": [HOSTILE], "status": ["ok"], "camera": ["X"]})
    shown = D.Frame(frame, text_columns=["files", "status"])
    html = shown._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "camera" in html
    assert 'class="autoenhance-scroll"' in html
    assert "camera" not in repr(shown) and "status" in repr(shown)


def test_summary_shows_its_lines_then_one_table(tracker):
    record(tracker, 2)
    summary = D.Summary([D.Message("Created order o-1 'n1' (waiting)", "ok")])
    summary.table = D.Table.of(tracker)
    data = formats(summary)
    html = data["text/html"]
    assert html.count("<table") == 1 and html.count("<style>") == 1
    assert html.index("Created order") < html.index("<table")
    text = data["text/plain"]
    assert text.splitlines()[0] == "Created order o-1 'n1' (waiting)"
    assert text.count("2 orders in the table") == 1  # the summary once, not twice


def test_an_empty_summary_is_false_and_shows_nothing():
    assert not D.Summary() and repr(D.Summary()) == ""


def test_summary_frame_is_a_dataframe_shown_as_its_summary(tracker):
    record(tracker, 3)
    summary = D.Summary([D.Message("Refreshed 3 orders")], D.Table.of(tracker))
    frame = D.SummaryFrame(tracker.df, summary=summary)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3
    assert list(frame["name"]) == ["n0", "n1", "n2"]
    data = formats(frame)
    assert data["text/html"] == summary._repr_html_()  # the tidy table, not pandas' own
    assert "dataframe" not in data["text/html"]
    assert data["text/plain"] == repr(summary)
    derived = frame[frame["status"] == "waiting"].head(2)
    assert type(derived) is pd.DataFrame  # anything derived is a plain frame
    assert "Refreshed" not in str(frame)  # print(df) stays pandas' text


@pytest.mark.parametrize("name", ["TABLE_CSS", "FORM_CSS", "GALLERY_CSS"])
def test_every_stylesheet_is_exported_and_themed_by_jupyter_variables(name):
    css = str(getattr(D, name))
    assert css.startswith("<style>") and css.endswith("</style>")
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css.removeprefix("<style>")):
        for prop, value in (p.split(":", 1) for p in body.split(";") if p):
            if prop in ("color", "background", "border-color") and not value.startswith("var("):
                assert value in ("#fff", "transparent"), (selector, prop, value)


def test_no_stylesheet_outside_display():
    """``_styles`` holds every stylesheet of the package."""
    from pathlib import Path

    package = Path(D.__file__).resolve().parent.parent
    holders = sorted(
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if re.search(r"^[A-Z_]+_CSS = style\(", p.read_text(encoding="utf-8"), re.M)
    )
    assert holders == ["display/_styles.py"]
