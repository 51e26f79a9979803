"""The sandbox's download endpoints: an image's renditions, GET /v3/images/{id}/enhanced,
/original, /preview and /watermark (format, quality, size, preview and watermark from
the query), rendered by ``render.py`` outside the account's lock and kept in a small
cache of recent renders.

``DownloadEndpoints`` is a mixin of ``app.SandboxApp``. Imports nothing from the client.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from .._render import FORMATS, Rendition, render
from ._base import ApiError, EndpointBase, Invalid

_log = logging.getLogger("autoenhance_nb.sandbox")

RENDER_CACHE_SIZE = 32  # downloads rendered lately, kept to answer repeats at once


class DownloadEndpoints(EndpointBase):
    """GET /v3/images/{id}/enhanced, /original, /preview and /watermark."""

    _renders: OrderedDict[tuple, tuple[bytes, str]]  # (image, revision, rendition) -> picture
    _renders_lock: threading.Lock

    def _rendition(self, request: Request, *, enhanced: bool, preview_default: bool) -> Rendition:
        args = request.args
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}

        def number(key: str, cast: Callable[[str], Any], low: float, high: float | None) -> None:
            if key not in args:
                return
            try:
                value = cast(args[key])
            except ValueError:
                errors[key] = ["Not a valid number."]
                return
            if not math.isfinite(value) or value < low or (high is not None and value > high):
                errors[key] = [
                    f"Must be between {low} and {high}."
                    if high is not None
                    else f"Must be greater than or equal to {low}."
                ]
                return
            values[key] = value

        def boolean(key: str, default: bool) -> bool:
            raw = args.get(key)
            if raw is None:
                return default
            if raw.lower() in ("true", "1"):
                return True
            if raw.lower() in ("false", "0"):
                return False
            errors[key] = ["Not a valid boolean."]
            return default

        number("quality", int, 1, 90)
        number("max_width", int, 1, None)
        number("scale", float, 0, 1)
        fmt = args.get("format")
        if fmt is not None and fmt not in FORMATS:
            errors["format"] = ["Must be one of: " + ", ".join(FORMATS) + "."]
        preview = boolean("preview", preview_default)
        mark = boolean("watermark", False)
        if errors:
            raise Invalid("query", errors)
        dev_mode = request.headers.get("x-dev-mode", "").strip().lower() == "true"
        return Rendition(
            enhanced=enhanced,
            format=fmt,
            quality=values.get("quality"),
            max_width=values.get("max_width"),
            scale=values.get("scale"),
            preview=preview,
            watermark=mark or (enhanced and dev_mode),
        )

    def _picture(self, id: str, rendition: Rendition) -> Response:
        snap = self.account.snapshot(id)
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
            self.account.mark_downloaded(id)
        return response

    def download_original(self, request: Request, id: str) -> Response:
        return self._picture(id, self._rendition(request, enhanced=False, preview_default=False))

    def download_preview(self, request: Request, id: str) -> Response:
        return self._picture(id, Rendition(enhanced=True, preview=True, watermark=True))

    def download_watermark(self, request: Request, id: str) -> Response:
        return self._picture(id, Rendition(enhanced=True, watermark=True))
