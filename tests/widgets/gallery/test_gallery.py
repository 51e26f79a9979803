"""OrderGallery driven without a front end (.value, .click(), wait) against the sandbox:
cards, lazy pages, the cache bound, the actions, errors on the card, the static view,
the magic's handler and the form's picker."""

from __future__ import annotations

import io
import logging
import re
import threading
import time
import weakref

import pytest
import requests
from PIL import Image

import autoenhance_nb as ae
from autoenhance_nb.magic._cells import MagicError
from autoenhance_nb.magic._gallery import show_gallery
from autoenhance_nb.widgets.gallery import add_gallery_picker
from autoenhance_nb.widgets.gallery._gallery import OrderGallery

pytestmark = pytest.mark.timeout(120)


def _png(i: int, size: tuple[int, int] = (200, 140)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, 120)).save(out, "PNG")
    return out.getvalue()


def _order(tracker, n: int, size: tuple[int, int] = (200, 140), **options):
    order_id = tracker.create(f"Gallery {n}")["order_id"]
    photos = [(f"photo-{i:03d}.png", _png(i, size)) for i in range(n)]
    result = tracker.add_images(order_id, photos, progress=False, **options)
    assert result.ok, result.failed
    return order_id


def _downloads(sandbox) -> int:
    return sum(1 for e in sandbox.request_log if (e.endpoint or "").startswith("download_"))


def _until(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def gallery_of(tracker, tmp_path):
    made: list[OrderGallery] = []

    def make(order_id: str, **kwargs) -> OrderGallery:
        kwargs.setdefault("export_dir", tmp_path)
        kwargs.setdefault("refresh_interval", 0.1)
        g = OrderGallery(order_id, tracker, **kwargs)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()


def test_cards_show_both_pictures_and_statuses_update_by_themselves(sandbox, tracker, gallery_of):
    sandbox.processing_seconds = 0.6
    order_id = _order(tracker, 3, (800, 500), enhance_type="warm")
    g = gallery_of(order_id)
    assert len(g.cards) == 3 and len(g.cards_box.children) == 3
    assert {c.image["status"] for c in g.cards.values()} == {"processing"}
    assert g.auto_refreshing
    assert "processing…" in next(iter(g.cards.values())).enhanced.value
    g.wait()
    _until(lambda: not g.auto_refreshing)
    g.wait()
    for card in g.cards.values():
        assert card.image["status"] == "processed"
        assert "processed" in card.title.value and card.name in card.title.value
        assert "Enhancement style: Warm" in card.meta.value  # words, the names in the tooltip
        assert re.search(r'title="[^"]*enhance_type=warm', card.meta.value)
        assert 'class="ae-thumb ae-thumb-original"' in card.original.value
        assert 'class="ae-thumb ae-thumb-enhanced"' in card.enhanced.value
        before = g.thumbs.cache.get((card.image_id, "original", 0))
        after = g.thumbs.cache.get((card.image_id, "enhanced", 0))
        assert before and after and before != after
        assert not card.buy_button.disabled
        # thumbnails are small: the API's max_width
        assert Image.open(io.BytesIO(before)).width == 320
        assert Image.open(io.BytesIO(after)).width <= 320
    assert "Statuses up to date" in g.message.value


def test_with_webhooks_the_cards_update_by_event_and_polling_is_a_safety_net(
    sandbox, tracker, hooked, gallery_of
):
    sandbox.processing_seconds = 0.6
    order_id = _order(tracker, 3)
    sandbox.clear_log()
    g = gallery_of(order_id)
    assert g.auto_refreshing
    assert "live by webhook; checking every 60 s as a safety net" in g.message.value
    _until(lambda: not g.auto_refreshing)
    g.wait()
    assert {c.image["status"] for c in g.cards.values()} == {"processed"}
    assert "Statuses up to date" in g.message.value
    # the gallery's own read, its first refresh, the read the last event asked for
    assert len(sandbox.requests_to("retrieve_order")) <= 3


def test_pages_fetch_only_the_page_shown_and_the_next(sandbox, tracker, gallery_of):
    order_id = _order(tracker, 30)
    tracker.refresh()
    sandbox.clear_log()
    g = gallery_of(order_id, page_size=5)
    g.wait()
    assert g.pages == 6 and len(g.cards) == 5
    # 5 shown + 5 ahead, original and enhanced each
    assert _downloads(sandbox) == 20
    assert g.thumbs.fetches == 20
    g.next_button.click()
    g.wait()
    assert g.page == 1 and _downloads(sandbox) == 30  # page 2 came from the cache
    g.prev_button.click()
    g.wait()
    assert g.page == 0 and _downloads(sandbox) == 30
    assert g.prev_button.disabled


def test_memory_stays_bounded_however_many_pages_are_visited(sandbox, tracker, gallery_of):
    order_id = _order(tracker, 30)
    tracker.refresh()
    g = gallery_of(order_id, page_size=4, cache_bytes=12_000)
    for _ in range(g.pages):
        g.wait()
        assert g.thumbs.cache.size <= 12_000
        assert len(g.cards) <= 4
        g.next_button.click()
    g.wait()
    closed = [c for c in g.cards_box.children if c.closed]
    assert not closed and g.page == g.pages - 1


def _live_models() -> int:
    from ipywidgets.widgets.widget import _instances

    return sum(1 for x in list(_instances.values()) if x.comm is not None)


def _heap() -> int:
    """Python's allocated memory blocks (cheap, unlike tracemalloc, which slows the
    gallery tenfold): what a leak of models, thumbnails or rows makes grow."""
    import gc
    import sys

    gc.collect()
    return sys.getallocatedblocks()


@pytest.mark.slow  # memory soak
def _settle(threads: int) -> None:
    """Wait until background threads are back to ``threads`` (their frames are heap)."""
    deadline = time.monotonic() + 10
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.05)


