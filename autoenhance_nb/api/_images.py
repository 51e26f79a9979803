"""``client.images``: register, upload, fetch, reprocess, report, delete and download
images (``/v3/images/``), each method a few lines around the client's one
``Transport``. A registration is exactly once under retries (see ``create``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import errors as E
from ..errors import one_line, unexpected_shape
from ..rules import (
    ImageSource,
    check_download_query,
    check_options,
    check_report,
    image_link,
    stream_to_file,
    validate_image_id,
    validate_order_id,
)
from ._orders import OrderService
from ._transport import Transport
from ._wire import parse_json

__all__ = ["ImageService", "DOWNLOAD_KINDS", "put_upload"]

DOWNLOAD_KINDS = ("enhanced", "original", "preview", "watermark")

log = logging.getLogger("autoenhance_nb")


class ImageService:
    """``/v3/images/...``: one method per endpoint. ``orders`` looks at an order after
    a retried registration."""

    def __init__(self, http: Transport, orders: OrderService):
        self._http = http
        self._orders = orders

    def create(
        self, order_id: str, image_name: str, *, content_type: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """Register an image in an order; returns the API's answer with ``upload_url``.
        ``options`` are the enhancement settings of the API's ``ImageIn`` (enhance_type,
        sky_replacement, ...; see ``autoenhance_nb.options.OPTIONS``), checked against
        the spec before any request (unknown names pass with a warning).

        Registration is retried after a 429, 5xx or lost connection; if a retry succeeds,
        registrations that the lost attempts may have left (same name, never uploaded)
        are deleted, so the order does not count phantom images."""
        validate_order_id(order_id)
        options = check_options(options)
        if not isinstance(image_name, str) or not image_name.strip():
            raise E.ValidationError(
                "Invalid image_name: must be a non-empty string",
                fields={"image_name": ["must be a non-empty string"]},
            )
        what = f"Registering image {one_line(image_name)!r} in order {one_line(order_id)!r}"
        self._http.need_key(what, order_id)
        body = {**options, "order_id": order_id, "image_name": image_name}
        if content_type is not None:
            body["contentType"] = content_type
        attempts: list[int] = []

        def note_attempt(error: E.AutoenhanceError, attempt: int) -> None:
            # only an answer that may hide a registration (5xx, a connection lost after
            # sending) can leave a phantom; a 429 or a refused connection made nothing
            if (isinstance(error, E.TransportError) and error.connected) or (
                error.status_code is not None and error.status_code >= 500
            ):
                attempts.append(attempt)
            return None

        image = self._http.call(
            "POST", "/v3/images/", what, json=body, order_id=order_id, on_error=note_attempt
        )
        if not isinstance(image, dict) or not isinstance(image.get("image_id"), str):
            raise unexpected_shape(what, image, "a registered image")
        if image.get("upload_url") is None and image.get("s3PutObjectUrl"):
            image["upload_url"] = image["s3PutObjectUrl"]  # older API versions
        if attempts:
            self._drop_phantom_images(order_id, image_name, image.get("image_id"))
        return image

    def _drop_phantom_images(self, order_id: str, image_name: str, keep: str | None) -> None:
        try:
            order = self._orders.get(order_id)
            for image in order.get("images") or []:
                if (
                    isinstance(image, dict)
                    and image.get("image_name") == image_name
                    and image.get("image_id") != keep
                    and image.get("status") in (None, "waiting")
                ):
                    self.delete(image["image_id"])
        except E.AutoenhanceError as exc:  # best effort: the upload itself succeeded
            log.info("could not tidy up after a retried image registration: %s", exc)

    def upload(
        self,
        order_id: str,
        source: str | os.PathLike[str] | bytes | ImageSource,
        image_name: str | None = None,
        *,
        on_registered: Callable[[dict[str, Any]], None] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Register an image and PUT its bytes to the returned ``upload_url`` (raw body
        with the content type given at registration, no API key: the URL belongs to a
        storage host). A file is streamed from disk, never read whole (and hashed as it
        streams: ``ImageSource.sha256``). Returns the image as the API reports it after
        the upload. ``on_registered(image)`` hears of the registration before the bytes
        are sent (the tracker's journal notes the image's id there).

        Refused before any request, with a clear message: a missing path, a folder, an
        empty file, and content that is not an image (decided by its first bytes)."""
        options = check_options(options)
        photo = source if isinstance(source, ImageSource) else ImageSource(source, image_name)
        image = self.create(order_id, photo.name, **options)
        if on_registered is not None:
            on_registered(image)
        what = f"Uploading {one_line(photo.name)!r}"
        put_upload(
            self._http, image.get("upload_url"), photo, what, order_id, options.get("contentType")
        )
        fresh = self.get(image["image_id"])
        fresh.setdefault("order_id", order_id)
        return fresh

    def get(self, image_id: str) -> dict[str, Any]:
        what = f"Fetching image {one_line(validate_image_id(image_id))!r}"
        image = self._http.call("GET", self._image_path(image_id), what)
        if not isinstance(image, dict) or image.get("image_id") not in (None, image_id):
            raise unexpected_shape(what, image, f"image {one_line(image_id)!r}")
        return image

    def delete(self, image_id: str) -> None:
        what = f"Deleting image {one_line(validate_image_id(image_id))!r}"
        self._http.need_key(what)
        self._http.call("DELETE", self._image_path(image_id), what, gone_is_done=True)

    def reprocess(self, image_id: str, **options: Any) -> dict[str, Any]:
        """Enhance an uploaded image again (``POST /v3/images/{id}/process``) with
        ``options`` (``ImageInUpdate``: omitted ones keep their values), checked before
        any request. Returns the image, back to ``processing``."""
        what = f"Reprocessing image {one_line(validate_image_id(image_id))!r}"
        options = check_options(options)
        self._http.need_key(what)
        image = self._http.call("POST", self._image_path(image_id) + "/process", what, json=options)
        if not isinstance(image, dict):
            raise unexpected_shape(what, image, "an image")
        return image

    def report(
        self,
        image_id: str,
        categories: str | list[str],
        comment: str | None = None,
        score: int | None = None,
    ) -> dict[str, Any]:
        """Report a problem with an enhanced image (``POST /v3/images/{id}/report``):
        ``categories`` from the spec's list (``options.REPORT_CATEGORIES``), an optional
        comment and score 0-5, all checked before any request. Returns the API's
        acknowledgement (``{"message": ...}``)."""
        what = f"Reporting image {one_line(validate_image_id(image_id))!r}"
        body = check_report(categories, comment, score)
        self._http.need_key(what)
        answer = self._http.call("POST", self._image_path(image_id) + "/report", what, json=body)
        if not isinstance(answer, dict):
            raise unexpected_shape(what, answer, "an acknowledgement")
        return answer

    def download(
        self,
        image_id: str,
        path: str | os.PathLike[str],
        kind: str = "enhanced",
        *,
        full_size: bool = False,
        **query: Any,
    ) -> Path:
        """Stream an image's ``enhanced`` (default), ``original``, ``preview`` or
        ``watermark`` rendition to ``path`` (written atomically). The enhanced image is a
        free preview unless ``full_size=True``, which buys the full size (credits; the
        image's ``downloaded`` becomes true). ``query`` takes the API's download options
        (``format`` png/jpeg/webp, ``quality`` 1-90, ``max_width``, ``scale`` 0-1,
        ``watermark``), checked before any request. Returns the absolute path."""
        if kind not in DOWNLOAD_KINDS:
            raise E.ValidationError(
                f"Invalid kind: {kind!r}; use one of {', '.join(DOWNLOAD_KINDS)}",
                fields={"kind": [kind]},
            )
        what = f"Downloading the {kind} image {one_line(validate_image_id(image_id))!r}"
        params = check_download_query(query)
        if kind == "enhanced":
            if full_size and params.get("preview") == "true":
                raise E.ValidationError(
                    "Invalid download: full_size=True and preview=True ask for both sizes"
                )
            params.setdefault("preview", "false" if full_size else "true")
        if kind in ("enhanced", "original"):
            self._http.need_key(what)
        resp = self._http.stream(
            "GET", self._image_path(image_id) + "/" + kind, what, params=params
        )
        try:
            if resp.headers.get("Content-Type", "").startswith("application/json"):
                # Older API versions answer with JSON naming the file's URL.
                body = parse_json(resp, what) if resp.content else None
                link = image_link(body)
                if link is None:
                    raise E.ServerError(
                        f"{what} failed: the API answered JSON without an image URL"
                    )
                resp.close()
                resp = self._http.stream("GET", link, what)
            return stream_to_file(resp, Path(path), what)
        finally:
            resp.close()

    @staticmethod
    def _image_path(image_id: str) -> str:
        return "/v3/images/" + quote(image_id, safe="")


def put_upload(
    http: Transport,
    url: Any,
    photo: ImageSource,
    what: str,
    order_id: str,
    content_type: str | None = None,
) -> None:
    """PUT ``photo``'s bytes to the upload URL a registration answered with (streamed,
    no API key: the URL belongs to a storage host)."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise E.ServerError(f"{what} failed: the API gave no upload URL", order_id=order_id)
    try:
        http.send(
            "PUT",
            url,
            what,
            data=photo.open,
            with_key=False,
            headers={
                "Content-Type": content_type or "application/octet-stream",
                "Content-Length": str(photo.size),
            },
            order_id=order_id,
        )
    except E.AuthenticationError as exc:
        raise E.AutoenhanceError(
            f"{what} failed: the storage host refused the upload URL (HTTP {exc.status_code})",
            exc.status_code,
            order_id=order_id,
        ) from None
