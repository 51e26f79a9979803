"""The gallery's front-end hooks, kept out of ``magics.py`` and ``widgets.py``:

- ``show_gallery(tracker, order_id)``: what ``%autoenhance_order --gallery ORDER_ID``
  does (checks the order, displays its ``OrderGallery``);
- ``GalleryPicker(form)`` / ``add_gallery_picker(form)``: a "Show gallery" row for the
  ``OrderForm`` (a dropdown of the table's orders) that opens the gallery under the
  form, exporting into the form's export folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from . import errors as E
from .cells import MagicError
from .display import message_html
from .errors import one_line
from .gallery import OrderGallery
from .ids import order_id_problem
from .widget_kit import SafeHTML, auto_layout, error_message, field_layout, row, weak_method

__all__ = ["show_gallery", "GalleryPicker", "add_gallery_picker"]


def show_gallery(
    tracker: Any,
    order_id: str,
    display: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> OrderGallery:
    """Display the gallery of ``order_id`` (``--gallery ORDER_ID``). An invalid or
    unknown order is a one-line ``MagicError`` before any widget is made."""
    problem = order_id_problem(order_id)
    if problem:
        raise MagicError(f"--gallery: the order ID {problem}")
    try:
        tracker.record(tracker.client.get_order(order_id), "magic")
    except E.NotFoundError:
        raise MagicError(f"--gallery: no order {one_line(order_id, 64)!r}") from None
    gallery = OrderGallery(order_id, tracker, **kwargs)
    if display is None:
        from IPython.display import display as ipython_display

        display = ipython_display
    display(gallery)
    return gallery


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
            self.order.options = entries
            ids = [o for _, o in entries]
            self.order.value = current if current in ids else (ids[0] if ids else None)

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