def test_visiting_every_page_again_and_again_holds_no_more_models_or_heap(sandbox, tracker):
    """A closed card closed its children but not their layouts and styles (25 models a
    card): 4 passes over the 9 pages of a 200-photo order registered 21,008 models and
    grew the heap with every pass; closing the gallery freed none of it."""
    order_id = _order(tracker, 200, size=(48, 32))
    tracker.refresh()
    # pytest keeps every log record of a test until it ends (a test before may have left a
    # logger at DEBUG): that heap is the capture's, not the gallery's
    logging.disable(logging.CRITICAL)
    try:
        _visit_every_page_four_times(sandbox, tracker, order_id)
    finally:
        logging.disable(logging.NOTSET)


def _visit_every_page_four_times(sandbox, tracker, order_id):
    # warm up: the modules and caches a first gallery loads are not the gallery's
    threads0 = threading.active_count()
    OrderGallery(order_id, tracker, export_dir=None, refresh_interval=0).close()
    _settle(threads0)
    sandbox.clear_log()  # the in-process sandbox logs every request: its heap, not ours
    models0, heap0 = _live_models(), _heap()
    g = OrderGallery(order_id, tracker, export_dir=None, refresh_interval=0)
    assert g.pages == 9
    cards: list[weakref.ref] = []
    passes = []
    for _ in range(4):
        for page in range(g.pages):
            g.show_page(page)
            g.wait()
            cards.extend(weakref.ref(c) for c in g.cards.values())
        next(iter(g.cards.values())).toggle_redo()  # a folded panel, made and left
        sandbox.clear_log()
        passes.append((_live_models(), _heap()))
    # every card of another page is gone, thumbnails (data: URLs) and all
    shown = {id(c) for c in g.cards.values()}
    assert [r for r in cards if r() is not None and id(r()) not in shown] == []
    g.close()
    del g, shown  # a closed gallery nobody holds: everything it made can go
    _settle(threads0)  # the thumbnail workers end in the background after close()
    sandbox.clear_log()
    models_after, heap_after = _live_models(), _heap()
    (m1, h1), (m4, h4) = passes[0], passes[-1]
    slack = 5_000  # blocks: the interpreter's own caches move a little between passes
    assert m4 <= m1 * 1.1, passes
    assert h4 - h1 <= max(0.1 * (h1 - heap0), slack), (heap0, passes)
    assert models_after == models0, (models0, models_after)
    assert heap_after - heap0 <= slack, (heap0, passes, heap_after)


def test_buy_full_size_writes_the_file_and_offers_its_link(sandbox, tracker, gallery_of, tmp_path):
    order_id = _order(tracker, 2)
    g = gallery_of(order_id)
    g.wait()
    card = next(iter(g.cards.values()))
    assert "credits" in card.buy_button.tooltip
    seen = []  # the button's states as set (a fast buy may end before a read)
    card.buy_button.observe(lambda change: seen.append(change["new"]), "disabled")
    card.buy_button.click()
    card.wait()
    assert seen[:1] == [True] and seen[-1] is False  # disabled while it ran, then back
    assert (tmp_path / card.name).exists()
    assert "ae-download-link" in card.link.value
    assert "Bought the full size" in card.message.value
    assert tracker.client.get_image(card.image_id)["downloaded"] is True
    assert not card.buy_button.disabled


