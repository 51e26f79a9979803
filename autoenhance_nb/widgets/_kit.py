"""Small parts every widget front end shares: running an action in the background
with its buttons disabled, a self-stopping auto-refresh, and layouts that wrap in a
narrow window. No tracker logic here."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as w
from traitlets import validate

from .. import errors as E
from ..display import Markup, escape
from ..errors import one_line

__all__ = [
    "SafeHTML",
    "close_tree",
    "close_parts",
    "BackgroundActions",
    "AutoRefresher",
    "auto_layout",
    "field_layout",
    "row",
    "weak_method",
    "error_message",
]


class SafeHTML(w.HTML):
    """The only HTML widget of the package: its value is markup only when it is
    ``Markup`` (built by ``markup.html``); plain text is escaped, so data can never
    become markup by being assigned."""

    @validate("value")
    def _escape_text(self, proposal: Any) -> Markup:
        return escape(proposal["value"])


def close_tree(root: w.Widget) -> None:
    """Close ``root``, every widget under it, and each one's ``layout`` and ``style``
    models (``Widget.close`` closes neither its children nor those)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        part = stack.pop()
        if id(part) in seen or not isinstance(part, w.Widget):
            continue
        seen.add(id(part))
        stack.extend(getattr(part, "children", ()) or ())
        for attr in ("layout", "style"):
            model = getattr(part, attr, None)
            if isinstance(model, w.Widget):
                stack.append(model)
        part.close()


def close_parts(owner: w.Widget, *folded: w.Widget | None) -> None:
    """What a widget's ``close`` calls before ``super().close()``: close every widget
    under ``owner`` and the ``folded`` ones it made but is not showing (panels), with
    their layouts and styles, and ``owner``'s own layout and style."""
    for part in [*(getattr(owner, "children", ()) or ()), *folded]:
        if part is not None:
            close_tree(part)
    for attr in ("layout", "style"):
        model = getattr(owner, attr, None)
        if isinstance(model, w.Widget):
            model.close()


def error_message(exc: BaseException) -> str:
    """One line for any error: the toolkit's own as they are, others with their type."""
    if isinstance(exc, E.AutoenhanceError):
        return str(exc)
    return one_line(f"{type(exc).__name__}: {exc}", 300)


class BackgroundActions:
    """One action at a time, in a background thread, with the given buttons disabled and
    the clicked one relabelled while it runs; an error goes to ``on_error``, never lost
    in a thread."""

    def __init__(
        self,
        buttons: Callable[[], Iterable[w.Button]],
        on_error: Callable[[str], None],
        after: Callable[[], object] | None = None,
        name: str = "autoenhance-form",
    ):
        self._buttons = buttons
        self._on_error = on_error
        self._after = after
        self._name = name
        self._busy = threading.Lock()
        self._worker: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    def run(self, button: w.Button, busy_label: str, job: Callable[[], None]) -> bool:
        """Start ``job``; False (nothing started) while another action runs."""
        if not self._busy.acquire(blocking=False):
            return False
        original = button.description
        button.description = busy_label
        for b in self._buttons():
            b.disabled = True

        def work() -> None:
            try:
                job()
            except Exception as exc:
                self._on_error(error_message(exc))
            finally:
                button.description = original
                for b in self._buttons():
                    b.disabled = False
                self._busy.release()  # after the buttons: the next action finds them settled
                if self._after is not None:
                    self._after()  # e.g. the form's checks, which must see it not busy

        self._worker = threading.Thread(target=work, name=self._name, daemon=True)
        self._worker.start()
        return True

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the action in flight (if any) is done. For tests and scripts."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            if worker.is_alive():
                raise TimeoutError("the action is still running")


class AutoRefresher:
    """Calls ``step()`` every ``interval`` seconds in a thread until ``step`` returns a
    message (done: the message is passed to ``on_stop``), ``max_seconds`` pass, or
    ``stop()`` is called. ``on_stop`` always runs once at the end. ``pace(interval)``,
    when given, says how long to wait instead (a tracker's ``events.poll_interval``:
    longer while webhooks bring the statuses); meanwhile ``check()`` (no request: it
    reads the table) is asked every ``interval`` whether it is done."""

    def __init__(
        self,
        step: Callable[[], str | None],
        on_stop: Callable[[str | None], None],
        interval: float = 3.0,
        max_seconds: float = 1800.0,
        name: str = "autoenhance-auto-refresh",
        pace: Callable[[float], float] | None = None,
        check: Callable[[], str | None] | None = None,
    ):
        self.step = step
        self.pace = pace
        self.check = check
        self.on_stop = on_stop
        self.interval = interval
        self.max_seconds = max_seconds
        self._name = name
        self._stop = threading.Event()
        self._stop.set()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return not self._stop.is_set()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=self._name)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 60.0) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        reason: str | None = None
        try:
            while not self._stop.is_set():
                try:
                    reason = self.step()
                except Exception as exc:  # a failing step ends the loop, said once
                    reason = f"stopped: {error_message(exc)}"
                if reason is not None:
                    break
                if time.monotonic() > deadline:
                    reason = "stopped after its time limit"
                    break
                reason = self._wait()
                if reason is not None:
                    break
        finally:
            self._stop.set()
            self.on_stop(reason)

    def _wait(self) -> str | None:
        """Wait until the next step; with a slower pace, ``check()`` every ``interval``
        (the statuses came by webhook: done without another request). The pace is read
        again each time: a receiver may stop meanwhile."""
        start = time.monotonic()
        while not self._stop.is_set():
            pace = self.pace(self.interval) if self.pace else self.interval
            left = start + pace - time.monotonic()
            if left <= 0:
                return None
            self._stop.wait(min(left, self.interval))
            if self.check is not None and left > self.interval:
                reason = self.check()
                if reason is not None:
                    return reason
        return None


def auto_layout() -> w.Layout:
    """A button's layout: as wide as its label, never squeezed (rows wrap instead)."""
    return w.Layout(width="auto", flex="0 0 auto")


def field_layout(max_px: int) -> w.Layout:
    """A field that grows to ``max_px`` and shrinks with a narrow window."""
    return w.Layout(width="auto", flex=f"0 1 {max_px}px", max_width="100%", min_width="0")


def row(*children: w.Widget) -> w.HBox:
    """A row that wraps onto more lines in a narrow window instead of cutting labels."""
    return w.HBox(list(children), layout=w.Layout(flex_flow="row wrap", max_width="100%"))


def weak_method(obj: Any, name: str) -> Callable[..., None]:
    """A callback calling ``obj.<name>()`` that does not keep a closed widget alive."""
    ref = weakref.ref(obj)

    def call(*_: Any) -> None:
        target = ref()
        if target is not None:
            getattr(target, name)()

    return call
