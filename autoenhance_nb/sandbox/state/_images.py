"""The image calls of the sandbox's account: register, read, upload, reprocess,
delete and report an image, and snapshot one for rendering a download.

``Images`` is given the account's ``Store``."""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from typing import Any

from ._records import (
    Image,
    NameRateLimited,
    Rejected,
    Report,
    Snapshot,
    sniff_image_type,
    writable,
)
from ._store import Store


class Images:
    """The calls on images (and the reports sent about them)."""

    def __init__(self, store: Store):
        self.store = store

    # -- images -------------------------------------------------------------
    def create(
        self,
        image_name: str,
        order_id: str | None,
        options: dict[str, Any],
        upload_content_type: str = "application/octet-stream",
    ) -> dict:
        """Register an image; its ImageOut plus ``upload_token`` (for the upload URL)."""
        with self.store.lock:
            now = self.store.clock()
            uses = self.store.name_uses.setdefault(image_name, deque())
            while uses and uses[0] <= now - 3600:
                uses.popleft()
            if self.store.same_name_per_hour and len(uses) >= self.store.same_name_per_hour:
                raise NameRateLimited(image_name)
            uses.append(now)
            order = self.store.orders.get(order_id) if order_id is not None else None
            if order is None:
                # Registering an image without an order (or for an id not yet used)
                # creates the order, as the docs describe.
                order = self.store.create_order_locked(None, order_id)
            image = Image(
                image_id=str(uuid.uuid4()),
                order_id=order.order_id,
                image_name=image_name,
                options=writable(options),
                upload_token=secrets.token_urlsafe(24),
                date_added=now,
                upload_content_type=upload_content_type,
                updated_at=now,
            )
            self.store.images[image.image_id] = image
            order.image_ids.append(image.image_id)
            order.updated_at = now
            out = self.store.image_out(image)
            out["upload_token"] = image.upload_token
            return out

    def get(self, image_id: str) -> dict | None:
        with self.store.lock:
            image = self.store.images.get(image_id)
            return self.store.image_out(image) if image else None

    def snapshot(self, image_id: str) -> Snapshot | None:
        with self.store.lock:
            image = self.store.images.get(image_id)
            if image is None:
                return None
            self.store.advance(image)
            return Snapshot(
                image_id=image.image_id,
                status=image.status,
                data=image.data,
                content_type=image.content_type,
                options=dict(image.options),
                revision=image.revision,
            )

    def mark_downloaded(self, image_id: str) -> None:
        """A full-size enhanced download was bought."""
        with self.store.lock:
            image = self.store.images.get(image_id)
            if image is not None and not image.downloaded:
                image.downloaded = True
                image.updated_at = self.store.clock()

    def delete(self, image_id: str) -> bool:
        with self.store.lock:
            image = self.store.images.pop(image_id, None)
            if image is None:
                return False
            order = self.store.orders.get(image.order_id)
            if order is not None:
                order.image_ids.remove(image_id)
                order.updated_at = self.store.clock()
            return True

    def upload_content_type(self, image_id: str) -> str | None:
        """The Content-Type an image's upload URL was signed for (None: no such image)."""
        with self.store.lock:
            image = self.store.images.get(image_id)
            return image.upload_content_type if image is not None else None

    def upload(self, image_id: str, token: str | None, data: bytes) -> str:
        """Store the bytes; returns "ok", "not_found" or "forbidden"."""
        with self.store.lock:
            image = self.store.images.get(image_id)
            if image is None:
                return "not_found"
            if not token or not secrets.compare_digest(token, image.upload_token):
                return "forbidden"
            image.data = data
            image.content_type = sniff_image_type(data)
            self.store.start_processing(image, self.store.clock())
            return "ok"

    def reprocess(self, image_id: str, options: dict[str, Any]) -> dict | None:
        """Enhance an uploaded image again with ``options`` merged over its own; None
        when there is no such image. Raises Rejected when it has no bytes yet."""
        with self.store.lock:
            image = self.store.images.get(image_id)
            if image is None:
                return None
            if image.data is None:
                raise Rejected({"_schema": ["The image has not been uploaded yet."]})
            options = writable(options)
            if "image_name" in options:
                image.image_name = options.pop("image_name")
            options.pop("order_id", None)
            image.options.update(options)
            self.store.start_processing(image, self.store.clock())
            return self.store.image_out(image)

    # -- reports ------------------------------------------------------------
    def report(
        self,
        image_id: str,
        categories: list[str],
        comment: str | None,
        score: int | None,
        source: str | None,
    ) -> Report | None:
        with self.store.lock:
            image = self.store.images.get(image_id)
            if image is None:
                return None
            report = Report(
                image_id=image_id,
                order_id=image.order_id,
                categories=tuple(categories),
                comment=comment,
                score=score,
                source=source,
                created_at=self.store.clock(),
            )
            self.store.reports.append(report)
            return report

    def reports(self) -> list[dict]:
        with self.store.lock:
            return [r.as_dict() for r in self.store.reports]
