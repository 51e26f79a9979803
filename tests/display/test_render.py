"""display.py: the order table as HTML (escaped, themed by CSS variables, scrolling),
badges, and the one-line sentences the magic and the form share."""

from __future__ import annotations

import re

import pytest

from autoenhance_nb.display import _render as D
from autoenhance_nb.tracker.table import COLUMNS

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "a & b </td></tr></table>",
    "evil\u202etxt.exe",
    "two\nlines",
]


def record(tracker, n, **fields):
    for i in range(n):
        tracker.record(
            {
                "order_id": fields.get("order_id", f"o-{i}"),
                "name": fields.get("name", f"n{i}"),
                "status": fields.get("status", "waiting"),
                "created_at": "2024-01-02T03:04:05Z",
            },
            notify=False,
        )


def rows_of(page):
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body)


# -- render_table ------------------------------------------------------------------------------
def test_render_table_escapes_hostile_names_and_ids(tracker):
    for i, text in enumerate(HOSTILE):
        tracker.record({"order_id": f"{text}#{i}", "name": text, "status": "waiting"})
    page = D.render_table(tracker)
    assert len(rows_of(page)) == len(HOSTILE)
    for tag in ("<script", "<img", "onmouseover='", "</td></tr></table>a"):
        assert tag not in page
    assert page.count("<table") == 1 and page.count("</table>") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page  # markupsafe's &#34;
    assert "\u202e" not in page and "evil\\u202etxt.exe" in page
    assert "two\\nlines" in page


def test_render_table_escapes_a_hostile_status(tracker):
    tracker.record({"order_id": "o", "status": "<b>x</b>\u202e"})
    page = D.render_table(tracker)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;\\u202e" in page


def test_header_text_and_background_come_from_theme_variables():
    css = D.TABLE_CSS
    th = re.search(r"\.autoenhance-orders th\{([^}]*)\}", css).group(1)
    props = dict(p.split(":", 1) for p in th.split(";") if p)
    assert props["background"].startswith("var(--jp-layout-color")
    assert props["color"].startswith("var(--jp-ui-font-color")
    # every text colour in the table's CSS is a variable, except white on the badges
    # (whose backgrounds are saturated in every theme)
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css.removeprefix("<style>")):
        for prop, value in (p.split(":", 1) for p in body.split(";") if p):
            if prop in ("color", "background") and value.startswith("#"):
                assert selector in (".autoenhance-badge", ".autoenhance-env"), selector
                assert value == "#fff"


def test_the_rows_sit_in_a_sideways_scrolling_box(tracker):
    record(tracker, 2)
    page = D.render_table(tracker)
    assert ".autoenhance-scroll{overflow-x:auto;max-width:100%}" in page
    scroll = page.index('<div class="autoenhance-scroll">')
    assert scroll < page.index('<table class="autoenhance-orders">') < page.index("</table></div>")
    assert len(re.findall(r"<th ", page)) == len(COLUMNS)


def test_headers_are_words_in_the_order_people_read_and_times_say_utc(tracker):
    record(tracker, 2)
    page = D.render_table(tracker)
    heads = re.findall(r'<th class="ae-col-\w+" title="(\w+)">([^<]*)</th>', page)
    assert [label for _, label in heads][:4] == ["Order", "Photos", "Status", "Updated (UTC)"]
    assert sorted(col for col, _ in heads) == sorted(COLUMNS)  # each names its column
    assert not any("_" in label for _, label in heads)
    assert list(tracker.df.columns) == COLUMNS  # the DataFrame keeps the API's names
    # the cells follow their headers
    first = re.findall(r"<td[^>]*>(.*?)</td>", rows_of(page)[0])
    assert first[0] == "n0" and first[5] == "o-0"


def test_jupyterlab_cannot_centre_or_fix_the_table():
    css = D.TABLE_CSS
    rule = re.search(r"\.autoenhance-table table\.autoenhance-orders\{([^}]*)\}", css).group(1)
    assert "margin:4px 0 0 0" in rule and "table-layout:auto" in rule


def test_only_the_latest_rows_are_shown_with_a_note(tracker):
    record(tracker, 5)
    page = D.render_table(tracker, max_rows=3)
    assert len(rows_of(page)) == 3
    assert ">n2<" in page and ">n4<" in page and ">n1<" not in page
    assert "Showing the latest 3 of 5 orders; <code>.df</code> has them all." in page


def test_no_note_when_every_row_is_shown(tracker):
    record(tracker, 3)
    page = D.render_table(tracker, max_rows=3)
    assert len(rows_of(page)) == 3 and "Showing the latest" not in page


def test_an_empty_table_shows_the_environment_and_no_rows(tracker):
    page = D.render_table(tracker)
    assert "<table" not in page and "<b>0</b> orders" in page
    assert ">SANDBOX</span>" in page and tracker.client.host in page


