"""The session's order table: records every order the API returns, refreshes it,
and exports it to CSV. Owns session state; HTTP stays in the client, display in the
front ends (apart from the table's own ``_repr_html_``).
"""

from __future__ import annotations

import csv
import html
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from . import errors as E
from ._files import atomic_write
from .client import AutoenhanceClient, validate_order_id
from .errors import one_line

__all__ = ["OrderTracker", "BatchResult", "UploadResult", "DownloadResult", "Failure",
           "COLUMNS", "IMAGE_COLUMNS", "derive_status", "FORMULA_PREFIXES"]

COLUMNS = ["order_id", "name", "image_count", "status", "created_at", "last_updated_at",
           "source"]
DTYPES = {"order_id": "string", "name": "string", "image_count": "Int64", "status": "string",
          "created_at": "datetime64[ns, UTC]", "last_updated_at": "datetime64[ns, UTC]",
          "source": "string"}
STRING_COLUMNS = ["order_id", "name", "status", "source"]
IMAGE_COLUMNS = ["image_id", "order_id", "image_name", "status", "status_reason"]
#: Cells a spreadsheet would run as a formula (OWASP CSV injection). A leading
#: apostrophe is escaped too, so that unescaping is exact.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "'")
STATUS_COLOURS = {"waiting": "#6b7280", "processing": "#2563eb", "processed": "#16a34a",
                  "error": "#dc2626", "deleted": "#9ca3af"}
DONE_STATUSES = frozenset({"processed", "error", "deleted"})
HTML_ROWS = 50

log = logging.getLogger("autoenhance_nb")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

# A row inside the tracker: a list in COLUMNS order, timestamps as int nanoseconds.
_ID, _NAME, _COUNT, _STATUS, _CREATED, _UPDATED, _SOURCE = range(7)


