"""markup.py: the one place HTML is built, escaping by default; and, across every
surface, that no string from the API or a person becomes markup.

The big test plants hostile strings in every string field of every API answer (a real
HTTP proxy in front of the sandbox poisons names, statuses, reasons, options at any
depth and error messages) and in every user input (order names and ids, file names,
options, report comments), drives the form, the table, the gallery, the desk and the
bracket preview, and then reads every live widget's state and every rendered HTML."""

from __future__ import annotations

import io
import json
from pathlib import Path

import ipywidgets as w
import pytest
from ipywidgets.widgets.widget import _instances, _remove_buffers
from jupyter_client.session import json_packer
from PIL import Image

from autoenhance_nb import AutoenhanceClient, OrderForm, OrderTracker
from autoenhance_nb.display._markup import (
    Markup,
    clean,
    escape,
    frame_html,
    html,
    join,
    safe,
    style,
)
from autoenhance_nb.sandbox import Sandbox
from autoenhance_nb.widgets._kit import SafeHTML

from ..hostile import MARKUP_PAYLOADS, PAYLOAD, PoisoningProxy, injected_markup


# -- the builder ---------------------------------------------------------------------------
def test_html_escapes_every_argument_and_keeps_markup():
    out = html('<a title="{}">{}</a>{}', '"><b>', "<script>", safe("<i>ok</i>"))
    assert out == '<a title="&#34;&gt;&lt;b&gt;">&lt;script&gt;</a><i>ok</i>'
    assert isinstance(out, Markup)
    assert html("{:.1f} {}", 2.25, 3) == "2.2 3"


def test_join_escapes_parts_that_are_not_markup():
    assert join([html("<b>{}</b>", "x"), "<i>"]) == "<b>x</b>&lt;i&gt;"


def test_lone_surrogates_are_replaced_so_every_page_encodes():
    text = "half\ud800pair \udcff"
    assert clean(text) == "half\ufffdpair \ufffd"
    escape(text).encode("utf-8")
    html("<p>{}</p>", text).encode("utf-8")


def test_a_stylesheet_cannot_close_its_element():
    assert style(".a{b:c}") == "<style>.a{b:c}</style>"
    with pytest.raises(ValueError):
        style("</style><script>")


def test_frame_html_escapes_cells():
    import pandas as pd

    out = frame_html(pd.DataFrame({"name": ["<img src=x onerror=alert(1)>\ud800"]}))
    assert "<img" not in out and "&lt;img" in out
    out.encode("utf-8")


def test_safe_html_escapes_plain_text_and_keeps_markup():
    box = SafeHTML("<b>not bold</b>")
    assert box.value == "&lt;b&gt;not bold&lt;/b&gt;"
    box.value = html("<b>{}</b>", "<i>")
    assert box.value == "<b>&lt;i&gt;</b>"
    box.value = "x" + html("<b>y</b>")  # str + Markup escapes the str side
    assert box.value == "x<b>y</b>"
    box.close()


def test_the_package_builds_no_html_widget_but_safe_html():
    """An ``HTML`` widget whose value is an f-string of data is how the options line
    became markup: the package makes every HTML widget through ``SafeHTML``."""
    import re

    root = Path(__file__).resolve().parents[2] / "autoenhance_nb"
    pattern = re.compile(r"\b(w|widgets)\.HTML\(|HTMLMath\(|^import html$|\bhtml\.escape\(", re.M)
    offenders = [
        f"{path.relative_to(root)}: {m.group(0)}"
        for path in root.rglob("*.py")
        if path.name != "widget_kit.py"
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# -- every surface, every field ------------------------------------------------------------
def _photo(i: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40 * i, 90, 200 - 30 * i)).save(out, "PNG")
    return out.getvalue()


HOSTILE_OPTIONS = {
    "finetune_settings": {
        "sky": PAYLOAD,
        "nested": {"deeper": [PAYLOAD, {"x": MARKUP_PAYLOADS[2]}]},
        MARKUP_PAYLOADS[0]: 1,
    },
    "metadata": {"note": PAYLOAD, "who": MARKUP_PAYLOADS[4]},
}


def _live_widgets() -> list[w.Widget]:
    return [x for x in list(_instances.values()) if x.comm is not None]


def _problems_in_widgets() -> tuple[list[str], int]:
    """(what is wrong in any live widget's state, how many HTML values show a payload
    as text)."""
    problems: list[str] = []
    shown = 0
    for widget in _live_widgets():
        state, _, _ = _remove_buffers(widget.get_state())
        try:
            json_packer(state)  # what the kernel sends: fails on a lone surrogate
        except (UnicodeEncodeError, ValueError) as exc:
            problems.append(f"{type(widget).__name__} state cannot be sent: {exc}")
        if state.get("description_allow_html"):
            problems.append(f"{type(widget).__name__} allows HTML in its description")
        if state.get("_model_name") in ("HTMLModel", "HTMLMathModel"):
            value = state.get("value") or ""
            found = injected_markup(value)
            if found:
                problems.append(f"{type(widget).__name__} {sorted(widget._dom_classes)}: {found}")
            shown += "onerror=alert(1)" in value  # the payload, as text
    return problems, shown


@pytest.fixture
def poisoned(tmp_path):
    """A tracker talking to the sandbox through the poisoning proxy."""
    with Sandbox(processing_seconds=0) as sb, PoisoningProxy(sb.url) as proxy:
        client = AutoenhanceClient(api_key="test-key", base_url=proxy.url, backoff_factor=0.01)
        yield OrderTracker(client), sb, proxy
        client.close()


