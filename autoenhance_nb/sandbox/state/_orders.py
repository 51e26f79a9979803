"""The order calls of the sandbox's account: create, read, rename, delete and list a
page of orders, and the opaque page tokens (``offset``) of that list.

``Orders`` is given the account's ``Store``.
"""

from __future__ import annotations

import base64
import binascii
import json

from ._store import Store


class Orders:
    """The calls on orders."""

    def __init__(self, store: Store):
        self.store = store

    def create(self, name: str | None, order_id: str | None) -> dict:
        with self.store.lock:
            return self.store.order_out(self.store.create_order_locked(name, order_id))

    def get(self, order_id: str) -> dict | None:
        with self.store.lock:
            order = self.store.orders.get(order_id)
            return self.store.order_out(order) if order else None

    def update(self, order_id: str, name: str | None) -> dict | None:
        with self.store.lock:
            order = self.store.orders.get(order_id)
            if order is None:
                return None
            if name is not None:
                order.name = name
                order.updated_at = self.store.clock()
            return self.store.order_out(order)

    def delete(self, order_id: str) -> bool:
        with self.store.lock:
            order = self.store.orders.pop(order_id, None)
            if order is None:
                return False
            for image_id in order.image_ids:
                self.store.images.pop(image_id, None)
            for bracket_id in order.bracket_ids:
                self.store.brackets.pop(bracket_id, None)
            return True

    def page(self, per_page: int, offset: str | None) -> tuple[list[dict], str | None]:
        """Newest first. The token names the last order seen, so that orders created
        while a client pages through never shift the pages it has not read yet."""
        before = decode_offset(offset) if offset else None
        with self.store.lock:
            ordered = sorted(self.store.orders.values(), key=lambda o: o.seq, reverse=True)
            if before is not None:
                ordered = [o for o in ordered if o.seq < before]
            page = ordered[:per_page]
            more = len(ordered) > per_page
            token = encode_offset(page[-1].seq) if (more and page) else None
            return [self.store.order_out(o) for o in page], token

    def count(self) -> int:
        with self.store.lock:
            return len(self.store.orders)

    def all(self) -> list[dict]:
        with self.store.lock:
            ordered = sorted(self.store.orders.values(), key=lambda o: o.seq)
            return [self.store.order_out(o) for o in ordered]


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
