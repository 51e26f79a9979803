"""The tracker's core: the session's state (the table store, the images, the client, the
lock, the change callbacks, the session's options) and the one way to record API answers
into it. The operations (orders, photos, brackets) are given a core; the core imports
none of them."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..api import AutoenhanceClient
from ..rules import SessionOptions, image_options
from . import table as T
from ._journal import Journal
from .table import COLUMNS, IMAGE_COLUMNS

__all__ = ["TableState", "TrackerCore", "image_row"]

log = logging.getLogger("autoenhance_nb")


@dataclass
class TableState:
    """Everything the tracker knows about one API's orders (kept aside when the session
    switches to another API, so that switching back finds it)."""

    store: T.OrderStore = field(default_factory=T.OrderStore)
    images: dict[str, list[Any]] = field(default_factory=dict)  # image_id -> IMAGE_COLUMNS
    generated: set[str] = field(default_factory=set)
    lost: dict[str | None, str] = field(default_factory=dict)  # name -> id of a lost create


def image_row(image: dict[str, Any], order_id: str) -> list[Any]:
    """An API image as a row of ``table.IMAGE_COLUMNS`` (every cell text: ``downloaded``
    is ``true``/``false``, ``options`` compact JSON)."""
    downloaded = image.get("downloaded")
    options = image_options(image)
    return [
        image["image_id"],
        image.get("order_id") or order_id,
        image.get("image_name"),
        image.get("status") or "waiting",
        image.get("status_reason"),
        None if downloaded is None else str(bool(downloaded)).lower(),
        json.dumps(options, sort_keys=True, default=str) if options else None,
    ]


class TrackerCore:
    """The state every tracker operation reads and writes. Table changes happen under
    ``lock`` with interrupts deferred (a stop never leaves the table half-changed);
    ``changed()`` then tells the subscribers."""

    def __init__(self, client: AutoenhanceClient, journal: Journal | None = None):
        self.client = client
        #: the operations journal (None: off); see ``_journal``
        self.journal = journal
        #: who this session's notebook is, as told by the front end (``__session__``)
        self.notebook_hint: str | None = None
        self.state = TableState()
        self.lock = T.DeferringLock()  # the stop button waits while it is held
        self.callbacks: list[Callable[[], None]] = []
        #: enhancement options every photo added gets unless the call says otherwise
        self.default_options = SessionOptions()
        #: (order_id, merged image name) -> the bracket files it was made from
        self.bracket_groups: dict[tuple[str, str], list[str]] = {}

    def notebook(self) -> str | None:
        """This notebook's identity, salting its derived order ids and keying its journal
        records: a hash of the notebook's path as Jupyter tells the kernel
        (``__session__``, ``JPY_SESSION_NAME``), else the journal's own random value
        (code outside a named notebook), else None (no journal, no name)."""
        name = self.notebook_hint or os.environ.get("JPY_SESSION_NAME")
        if name:
            return "nb-" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:24]
        if self.journal is not None:
            return "ws-" + self.journal.workspace()[:24]
        return None

    def use_client(self, client: AutoenhanceClient, state: TableState | None) -> TableState:
        with T.interrupts_deferred(), self.lock:
            old = self.state
            self.client = client
            self.state = state if state is not None else TableState()
        self.changed()
        return old

    # -- change notification ----------------------------------------------------------------
    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        with self.lock:
            self.callbacks.append(callback)

        def remove() -> None:
            with self.lock:
                if callback in self.callbacks:
                    self.callbacks.remove(callback)

        return remove

    def changed(self) -> None:
        with self.lock:
            callbacks = list(self.callbacks)
        for cb in callbacks:
            try:
                cb()
            except Exception:  # a broken display must not break the data path
                log.exception("on_change callback failed")

    # -- recording ----------------------------------------------------------------------------
    def record(self, order: dict[str, Any], source: str = "python", *, notify: bool = True) -> None:
        self.record_many([order], source)
        if notify:
            self.changed()

    def record_many(self, answers: Iterable[dict[str, Any]], source: str) -> int:
        """Record API order dicts row by row; returns how many were orders."""
        rows = []
        for order in answers:  # rows are built outside the lock and the deferral
            row = T.row_of(order, source) if isinstance(order, dict) else None
            if row is not None:
                rows.append((row, order.get("images")))
        with T.interrupts_deferred(), self.lock:
            store = self.state.store
            for row, images in rows:
                store.upsert(row)
                if images:
                    self.record_images(images, row[T.ID])
        return len(rows)

    def record_answers(self, answers: list[dict[str, Any]], source: str) -> None:
        """Record many answers column by column (``record_many`` goes row by row)."""
        columns, images = T.columns_of_answers(answers, source)
        with T.interrupts_deferred(), self.lock:
            self.state.store.upsert_many(columns)
            for oid, pictures in images:
                self.record_images(pictures, oid)

    def record_images(self, images: list[Any], order_id: str) -> None:
        """Record image dicts of ``order_id`` (the caller holds the lock)."""
        for image in images:
            if isinstance(image, dict) and isinstance(image.get("image_id"), str):
                self.state.images[image["image_id"]] = image_row(image, order_id)

    def record_image(self, image: dict[str, Any]) -> None:
        """Record one image answer (which names its order), then notify."""
        order_id = image.get("order_id")
        if isinstance(image.get("image_id"), str) and isinstance(order_id, str):
            with self.lock:
                self.record_images([image], order_id)
            self.changed()

    def new_id(self) -> str:
        """A fresh order_id, remembered as this session's (so resending it adopts)."""
        oid = uuid.uuid4().hex
        with self.lock:
            self.state.generated.add(oid)
        return oid

    # -- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.state.store)

    def order_ids(self) -> list[str]:
        with self.lock:
            return list(self.state.store.index)

    def row(self, order_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.state.store.get(order_id)
            return dict(zip(COLUMNS, row, strict=False)) if row is not None else None

    def status_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(sorted(self.state.store.counts.items()))

    def check(self) -> None:
        with self.lock:
            self.state.store.check()

    def frame(self, last: int | None = None) -> pd.DataFrame:
        """The table as a new DataFrame (the ``last`` rows only, when given)."""
        with self.lock:
            columns = self.state.store.columns(last=last)
        return T.frame_of(columns)

    def images_frame(self) -> pd.DataFrame:
        with self.lock:
            rows = list(self.state.images.values())
        columns = list(zip(*rows, strict=False)) if rows else [()] * len(IMAGE_COLUMNS)
        return pd.DataFrame(
            {
                name: pd.array(list(values), dtype="string")
                for name, values in zip(IMAGE_COLUMNS, columns, strict=False)
            },
            columns=IMAGE_COLUMNS,
        )

    # -- CSV ----------------------------------------------------------------------------------
    def to_csv(self, path: str | os.PathLike[str], escape_formulas: bool) -> Path:
        with self.lock:
            columns = self.state.store.columns()
        return T.write_columns(columns, path, escape_formulas=escape_formulas)

    def read_csv(
        self, path: str | os.PathLike[str], escape_formulas: bool, source: str | None
    ) -> None:
        columns = T.read_orders_columns(path, escape_formulas=escape_formulas)
        if source is not None:
            columns[T.SOURCE] = [source] * len(columns[T.ID])
        with T.interrupts_deferred(), self.lock:
            store = self.state.store
            new = [i for i, oid in enumerate(columns[T.ID]) if oid not in store.index]
            if len(new) == len(columns[T.ID]) and len(set(columns[T.ID])) == len(new):
                store.extend(columns)
            else:
                for row in T.iter_rows(columns):
                    store.upsert(row)
        self.changed()
