"""The session table's data: its columns and dtypes (one source for names and
positions), the column store and DataFrame building. From API answers to rows:
``_rows``; CSV files: ``_csv`` (the package exports all three). No HTTP, no HTML.

Every change to the store is atomic with respect to ``KeyboardInterrupt``: the stop
button pressed at any moment leaves the table whole (see ``interrupts_deferred``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "DTYPES",
    "STRING_COLUMNS",
    "IMAGE_COLUMNS",
    "FORMULA_PREFIXES",
    "FINISHED_STATUSES",
    "OrderStore",
    "frame_of",
    "interrupts_deferred",
    "DeferringLock",
    "orders",
]

COLUMNS: list[str] = [
    "order_id",
    "name",
    "image_count",
    "status",
    "created_at",
    "last_updated_at",
    "source",
]
DTYPES = {
    "order_id": "string",
    "name": "string",
    "image_count": "Int64",
    "status": "string",
    "created_at": "datetime64[ns, UTC]",
    "last_updated_at": "datetime64[ns, UTC]",
    "source": "string",
}
STRING_COLUMNS: list[str] = ["order_id", "name", "status", "source"]
TIME_COLUMNS = ["created_at", "last_updated_at"]
IMAGE_COLUMNS = [
    "image_id",
    "order_id",
    "image_name",
    "status",
    "status_reason",
    "downloaded",  # "true" once the full size was bought
    "options",  # the enhancement options, compact JSON
]
#: Cells a spreadsheet would run as a formula (OWASP CSV injection). A leading
#: apostrophe is escaped too, so that unescaping is exact.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "'")
#: Statuses after which nothing changes by itself: an order or image in one of these is
#: done (watching it any longer is pointless).
FINISHED_STATUSES = frozenset({"processed", "error", "deleted", "expired"})
CSV_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# Positions in a row (a list in COLUMNS order; timestamps as int nanoseconds).
ID, NAME, COUNT, STATUS, CREATED, UPDATED, SOURCE = range(len(COLUMNS))

log = logging.getLogger("autoenhance_nb")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MIN_NS = pd.Timestamp.min.value
_MAX_NS = pd.Timestamp.max.value


def orders(n: int) -> str:
    """ "1 order", "2 orders"."""
    return f"{n} order" if n == 1 else f"{n} orders"


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C / the kernel's stop button (SIGINT) while the block runs, and
    deliver it right after, to whatever handled SIGINT before (an ignored SIGINT stays
    ignored; inside another deferred block it goes to that block). In other threads,
    where SIGINT never lands, it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        received.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, hold)
    except (ValueError, OSError):  # not the main interpreter, or signals unavailable
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and previous is not signal.SIG_IGN:
            if callable(previous):  # Python's default raises KeyboardInterrupt itself;
                previous(signal.SIGINT, None)  # an outer deferred block records it
            else:  # SIG_DFL, or a handler not set from Python
                raise KeyboardInterrupt


class DeferringLock:
    """A reentrant lock that holds back the stop button (SIGINT) in the main thread
    while it is held: a stop landing just as ``with lock:`` took a plain lock could
    leave it taken (CPython bpo-29988), and every worker thread then waited for it
    forever (seen once in the interrupt sweep: a batch hung). The deferral starts
    before the lock is taken and ends after it is released. Only ``with``: there is no
    bare acquire() that would skip the deferral."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._deferrals = threading.local()

    def __enter__(self) -> DeferringLock:
        deferral = interrupts_deferred()
        deferral.__enter__()
        try:
            self._lock.acquire()
        except BaseException:
            deferral.__exit__(None, None, None)
            raise
        stack = self._deferrals.__dict__.setdefault("stack", [])
        stack.append(deferral)
        return self

    def __exit__(self, *exc: Any) -> None:
        deferral = self._deferrals.stack.pop()
        try:
            self._lock.release()
        finally:
            deferral.__exit__(*exc)  # a stop held back is delivered here


