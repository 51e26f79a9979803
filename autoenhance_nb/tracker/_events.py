"""Autoenhance webhooks into the tracker's table: what a receiver accepts
(``receive``: the authentication value, the size, the known events) and ``Events``,
which applies them to one tracker, idempotently.

An event is a hint, never the truth: ``image_processed`` sets that photo's status at
once (so the table and the gallery move as soon as it arrives) and, when it says the
order has nothing left processing, when it reports an error, or when the photo is
unknown, reads that one order back from the API (coalesced: one GET per order however
many events arrive together, none when a read since already shows what the event
says). Sending an event twice, or out of order, changes nothing more: the last GET of
an order is its state. An event for an order
the table does not hold is ignored. Lost events are caught by the polling kept as a
safety net (``poll_interval``). No HTTP server here (``_listener``, the desk)."""

from __future__ import annotations

import hmac
import json
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .. import errors as E
from ._core import TrackerCore

__all__ = [
    "DEFAULT_HEADER",
    "Events",
    "MAX_EVENT_BYTES",
    "Refused",
    "WebhookEvent",
    "parse_event",
    "receive",
]

log = logging.getLogger("autoenhance_nb")

#: The header carrying the authentication value (the real API's name is unknown:
#: NOTES section 8; the sandbox sends this one by default).
DEFAULT_HEADER = "Authorization"
#: The largest event body accepted (a real event is about 200 bytes).
MAX_EVENT_BYTES = 16 * 1024
#: With a receiver, watching polls this often (seconds) for lost events.
SAFETY_INTERVAL = 60.0
#: Events arriving within this long of each other share one GET per order.
COALESCE_SECONDS = 0.05
#: The thread applying submitted events ends after this long without one.
APPLIER_IDLE_SECONDS = 5.0
KNOWN_EVENTS = ("image_processed", "webhook_updated")
_STATUS = 3  # the status cell of an images row (table.IMAGE_COLUMNS)
_REASON = 4


class Refused(Exception):
    """A delivery the receiver refuses: its HTTP ``status`` (4xx) and a one-line reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebhookEvent:
    """One accepted event: ``kind`` is ``image_processed`` or ``webhook_updated``."""

    kind: str
    image_id: str | None = None
    order_id: str | None = None
    error: bool = False
    order_is_processing: bool = False

    def as_json(self) -> str:
        if self.kind != "image_processed":
            return json.dumps({"event": self.kind})
        return json.dumps(
            {
                "event": self.kind,
                "image_id": self.image_id,
                "order_id": self.order_id,
                "error": self.error,
                "order_is_processing": self.order_is_processing,
            }
        )


def _text_id(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= 200 or not value.isprintable():
        raise Refused(422, f"{key} must be an id")
    return value


def parse_event(body: bytes) -> WebhookEvent:
    """The event in a delivery's body, or ``Refused`` (400: not a JSON object; 422: an
    unknown event or a field of the wrong type)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is not a JSON object")
    kind = data.get("event")
    if kind not in KNOWN_EVENTS:
        raise Refused(422, "unknown event")
    if kind == "webhook_updated":
        return WebhookEvent(kind)
    error, processing = data.get("error"), data.get("order_is_processing")
    if not isinstance(error, bool) or not isinstance(processing, bool):
        raise Refused(422, "error and order_is_processing must be true or false")
    return WebhookEvent(
        kind, _text_id(data, "image_id"), _text_id(data, "order_id"), error, processing
    )


def same_secret(given: str | None, expected: str) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def check_auth(auth_value: str | None, auth: str | None) -> None:
    """``Refused`` (401) unless ``auth_value`` is ``auth`` (``auth=None``: no check)."""
    if auth is not None and not same_secret(auth_value, auth):
        raise Refused(401, "wrong or missing authentication value")


def receive(body: bytes, auth_value: str | None, auth: str | None) -> WebhookEvent:
    """Check one delivery: the authentication value first (401), then the size (413),
    then the event (400, 422). ``auth=None``: a receiver that checks none."""
    check_auth(auth_value, auth)
    if len(body) > MAX_EVENT_BYTES:
        raise Refused(413, f"the body is over {MAX_EVENT_BYTES} bytes")
    return parse_event(body)


class Source(Protocol):
    """A receiver feeding ``Events`` (a local listener, the desk's event log)."""

    @property
    def running(self) -> bool: ...


