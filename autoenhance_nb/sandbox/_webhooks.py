"""The sandbox's webhooks: ``WebhookSender`` POSTs the events the real API sends
(NOTES section 8): ``image_processed`` for each image that finishes or fails, and
``webhook_updated`` whenever the webhook settings are set.

One background thread moves the account on as time passes (``Store.sweep``: images
finish when their time is up, not when someone reads them), sends what is due, and
retries a failed delivery with doubling backoff. The queue is bounded: past
``MAX_QUEUE`` events the oldest is dropped (logged). Faults for tests, from the
settings and seeded by ``seed``: drop an event, send it twice, or hold it back and send
it after the next one. Imports nothing from the client.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ._settings import SandboxSettings
from .state import Account

_log = logging.getLogger("autoenhance_nb.sandbox")

MAX_QUEUE = 10_000
TICK_SECONDS = 0.02
SEND_TIMEOUT = 5.0
MAX_BACKOFF = 10.0
#: how long an event held back (reorder fault) waits for a next one to overtake it
HOLD_SECONDS = 0.5


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    event: dict[str, Any] = field(compare=False)
    attempt: int = field(default=0, compare=False)
    epoch: int = field(default=0, compare=False)  # the reset it belongs after


@dataclass(frozen=True)
class Sent:
    """One webhook POST the sandbox made: the event, the answer's status (0: no answer),
    the attempt (0: the first) and when it was sent (``time.time()``)."""

    event: dict[str, Any]
    status: int
    attempt: int
    at: float = 0.0


class WebhookSender:
    """Sends the account's events to ``settings.webhook_url`` from a thread
    (``start()``/``stop()``); ``reset()`` forgets what is queued and restarts the faults'
    random sequence from the seed."""

    def __init__(self, settings: SandboxSettings, account: Account):
        self.settings = settings
        self.account = account
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._epoch = 0
        self.reset()
        account.store.on_finished = self.add

    def reset(self) -> None:
        with self._lock:
            self._epoch += 1  # a delivery in flight now is dropped when it returns
            self._queue: list[_Delivery] = []
            self._held: _Delivery | None = None
            self._rng = random.Random(self.settings.seed)
            self._configured: tuple[Any, ...] | None = None
            self.sent: deque[Sent] = deque(maxlen=MAX_QUEUE)

    # -- the events ------------------------------------------------------------------
    def add(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (called under the account's lock: no I/O here)."""
        if not self.settings.webhook_url:
            return
        with self._lock:
            if self._chance(self.settings.webhook_drop_rate):
                return
            copies = 2 if self._chance(self.settings.webhook_duplicate_rate) else 1
            for _ in range(copies):
                self._push(_Delivery(time.monotonic(), next(self._seq), dict(event)))

    def _push(self, delivery: _Delivery) -> None:
        delivery.epoch = self._epoch
        held = self._held
        if held is not None:  # the next event overtakes the one held back
            self._held = None
            heapq.heappush(self._queue, delivery)
            held.due, held.seq = delivery.due, next(self._seq)
            heapq.heapify(self._queue)
        elif self._chance(self.settings.webhook_reorder_rate):
            delivery.due += HOLD_SECONDS  # or sent after a while, if none comes
            self._held = delivery
            heapq.heappush(self._queue, delivery)
        else:
            heapq.heappush(self._queue, delivery)
        if len(self._queue) > MAX_QUEUE:
            self._queue.remove(min(self._queue))
            heapq.heapify(self._queue)
            _log.warning("sandbox: webhook queue full, an event was dropped")

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    @property
    def pending(self) -> int:
        """Events queued and not yet delivered (or given up)."""
        with self._lock:
            return len(self._queue)

    # -- the thread ----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="autoenhance-sandbox-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (what is queued stays queued for a later start())."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # a sandbox bug must not end the sender silently
                _log.exception("sandbox: webhook sender")
            self._stop.wait(TICK_SECONDS)

    def _step(self) -> None:
        settings = self.settings
        configured = (settings.webhook_url, settings.webhook_auth, settings.webhook_header)
        if configured != self._configured:
            self._configured = configured
            if settings.webhook_url:
                with self._lock:
                    self._push(_Delivery(time.monotonic(), next(self._seq), _UPDATED))
        if not settings.webhook_url:
            return
        self.account.store.sweep()
        while not self._stop.is_set():
            with self._lock:
                if not self._queue or self._queue[0].due > time.monotonic():
                    return
                delivery = heapq.heappop(self._queue)
                if delivery is self._held:  # nothing overtook it in time
                    self._held = None
            self._deliver(delivery)

    def _deliver(self, delivery: _Delivery) -> None:
        at = time.time()
        status = self._post(delivery.event)
        with self._lock:
            if delivery.epoch != self._epoch:  # reset while it was on its way
                return
            self.sent.append(Sent(dict(delivery.event), status, delivery.attempt, at))
        if 200 <= status < 300:
            return
        if delivery.attempt >= self.settings.webhook_retries:
            _log.warning("sandbox: webhook given up after %d attempts", delivery.attempt + 1)
            return
        wait = min(MAX_BACKOFF, self.settings.webhook_backoff * 2**delivery.attempt)
        delivery.attempt += 1
        delivery.due = time.monotonic() + wait
        with self._lock:
            if delivery.epoch == self._epoch:
                heapq.heappush(self._queue, delivery)

    def _post(self, event: dict[str, Any]) -> int:
        """POST one event; the answer's status, 0 when none came."""
        url = self.settings.webhook_url
        if not url:
            return 0
        headers = {"Content-Type": "application/json", "User-Agent": "autoenhance-sandbox"}
        if self.settings.webhook_auth is not None:
            headers[self.settings.webhook_header] = self.settings.webhook_auth
        body = json.dumps(event).encode()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as answer:
                answer.read()
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)
        except (OSError, ValueError):
            return 0


_UPDATED: dict[str, Any] = {"event": "webhook_updated"}
