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
from collections.abc import Callable
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


#: Image fields the server owns: a client sending them on create is ignored (the spec
#: and SDK 1.1.0 mark them readOnly; NOTES section 11).
READ_ONLY_IMAGE_FIELDS = frozenset(
    {
        "image_id",
        "status",
        "status_reason",
        "user_id",
        "date_added",
        "downloaded",
        "upload_url",
        "s3PutObjectUrl",
    }
)

#: What ``ai_version: "latest"`` (docs examples) is answered as: ImageOut's enum (and
#: SDK 1.1.0's strict model) has no "latest"; "5.x" floats to the newest 5 release.
LATEST_AI_VERSION = "5.x"


@dataclass
class Image:
    image_id: str
    order_id: str
    image_name: str
    options: dict[str, Any]
    upload_token: str
    date_added: float
    upload_content_type: str = "application/octet-stream"
    status: str = "waiting"
    status_reason: str | None = None
    data: bytes | None = None
    content_type: str | None = None
    upload_started: float | None = None
    processed_at: float | None = None
    updated_at: float = 0.0
    downloaded: bool = False
    revision: int = 0  # bumps whenever its pictures change (upload, reprocess)
    bracket_ids: list[str] | None = None  # the brackets it was merged from (HDR)


@dataclass
class Bracket:
    bracket_id: str
    order_id: str
    name: str
    metadata: dict[str, Any]
    upload_token: str
    created_at: float
    data: bytes | None = None
    fingerprint: list[float] | None = None
    used: bool = False  # grouped into an image by a process call


@dataclass
class Merge:
    """One image being merged from brackets; it appears when the order's merge ends."""

    bracket_ids: list[str]
    name: str
    data: bytes
    options: dict[str, Any]


@dataclass
class Order:
    order_id: str
    name: str
    seq: int
    created_at: float
    updated_at: float
    image_ids: list[str] = field(default_factory=list)
    bracket_ids: list[str] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    merging_until: float | None = None


@dataclass(frozen=True)
class Report:
    """Feedback sent with POST /v3/images/{id}/report."""

    image_id: str
    order_id: str
    categories: tuple[str, ...]
    comment: str | None
    score: int | None
    source: str | None
    created_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "order_id": self.order_id,
            "categories": list(self.categories),
            "comment": self.comment,
            "score": self.score,
            "source": self.source,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class Snapshot:
    """An image's state at one moment, to render outside the account's lock."""

    image_id: str
    status: str
    data: bytes | None
    content_type: str | None
    options: dict[str, Any]
    revision: int


class Conflict(Exception):
    """A custom order_id that is already taken."""


class NameRateLimited(Exception):
    """More than the hourly number of image creations with one file name."""


