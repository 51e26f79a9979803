"""Writes the sample HDR shoot of ``notebooks/hdr_brackets.ipynb``: small synthetic
JPEG brackets (one scene drawn at several exposures) carrying the EXIF a camera writes:
capture time, exposure time, exposure bias, make and model.

    python notebooks/data/brackets/make_brackets.py        # rewrites the 12 sample files

Four views, 12 files: two views of 3 exposures, one of 5, and one single frame (which
the grouping refuses: a bracket group needs at least two exposures). ``write_shoot`` is
also what the tests use to make bigger shoots.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw, TiffImagePlugin

HERE = Path(__file__).resolve().parent
START = datetime(2026, 3, 14, 10, 0, 0)
#: (exposure biases in EV, seconds after the previous view ended) of the sample views.
#: The 5-bracket view follows the second 3-bracket view after 1 s only: the grouping
#: tells them apart by the exposure sequence starting again, not by the time gap.
SAMPLE_VIEWS: list[tuple[Sequence[float], float]] = [
    ((-2, 0, 2), 0),
    ((-2, 0, 2), 20),
    ((-4, -2, 0, 2, 4), 1),
    ((0,), 15),
]
CAMERA = ("SONY", "ILCE-7M4")
EXIF_IFD, MAKE, MODEL, DATETIME = 0x8769, 0x010F, 0x0110, 0x0132
DATETIME_ORIGINAL, SUBSEC_ORIGINAL, EXPOSURE_TIME, EXPOSURE_BIAS = 0x9003, 0x9291, 0x829A, 0x9204


def bracket(scene: int, ev: float, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """One scene (a room with a window; ``scene`` moves things) exposed at ``ev``."""
    gain = 2.0**ev
    w, h = size

    def tone(value: int) -> int:
        return max(0, min(255, round(value * gain)))

    picture = Image.new("RGB", size, (tone(70), tone(60), tone(50)))
    draw = ImageDraw.Draw(picture)
    x = 8 + (scene * 23) % (w - 40)
    draw.rectangle((x, 8, x + 28, 30), fill=(tone(200), tone(220), tone(250)))  # window
    draw.rectangle((4, h - 18, w - 4, h - 4), fill=(tone(90), tone(50), tone(30)))  # floor
    plant = (w - 30 - scene * 3, 20, w - 8 - scene * 3, 42)
    draw.ellipse(plant, fill=(tone(30), tone(90), tone(40)))
    return picture


def exif_bytes(taken: datetime, ev: float, camera: tuple[str, str] = CAMERA) -> bytes:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = camera
    exif[DATETIME] = taken.strftime("%Y:%m:%d %H:%M:%S")
    ifd = exif.get_ifd(EXIF_IFD)
    ifd[DATETIME_ORIGINAL] = taken.strftime("%Y:%m:%d %H:%M:%S")
    ifd[SUBSEC_ORIGINAL] = f"{taken.microsecond // 10000:02d}"
    ifd[EXPOSURE_TIME] = TiffImagePlugin.IFDRational(Fraction(1, 60) * Fraction(2) ** round(ev))
    ifd[EXPOSURE_BIAS] = TiffImagePlugin.IFDRational(Fraction(ev).limit_denominator(3))
    return exif.tobytes()


def write_shoot(
    folder: Path,
    views: Sequence[tuple[Sequence[float], float]],
    start: datetime = START,
    prefix: str = "DSC",
    camera: tuple[str, str] = CAMERA,
) -> list[Path]:
    """Write one JPEG per exposure of every view, named ``DSC_0001.jpg``... in capture
    order, 0.5 s apart within a view; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    taken = start
    for scene, (biases, gap) in enumerate(views):
        taken += timedelta(seconds=gap)
        for ev in biases:
            buffer = io.BytesIO()
            bracket(scene, ev).save(buffer, "JPEG", quality=80, exif=exif_bytes(taken, ev, camera))
            path = folder / f"{prefix}_{len(paths) + 1:04d}.jpg"
            path.write_bytes(buffer.getvalue())
            paths.append(path)
            taken += timedelta(seconds=0.5)
    return paths


if __name__ == "__main__":
    for old in HERE.glob("DSC_*.jpg"):
        old.unlink()
    written = write_shoot(HERE, SAMPLE_VIEWS)
    print(f"wrote {len(written)} brackets to {HERE}")
