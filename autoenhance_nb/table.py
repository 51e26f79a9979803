"""The session table's data: its columns and dtypes (one source for names and
positions), the column store, DataFrame building, status derivation, and CSV
read/write. No HTTP and no HTML here.

Every change to the store is atomic with respect to ``KeyboardInterrupt``: the stop
button pressed at any moment leaves the table whole (see ``interrupts_deferred``).
"""

from __future__ import annotations

import csv
import logging
import os
import re
import signal
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._files import atomic_write
from .errors import one_line

__all__ = [
    "COLUMNS",
    "DTYPES",
    "STRING_COLUMNS",
    "IMAGE_COLUMNS",
    "FORMULA_PREFIXES",
    "FINISHED_STATUSES",
    "derive_status",
    "image_count",
    "OrderStore",
    "frame_of",
    "write_csv",
    "read_orders_csv",
    "interrupts_deferred",
    "orders",
]

COLUMNS = ["order_id", "name", "image_count", "status", "created_at", "last_updated_at", "source"]
DTYPES = {
    "order_id": "string",
    "name": "string",
    "image_count": "Int64",
    "status": "string",
    "created_at": "datetime64[ns, UTC]",
    "last_updated_at": "datetime64[ns, UTC]",
    "source": "string",
}
STRING_COLUMNS = ["order_id", "name", "status", "source"]
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


# -- from API answers to rows ------------------------------------------------------------
def derive_status(order: dict[str, Any]) -> str:
    """The order's status; when the API sends null (it may, see API-NOTES section 4),
    derive it: any image processing (or merging) -> processing; some image in error and
    none processing -> error; images all processed -> processed; no images -> waiting.
    Without an image list: is_processing -> processing, total_images 0 -> waiting, else
    processed."""
    status = order.get("status")
    if isinstance(status, str) and status:
        return status
    images = order.get("images")
    if order.get("is_merging"):
        return "processing"
    if isinstance(images, list) and images:
        states = [i.get("status") for i in images if isinstance(i, dict)]
        if any(s == "processing" for s in states):
            return "processing"
        if any(s == "error" for s in states):
            return "error"
        if states and all(s == "processed" for s in states):
            return "processed"
        if all(s in (None, "waiting") for s in states):
            return "waiting"
        return "processing" if order.get("is_processing") else "processed"
    if order.get("is_processing"):
        return "processing"
    return "processed" if order.get("total_images") else "waiting"


def image_count(order: dict[str, Any]) -> int | None:
    total = order.get("total_images")
    if isinstance(total, (int, float)) and not isinstance(total, bool) and total == total:
        return int(total)
    images = order.get("images")
    return len(images) if isinstance(images, list) else None


def timestamp_ns(value: Any, order_id: str = "", field: str = "") -> int | None:
    """Nanoseconds since the epoch for an ISO 8601 string; None when missing or
    unreadable. A time pandas cannot hold (before 1677 or after 2262) is kept as
    missing with a warning naming the order, so one odd answer never breaks the table."""
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if not _MIN_NS < ns <= _MAX_NS:
        warnings.warn(
            f"Order {one_line(order_id)!r}: {field} {one_line(value)!r} is outside "
            f"the range pandas can hold; kept as missing (NaT)",
            stacklevel=2,
        )
        return None
    return ns


def row_of(order: dict[str, Any], source: str) -> list[Any] | None:
    """The table row for an API order dict, or None when it has no string order_id."""
    oid = order.get("order_id")
    if not isinstance(oid, str):
        return None
    name = order.get("name")
    return [
        oid,
        name if isinstance(name, str) else "",
        image_count(order),
        derive_status(order),
        timestamp_ns(order.get("created_at"), oid, "created_at"),
        timestamp_ns(order.get("last_updated_at"), oid, "last_updated_at"),
        source,
    ]


def columns_of_answers(
    answers: Iterable[Any], source: str
) -> tuple[list[list[Any]], list[tuple[str, list[Any]]]]:
    """Store columns for many API order dicts at once (what ``row_of`` gives row by
    row, with the same values), and the (order_id, images) of those that carry images.
    Timestamps are parsed together (see ``timestamps_ns``)."""
    ids: list[str] = []
    names: list[str] = []
    counts: list[int | None] = []
    statuses: list[str] = []
    created: list[Any] = []
    updated: list[Any] = []
    images: list[tuple[str, list[Any]]] = []
    for order in answers:
        if not isinstance(order, dict):
            continue
        oid = order.get("order_id")
        if not isinstance(oid, str):
            continue
        ids.append(oid)
        name = order.get("name")
        names.append(name if isinstance(name, str) else "")
        total = order.get("total_images")
        counts.append(total if type(total) is int else image_count(order))
        status = order.get("status")
        statuses.append(status if type(status) is str and status else derive_status(order))
        created.append(order.get("created_at"))
        updated.append(order.get("last_updated_at"))
        pictures = order.get("images")
        if pictures:
            images.append((oid, pictures))
    columns: list[list[Any]] = [
        ids,
        names,
        counts,
        statuses,
        timestamps_ns(created, ids, "created_at"),
        timestamps_ns(updated, ids, "last_updated_at"),
        [source] * len(ids),
    ]
    return columns, images


