"""The tracker's photo operations: upload into an order (with enhancement options),
watch processing, download results (previews, or full size bought), reprocess, report.
``Photos`` is given the tracker's core (state, lock, recording) and its ``Orders`` (a
watch refreshes); it holds no state of its own."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .. import errors as E
from ..rules import (
    ImageSource,
    check_download_query,
    merge_options,
    safe_filename,
    validate_image_id,
    validate_order_id,
)
from ._batch import BatchResult, FanOut, progress_bar
from ._core import TrackerCore
from ._events import Events
from ._ledger import Already, Ledger
from ._orders import Orders
from .table import FINISHED_STATUSES

__all__ = ["Photos"]

log = logging.getLogger("autoenhance_nb")


class Photos:
    """Photos: ``add_images``, ``watch``, ``download``, ``download_image``,
    ``reprocess``, ``report``."""

    def __init__(self, core: TrackerCore, orders: Orders, events: Events):
        self.core = core
        self.orders = orders
        self.events = events

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
        """See ``OrderTracker.add_images``."""
        validate_order_id(order_id)
        options = merge_options(dict(self.core.default_options), options, preset=preset)
        sources = list(paths)
        since = time.time()  # others' uploads from now on are not in `order`
        order = self.core.client.get_order(order_id)  # NotFoundError before any upload
        self.core.record(order, notify=False)
        result = BatchResult(total=len(sources), verb="uploaded")
        one = self._sender(order, options, since)

        def record(_: int, image: Any) -> None:
            with self.core.lock:
                self.core.record_images([_answer(image)], order_id)

        def progressed(done: int, total: int, _: Any) -> None:
            if on_progress is not None:
                on_progress(done, total, "")

        bar = progress_bar(len(sources), "Uploading photos", "photo") if progress else None
        try:
            FanOut(
                sources,
                one,
                workers=workers,
                result=result,
                record=record,
                describe=lambda s: {"source": _describe(s)},
                progress=bar,
                on_progress=progressed,
                thread_name="autoenhance-upload",
            ).run()
        finally:
            if bar is not None:
                bar.close()
        result.already = [(a.name, a.image.get("image_id")) for a in result.done if _is_old(a)]
        result.done = [image for image in result.done if not _is_old(image)]
        if result.done or result.already:  # new image count and status; images another
            self.core.record(self.core.client.get_order(order_id))  # kernel sent just now
        return result

    def _sender(
        self, order: dict[str, Any], options: dict[str, Any], since: float
    ) -> Callable[[Any], dict[str, Any] | Already]:
        """What uploads one source into the order: straight, or (with the journal)
        skipping what an earlier run uploaded, its intent and outcome written around
        the requests; what a killed run left half done is settled first."""
        client = self.core.client
        order_id = order["order_id"]
        journal = self.core.journal
        if journal is None:

            def plain(source: Any) -> dict[str, Any]:
                return client.images.upload(order_id, _photo(source), **options)

            return plain
        ledger = Ledger(journal, client, order_id, "image", self.core.notebook(), since)
        ledger.settle_images(order)
        images = {i.get("image_id"): i for i in order.get("images") or [] if isinstance(i, dict)}
        lock = threading.Lock()
        claimed: dict[tuple[Any, ...], str] = {}

        def one(source: Any) -> dict[str, Any] | Already:
            photo = _photo(source)
            key, sha = ledger.identify(photo)
            found = ledger.found(photo.name, key, sha)
            if found is not None:
                return Already(photo.name, images.get(found) or {"image_id": found})
            me = (photo.name, key, sha)
            with lock:  # the same photo twice in one call: sent once
                if me in claimed:
                    return Already(photo.name, {"image_id": claimed[me]})
                claimed[me] = ""
            row = ledger.claim(photo, key, sha, options)
            if isinstance(row, str):  # another kernel uploaded it meanwhile
                with lock:
                    claimed[me] = row
                return Already(photo.name, images.get(row) or {"image_id": row})
            try:
                image = client.images.upload(
                    order_id,
                    photo,
                    on_registered=lambda reg: ledger.registered(row, reg.get("image_id")),
                    **options,
                )
            except BaseException as exc:
                ledger.ended(row, exc)
                with lock:
                    claimed.pop(me, None)
                raise
            ledger.done(row, image["image_id"], photo, key, sha)
            claimed[me] = image["image_id"]
            return image

        return one

    def watch(
        self, interval: float = 5.0, timeout: float = 1800.0, progress: bool = True
    ) -> pd.DataFrame:
        """See ``OrderTracker.watch``. With a webhook receiver, events update the table
        between refreshes, which come every ``events.poll_interval(interval)`` seconds."""
        deadline = time.monotonic() + timeout
        bar = None
        polled = -math.inf
        said = ""
        try:
            while True:
                # the pace is read each time: a receiver may start or stop meanwhile
                if time.monotonic() >= polled + self.events.poll_interval(interval):
                    self.orders.refresh()
                    polled = time.monotonic()
                next_poll = polled + self.events.poll_interval(interval)
                if progress:
                    bar = self._show_progress(bar, interval)
                processing = self.core.status_counts().get("processing", 0)
                if not processing:
                    return self.core.frame()
                live = self.events.active
                if (live or said) and said != (now := self.events.describe(interval)):
                    said = now  # said once, and again when a receiver starts or stops
                    log.info("watching %d orders: %s", processing, now)
                if (time.monotonic() if live else next_poll) > deadline:
                    raise E.AutoenhanceError(
                        f"Still processing after {timeout:g} s: {processing} orders; call "
                        f"watch() again to keep waiting"
                    )
                if live:  # wake on an event (or to look whether the receiver still runs)
                    wake = min(next_poll, deadline, time.monotonic() + interval)
                    self.events.wait_change(wake - time.monotonic())
                else:
                    time.sleep(max(0.0, next_poll - time.monotonic()))
        finally:
            if bar is not None:
                bar.close()

    def _show_progress(self, bar: Any, interval: float) -> Any:
        images = self.core.images_frame()
        finished = int(images["status"].isin(list(FINISHED_STATUSES)).sum())
        if bar is None:
            bar = progress_bar(len(images), "Processing", "photo")
        bar.total = len(images)
        bar.n = finished
        if self.events.active:
            bar.set_postfix_str(self.events.describe(interval), refresh=False)
        bar.refresh()
        return bar

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
        """See ``OrderTracker.download``."""
        check_download_query(query)
        target = Path(folder).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        order = self.core.client.get_order(order_id)
        self.core.record(order)
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
        FanOut(
            ready,
            lambda pair: self.core.client.download_image(
                pair[0], target / pair[1], kind, full_size=full_size, **query
            ),
            workers=workers,
            result=result,
            describe=lambda pair: {"image": pair[1]},
            thread_name="autoenhance-download",
        ).run()
        if full_size and result.done:
            self.core.record(self.core.client.get_order(order_id))  # what was bought: `downloaded`
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
        """See ``OrderTracker.download_image``."""
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        saved = self.core.client.download_image(image_id, path, kind, full_size=full_size, **query)
        if full_size:
            self.core.record_image(self.core.client.get_image(image_id))
        return saved

    def reprocess(self, image_id: str, preset: str | None = None, **options: Any) -> dict[str, Any]:
        """See ``OrderTracker.reprocess``."""
        validate_image_id(image_id)
        image = self.core.client.reprocess_image(image_id, **merge_options(options, preset=preset))
        self.core.record_image(image)
        return image

    def report(
        self,
        image_id: str,
        categories: str | list[str],
        comment: str | None = None,
        score: int | None = None,
    ) -> dict[str, Any]:
        """See ``OrderTracker.report``."""
        return self.core.client.report_image(image_id, categories, comment=comment, score=score)


def _photo(source: Any) -> ImageSource:
    if isinstance(source, tuple):
        name, data = source
        return ImageSource(data, name)
    return ImageSource(source)


def _is_old(value: Any) -> bool:
    return isinstance(value, Already)


def _answer(value: Any) -> dict[str, Any]:
    return value.image if isinstance(value, Already) else value


def _describe(source: Any) -> str:
    if isinstance(source, tuple):
        return str(source[0])
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return str(source)
