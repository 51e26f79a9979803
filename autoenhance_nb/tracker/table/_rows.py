"""From API answers to table rows: status derivation, image counts, timestamps (one
at a time or a chunk at once). No HTTP, no state."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from ...errors import one_line

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MIN_NS = pd.Timestamp.min.value
_MAX_NS = pd.Timestamp.max.value


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
    if isinstance(total, (int, float)) and not isinstance(total, bool) and math.isfinite(total):
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