def test_redo_with_other_options_changes_the_enhanced_picture(sandbox, tracker, gallery_of):
    order_id = _order(tracker, 2, enhance_type="warm")
    g = gallery_of(order_id)
    g.wait()
    card = next(iter(g.cards.values()))
    old = g.thumbs.cache.get((card.image_id, "enhanced", 0))
    old_html = card.enhanced.value
    card.redo_button.click()  # opens the editor, filled with the image's options
    assert card.editor is not None
    assert card.editor.fields["enhance_type"].value == "warm"
    card.editor.fields["enhance_type"].value = "modern"
    card.redo_now.click()
    card.wait()
    assert "Redoing with Enhancement style: Modern" in card.message.value
    _until(lambda: card.enhanced.value != old_html and "<img" in card.enhanced.value)
    g.wait()
    new = g.thumbs.cache.get((card.image_id, "enhanced", 1))
    assert new and new != old
    assert "enhance_type=modern" in card.meta.value


def test_report_from_the_card_reaches_the_api(sandbox, tracker, gallery_of):
    order_id = _order(tracker, 1)
    g = gallery_of(order_id)
    g.wait()
    card = next(iter(g.cards.values()))
    card.report_button.click()
    card.categories.value = ("SKY_REPLACEMENT", "COLOUR")
    card.comment.value = "too blue"
    card.score.value = 2
    card.report_now.click()
    card.wait()
    assert "Reported" in card.message.value
    (report,) = sandbox.reports
    assert report["image_id"] == card.image_id
    assert set(report["categories"]) == {"SKY_REPLACEMENT", "COLOUR"}
    assert report["comment"] == "too blue" and report["score"] == 2
    assert card.comment.value == ""


def test_a_refused_report_is_one_line_on_the_card(sandbox, tracker, gallery_of):
    order_id = _order(tracker, 1)
    g = gallery_of(order_id)
    g.wait()
    card = next(iter(g.cards.values()))
    card.report_button.click()
    card.report_now.click()  # no category
    card.wait()
    assert "categories" in card.message.value and "Traceback" not in card.message.value
    assert not sandbox.reports


def test_selected_cards_act_at_once(sandbox, tracker, gallery_of, tmp_path):
    order_id = _order(tracker, 4)
    g = gallery_of(order_id)
    g.wait()
    cards = list(g.cards.values())
    cards[0].select.value = True
    cards[2].select.value = True
    assert "<b>2</b> selected" in g.bulk.count.value
    assert g.bulk.report(["NOISE"], "grainy", 1)
    g.wait()
    assert sorted(r["image_id"] for r in sandbox.reports) == sorted(
        [cards[0].image_id, cards[2].image_id]
    )
    assert "reported 2 of 2, 0 failed" in g.bulk.message.value
    g.bulk.buy_button.click()
    g.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([cards[0].name, cards[2].name])
    assert "ae-download-link" in cards[2].link.value
    g.bulk.toggle_redo()
    g.bulk.editor.fields["enhance_type"].value = "neutral"
    g.bulk.redo_now.click()
    g.wait()
    assert "redone 2 of 2" in g.bulk.message.value
    assert g.revisions == {cards[0].image_id: 1, cards[2].image_id: 1}
    g.bulk.select_none.click()
    assert not g.selected and not cards[0].select.value


def test_an_image_in_error_and_a_failed_thumbnail_show_one_line(
    sandbox, tracker, gallery_of, monkeypatch
):
    order_id = _order(tracker, 2)
    bad = tracker.client.create_image(order_id, "broken.jpg")
    headers = {"Content-Type": "application/octet-stream"}
    answer = requests.put(bad["upload_url"], data=b"not a picture", headers=headers, timeout=10)
    answer.raise_for_status()
    tracker.refresh()

    def refuse(*args, **kwargs):
        raise ae.RateLimitError("Downloading failed: rate limited (HTTP 429)", 429)

    g = gallery_of(order_id, workers=1)
    g.wait()
    broken = next(c for c in g.cards.values() if c.name == "broken.jpg")
    assert broken.image["status"] == "error"
    assert "Error: The uploaded file is not an image" in broken.message.value
    assert broken.buy_button.disabled
    # a thumbnail that cannot be fetched (a rate limit): one line, the gallery goes on
    g.close()
    monkeypatch.setattr(tracker.client, "download_image", refuse)
    g2 = gallery_of(order_id)
    g2.wait()
    good = next(c for c in g2.cards.values() if c.name != "broken.jpg")
    assert "thumbnail: Downloading failed: rate limited (HTTP 429)" in good.message.value
    assert "not loaded" in good.original.value
    assert "Traceback" not in good.message.value
    good.report(["OTHER"], "still works")
    good.wait()
    assert sandbox.reports[-1]["comment"] == "still works"


