"""The sandbox's in-memory account: ``Account``, one API account's data, and the
order calls on it (create, read, rename, delete, list a page of orders).

Shares no code with the client on purpose, so that each can check the other.
Everything is guarded by one lock; the WSGI layer in ``app.py`` calls in. The parts:

- ``state_records.py``: the records (orders, images, brackets, ...) and exceptions;
- ``state_status.py``: ``AccountCore``, the stores and the status model;
- ``state_images.py``: the image calls (and reports);
- ``state_brackets.py``: the HDR bracket calls (brackets, merges).

Every name these held when they were one module is importable from here.
"""

from __future__ import annotations

import base64
import binascii
import json

from ._brackets import BracketCalls
from ._images import ImageCalls


class Account(ImageCalls, BracketCalls):
    """One API account's data, as the real API would hold it.

    ``Account(processing_seconds=2.0, same_name_per_hour=30, clock=time.time)``; the
    constructor, stores and status model are in ``AccountCore`` (``state_status.py``).
    """

    # -- orders -------------------------------------------------------------
    def create_order(self, name: str | None, order_id: str | None) -> dict:
        with self._lock:
            return self._order_out(self._create_order_locked(name, order_id))

    def get_order(self, order_id: str) -> dict | None:
        with self._lock:
            order = self._orders.get(order_id)
            return self._order_out(order) if order else None

    def update_order(self, order_id: str, name: str | None) -> dict | None:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            if name is not None:
                order.name = name
                order.updated_at = self._clock()
            return self._order_out(order)

    def delete_order(self, order_id: str) -> bool:
        with self._lock:
            order = self._orders.pop(order_id, None)
            if order is None:
                return False
            for image_id in order.image_ids:
                self._images.pop(image_id, None)
            for bracket_id in order.bracket_ids:
                self._brackets.pop(bracket_id, None)
            return True

    def list_orders(self, per_page: int, offset: str | None) -> tuple[list[dict], str | None]:
        """Newest first. The token names the last order seen, so that orders created
        while a client pages through never shift the pages it has not read yet."""
        before = decode_offset(offset) if offset else None
        with self._lock:
            ordered = sorted(self._orders.values(), key=lambda o: o.seq, reverse=True)
            if before is not None:
                ordered = [o for o in ordered if o.seq < before]
            page = ordered[:per_page]
            more = len(ordered) > per_page
            token = encode_offset(page[-1].seq) if (more and page) else None
            return [self._order_out(o) for o in page], token

    def order_count(self) -> int:
        with self._lock:
            return len(self._orders)

    def all_orders(self) -> list[dict]:
        with self._lock:
            ordered = sorted(self._orders.values(), key=lambda o: o.seq)
            return [self._order_out(o) for o in ordered]


def encode_offset(seq: int) -> str:
    raw = json.dumps({"before": seq}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_offset(token: str) -> int:
    """Raise ValueError for a token this sandbox did not issue."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        before = data["before"]
    except (
        binascii.Error,
        ValueError,
        KeyError,
        TypeError,
        UnicodeDecodeError,
        RecursionError,  # a token of nested JSON
    ) as exc:
        raise ValueError("Not a valid page token.") from exc
    if not isinstance(before, int) or isinstance(before, bool):
        raise ValueError("Not a valid page token.")
    return before
