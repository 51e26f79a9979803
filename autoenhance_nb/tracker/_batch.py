"""Running many API calls at once: one fan-out helper (pool, bounded submission,
progress, failures in input order, the stop button, an unreachable API) and one
result type, used by every batch operation of the tracker.

The stop button (KeyboardInterrupt) during a batch: no new request starts, requests
in flight finish (each bounded by the client's timeout) and their answers are recorded
by the worker that got them, then ``KeyboardInterrupt`` is raised with a one-line
summary. Nothing the server made is lost from the table.

Workers: a batch given ``workers=None`` sizes itself from the client's rate limit and
the latency it has observed (see ``choose_workers``): enough requests in flight to keep
the limit busy, never more than 64 threads.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import errors as E
from ..api import Cancelled, cancellable
from ..errors import one_line

__all__ = [
    "BatchResult",
    "Failure",
    "FanOut",
    "fan_out",
    "choose_workers",
    "progress_bar",
    "set_progress_bar_factory",
    "UNREACHABLE_AFTER",
]

#: A batch whose first this-many requests all fail to get any answer stops there.
UNREACHABLE_AFTER = 3
#: Bounds of ``choose_workers``: at least the old fixed default, at most 64 threads.
MIN_WORKERS = 8
MAX_WORKERS = 64
#: The latency assumed before the client has seen any answer.
ASSUMED_LATENCY = 0.1
#: The rate assumed for a client with no limiter (a sandbox): the live API's limit.
ASSUMED_RATE = 300.0
#: Head room over rate × latency: latency varies, and a worker is busy a little longer
#: than the request itself.
HEADROOM = 1.2


def choose_workers(rate: float | None, latency: float | None, total: int | None = None) -> int:
    """Threads for a batch: ``ceil(rate × latency × 1.2)`` (Little's law: the requests
    that must be in flight to send ``rate`` a second when each takes ``latency``
    seconds), kept within [8, 64] and at most ``total``. ``rate``: the client's limit
    (None or 0: 300/s, the live API's); ``latency``: the median observed so far (None:
    100 ms assumed). At the live API's 300/s that is 8 workers up to 22 ms, 36 at
    100 ms, and 64 from 178 ms."""
    rate = rate or ASSUMED_RATE
    latency = ASSUMED_LATENCY if latency is None else max(0.0, latency)
    n = max(MIN_WORKERS, min(MAX_WORKERS, math.ceil(rate * latency * HEADROOM)))
    return max(1, min(n, total)) if total else n


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
    order, ``skipped`` (name, reason) pairs of items not attempted, ``already`` (name,
    id) pairs of items an earlier run did (not sent again), and ``stopped`` why the
    batch ended early, if it did."""

    total: int
    done: list[Any] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    verb: str = "created"
    #: (name, id) of the items an earlier run already did (photos found uploaded)
    already: list[tuple[str, Any]] = field(default_factory=list)
    stopped: str | None = None

    created = property(lambda self: self.done)
    uploaded = property(lambda self: self.done)
    saved = property(lambda self: self.done)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        text = f"{self.verb} {len(self.done)} of {self.total}"
        if self.already:
            text += f", {len(self.already)} already {self.verb}"
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


def fan_out(items: Sequence[Any], call: Callable[[Any], Any], **options: Any) -> BatchResult:
    """Run ``call(item)`` for every item and fill ``options["result"]``: a ``FanOut``
    run once (see there for the options)."""
    return FanOut(items, call, **options).run()


