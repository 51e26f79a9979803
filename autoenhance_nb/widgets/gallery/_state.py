"""``GalleryState``: what a gallery shares with its cards and its "selected" actions, as
plain data and the gallery's callbacks, so that neither a card nor the bulk actions know
the gallery widget (nor import it). No widgets here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...display import Markup, message_html
from ...errors import one_line
from .._exports import ExportFolder
from ._cache import Thumbnailer

__all__ = ["GalleryState"]


def _nothing(*_: object) -> None:
    return None


@dataclass(eq=False)
class GalleryState:
    """Owned by the gallery; each card and the bulk actions get the same one.

        The gallery fills in the callbacks: ``page()`` the ids of the cards shown,
        ``changed(image_id)`` shows that image's selection, note and bought file again on its
        card (if shown), ``redone(image_id)`` after a redo (a new enhanced picture is coming),
        ``selection_changed()`` after a card's box is ticked or cleared, ``compare(image_id,
    name)`` shows that photo before and after at the gallery's width.
    """

    tracker: Any
    exports: ExportFolder
    thumbs: Thumbnailer
    rows: list[dict[str, Any]] = field(default_factory=list)  # the order's images, in order
    selected: set[str] = field(default_factory=set)
    notes: dict[str, Markup] = field(default_factory=dict)  # image_id -> its card's last line
    bought: dict[str, Path] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)  # bumped by a redo
    brackets: dict[str, int] = field(default_factory=dict)
    page: Callable[[], list[str]] = list
    changed: Callable[[str], None] = _nothing
    redone: Callable[[str], None] = _nothing
    selection_changed: Callable[[], None] = _nothing
    compare: Callable[[str, str], None] = _nothing  # (image_id, name): before and after

    def revision(self, image_id: str) -> int:
        """How many times ``image_id`` was redone here (its enhanced thumbnail's key)."""
        return self.revisions.get(image_id, 0)

    def note(self, image_id: str, text: str, kind: str = "info") -> Markup:
        """Keep one line for ``image_id``'s card (shown again when the card is); returns it."""
        line = self.notes[image_id] = message_html(one_line(text, 300), kind)
        return line

    def selected_rows(self) -> list[dict[str, Any]]:
        """The selected images' rows, in the order's order."""
        return [r for r in self.rows if r["image_id"] in self.selected]
