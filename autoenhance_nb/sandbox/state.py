"""The sandbox's in-memory account: orders, images and the status model.

Shares no code with the client on purpose, so that each can check the other.
Everything here is guarded by one lock; the WSGI layer in ``app.py`` calls in.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# Image magic numbers: the sandbox decides "is this a photo" by content, as the real
# enhancer must. An upload that is none of these ends in status "error".
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def sniff_image_type(data: bytes) -> str | None:
    """Return the MIME type of ``data`` when it starts like an image, else None."""
    for magic, mime in _IMAGE_SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "image/heic"
    return None


def iso(ts: float) -> str:
    """ISO 8601 UTC with microseconds and a ``Z``-free ``+00:00`` offset."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="microseconds")


@dataclass
class Image:
    image_id: str
    order_id: str
    image_name: str
    options: dict[str, Any]
    upload_token: str
    date_added: float
    status: str = "waiting"
    status_reason: str | None = None
    data: bytes | None = None
    content_type: str | None = None
    upload_started: float | None = None
    processed_at: float | None = None
    updated_at: float = 0.0


@dataclass
class Order:
    order_id: str
    name: str
    seq: int
    created_at: float
    updated_at: float
    image_ids: list[str] = field(default_factory=list)


class Conflict(Exception):
    """A custom order_id that is already taken."""


class NameRateLimited(Exception):
    """More than the hourly number of image creations with one file name."""


class Account:
    """One API account's data, as the real API would hold it."""

    def __init__(
        self, processing_seconds: float = 2.0, same_name_per_hour: int = 30, clock=time.time
    ):
        self.processing_seconds = processing_seconds
        self.same_name_per_hour = same_name_per_hour
        self._clock = clock
        self._lock = threading.RLock()
        self._orders: dict[str, Order] = {}
        self._images: dict[str, Image] = {}
        self._seq = 0
        self._name_uses: dict[str, deque[float]] = {}

    # -- orders -------------------------------------------------------------
    def create_order(self, name: str | None, order_id: str | None) -> dict:
        with self._lock:
            return self._order_out(self._create_order_locked(name, order_id))

    def _create_order_locked(self, name: str | None, order_id: str | None) -> Order:
        if order_id is None:
            order_id = uuid.uuid4().hex
        if order_id in self._orders:
            raise Conflict(order_id)
        now = self._clock()
        self._seq += 1
        order = Order(
            order_id=order_id,
            name=name if name is not None else "",
            seq=self._seq,
            created_at=now,
            updated_at=now,
        )
        self._orders[order_id] = order
        return order

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

    # -- images -------------------------------------------------------------
    def create_image(self, image_name: str, order_id: str | None, options: dict[str, Any]) -> Image:
        with self._lock:
            now = self._clock()
            uses = self._name_uses.setdefault(image_name, deque())
            while uses and uses[0] <= now - 3600:
                uses.popleft()
            if self.same_name_per_hour and len(uses) >= self.same_name_per_hour:
                raise NameRateLimited(image_name)
            uses.append(now)
            order = self._orders.get(order_id) if order_id is not None else None
            if order is None:
                # Registering an image without an order (or for an id not yet used)
                # creates the order, as the docs describe.
                order = self._create_order_locked(None, order_id)
            image = Image(
                image_id=str(uuid.uuid4()),
                order_id=order.order_id,
                image_name=image_name,
                options=dict(options),
                upload_token=secrets.token_urlsafe(24),
                date_added=now,
                updated_at=now,
            )
            self._images[image.image_id] = image
            order.image_ids.append(image.image_id)
            order.updated_at = now
            return image

    def get_image(self, image_id: str) -> dict | None:
        with self._lock:
            image = self._images.get(image_id)
            return self._image_out(image) if image else None

    def image_record(self, image_id: str) -> Image | None:
        with self._lock:
            image = self._images.get(image_id)
            if image is not None:
                self._advance(image)
            return image

    def delete_image(self, image_id: str) -> bool:
        with self._lock:
            image = self._images.pop(image_id, None)
            if image is None:
                return False
            order = self._orders.get(image.order_id)
            if order is not None:
                order.image_ids.remove(image_id)
                order.updated_at = self._clock()
            return True

    def upload(self, image_id: str, token: str | None, data: bytes) -> str:
        """Store the bytes; returns "ok", "not_found" or "forbidden"."""
        with self._lock:
            image = self._images.get(image_id)
            if image is None:
                return "not_found"
            if not token or not secrets.compare_digest(token, image.upload_token):
                return "forbidden"
            now = self._clock()
            image.data = data
            image.content_type = sniff_image_type(data)
            image.upload_started = now
            image.processed_at = None
            image.status = "processing"
            image.status_reason = None
            image.updated_at = now
            order = self._orders.get(image.order_id)
            if order is not None:
                order.updated_at = now
            self._advance(image)
            return "ok"

    # -- status model (NOTES section 4) ------------------------------------
    def _advance(self, image: Image) -> None:
        """Move a processing image on once its processing time has passed."""
        if image.status != "processing" or image.upload_started is None:
            return
        done_at = image.upload_started + self.processing_seconds
        if self._clock() < done_at:
            return
        if image.content_type is None:
            image.status = "error"
            image.status_reason = "The uploaded file is not an image that can be enhanced."
        else:
            image.status = "processed"
            image.status_reason = None
            image.processed_at = done_at
        image.updated_at = done_at

    def _order_out(self, order: Order) -> dict:
        images = [self._images[i] for i in order.image_ids if i in self._images]
        for image in images:
            self._advance(image)
        statuses = [i.status for i in images]
        if not images or all(s == "waiting" for s in statuses):
            status = "waiting"
        elif any(s == "processing" for s in statuses):
            status = "processing"
        elif any(s == "error" for s in statuses):
            status = "error"
        elif all(s in ("processed", "waiting") for s in statuses):
            # Waiting images are registered but not uploaded yet; the uploaded
            # ones are done, so the order is done for now.
            status = "processed"
        else:
            status = "error"
        updated = max([order.updated_at] + [i.updated_at for i in images])
        return {
            "order_id": order.order_id,
            "name": order.name,
            "status": status,
            "is_processing": status == "processing",
            "is_merging": False,
            "is_deleted": False,
            "total_images": len(images),
            "images": [self._image_out(i) for i in images],
            "created_at": iso(order.created_at),
            "last_updated_at": iso(updated),
        }

    def _image_out(self, image: Image) -> dict:
        self._advance(image)
        out = {
            "image_id": image.image_id,
            "order_id": image.order_id,
            "image_name": image.image_name,
            "status": image.status,
            "status_reason": image.status_reason,
            "date_added": int(image.date_added * 1000),
            "downloaded": False,
            "enhance": True,
            "lens_correction": True,
            "vertical_correction": True,
            "user_id": "sandbox-user",
        }
        out.update(image.options)
        return out


def encode_offset(seq: int) -> str:
    raw = json.dumps({"before": seq}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_offset(token: str) -> int:
    """Raise ValueError for a token this sandbox did not issue."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        before = data["before"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("Not a valid page token.") from exc
    if not isinstance(before, int) or isinstance(before, bool):
        raise ValueError("Not a valid page token.")
    return before
