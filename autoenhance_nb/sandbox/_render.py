"""Pictures for the sandbox: the "enhanced" rendition of a photo, download options
(format, quality, max_width, scale, preview, watermark) and the merge of HDR brackets.

Pillow is imported inside the functions, so ``import autoenhance_nb.sandbox`` does not
load it. Everything here is deterministic: the same bytes and options give the same
picture. A file Pillow cannot decode (HEIC without a plug-in, a truncated file) never
raises: the original rendition is then the stored bytes as they are, and the enhanced
one a placeholder picture derived from the bytes.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image as PILImage

#: format query value -> (Pillow format, MIME type)
FORMATS: dict[str, tuple[str, str]] = {
    "jpeg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
    "webp": ("WEBP", "image/webp"),
}
_FORMAT_OF_MIME = {mime: name for name, (_, mime) in FORMATS.items()}

DEFAULT_QUALITY = 85
PREVIEW_MAX_WIDTH = 1024
MAX_UPSCALED_SIDE = 8000
MAX_DECODED_PIXELS = 60_000_000  # larger pictures are treated as undecodable
WATERMARK_TEXT = "AUTOENHANCE SANDBOX"

# enhance_type -> per-channel gains (R, G, B) and a saturation factor: warm is warmer
# than neutral, modern is cooler and crisper
_STYLES: dict[str, tuple[tuple[float, float, float], float]] = {
    "neutral": ((1.0, 1.0, 1.0), 1.15),
    "property": ((1.03, 1.01, 0.98), 1.2),
    "property_usa": ((1.05, 1.02, 0.96), 1.25),
    "warm": ((1.10, 1.02, 0.86), 1.2),
    "modern": ((0.97, 1.0, 1.06), 1.05),
}
_DEFAULT_STYLE = "property"

# cloud_type -> sky colour at the top of the picture
_SKIES: dict[str | None, tuple[int, int, int]] = {
    None: (64, 132, 228),
    "CLEAR": (64, 132, 228),
    "HIGH_CLOUD": (110, 160, 225),
    "LOW_CLOUD": (160, 185, 215),
}


@dataclass(frozen=True)
class Rendition:
    """How to draw one download."""

    enhanced: bool
    format: str | None = None  # a FORMATS key; None keeps the source's (else JPEG)
    quality: int | None = None
    max_width: int | None = None
    scale: float | None = None
    preview: bool = False
    watermark: bool = False

    @property
    def changes_pixels(self) -> bool:
        return bool(
            self.enhanced
            or self.max_width is not None
            or self.scale is not None
            or self.preview
            or self.watermark
        )


def render(
    data: bytes, source_type: str | None, options: Mapping[str, Any], rendition: Rendition
) -> tuple[bytes, str]:
    """The bytes and MIME type of ``rendition`` of the stored ``data``."""
    source_format = _FORMAT_OF_MIME.get(source_type or "")
    wanted = rendition.format or source_format or "jpeg"
    if not rendition.changes_pixels and (rendition.format is None or wanted == source_format):
        if rendition.quality is None or wanted == "png":
            return data, source_type or "application/octet-stream"
    picture = decode(data)
    if picture is None:
        if not rendition.enhanced:
            # nothing to convert: the original is what was uploaded
            return data, source_type or "application/octet-stream"
        picture = placeholder(data)
    if rendition.enhanced:
        picture = enhance(picture, options)
    picture = resize(picture, rendition)
    if rendition.watermark or rendition.preview:
        picture = watermark(picture)
    return encode(picture, wanted, rendition.quality), FORMATS[wanted][1]


def decode(data: bytes) -> PILImage | None:
    """The picture in ``data`` as RGB, or None when Pillow cannot read it."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                if opened.width * opened.height > MAX_DECODED_PIXELS:
                    return None
                opened.load()
                picture = ImageOps.exif_transpose(opened) or opened
                if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
                    rgba = picture.convert("RGBA")
                    flat = Image.new("RGB", rgba.size, (255, 255, 255))
                    flat.paste(rgba, mask=rgba.getchannel("A"))
                    return flat
                return picture.convert("RGB")
    except Exception:  # any decoder failure means "not a picture Pillow can read"
        return None


def placeholder(data: bytes, size: tuple[int, int] = (96, 64)) -> PILImage:
    """A deterministic stand-in picture for bytes Pillow cannot decode: a two-colour
    gradient whose colours come from the bytes' hash."""
    from PIL import Image

    digest = hashlib.sha256(data).digest()
    top = (digest[0], digest[1], digest[2])
    bottom = (digest[3], digest[4], digest[5])
    gradient = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), gradient)


