"""``CompareView``: one photo before and after at the gallery's width, a slider (keyboard
reachable: an IntSlider) moving the line between them, Before/After jumps, Close."""

from __future__ import annotations

import re

import ipywidgets as w

from autoenhance_nb.widgets.gallery._gallery import OrderGallery

from .test_gallery import _order, _until


def test_compare_shows_one_photo_before_and_after_with_a_slider(sandbox, tracker, tmp_path):
    sandbox.processing_seconds = 0
    order_id = _order(tracker, 2, (400, 260))
    g = OrderGallery(order_id, tracker, export_dir=tmp_path, refresh_interval=0.1)
    try:
        _until(lambda: all(c.image["status"] == "processed" for c in g.cards.values()))
        view = g.compare
        assert not view.shown and g.children.index(view) < g.children.index(g.cards_box)
        card = next(iter(g.cards.values()))
        assert not card.compare_button.disabled
        card.compare_button.click()
        assert view.shown and view.image_id == card.image_id
        _until(lambda: "ae-compare-frame" in view.picture.value)
        frame = view.picture.value
        assert len(re.findall(r'<img class="ae-compare-(?:before|after)"', frame)) == 2
        assert frame.count("data:image/") == 2 and card.name in view.title.value
        assert isinstance(view.slider, w.IntSlider)  # Tab and the arrow keys reach it
        assert f"ae-cmp-{view.model_id}" in frame and "inset(0 0 0 50%)" in view.clip.value
        view.slider.value = 30
        assert "inset(0 0 0 30%)" in view.clip.value
        assert view.picture.value == frame  # the pictures are not sent again
        view.before_button.click()
        assert view.slider.value == 100
        view.after_button.click()
        assert view.slider.value == 0
        view.close_button.click()
        assert not view.shown and view.picture.value == ""
    finally:
        g.close()


def test_a_photo_not_processed_cannot_be_compared(sandbox, tracker, tmp_path):
    sandbox.processing_seconds = 30
    order_id = _order(tracker, 1)
    g = OrderGallery(order_id, tracker, export_dir=tmp_path, refresh_interval=60)
    try:
        (card,) = g.cards.values()
        assert card.image["status"] == "processing" and card.compare_button.disabled
    finally:
        g.close()