class Rejected(Exception):
    """A request the account refuses, with marshmallow-style messages per field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class Account:
    """One API account's data, as the real API would hold it."""

    def __init__(
        self,
        processing_seconds: float = 2.0,
        same_name_per_hour: int = 30,
        clock: Callable[[], float] = time.time,
    ):
        self.processing_seconds = processing_seconds
        self.merging_seconds = 2.0
        self.daily_image_limit: int | None = None
        self.same_name_per_hour = same_name_per_hour
        self._clock = clock
        self._lock = threading.RLock()
        self._orders: dict[str, Order] = {}
        self._images: dict[str, Image] = {}
        self._brackets: dict[str, Bracket] = {}
        self._reports: list[Report] = []
        self._seq = 0
        self._name_uses: dict[str, deque[float]] = {}
        self._day: str = ""
        self._started_today = 0

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

    # -- images -------------------------------------------------------------
    def create_image(
        self,
        image_name: str,
        order_id: str | None,
        options: dict[str, Any],
        upload_content_type: str = "application/octet-stream",
    ) -> dict:
        """Register an image; its ImageOut plus ``upload_token`` (for the upload URL)."""
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
                options=_writable(options),
                upload_token=secrets.token_urlsafe(24),
                date_added=now,
                upload_content_type=upload_content_type,
                updated_at=now,
            )
            self._images[image.image_id] = image
            order.image_ids.append(image.image_id)
            order.updated_at = now
            out = self._image_out(image)
            out["upload_token"] = image.upload_token
            return out

    def get_image(self, image_id: str) -> dict | None:
        with self._lock:
            image = self._images.get(image_id)
            return self._image_out(image) if image else None

    def snapshot(self, image_id: str) -> Snapshot | None:
        with self._lock:
            image = self._images.get(image_id)
            if image is None:
                return None
            self._advance(image)
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
        with self._lock:
            image = self._images.get(image_id)
            if image is not None and not image.downloaded:
                image.downloaded = True
                image.updated_at = self._clock()

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

    def upload_content_type(self, image_id: str) -> str | None:
        """The Content-Type an image's upload URL was signed for (None: no such image)."""
        with self._lock:
            image = self._images.get(image_id)
            return image.upload_content_type if image is not None else None

    def upload(self, image_id: str, token: str | None, data: bytes) -> str:
        """Store the bytes; returns "ok", "not_found" or "forbidden"."""
        with self._lock:
            image = self._images.get(image_id)
            if image is None:
                return "not_found"
            if not token or not secrets.compare_digest(token, image.upload_token):
                return "forbidden"
            image.data = data
            image.content_type = sniff_image_type(data)
            self._start_processing(image, self._clock())
            return "ok"

    def reprocess(self, image_id: str, options: dict[str, Any]) -> dict | None:
        """Enhance an uploaded image again with ``options`` merged over its own; None
        when there is no such image. Raises Rejected when it has no bytes yet."""
        with self._lock:
            image = self._images.get(image_id)
            if image is None:
                return None
            if image.data is None:
                raise Rejected({"_schema": ["The image has not been uploaded yet."]})
            options = _writable(options)
            if "image_name" in options:
                image.image_name = options.pop("image_name")
            options.pop("order_id", None)
            image.options.update(options)
            self._start_processing(image, self._clock())
            return self._image_out(image)

    def _start_processing(self, image: Image, now: float) -> None:
        """The image's bytes (new or with new options) go to the enhancer, unless the
        daily limit is spent: then the image is in error (NOTES section 7)."""
        image.upload_started = now
        image.processed_at = None
        image.updated_at = now
        image.revision += 1
        day = datetime.fromtimestamp(now, tz=timezone.utc).date().isoformat()
        if day != self._day:
            self._day, self._started_today = day, 0
        limit = self.daily_image_limit
        if limit is not None and self._started_today >= limit:
            image.status = "error"
            image.status_reason = (
                f"The daily limit of {limit} images has been reached; it resets at 00:00 UTC."
            )
        else:
            self._started_today += 1
            image.status = "processing"
            image.status_reason = None
        order = self._orders.get(image.order_id)
        if order is not None:
            order.updated_at = now
        self._advance(image)

    # -- reports ------------------------------------------------------------
    def report(
        self,
        image_id: str,
        categories: list[str],
        comment: str | None,
        score: int | None,
        source: str | None,
    ) -> Report | None:
        with self._lock:
            image = self._images.get(image_id)
            if image is None:
                return None
            report = Report(
                image_id=image_id,
                order_id=image.order_id,
                categories=tuple(categories),
                comment=comment,
                score=score,
                source=source,
                created_at=self._clock(),
            )
            self._reports.append(report)
            return report

    def reports(self) -> list[dict]:
        with self._lock:
            return [r.as_dict() for r in self._reports]

    # -- brackets (HDR) -----------------------------------------------------
    def create_bracket(self, order_id: str, name: str, metadata: dict[str, Any]) -> dict | None:
        """Register a bracket on an existing order; its BrackeCreatedtOut fields plus
        ``upload_token``, or None when the order does not exist."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            now = self._clock()
            bracket = Bracket(
                bracket_id=str(uuid.uuid4()),
                order_id=order_id,
                name=name,
                metadata=dict(metadata),
                upload_token=secrets.token_urlsafe(24),
                created_at=now,
            )
            self._brackets[bracket.bracket_id] = bracket
            order.bracket_ids.append(bracket.bracket_id)
            order.updated_at = now
            out = self._bracket_out(bracket)
            out["upload_token"] = bracket.upload_token
            return out

    def upload_bracket(
        self, bracket_id: str, token: str | None, data: bytes, fingerprint: list[float] | None
    ) -> str:
        """Store a bracket's bytes; returns "ok", "not_found" or "forbidden"."""
        with self._lock:
            bracket = self._brackets.get(bracket_id)
            if bracket is None:
                return "not_found"
            if not token or not secrets.compare_digest(token, bracket.upload_token):
                return "forbidden"
            bracket.data = data
            bracket.fingerprint = fingerprint
            order = self._orders.get(bracket.order_id)
            if order is not None:
                order.updated_at = self._clock()
            return "ok"

    def order_brackets(self, order_id: str) -> list[dict] | None:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            return [
                self._bracket_out(self._brackets[b])
                for b in order.bracket_ids
                if b in self._brackets
            ]

    def plan_merge(
        self,
        order_id: str,
        groups: list[list[str]] | None,
        per_image: int | None,
        same_scene: Callable[[list[float] | None, list[float] | None], bool],
    ) -> list[list[tuple[str, str, bytes]]] | None:
        """The groups of (bracket_id, name, bytes) a process call would merge, checked;
        None when the order does not exist. Raises Rejected for unknown brackets,
        brackets of another order, brackets not uploaded, a bracket in two groups, an
        empty group, or nothing to process.

        ``groups`` are explicit; else every ``per_image`` brackets not yet part of an
        image, in creation order, make one (the last group may be smaller); else the
        brackets are grouped automatically: consecutive brackets showing the same scene
        (``same_scene`` on their exposure-independent fingerprints) go together."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            if groups is not None:
                problems: list[str] = []
                seen: set[str] = set()
                for number, ids in enumerate(groups):
                    if not ids:
                        problems.append(f"Image {number}: bracket_ids must not be empty.")
                    for bracket_id in ids:
                        bracket = self._brackets.get(bracket_id)
                        if bracket is None:
                            problems.append(f"Bracket {bracket_id!r} does not exist.")
                        elif bracket.order_id != order_id:
                            problems.append(f"Bracket {bracket_id!r} belongs to another order.")
                        elif bracket.data is None:
                            problems.append(f"Bracket {bracket_id!r} has not been uploaded.")
                        elif bracket_id in seen:
                            problems.append(f"Bracket {bracket_id!r} is in more than one image.")
                        seen.add(bracket_id)
                if problems:
                    raise Rejected({"images": problems})
                chosen = [[self._brackets[b] for b in ids] for ids in groups]
            else:
                pool = [
                    self._brackets[b]
                    for b in order.bracket_ids
                    if b in self._brackets
                    and self._brackets[b].data is not None
                    and not self._brackets[b].used
                ]
                if not pool:
                    raise Rejected({"_schema": ["The order has no uploaded brackets to process."]})
                if per_image:
                    chosen = [pool[i : i + per_image] for i in range(0, len(pool), per_image)]
                else:
                    chosen = []
                    for bracket in pool:
                        if chosen and same_scene(chosen[-1][0].fingerprint, bracket.fingerprint):
                            chosen[-1].append(bracket)
                        else:
                            chosen.append([bracket])
            return [[(b.bracket_id, b.name, b.data or b"") for b in group] for group in chosen]

    def start_merge(self, order_id: str, merges: list[Merge]) -> dict | None:
        """The order merges ``merges`` for ``merging_seconds``; then each becomes an
        image that is processed like an upload. None when the order is gone."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            now = self._clock()
            for merge in merges:
                for bracket_id in merge.bracket_ids:
                    if bracket_id in self._brackets:
                        self._brackets[bracket_id].used = True
            order.merges.extend(merges)
            order.merging_until = max(order.merging_until or now, now + self.merging_seconds)
            order.updated_at = now
            self._advance_order(order)
            return self._order_out(order)

    # -- status model (NOTES sections 3 and 4) ------------------------------
    def _advance_order(self, order: Order) -> None:
        """Once an order's merge time has passed, its merged images appear and start
        processing (as of the moment the merge ended)."""
        if order.merging_until is None or self._clock() < order.merging_until:
            return
        done_at, merges = order.merging_until, order.merges
        order.merging_until, order.merges = None, []
        for merge in merges:
            image = Image(
                image_id=str(uuid.uuid4()),
                order_id=order.order_id,
                image_name=merge.name,
                options=_writable(merge.options),
                upload_token=secrets.token_urlsafe(24),
                date_added=done_at,
                data=merge.data,
                content_type=sniff_image_type(merge.data),
                bracket_ids=list(merge.bracket_ids),
            )
            self._images[image.image_id] = image
            order.image_ids.append(image.image_id)
            self._start_processing(image, done_at)

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
        self._advance_order(order)
        images = [self._images[i] for i in order.image_ids if i in self._images]
        for image in images:
            self._advance(image)
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
            "images": [self._image_out(i) for i in images],
            "created_at": iso(order.created_at),
            "last_updated_at": iso(updated),
        }

    def _image_out(self, image: Image) -> dict:
        self._advance(image)
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
    def _bracket_out(bracket: Bracket) -> dict:
        return {
            "bracket_id": bracket.bracket_id,
            "order_id": bracket.order_id,
            "name": bracket.name,
            "metadata": dict(bracket.metadata),
            "is_uploaded": bracket.data is not None,
        }


def _writable(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in READ_ONLY_IMAGE_FIELDS}


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