def timestamps_ns(values: list[Any], ids: list[str], field: str) -> list[int | None]:
    """``timestamp_ns`` of every value (same results, warnings included), parsed
    together: strings in the API's own form (``YYYY-MM-DDTHH:MM:SS``, optionally
    ``.ffffff``, then ``Z``, ``±HH:MM`` or nothing; years 1678-2261) by pandas at once,
    anything else one by one."""
    n = len(values)
    out: list[int | None] = [None] * n
    if not n:
        return out
    fast = _canonical(values)
    if fast.any():
        where = np.flatnonzero(fast)
        picked = [values[i] for i in where.tolist()]
        try:
            parsed = pd.to_datetime(picked, utc=True, format="ISO8601", errors="coerce")
            ns = parsed.as_unit("ns").asi8
            bad = np.asarray(parsed.isna())
        except (ValueError, OverflowError):  # pandas refused the lot: one by one
            fast[:] = False
        else:
            nat = np.iinfo("int64").min
            for i, v in zip(where.tolist(), ns.tolist(), strict=True):
                out[i] = None if v == nat else v
            fast[where[bad]] = False  # a date pandas could not read: ask the slow path
    for i in np.flatnonzero(~fast).tolist():
        out[i] = timestamp_ns(values[i], ids[i], field)
    return out


_DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}


def _canonical(values: list[Any]) -> np.ndarray:
    """Which values are strings in the API's own timestamp form (vectorised)."""
    n = len(values)
    strs = [v if type(v) is str and 19 <= len(v) <= 32 else "" for v in values]
    arr = np.array(strs, dtype="U32")
    codes = arr.view(np.uint32).reshape(n, 32)
    length = np.char.str_len(arr)
    ok = length >= 19
    digits = codes[:, _DIGIT_POSITIONS]
    ok &= ((digits >= 48) & (digits <= 57)).all(axis=1)
    for pos, char in _SEPARATORS.items():
        ok &= codes[:, pos] == ord(char)
    year = (
        (codes[:, 0].astype(np.int64) - 48) * 1000
        + (codes[:, 1] - 48) * 100
        + (codes[:, 2] - 48) * 10
        + (codes[:, 3] - 48)
    )
    ok &= (year >= 1678) & (year <= 2261)
    # the tail after the seconds: optional .f (1-6 digits), then Z, ±HH:MM or nothing
    tail_ok = np.zeros(n, dtype=bool)
    is_digit = (codes >= 48) & (codes <= 57)
    for frac in range(0, 7):  # digits after the point (0: no point)
        start = 19 if frac == 0 else 20 + frac
        if frac:
            f_ok = (codes[:, 19] == ord(".")) & is_digit[:, 20 : 20 + frac].all(axis=1)
        else:
            f_ok = np.ones(n, dtype=bool)
        none = f_ok & (length == start)
        zulu = f_ok & (length == start + 1) & (codes[:, min(start, 31)] == ord("Z"))
        if start + 6 <= 32:
            off = codes[:, start : start + 6]
            offset = (
                f_ok
                & (length == start + 6)
                & ((off[:, 0] == ord("+")) | (off[:, 0] == ord("-")))
                & is_digit[:, [start + 1, start + 2, start + 4, start + 5]].all(axis=1)
                & (off[:, 3] == ord(":"))
            )
        else:
            offset = np.zeros(n, dtype=bool)
        tail_ok |= none | zulu | offset
    return ok & tail_ok


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


# -- CSV ----------------------------------------------------------------------------------
def write_csv(
    frame: pd.DataFrame, path: str | os.PathLike[str], *, escape_formulas: bool = True
) -> Path:
    """Write an order table to ``path`` atomically (a temporary file in the same folder,
    then a rename): UTF-8, ISO 8601 UTC timestamps, CRLF line ends, and cells that a
    spreadsheet would run as formulas prefixed with ``'`` unless
    ``escape_formulas=False``. Returns the absolute path. A failed write leaves any
    previous file intact."""
    return write_columns(columns_of(frame), path, escape_formulas=escape_formulas)