class _Table:
    """Column-wise storage (one list per column, an index by order_id, and a running
    count per status), so that recording stays O(1), building the DataFrame needs no
    transposition, and the latest rows and the counts cost the same at any size.
    Not thread-safe on its own: the tracker's lock guards it."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.cols: list[list] = [[] for _ in COLUMNS]
        self.index: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.index)

    def get(self, order_id: str) -> list | None:
        i = self.index.get(order_id)
        return None if i is None else [col[i] for col in self.cols]

    def upsert(self, row: list) -> None:
        """Add a row, or update the order's row; where it came from first, and its
        creation time when the update lacks one, stay."""
        i = self.index.get(row[_ID])
        if i is None:
            self.index[row[_ID]] = len(self.cols[_ID])
            for col, value in zip(self.cols, row):
                col.append(value)
            self._count(row[_STATUS], 1)
            return
        self._count(self.cols[_STATUS][i], -1)
        self._count(row[_STATUS], 1)
        for c, value in enumerate(row):
            if c == _SOURCE or (c == _CREATED and value is None):
                continue
            self.cols[c][i] = value

    def set_status(self, order_id: str, status: str) -> None:
        i = self.index.get(order_id)
        if i is not None:
            self._count(self.cols[_STATUS][i], -1)
            self._count(status, 1)
            self.cols[_STATUS][i] = status

    def _count(self, status: str, delta: int) -> None:
        n = self.counts.get(status, 0) + delta
        if n:
            self.counts[status] = n
        else:
            self.counts.pop(status, None)

    def reorder_tail(self, order_ids: list[str]) -> None:
        """Put the last ``len(order_ids)`` rows in the given order, when they are
        exactly those orders."""
        n = len(order_ids)
        start = len(self) - n
        if n < 2 or set(self.cols[_ID][start:]) != set(order_ids):
            return
        positions = [self.index[oid] for oid in order_ids]
        for col in self.cols:
            col[start:] = [col[p] for p in positions]
        for offset, oid in enumerate(order_ids):
            self.index[oid] = start + offset

    def columns(self, last: int | None = None) -> list[list]:
        if last is None:
            return [list(col) for col in self.cols]
        return [col[-last:] if last > 0 else [] for col in self.cols]


def orders(n: int) -> str:
    """"1 order", "2 orders"."""
    return f"{n} order" if n == 1 else f"{n} orders"


def derive_status(order: dict) -> str:
    """The order's status; when the API sends null (it may, see API-NOTES section 4),
    derive it: any image processing (or merging) -> processing; some image in error and
    none processing -> error; images all processed -> processed; no images -> waiting.
    Without an image list: is_processing -> processing, total_images 0 -> waiting, else
    processed."""
    status = order.get("status")
    if isinstance(status, str) and status:
        return status
    images = order.get("images")
    if order.get("is_merging"):
        return "processing"
    if isinstance(images, list) and images:
        states = [(i or {}).get("status") for i in images if isinstance(i, dict)]
        if any(s == "processing" for s in states):
            return "processing"
        if any(s == "error" for s in states):
            return "error"
        if states and all(s == "processed" for s in states):
            return "processed"
        if all(s in (None, "waiting") for s in states):
            return "waiting"
        return "processing" if order.get("is_processing") else "processed"
    if order.get("is_processing"):
        return "processing"
    total = order.get("total_images")
    if not total:
        return "waiting"
    return "processed"


def _image_count(order: dict) -> int | None:
    total = order.get("total_images")
    if isinstance(total, (int, float)) and not isinstance(total, bool):
        return int(total)
    images = order.get("images")
    return len(images) if isinstance(images, list) else None


def _ns(value: Any) -> int | None:
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return ((dt - _EPOCH) // _US) * 1000


@dataclass
class Failure:
    """One item of a batch that did not become an order."""

    index: int
    item: dict
    error: Exception

    @property
    def message(self) -> str:
        return str(self.error)

    def __repr__(self) -> str:
        return f"Failure(#{self.index}: {self.message})"


@dataclass
class BatchResult:
    """What ``create_many`` did. ``created`` holds the orders in input order."""

    total: int
    created: list[dict] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return f"created {len(self.created)} of {self.total}, {len(self.failed)} failed"

    def retry_items(self) -> list[dict]:
        """The failed items, with the order_id each was sent with: pass them to
        ``create_many`` again and none that did get created is duplicated."""
        return [dict(f.item) for f in self.failed]

    def __repr__(self) -> str:
        return f"<BatchResult {self.summary()}>"


@dataclass
class UploadResult:
    """What ``add_images`` did: ``uploaded`` images (API dicts), ``failed`` photos."""

    total: int
    uploaded: list[dict] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return f"uploaded {len(self.uploaded)} of {self.total}, {len(self.failed)} failed"

    def __repr__(self) -> str:
        return f"<UploadResult {self.summary()}>"


@dataclass
class DownloadResult:
    """What ``download`` did: ``saved`` paths, ``skipped`` (name, reason), ``failed``."""

    saved: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    def summary(self) -> str:
        return (f"saved {len(self.saved)}, skipped {len(self.skipped)} not ready, "
                f"{len(self.failed)} failed")

    def __repr__(self) -> str:
        return f"<DownloadResult {self.summary()}>"


class OrderTracker:
    """One table of orders for a session.

        tracker = OrderTracker()                 # or autoenhance_nb.session()
        tracker.create("Kitchen – 12 Rue Oberkampf")
        tracker.create_many(["Hall", "Garden"])
        tracker.refresh()
        tracker.df                               # a new DataFrame each time
        tracker.to_csv("orders.csv")
    """

    def __init__(self, client: AutoenhanceClient | None = None):
        self.client = client if client is not None else AutoenhanceClient()
        self._table = _Table()
        self._images: dict[str, list] = {}  # image_id -> row in IMAGE_COLUMNS order
        self._lock = threading.RLock()
        self._generated: set[str] = set()
        self._callbacks: list[Callable[["OrderTracker"], None]] = []
        self.sandbox = None  # set by session() when it runs the built-in sandbox

    # -- environment --------------------------------------------------------------
    @property
    def environment(self) -> str:
        return self.client.environment

    @property
    def environment_label(self) -> str:
        """"SANDBOX 127.0.0.1:8765" or "LIVE api.autoenhance.ai"."""
        return f"{self.environment.upper()} {self.client.host}"

    def use_client(self, client: AutoenhanceClient) -> None:
        """Talk to another API (e.g. live instead of the sandbox). The table empties:
        its orders belong to the old one."""
        with self._lock:
            self.client = client
            self._table.clear()
            self._images.clear()
            self._generated.clear()
        self._changed()

    # -- change notification ------------------------------------------------------
    def on_change(self, callback: Callable[["OrderTracker"], None]) -> Callable[[], None]:
        """Call ``callback(tracker)`` after every change; returns a function that
        unsubscribes it."""
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)
        return remove

    def _changed(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb(self)
            except Exception:  # a broken display must not break the data path
                log.exception("on_change callback failed")

    # -- recording ------------------------------------------------------------------
    def record(self, order: dict, source: str = "python", *, notify: bool = True) -> None:
        """Add an API order dict to the table, or update its row."""
        self._record_many([order], source)
        if notify:
            self._changed()

    def _record_many(self, orders: Iterable[dict], source: str) -> int:
        n = 0
        with self._lock:
            for order in orders:
                oid = order.get("order_id")
                if not isinstance(oid, str):
                    continue
                name = order.get("name")
                row = [oid, name if isinstance(name, str) else "", _image_count(order),
                       derive_status(order), _ns(order.get("created_at")),
                       _ns(order.get("last_updated_at")), source]
                self._table.upsert(row)
                images = order.get("images")
                if images:
                    self._record_images(images, oid)
                n += 1
        return n

    def _record_images(self, images: list, order_id: str) -> None:
        for image in images:
            if isinstance(image, dict) and isinstance(image.get("image_id"), str):
                self._images[image["image_id"]] = [
                    image["image_id"], image.get("order_id") or order_id,
                    image.get("image_name"), image.get("status") or "waiting",
                    image.get("status_reason")]

    @property
    def images_df(self) -> pd.DataFrame:
        """The images of the tracked orders, as of the last create, upload or refresh."""
        with self._lock:
            rows = list(self._images.values())
        columns = list(zip(*rows)) if rows else [()] * len(IMAGE_COLUMNS)
        return pd.DataFrame({name: pd.array(list(values), dtype="string")
                             for name, values in zip(IMAGE_COLUMNS, columns)},
                            columns=IMAGE_COLUMNS)

    def _reorder(self, order_ids: list) -> None:
        """Rows were recorded as answers came in (so an interrupted batch loses nothing);
        put the new ones in input order."""
        with self._lock:
            self._table.reorder_tail(order_ids)  # no-op if rows from elsewhere interleaved

    def _mark(self, order_id: str, status: str) -> None:
        with self._lock:
            self._table.set_status(order_id, status)

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._table.index

    def row(self, order_id: str) -> dict | None:
        """The table's row for ``order_id`` as a dict (timestamps as ns), or None."""
        with self._lock:
            row = self._table.get(order_id)
            return dict(zip(COLUMNS, row)) if row is not None else None

    def order_ids(self) -> list[str]:
        with self._lock:
            return list(self._table.index)

    def status_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._table.counts.items()))

    # -- API operations -------------------------------------------------------------
    def create(self, name: str | None = None, order_id: str | None = None,
               source: str = "python", *, adopt_existing: bool = False) -> dict:
        """Create an order, record it, and return the API's dict. Raises the client's
        typed errors; nothing is recorded then."""
        if order_id is None:
            order_id = self._new_id()
        adopt = adopt_existing or order_id in self._generated
        order = self.client.create_order(name=name, order_id=order_id, adopt_existing=adopt)
        self.record(order, source)
        return order

    def _new_id(self) -> str:
        oid = uuid.uuid4().hex
        with self._lock:
            self._generated.add(oid)
        return oid

    def create_many(self, items: Iterable[str | dict | None], workers: int = 8,
                    progress: bool = True, source: str = "python",
                    adopt_existing: bool = False, description: str = "Creating orders"
                    ) -> BatchResult:
        """Create many orders concurrently over the pooled connection.

        ``items`` are names, or dicts with ``name`` and/or ``order_id``. Never stops on
        one failure; returns a ``BatchResult``. Each item gets its order_id before it
        is sent, so ``create_many(result.retry_items())`` cannot duplicate an order that
        a lost answer hid.
        """
        prepared: list[dict] = []
        early: list[Failure] = []
        first_use: dict[str, int] = {}
        for index, item in enumerate(items):
            try:
                entry = self._prepare_item(index, item)
                oid = entry["order_id"]
                if oid in first_use:
                    raise E.ValidationError(
                        f"Invalid order_id: {one_line(oid)!r} repeats the order_id of "
                        f"item {first_use[oid] + 1} (counting from 1) of this batch", fields={"order_id": ["repeated"]})
                first_use[oid] = index
                prepared.append(entry)
            except E.AutoenhanceError as exc:
                early.append(Failure(index, _as_dict(item), exc))
        total = len(prepared) + len(early)
        result = BatchResult(total=total, failed=list(early))
        created: dict[int, dict] = {}

        def one(entry: dict) -> dict:
            return self.client.create_order(
                name=entry.get("name"), order_id=entry["order_id"],
                adopt_existing=adopt_existing or entry["order_id"] in self._generated)

        bar = _progress_bar(total, description) if progress else None
        if bar is not None and early:
            bar.update(len(early))
        workers = max(1, int(workers))
        try:
            with ThreadPoolExecutor(max_workers=min(workers, max(1, len(prepared))),
                                    thread_name_prefix="autoenhance") as pool:
                futures = {pool.submit(one, entry): entry for entry in prepared}
                for future in as_completed(futures):
                    entry = futures[future]
                    index = entry.pop("_index")
                    try:
                        order = future.result()
                    except Exception as exc:  # every failure is reported, none stops the batch
                        result.failed.append(Failure(index, entry, _wrap(exc)))
                    else:
                        self._record_many([order], source)
                        created[index] = order
                    if bar is not None:
                        bar.update(1)
                        if result.failed:
                            bar.set_postfix(failed=len(result.failed), refresh=False)
        finally:
            if bar is not None:
                bar.close()
        result.created = [created[i] for i in sorted(created)]
        result.failed.sort(key=lambda f: f.index)
        self._reorder([o.get("order_id") for o in result.created])
        if created:
            self._changed()
        return result

    def _prepare_item(self, index: int, item: Any) -> dict:
        if item is None or isinstance(item, str):
            entry = {"name": item}
        elif isinstance(item, dict):
            unknown = set(item) - {"name", "order_id"}
            if unknown:
                raise E.ValidationError(
                    f"Invalid item: unknown keys {sorted(unknown)}; use name and order_id")
            entry = {k: item[k] for k in ("name", "order_id") if item.get(k) is not None}
            if "name" in entry and not isinstance(entry["name"], str):
                raise E.ValidationError("Invalid name: must be a string",
                                        fields={"name": ["must be a string"]})
        else:
            raise E.ValidationError(
                f"Invalid item: expected a name or a dict, not {type(item).__name__}")
        if entry.get("order_id") is None:
            entry["order_id"] = self._new_id()
        else:
            validate_order_id(entry["order_id"])
        entry["_index"] = index
        return entry

    def refresh(self, workers: int = 8, progress: bool = False) -> dict[str, int]:
        """Re-fetch every tracked order and update its row. An order gone from the
        server is marked ``deleted``, not dropped. Returns counts; raises (after
        updating what it could) when some orders could not be fetched."""
        ids = self.order_ids()
        counts = {"updated": 0, "deleted": 0, "failed": 0}
        errors: list[Exception] = []
        if not ids:
            return counts

        bar = _progress_bar(len(ids), "Refreshing") if progress else None
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(ids))),
                                    thread_name_prefix="autoenhance") as pool:
                futures = {pool.submit(self.client.get_order, oid): oid for oid in ids}
                for future in as_completed(futures):
                    oid = futures[future]
                    try:
                        order = future.result()
                    except E.NotFoundError:
                        self._mark(oid, "deleted")
                        counts["deleted"] += 1
                    except Exception as exc:
                        counts["failed"] += 1
                        errors.append(_wrap(exc))
                    else:
                        self._record_many([order], "python")
                        counts["updated"] += 1
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        self._changed()
        if errors:
            first = errors[0]
            raise type(first)(f"Refreshed {counts['updated']} of {orders(len(ids))}; "
                              f"{counts['failed']} failed, e.g. {first}",
                              getattr(first, "status_code", None))
        return counts

    def track(self, order_id: str, source: str = "track") -> dict:
        """Add an order that already exists (by id) to the table."""
        order = self.client.get_order(order_id)
        self.record(order, source)
        return order

    def sync(self, source: str = "sync") -> int:
        """Add (or update) every order of the account; returns how many were listed.
        Rebuilds the table after a kernel restart."""
        n = self._record_many(self.client.list_orders(per_page=15), source)
        self._changed()
        return n

    # -- photos -----------------------------------------------------------------------------
    def add_images(self, order_id: str, paths: Iterable[Any], workers: int = 4,
                   progress: bool = True,
                   on_progress: Callable[[int, int, str], None] | None = None,
                   **options: Any) -> "UploadResult":
        """Upload photos into an order concurrently (each registered, then streamed to its
        upload URL). ``paths`` holds file paths, bytes, or ``(name, bytes)`` pairs.
        ``options`` are enhancement settings passed to every image. Never stops on one
        bad file; returns what was uploaded and what failed, then refreshes the order's
        row (image count, status). ``on_progress(done, total, name)`` follows each file."""
        validate_order_id(order_id)
        sources = list(paths)
        result = UploadResult(total=len(sources))
        bar = _progress_bar(len(sources), "Uploading photos", unit="photo") if progress else None
        finished = 0

        def one(source):
            if isinstance(source, tuple):
                name, data = source
                return self.client.upload_image(order_id, data, image_name=name, **options)
            return self.client.upload_image(order_id, source, **options)

        try:
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources) or 1)),
                                    thread_name_prefix="autoenhance-upload") as pool:
                futures = {pool.submit(one, src): (i, src) for i, src in enumerate(sources)}
                done: dict[int, dict] = {}
                for future in as_completed(futures):
                    index, source = futures[future]
                    try:
                        image = future.result()
                    except Exception as exc:
                        result.failed.append(Failure(index, {"source": _describe(source)},
                                                     _wrap(exc)))
                    else:
                        done[index] = image
                        with self._lock:
                            self._record_images([image], order_id)
                    finished += 1
                    if on_progress is not None:
                        on_progress(finished, len(sources), _describe(source))
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        result.uploaded = [done[i] for i in sorted(done)]
        result.failed.sort(key=lambda f: f.index)
        if result.uploaded:
            self.record(self.client.get_order(order_id))  # new image count and status
        return result

    def watch(self, interval: float = 5.0, timeout: float = 1800.0,
              progress: bool = True) -> pd.DataFrame:
        """Refresh every ``interval`` seconds until no tracked order is processing (all
        processed, in error, deleted, or waiting for photos); returns the table. Raises
        when ``timeout`` seconds pass first."""
        import time

        deadline = time.monotonic() + timeout
        bar = None
        try:
            while True:
                self.refresh()
                images = self.images_df
                total = len(images)
                finished = int(images["status"].isin(["processed", "error", "expired"]).sum())
                if progress:
                    if bar is None:
                        bar = _progress_bar(total, "Processing", unit="photo")
                    bar.total = total
                    bar.n = finished
                    bar.refresh()
                processing = self.status_counts().get("processing", 0)
                if not processing:
                    return self.df
                if time.monotonic() + interval > deadline:
                    raise E.AutoenhanceError(
                        f"Still processing after {timeout:g} s: {processing} orders; call "
                        f"watch() again to keep waiting")
                time.sleep(interval)
        finally:
            if bar is not None:
                bar.close()

    def download(self, order_id: str, folder: str | os.PathLike, kind: str = "enhanced",
                 **query: Any) -> "DownloadResult":
        """Save every processed image of an order (for ``kind="original"``: every
        uploaded one) into ``folder``, named after the image. Returns what was saved and
        what was skipped or failed."""
        target = Path(folder).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        order = self.client.get_order(order_id)
        self.record(order)
        result = DownloadResult()
        used: set[str] = set()
        for image in order.get("images") or []:
            status = image.get("status")
            ready = status == "processed" or (kind == "original" and status not in
                                               (None, "waiting"))
            name = _safe_filename(image.get("image_name") or image.get("image_id", "image"),
                                  used)
            if not ready:
                result.skipped.append((name, f"status {status}"))
                continue
            try:
                path = self.client.download_image(image["image_id"], target / name, kind,
                                                  **query)
            except E.AutoenhanceError as exc:
                result.failed.append(Failure(len(result.failed), {"image": name}, exc))
            else:
                result.saved.append(path)
        return result

    # -- the table --------------------------------------------------------------------
    @property
    def df(self) -> pd.DataFrame:
        """A new DataFrame: one row per order, first-recorded first."""
        with self._lock:
            columns = self._table.columns()
        return _frame(columns)

    def latest(self, n: int = HTML_ROWS) -> pd.DataFrame:
        """The last ``n`` rows only; cheap however long the session is."""
        with self._lock:
            columns = self._table.columns(last=n)
        return _frame(columns)

    # -- CSV ----------------------------------------------------------------------------
    def to_csv(self, path: str | os.PathLike, escape_formulas: bool = True) -> Path:
        """Write the table to ``path`` atomically (a temporary file in the same folder,
        then a rename): UTF-8, ISO 8601 UTC timestamps, and cells that a spreadsheet
        would run as formulas prefixed with ``'`` unless ``escape_formulas=False``.
        Returns the absolute path. A failed write leaves any previous file intact."""
        target = Path(path).expanduser().resolve()
        if target.is_dir():
            raise IsADirectoryError(f"{target} is a folder; give a file name")
        frame = self.df
        if escape_formulas:
            for col in STRING_COLUMNS:
                s = frame[col]
                mask = s.str.startswith(FORMULA_PREFIXES).fillna(False)
                if mask.any():
                    frame[col] = s.where(~mask, "'" + s)
        with atomic_write(target, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ",
                         lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        return target

    def read_csv(self, path: str | os.PathLike, escape_formulas: bool = True,
                 source: str | None = None) -> pd.DataFrame:
        """Load a file written by ``to_csv`` into this tracker (undoing the formula
        escaping) so that tracking can resume; returns the table."""
        frame = read_orders_csv(path, escape_formulas=escape_formulas)
        with self._lock:
            for rec in frame.itertuples(index=False):
                self._table.upsert([
                    rec.order_id, rec.name,
                    None if pd.isna(rec.image_count) else int(rec.image_count), rec.status,
                    _ts_ns(rec.created_at), _ts_ns(rec.last_updated_at), source or rec.source])
        self._changed()
        return self.df

    # -- display ------------------------------------------------------------------------
    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts().items()) or "empty"
        return f"<OrderTracker {self.environment_label}: {orders(len(self))} ({counts})>"

    def _repr_html_(self) -> str:
        return render_html(self)


