"""The core of the sandbox's account: its stores, its lock and clock, and the status
model (NOTES sections 3 and 4).

``Store`` holds the orders, images and brackets, moves images from ``processing`` to
``processed`` or ``error`` (and merged HDR images into being) as time passes, and
shapes them as the API returns them. The calls on orders, images and brackets
(``_orders``, ``_images``, ``_brackets``) are given the store; everything is guarded by
its one lock. The times and the daily limit are read from the sandbox's settings.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .._settings import SandboxSettings
from ._records import (
    LATEST_AI_VERSION,
    Bracket,
    Conflict,
    Image,
    Order,
    Report,
    iso,
    sniff_image_type,
    writable,
)


class Store:
    """What every call on the account shares: the stores, and the status model that
    advances images and orders whenever they are read."""

    def __init__(
        self,
        settings: SandboxSettings,
        same_name_per_hour: int = 30,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.same_name_per_hour = same_name_per_hour
        self.clock = clock
        self.lock = threading.RLock()
        #: called (under the lock) with an ``image_processed`` event each time an image
        #: finishes or fails; set by the webhook sender
        self.on_finished: Callable[[dict[str, Any]], None] | None = None
        self.clear()

    def clear(self) -> None:
        """Forget everything: no orders, images, brackets, reports or counts."""
        with self.lock:
            self.orders: dict[str, Order] = {}
            self.images: dict[str, Image] = {}
            self.brackets: dict[str, Bracket] = {}
            self.reports: list[Report] = []
            self.seq = 0
            self.name_uses: dict[str, deque[float]] = {}
            self._day: str = ""
            self._started_today = 0

    def create_order_locked(self, name: str | None, order_id: str | None) -> Order:
        if order_id is None:
            order_id = uuid.uuid4().hex
        if order_id in self.orders:
            raise Conflict(order_id)
        now = self.clock()
        self.seq += 1
        order = Order(
            order_id=order_id,
            name=name if name is not None else "",
            seq=self.seq,
            created_at=now,
            updated_at=now,
        )
        self.orders[order_id] = order
        return order

    # -- status model (NOTES sections 3 and 4) ------------------------------
    def start_processing(self, image: Image, now: float) -> None:
        """The image's bytes (new or with new options) go to the enhancer, unless the
        daily limit is spent: then the image is in error (NOTES section 7)."""
        image.upload_started = now
        image.processed_at = None
        image.updated_at = now
        image.revision += 1
        day = datetime.fromtimestamp(now, tz=timezone.utc).date().isoformat()
        if day != self._day:
            self._day, self._started_today = day, 0
        limit = self.settings.daily_image_limit
        if limit is not None and self._started_today >= limit:
            image.status = "error"
            image.status_reason = (
                f"The daily limit of {limit} images has been reached; it resets at 00:00 UTC."
            )
            self._finished(image)
        else:
            self._started_today += 1
            image.status = "processing"
            image.status_reason = None
        order = self.orders.get(image.order_id)
        if order is not None:
            order.updated_at = now
        self.advance(image)

    def advance_order(self, order: Order) -> None:
        """Once an order's merge time has passed, its merged images appear and start
        processing (as of the moment the merge ended)."""
        if order.merging_until is None or self.clock() < order.merging_until:
            return
        done_at, merges = order.merging_until, order.merges
        order.merging_until, order.merges = None, []
        for merge in merges:
            image = Image(
                image_id=str(uuid.uuid4()),
                order_id=order.order_id,
                image_name=merge.name,
                options=writable(merge.options),
                upload_token=secrets.token_urlsafe(24),
                date_added=done_at,
                data=merge.data,
                content_type=sniff_image_type(merge.data),
                bracket_ids=list(merge.bracket_ids),
            )
            self.images[image.image_id] = image
            order.image_ids.append(image.image_id)
            self.start_processing(image, done_at)

    def advance(self, image: Image) -> None:
        """Move a processing image on once its processing time has passed."""
        if image.status != "processing" or image.upload_started is None:
            return
        done_at = image.upload_started + self.settings.processing_seconds
        if self.clock() < done_at:
            return
        if image.content_type is None:
            image.status = "error"
            image.status_reason = "The uploaded file is not an image that can be enhanced."
        else:
            image.status = "processed"
            image.status_reason = None
            image.processed_at = done_at
        image.updated_at = done_at
        self._finished(image)

    def _due(self, image: Image) -> bool:
        started = image.upload_started
        return started is not None and self.clock() >= started + self.settings.processing_seconds

    def _finished(self, image: Image) -> None:
        """Tell the webhook sender (if any) that ``image`` finished or failed."""
        if self.on_finished is None:
            return
        order = self.orders.get(image.order_id)
        others = [self.images[i] for i in order.image_ids if i in self.images] if order else []
        still = any(i.status == "processing" and not self._due(i) for i in others)
        self.on_finished(
            {
                "event": "image_processed",
                "image_id": image.image_id,
                "error": image.status == "error",
                "order_id": image.order_id,
                "order_is_processing": still or bool(order and order.merging_until),
            }
        )

    def sweep(self) -> None:
        """Move every order and image on as time has passed (the webhook sender calls
        this often, so that events leave when images finish, not when someone reads)."""
        with self.lock:
            for order in list(self.orders.values()):
                self.advance_order(order)
            for image in list(self.images.values()):
                if image.status == "processing":
                    self.advance(image)

    def order_out(self, order: Order) -> dict:
        self.advance_order(order)
        images = [self.images[i] for i in order.image_ids if i in self.images]
        for image in images:
            self.advance(image)
        statuses = [i.status for i in images]
        merging = order.merging_until is not None
        if merging or any(s == "processing" for s in statuses):
            status = "processing"
        elif not images or all(s == "waiting" for s in statuses):
            status = "waiting"
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
            "is_processing": any(s == "processing" for s in statuses),
            "is_merging": merging,
            "is_deleted": False,
            "total_images": len(images),
            "images": [self.image_out(i) for i in images],
            "created_at": iso(order.created_at),
            "last_updated_at": iso(updated),
        }

    def image_out(self, image: Image) -> dict:
        self.advance(image)
        out: dict[str, Any] = {
            "enhance": True,
            "lens_correction": True,
            "vertical_correction": True,
        }
        out.update(image.options)
        if out.get("ai_version") == "latest":
            out["ai_version"] = LATEST_AI_VERSION
        # server-owned fields last: a client can never set them
        out.update(
            {
                "image_id": image.image_id,
                "order_id": image.order_id,
                "image_name": image.image_name,
                "status": image.status,
                "status_reason": image.status_reason,
                "date_added": int(image.date_added * 1000),
                "downloaded": image.downloaded,
                "user_id": "sandbox-user",
            }
        )
        return out

    @staticmethod
    def bracket_out(bracket: Bracket) -> dict:
        return {
            "bracket_id": bracket.bracket_id,
            "order_id": bracket.order_id,
            "name": bracket.name,
            "metadata": dict(bracket.metadata),
            "is_uploaded": bracket.data is not None,
        }