class Events:
    """The webhook events of one tracker: ``apply(event)``; ``active`` while a receiver
    feeds it; ``poll_interval(n)`` the polling a watch keeps as a safety net."""

    def __init__(self, core: TrackerCore, safety_interval: float = SAFETY_INTERVAL):
        self.core = core
        self.safety_interval = safety_interval
        self.sources: list[Source] = []
        self.counts = {"applied": 0, "ignored": 0, "fetched": 0, "failed": 0}
        self._lock = threading.Condition()
        #: order id -> the events asking for a read (None: read it whatever the table says)
        self._pending: dict[str, list[WebhookEvent | None]] = {}
        self._worker: threading.Thread | None = None
        self._generation = 0
        self._inbox: queue.SimpleQueue[WebhookEvent] = queue.SimpleQueue()
        self._queued = 0
        self._applier: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "active" if self.active else "no receiver"
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"<Events {state}: {counts}>"

    # -- receivers and the safety net ------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether a receiver is running for this tracker."""
        return any(source.running for source in list(self.sources))

    def attach(self, source: Source) -> None:
        self.sources.append(source)

    def detach(self, source: Source) -> None:
        if source in self.sources:
            self.sources.remove(source)

    def poll_interval(self, interval: float) -> float:
        """``interval`` without a receiver; with one, at least ``safety_interval``."""
        return max(interval, self.safety_interval) if self.active else interval

    def describe(self, interval: float) -> str:
        """What watching does, in a few words (for a progress bar or a message)."""
        if not self.active:
            return f"checking every {interval:g} s"
        return f"live by webhook; checking every {self.poll_interval(interval):g} s as a safety net"

    def wait_change(self, timeout: float) -> None:
        """Block until an event changed the table, or ``timeout`` seconds pass."""
        if not math.isfinite(timeout) or timeout <= 0:
            return
        with self._lock:
            seen = self._generation
            self._lock.wait_for(lambda: self._generation != seen, timeout)

    def _bump(self) -> None:
        with self._lock:
            self._generation += 1
            self._lock.notify_all()

    # -- applying ------------------------------------------------------------------------
    def submit(self, event: WebhookEvent) -> None:
        """Apply ``event`` soon, in order, from this tracker's own thread: a receiver
        answers at once, however long the table's subscribers (widgets) take."""
        with self._lock:
            self._queued += 1
            self._inbox.put(event)
            if self._applier is None or not self._applier.is_alive():
                self._applier = threading.Thread(
                    target=self._apply_loop, name="autoenhance-webhook-apply", daemon=True
                )
                self._applier.start()

    def _apply_loop(self) -> None:
        while True:
            try:
                event = self._inbox.get(timeout=APPLIER_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queued == 0:
                        self._applier = None
                        return
                continue
            try:
                self.apply(event)
            except Exception:  # a broken subscriber must not stop the next events
                log.exception("webhook: applying an event failed")
            finally:
                with self._lock:
                    self._queued -= 1

    def apply(self, event: WebhookEvent) -> bool:
        """Apply one event; False when it was ignored (an order the table does not hold,
        or ``webhook_updated``, which only says the settings were saved)."""
        if event.kind != "image_processed" or event.order_id is None:
            return False
        core = self.core
        changed = False
        with core.lock:
            if event.order_id not in core.state.store.index:
                self.counts["ignored"] += 1
                return False
            row = core.state.images.get(event.image_id or "")
            known = row is not None and row[1] == event.order_id
            status = "error" if event.error else "processed"
            if row is not None and known and row[_STATUS] != status:
                row[_STATUS] = status
                if not event.error:
                    row[_REASON] = None
                changed = True
            self.counts["applied"] += 1
        if event.error or not known:
            self._fetch(event.order_id, None)
        elif not event.order_is_processing:
            self._fetch(event.order_id, event)
        if changed:
            core.changed()
            self._bump()
        return True

    def _fetch(self, order_id: str, event: WebhookEvent | None) -> None:
        with self._lock:
            self._pending.setdefault(order_id, []).append(event)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._fetch_loop, name="autoenhance-webhook-fetch", daemon=True
                )
                self._worker.start()

    def _fetch_loop(self) -> None:
        while True:
            time.sleep(COALESCE_SECONDS)  # events of one moment share the GETs
            with self._lock:
                batch, self._pending = self._pending, {}
                if not batch:
                    self._worker = None
                    return
            wanted = [oid for oid, events in sorted(batch.items()) if not self._known(events)]
            answers = [answer for oid in wanted if (answer := self._get(oid))]
            if answers:
                self.core.record_many(answers, "webhook")
                self.core.changed()
            self._bump()

    def _known(self, events: list[WebhookEvent | None]) -> bool:
        """Whether the table already says what each event says (its photo processed,
        its order no longer processing: a read since then showed it), so reading the
        order again would bring nothing (the same event again, or another photo's of
        a finished order). An error or an unknown photo is always read."""
        core = self.core
        with core.lock:
            for event in events:
                if event is None or event.order_id is None:
                    return False
                row = core.state.images.get(event.image_id or "")
                order = core.row(event.order_id)
                if row is None or row[_STATUS] != "processed" or order is None:
                    return False
                if order["status"] == "processing":
                    return False
        return True

    def _get(self, order_id: str) -> dict[str, Any] | None:
        try:
            answer = self.core.client.get_order(order_id)
        except E.AutoenhanceError as exc:  # the safety net polls again later
            self.counts["failed"] += 1
            log.warning("webhook: could not read order %s: %s", order_id[:64], exc)
            return None
        self.counts["fetched"] += 1
        return answer if isinstance(answer, dict) else None

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until no event waits to be applied and no GET is pending (for tests and
        scripts); whether it got there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and self._worker is None and self._queued == 0:
                    return True
            time.sleep(0.01)
        return False
