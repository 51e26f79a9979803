"""The sandbox's download endpoints: an image's renditions, GET /v3/images/{id}/enhanced,
/original, /preview and /watermark (format, quality, size, preview and watermark from
the query), rendered by ``_render`` outside the account's lock and kept in a small
cache of recent renders.

``DownloadEndpoints`` is given the account (``state.Account``) and the settings.
Imports nothing from the client.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from .._render import FORMATS, Rendition, render
from ._base import ApiError, Endpoints, Invalid, Route

_log = logging.getLogger("autoenhance_nb.sandbox")

RENDER_CACHE_SIZE = 32  # downloads rendered lately, kept to answer repeats at once


class DownloadEndpoints(Endpoints):
    """GET /v3/images/{id}/enhanced, /original, /preview and /watermark."""

    def routes(self) -> list[Route]:
        image = "/v3/images/<id>"
        return [
            Route(image + "/enhanced", "GET", "download_enhanced", self.download_enhanced),
            Route(image + "/original", "GET", "download_original", self.download_original),
            Route(image + "/preview", "GET", "download_preview", self.download_preview, False),
            Route(
                image + "/watermark", "GET", "download_watermark", self.download_watermark, False
            ),
        ]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # (image, revision, rendition) -> picture
        self._renders: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
        self._renders_lock = threading.Lock()

    def reset(self) -> None:
        with self._renders_lock:
            self._renders.clear()

    def _rendition(self, request: Request, *, enhanced: bool, preview_default: bool) -> Rendition:
        query = _Query(request.args)
        quality = query.number("quality", int, 1, 90)
        max_width = query.number("max_width", int, 1, None)
        scale = query.number("scale", float, 0, 1)
        fmt = request.args.get("format")
        if fmt is not None and fmt not in FORMATS:
            query.errors["format"] = ["Must be one of: " + ", ".join(FORMATS) + "."]
        preview = query.boolean("preview", preview_default)
        mark = query.boolean("watermark", False)
        if query.errors:
            raise Invalid("query", query.errors)
        dev_mode = request.headers.get("x-dev-mode", "").strip().lower() == "true"
        return Rendition(
            enhanced=enhanced,
            format=fmt,
            quality=quality,
            max_width=max_width,
            scale=scale,
            preview=preview,
            watermark=mark or (enhanced and dev_mode),
        )

    def _picture(self, id: str, rendition: Rendition) -> Response:
        snap = self.account.images.snapshot(id)
        if snap is None:
            raise ApiError(404)
        if snap.data is None:
            raise ApiError(404, "The image has not been uploaded yet.")
        if rendition.enhanced and snap.status != "processed":
            raise ApiError(404, f"The enhanced image is not ready (status {snap.status}).")
        key = (snap.image_id, snap.revision, rendition)
        with self._renders_lock:
            cached = self._renders.get(key)
            if cached is not None:
                self._renders.move_to_end(key)
        if cached is None:
            try:
                cached = render(snap.data, snap.content_type, snap.options, rendition)
            except Exception:  # never a 500 for a picture: fall back to the stored bytes
                _log.exception("sandbox: could not render image %s", id)
                cached = (snap.data, snap.content_type or "application/octet-stream")
            with self._renders_lock:
                self._renders[key] = cached
                while len(self._renders) > RENDER_CACHE_SIZE:
                    self._renders.popitem(last=False)
        payload, mimetype = cached
        kind = "enhanced" if rendition.enhanced else "original"
        if rendition.preview:
            kind += "; preview"
        if rendition.watermark or rendition.preview:
            kind += "; watermark"
        return Response(
            payload, status=200, mimetype=mimetype, headers={"X-Sandbox-Rendition": kind}
        )

    def download_enhanced(self, request: Request, id: str) -> Response:
        rendition = self._rendition(request, enhanced=True, preview_default=True)
        response = self._picture(id, rendition)
        dev_mode = request.headers.get("x-dev-mode", "").strip().lower() == "true"
        if not rendition.preview and not dev_mode and request.method == "GET":
            # the full-size enhanced image is bought (docs: preview=false uses a credit)
            self.account.images.mark_downloaded(id)
        return response

    def download_original(self, request: Request, id: str) -> Response:
        return self._picture(id, self._rendition(request, enhanced=False, preview_default=False))

    def download_preview(self, request: Request, id: str) -> Response:
        return self._picture(id, Rendition(enhanced=True, preview=True, watermark=True))

    def download_watermark(self, request: Request, id: str) -> Response:
        return self._picture(id, Rendition(enhanced=True, watermark=True))


class _Query:
    """Reads numbers and booleans from a query string, gathering what is wrong with
    them in ``errors`` (marshmallow's words)."""

    def __init__(self, args: Mapping[str, str]):
        self.args = args
        self.errors: dict[str, list[str]] = {}

    def number(self, key: str, cast: Callable[[str], Any], low: float, high: float | None) -> Any:
        if key not in self.args:
            return None
        try:
            value = cast(self.args[key])
        except ValueError:
            self.errors[key] = ["Not a valid number."]
            return None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            self.errors[key] = [
                f"Must be between {low} and {high}."
                if high is not None
                else f"Must be greater than or equal to {low}."
            ]
            return None
        return value

    def boolean(self, key: str, default: bool) -> bool:
        raw = self.args.get(key)
        if raw is None:
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        self.errors[key] = ["Not a valid boolean."]
        return default