def test_static_view_for_a_saved_notebook(sandbox, tracker, gallery_of):
    order_id = _order(tracker, 2)
    g = gallery_of(order_id)
    g.wait()
    bundle = g._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    text = bundle["text/plain"]
    assert "\n" not in text and "2 photos" in text and "SANDBOX" in text
    page = bundle["text/html"]
    assert page.count('src="data:image/jpeg;base64,') == 4
    assert "needs a live kernel" in page and "flex-wrap" in page


def test_css_follows_the_theme_and_wraps(sandbox, tracker, gallery_of):
    g = gallery_of(_order(tracker, 1))
    css = g.header.value
    assert "var(--jp-border-color2" in css and "var(--jp-ui-font-color1" in css
    assert "flex-flow:row wrap" in css
    assert g.cards_box.layout.flex_flow == "row wrap"


def test_tracker_gallery_and_the_package_export(sandbox, tracker, tmp_path):
    order_id = _order(tracker, 1)
    g = tracker.gallery(order_id, export_dir=tmp_path)
    try:
        assert isinstance(g, ae.OrderGallery) and "OrderGallery" in ae.__all__
        assert g.tracker is tracker and g.exports.path == tmp_path
    finally:
        g.close()


def test_magic_handler_shows_the_gallery_or_one_line(sandbox, tracker):
    order_id = _order(tracker, 1)
    shown = []
    g = show_gallery(tracker, order_id, display=shown.append)
    try:
        assert shown == [g] and len(g.cards) == 1
    finally:
        g.close()
    with pytest.raises(MagicError, match="no order 'nope'"):
        show_gallery(tracker, "nope", display=shown.append)
    with pytest.raises(MagicError, match="order ID"):
        show_gallery(tracker, "  ", display=shown.append)
    assert len(shown) == 1


def test_form_picker_opens_the_gallery_under_the_form(sandbox, tracker, tmp_path):
    from autoenhance_nb.widgets._form import OrderForm

    order_id = _order(tracker, 2)
    form = OrderForm(tracker, export_dir=tmp_path)
    picker = add_gallery_picker(form)
    try:
        assert form.children[-1] is picker
        assert order_id in [v for _, v in picker.order.options]
        picker.order.value = order_id
        picker.show_button.click()
        assert picker.holder.children == (picker.gallery,)
        assert picker.gallery.order_id == order_id
        assert picker.gallery.exports.path == tmp_path
        picker.gallery.wait()
        tracker.create("Another")
        assert len(picker.order.options) == 2
    finally:
        form.close()
        picker.close()


def test_the_magic_and_the_form_open_the_gallery(ip, tmp_path):
    from IPython.utils.capture import capture_output

    import autoenhance_nb as ae
    from autoenhance_nb import OrderForm

    ae.session().create("Gallery", order_id="gal-1")
    with capture_output() as cap:
        ok = ip.run_cell("%autoenhance_order --gallery gal-1")
    shown = [o.data.get("text/plain", "") for o in cap.outputs]
    assert ok.success and any("gallery" in text.lower() for text in shown), (shown, cap.stdout)
    with capture_output() as cap:
        bad = ip.run_cell("%autoenhance_order --gallery no-such-order")
    assert not bad.success and "no order 'no-such-order'" in cap.stdout + cap.stderr
    form = OrderForm(export_dir=tmp_path)
    assert form.gallery_picker in form.children
    form.close()


def test_a_bad_gallery_id_is_refused_before_anything_is_sent(sandbox, ip):
    from IPython.utils.capture import capture_output

    sandbox.clear_log()
    with capture_output() as cap:
        bad = ip.run_cell("%autoenhance_order Kitchen --gallery '..'")
    assert not bad.success and "--gallery" in cap.stdout + cap.stderr
    assert sandbox.requests_to("create_order") == []  # the create was not sent either