def test_no_string_from_the_api_or_a_person_becomes_markup_anywhere(poisoned, tmp_path):
    from autoenhance_nb.desk import Desk
    from autoenhance_nb.rules.brackets import plan_brackets

    tracker, sb, proxy = poisoned
    before = set(_instances)
    # user input: names and ids (an id may hold anything but control characters)
    made = [tracker.create(p, order_id=f"{p} #{i}") for i, p in enumerate(MARKUP_PAYLOADS[:4])]
    order_id = made[0]["order_id"]
    # file names and options at any depth
    photos = tmp_path / "photos"
    photos.mkdir()
    paths = []
    for i, p in enumerate(MARKUP_PAYLOADS[:4]):
        path = photos / f"{p.replace('/', '_')}.png"
        path.write_bytes(_photo(i))
        paths.append(path)
    tracker.add_images(order_id, paths, progress=False, **HOSTILE_OPTIONS)
    tracker.refresh(progress=False)
    assert proxy.answers > 5

    form = OrderForm(tracker, export_dir=tmp_path / "exports")
    form.name.value, form.order_id.value = PAYLOAD, made[1]["order_id"]  # taken: an error
    form.submit()
    form.wait()
    assert "onerror=alert(1)" in form.message.value  # the 409's poisoned message, as text
    # photos dropped on the form's zone with hostile names, grouped as brackets: the
    # preview shows the names as text, the zone's state holds none of them
    form.brackets.mode.value = "auto"
    zone = form.photos
    files = [{"name": f"{p}.png", "type": "image/png", "size": 9} for p in MARKUP_PAYLOADS[:4]]
    zone._handle_custom_msg({"kind": "batch", "batch": "b", "files": files}, [])
    for i in range(len(files)):
        zone._handle_custom_msg(
            {"kind": "chunk", "batch": "b", "file": i, "offset": 0}, [memoryview(b"not a png")]
        )
    assert zone.count == 4 and "onerror=alert(1)" in form.brackets.table.value
    assert "onerror" not in json.dumps(zone.get_state(), default=str)

    gallery = tracker.gallery(order_id, export_dir=tmp_path / "exports", refresh_interval=0)
    gallery.wait()
    card = next(iter(gallery.cards.values()))
    card.toggle_redo()
    card.toggle_report()
    card.report(["sky"], PAYLOAD, 1)
    card.wait()
    gallery.bulk.toggle_redo()
    gallery.bulk.toggle_report()

    desk = Desk(tracker, export_dir=tmp_path / "desk-exports", sync_limit=20)
    desk.load()
    desk.wait_loaded()
    desk.show_gallery(order_id)

    grouping = plan_brackets(paths, 2)

    problems, shown = _problems_in_widgets()
    assert problems == []
    assert shown >= 10, "the payload never reached a widget: the test would prove nothing"

    pages = {
        "tracker": tracker._repr_html_(),
        "form (saved notebook)": form._repr_mimebundle_()["text/html"],
        "gallery (saved notebook)": gallery.static_html(),
        "bracket preview": grouping._repr_html_(),
    }
    for surface, page in pages.items():
        assert injected_markup(page) == [], surface
        page.encode("utf-8")
    # what a kernel sends for each object shown (every mime type), encodable
    from IPython.core.formatters import DisplayFormatter

    formatter = DisplayFormatter()
    for thing in (tracker, form, gallery, grouping, tracker.df, tracker.images_df):
        data, _ = formatter.format(thing)
        for mime, value in data.items():
            json_packer({mime: value})
    assert (
        "onerror=alert(1)" in pages["tracker"]
        and "onerror=alert(1)" in pages["gallery (saved notebook)"]
    )

    for thing in (desk, gallery, form):
        thing.close()
    assert set(_instances) - before == set() or all(
        _instances[k].comm is None for k in set(_instances) - before
    )


def test_the_options_line_of_a_card_is_text(tracker, tmp_path):
    """The reproduced stored XSS: an option's string (``finetune_settings`` is free JSON)
    was the card's ``meta`` HTML as it was."""
    order_id = tracker.create("x")["order_id"]
    tracker.add_images(
        order_id,
        [("a.png", _photo(1))],
        progress=False,
        finetune_settings={"s": "<img src=x onerror=alert(document.cookie)>"},
    )
    gallery = tracker.gallery(order_id, export_dir=tmp_path, refresh_interval=0)
    try:
        card = next(iter(gallery.cards.values()))
        assert "onerror" in card.meta.value
        assert injected_markup(card.meta.value) == []
    finally:
        gallery.close()


def test_a_lone_surrogate_in_an_image_name_does_not_break_the_gallery(sandbox, tracker, tmp_path):
    """Another client named an image with half a UTF-16 pair: the whole gallery of its
    order failed (UnicodeEncodeError in a card's title)."""
    import requests

    order_id = tracker.create("surrogates")["order_id"]
    body = json.dumps({"order_id": order_id, "image_name": "half\ud800pair.png"}).encode()
    answer = requests.post(
        f"{sandbox.url}/v3/images/",
        data=body,
        headers={"x-api-key": "test-key", "content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code in (200, 201), answer.text
    gallery = tracker.gallery(order_id, export_dir=tmp_path, refresh_interval=0)
    try:
        assert len(gallery.cards) == 1
        problems, _ = _problems_in_widgets()
        assert problems == []
        gallery.static_html().encode("utf-8")
    finally:
        gallery.close()
