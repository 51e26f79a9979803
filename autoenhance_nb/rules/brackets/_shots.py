"""One frame of a shoot and what its EXIF says, read without decoding a pixel: the
capture time, the exposure time and bias, the camera. Pure functions over local files."""

from __future__ import annotations

import math
import os
import struct
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ... import errors as E
from ...errors import one_line
from .._photos import ImageSource

__all__ = ["Shot", "read_shot"]

_EXIF_IFD, _MAKE, _MODEL, _DATETIME = 0x8769, 0x010F, 0x0110, 0x0132
_DATETIME_ORIGINAL, _SUBSEC_ORIGINAL = 0x9003, 0x9291
_EXPOSURE_TIME, _EXPOSURE_BIAS = 0x829A, 0x9204
#: Exposure times (seconds) and biases (EV) outside these are no value: a 1e-310 s
#: DOUBLE, infinities, zero or negative times are treated as missing, with a warning.
_EXPOSURE_TIMES, _BIASES = (1e-6, 1e5), (-100.0, 100.0)
#: Largest eXIf chunk read from a PNG (a camera's EXIF is tens of KB).
_MAX_PNG_EXIF = 4 * 1024 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Shot:
    """One frame of a shoot and what its EXIF says."""

    path: Path
    name: str
    size: int
    taken: datetime | None = None
    exposure_time: float | None = None  # seconds
    bias: float | None = None  # EV
    camera: str | None = None
    #: EXIF values present but unusable (an exposure out of range), treated as missing
    exif_problems: tuple[str, ...] = ()

    @property
    def exposure(self) -> float | None:
        """What tells the frames of one view apart: the bias, else the exposure time."""
        return self.bias if self.bias is not None else self.exposure_time

    def describe(self) -> str:
        if self.bias is not None:
            return f"{self.bias:+g} EV"
        if self.exposure_time is not None:
            t = self.exposure_time
            return f"1/{round(1 / t)} s" if 0 < t < 1 else f"{t:g} s"
        return "?"

    def metadata(self, group: int) -> dict[str, Any]:
        """What is stored with the bracket: enough to recognise it on a re-run."""
        meta: dict[str, Any] = {"file": self.name, "size": self.size, "group": group}
        if self.taken is not None:
            meta["taken"] = self.taken.isoformat()
        if self.exposure_time is not None:
            meta["exposure_time"] = self.exposure_time
        if self.bias is not None:
            meta["bias"] = self.bias
        if self.camera:
            meta["camera"] = self.camera
        return meta


def read_shot(path: str | os.PathLike[str]) -> Shot:
    """A frame and its EXIF, read without decoding a pixel (memory stays bounded for any
    image size). Not an image, missing, empty, unreadable, or declaring more pixels than
    Pillow decodes safely (a decompression bomb): a one-line ``ValidationError`` naming
    the file."""
    from PIL import Image, UnidentifiedImageError  # lazily: importing the package stays light

    source = ImageSource(path)  # missing, folder, empty, not an image: refused here
    assert source.path is not None
    shown = one_line(source.name)
    try:
        with warnings.catch_warnings():
            # only the EXIF is read: the size warning is about decoding, which never happens
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source.path) as picture:
                exif = _exif(picture, source.path)
    except Image.DecompressionBombError:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise E.ValidationError(
            f"Cannot read {shown!r}: it declares more than {limit:,} pixels, too many to "
            f"decode safely (a decompression bomb?)",
            fields={"image": ["too many pixels"]},
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error) as exc:
        raise E.ValidationError(
            f"Cannot read {shown!r}: {one_line(exc) or type(exc).__name__}",
            fields={"image": ["unreadable"]},
        ) from None
    sub = exif.get_ifd(_EXIF_IFD) if exif else {}
    problems: list[str] = []
    return Shot(
        path=source.path,
        name=source.name,
        size=source.size,
        taken=_taken(sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), sub.get(_SUBSEC_ORIGINAL)),
        exposure_time=_in_range(sub.get(_EXPOSURE_TIME), _EXPOSURE_TIMES, "time", problems),
        bias=_in_range(sub.get(_EXPOSURE_BIAS), _BIASES, "bias", problems),
        camera=" ".join(str(exif.get(t) or "").strip() for t in (_MAKE, _MODEL)).strip() or None,
        exif_problems=tuple(problems),
    )


def _exif(picture: Any, path: Path) -> Any:
    """The picture's EXIF, never decoding it. Pillow's ``PngImageFile.getexif()``
    decodes the whole image when no eXIf chunk precedes the pixel data: for a PNG the
    chunks are scanned instead (headers read, bodies skipped)."""
    from PIL import Image

    if picture.format != "PNG":
        return picture.getexif()  # JPEG/MPO: APP1 read on open; TIFF: the IFD; WebP: a chunk
    exif = Image.Exif()
    data = picture.info.get("exif") or _png_exif_chunk(path)
    raw_profile = picture.info.get("Raw profile type exif")  # ImageMagick's text chunk
    if data is None and isinstance(raw_profile, str):
        data = bytes.fromhex("".join(raw_profile.split("\n")[3:]))
    if data:
        exif.load(data)
    return exif


def _png_exif_chunk(path: Path) -> bytes | None:
    """The body of a PNG's eXIf chunk wherever it is (before or after the pixel data),
    reading 8 bytes a chunk and seeking past the rest; None when there is none."""
    with open(path, "rb") as fh:
        if fh.read(8) != _PNG_SIGNATURE:
            return None
        while True:
            head = fh.read(8)
            if len(head) < 8:
                return None
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                if length > _MAX_PNG_EXIF:
                    return None
                data = fh.read(length)
                return data if len(data) == length else None
            if kind == b"IEND":
                return None
            fh.seek(length + 4, os.SEEK_CUR)  # the body and its CRC


def _taken(stamp: Any, subsec: Any) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    try:
        taken = datetime.strptime(stamp.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    digits = "".join(c for c in str(subsec or "") if c.isdigit())[:6]
    return taken.replace(microsecond=int(digits.ljust(6, "0"))) if digits else taken


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if number == number else None  # NaN (0/0 rationals) is no value


def _in_range(
    value: Any, bounds: tuple[float, float], what: str, problems: list[str]
) -> float | None:
    """An EXIF exposure value as a number, or None when absent; a value that is there
    but not a finite number within ``bounds`` (a 1e-310 s DOUBLE, an infinity, a zero
    time) is None too, and noted in ``problems``."""
    if value is None or getattr(value, "denominator", None) == 0:
        return None  # absent, or a 0/0 rational: "unknown" by the EXIF convention
    number = _number(value)
    if number is not None and math.isfinite(number) and bounds[0] <= number <= bounds[1]:
        return number
    problems.append(f"exposure {what} {one_line(value, 30)}")
    return None