# -- the column store -------------------------------------------------------------------
class OrderStore:
    """Column-wise storage (one list per column, an index by order_id, and a running
    count per status), so that recording stays O(1), building the DataFrame needs no
    transposition, and the latest rows and the counts cost the same at any size.
    Not thread-safe on its own: the tracker's lock guards it. Callers that change it
    from the main thread do so inside ``interrupts_deferred()``."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.cols: list[list[Any]] = [[] for _ in COLUMNS]
        self.index: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.index)

    def get(self, order_id: str) -> list[Any] | None:
        i = self.index.get(order_id)
        return None if i is None else [col[i] for col in self.cols]

    def upsert(self, row: list[Any]) -> None:
        """Add a row, or update the order's row; where it came from first, and its
        creation time when the update lacks one, stay."""
        i = self.index.get(row[ID])
        if i is None:
            for col, value in zip(self.cols, row, strict=False):
                col.append(value)
            self.index[row[ID]] = len(self.cols[ID]) - 1
            self._count(row[STATUS], 1)
            return
        self._count(self.cols[STATUS][i], -1)
        self._count(row[STATUS], 1)
        for c, value in enumerate(row):
            if c == SOURCE or (c == CREATED and value is None):
                continue
            self.cols[c][i] = value

    def upsert_many(self, columns: list[list[Any]]) -> None:
        """``upsert`` for each row of ``columns``, column by column when every row is
        already in the table once (a refresh), else row by row."""
        ids = columns[ID]
        found = list(map(self.index.get, ids))
        if None in found or len(set(ids)) != len(ids):
            for row in iter_rows(columns):
                self.upsert(row)
            return
        positions: list[int] = found  # type: ignore[assignment]  # no None (checked)
        status = self.cols[STATUS]
        for old in (status[p] for p in positions):
            self._count(old, -1)
        for new in columns[STATUS]:
            self._count(new, 1)
        for c in (NAME, COUNT, STATUS, UPDATED):
            col = self.cols[c]
            for p, value in zip(positions, columns[c], strict=True):
                col[p] = value
        col = self.cols[CREATED]
        for p, value in zip(positions, columns[CREATED], strict=True):
            if value is not None:
                col[p] = value

    def extend(self, columns: list[list[Any]]) -> None:
        """Append many new rows at once (their order_ids must not be in the table)."""
        start = len(self.cols[ID])
        for col, values in zip(self.cols, columns, strict=False):
            col.extend(values)
        self.index.update(zip(columns[ID], range(start, start + len(columns[ID])), strict=False))
        for status in columns[STATUS]:
            self._count(status, 1)

    def set_status(self, order_id: str, status: str) -> None:
        i = self.index.get(order_id)
        if i is not None:
            self._count(self.cols[STATUS][i], -1)
            self._count(status, 1)
            self.cols[STATUS][i] = status

    def _count(self, status: str, delta: int) -> None:
        n = self.counts.get(status, 0) + delta
        if n:
            self.counts[status] = n
        else:
            self.counts.pop(status, None)

    def reorder_tail(self, order_ids: list[str]) -> None:
        """Put the last ``len(order_ids)`` rows in the given order, when they are
        exactly those orders."""
        n = len(order_ids)
        start = len(self) - n
        if n < 2 or set(self.cols[ID][start:]) != set(order_ids):
            return
        positions = [self.index[oid] for oid in order_ids]
        new_cols = [[col[p] for p in positions] for col in self.cols]
        for col, new in zip(self.cols, new_cols, strict=False):
            col[start:] = new
        for offset, oid in enumerate(order_ids):
            self.index[oid] = start + offset

    def columns(self, last: int | None = None) -> list[list[Any]]:
        if last is None:
            return [list(col) for col in self.cols]
        return [col[-last:] if last > 0 else [] for col in self.cols]

    def check(self) -> None:
        """Raise AssertionError when the store's invariants do not hold (for tests)."""
        n = len(self.cols[ID])
        assert all(len(col) == n for col in self.cols), "columns of different lengths"
        assert len(self.index) == n, "index and columns disagree"
        assert all(self.cols[ID][i] == oid for oid, i in self.index.items()), "index wrong"
        counts: dict[str, int] = {}
        for status in self.cols[STATUS]:
            counts[status] = counts.get(status, 0) + 1
        assert counts == self.counts, "status counts wrong"


def frame_of(columns: list[list[Any]]) -> pd.DataFrame:
    """The DataFrame for the store's columns (timestamps as UTC datetimes)."""
    data = {}
    for name, values in zip(COLUMNS, columns, strict=False):
        if name in TIME_COLUMNS:
            ints = pd.array(values, dtype="Int64").to_numpy(
                dtype="int64", na_value=np.iinfo("int64").min
            )
            data[name] = pd.Series(ints.view("datetime64[ns]")).dt.tz_localize("UTC")
        else:
            data[name] = pd.array(values, dtype=DTYPES[name])
    return pd.DataFrame(data, columns=COLUMNS)


def columns_of(frame: pd.DataFrame, source: str | None = None) -> list[list[Any]]:
    """A table frame (as ``read_orders_csv`` returns) as store columns, column-wise."""
    nat = np.iinfo("int64").min
    cols: list[list[Any]] = []
    for name in COLUMNS:
        s = frame[name]
        if name in TIME_COLUMNS:
            ints = s.dt.tz_convert("UTC").array.asi8 if len(s) else np.array([], "int64")
            cols.append([None if v == nat else v for v in ints.tolist()])
        elif name == "image_count":
            cols.append(s.astype("object").where(s.notna(), None).tolist())
        elif name == "source" and source is not None:
            cols.append([source] * len(s))
        else:
            cols.append(s.astype("object").where(s.notna(), "").tolist())
    return cols


def iter_rows(columns: list[list[Any]]) -> Iterable[list[Any]]:
    return (list(row) for row in zip(*columns, strict=False))
