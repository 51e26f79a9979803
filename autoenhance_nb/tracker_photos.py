"""The tracker's photo operations: upload into an order, watch processing, download
results. A mixin of ``OrderTracker`` (kept apart so each module holds one job); the
state it reads and writes is the tracker's."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import errors as E
from .batch import BatchResult, fan_out
from .ids import validate_order_id
from .photos import safe_filename
from .table import FINISHED_STATUSES

if TYPE_CHECKING:
    from .client import AutoenhanceClient
    from .tracker import TableState

__all__ = ["PhotoOperations"]


class PhotoOperations:
    """Photos: ``add_images``, ``watch``, ``download``."""

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

    def add_images(
        self,
        order_id: str,
        paths: Iterable[Any],
        workers: int = 4,
        progress: bool = True,
        on_progress: Callable[[int, int, str], None] | None = None,
        **options: Any,
    ) -> BatchResult:
        """Upload photos into an existing order concurrently (each registered, then
        streamed to its upload URL). ``paths`` holds file paths, bytes, or
        ``(name, bytes)`` pairs. ``options`` are enhancement settings passed to every
        image. The order is looked up first: an unknown order is a ``NotFoundError``
        and nothing is uploaded. Never stops on one bad file; returns what was uploaded
        and what failed, then refreshes the order's row (image count, status).
        ``on_progress(done, total, name)`` follows each file."""
        validate_order_id(order_id)
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
        **query: Any,
    ) -> BatchResult:
        """Save every processed image of an order (for ``kind="original"``: every
        uploaded one) into ``folder``, named after the image. Returns what was saved
        (``saved``), what was not ready (``skipped``) and what failed."""
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
            name = safe_filename(image.get("image_name") or image["image_id"], used)
            if status == "processed" or (kind == "original" and status not in (None, "waiting")):
                ready.append((image["image_id"], name))
            else:
                result.skipped.append((name, f"status {status}"))
        result.total = len(ready) + len(result.skipped)
        fan_out(
            ready,
            lambda pair: self.client.download_image(pair[0], target / pair[1], kind, **query),
            workers=workers,
            result=result,
            describe=lambda pair: {"image": pair[1]},
            thread_name="autoenhance-download",
        )
        return result


def _bar(total: int, description: str, unit: str) -> Any:
    from tqdm.auto import tqdm  # lazily: tqdm pulls in ipywidgets' front-end glue

    return tqdm(total=total, desc=description, unit=unit, leave=True)


def _describe(source: Any) -> str:
    if isinstance(source, tuple):
        return str(source[0])
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return str(source)
