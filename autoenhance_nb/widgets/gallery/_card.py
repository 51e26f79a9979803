"""One card of the gallery: the original and the enhanced preview side by side, the
image's name, status, options and bracket count, a checkbox to select it, and its
actions (buy the full size, redo with other options, report), each run in the
background with the card's buttons disabled and its result on the card. A card sees
the gallery's ``GalleryState``, never the gallery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from .._kit import BackgroundActions, SafeHTML, auto_layout, close_parts, error_message, row
from . import _actions as A
from ._panels import ActionBox, RedoFlow, ReportFlow, options_of
from ._state import GalleryState

__all__ = ["HAS_ORIGINAL", "ImageCard"]

#: Statuses with an original to show (the bytes are uploaded).
HAS_ORIGINAL = ("processing", "processed", "error")


class ImageCard(ActionBox):
    """A card for one row of ``tracker.images_df`` (a dict), on a gallery's ``state``."""

    def __init__(self, state: GalleryState, image: dict[str, Any]):
        self.state = state
        self.image_id: str = image["image_id"]
        self.image: dict[str, Any] = dict(image)
        self.closed = False
        self._shown: dict[str, int | None] = {"original": None, "enhanced": None}
        self._linked: Path | None = None
        self._actions = BackgroundActions(
            lambda: self.buttons, lambda text: self.say(text, "error"), name="autoenhance-card"
        )
        self._redo = RedoFlow(
            state,
            "Redo now",
            "ae-redo",
            lambda call, done: self._act(self.redo_button, "Redoing…", call, done),
            self.say,
            preset=lambda: options_of(self.image),
        )
        self._report = ReportFlow(
            state.tracker,
            "Send report",
            "ae-report",
            lambda call, done: self._act(self.report_button, "Reporting…", call, done),
        )
        self.select = w.Checkbox(
            value=self.image_id in state.selected, indent=False, layout=w.Layout(width="auto")
        ).add_class("ae-card-select")
        self.title = SafeHTML(layout=w.Layout(min_width="0", flex="1 1 auto")).add_class(
            "ae-card-head"
        )
        self.original = SafeHTML().add_class("ae-thumb-box").add_class("ae-original")
        self.enhanced = SafeHTML().add_class("ae-thumb-box").add_class("ae-enhanced")
        self.meta = SafeHTML().add_class("ae-card-meta")
        self.message = SafeHTML().add_class("ae-card-message")
        self.link = SafeHTML().add_class("ae-card-link")
        self._make_buttons()
        self.panel = w.VBox().add_class("ae-card-panel")
        super().__init__(
            [
                w.HBox([self.select, self.title], layout=w.Layout(max_width="100%")),
                w.HBox([self.original, self.enhanced], layout=w.Layout(max_width="100%")),
                self.meta,
                row(self.compare_button, self.buy_button, self.redo_button, self.report_button),
                self.message,
                self.link,
                self.panel,
            ],
            layout=w.Layout(flex="0 1 340px", min_width="0", max_width="100%"),
        )
        self.add_class("ae-card")
        self.select.observe(self._on_select, names="value")
        self.show_state()
        self._show_row(image)

    def _make_buttons(self) -> None:
        self.compare_button = w.Button(
            description="Compare",
            icon="columns",
            tooltip="Before and after over each other, at the gallery's full width",
            layout=auto_layout(),
        ).add_class("ae-compare-button")
        self.compare_button.on_click(lambda _: self.state.compare(self.image_id, self.name))
        self.buy_button = w.Button(
            description="Buy full size",
            icon="shopping-cart",
            tooltip="Buys the full-size enhanced image (uses credits); previews are free",
            layout=auto_layout(),
        ).add_class("ae-buy")
        self.redo_button = w.Button(
            description="Redo…",
            icon="repeat",
            tooltip="Enhance again with other options",
            layout=auto_layout(),
        ).add_class("ae-redo")
        self.report_button = w.Button(
            description="Report…",
            icon="flag",
            tooltip="Report a problem with the result",
            layout=auto_layout(),
        ).add_class("ae-report")
        self.buy_button.on_click(lambda _: self.buy())
        self.redo_button.on_click(lambda _: self.toggle_redo())
        self.report_button.on_click(lambda _: self.toggle_report())

    @property
    def name(self) -> str:
        return str(self.image.get("image_name") or self.image_id)

    @property
    def busy(self) -> bool:
        return self._actions.busy

    def wait(self, timeout: float = 60.0) -> None:
        self._actions.wait(timeout)

    def say(self, text: str, kind: str = "info") -> None:
        """One line on the card (kept in the state for when the card is shown again)."""
        self.message.value = self.state.note(self.image_id, text, kind)

    # -- state --------------------------------------------------------------------------
    def show_state(self) -> None:
        """Show what the gallery's state holds for this image: selected or not, its last
        line, the link to its bought full size."""
        selected = self.image_id in self.state.selected
        self.select.value = selected
        (self.add_class if selected else self.remove_class)("ae-selected")
        note = self.state.notes.get(self.image_id)
        if note:
            self.message.value = note
        bought = self.state.bought.get(self.image_id)
        if bought is not None and bought != self._linked and bought.exists():
            self._linked = bought
            self.link.value = A.bought_link(bought)

    def update(self, image: dict[str, Any]) -> None:
        """Show ``image`` (a fresh row): status, options, and thumbnails not yet shown."""
        self._show_row(image)
        if not self.closed:
            self.load()

    def _show_row(self, image: dict[str, Any]) -> None:
        self.image = dict(image)
        status = str(self.image.get("status") or "waiting")
        self.title.value = A.title_html(self.name, status, self.state.brackets.get(self.image_id))
        self.meta.value = A.options_html(self.image.get("options"))
        if status == "error":
            reason = self.image.get("status_reason") or "the API could not enhance it"
            self.say(f"Error: {reason}", "error")
        self.buy_button.disabled = status != "processed" or self.busy
        self.compare_button.disabled = status != "processed"

    def load(self) -> None:
        """Fetch (or take from the cache) the thumbnails this card should show."""
        status = self.image.get("status")
        revision = self.state.revision(self.image_id)
        if status in HAS_ORIGINAL:
            self._want("original", 0)
        elif self._shown["original"] is None:
            self.original.value = A.thumb_html("original", None, "not uploaded yet")
        if status == "processed":
            self._want("enhanced", revision)
        elif self._shown["enhanced"] != revision or status != "processed":
            note = "processing…" if status == "processing" else str(status or "waiting")
            self.enhanced.value = A.thumb_html("enhanced", None, note)
            self._shown["enhanced"] = None

    def _want(self, kind: str, revision: int) -> None:
        if self._shown[kind] == revision:
            return
        self._shown[kind] = revision
        box = self.original if kind == "original" else self.enhanced
        if not box.value or "<img" not in box.value:
            box.value = A.thumb_html(kind, None, "loading…")

        def done(data: bytes | None, error: BaseException | None) -> None:
            if self.closed or self._shown[kind] != revision:
                return
            if data is None:
                self._shown[kind] = None
                box.value = A.thumb_html(kind, None, "not loaded")
                self.say(f"{kind} thumbnail: {error_message(error or RuntimeError())}", "error")
            else:
                box.value = A.thumb_html(kind, data)

        self.state.thumbs.get((self.image_id, kind, revision), done)

    def _on_select(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.state.selected.add(self.image_id)
            self.add_class("ae-selected")
        else:
            self.state.selected.discard(self.image_id)
            self.remove_class("ae-selected")
        self.state.selection_changed()

    def close(self) -> None:
        """Close the card and every model it made: its widgets (shown or in a folded
        panel) and their layouts and styles (a closed box leaves all of them registered,
        thumbnails and all)."""
        self.closed = True
        close_parts(self, self._redo.panel, self._report.panel)
        super().close()

    # -- actions ------------------------------------------------------------------------
    def _act(
        self,
        button: w.Button,
        label: str,
        call: Callable[[str], str],
        done: Callable[[], None] | None = None,
    ) -> bool:
        """Run ``call(image_id)`` in the background, then ``done()``; its line on the card."""

        def job() -> None:
            text = call(self.image_id)
            if done is not None:
                done()
            self.say(text, "ok")

        if not self._actions.run(button, label, job):
            self.say("Another action of this card is still running", "error")
            return False
        return True

    def buy(self) -> bool:
        """Buy the full size into the gallery's export folder; a link on the card."""
        name = self.name
        return self._act(
            self.buy_button, "Buying…", lambda image_id: A.buy(self.state, image_id, name)
        )
