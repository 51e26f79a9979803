"""``%autoenhance_order --gallery ORDER_ID``: check the order, display its
``OrderGallery``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import errors as E
from ..errors import one_line
from ..rules import order_id_problem
from ..widgets.gallery import OrderGallery
from ._cells import MagicError

__all__ = ["show_gallery"]


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
