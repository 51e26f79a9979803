"""The retry decision, apart from the loop that acts on it (as stripe's
``_should_retry`` and ``_sleep_time_seconds``): which failures are tried again, how
long to wait, and which failures may hide a change the server made. No I/O.

Retried: a dropped or refused connection, a timeout, a 5xx, and a 429 whose
``Retry-After`` is at most ``max_retry_after`` (a longer one is reported at once).
``max_retries`` means what it says: one call makes at most ``max_retries + 1`` attempts.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .. import errors as E
from ._options import ClientOptions

__all__ = ["RetryPolicy", "RETRY_STATUSES", "AMBIGUOUS_STATUSES"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses after which a write may have happened although no success was seen.
AMBIGUOUS_STATUSES = frozenset({500, 502, 503, 504})


class RetryPolicy:
    """Reads ``options`` at every decision, so ``client.max_retries = 0`` holds at once.

    ``jitter(low, high)`` draws the random part of a backoff (tests pin it)."""

    def __init__(
        self,
        options: ClientOptions,
        jitter: Callable[[float, float], float] = random.uniform,
    ):
        self.options = options
        self._jitter = jitter

    def should_retry(self, error: E.AutoenhanceError, attempts: int) -> bool:
        """Whether to try again after ``attempts`` attempts, the last failing with
        ``error`` (a ``TransportError``, or the typed error of an HTTP answer)."""
        if attempts > self.options.max_retries:
            return False
        if isinstance(error, E.TransportError):
            return True
        if error.status_code not in RETRY_STATUSES:
            return False
        return not self._wait_too_long(error)

    def sleep_time(self, attempts: int, error: E.AutoenhanceError | None = None) -> float:
        """Seconds to wait before retry number ``attempts`` (1-based): a 429's
        ``Retry-After`` when given (capped), else exponential backoff with jitter."""
        retry_after = error.retry_after if isinstance(error, E.RateLimitError) else None
        if retry_after is not None:
            return min(float(retry_after), self.options.max_retry_after)
        factor = self.options.backoff_factor
        base = min(self.options.backoff_max, factor * (2 ** (attempts - 1)))
        return base + self._jitter(0, factor)

    @staticmethod
    def may_have_happened(error: E.AutoenhanceError) -> bool:
        """Whether the failed attempt may have done its job unseen: its connection was
        made and then lost, or the server failed (5xx) after reading the request."""
        if isinstance(error, E.TransportError):
            return error.connected
        return error.status_code in AMBIGUOUS_STATUSES

    def _wait_too_long(self, error: E.AutoenhanceError) -> bool:
        # reported at once: waiting that long is the user's call
        retry_after = error.retry_after if isinstance(error, E.RateLimitError) else None
        return retry_after is not None and retry_after > self.options.max_retry_after
