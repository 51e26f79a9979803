"""One card of the gallery: the original and the enhanced preview side by side, the
image's name, status, options and bracket count, a checkbox to select it, and its
actions (buy the full size, redo with other options, report), each run in the
background with the card's buttons disabled and its result on the card."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ... import errors as E
from ...display import message_html
from ...errors import one_line
from .._kit import BackgroundActions, SafeHTML, auto_layout, close_parts, error_message, row
from .._options import EnhancementOptions
from . import _actions as A

if TYPE_CHECKING:
    from ._gallery import OrderGallery

__all__ = ["ImageCard"]

#: Statuses with an original to show (the bytes are uploaded).
HAS_ORIGINAL = ("processing", "processed", "error")


class ImageCard(w.VBox):
    """A card for one row of ``tracker.images_df`` (a dict), inside ``gallery``."""

    def __init__(self, gallery: OrderGallery, image: dict[str, Any]):
        self.gallery = gallery
        self.image_id: str = image["image_id"]
        self.image: dict[str, Any] = dict(image)
        self.closed = False
        self._shown: dict[str, int | None] = {"original": None, "enhanced": None}
        self._actions = BackgroundActions(
            lambda: self.buttons, lambda text: self.say(text, "error"), name="autoenhance-card"
        )
        self.select = w.Checkbox(
            value=self.image_id in gallery.selected, indent=False, layout=w.Layout(width="auto")
        ).add_class("ae-card-select")
        self.title = SafeHTML(layout=w.Layout(min_width="0", flex="1 1 auto")).add_class(
            "ae-card-head"
        )
        self.original = SafeHTML().add_class("ae-thumb-box").add_class("ae-original")
        self.enhanced = SafeHTML().add_class("ae-thumb-box").add_class("ae-enhanced")
        self.meta = SafeHTML().add_class("ae-card-meta")
        self.message = SafeHTML().add_class("ae-card-message")
        self.link = SafeHTML().add_class("ae-card-link")
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
        self.panel = w.VBox().add_class("ae-card-panel")
        self._redo_panel: w.VBox | None = None
        self._report_panel: w.VBox | None = None
        self.editor: EnhancementOptions | None = None
        super().__init__(
            [
                w.HBox([self.select, self.title], layout=w.Layout(max_width="100%")),
                w.HBox([self.original, self.enhanced], layout=w.Layout(max_width="100%")),
                self.meta,
                row(self.buy_button, self.redo_button, self.report_button),
                self.message,
                self.link,
                self.panel,
            ],
            layout=w.Layout(flex="0 1 340px", min_width="0", max_width="100%"),
        )
        self.add_class("ae-card")
        self.select.observe(self._on_select, names="value")
        self.buy_button.on_click(lambda _: self.buy())
        self.redo_button.on_click(lambda _: self.toggle_redo())
        self.report_button.on_click(lambda _: self.toggle_report())
        note = gallery.notes.get(self.image_id)
        if note:
            self.message.value = note
        bought = gallery.bought.get(self.image_id)
        if bought is not None and bought.exists():
            self.link.value = A.bought_link(bought)
        self.update(image)

    @property
    def buttons(self) -> list[w.Button]:
        extra = [self.redo_now] if self._redo_panel is not None else []
        if self._report_panel is not None:
            extra.append(self.report_now)
        return [self.buy_button, self.redo_button, self.report_button, *extra]

    @property
    def name(self) -> str:
        return str(self.image.get("image_name") or self.image_id)

    @property
    def busy(self) -> bool:
        return self._actions.busy

    def wait(self, timeout: float = 60.0) -> None:
        self._actions.wait(timeout)

    def say(self, text: str, kind: str = "info") -> None:
        """One line on the card (kept by the gallery for when the card is shown again)."""
        self.message.value = self.gallery.notes[self.image_id] = message_html(
            one_line(text, 300), kind
        )

    # -- state --------------------------------------------------------------------------
    def update(self, image: dict[str, Any]) -> None:
        """Show ``image`` (a fresh row): status, options, and thumbnails not yet shown."""
        self.image = dict(image)
        status = str(self.image.get("status") or "waiting")
        self.title.value = A.title_html(self.name, status, self.gallery.brackets.get(self.image_id))
        self.meta.value = A.options_text(self.image.get("options"))
        if status == "error":
            reason = self.image.get("status_reason") or "the API could not enhance it"
            self.say(f"Error: {reason}", "error")
        self.buy_button.disabled = status != "processed" or self.busy
        if self.gallery.showing(self):
            self.load()

    def load(self) -> None:
        """Fetch (or take from the cache) the thumbnails this card should show."""
        status = self.image.get("status")
        revision = self.gallery.revisions.get(self.image_id, 0)
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

        self.gallery.thumbs.get((self.image_id, kind, revision), done)

    def _on_select(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.gallery.selected.add(self.image_id)
            self.add_class("ae-selected")
        else:
            self.gallery.selected.discard(self.image_id)
            self.remove_class("ae-selected")
        self.gallery.selection_changed()

    def close(self) -> None:
        """Close the card and every model it made: its widgets (shown or in a folded
        panel) and their layouts and styles (a closed box leaves all of them registered,
        thumbnails and all)."""
        self.closed = True
        close_parts(self, self._redo_panel, self._report_panel)
        super().close()

    # -- actions ------------------------------------------------------------------------
    def _run(self, button: w.Button, label: str, job: Callable[[], None]) -> bool:
        if not self._actions.run(button, label, job):
            self.say("Another action of this card is still running", "error")
            return False
        return True

    def buy(self) -> bool:
        """Buy the full size into the gallery's export folder; a link on the card."""
        exports, name = self.gallery.exports, self.name

        def job() -> None:
            text, path = A.buy(self.gallery.tracker, exports, self.image_id, name)
            self.gallery.bought[self.image_id] = path
            self.link.value = A.bought_link(path)
            self.say(text, "ok")

        return self._run(self.buy_button, "Buying…", job)

    def toggle_redo(self) -> None:
        """Open (or close) the options editor for Redo, filled with the image's options."""
        if self._redo_panel is None:
            self.editor = EnhancementOptions(self.gallery.tracker)
            try:
                self.editor.set_options(_options_of(self.image))
            except E.AutoenhanceError:
                pass
            self.redo_now = w.Button(
                description="Redo now", button_style="primary", layout=auto_layout()
            ).add_class("ae-redo-now")
            self.redo_now.on_click(lambda _: self.redo())
            self._redo_panel = w.VBox([self.editor, self.redo_now]).add_class("ae-redo-panel")
        self._show_panel(self._redo_panel)

    def redo(self, **options: Any) -> bool:
        """Enhance again: with ``options``, or the editor's when none are given."""
        if not options:
            if self.editor is None:
                self.toggle_redo()
            assert self.editor is not None
            checked = A.editor_options(self.editor, self.say)
            if checked is None:
                return False
            options = checked

        def job() -> None:
            text = A.redo(self.gallery.tracker, self.image_id, options)
            self.gallery.redone(self.image_id)
            self.say(text, "ok")

        return self._run(self.redo_button, "Redoing…", job)

    def toggle_report(self) -> None:
        """Open (or close) the report fields: categories, comment, score."""
        if self._report_panel is None:
            fields = A.ReportFields("Send report", "ae-report", self.report)
            self.categories, self.comment, self.score = (
                fields.categories,
                fields.comment,
                fields.score,
            )
            self.report_now, self._report_panel = fields.send, fields.panel
            self._report_fields = fields
        self._show_panel(self._report_panel)

    def report(
        self,
        categories: list[str] | None = None,
        comment: str | None = None,
        score: int | None = None,
    ) -> bool:
        """Report a problem: with the arguments, or the report fields' values."""
        if categories is None:
            if self._report_panel is None:
                self.toggle_report()
            categories, comment, score = self._report_fields.values()

        def job() -> None:
            text = A.report(self.gallery.tracker, self.image_id, categories, comment, score)
            if self._report_panel is not None:
                self.categories.value, self.comment.value = (), ""
            self.say(text, "ok")

        return self._run(self.report_button, "Reporting…", job)

    def _show_panel(self, panel: w.Widget) -> None:
        self.panel.children = () if self.panel.children == (panel,) else (panel,)


def _options_of(image: dict[str, Any]) -> dict[str, Any]:
    options = image.get("options")
    if isinstance(options, str) and options:
        import json

        try:
            options = json.loads(options)
        except ValueError:
            return {}
    return options if isinstance(options, dict) else {}


def _descendants(box: w.Widget) -> list[w.Widget]:
    found: list[w.Widget] = []
    for child in getattr(box, "children", ()):
        found.extend(_descendants(child))
        found.append(child)
    return found
