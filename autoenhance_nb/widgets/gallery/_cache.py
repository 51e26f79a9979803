"""The gallery's thumbnails: fetched small through the API's download options, a few at a
time, and kept in an in-memory LRU cache bounded by bytes (however many pages are
visited). No widgets here."""

from __future__ import annotations

import base64
import os
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["ThumbCache", "Thumbnailer", "data_url", "THUMB_QUERY", "image_mime"]

#: What a thumbnail asks the API for: small, JPEG (both renditions, so they compare).
THUMB_QUERY: dict[str, Any] = {"max_width": 320, "format": "jpeg", "quality": 70}
#: The default cache bound: a few pages of thumbnails.
CACHE_BYTES = 24 * 1024 * 1024

Key = tuple[str, str, int]  # (image_id, kind, revision)


def image_mime(data: bytes) -> str:
    """The MIME type of image bytes, by their first bytes."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"GIF8"):
        return "image/gif"
    return "image/jpeg"


def data_url(data: bytes) -> str:
    return f"data:{image_mime(data)};base64," + base64.b64encode(data).decode("ascii")


class ThumbCache:
    """Bytes by key, least recently used dropped first once ``max_bytes`` is passed."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[Key, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.size = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Key) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: Key, data: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            if len(data) > self.max_bytes:
                return
            self._items[key] = data
            self.size += len(data)
            while self.size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)

    def drop(self, image_id: str, kind: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == image_id and kind in (None, k[1])]:
                self.size -= len(self._items.pop(key))


class Thumbnailer:
    """Fetches thumbnails on a small pool, through the cache; each key is fetched once
    even when asked for twice while in flight. Counts what it fetched."""

    def __init__(
        self,
        client: Any,
        cache: ThumbCache | None = None,
        workers: int = 4,
        query: dict[str, Any] | None = None,
    ):
        self.client = client
        self.cache = cache if cache is not None else ThumbCache()
        self.query = dict(THUMB_QUERY if query is None else query)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="autoenhance-thumbs")
        self._inflight: dict[Key, Future[bytes]] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._waiting = 0  # callbacks not run yet
        self._folder = Path(tempfile.mkdtemp(prefix="autoenhance-thumbs-"))
        self.fetches = 0
        self.bytes_fetched = 0

    def get(self, key: Key, done: Callable[[bytes | None, BaseException | None], None]) -> None:
        """Call ``done(bytes, None)`` or ``done(None, error)``: at once from the cache,
        otherwise from a pool thread once fetched."""
        cached = self.cache.get(key)
        if cached is not None:
            done(cached, None)
            return
        with self._lock:
            future = self._inflight.get(key)
            if future is None:
                try:
                    future = self._pool.submit(self._fetch, key)
                except RuntimeError as exc:  # the pool is shut down: the gallery closed
                    done(None, exc)
                    return
                self._inflight[key] = future

        def finished(f: Future[bytes]) -> None:
            try:
                error = None if f.cancelled() else f.exception()
                if f.cancelled():
                    error = RuntimeError("the gallery was closed")
                done(None if error is not None else f.result(), error)
            finally:
                with self._idle:
                    self._waiting -= 1
                    self._idle.notify_all()

        with self._idle:
            self._waiting += 1
        future.add_done_callback(finished)

    def prefetch(self, key: Key) -> None:
        if key not in self.cache:
            self.get(key, lambda *_: None)

    def _fetch(self, key: Key) -> bytes:
        image_id, kind, _ = key
        path = self._folder / uuid.uuid4().hex
        try:
            self.client.download_image(image_id, path, kind, **self.query)
            data = path.read_bytes()
            with self._lock:
                self.fetches += 1
                self.bytes_fetched += len(data)
            self.cache.put(key, data)
            return data
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            try:
                os.unlink(path)
            except OSError:
                pass

    def idle(self, timeout: float = 30.0) -> None:
        """Block until no thumbnail is being fetched or shown. For tests and scripts."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._waiting == 0, timeout):
                raise TimeoutError("thumbnails are still being fetched")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            self._folder.rmdir()
        except OSError:
            pass