@dataclass(eq=False, repr=False)
class FanOut:
    """One batch: run ``call(item)`` for every item on ``workers`` threads and fill
    ``result``: successes in ``done`` (input order), failures in ``failed``. Each thread
    takes the next item when it is free (nothing is queued ahead, and memory does not
    grow with the batch beyond one slot per item). ``record(index, value)`` runs in the
    worker as soon as a call succeeds (so an interrupted batch still records every
    answer it got). ``progress`` is a tqdm-like bar, ``on_progress(done, total, item)`` a
    callback; ``pace()`` returns (answers, 429s) counted so far by the client, shown on
    the bar as requests a second and 429s met. Run it once."""

    items: Sequence[Any]
    call: Callable[[Any], Any]
    workers: int
    result: BatchResult
    describe: Callable[[Any], dict[str, Any]]
    record: Callable[[int, Any], None] | None = None
    progress: Any = None
    on_progress: Callable[[int, int, Any], None] | None = None
    thread_name: str = "autoenhance"
    pace: Callable[[], tuple[int, int]] | None = None
    # the run's state, shared by the workers (``lock``) and the main thread
    cancel: threading.Event = field(init=False, default_factory=threading.Event)
    lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    values: list[Any] = field(init=False, default_factory=list)
    failures: dict[int, Failure] = field(init=False, default_factory=dict)
    #: the first completions: did each get any answer at all?
    outcomes: list[bool] = field(init=False, default_factory=list)
    completions: queue.SimpleQueue[Any] = field(init=False, default_factory=queue.SimpleQueue)

    def __post_init__(self) -> None:
        self.values = [_UNSET] * len(self.items)
        self._taken = iter(range(len(self.items)))

    def run(self) -> BatchResult:
        if not self.items:
            return self.result
        bar = _Pace(self.progress, self.pace)
        threads: list[threading.Thread] = []
        try:
            self._start(threads)
            self._follow(len(threads), bar)
        except BaseException as exc:
            # the stop button, or a progress callback that failed: stop the workers, wait
            self.cancel.set()
            # Requests in flight finish within the client's timeout; their workers
            # record what the server answered. A second stop abandons the wait.
            for thread in threads:
                thread.join()
            if not isinstance(exc, KeyboardInterrupt):
                raise
            interrupted = True
        else:
            interrupted = False
        not_started = self._collect()
        if interrupted:
            raise KeyboardInterrupt(
                f"Stopped: {self.result.verb} {len(self.result.done)} of {len(self.items)}, "
                f"{len(self.result.failed) - not_started} failed, {not_started} not "
                f"started; every answer received is in the table (run it again: nothing "
                f"is duplicated)"
            )
        return self.result

    def _start(self, threads: list[threading.Thread]) -> None:
        for n in range(max(1, min(int(self.workers), len(self.items)))):
            # each worker runs in its own copy of this context, cancelled by the batch's
            # stop; the caller's context is never touched (a stop pressed at any moment
            # cannot leave the session's later calls cancelled)
            ctx = cancellable(self.cancel)
            thread = threading.Thread(
                target=ctx.run, args=(self._worker,), name=f"{self.thread_name}_{n}", daemon=True
            )
            thread.start()
            threads.append(thread)

    def _worker(self) -> None:
        try:
            while not self.cancel.is_set():
                with self.lock:
                    index = next(self._taken, None)
                if index is None:
                    break
                try:
                    self._run_one(index)
                finally:
                    self.completions.put(index)
        finally:  # whatever happens, the main thread hears that this worker ended
            self.completions.put(_WORKER_DONE)

    def _run_one(self, index: int) -> None:
        item = self.items[index]
        try:
            value = self.call(item)
            if self.record is not None:  # a failure to record is this item's failure
                self.record(index, value)
        except Exception as exc:
            failure = Failure(index, self.describe(item), wrap_error(exc))
            with self.lock:
                self.failures[index] = failure
                if len(self.outcomes) < UNREACHABLE_AFTER:
                    self.outcomes.append(not _no_answer(exc))
        else:
            self.values[index] = value
            if len(self.outcomes) < UNREACHABLE_AFTER:
                with self.lock:
                    if len(self.outcomes) < UNREACHABLE_AFTER:
                        self.outcomes.append(True)

    def _follow(self, running: int, bar: _Pace) -> None:
        """The main thread: count completions until every worker has ended, update the
        progress, and stop the batch when the API is unreachable."""
        finished = 0
        total = len(self.items)
        while running:
            done = [self.completions.get()]
            while True:
                try:
                    done.append(self.completions.get_nowait())
                except queue.Empty:
                    break
            n_done = 0
            for index in done:
                if index is _WORKER_DONE:
                    running -= 1
                    continue
                n_done += 1
                finished += 1
                if self.on_progress is not None:
                    self.on_progress(finished, total, None)
            bar.update(n_done, len(self.failures))
            if not self.cancel.is_set() and _unreachable(self.outcomes):
                self.result.stopped = (
                    f"the API is unreachable: {UNREACHABLE_AFTER} of "
                    f"{UNREACHABLE_AFTER} first requests got no answer; "
                    f"nothing else sent"
                )
                self.cancel.set()

    def _collect(self) -> int:
        """Fill the result once every worker has finished (the main thread never takes
        the workers' lock: a stop landing inside it would leave it held); returns how
        many items were not started."""
        values = self.values
        done_values = [v for v in values if v is not _UNSET]  # a failure leaves it unset
        failed = dict(self.failures)
        not_started = len(self.items) - len(done_values) - len(failed)
        if not_started:
            reason = self.result.stopped or "stopped before it was sent"
            for index, item in enumerate(self.items):
                if values[index] is _UNSET and index not in failed:
                    failed[index] = Failure(
                        index, self.describe(item), Cancelled(f"Not sent: {reason}")
                    )
        self.result.done = done_values
        self.result.failed = [failed[i] for i in sorted(failed)]
        return not_started


