"""The sandbox's settings: every knob of ``SandboxApp`` as a typed, validated property.

Each is read per request, so a test may change one while the server runs; a bad value
raises ValueError at once (at construction and at any later set). The checks
(``non_negative``, ``fraction``, ``count``, ``positive_int``) and the token bucket
behind ``rate_limit`` live here too. Imports nothing from the client.
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import Account

MAX_JSON_BYTES = 1 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


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


def non_negative(name: str, value: float) -> float:
    """``value`` as a float when it is a finite number >= 0, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return float(value)


def fraction(name: str, value: float) -> float:
    """``value`` as a float when it is a number in [0, 1], else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be between 0 and 1")
    return float(value)


def count(name: str, value: int) -> int:
    """``value`` when it is an integer >= 0, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def positive_int(name: str, value: int) -> int:
    """``value`` when it is an integer >= 1, else ValueError."""
    if count(name, value) < 1:
        raise ValueError(f"{name} must be at least 1")
    return value


class Settings:
    """The knobs of ``SandboxApp`` (a mixin): each a property that validates what it is
    given. Those the data model needs (processing_seconds, merging_seconds,
    daily_image_limit) are kept on the ``Account``."""

    account: Account
    _limiter: RateLimiter | None

    @property
    def api_key(self) -> str | None:
        """None accepts any non-empty key; a string accepts only itself."""
        return self._api_key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError("api_key must be None (any key) or a non-empty string")
        self._api_key = value

    @property
    def processing_seconds(self) -> float:
        """How long an uploaded image stays ``processing``."""
        return self.account.processing_seconds

    @processing_seconds.setter
    def processing_seconds(self, value: float) -> None:
        self.account.processing_seconds = non_negative("processing_seconds", value)

    @property
    def latency(self) -> float:
        """Seconds added to every request."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        self._latency = non_negative("latency", value)

    @property
    def error_rate(self) -> float:
        """Fraction of requests answered 503 before doing anything."""
        return self._error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        self._error_rate = fraction("error_rate", value)

    @property
    def ambiguous_rate(self) -> float:
        """Fraction of successful writes committed but answered 502."""
        return self._ambiguous_rate

    @ambiguous_rate.setter
    def ambiguous_rate(self, value: float) -> None:
        self._ambiguous_rate = fraction("ambiguous_rate", value)

    @property
    def ambiguous_next(self) -> int:
        """The next N successful writes are committed but answered 502 (for tests)."""
        return self._ambiguous_next

    @ambiguous_next.setter
    def ambiguous_next(self, value: int) -> None:
        self._ambiguous_next = count("ambiguous_next", value)

    @property
    def rate_limit(self) -> float:
        """Requests per second before 429 with Retry-After; 0 is off."""
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, value: float) -> None:
        value = non_negative("rate_limit", value)
        self._rate_limit = value
        self._limiter = RateLimiter(value) if value else None

    @property
    def per_page_overflow(self) -> str:
        """What a per_page above 15 gets: "clamp" (default) or "reject" (422)."""
        return self._per_page_overflow

    @per_page_overflow.setter
    def per_page_overflow(self, value: str) -> None:
        if value not in ("clamp", "reject"):
            raise ValueError("per_page_overflow must be 'clamp' or 'reject'")
        self._per_page_overflow = value

    @property
    def upload_base_url(self) -> str | None:
        """Where ``upload_url`` points; None means this sandbox."""
        return self._upload_base_url

    @upload_base_url.setter
    def upload_base_url(self, value: str | None) -> None:
        if value is not None and (
            not isinstance(value, str) or not value.startswith(("http://", "https://"))
        ):
            raise ValueError("upload_base_url must be None or an http(s):// URL")
        self._upload_base_url = value

    @property
    def max_json_bytes(self) -> int:
        """Largest JSON body accepted; larger ones get 413."""
        return self._max_json_bytes

    @max_json_bytes.setter
    def max_json_bytes(self, value: int) -> None:
        self._max_json_bytes = positive_int("max_json_bytes", value)

    @property
    def max_upload_bytes(self) -> int:
        """Largest upload accepted; larger ones get 413."""
        return self._max_upload_bytes

    @max_upload_bytes.setter
    def max_upload_bytes(self, value: int) -> None:
        self._max_upload_bytes = positive_int("max_upload_bytes", value)

    @property
    def daily_image_limit(self) -> int | None:
        """Images a day (UTC) that may start processing; later ones go to ``error``
        with a status_reason, as the real API's 500-a-day limit does. None is off."""
        return self.account.daily_image_limit

    @daily_image_limit.setter
    def daily_image_limit(self, value: int | None) -> None:
        self.account.daily_image_limit = (
            None if value is None else count("daily_image_limit", value)
        )

    @property
    def merging_seconds(self) -> float:
        """How long an order stays ``is_merging`` after POST /v3/orders/{id}/process."""
        return self.account.merging_seconds

    @merging_seconds.setter
    def merging_seconds(self, value: float) -> None:
        self.account.merging_seconds = non_negative("merging_seconds", value)