def read_orders_csv(path: str | os.PathLike, escape_formulas: bool = True) -> pd.DataFrame:
    """Read a CSV written by ``OrderTracker.to_csv`` back into an equal DataFrame."""
    frame = pd.read_csv(path, dtype={c: "string" for c in STRING_COLUMNS},
                        keep_default_na=False, na_values={"image_count": [""],
                                                          "created_at": [""],
                                                          "last_updated_at": [""]},
                        encoding="utf-8")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} is not an order table: missing columns {missing}")
    frame = frame[COLUMNS]
    if escape_formulas:
        for col in STRING_COLUMNS:
            s = frame[col]
            mask = s.str.startswith("'") & (s.str.len() > 1)
            if mask.any():
                frame[col] = s.where(~mask, s.str.slice(1))
    frame["image_count"] = frame["image_count"].astype("Int64")
    for col in ("created_at", "last_updated_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").astype(DTYPES[col])
    return frame.astype({c: DTYPES[c] for c in STRING_COLUMNS})


def _frame(columns: list[list]) -> pd.DataFrame:
    data = {}
    for name, values in zip(COLUMNS, columns):
        if name in ("created_at", "last_updated_at"):
            data[name] = pd.to_datetime(pd.array(values, dtype="Int64"), utc=True,
                                        unit="ns").astype(DTYPES[name])
        else:
            data[name] = pd.array(values, dtype=DTYPES[name])
    return pd.DataFrame(data, columns=COLUMNS)