def test_counts_per_status_and_singular_order(tracker):
    record(tracker, 1)
    tracker.record({"order_id": "p", "status": "processed"})
    page = D.render_table(tracker)
    assert "<b>2</b> orders" in page
    assert "processed</span> 1" in page and "waiting</span> 1" in page
    tracker.use_client(tracker.client)
    record(tracker, 1)
    assert "<b>1</b> order &middot;" in D.render_table(tracker)


def test_missing_values_are_empty_cells_and_times_are_to_the_second(tracker):
    tracker.record({"order_id": "o", "created_at": "2024-01-02T03:04:05.678Z"})
    (cells,) = rows_of(D.render_table(tracker))
    tds = dict(zip(D.HEADERS, re.findall(r"<td[^>]*>(.*?)</td>", cells), strict=True))
    assert tds["order_id"] == "o" and tds["name"] == "" and tds["image_count"] == ""
    assert tds["created_at"] == "2024-01-02 03:04:05" and tds["last_updated_at"] == ""


def test_dev_mode_is_shown_on_the_badge(tracker):
    tracker.client.dev_mode = True
    assert ">SANDBOX · dev mode</span>" in D.render_table(tracker)


# -- badges -----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", sorted(D.STATUS_COLOURS))
def test_status_badge_colours_known_statuses(status):
    badge = D.status_badge(status)
    assert f"background:{D.STATUS_COLOURS[status]}" in badge and f">{status}</span>" in badge


def test_status_badge_of_an_unknown_status_is_escaped_clipped_and_violet():
    badge = D.status_badge("<i>" + "x" * 100)
    assert "background:#6d28d9" in badge and "<i>" not in badge
    text = re.search(r">([^<]*)</span>$", badge).group(1)
    assert text.startswith("&lt;i&gt;") and text.endswith("…") and len(text) < 50
    assert ">None</span>" in D.status_badge(None)


@pytest.mark.parametrize(
    "env,dev,label,colour",
    [
        ("sandbox", False, "SANDBOX", D.ENV_COLOURS["sandbox"]),
        ("live", False, "LIVE", D.ENV_COLOURS["live"]),
        ("live", True, "LIVE · dev mode", D.ENV_COLOURS["live"]),
        ("custom", False, "CUSTOM", "#6d28d9"),
        ("<x>", False, "&lt;X&gt;", "#6d28d9"),
    ],
)
def test_environment_badge(env, dev, label, colour):
    badge = D.environment_badge(env, dev_mode=dev)
    assert badge.endswith(f">{label}</span>") and f"background:{colour}" in badge


@pytest.mark.parametrize("kind", ["ok", "error", "info"])
def test_message_html_escapes_and_uses_theme_colours(kind):
    html = D.message_html("<b>done</b>", kind)
    assert "<b>" not in html and "&lt;b&gt;done&lt;/b&gt;" in html
    assert f'class="ae-msg-{kind}"' in html and "color:var(--jp-" in html


# -- one-line sentences -----------------------------------------------------------------------
def test_status_line_names_environment_and_counts(tracker):
    assert D.status_line(tracker) == f"[SANDBOX {tracker.client.host}] 0 orders in the table"
    record(tracker, 2)
    tracker.record({"order_id": "e", "status": "error"})
    assert D.status_line(tracker) == (
        f"[SANDBOX {tracker.client.host}] 3 orders in the table (error 1, waiting 2)"
    )


def test_created_line_escapes_ids_and_names():
    line = D.created_line(
        {"order_id": "abc\u202eexe.txt", "name": "Hall\n\x1b[2J", "status": "waiting"}
    )
    assert line == "Created order abc\\u202eexe.txt 'Hall\\\\n\\\\x1b[2J' (waiting)"
    assert "\u202e" not in line and "\n" not in line and "\x1b" not in line


def test_created_line_clips_a_long_id():
    line = D.created_line({"order_id": "x" * 300, "name": None, "status": "waiting"})
    assert line == "Created order " + "x" * 63 + "… '' (waiting)"


def test_created_line_escapes_a_hostile_status():
    line = D.created_line({"order_id": "o", "name": "n", "status": "ok\u202e\nx"})
    assert "\u202e" not in line and "\n" not in line


def test_status_line_escapes_a_hostile_status(tracker):
    tracker.record({"order_id": "o", "status": "ok\u202e\nx"})
    line = D.status_line(tracker)
    assert "\u202e" not in line and "\n" not in line


def test_refreshed_line():
    assert D.refreshed_line({"updated": 1, "deleted": 0}) == "Refreshed 1 order"
    assert D.refreshed_line({"updated": 3, "deleted": 2}) == (
        "Refreshed 3 orders, 2 deleted on the server"
    )


def test_compact_table_is_text_with_times_to_the_second(tracker):
    record(tracker, 3)
    text = D.compact_table(tracker, rows=2)
    lines = text.splitlines()
    assert lines[0].split() == COLUMNS
    assert len(lines) == 4 and "2024-01-02 03:04:05" in lines[1]
    assert lines[-1] == "(latest 2 of 3; -o VAR stores them all)"
