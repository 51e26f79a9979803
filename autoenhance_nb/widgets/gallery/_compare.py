"""``CompareView``: one photo before and after, over each other at the gallery's full
width, with a slider that moves the line between them (as photo-enhancement products
show it). The slider is a real ``IntSlider``, so the keyboard reaches it (Tab, then the
arrow keys, Home and End); "Before" and "After" jump to either end.

The pictures are sent once per photo; moving the slider changes only a one-line
stylesheet (the enhanced picture's ``clip-path``), so dragging stays cheap."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ...display import Markup, html, safe
from ...errors import one_line
from .._kit import SafeHTML, auto_layout, error_message, row
from ._cache import data_url
from ._state import GalleryState

__all__ = ["CompareView"]

#: The view's own layout: the pictures fill the width, the enhanced one over the original.
COMPARE_CSS = (
    "<style>.ae-compare-frame{position:relative;width:100%;max-width:960px;"
    "line-height:0;user-select:none}"
    ".ae-compare-frame img{display:block;width:100%;height:auto;border-radius:2px}"
    ".ae-compare-frame img.ae-compare-after{position:absolute;top:0;left:0;height:100%;"
    "object-fit:fill}"
    ".ae-compare-tag{position:absolute;top:6px;padding:1px 6px;border-radius:3px;"
    "font-size:11px;line-height:16px;color:#fff;background:rgba(0,0,0,.6)}"
    ".ae-compare-tag.ae-before{left:6px}.ae-compare-tag.ae-after{right:6px}</style>"
)


class CompareView(w.VBox):
    """``view.show(image_id, name)`` compares that photo; ``view.hide()`` folds it away."""

    def __init__(self, state: GalleryState):
        self.state = state
        self.image_id: str | None = None
        self._pictures: dict[str, bytes] = {}
        self.title = SafeHTML().add_class("ae-compare-title")
        # widths "auto", not 100%: a widget's margin would push a 100% box out of its parent
        self.picture = SafeHTML(layout=w.Layout(width="auto")).add_class("ae-compare-picture")
        self.clip = SafeHTML().add_class("ae-compare-clip")
        self.slider = w.IntSlider(
            value=50,
            min=0,
            max=100,
            description="Before ◂ ▸ After",
            readout=False,
            tooltip="Move the line between the original (left) and the enhanced (right)",
            style={"description_width": "initial"},
            layout=w.Layout(width="auto", flex="1 1 160px", max_width="640px", min_width="0"),
        ).add_class("ae-compare-slider")
        self.before_button = w.Button(description="Before", layout=auto_layout()).add_class(
            "ae-compare-before-button"
        )
        self.after_button = w.Button(description="After", layout=auto_layout()).add_class(
            "ae-compare-after-button"
        )
        self.close_button = w.Button(
            description="Close", icon="times", layout=auto_layout()
        ).add_class("ae-compare-close")
        super().__init__(
            [
                row(self.title, self.close_button),
                self.picture,
                self.clip,
                row(self.before_button, self.slider, self.after_button),
            ],
            layout=w.Layout(display="none", width="auto", max_width="100%"),
        )
        self.add_class("ae-compare")
        self.slider.observe(lambda _: self._show_clip(), names="value")
        self.before_button.on_click(lambda _: setattr(self.slider, "value", 100))
        self.after_button.on_click(lambda _: setattr(self.slider, "value", 0))
        self.close_button.on_click(lambda _: self.hide())

    @property
    def shown(self) -> bool:
        return self.layout.display != "none"

    def show(self, image_id: str, name: str = "") -> None:
        """Compare ``image_id``: its original and its enhanced preview (as the card has
        them: from the gallery's cache, or fetched)."""
        self.image_id, self._pictures = image_id, {}
        self.title.value = html("<b>Before and after</b>: {}", one_line(name or image_id, 120))
        self.picture.value = html("<i>loading…</i>")
        self.slider.value = 50
        self._show_clip()
        self.layout.display = None
        revision = self.state.revision(image_id)
        for kind, rev in (("original", 0), ("enhanced", revision)):
            self.state.thumbs.get((image_id, kind, rev), self._arrived(image_id, kind))

    def hide(self) -> None:
        self.image_id, self._pictures = None, {}
        self.picture.value = ""
        self.layout.display = "none"

    def _arrived(self, image_id: str, kind: str) -> Any:
        def done(data: bytes | None, error: BaseException | None) -> None:
            if image_id != self.image_id:
                return  # another photo is compared now
            if data is None:
                self.picture.value = html(
                    "<i>The {} picture could not be loaded: {}</i>",
                    kind,
                    error_message(error or RuntimeError("no data")),
                )
                return
            self._pictures[kind] = data
            if len(self._pictures) == 2:
                self.picture.value = self._frame()

        return done

    def _frame(self) -> Markup:
        return html(
            '{}<div class="ae-compare-frame ae-cmp-{}">'
            '<img class="ae-compare-before" alt="before (original)" src="{}">'
            '<img class="ae-compare-after" alt="after (enhanced)" src="{}">'
            '<span class="ae-compare-tag ae-before">Before</span>'
            '<span class="ae-compare-tag ae-after">After</span></div>',
            safe(COMPARE_CSS),
            self.model_id,
            data_url(self._pictures["original"]),
            data_url(self._pictures["enhanced"]),
        )

    def _show_clip(self) -> None:
        # the enhanced picture shows right of the line: at 0 all of it, at 100 none
        self.clip.value = html(
            "<style>.ae-cmp-{} .ae-compare-after{{clip-path:inset(0 0 0 {}%)}}</style>",
            self.model_id,
            int(self.slider.value),
        )
