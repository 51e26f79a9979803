"""The tracker's order operations: create one or many orders, refresh, track and sync.
A mixin of ``OrderTracker`` (kept apart so each module holds one job); the state it
reads and writes is the tracker's."""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import errors as E
from ..errors import one_line
from ..rules import validate_order_id
from . import table as T
from ._batch import BatchResult, Failure, choose_workers, fan_out
from .table import orders

if TYPE_CHECKING:
    from ..api import AutoenhanceClient
    from ._tracker import TableState

__all__ = ["OrderOperations"]

#: A refresh records its answers in chunks (column by column) of at most this many, or
#: every REFRESH_FLUSH_SECONDS, whichever comes first.
REFRESH_CHUNK = 2048
REFRESH_FLUSH_SECONDS = 0.25


class OrderOperations:
    """Orders: ``create``, ``create_many``, ``refresh``, ``track``, ``sync``."""

    client: AutoenhanceClient
    _lock: threading.RLock
    _state: TableState

    if TYPE_CHECKING:

        def record(
            self, order: dict[str, Any], source: str = "python", *, notify: bool = True
        ) -> None: ...
        def _record_many(self, answers: Iterable[dict[str, Any]], source: str) -> int: ...
        def _changed(self) -> None: ...
        def order_ids(self) -> list[str]: ...
        def _record_images(self, images: list[Any], order_id: str) -> None: ...

    # -- API operations -----------------------------------------------------------------------
    def create(
        self,
        name: str | None = None,
        order_id: str | None = None,
        source: str = "python",
        *,
        adopt_existing: bool = False,
        resume: bool = False,
    ) -> dict[str, Any]:
        """Create an order, record it, and return the API's dict. Raises the client's
        typed errors; nothing is recorded then.

        ``resume=True`` (the magic and the form): when the last create with this name
        failed without a clear answer (timeout, 5xx, ...), it may have made the order;
        this create resends that order_id, so it finds the order instead of making a
        second one."""
        lost = self._state.lost
        if order_id is None and resume and name in lost:
            order_id = lost[name]
        elif order_id is None:
            order_id = self._new_id()
        adopt = adopt_existing or order_id in self._state.generated
        if resume and order_id in self._state.generated:
            # remembered before sending: a stop landing anywhere until the order is in
            # the table leaves the id to resend, never a second order
            lost[name] = order_id
        try:
            order = self.client.create_order(name=name, order_id=order_id, adopt_existing=adopt)
        except (E.TransportError, E.ServerError, E.RateLimitError, KeyboardInterrupt):
            raise
        except BaseException:
            lost.pop(name, None)  # a clear refusal: nothing was made
            raise
        self.record(order, source)
        lost.pop(name, None)
        return order

    def _new_id(self) -> str:
        oid = uuid.uuid4().hex
        with self._lock:
            self._state.generated.add(oid)
        return oid

    def create_many(
        self,
        items: Iterable[str | dict[str, Any] | None] | pd.DataFrame,
        workers: int | None = None,
        progress: bool = True,
        source: str = "python",
        adopt_existing: bool = False,
        description: str = "Creating orders",
    ) -> BatchResult:
        """Create many orders concurrently over the pooled connection.

        ``items`` are names, dicts with ``name`` and/or ``order_id``, or a DataFrame
        with those columns. Never stops on one failure; returns a ``BatchResult``. Each
        item gets its order_id before it is sent, so
        ``create_many(result.retry_items())`` cannot duplicate an order that a lost
        answer hid. The stop button stops the batch at once, keeping every order made.
        ``workers=None`` sizes the batch from the client's rate limit and the latency
        seen so far (``batch.choose_workers``: 8 to 64 threads).
        """
        prepared: list[dict[str, Any]] = []
        early: list[Failure] = []
        first_use: dict[str, int] = {}
        for index, item in enumerate(_batch_items(items)):
            try:
                entry = self._prepare_item(item)
                oid = entry["order_id"]
                if oid in first_use:
                    raise E.ValidationError(
                        f"Invalid order_id: {one_line(oid)!r} repeats the order_id of "
                        f"item {first_use[oid] + 1} (counting from 1) of this batch",
                        fields={"order_id": ["repeated"]},
                    )
                first_use[oid] = index
                prepared.append({**entry, "_index": index})
            except E.AutoenhanceError as exc:
                early.append(Failure(index, _as_dict(item), exc))
        result = BatchResult(total=len(prepared) + len(early))
        generated = self._state.generated

        def one(entry: dict[str, Any]) -> dict[str, Any]:
            return self.client.create_order(
                name=entry.get("name"),
                order_id=entry["order_id"],
                adopt_existing=adopt_existing or entry["order_id"] in generated,
            )

        def record(_: int, order: dict[str, Any]) -> None:
            self._record_many([order], source)  # in the worker: nothing answered is lost

        bar = _progress_bar(result.total, description) if progress else None
        if bar is not None and early:
            bar.update(len(early))
        try:
            fan_out(
                prepared,
                one,
                workers=self._batch_workers(workers, len(prepared)),
                result=result,
                record=record,
                describe=_entry_item,
                progress=bar,
                pace=self._pace,
            )
        finally:
            if bar is not None:
                bar.close()
            self._changed()
        # fan_out numbers failures by position in `prepared`: give them the input's
        for failure in result.failed:
            entry = prepared[failure.index]
            failure.index = entry["_index"]
        result.failed = sorted(result.failed + early, key=lambda f: f.index)
        with T.interrupts_deferred(), self._lock:
            # rows were recorded as answers came in; put the new ones in input order
            self._state.store.reorder_tail([o.get("order_id") for o in result.done])
        return result

    def _prepare_item(self, item: Any) -> dict[str, Any]:
        if item is None or isinstance(item, str):
            entry: dict[str, Any] = {"name": item}
        elif isinstance(item, dict):
            unknown = set(item) - {"name", "order_id"}
            if unknown:
                raise E.ValidationError(
                    f"Invalid item: unknown keys {sorted(map(str, unknown))}; use name and order_id"
                )
            entry = {
                k: item[k]
                for k in ("name", "order_id")
                if item.get(k) is not None and not _missing(item[k])
            }
            if "name" in entry and not isinstance(entry["name"], str):
                raise E.ValidationError(
                    "Invalid name: must be a string", fields={"name": ["must be a string"]}
                )
        else:
            raise E.ValidationError(
                f"Invalid item: expected a name or a dict, not {type(item).__name__}"
            )
        if entry.get("order_id") is None:
            entry["order_id"] = self._new_id()
        else:
            validate_order_id(entry["order_id"])
        return entry

    def _batch_workers(self, workers: int | None, total: int) -> int:
        """The batch's thread count (chosen when None), with a connection pool at least
        that large so that no thread waits for a connection."""
        http = self.client._http
        if workers is None:
            limiter = http.limiter
            workers = choose_workers(
                limiter.max_rate if limiter is not None else None, http.latency(), total
            )
        if self.client.pool_maxsize < workers:
            self.client.pool_maxsize = workers
        return workers

    def _pace(self) -> tuple[int, int]:
        http = self.client._http
        return http.answered, http.limited

    def _record_answers(self, answers: list[dict[str, Any]], source: str) -> None:
        """Record many answers column by column (``_record_many`` goes row by row)."""
        columns, images = T.columns_of_answers(answers, source)
        with T.interrupts_deferred(), self._lock:
            self._state.store.upsert_many(columns)
            for oid, pictures in images:
                self._record_images(pictures, oid)

    def refresh(self, workers: int | None = None, progress: bool = False) -> dict[str, int]:
        """Re-fetch every tracked order and update its row. An order gone from the
        server is marked ``deleted``, not dropped. Returns counts; raises (after
        updating what it could) when some orders could not be fetched. Answers are
        recorded in chunks as they come (every quarter second or 2,048 answers), column
        by column. ``workers=None``: chosen as for ``create_many``."""
        ids = self.order_ids()
        counts = {"updated": 0, "deleted": 0, "failed": 0}
        if not ids:
            return counts
        result = BatchResult(total=len(ids), verb="refreshed")
        gone: list[str] = []
        answers: deque[dict[str, Any]] = deque()
        flushing = threading.Lock()
        flushed = [time.monotonic()]

        def flush() -> None:
            while answers:
                chunk: list[dict[str, Any]] = []
                try:
                    while len(chunk) < REFRESH_CHUNK:
                        chunk.append(answers.popleft())
                except IndexError:
                    pass
                if chunk:
                    self._record_answers(chunk, "python")

        def one(oid: str) -> bool | None:
            try:
                answers.append(self.client.get_order(oid))
            except E.NotFoundError:
                gone.append(oid)
                return None
            # the worker that fills a chunk records it (the others carry on meanwhile,
            # unless answers come faster than they are recorded: then they wait, so
            # that at most a few chunks of answers are ever held)
            backlog = len(answers)
            if (
                backlog >= REFRESH_CHUNK or time.monotonic() - flushed[0] > REFRESH_FLUSH_SECONDS
            ) and flushing.acquire(blocking=backlog > 4 * REFRESH_CHUNK):
                try:
                    flushed[0] = time.monotonic()
                    flush()
                finally:
                    flushing.release()
            return True  # the answer itself is in the table, not kept in the result

        bar = _progress_bar(len(ids), "Refreshing") if progress else None
        try:
            fan_out(
                ids,
                one,
                workers=self._batch_workers(workers, len(ids)),
                result=result,
                describe=lambda oid: {"order_id": oid},
                progress=bar,
                pace=self._pace,
            )
        finally:
            if bar is not None:
                bar.close()
            with T.interrupts_deferred():
                flush()  # the workers are done: what is left is recorded here
            with T.interrupts_deferred(), self._lock:
                for oid in gone:
                    self._state.store.set_status(oid, "deleted")
            self._changed()
        counts["deleted"] = len(gone)
        counts["updated"] = len(result.done) - len(gone)
        counts["failed"] = len(result.failed)
        if result.failed:
            first = result.failed[0].error
            message = (
                f"Refreshed {counts['updated']} of {orders(len(ids))}; "
                f"{counts['failed']} failed, e.g. {first}"
            )
            if isinstance(first, E.AutoenhanceError):
                raise first.with_message(message)
            raise E.AutoenhanceError(message)
        return counts

    def track(self, order_id: str, source: str = "track") -> dict[str, Any]:
        """Add an order that already exists (by id) to the table."""
        order = self.client.get_order(order_id)
        self.record(order, source)
        return order

    def sync(self, source: str = "sync", *, limit: int | None = None) -> int:
        """Add (or update) the account's orders, newest first (at most ``limit``);
        returns how many were listed. Rebuilds the table after a kernel restart. The
        table stays readable while pages load: each page is recorded as it comes."""
        n = 0
        page: list[dict[str, Any]] = []
        try:
            for order in self.client.list_orders(per_page=15, limit=limit):
                page.append(order)
                if len(page) >= 15:
                    n += self._record_many(page, source)
                    page = []
        finally:
            n += self._record_many(page, source)
            self._changed()
        return n


