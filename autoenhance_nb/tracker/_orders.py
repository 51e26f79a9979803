"""The tracker's order operations: create one or many orders, refresh, track and sync.
``Orders`` is given the tracker's core (state, lock, recording) and holds no state of
its own."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import pandas as pd

from .. import errors as E
from ..errors import one_line
from ..rules import validate_order_id
from . import table as T
from ._batch import BatchResult, Failure, FanOut, choose_workers, progress_bar
from ._core import TrackerCore
from ._recall import Recall
from .table import orders

__all__ = ["Orders"]

#: A refresh records its answers in chunks (column by column) of at most this many, or
#: every REFRESH_FLUSH_SECONDS, whichever comes first.
REFRESH_CHUNK = 2048
REFRESH_FLUSH_SECONDS = 0.25


class Orders:
    """Orders: ``create``, ``create_many``, ``refresh``, ``track``, ``sync``."""

    def __init__(self, core: TrackerCore):
        self.core = core

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
        """See ``OrderTracker.create``."""
        core = self.core
        lost = core.state.lost
        generated = core.state.generated
        if order_id is None and resume and name in lost:
            order_id = lost[name]
        elif order_id is None:
            order_id = core.new_id()
        recall = Recall(core)
        recall.before([(0, order_id, name)], None)
        adopt = adopt_existing or order_id in generated or order_id in recall.own
        if resume and order_id in generated:
            # remembered before sending: a stop landing anywhere until the order is in
            # the table leaves the id to resend, never a second order
            lost[name] = order_id
        try:
            order = core.client.create_order(name=name, order_id=order_id, adopt_existing=adopt)
        except (E.TransportError, E.ServerError, E.RateLimitError, KeyboardInterrupt):
            raise
        except BaseException:
            lost.pop(name, None)  # a clear refusal: nothing was made
            raise
        recall.after([order_id])
        core.record(order, source)
        lost.pop(name, None)
        return order

    def create_many(
        self,
        items: Iterable[str | dict[str, Any] | None] | pd.DataFrame,
        workers: int | None = None,
        progress: bool = True,
        source: str = "python",
        adopt_existing: bool = False,
        description: str = "Creating orders",
        *,
        resume: bool = True,
    ) -> BatchResult:
        """See ``OrderTracker.create_many``."""
        core = self.core
        recall = Recall(core)
        prepared, early = self._prepare_batch(items, recall if resume else None)
        result = BatchResult(total=len(prepared) + len(early))
        generated = core.state.generated
        recall.before(
            [(e["_index"], e["order_id"], e.get("name")) for e in prepared], _batch_of(prepared)
        )

        def one(entry: dict[str, Any]) -> dict[str, Any]:
            oid = entry["order_id"]
            adopt = adopt_existing or oid in generated
            return recall.create(core.client, entry.get("name"), oid, adopt)

        def record(_: int, order: dict[str, Any]) -> None:
            core.record_many([order], source)  # in the worker: nothing answered is lost

        bar = progress_bar(result.total, description) if progress else None
        if bar is not None and early:
            bar.update(len(early))
        try:
            FanOut(
                prepared,
                one,
                workers=self.batch_workers(workers, len(prepared)),
                result=result,
                record=record,
                describe=_entry_item,
                progress=bar,
                pace=self.pace,
            ).run()
        finally:
            if bar is not None:
                bar.close()
            core.changed()
        recall.after(str(o["order_id"]) for o in result.done if isinstance(o, dict))
        # the batch numbers failures by position in `prepared`: give them the input's
        for failure in result.failed:
            failure.index = prepared[failure.index]["_index"]
        result.failed = sorted(result.failed + early, key=lambda f: f.index)
        with T.interrupts_deferred(), core.lock:
            # rows were recorded as answers came in; put the new ones in input order
            core.state.store.reorder_tail([o.get("order_id") for o in result.done])
        return result

    def _prepare_batch(
        self, items: Any, recall: Recall | None
    ) -> tuple[list[dict[str, Any]], list[Failure]]:
        """The entries to send (each with its order_id, its input ``_index`` and the
        batch's key ``_batch``) and the items refused before sending. With ``recall``,
        an item without an order_id gets the one an earlier run of the same batch gave
        it (the journal remembers), so that a re-run adopts instead of duplicating."""
        prepared: list[dict[str, Any]] = []
        early: list[Failure] = []
        first_use: dict[str, int] = {}
        listed = _batch_items(items)
        batch = recall.batch_key([_as_dict(i) for i in listed]) if recall is not None else None
        earlier = recall.batch_ids(batch) if recall is not None else {}
        for index, item in enumerate(listed):
            try:
                entry = self._prepare_item(item, earlier.get(index))
                entry["_batch"] = batch
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
        return prepared, early

    def _prepare_item(self, item: Any, earlier: str | None = None) -> dict[str, Any]:
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
        if entry.get("order_id") is None and earlier is not None:
            entry["order_id"] = earlier
            with T.interrupts_deferred(), self.core.lock:
                self.core.state.generated.add(earlier)
        elif entry.get("order_id") is None:
            entry["order_id"] = self.core.new_id()
        else:
            validate_order_id(entry["order_id"])
        return entry

    def batch_workers(self, workers: int | None, total: int) -> int:
        """The batch's thread count (chosen when None), with a connection pool at least
        that large so that no thread waits for a connection."""
        client = self.core.client
        http = client._http
        if workers is None:
            limiter = http.limiter
            workers = choose_workers(
                limiter.max_rate if limiter is not None else None, http.latency(), total
            )
        if client.pool_maxsize < workers:
            client.pool_maxsize = workers
        return workers

    def pace(self) -> tuple[int, int]:
        http = self.core.client._http
        return http.answered, http.limited

    def refresh(self, workers: int | None = None, progress: bool = False) -> dict[str, int]:
        """See ``OrderTracker.refresh``."""
        core = self.core
        ids = core.order_ids()
        counts = {"updated": 0, "deleted": 0, "failed": 0}
        if not ids:
            return counts
        result = BatchResult(total=len(ids), verb="refreshed")
        gone: list[str] = []
        chunks = _Chunks(core)

        def one(oid: str) -> bool | None:
            try:
                chunks.add(core.client.get_order(oid))
            except E.NotFoundError:
                gone.append(oid)
                return None
            return True  # the answer itself is in the table, not kept in the result

        bar = progress_bar(len(ids), "Refreshing") if progress else None
        try:
            FanOut(
                ids,
                one,
                workers=self.batch_workers(workers, len(ids)),
                result=result,
                describe=lambda oid: {"order_id": oid},
                progress=bar,
                pace=self.pace,
            ).run()
        finally:
            if bar is not None:
                bar.close()
            with T.interrupts_deferred():
                chunks.flush()  # the workers are done: what is left is recorded here
            with T.interrupts_deferred(), core.lock:
                for oid in gone:
                    core.state.store.set_status(oid, "deleted")
            core.changed()
        counts["deleted"] = len(gone)
        counts["updated"] = len(result.done) - len(gone)
        counts["failed"] = len(result.failed)
        if result.failed:
            raise _refresh_error(result.failed[0].error, counts, len(ids))
        return counts

    def track(self, order_id: str, source: str = "track") -> dict[str, Any]:
        """See ``OrderTracker.track``."""
        order = self.core.client.get_order(order_id)
        self.core.record(order, source)
        return order

    def resume(self, limit: int = 500, workers: int | None = None) -> int:
        """See ``OrderTracker.resume``."""
        core = self.core
        journal = core.journal
        if journal is None:
            return 0
        account = core.client.account
        with T.interrupts_deferred(), core.lock:
            known = set(core.state.store.index)
        ids = [o for o in journal.orders_of(account, core.notebook(), limit) if o not in known]
        if not ids:
            return 0
        gone: list[str] = []
        result = BatchResult(total=len(ids), verb="resumed")

        def one(oid: str) -> dict[str, Any] | None:
            try:
                return core.client.get_order(oid)
            except E.NotFoundError:
                gone.append(oid)
                return None

        def record(_: int, order: dict[str, Any] | None) -> None:
            if order is not None:
                core.record_many([order], "resume")

        try:
            FanOut(
                ids,
                one,
                workers=self.batch_workers(workers, len(ids)),
                result=result,
                record=record,
                describe=lambda oid: {"order_id": oid},
            ).run()
        finally:
            journal.forget_orders(account, gone)  # gone from the server: nothing to resume
            core.changed()
        return len(result.done) - len(gone)

    def sync(self, source: str = "sync", *, limit: int | None = None) -> int:
        """See ``OrderTracker.sync``."""
        core = self.core
        n = 0
        page: list[dict[str, Any]] = []
        try:
            for order in core.client.list_orders(per_page=15, limit=limit):
                page.append(order)
                if len(page) >= 15:
                    n += core.record_many(page, source)
                    page = []
        finally:
            n += core.record_many(page, source)
            core.changed()
        return n


class _Chunks:
    """A refresh's answers, recorded in chunks as they come: the worker that fills a
    chunk (or finds the last one older than a quarter second) records it, column by
    column, while the others carry on; when answers come faster than they are recorded,
    the others wait, so that at most a few chunks of answers are ever held."""

    def __init__(self, core: TrackerCore):
        self.core = core
        self.answers: deque[dict[str, Any]] = deque()
        self.flushing = threading.Lock()
        self.flushed = time.monotonic()

    def add(self, answer: dict[str, Any]) -> None:
        self.answers.append(answer)
        backlog = len(self.answers)
        if (
            backlog >= REFRESH_CHUNK or time.monotonic() - self.flushed > REFRESH_FLUSH_SECONDS
        ) and self.flushing.acquire(blocking=backlog > 4 * REFRESH_CHUNK):
            try:
                self.flushed = time.monotonic()
                self.flush()
            finally:
                self.flushing.release()

    def flush(self) -> None:
        answers = self.answers
        while answers:
            chunk: list[dict[str, Any]] = []
            try:
                while len(chunk) < REFRESH_CHUNK:
                    chunk.append(answers.popleft())
            except IndexError:
                pass
            if chunk:
                self.core.record_answers(chunk, "python")


def _refresh_error(first: Exception, counts: dict[str, int], total: int) -> E.AutoenhanceError:
    message = (
        f"Refreshed {counts['updated']} of {orders(total)}; {counts['failed']} failed, e.g. {first}"
    )
    if isinstance(first, E.AutoenhanceError):
        return first.with_message(message)
    return E.AutoenhanceError(message)


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
    return {k: v for k, v in entry.items() if not k.startswith("_")}


def _batch_of(prepared: list[dict[str, Any]]) -> str | None:
    return prepared[0]["_batch"] if prepared else None
