"""Running many API calls at once: one fan-out helper (pool, bounded submission,
progress, failures in input order, the stop button, an unreachable API) and one
result type, used by every batch operation of the tracker.

The stop button (KeyboardInterrupt) during a batch: no new request starts, requests
in flight finish (each bounded by the client's timeout) and their answers are recorded
by the worker that got them, then ``KeyboardInterrupt`` is raised with a one-line
summary. Nothing the server made is lost from the table.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from . import errors as E
from ._http import Cancelled, cancel_scope
from .errors import one_line

__all__ = ["BatchResult", "Failure", "fan_out", "UNREACHABLE_AFTER"]

#: A batch whose first this-many requests all fail to get any answer stops there.
UNREACHABLE_AFTER = 3


@dataclass
class Failure:
    """One item of a batch that did not succeed."""

    index: int
    item: dict[str, Any]
    error: Exception

    @property
    def message(self) -> str:
        return str(self.error)

    def __repr__(self) -> str:
        return f"Failure(#{self.index}: {self.message})"


@dataclass
class BatchResult:
    """What a batch did: ``done`` holds the results in input order (also under the
    names ``created``, ``uploaded`` and ``saved``), ``failed`` the failures in input
    order, ``skipped`` (name, reason) pairs of items not attempted, and ``stopped`` why
    the batch ended early, if it did."""

    total: int
    done: list[Any] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    verb: str = "created"
    stopped: str | None = None

    created = property(lambda self: self.done)
    uploaded = property(lambda self: self.done)
    saved = property(lambda self: self.done)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        text = f"{self.verb} {len(self.done)} of {self.total}"
        if self.skipped:
            text += f", {len(self.skipped)} not ready"
        text += f", {len(self.failed)} failed"
        if self.stopped:
            text += f" ({self.stopped})"
        return text

    def retry_items(self) -> list[dict[str, Any]]:
        """The failed items, with the order_id each was sent with: pass them to
        ``create_many`` again and none that did get created is duplicated."""
        return [dict(f.item) for f in self.failed]

    def __repr__(self) -> str:
        return f"<BatchResult {self.summary()}>"


def wrap_error(exc: Exception) -> Exception:
    """Keep typed errors; anything unexpected becomes a one-line AutoenhanceError."""
    if isinstance(exc, E.AutoenhanceError):
        return exc
    return E.AutoenhanceError(f"Unexpected error: {type(exc).__name__}: {one_line(exc)}")


def fan_out(
    items: Sequence[Any],
    call: Callable[[Any], Any],
    *,
    workers: int,
    result: BatchResult,
    describe: Callable[[Any], dict[str, Any]],
    record: Callable[[int, Any], None] | None = None,
    progress: Any = None,
    on_progress: Callable[[int, int, Any], None] | None = None,
    thread_name: str = "autoenhance",
) -> BatchResult:
    """Run ``call(item)`` for every item on ``workers`` threads, never more than a
    small window ahead, and fill ``result``: successes in ``done`` (input order),
    failures in ``failed``. ``record(index, value)`` runs in the worker as soon as a
    call succeeds (so an interrupted batch still records every answer it got).
    ``progress`` is a tqdm-like bar, ``on_progress(done, total, item)`` a callback."""
    total = len(items)
    if not total:
        return result
    cancel = threading.Event()
    values: dict[int, Any] = {}
    failures: dict[int, Failure] = {}
    lock = threading.Lock()
    finished = [0]
    outcomes: list[bool] = []  # per completion: did it get any answer at all?

    def task(index: int) -> None:
        item = items[index]
        try:
            value = call(item)
        except Exception as exc:
            with lock:
                failures[index] = Failure(index, describe(item), wrap_error(exc))
                outcomes.append(not _no_answer(exc))
        else:
            if record is not None:
                record(index, value)
            with lock:
                values[index] = value
                outcomes.append(True)

    workers = max(1, min(int(workers), total))
    window = workers * 4
    pending: set[Future[None]] = set()
    next_index = 0
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name)
    try:
        with cancel_scope(cancel):
            while next_index < total or pending:
                while next_index < total and len(pending) < window and not cancel.is_set():
                    ctx = contextvars.copy_context()
                    pending.add(pool.submit(ctx.run, task, next_index))
                    next_index += 1
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for _ in done:
                    finished[0] += 1
                    if progress is not None:
                        progress.update(1)
                    if on_progress is not None:
                        on_progress(finished[0], total, None)
                if progress is not None and failures:
                    progress.set_postfix(failed=len(failures), refresh=False)
                if not cancel.is_set() and _unreachable(outcomes):
                    result.stopped = (
                        f"the API is unreachable: {UNREACHABLE_AFTER} of "
                        f"{UNREACHABLE_AFTER} first requests got no answer; "
                        f"nothing else sent"
                    )
                    cancel.set()
    except KeyboardInterrupt:
        interrupted = True
        cancel.set()
        for future in pending:
            future.cancel()
        # Requests in flight finish within the client's timeout; their workers record
        # what the server answered. A second stop abandons the wait.
        wait(pending)
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
    not_started = [i for i in range(total) if i not in values and i not in failures]
    for index in not_started:
        reason = result.stopped or "stopped before it was sent"
        failures[index] = Failure(index, describe(items[index]), Cancelled(f"Not sent: {reason}"))
    result.done = [values[i] for i in sorted(values)]
    result.failed = [failures[i] for i in sorted(failures)]
    if interrupted:
        raise KeyboardInterrupt(
            f"Stopped: {result.verb} {len(result.done)} of {total}, "
            f"{len(result.failed) - len(not_started)} failed, {len(not_started)} not "
            f"started; every answer received is in the table (run it again: nothing is "
            f"duplicated)"
        )
    return result


def _no_answer(exc: BaseException) -> bool:
    return isinstance(exc, E.TransportError) and not isinstance(exc, Cancelled)


def _unreachable(outcomes: list[bool]) -> bool:
    # no lock: the main thread never takes the workers' lock, so that the stop button
    # landing here can never leave it held (a slice of a list is atomic under the GIL)
    first = outcomes[:UNREACHABLE_AFTER]
    return len(first) == UNREACHABLE_AFTER and not any(first)
