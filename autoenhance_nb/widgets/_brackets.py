"""``BracketsChoice``: the order form's "Photos are HDR brackets" control, kept apart
from ``widgets.py``. A choice (No / auto / 3 / 5 / 7 per image) and the grouping of the
chosen photos shown *before* anything is uploaded; ``add_to`` uploads and merges them.

Photos come as paths, or as the form's ``FileUpload`` value (name and bytes): those are
written to a private temporary folder first, since the grouping reads their EXIF.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..display import Markup, frame_html, html, join
from ..rules import safe_filename
from ..rules.brackets import Grouping, plan_brackets
from ..tracker import BracketsResult
from ._kit import SafeHTML, error_message

__all__ = ["BracketsChoice", "CHOICES", "NO"]

#: No HDR: the dropdown's first entry. Not None, which ipywidgets reads as "nothing
#: selected" (a blank dropdown).
NO = ""
#: The choices of the dropdown: label -> ``per_image`` (``NO``: the photos are not HDR).
CHOICES: dict[str, int | str] = {
    "No": NO,
    "auto (from EXIF)": "auto",
    "3 per image": 3,
    "5 per image": 5,
    "7 per image": 7,
}


class BracketsChoice(w.VBox):
    """choice = BracketsChoice(); choice.mode.value = "auto"; choice.preview(paths)"""

    def __init__(self, tracker: Any = None):
        self.tracker = tracker
        self.mode = w.Dropdown(
            options=list(CHOICES.items()),
            value=NO,
            description="HDR brackets",
            style={"description_width": "initial"},
        )
        self.table = SafeHTML()
        self.grouping: Grouping | None = None
        self._files: list[Path] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.mode.observe(lambda _: self._show(), names="value")
        super().__init__([self.mode, self.table])

    @property
    def enabled(self) -> bool:
        return self.mode.value not in (NO, None)

    def preview(self, photos: Any) -> Grouping | None:
        """Group ``photos`` (paths, or a FileUpload value) as chosen and show the table;
        None (and nothing shown) when the photos are not HDR. Sends nothing. A file that
        is not a readable image is shown as the reason nothing can be grouped."""
        self._files = self._paths(photos)
        return self._show()

    def add_to(
        self, order_id: str, photos: Any = None, options: dict[str, Any] | None = None
    ) -> BracketsResult:
        """Upload the previewed (or given) photos as brackets into ``order_id`` and
        process them with ``options``; the table shows what happened."""
        if photos is not None:
            self._files = self._paths(photos)
        if not self.enabled:
            raise ValueError("Choose how the photos are grouped first (HDR brackets)")
        result = self.tracker.add_brackets(
            order_id, self._files, self.mode.value, options=options, progress=False
        )
        self.grouping = result.grouping
        self.table.value = _table(result.grouping, result.summary())
        return result

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        super().close()

    def _show(self) -> Grouping | None:
        self.grouping = None
        if not self.enabled or not self._files:
            self.table.value = ""
            return None
        try:
            self.grouping = plan_brackets(self._files, self.mode.value)
        except Exception as exc:
            self.table.value = html("<p>⚠ {}</p>", error_message(exc))
            return None
        self.table.value = _table(self.grouping, "Nothing uploaded yet: " + self.grouping.summary())
        return self.grouping

    def _paths(self, photos: Any) -> list[Path]:
        items = list(photos or ())
        if not items or not isinstance(items[0], dict):
            return [Path(p) for p in items]
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="autoenhance-brackets-")
        folder = Path(self._tmp.name)
        for old in folder.iterdir():
            old.unlink()
        used: set[str] = set()
        paths = []
        for item in items:  # FileUpload value: {"name": ..., "content": memoryview, ...}
            path = folder / safe_filename(str(item.get("name") or "photo"), used)
            path.write_bytes(bytes(item["content"]))
            paths.append(path)
        return paths


def _table(grouping: Grouping, caption: str) -> Markup:
    notes = join(html("<p>⚠ {}</p>", w_) for w_ in grouping.warnings)
    frame = frame_html(grouping.df)
    return html("<p>{}</p>{}{}", caption, notes, frame)
