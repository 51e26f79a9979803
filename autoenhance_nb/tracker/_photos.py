"""The tracker's photo operations: upload into an order (with enhancement options),
watch processing, download results (previews, or full size bought), reprocess, report.
A mixin of ``OrderTracker`` (kept apart so each module holds one job); the state it
reads and writes is the tracker's."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import errors as E
from ..rules import (
    SessionOptions,
    check_download_query,
    image_options,
    merge_options,
    safe_filename,
    validate_image_id,
    validate_order_id,
)
from ._batch import BatchResult, fan_out
from .table import FINISHED_STATUSES

if TYPE_CHECKING:
    from ..api import AutoenhanceClient
    from ._tracker import TableState

__all__ = ["PhotoOperations", "image_row", "set_gallery_factory"]

#: What ``tracker.gallery(...)`` calls to make the widget: set by the package's
#: ``__init__`` (``set_gallery_factory``), since the tracker imports no widgets.
_gallery_factory: Callable[..., Any] | None = None


def set_gallery_factory(factory: Callable[..., Any] | None) -> None:
    """Use ``factory(order_id, tracker, **kwargs)`` for ``OrderTracker.gallery``."""
    global _gallery_factory
    _gallery_factory = factory


def image_row(image: dict[str, Any], order_id: str) -> list[Any]:
    """An API image as a row of ``table.IMAGE_COLUMNS`` (every cell text: ``downloaded``
    is ``true``/``false``, ``options`` compact JSON)."""
    downloaded = image.get("downloaded")
    options = image_options(image)
    return [
        image["image_id"],
        image.get("order_id") or order_id,
        image.get("image_name"),
        image.get("status") or "waiting",
        image.get("status_reason"),
        None if downloaded is None else str(bool(downloaded)).lower(),
        json.dumps(options, sort_keys=True, default=str) if options else None,
    ]


class PhotoOperations:
    """Photos: ``add_images``, ``watch``, ``download``, ``reprocess``, ``report``."""

    client: AutoenhanceClient
    _lock: threading.RLock
    _state: TableState

    if TYPE_CHECKING:

        def record(
            self, order: dict[str, Any], source: str = "python", *, notify: bool = True
        ) -> None: ...
        def refresh(self, workers: int = 8, progress: bool = False) -> dict[str, int]: ...
        def status_counts(self) -> dict[str, int]: ...
        def _record_images(self, images: list[Any], order_id: str) -> None: ...
        @property
        def images_df(self) -> pd.DataFrame: ...
        @property
        def df(self) -> pd.DataFrame: ...
        def _changed(self) -> None: ...

    # -- settings --------------------------------------------------------------------------
    @property
    def default_options(self) -> SessionOptions:
        """Enhancement options every photo added gets unless the call (or its preset)
        says otherwise; each checked when set: ``tracker.default_options["enhance_type"]
        = "warm"``, or assign a whole dict."""
        found = self.__dict__.get("_default_options")
        if found is None:
            found = self.__dict__.setdefault("_default_options", SessionOptions())
        return found

    @default_options.setter
    def default_options(self, value: Any) -> None:
        self.__dict__["_default_options"] = SessionOptions(merge_options(value))

    @property
    def dev_mode(self) -> bool:
        """The API's free, watermarked test processing (``x-dev-mode``), for this
        session's client."""
        return self.client.dev_mode

    @dev_mode.setter
    def dev_mode(self, value: bool) -> None:
        self.client.dev_mode = bool(value)
        self._changed()

    def add_images(
        self,
        order_id: str,
        paths: Iterable[Any],
        workers: int = 4,
        progress: bool = True,
        on_progress: Callable[[int, int, str], None] | None = None,
        preset: str | None = None,
        **options: Any,
    ) -> BatchResult:
        """Upload photos into an existing order concurrently (each registered, then
        streamed to its upload URL). ``paths`` holds file paths, bytes, or
        ``(name, bytes)`` pairs. ``options`` are enhancement settings for every photo,
        over ``preset`` (a name in ``options.presets``), over ``default_options``; all
        checked before any request. The order is looked up first: an unknown order is a
        ``NotFoundError`` and nothing is uploaded. Never stops on one bad file; returns
        what was uploaded and what failed, then refreshes the order's row (image count, status).
        ``on_progress(done, total, name)`` follows each file."""
        validate_order_id(order_id)
        options = merge_options(dict(self.default_options), options, preset=preset)
        sources = list(paths)
        order = self.client.get_order(order_id)  # NotFoundError before any upload
        self.record(order, notify=False)
        result = BatchResult(total=len(sources), verb="uploaded")

        def one(source: Any) -> dict[str, Any]:
            if isinstance(source, tuple):
                name, data = source
                return self.client.upload_image(order_id, data, image_name=name, **options)
            return self.client.upload_image(order_id, source, **options)

        def record(_: int, image: dict[str, Any]) -> None:
            with self._lock:
                self._record_images([image], order_id)

        def progressed(done: int, total: int, _: Any) -> None:
            if on_progress is not None:
                on_progress(done, total, "")

        bar = _bar(len(sources), "Uploading photos", "photo") if progress else None
        try:
            fan_out(
                sources,
                one,
                workers=workers,
                result=result,
                record=record,
                describe=lambda s: {"source": _describe(s)},
                progress=bar,
                on_progress=progressed,
                thread_name="autoenhance-upload",
            )
        finally:
            if bar is not None:
                bar.close()
        if result.done:
            self.record(self.client.get_order(order_id))  # new image count and status
        return result

    def watch(
        self, interval: float = 5.0, timeout: float = 1800.0, progress: bool = True
    ) -> pd.DataFrame:
        """Refresh every ``interval`` seconds until no tracked order is processing (all
        processed, in error, deleted, or waiting for photos); returns the table. Raises
        when ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        bar = None
        try:
            while True:
                self.refresh()
                images = self.images_df
                finished = int(images["status"].isin(list(FINISHED_STATUSES)).sum())
                if progress:
                    if bar is None:
                        bar = _bar(len(images), "Processing", "photo")
                    bar.total = len(images)
                    bar.n = finished
                    bar.refresh()
                processing = self.status_counts().get("processing", 0)
                if not processing:
                    return self.df
                if time.monotonic() + interval > deadline:
                    raise E.AutoenhanceError(
                        f"Still processing after {timeout:g} s: {processing} orders; call "
                        f"watch() again to keep waiting"
                    )
                time.sleep(interval)
        finally:
            if bar is not None:
                bar.close()

    def download(
        self,
        order_id: str,
        folder: str | os.PathLike[str],
        kind: str = "enhanced",
        workers: int = 4,
        *,
        full_size: bool = False,
        **query: Any,
    ) -> BatchResult:
        """Save every processed image of an order (for ``kind="original"``: every
        uploaded one) into ``folder``, named after the image (the extension follows
        ``format``). Enhanced images are free previews unless ``full_size=True``, which
        buys them (credits). ``query``: format, quality, max_width, scale, watermark,
        checked before any request. Returns what was saved (``saved``), what was not
        ready (``skipped``) and what failed."""
        check_download_query(query)
        target = Path(folder).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        order = self.client.get_order(order_id)
        self.record(order)
        result = BatchResult(total=0, verb="saved")
        used: set[str] = set()
        ready: list[tuple[str, str]] = []
        for image in order.get("images") or []:
            if not isinstance(image, dict) or not isinstance(image.get("image_id"), str):
                continue
            status = image.get("status")
            name = image.get("image_name") or image["image_id"]
            if query.get("format"):
                name = f"{os.path.splitext(name)[0] or name}.{query['format']}"
            name = safe_filename(name, used)
            if status == "processed" or (kind == "original" and status not in (None, "waiting")):
                ready.append((image["image_id"], name))
            else:
                result.skipped.append((name, f"status {status}"))
        result.total = len(ready) + len(result.skipped)
        fan_out(
            ready,
            lambda pair: self.client.download_image(
                pair[0], target / pair[1], kind, full_size=full_size, **query
            ),
            workers=workers,
            result=result,
            describe=lambda pair: {"image": pair[1]},
            thread_name="autoenhance-download",
        )
        if full_size and result.done:
            self.record(self.client.get_order(order_id))  # what was bought: `downloaded`
        return result

    def download_image(
        self,
        image_id: str,
        path: str | os.PathLike[str],
        kind: str = "enhanced",
        *,
        full_size: bool = False,
        **query: Any,
    ) -> Path:
        """Save one image (see ``download``; its folder is made); a full-size one is
        recorded as bought."""
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        saved = self.client.download_image(image_id, path, kind, full_size=full_size, **query)
        if full_size:
            self._record_one(self.client.get_image(image_id))
        return saved

    def reprocess(self, image_id: str, preset: str | None = None, **options: Any) -> dict[str, Any]:
        """Enhance an uploaded image again with ``options`` (over ``preset``; settings
        not given keep their values). Checked before any request; the image goes back
        to ``processing`` in ``images_df``."""
        validate_image_id(image_id)
        image = self.client.reprocess_image(image_id, **merge_options(options, preset=preset))
        self._record_one(image)
        return image

    def report(
        self,
        image_id: str,
        categories: str | list[str],
        comment: str | None = None,
        score: int | None = None,
    ) -> dict[str, Any]:
        """Report a problem with an enhanced image (categories from
        ``options.REPORT_CATEGORIES``, optional comment, score 0-5); returns the API's
        acknowledgement."""
        return self.client.report_image(image_id, categories, comment=comment, score=score)

    def gallery(self, order_id: str, **kwargs: Any) -> Any:
        """The order's photos as an ``OrderGallery`` widget (original and enhanced side
        by side, per-photo actions); ``kwargs`` go to ``OrderGallery``."""
        if _gallery_factory is None:
            raise RuntimeError("the gallery needs autoenhance_nb's widgets (import autoenhance_nb)")
        return _gallery_factory(order_id, self, **kwargs)

    def _record_one(self, image: dict[str, Any]) -> None:
        order_id = image.get("order_id")
        if isinstance(image.get("image_id"), str) and isinstance(order_id, str):
            with self._lock:
                self._record_images([image], order_id)
            self._changed()


def _bar(total: int, description: str, unit: str) -> Any:
    from tqdm.auto import tqdm  # lazily: tqdm pulls in ipywidgets' front-end glue

    return tqdm(total=total, desc=description, unit=unit, leave=True)


def _describe(source: Any) -> str:
    if isinstance(source, tuple):
        return str(source[0])
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return str(source)
