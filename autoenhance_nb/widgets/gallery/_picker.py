"""The "Gallery of" row the ``OrderForm`` shows: a dropdown of the table's orders and
"Show gallery", which opens the order's gallery under the form, exporting into the
form's export folder."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ...display import message_html
from ...errors import one_line
from .._kit import SafeHTML, auto_layout, error_message, field_layout, row, weak_method
from ._gallery import OrderGallery

__all__ = ["GalleryPicker", "add_gallery_picker"]


class GalleryPicker(w.VBox):
    """ "Show gallery" of an order of the form's table; the gallery opens below."""

    def __init__(self, form: Any, **gallery_options: Any):
        self.form = form
        self.tracker = form.tracker
        self.gallery_options = gallery_options
        self.gallery: OrderGallery | None = None
        self.order = w.Dropdown(
            description="Gallery of", options=[], layout=field_layout(380)
        ).add_class("ae-gallery-order")
        self.show_button = w.Button(
            description="Show gallery", icon="image", layout=auto_layout()
        ).add_class("ae-show-gallery")
        self.message = SafeHTML().add_class("ae-gallery-picker-message")
        self._newest: str | None = None
        self.holder = w.VBox(layout=w.Layout(max_width="100%")).add_class("ae-gallery-holder")
        super().__init__(
            [row(self.order, self.show_button, self.message), self.holder],
            layout=w.Layout(max_width="100%"),
        )
        self.add_class("ae-gallery-picker")
        self.show_button.on_click(lambda _: self.show())
        self._unsubscribe = self.tracker.on_change(weak_method(self, "update_orders"))
        self.update_orders()

    def update_orders(self) -> None:
        latest = self.tracker.latest(getattr(self.form, "rows", 50))
        entries = [
            (f"{one_line(n or '(no name)', 40)} · {one_line(o, 24)}", o)
            for o, n in zip(
                reversed(list(latest["order_id"])), reversed(list(latest["name"])), strict=False
            )
        ]
        if entries != list(self.order.options):
            current = self.order.value
            ids = [o for _, o in entries]
            newest = ids[0] if ids else None
            # a new order (the one just created) is picked; otherwise the pick stays
            if newest != self._newest or current not in ids:
                current = newest
            self._newest = newest
            self.order.options = entries
            self.order.value = current

    def show(self, order_id: str | None = None) -> OrderGallery | None:
        """Open the gallery of ``order_id`` (or the picked order) under the form."""
        order_id = order_id or self.order.value
        if not order_id:
            self.message.value = message_html("Create an order first", "error")
            return None
        if self.gallery is not None:
            self.gallery.close()
            self.gallery = None
        options = {"export_dir": getattr(self.form, "export_dir", None), **self.gallery_options}
        try:
            self.gallery = OrderGallery(order_id, self.tracker, **options)
        except Exception as exc:
            self.message.value = message_html(error_message(exc), "error")
            return None
        self.message.value = ""
        self.holder.children = (self.gallery,)
        return self.gallery

    def close(self) -> None:
        if hasattr(self, "_unsubscribe"):
            self._unsubscribe()
        if getattr(self, "gallery", None) is not None:
            self.gallery.close()  # type: ignore[union-attr]
        super().close()


def add_gallery_picker(form: Any, **gallery_options: Any) -> GalleryPicker:
    """Add a ``GalleryPicker`` at the end of ``form`` (an ``OrderForm``); returns it."""
    picker = GalleryPicker(form, **gallery_options)
    form.children = (*form.children, picker)
    return picker