def _ts_ns(value: Any) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(pd.Timestamp(value).value)


def _as_dict(item: Any) -> dict:
    if isinstance(item, dict):
        return dict(item)
    return {"name": item}


def _wrap(exc: Exception) -> Exception:
    """Keep typed errors; anything unexpected becomes a one-line AutoenhanceError."""
    if isinstance(exc, E.AutoenhanceError):
        return exc
    return E.AutoenhanceError(f"Unexpected error: {type(exc).__name__}: {one_line(exc)}")


def _progress_bar(total: int, description: str, unit: str = "order"):
    from tqdm.auto import tqdm  # lazily: tqdm pulls in ipywidgets' front-end glue

    return tqdm(total=total, desc=description, unit=unit, leave=True)


def _describe(source: Any) -> str:
    if isinstance(source, tuple):
        return str(source[0])
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return str(source)


def _safe_filename(name: str, used: set[str]) -> str:
    """A file name from an image name: no folders, no control or path characters, and
    unique within one download."""
    base = Path(str(name).replace("\\", "/")).name
    base = "".join("_" if (ord(c) < 32 or c in '/\\:*?"<>|') else c for c in base).strip()
    if base in ("", ".", ".."):
        base = "image"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    candidate, n = base, 2
    while candidate.lower() in used:
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        n += 1
    used.add(candidate.lower())
    return candidate