def _batch_items(items: Any) -> list[Any]:
    """The items of a batch; a lone string or bytes is refused (it would be one order
    per character), a DataFrame gives its rows."""
    if isinstance(items, (str, bytes)):
        raise E.ValidationError(
            "create_many takes a list of names, not one string: use create(name) for "
            "one order, or create_many([name])",
            fields={"items": ["a string"]},
        )
    if isinstance(items, pd.DataFrame):
        usable = [c for c in ("name", "order_id") if c in items.columns]
        if not usable:
            raise E.ValidationError(
                "create_many: the DataFrame needs a name and/or an order_id column",
                fields={"items": ["no such columns"]},
            )
        return [{c: rec[c] for c in usable} for rec in items[usable].to_dict("records")]
    if isinstance(items, dict):
        raise E.ValidationError(
            "create_many takes a list of dicts, not one dict", fields={"items": ["a dict"]}
        )
    return list(items)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_dict(item: Any) -> dict[str, Any]:
    return dict(item) if isinstance(item, dict) else {"name": item}


def _entry_item(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "_index"}


def _progress_bar(total: int, description: str, unit: str = "order") -> Any:
    from tqdm.auto import tqdm  # lazily: tqdm pulls in ipywidgets' front-end glue

    return tqdm(total=total, desc=description, unit=unit, leave=True)
