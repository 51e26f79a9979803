"""Photo files: what may be uploaded (decided by content, checked before any request),
and safe local file names for downloads. No HTTP here."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import IO, Any

import requests

from .. import errors as E
from .._files import atomic_write
from ..errors import ValidationError, one_line

__all__ = [
    "ImageSource",
    "image_format",
    "safe_filename",
    "IMAGE_SIGNATURES",
    "CONTENT_TYPES",
    "image_link",
    "stream_to_file",
]

#: First bytes of the formats a photo can come in; decides "is this an image" by
#: content, not by file name. (The sandbox has its own list: they share no code.)
IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "WebP": "image/webp",
    "HEIC": "image/heic",
}


def image_format(head: bytes) -> str | None:
    """The image format that ``head`` (a file's first 16 bytes or more) starts, or None."""
    for magic, fmt in IMAGE_SIGNATURES:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"avif"):
        return "HEIC"
    return None


class ImageSource:
    """A photo to upload: a path (streamed from disk) or bytes. Checks it up front:
    a missing path, a folder, an empty file and content that is not an image are
    refused with a one-line ``ValidationError`` before anything is sent."""

    def __init__(self, source: str | os.PathLike[str] | bytes, name: str | None = None):
        head: bytes
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.data: bytes | None = bytes(source)
            self.path: Path | None = None
            self.name = name or "photo"
            self.size = len(self.data)
            head = self.data[:16]
        elif isinstance(source, (str, os.PathLike)):
            self.data = None
            self.path = Path(source).expanduser()
            self.name = name or self.path.name
            shown = one_line(str(source))
            if not self.path.exists():
                raise _bad_photo(f"Cannot upload {shown!r}: no such file")
            if self.path.is_dir():
                raise _bad_photo(f"Cannot upload {shown!r}: it is a folder, not a file")
            self.size = self.path.stat().st_size
            try:
                with open(self.path, "rb") as fh:
                    head = fh.read(16)
            except OSError as exc:
                raise _bad_photo(f"Cannot upload {shown!r}: {one_line(exc.strerror)}") from None
        else:
            raise _bad_photo(f"Cannot upload a {type(source).__name__}: give a path or bytes")
        shown = one_line(self.name)
        if self.size == 0:
            raise _bad_photo(f"Cannot upload {shown!r}: the file is empty (0 bytes)")
        fmt = image_format(head)
        if fmt is None:
            raise _bad_photo(
                f"Cannot upload {shown!r}: its content is not an image "
                f"(JPEG, PNG, WebP, HEIC, TIFF or GIF)"
            )
        self.format = fmt

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.format, "application/octet-stream")

    def open(self) -> IO[bytes]:
        """The bytes, from the start (each attempt of an upload opens them anew)."""
        if self.path is not None:
            try:
                return open(self.path, "rb")
            except OSError as exc:  # moved or removed since it was checked
                raise _bad_photo(
                    f"Cannot upload {one_line(self.name)!r}: {one_line(exc.strerror)}"
                ) from None
        return io.BytesIO(self.data or b"")

    @property
    def sha256(self) -> str | None:
        """The content's sha256 (hex) for bytes given in memory; None for a file (the
        journal knows a file by its path, size and mtime, hashing it only to confirm:
        hashing every file as it streams cost a quarter of the upload time)."""
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        return None


def _bad_photo(message: str) -> ValidationError:
    return ValidationError(message, fields={"image": [message]})


def safe_filename(name: str, used: set[str]) -> str:
    """A file name from an image name: no folders, no control or path characters, and
    unique (case-insensitively) among ``used``, which it extends."""
    base = Path(str(name).replace("\\", "/")).name
    base = "".join(
        "_" if (ord(c) < 32 or c in '/\\:*?"<>|' or 0xD800 <= ord(c) <= 0xDFFF) else c for c in base
    ).strip()
    if base in ("", ".", ".."):
        base = "image"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    candidate, n = base, 2
    while candidate.lower() in used:
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        n += 1
    used.add(candidate.lower())
    return candidate


def image_link(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("url", "image_url", "enhanced_url", "download_url"):
            value = body.get(key)
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                return value
    return None


def stream_to_file(resp: requests.Response, path: Path, what: str) -> Path:
    """Write a streamed body to ``path`` atomically."""
    target = path.expanduser().resolve()
    try:
        with atomic_write(target, "wb") as fh:
            for chunk in resp.iter_content(chunk_size=1024 * 1024):
                fh.write(chunk)
    except requests.exceptions.RequestException as exc:
        raise E.TransportError(
            f"{what} failed: the connection dropped during the download ({type(exc).__name__})"
        ) from None
    return target