def render_html(tracker: OrderTracker, max_rows: int = HTML_ROWS,
                latest: pd.DataFrame | None = None) -> str:
    """The table as HTML: environment, counts per status, the latest rows (pass
    ``latest`` when you already have ``tracker.latest(max_rows)``)."""
    counts = tracker.status_counts()
    total = len(tracker)
    env = tracker.environment
    env_colour = "#b45309" if env == "sandbox" else "#15803d"
    parts = [
        '<div class="autoenhance-table">' + _TABLE_CSS,
        f'<div><span style="background:{env_colour};color:#fff;padding:1px 6px;'
        f'border-radius:3px;font-weight:bold">{html.escape(env.upper())}</span> '
        f'{html.escape(tracker.client.host)} &middot; <b>{total}</b> '
        f'{"order" if total == 1 else "orders"}',
    ]
    for status, n in counts.items():
        parts.append(f' &middot; {_badge(status)} {n}')
    parts.append("</div>")
    if total:
        frame = latest if latest is not None else tracker.latest(max_rows)
        parts.append('<table class="autoenhance-orders"><thead><tr>')
        parts.extend(f"<th>{c}</th>" for c in COLUMNS)
        parts.append("</tr></thead><tbody>")
        for rec in frame.itertuples(index=False):
            cells = []
            for col, value in zip(COLUMNS, rec):
                if col == "status":
                    cells.append(f"<td>{_badge(value)}</td>")
                elif value is None or value is pd.NA or (not isinstance(value, str)
                                                         and pd.isna(value)):
                    cells.append("<td></td>")
                elif isinstance(value, pd.Timestamp):
                    cells.append(f"<td>{value.strftime('%Y-%m-%d %H:%M:%S')}</td>")
                else:
                    cells.append(f"<td>{html.escape(one_line(value, 120))}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
        if total > max_rows:
            parts.append(f"<div><i>Showing the latest {max_rows} of {total} orders; "
                         f"<code>.df</code> has them all.</i></div>")
    parts.append("</div>")
    return "".join(parts)


_TABLE_CSS = (
    "<style>.autoenhance-orders{border-collapse:collapse;margin-top:4px;font-size:12px}"
    ".autoenhance-orders th,.autoenhance-orders td{border-bottom:1px solid #e5e7eb;"
    "padding:2px 8px;text-align:left;white-space:nowrap;max-width:320px;overflow:hidden;"
    "text-overflow:ellipsis}.autoenhance-orders th{background:#f3f4f6}</style>")


def _badge(status: Any) -> str:
    text = str(status)
    colour = STATUS_COLOURS.get(text, "#7c3aed")
    return (f'<span class="autoenhance-status" style="background:{colour};color:#fff;'
            f'padding:1px 6px;border-radius:8px">{html.escape(one_line(text, 40))}</span>')
