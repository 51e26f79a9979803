"""The folded panels of a card and of the "selected" actions, one flow each for both:
Redo (the options editor) and Report (categories, comment, score). Each flow makes its
fields when first opened, takes the values to send (the arguments, or the fields'),
and hands one call per image to its owner's ``send``, which runs it in the background
(on the card's image, or on every selected one) and shows the answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ... import errors as E
from ...rules import REPORT_CATEGORIES, REPORT_CATEGORY_LABELS
from .._kit import auto_layout, field_layout
from .._options import EnhancementOptions
from . import _actions as A
from ._state import GalleryState

__all__ = ["ActionBox", "RedoFlow", "ReportFields", "ReportFlow", "fold"]

#: How an owner runs a flow: ``send(call, done)`` runs ``call(image_id)`` for its images
#: in the background (showing each line it returns) and then ``done()`` if none failed;
#: False when nothing started.
Send = Callable[[Callable[[str], str], Callable[[], None]], bool]
Say = Callable[[str, str], None]


def fold(holder: w.Box, panel: w.Widget) -> None:
    """Show ``panel`` as ``holder``'s only child, or fold it away if it is shown."""
    holder.children = () if holder.children == (panel,) else (panel,)


def _nothing() -> None:
    return None


class ReportFields:
    """The report's fields (categories from the spec, a comment, a score 0-5) and its send
    button, for one card or for the selected cards; ``prefix`` names their CSS classes."""

    def __init__(self, label: str, prefix: str, on_send: Callable[[], object]):
        self.categories = w.SelectMultiple(
            description="Categories",
            options=[(REPORT_CATEGORY_LABELS[c], c) for c in REPORT_CATEGORIES],
            rows=4,
            layout=field_layout(320),
        ).add_class(f"{prefix}-categories")
        self.comment = w.Text(description="Comment", layout=field_layout(320)).add_class(
            f"{prefix}-comment"
        )
        self.score = w.Dropdown(
            description="Score",
            options=[("none", None)] + [(str(i), i) for i in range(6)],
            layout=field_layout(200),
        ).add_class(f"{prefix}-score")
        self.send = w.Button(
            description=label, button_style="warning", layout=auto_layout()
        ).add_class(f"{prefix}-now")
        self.send.on_click(lambda _: on_send())
        self.panel = w.VBox([self.categories, self.comment, self.score, self.send]).add_class(
            f"{prefix}-panel"
        )

    def values(self) -> tuple[list[str], str | None, int | None]:
        """(categories, comment or None, score or None) as the fields hold them."""
        return list(self.categories.value), self.comment.value.strip() or None, self.score.value

    def clear(self) -> None:
        self.categories.value, self.comment.value = (), ""


class ReportFlow:
    """Report a problem with the owner's images: the fields are cleared once every
    report went through; the API's refusal (no category, say) is the owner's one line."""

    def __init__(self, tracker: Any, label: str, prefix: str, send: Send):
        self._tracker, self._label, self._prefix, self._send = tracker, label, prefix, send
        self.fields: ReportFields | None = None

    @property
    def panel(self) -> w.VBox | None:
        return None if self.fields is None else self.fields.panel

    @property
    def buttons(self) -> list[w.Button]:
        return [] if self.fields is None else [self.fields.send]

    def open(self) -> ReportFields:
        if self.fields is None:
            self.fields = ReportFields(self._label, self._prefix, self.send)
        return self.fields

    def send(
        self,
        categories: list[str] | None = None,
        comment: str | None = None,
        score: int | None = None,
    ) -> bool:
        """Report with the arguments, or with the fields' values when no categories are
        given."""
        if categories is None:
            categories, comment, score = self.open().values()
        cats = list(categories)
        fields = self.fields
        return self._send(
            lambda image_id: A.report(self._tracker, image_id, cats, comment, score),
            fields.clear if fields is not None else _nothing,
        )


class RedoFlow:
    """Enhance the owner's images again, with the given options or the editor's (filled
    with ``preset()`` when first opened); options the editor refuses are said, not sent."""

    def __init__(
        self,
        state: GalleryState,
        label: str,
        prefix: str,
        send: Send,
        say: Say,
        preset: Callable[[], dict[str, Any]] | None = None,
    ):
        self._state, self._label, self._prefix = state, label, prefix
        self._send, self._say, self._preset = send, say, preset
        self.editor: EnhancementOptions | None = None
        self.button: w.Button | None = None
        self.panel: w.VBox | None = None

    @property
    def buttons(self) -> list[w.Button]:
        return [] if self.button is None else [self.button]

    def open(self) -> w.VBox:
        if self.panel is None:
            self.editor = EnhancementOptions(self._state.tracker)
            if self._preset is not None:
                try:
                    self.editor.set_options(self._preset())
                except E.AutoenhanceError:
                    pass
            self.button = w.Button(
                description=self._label, button_style="primary", layout=auto_layout()
            ).add_class(f"{self._prefix}-now")
            self.button.on_click(lambda _: self.send())
            self.panel = w.VBox([self.editor, self.button]).add_class(f"{self._prefix}-panel")
        return self.panel

    def send(self, **options: Any) -> bool:
        """Redo with ``options``, or the editor's when none are given."""
        if not options:
            self.open()
            assert self.editor is not None
            try:
                options = dict(self.editor.options)
            except E.ValidationError as exc:
                self._say(str(exc), "error")
                return False
        return self._send(lambda image_id: A.redo(self._state, image_id, options), _nothing)


def options_of(image: dict[str, Any]) -> dict[str, Any]:
    """The options an image row was enhanced with, as a dict ({} when unreadable)."""
    options = image.get("options")
    if isinstance(options, str) and options:
        try:
            options = json.loads(options)
        except ValueError:
            return {}
    return options if isinstance(options, dict) else {}


class ActionBox(w.VBox):
    """What a card and the selected-cards row share: Buy, Redo and Report buttons with a
    Redo and a Report flow, and the folded panels' fields as tests and scripts reach them
    (the subclass makes ``buy_button``, ``redo_button``, ``report_button``, ``_redo``
    and ``_report``)."""

    buy_button: w.Button
    redo_button: w.Button
    report_button: w.Button
    panel: w.VBox
    _redo: RedoFlow
    _report: ReportFlow

    def toggle_redo(self) -> None:
        """Open (or close) the options editor for Redo (a card's filled with its image's
        options)."""
        fold(self.panel, self._redo.open())

    def redo(self, **options: Any) -> bool:
        """Enhance again: with ``options``, or the editor's when none are given."""
        return self._redo.send(**options)

    def toggle_report(self) -> None:
        """Open (or close) the report fields: categories, comment, score."""
        fold(self.panel, self._report.open().panel)

    def report(
        self,
        categories: list[str] | None = None,
        comment: str | None = None,
        score: int | None = None,
    ) -> bool:
        """Report a problem: with the arguments, or the report fields' values."""
        return self._report.send(categories, comment, score)

    @property
    def buttons(self) -> list[w.Button]:
        return [
            self.buy_button,
            self.redo_button,
            self.report_button,
            *self._redo.buttons,
            *self._report.buttons,
        ]

    @property
    def editor(self) -> EnhancementOptions | None:
        return self._redo.editor

    @property
    def redo_now(self) -> w.Button | None:
        return self._redo.button

    @property
    def report_now(self) -> w.Button:
        return self._report.open().send

    @property
    def categories(self) -> w.SelectMultiple:
        return self._report.open().categories

    @property
    def comment(self) -> w.Text:
        return self._report.open().comment

    @property
    def score(self) -> w.Dropdown:
        return self._report.open().score