def write_columns(
    columns: list[list[Any]], path: str | os.PathLike[str], *, escape_formulas: bool = True
) -> Path:
    """``write_csv`` for the store's columns (no DataFrame needed): the same bytes, made
    column by column (timestamps formatted together by numpy, formula cells found by
    one scan), then written by pandas with nothing left to convert."""
    target = Path(path).expanduser().resolve()
    if str(path).endswith(("/", os.sep)) or target.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    out = list(columns)
    for c in _STRING_POSITIONS:
        if escape_formulas:
            out[c] = _escape_formula_cells(out[c])
    bad = [
        out[ID][i]
        for c in _STRING_POSITIONS
        if not _valid_unicode(out[c])
        for i, v in enumerate(out[c])
        if _SURROGATE_RE.search(v)
    ]
    if bad:
        warnings.warn(
            f"{orders(len(bad))} (e.g. {one_line(bad[0])!r}) have text with lone surrogates "
            f"(not valid Unicode); written escaped as \\uXXXX, which read_orders_csv undoes",
            stacklevel=3,
        )
    for c in _STRING_POSITIONS:
        # a cell with a lone surrogate, or with text that reads like its escape, is
        # escaped whole (backslashes doubled), so that reading undoes exactly that
        if bad or "\\u" in "\x00".join(out[c]):
            out[c] = [_escape_cell(v) if _NEEDS_ESCAPE_RE.search(v) else v for v in out[c]]
    for c in (CREATED, UPDATED):
        out[c] = _format_times(out[c])
    # every cell is text or a plain int now: pandas only joins them (as fast as the csv
    # module's writer on its own, and the one write path for every table)
    frame = pd.DataFrame(dict(zip(COLUMNS, out, strict=True)), columns=COLUMNS, dtype=object)
    with atomic_write(target, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return target


_STRING_POSITIONS = [COLUMNS.index(c) for c in STRING_COLUMNS]
_SURROGATE = "[\ud800-\udfff]"
_SURROGATE_RE = re.compile(_SURROGATE)
_ESCAPED_SURROGATE_RE = re.compile(r"\\u(d[89a-f][0-9a-f]{2})", re.IGNORECASE)
_NEEDS_ESCAPE_RE = re.compile(r"[\ud800-\udfff]|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_UNESCAPE_RE = re.compile(r"\\\\|\\u(d[89a-f][0-9a-f]{2})", re.IGNORECASE)


def _escape_cell(value: str) -> str:
    return _SURROGATE_RE.sub(_escape_surrogate, value.replace("\\", "\\\\"))


def _unescape_cell(value: str) -> str:
    return _UNESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else "\\", value)


def _escape_formula_cells(values: list[Any]) -> list[Any]:
    """Prefix ``'`` to cells starting like a formula; one C-speed scan finds whether
    any does (a cell starts the text or follows the separator)."""
    joined = "\x00".join(values)
    if not any(joined.startswith(p) or "\x00" + p in joined for p in FORMULA_PREFIXES):
        return values
    return ["'" + v if v.startswith(FORMULA_PREFIXES) else v for v in values]


def _valid_unicode(values: list[str]) -> bool:
    try:
        "".join(values).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _format_times(values: list[int | None]) -> list[str]:
    """Nanoseconds (or None) as ``%Y-%m-%dT%H:%M:%S.%fZ`` (or empty), all at once."""
    nat = np.iinfo("int64").min
    ns = np.array([nat if v is None else v for v in values], dtype="int64")
    us = ns // 1000  # floor, as strftime's %f (numpy's own cast wraps near the minimum)
    us[ns == nat] = nat
    text = np.datetime_as_string(us.view("datetime64[us]"))
    return [t + "Z" if t != "NaT" else "" for t in text.tolist()]


def _escape_surrogate(match: Any) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def _unescape_surrogate(match: Any) -> str:
    return chr(int(match.group(1), 16))


def read_orders_csv(path: str | os.PathLike[str], escape_formulas: bool = True) -> pd.DataFrame:
    """Read a CSV written by ``OrderTracker.to_csv`` back into an equal DataFrame."""
    return frame_of(read_orders_columns(path, escape_formulas))


def read_orders_columns(
    path: str | os.PathLike[str], escape_formulas: bool = True
) -> list[list[Any]]:
    """A CSV written by ``to_csv`` as store columns: pandas parses, then each column is
    fixed at once (formula escapes and surrogate escapes undone only where one scan
    finds any, timestamps parsed together)."""
    frame = pd.read_csv(
        path,
        dtype={c: object for c in STRING_COLUMNS},
        keep_default_na=False,
        na_values={"image_count": [""], "created_at": [""], "last_updated_at": [""]},
        encoding="utf-8",
    )
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{one_line(os.fspath(path))} is not an order table: missing columns {missing}"
        )
    nat = np.iinfo("int64").min
    cols: list[list[Any]] = []
    for name in COLUMNS:
        s = frame[name]
        if name in STRING_COLUMNS:
            cols.append(_unescape_cells([str(v) for v in s.tolist()], escape_formulas))
        elif name == "image_count":
            counts = s.astype("Int64")
            cols.append(counts.astype("object").where(counts.notna(), None).tolist())
        else:
            times = pd.to_datetime(s, utc=True, format="ISO8601").astype(DTYPES[name])
            ints = times.array.asi8 if len(times) else np.array([], "int64")
            values = ints.tolist()
            for i in np.flatnonzero(ints == nat).tolist():
                values[i] = None
            cols.append(values)
    return cols


def _unescape_cells(values: list[str], escape_formulas: bool) -> list[str]:
    joined = "\x00".join(values)
    if escape_formulas and (joined.startswith("'") or "\x00'" in joined):
        values = [v[1:] if len(v) > 1 and v[0] == "'" else v for v in values]
    if "\\u" in joined or "\\U" in joined:  # cells written escaped (see write_columns)
        values = [_unescape_cell(v) if _ESCAPED_SURROGATE_RE.search(v) else v for v in values]
    return values


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
