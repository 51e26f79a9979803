"""A client-side rate limiter: pace requests by the API's limit instead of meeting 429s.

A token bucket shared by every request of one client (all threads): ``rate`` requests a
second, bursts up to ``burst``. A 429 lowers the rate (halved, never below
``min_rate``) and holds every request back for its ``Retry-After``; answers that are not
429 raise it again slowly (5% a second) up to the configured rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter", "DOCUMENTED_RATE"]

#: The API's documented limit: 300 requests a second per IP (API-NOTES section 7).
DOCUMENTED_RATE = 300.0


class RateLimiter:
    def __init__(
        self,
        rate: float = DOCUMENTED_RATE,
        burst: float | None = None,
        min_rate: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.max_rate = float(rate)
        self.rate = float(rate)
        self.min_rate = min(float(min_rate), self.max_rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.max_rate / 10)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._paused_until = 0.0
        self._halved_at = -1e9
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for progress bars and benchmarks
        self.limited = 0  # 429s seen

    def __repr__(self) -> str:
        return f"<RateLimiter {self.rate:.0f}/s of {self.max_rate:.0f}/s>"

    def reserve(self) -> float:
        """Take a token; returns how long the caller must wait before sending."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            delay = max(0.0, -self._tokens / self.rate, self._paused_until - now)
            self.waited += delay
            return delay

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        delay = self.reserve()
        if delay > 0:
            sleep(delay)

    def on_limited(self, retry_after: float | None, *, cap: float = 30.0) -> None:
        """A 429 came back: slow down (halved at most once a second, however many 429s
        arrive together), and hold everyone for ``retry_after``, up to ``cap`` seconds (a
        longer wait is the caller's to report, not every later call's to sit out)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self.limited += 1
            if now - self._halved_at >= 1.0:
                self.rate = max(self.min_rate, self.rate / 2)
                self._halved_at = now
            self._tokens = min(self._tokens, 0.0)
            if retry_after and retry_after <= cap:
                self._paused_until = max(self._paused_until, now + retry_after)

    def on_answer(self) -> None:
        """Any other answer: recover towards the configured rate."""
        with self._lock:
            if self.rate < self.max_rate:
                now = self._clock()
                self._refill(now)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        if self.rate < self.max_rate:
            self.rate = min(self.max_rate, self.rate * (1.05**elapsed))
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
