"""The faults the sandbox injects, as its settings ask: the rate limit's token bucket,
the seeded chance of a 503 or a lost (502) answer, and ``ambiguous_next``, the next N
successful writes answered 502. Imports nothing from the client.
"""

from __future__ import annotations

import random
import threading
import time

from ._settings import SandboxSettings, count


class RateLimiter:
    """Token bucket: ``rate`` requests per second, bursts up to ``rate``."""

    def __init__(self, rate: float):
        self.rate = rate
        self._tokens = rate
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when allowed, else the seconds until a request would be."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


class Faults:
    """The fault state of one sandbox; the rates are read from ``settings`` each time."""

    def __init__(self, settings: SandboxSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to the state of a new sandbox: the random sequence restarts from the
        seed, the rate-limit bucket is full and no lost answer is pending."""
        with self._lock:
            self._rng = random.Random(self.settings.seed)
            self._ambiguous_next = 0
            self._limiter: RateLimiter | None = None

    @property
    def ambiguous_next(self) -> int:
        """The next N successful writes are committed but answered 502 (for tests)."""
        return self._ambiguous_next

    @ambiguous_next.setter
    def ambiguous_next(self, value: int) -> None:
        value = count("ambiguous_next", value)
        with self._lock:
            self._ambiguous_next = value

    def wait(self) -> float:
        """0 when the rate limit lets a request through, else the seconds to wait. The
        bucket is made anew whenever ``settings.rate_limit`` changes."""
        rate = self.settings.rate_limit
        if not rate:
            return 0.0
        with self._lock:
            if self._limiter is None or self._limiter.rate != rate:
                self._limiter = RateLimiter(rate)
            limiter = self._limiter
        return limiter.take()

    def error(self) -> bool:
        """Whether this request is answered 503 (``error_rate``)."""
        return self._chance(self.settings.error_rate)

    def lose_answer(self) -> bool:
        """Whether this successful write's answer is lost (``ambiguous_next``, then
        ``ambiguous_rate``)."""
        with self._lock:
            if self._ambiguous_next > 0:
                self._ambiguous_next -= 1
                return True
        return self._chance(self.settings.ambiguous_rate)

    def _chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate
