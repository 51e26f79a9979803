"""Grouping an HDR shoot into brackets, before anything is uploaded. Pure functions
over local files: no HTTP.

A bracketed shoot is a run of frames of one view at different exposures, then the next
view. ``plan_brackets`` reads each file's EXIF (Pillow) and cuts the run into groups:

- ``per_image=N``: every N consecutive files, in capture order;
- ``"auto"`` (default): a new group starts when the exposure sequence starts again (the
  exposure bias, or exposure time, comes back to the group's first value or repeats
  one), when more than ``max_gap`` seconds pass between two frames, or when the camera
  changes. A folder of mixed 3- and 5-bracket views groups correctly.

Capture order is the EXIF capture time (``DateTimeOriginal`` and its sub-seconds);
files without one put the whole shoot in file-name order, with a warning.

Refused before any request: files that cannot be read or are not images (the whole
plan: a missing frame would shift every group after it), and per group, with its
reason shown in the preview: a group of one frame, a group mixing cameras, a group of
more frames than the API takes (``MAX_BRACKETS_PER_IMAGE``; the spec and the notes give
no limit, so none), and frames the automatic grouping cannot place (no EXIF exposure
and no capture time).
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .. import errors as E
from ..errors import one_line
from ._photos import ImageSource

__all__ = [
    "Shot",
    "Group",
    "Grouping",
    "read_shot",
    "plan_brackets",
    "group_shots",
    "MAX_BRACKETS_PER_IMAGE",
    "DEFAULT_MAX_GAP",
]

#: Most brackets one image may be merged from: the spec and API-NOTES state no limit.
MAX_BRACKETS_PER_IMAGE: int | None = None
#: Seconds between two frames past which the automatic grouping starts a new view.
DEFAULT_MAX_GAP = 2.0
#: Most file names a one-line error lists.
_SHOWN = 5

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


@dataclass
class Group:
    """Frames that become one image; ``problem`` says why it is refused, if it is."""

    number: int
    shots: list[Shot]
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def name(self) -> str:
        """The merged image's name: its first bracket's (API-NOTES section 3)."""
        return self.shots[0].name


@dataclass
class Grouping:
    """The plan for a shoot: its groups (refused ones with their reason) and warnings.
    ``df`` is the preview; ``accepted`` the groups that will be uploaded."""

    groups: list[Group]
    mode: str
    warnings: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> list[Group]:
        return [g for g in self.groups if g.ok]

    @property
    def refused(self) -> list[Group]:
        return [g for g in self.groups if not g.ok]

    @property
    def files(self) -> int:
        return sum(len(g.shots) for g in self.groups)

    def summary(self) -> str:
        text = (
            f"{self.files} files in {len(self.groups)} groups ({self.mode}): "
            f"{len(self.accepted)} to merge, {len(self.refused)} refused"
        )
        return text

    @property
    def df(self) -> pd.DataFrame:
        rows = []
        for g in self.groups:
            times = [s.taken for s in g.shots if s.taken is not None]
            rows.append(
                {
                    "group": g.number,
                    "image": g.name,
                    "brackets": len(g.shots),
                    "files": ", ".join(s.name for s in g.shots),
                    "exposures": ", ".join(s.describe() for s in g.shots),
                    "captured": min(times).isoformat(sep=" ") if times else None,
                    "camera": ", ".join(sorted({s.camera or "?" for s in g.shots})),
                    "status": "ok" if g.ok else f"refused: {g.problem}",
                }
            )
        columns = ["group", "image", "brackets", "files", "exposures", "captured", "camera"]
        frame = pd.DataFrame(rows, columns=[*columns, "status"])
        return frame.astype({"group": "int64", "brackets": "int64"})

    def _repr_html_(self) -> str:
        from ..display import frame_html, html, join

        notes = join(html("<p>⚠ {}</p>", w) for w in self.warnings)
        frame = frame_html(self.df)
        return html("<p>{}</p>{}{}", self.summary(), notes, frame)

    def __repr__(self) -> str:
        return f"<Grouping {self.summary()}>"


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


def plan_brackets(
    paths: Any, per_image: int | str | None = "auto", max_gap: float = DEFAULT_MAX_GAP
) -> Grouping:
    """Read every file (a list of paths, or one glob pattern) and group them. Any file
    that cannot be read refuses the whole plan with one line naming it."""
    files = _files(paths)
    if not files:
        raise E.ValidationError("No bracket files given", fields={"paths": ["empty"]})
    shots: list[Shot] = []
    problems: list[str] = []
    for path in files:
        try:
            shots.append(read_shot(path))
        except E.ValidationError as exc:
            problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise E.ValidationError(
            f"{len(problems)} of {len(files)} bracket files refused, nothing sent: "
            + "; ".join(problems[:_SHOWN])
            + more,
            fields={"paths": problems},
        )
    return group_shots(shots, per_image, max_gap)


def group_shots(
    shots: list[Shot], per_image: int | str | None = "auto", max_gap: float = DEFAULT_MAX_GAP
) -> Grouping:
    """Group frames already read (see the module's notes for the rules)."""
    mode = _mode(per_image)
    warnings: list[str] = []
    undated = [s.name for s in shots if s.taken is None]
    if undated:
        ordered = sorted(shots, key=lambda s: s.name)
        warnings.append(
            f"{len(undated)} of {len(shots)} files have no EXIF capture time "
            f"({_names(undated)}): the shoot is taken in file-name order"
        )
    else:
        ordered = sorted(shots, key=lambda s: (s.taken, s.name))
    insane = [s for s in ordered if s.exif_problems]
    if insane:
        warnings.append(
            f"{len(insane)} of {len(shots)} files have an EXIF exposure that is not a usable "
            f"number ({_names([f'{s.name}: {s.exif_problems[0]}' for s in insane])}): "
            f"treated as missing"
        )
    if isinstance(mode, int):
        runs = [ordered[i : i + mode] for i in range(0, len(ordered), mode)]
        groups = [Group(n, run) for n, run in enumerate(runs, start=1)]
    else:
        groups = _auto(ordered, max_gap, warnings)
    for group in groups:
        if group.problem is None:
            group.problem = _problem(group.shots)
    return Grouping(groups, "auto" if mode == "auto" else f"{mode} per image", warnings)


def _auto(ordered: list[Shot], max_gap: float, warnings: list[str]) -> list[Group]:
    runs: list[list[Shot]] = []
    blind: list[Shot] = []
    for shot in ordered:
        if shot.exposure is None and shot.taken is None:
            blind.append(shot)
            continue
        if not runs or _new_view(runs[-1], shot, max_gap):
            runs.append([shot])
            continue
        run = runs[-1]
        repeated = [
            k
            for k, s in enumerate(run)
            if shot.exposure is not None and s.exposure == shot.exposure
        ]
        if not repeated:
            run.append(shot)
            continue
        # The exposure sequence started again somewhere after the repeated value's frame:
        # the next view begins at the longest pause since then (else at this frame).
        cut = _longest_pause([*run, shot], repeated[-1] + 1)
        runs[-1], moved = run[:cut], run[cut:]
        runs.append([*moved, shot])
    groups = [Group(n, run) for n, run in enumerate(runs, start=1)]
    if blind:
        warnings.append(
            f"{len(blind)} files have no EXIF exposure or capture time "
            f"({_names([s.name for s in blind])}): give per_image=N to group them"
        )
        for shot in blind:
            groups.append(
                Group(
                    len(groups) + 1,
                    [shot],
                    "no EXIF exposure or capture time to group it by (use per_image=N)",
                )
            )
    return groups


def _new_view(run: list[Shot], shot: Shot, max_gap: float) -> bool:
    """A camera change or a pause longer than ``max_gap``: a new view for sure."""
    last = run[-1]
    if shot.camera and last.camera and shot.camera != last.camera:
        return True
    if shot.taken is not None and last.taken is not None:
        return (shot.taken - last.taken).total_seconds() > max_gap
    return False


def _longest_pause(frames: list[Shot], first: int) -> int:
    """The index in ``frames[first:]`` that follows the longest pause (the last
    frame's index when the times are unknown or tie)."""
    best, cut = -1.0, len(frames) - 1
    for j in range(first, len(frames)):
        before, after = frames[j - 1].taken, frames[j].taken
        if before is None or after is None:
            continue
        pause = (after - before).total_seconds()
        if pause > best or (pause == best and j > cut):
            best, cut = pause, j
    return cut


def _problem(shots: list[Shot]) -> str | None:
    if len(shots) < 2:
        return (
            f"a single frame ({one_line(shots[0].name)}): HDR needs 2 or more exposures "
            f"of the view (upload it as a photo instead)"
        )
    cameras = sorted({s.camera for s in shots if s.camera})
    if len(cameras) > 1:
        return f"mixes cameras ({', '.join(one_line(c) for c in cameras)})"
    if MAX_BRACKETS_PER_IMAGE is not None and len(shots) > MAX_BRACKETS_PER_IMAGE:
        return f"{len(shots)} brackets; the API takes at most {MAX_BRACKETS_PER_IMAGE} per image"
    return None


def _mode(per_image: int | str | None) -> int | str:
    if per_image is None or per_image == "auto":
        return "auto"
    if isinstance(per_image, str) and per_image.strip().isdigit():
        per_image = int(per_image)
    if isinstance(per_image, bool) or not isinstance(per_image, int) or per_image < 2:
        raise E.ValidationError(
            f"Invalid per_image: 'auto' or a whole number of 2 or more, not "
            f"{one_line(per_image)!r}",
            fields={"per_image": ["'auto' or 2 or more"]},
        )
    return per_image


def _files(paths: Any) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        text = os.path.expanduser(os.fspath(paths))
        if any(c in text for c in "*?["):
            import glob

            return [Path(p) for p in sorted(glob.glob(text, recursive=True))]
        return [Path(text)]
    return [Path(p) for p in paths]


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


def _names(names: list[str]) -> str:
    shown = ", ".join(one_line(n) for n in names[:_SHOWN])
    return shown + (f", and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