_UNSET: Any = object()
_WORKER_DONE: Any = object()


class _Pace:
    """The progress bar's updates: the count at once, the postfix (requests a second,
    429s, failures) at most twice a second."""

    def __init__(self, progress: Any, pace: Callable[[], tuple[int, int]] | None):
        self.progress = progress
        self.pace = pace
        self.start = time.monotonic()
        self.shown = self.start
        self.base = pace() if pace is not None and progress is not None else (0, 0)

    def update(self, n: int, failed: int) -> None:
        if self.progress is None:
            return
        self.progress.update(n)
        now = time.monotonic()
        if now - self.shown < 0.5:
            return
        self.shown = now
        postfix: dict[str, Any] = {}
        if self.pace is not None:
            answered, limited = self.pace()
            postfix["req/s"] = round((answered - self.base[0]) / max(now - self.start, 1e-9))
            postfix["429s"] = limited - self.base[1]
        if failed:
            postfix["failed"] = failed
        if postfix:
            self.progress.set_postfix(postfix, refresh=False)


def _no_answer(exc: BaseException) -> bool:
    return isinstance(exc, E.TransportError) and not isinstance(exc, Cancelled)


def _unreachable(outcomes: list[bool]) -> bool:
    # no lock: the main thread never takes the workers' lock, so that the stop button
    # landing here can never leave it held (a slice of a list is atomic under the GIL)
    first = outcomes[:UNREACHABLE_AFTER]
    return len(first) == UNREACHABLE_AFTER and not any(first)


#: Makes the bars; the package's ``__init__`` gives one that keeps a notebook's saved
#: output at the bar's end (``widgets/_progress.py``), since the tracker imports no
#: IPython.
_bar_factory: Callable[[int, str, str], Any] | None = None


def set_progress_bar_factory(factory: Callable[[int, str, str], Any] | None) -> None:
    """Use ``factory(total, description, unit)`` for the tracker's progress bars."""
    global _bar_factory
    _bar_factory = factory


def progress_bar(total: int, description: str, unit: str = "order") -> Any:
    """A tqdm bar (the notebook's widget, or text in a terminal)."""
    if _bar_factory is not None:
        return _bar_factory(total, description, unit)
    from tqdm.auto import tqdm  # lazily: tqdm pulls in ipywidgets' front-end glue

    return tqdm(total=total, desc=description, unit=unit, leave=True)
