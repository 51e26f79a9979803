"""The records the sandbox's account holds, and the exceptions it raises.

Orders, images, brackets, merges, reports and snapshots as dataclasses; which fields
of an image the server owns; how an upload is recognised as a picture (by content).
The ``Account`` that holds them is in ``_account``. Imports nothing from the client.
"""

from __future__ import annotations

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


def writable(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without the fields the server owns."""
    return {k: v for k, v in options.items() if k not in READ_ONLY_IMAGE_FIELDS}