def enhance(picture: PILImage, options: Mapping[str, Any]) -> PILImage:
    """The sandbox's "AI": a visible, deterministic edit that depends on the options.
    ``enhance`` tones the picture (contrast, brightness, saturation) in the colours of
    ``enhance_type``; ``sky_replacement`` blends a sky (coloured by ``cloud_type``)
    into the top third; ``upscale`` doubles the size."""
    from PIL import Image, ImageEnhance

    out = picture.convert("RGB")
    if options.get("enhance", True) is not False:
        style = options.get("enhance_type")
        gains, saturation = _STYLES.get(
            style if isinstance(style, str) else "", _STYLES[_DEFAULT_STYLE]
        )
        out = ImageEnhance.Contrast(out).enhance(1.12)
        out = ImageEnhance.Brightness(out).enhance(1.05)
        out = ImageEnhance.Color(out).enhance(saturation)
        channels = [
            band.point(_gain_table(gain)) for band, gain in zip(out.split(), gains, strict=True)
        ]
        out = Image.merge("RGB", channels)
    if options.get("sky_replacement") is True:
        cloud = options.get("cloud_type")
        sky = _SKIES.get(cloud if isinstance(cloud, str) else None, _SKIES[None])
        width, height = out.size
        band_height = max(1, height // 3)
        # opaque-ish at the top edge, fading out a third of the way down
        fade = Image.linear_gradient("L").rotate(180).resize((width, band_height))
        fade = fade.point(lambda v: v * 200 // 255)
        mask = Image.new("L", out.size, 0)
        mask.paste(fade, (0, 0))
        out = Image.composite(Image.new("RGB", out.size, sky), out, mask)
    if options.get("upscale") is True:
        width, height = out.size
        if max(width, height) * 2 <= MAX_UPSCALED_SIDE:
            out = out.resize((width * 2, height * 2), Image.Resampling.LANCZOS)
    return out


def _gain_table(gain: float) -> list[int]:
    return [min(255, round(v * gain)) for v in range(256)]


def resize(picture: PILImage, rendition: Rendition) -> PILImage:
    """Apply ``scale``, then ``max_width``, then the preview size (half the width, at
    most PREVIEW_MAX_WIDTH), keeping the aspect ratio and at least 1 pixel."""
    from PIL import Image

    width, height = picture.size
    target = float(width)
    if rendition.scale is not None:
        target *= rendition.scale
    if rendition.max_width is not None:
        target = min(target, rendition.max_width)
    if rendition.preview:
        target = min(target, max(1.0, width / 2), PREVIEW_MAX_WIDTH)
    new_width = max(1, round(target))
    if new_width == width:
        return picture
    new_height = max(1, round(height * new_width / width))
    return picture.resize((new_width, new_height), Image.Resampling.LANCZOS)


def watermark(picture: PILImage) -> PILImage:
    """Light diagonal stripes over the whole picture and, when it is large enough,
    the words AUTOENHANCE SANDBOX across the middle."""
    from PIL import Image, ImageDraw

    base = picture.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width, height = base.size
    step = max(4, min(width, height) // 6)
    for offset in range(-height, width, step):
        draw.line(
            [(offset, height), (offset + height, 0)],
            fill=(255, 255, 255, 96),
            width=max(1, step // 4),
        )
    if width >= 120 and height >= 24:
        draw.text((width // 2, height // 2), WATERMARK_TEXT, fill=(255, 255, 255, 200), anchor="mm")
    return Image.alpha_composite(base, layer).convert("RGB")


def encode(picture: PILImage, fmt: str, quality: int | None) -> bytes:
    pillow_format, _ = FORMATS[fmt]
    buffer = io.BytesIO()
    if fmt == "png":
        picture.save(buffer, pillow_format, optimize=False, compress_level=6)
    else:
        picture.save(buffer, pillow_format, quality=quality or DEFAULT_QUALITY)
    return buffer.getvalue()


def merge(brackets: Sequence[bytes]) -> bytes | None:
    """Fuse exposure brackets into one picture: each pixel is the mean of the brackets'
    pixels (the later ones resized to the first's size), so the result is visibly a
    blend of its brackets. PNG when every bracket was PNG, else JPEG. None when no
    bracket can be decoded."""
    from PIL import Image

    pictures = [p for p in (decode(b) for b in brackets) if p is not None]
    if not pictures:
        return None
    size = pictures[0].size
    merged = pictures[0]
    for n, picture in enumerate(pictures[1:], start=2):
        if picture.size != size:
            picture = picture.resize(size, Image.Resampling.LANCZOS)
        merged = Image.blend(merged, picture, 1 / n)  # running mean
    all_png = all(b.startswith(b"\x89PNG\r\n\x1a\n") for b in brackets)
    return encode(merged, "png" if all_png else "jpeg", 95)


def fingerprint(data: bytes) -> list[float] | None:
    """An exposure-independent 8x8 signature of a picture (zero mean, unit variance),
    for grouping brackets of one scene; None when it cannot be decoded."""
    picture = decode(data)
    if picture is None:
        return None
    values = list(picture.convert("L").resize((8, 8)).tobytes())
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    if spread < 1e-6:
        return [0.0] * len(values)
    return [(v - mean) / spread for v in values]


def same_scene(a: list[float] | None, b: list[float] | None, threshold: float = 0.8) -> bool:
    """True when two fingerprints correlate above ``threshold`` (or both are flat)."""
    if a is None or b is None:
        return False
    if not any(a) or not any(b):
        return not any(a) and not any(b)
    correlation = sum(x * y for x, y in zip(a, b, strict=True)) / len(a)
    return correlation >= threshold
