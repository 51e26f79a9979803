"""The gallery's "selected" row: select the page or none, then buy, redo or report every
selected photo at once (a few at a time, in the background; each card shows its own
result, the gallery a summary). It sees the gallery's ``GalleryState``, never the
gallery or its cards."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ...display import html, message_html
from ...errors import one_line
from ...tracker import BatchResult, fan_out
from .._kit import BackgroundActions, SafeHTML, auto_layout, close_parts, error_message, row
from . import _actions as A
from ._panels import ActionBox, RedoFlow, ReportFlow
from ._state import GalleryState

__all__ = ["BulkActions"]


class BulkActions(ActionBox):
    def __init__(self, state: GalleryState):
        self.state = state
        self._actions = BackgroundActions(
            lambda: self.buttons, lambda t: self.say(t, "error"), name="autoenhance-gallery"
        )
        self._redo = RedoFlow(
            state,
            "Redo selected now",
            "ae-redo-selected",
            lambda call, done: self._each(self.redo_button, "Redoing…", "redone", call, done),
            self.say,
        )
        self._report = ReportFlow(
            state.tracker,
            "Report selected now",
            "ae-report-selected",
            lambda call, done: self._each(self.report_button, "Reporting…", "reported", call, done),
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
        if hasattr(self, "_redo"):
            close_parts(self, self._redo.panel, self._report.panel)
        super().close()

    def show_count(self) -> None:
        n = len(self.state.selected)
        self.count.value = html("<b>{}</b> selected", n)

    def say(self, text: str, kind: str = "info") -> None:
        self.message.value = message_html(one_line(text, 300), kind)

    def wait(self, timeout: float = 60.0) -> None:
        self._actions.wait(timeout)

    def set_page_selected(self, value: bool, everywhere: bool = False) -> None:
        selected = self.state.selected
        if everywhere and not value:
            selected.clear()
        for image_id in self.state.page():
            if value:
                selected.add(image_id)
            else:
                selected.discard(image_id)
            self.state.changed(image_id)  # its card's box follows
        self.show_count()

    # -- acting on the selection ---------------------------------------------------------
    def _each(
        self,
        button: w.Button,
        label: str,
        verb: str,
        call: Callable[[str], str],
        done: Callable[[], None] | None = None,
    ) -> bool:
        """Run ``call`` on every selected image in the background (a few at a time), each
        line on its card, a summary here; then ``done()`` if none failed."""
        ids = [r["image_id"] for r in self.state.selected_rows()]
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
            elif done is not None:
                done()
            self.say(text, "error" if result.failed else "ok")

        return self._actions.run(button, label, job)

    def _note(self, image_id: str, text: str, kind: str) -> None:
        self.state.note(image_id, text, kind)
        self.state.changed(image_id)

    def buy(self) -> bool:
        """Buy the full size of every selected photo (credits) into the export folder."""
        names = {r["image_id"]: r.get("image_name") or r["image_id"] for r in self.state.rows}
        return self._each(
            self.buy_button,
            "Buying…",
            "bought",
            lambda image_id: A.buy(self.state, image_id, names[image_id]),
        )
