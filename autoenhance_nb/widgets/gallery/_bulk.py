"""The gallery's "selected" row: select the page or none, then buy, redo or report every
selected photo at once (a few at a time, in the background; each card shows its own
result, the gallery a summary)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ...display import html, message_html
from ...errors import one_line
from ...tracker import BatchResult, fan_out
from .._kit import BackgroundActions, SafeHTML, auto_layout, close_parts, error_message, row
from .._options import EnhancementOptions
from . import _actions as A

if TYPE_CHECKING:
    from ._gallery import OrderGallery

__all__ = ["BulkActions"]


class BulkActions(w.VBox):
    def __init__(self, gallery: OrderGallery):
        self.gallery = gallery
        self._actions = BackgroundActions(
            lambda: self.buttons, lambda t: self.say(t, "error"), name="autoenhance-gallery"
        )
        self.count = SafeHTML().add_class("ae-selected-count")
        self.select_page = w.Button(description="Select page", layout=auto_layout())
        self.select_none = w.Button(description="Select none", layout=auto_layout())
        self.buy_button = w.Button(
            description="Buy selected (uses credits)",
            icon="shopping-cart",
            tooltip="Buys the full-size enhanced images (credits); previews are free",
            layout=auto_layout(),
        ).add_class("ae-buy-selected")
        self.redo_button = w.Button(
            description="Redo selected…", icon="repeat", layout=auto_layout()
        ).add_class("ae-redo-selected")
        self.report_button = w.Button(
            description="Report selected…", icon="flag", layout=auto_layout()
        ).add_class("ae-report-selected")
        self.panel = w.VBox().add_class("ae-bulk-panel")
        self.message = SafeHTML().add_class("ae-bulk-message")
        self.editor: EnhancementOptions | None = None
        self._redo_panel: w.VBox | None = None
        self._report_panel: w.VBox | None = None
        super().__init__(
            [
                row(
                    self.count,
                    self.select_page,
                    self.select_none,
                    self.buy_button,
                    self.redo_button,
                    self.report_button,
                ),
                self.panel,
                self.message,
            ]
        )
        self.add_class("ae-bulk")
        self.select_page.on_click(lambda _: self.set_page_selected(True))
        self.select_none.on_click(lambda _: self.set_page_selected(False, everywhere=True))
        self.buy_button.on_click(lambda _: self.buy())
        self.redo_button.on_click(lambda _: self.toggle_redo())
        self.report_button.on_click(lambda _: self.toggle_report())
        self.show_count()

    def close(self) -> None:
        close_parts(self, getattr(self, "_redo_panel", None), getattr(self, "_report_panel", None))
        super().close()

    @property
    def buttons(self) -> list[w.Button]:
        extra = [self.redo_now] if self._redo_panel is not None else []
        if self._report_panel is not None:
            extra.append(self.report_now)
        return [self.buy_button, self.redo_button, self.report_button, *extra]

    def show_count(self) -> None:
        n = len(self.gallery.selected)
        self.count.value = html("<b>{}</b> selected", n)

    def say(self, text: str, kind: str = "info") -> None:
        self.message.value = message_html(one_line(text, 300), kind)

    def wait(self, timeout: float = 60.0) -> None:
        self._actions.wait(timeout)

    def set_page_selected(self, value: bool, everywhere: bool = False) -> None:
        if everywhere and not value:
            self.gallery.selected.clear()
        for card in self.gallery.cards.values():
            card.select.value = value
        self.show_count()

    # -- acting on the selection ---------------------------------------------------------
    def _each(self, button: w.Button, label: str, verb: str, call: Callable[[str], str]) -> bool:
        ids = [r["image_id"] for r in self.gallery.rows if r["image_id"] in self.gallery.selected]
        if not ids:
            self.say("Select photos first (the box on each card)", "error")
            return False

        def one(image_id: str) -> str:
            try:
                text = call(image_id)
            except Exception as exc:
                self._note(image_id, error_message(exc), "error")
                raise
            self._note(image_id, text, "ok")
            return text

        def job() -> None:
            result = BatchResult(total=len(ids), verb=verb)
            fan_out(
                ids,
                one,
                workers=4,
                result=result,
                describe=lambda i: {"image": i},
                thread_name="autoenhance-gallery-bulk",
            )
            text = f"Selected photos: {result.summary()}"
            if result.failed:
                text += f" – {one_line(result.failed[0].message, 160)}"
            self.say(text, "error" if result.failed else "ok")

        return self._actions.run(button, label, job)

    def _note(self, image_id: str, text: str, kind: str) -> None:
        card = self.gallery.cards.get(image_id)
        if card is not None:
            card.say(text, kind)
        else:
            self.gallery.notes[image_id] = message_html(one_line(text, 300), kind)

    def buy(self) -> bool:
        """Buy the full size of every selected photo (credits) into the export folder."""
        names = {r["image_id"]: r.get("image_name") or r["image_id"] for r in self.gallery.rows}

        def one(image_id: str) -> str:
            text, path = A.buy(
                self.gallery.tracker, self.gallery.exports, image_id, names[image_id]
            )
            self.gallery.bought[image_id] = path
            card = self.gallery.cards.get(image_id)
            if card is not None:
                card.link.value = A.bought_link(path)
            return text

        return self._each(self.buy_button, "Buying…", "bought", one)

    def toggle_redo(self) -> None:
        if self._redo_panel is None:
            self.editor = EnhancementOptions(self.gallery.tracker)
            self.redo_now = w.Button(
                description="Redo selected now", button_style="primary", layout=auto_layout()
            ).add_class("ae-redo-selected-now")
            self.redo_now.on_click(lambda _: self.redo())
            self._redo_panel = w.VBox([self.editor, self.redo_now])
        self.panel.children = (
            () if self.panel.children == (self._redo_panel,) else (self._redo_panel,)
        )

    def redo(self, **options: Any) -> bool:
        """Enhance every selected photo again with ``options`` (or the editor's)."""
        if not options:
            if self.editor is None:
                self.toggle_redo()
            assert self.editor is not None
            checked = A.editor_options(self.editor, self.say)
            if checked is None:
                return False
            options = checked

        def one(image_id: str) -> str:
            text = A.redo(self.gallery.tracker, image_id, options)
            self.gallery.redone(image_id)
            return text

        return self._each(self.redo_button, "Redoing…", "redone", one)

    def toggle_report(self) -> None:
        if self._report_panel is None:
            fields = A.ReportFields("Report selected now", "ae-report-selected", self.report)
            self.categories, self.comment, self.score = (
                fields.categories,
                fields.comment,
                fields.score,
            )
            self.report_now, self._report_panel = fields.send, fields.panel
            self._report_fields = fields
        self.panel.children = (
            () if self.panel.children == (self._report_panel,) else (self._report_panel,)
        )

    def report(
        self,
        categories: list[str] | None = None,
        comment: str | None = None,
        score: int | None = None,
    ) -> bool:
        """Report every selected photo (categories, comment, score: or the fields')."""
        if categories is None:
            if self._report_panel is None:
                self.toggle_report()
            categories, comment, score = self._report_fields.values()
        cats = list(categories)
        return self._each(
            self.report_button,
            "Reporting…",
            "reported",
            lambda i: A.report(self.gallery.tracker, i, cats, comment, score),
        )
