"""``OrderTracker``: the session's order table and the operations that fill it (create,
batches, refresh, sync, CSV). Owns the session's state; HTTP stays in the client, the
columns and CSV format in ``table``, HTML in ``display``, photo operations in
``tracker_photos``, the fan-out in ``batch``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..api import AutoenhanceClient
from ..display import HTML_ROWS, render_table
from ..errors import one_line
from . import table as T
from ._brackets import BracketOperations
from ._orders import OrderOperations
from ._photos import PhotoOperations, image_row
from .table import COLUMNS, IMAGE_COLUMNS, orders

__all__ = ["OrderTracker", "read_orders_csv"]

read_orders_csv = T.read_orders_csv
log = logging.getLogger("autoenhance_nb")


@dataclass
class TableState:
    """Everything the tracker knows about one API's orders (kept aside when the session
    switches to another API, so that switching back finds it)."""

    store: T.OrderStore = field(default_factory=T.OrderStore)
    images: dict[str, list[Any]] = field(default_factory=dict)  # image_id -> IMAGE_COLUMNS
    generated: set[str] = field(default_factory=set)
    lost: dict[str | None, str] = field(default_factory=dict)  # name -> id of a lost create


class OrderTracker(OrderOperations, PhotoOperations, BracketOperations):
    """One table of orders for a session.

    tracker = OrderTracker()                 # or autoenhance_nb.session()
    tracker.create("Kitchen – 12 Rue Oberkampf")
    tracker.create_many(["Hall", "Garden"])
    tracker.refresh()
    tracker.df                               # a new DataFrame each time
    tracker.to_csv("orders.csv")
    """

    def __init__(self, client: AutoenhanceClient | None = None):
        self.client = client if client is not None else AutoenhanceClient()
        self._state = TableState()
        self._lock = threading.RLock()
        self._callbacks: list[Callable[[OrderTracker], None]] = []

    # -- environment -------------------------------------------------------------------
    @property
    def environment(self) -> str:
        return self.client.environment

    @property
    def environment_label(self) -> str:
        """``SANDBOX 127.0.0.1:8765`` or ``LIVE api.autoenhance.ai`` (`` · dev mode`` added
        when the client asks for the API's free test processing)."""
        dev = " · dev mode" if self.client.dev_mode else ""
        return f"{self.environment.upper()} {self.client.host}{dev}"

    def use_client(self, client: AutoenhanceClient, state: TableState | None = None) -> TableState:
        """Talk to another API (e.g. live instead of the sandbox). The table shows
        ``state`` (by default: empty, as the old orders belong to the old API); returns
        the old table's state so that it can be brought back."""
        with T.interrupts_deferred(), self._lock:
            old = self._state
            self.client = client
            self._state = state if state is not None else TableState()
        self._changed()
        return old

    # -- change notification -------------------------------------------------------------
    def on_change(self, callback: Callable[[OrderTracker], None]) -> Callable[[], None]:
        """Call ``callback(tracker)`` after every change; returns a function that
        unsubscribes it."""
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def _changed(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb(self)
            except Exception:  # a broken display must not break the data path
                log.exception("on_change callback failed")

    # -- recording ------------------------------------------------------------------------
    def record(self, order: dict[str, Any], source: str = "python", *, notify: bool = True) -> None:
        """Add an API order dict to the table, or update its row."""
        self._record_many([order], source)
        if notify:
            self._changed()

    def _record_many(self, answers: Iterable[dict[str, Any]], source: str) -> int:
        rows = []
        for order in answers:  # rows are built outside the lock and the deferral
            row = T.row_of(order, source) if isinstance(order, dict) else None
            if row is not None:
                rows.append((row, order.get("images")))
        with T.interrupts_deferred(), self._lock:
            store = self._state.store
            for row, images in rows:
                store.upsert(row)
                if images:
                    self._record_images(images, row[T.ID])
        return len(rows)

    def _record_images(self, images: list[Any], order_id: str) -> None:
        for image in images:
            if isinstance(image, dict) and isinstance(image.get("image_id"), str):
                self._state.images[image["image_id"]] = image_row(image, order_id)

    @property
    def images_df(self) -> pd.DataFrame:
        """The images of the tracked orders, as of the last create, upload or refresh."""
        with self._lock:
            rows = list(self._state.images.values())
        columns = list(zip(*rows, strict=False)) if rows else [()] * len(IMAGE_COLUMNS)
        return pd.DataFrame(
            {
                name: pd.array(list(values), dtype="string")
                for name, values in zip(IMAGE_COLUMNS, columns, strict=False)
            },
            columns=IMAGE_COLUMNS,
        )

    # -- reading the table ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._state.store)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._state.store.index

    def row(self, order_id: str) -> dict[str, Any] | None:
        """The table's row for ``order_id`` as a dict (timestamps as ns), or None."""
        with self._lock:
            row = self._state.store.get(order_id)
            return dict(zip(COLUMNS, row, strict=False)) if row is not None else None

    def order_ids(self) -> list[str]:
        with self._lock:
            return list(self._state.store.index)

    def status_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._state.store.counts.items()))

    def check(self) -> None:
        """Raise AssertionError if the table's invariants are broken (for tests)."""
        with self._lock:
            self._state.store.check()

    @property
    def df(self) -> pd.DataFrame:
        """A new DataFrame: one row per order, first-recorded first."""
        with self._lock:
            columns = self._state.store.columns()
        return T.frame_of(columns)

    def latest(self, n: int = HTML_ROWS) -> pd.DataFrame:
        """The last ``n`` rows only; cheap however long the session is."""
        with self._lock:
            columns = self._state.store.columns(last=n)
        return T.frame_of(columns)

    # -- CSV ----------------------------------------------------------------------------------
    def to_csv(self, path: str | os.PathLike[str], escape_formulas: bool = True) -> Path:
        """Write the table to ``path`` atomically (a temporary file in the same folder,
        then a rename): UTF-8, ISO 8601 UTC timestamps, and cells that a spreadsheet
        would run as formulas prefixed with ``'`` unless ``escape_formulas=False``.
        Returns the absolute path. A failed write leaves any previous file intact."""
        with self._lock:
            columns = self._state.store.columns()
        return T.write_columns(columns, path, escape_formulas=escape_formulas)

    def read_csv(
        self, path: str | os.PathLike[str], escape_formulas: bool = True, source: str | None = None
    ) -> pd.DataFrame:
        """Load a file written by ``to_csv`` into this tracker (undoing the formula
        escaping) so that tracking can resume; returns the table."""
        columns = T.read_orders_columns(path, escape_formulas=escape_formulas)
        if source is not None:
            columns[T.SOURCE] = [source] * len(columns[T.ID])
        with T.interrupts_deferred(), self._lock:
            store = self._state.store
            new = [i for i, oid in enumerate(columns[T.ID]) if oid not in store.index]
            if len(new) == len(columns[T.ID]) and len(set(columns[T.ID])) == len(new):
                store.extend(columns)
            else:
                for row in T.iter_rows(columns):
                    store.upsert(row)
        self._changed()
        return self.df

    # -- display ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        # statuses come from the API: one-lined (a lone surrogate would fail the output)
        counts = ", ".join(f"{one_line(k, 40)} {v}" for k, v in self.status_counts().items())
        counts = counts or "empty"
        return f"<OrderTracker {self.environment_label}: {orders(len(self))} ({counts})>"

    def _repr_html_(self) -> str:
        return render_table(self)
