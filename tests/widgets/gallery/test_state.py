"""The gallery's state object and its one report flow: a card and the "selected" actions
work on a ``GalleryState`` alone (no gallery widget, no sandbox), and neither imports the
gallery."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autoenhance_nb.widgets import ExportFolder
from autoenhance_nb.widgets.gallery._bulk import BulkActions
from autoenhance_nb.widgets.gallery._cache import Thumbnailer
from autoenhance_nb.widgets.gallery._card import ImageCard
from autoenhance_nb.widgets.gallery._panels import ReportFlow
from autoenhance_nb.widgets.gallery._state import GalleryState

GALLERY = Path(__file__).resolve().parents[3] / "autoenhance_nb" / "widgets" / "gallery"


class FakeTracker:
    client = None

    def __init__(self, refuse: bool = False):
        self.reports: list[tuple] = []
        self.refuse = refuse

    def report(self, image_id, categories, comment, score):
        if self.refuse:
            raise ValueError("no categories")
        self.reports.append((image_id, list(categories), comment, score))
        return {"message": "received"}


@pytest.fixture
def state(tmp_path):
    calls: dict[str, list] = {"changed": [], "selection": []}
    rows = [
        {"image_id": "img-a", "image_name": "a.jpg", "status": "processed"},
        {"image_id": "img-b", "image_name": "b.jpg", "status": "processed"},
    ]
    thumbs = Thumbnailer(client=None)
    made = GalleryState(
        FakeTracker(),
        ExportFolder(tmp_path),
        thumbs,
        rows=rows,
        page=lambda: ["img-a", "img-b"],
        changed=calls["changed"].append,
        selection_changed=lambda: calls["selection"].append(1),
    )
    made.calls = calls  # type: ignore[attr-defined]
    yield made
    thumbs.close()


def test_cards_and_the_selected_actions_import_no_gallery_module():
    for name in ("_card.py", "_bulk.py", "_panels.py", "_state.py", "_actions.py"):
        tree = ast.parse((GALLERY / name).read_text(encoding="utf-8"))
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        }
        assert not {m for m in imported if m.endswith(("_gallery", "_picker"))}, name


def test_a_card_reports_and_selects_through_the_state_alone(state):
    card = ImageCard(state, state.rows[0])
    try:
        card.select.value = True
        assert state.selected == {"img-a"} and state.calls["selection"] == [1]
        assert "ae-selected" in card._dom_classes
        assert card.report(["NOISE"], "grainy", 2)
        card.wait()
        assert state.tracker.reports == [("img-a", ["NOISE"], "grainy", 2)]
        assert "Reported: received" in card.message.value
        assert state.notes["img-a"] == card.message.value  # kept for when it shows again
    finally:
        card.close()


def test_a_card_shows_what_the_state_holds_for_it(state, tmp_path):
    state.selected.add("img-b")
    state.note("img-b", "Bought earlier", "ok")
    (tmp_path / "b.jpg").write_bytes(b"full size")
    state.bought["img-b"] = tmp_path / "b.jpg"
    card = ImageCard(state, state.rows[1])
    try:
        assert card.select.value and "ae-selected" in card._dom_classes
        assert "Bought earlier" in card.message.value
        assert "ae-download-link" in card.link.value
    finally:
        card.close()


def test_the_selected_actions_act_on_the_state_and_tell_the_gallery(state):
    bulk = BulkActions(state)
    try:
        assert not bulk.report(["NOISE"])  # nothing selected
        assert "Select photos first" in bulk.message.value
        state.selected.add("img-b")
        assert bulk.report(["NOISE"], None, None)
        bulk.wait()
        assert state.tracker.reports == [("img-b", ["NOISE"], None, None)]
        assert "reported 1 of 1" in bulk.message.value
        assert "Reported" in state.notes["img-b"] and state.calls["changed"] == ["img-b"]
        bulk.set_page_selected(True)
        assert state.selected == {"img-a", "img-b"}
        bulk.set_page_selected(False, everywhere=True)
        assert state.selected == set()
    finally:
        bulk.close()


def _sync_send(ids):
    def send(call, done):
        for image_id in ids:
            call(image_id)
        done()
        return True

    return send


def test_one_report_flow_sends_the_fields_and_clears_them_once_sent():
    tracker = FakeTracker()
    flow = ReportFlow(tracker, "Send", "ae-test", _sync_send(["x", "y"]))
    fields = flow.open()
    try:
        fields.categories.value = ("NOISE",)
        fields.comment.value = "  grainy "
        fields.score.value = 3
        fields.send.click()
        assert tracker.reports == [("x", ["NOISE"], "grainy", 3), ("y", ["NOISE"], "grainy", 3)]
        assert fields.categories.value == () and fields.comment.value == ""
    finally:
        fields.panel.close()


def test_a_refused_report_keeps_the_fields():
    flow = ReportFlow(FakeTracker(refuse=True), "Send", "ae-test", _sync_send(["x"]))
    fields = flow.open()
    fields.comment.value = "kept"
    with pytest.raises(ValueError):
        flow.send()
    assert fields.comment.value == "kept"
    fields.panel.close()


def test_a_cards_options_line_reads_any_json_the_api_sends():
    from autoenhance_nb.widgets.gallery._actions import options_html, options_text

    options = {"finetune_settings": {"sky": "<b>x</b>"}, "metadata": [1], "privacy": False}
    text = options_text(options)
    assert "Fine-tuning (advanced): {'sky': '<b>x</b>'}" in text and "no blur" in text
    assert "<b>" not in str(options_html(options))  # escaped, tooltip and text


def test_report_categories_read_as_words_and_send_the_apis_values():
    from autoenhance_nb.rules import REPORT_CATEGORIES
    from autoenhance_nb.widgets.gallery._panels import ReportFields

    fields = ReportFields("Send report", "ae-report", lambda: None)
    try:
        labels = dict(fields.categories.options)
        assert labels["Sky replacement"] == "SKY_REPLACEMENT" and labels["HDR"] == "HDR"
        assert set(labels.values()) == set(REPORT_CATEGORIES)
        assert not any("_" in label for label in labels)
        fields.categories.value = ("SKY_REPLACEMENT",)
        assert fields.values()[0] == ["SKY_REPLACEMENT"]
    finally:
        for part in (fields.categories, fields.comment, fields.score, fields.send, fields.panel):
            part.close()
