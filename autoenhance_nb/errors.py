"""Typed errors of the Autoenhance client, and the one mapping from an HTTP answer to
an error.

Every message is one readable line; no error ever carries the API key (the client
never puts it in a message, and ``__repr__`` shows only type, status and message).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import requests
import urllib3.exceptions as u3

__all__ = [
    "AutoenhanceError",
    "AuthenticationError",
    "MissingApiKeyError",
    "NotFoundError",
    "ValidationError",
    "ConflictError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "one_line",
    "error_from_response",
    "unexpected_shape",
]

_INVISIBLE = frozenset({0x200B, 0x200C, 0x200D, 0x2028, 0x2029, 0xFEFF, 0x061C, 0x200E, 0x200F})


def one_line(text: Any, limit: int = 80, *, middle: bool = False) -> str:
    """Render user or server text safely inside a one-line message: control characters
    (newlines, escapes, bidi overrides, invisible separators, lone surrogates) shown
    escaped, long text clipped at the end, or in the middle with ``middle=True`` (for
    paths, whose file name at the end is the part a reader needs)."""
    s = str(text)
    out = []
    for ch in s:
        code = ord(ch)
        if (
            code < 32
            or code == 127
            or 0x80 <= code < 0xA0
            or 0x202A <= code <= 0x202E
            or 0x2066 <= code <= 0x2069
            or code in _INVISIBLE
            or 0xD800 <= code <= 0xDFFF
        ):
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(ch)
    s = "".join(out)
    if len(s) > limit:
        if middle:
            head = (limit - 1) // 3
            s = s[:head] + "…" + s[len(s) - (limit - 1 - head) :]
        else:
            s = s[: limit - 1] + "…"
    return s


class AutoenhanceError(Exception):
    """Base class: ``message``, ``status_code`` (None when no response came) and
    ``body`` (the parsed JSON error body, or None). ``order_id`` names the order the
    failed call was about, when there is one: for a create, creating again with that
    id can never duplicate the order, whether or not the failed attempt made it."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        body: Any = None,
        *,
        order_id: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.order_id = order_id

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        status = f", status_code={self.status_code}" if self.status_code is not None else ""
        return f"{type(self).__name__}({self.message!r}{status})"

    def with_message(self, message: str) -> AutoenhanceError:
        """A copy of this error (same type, status, body and extra fields) with another
        message."""
        import copy

        clone = copy.copy(self)
        clone.args = (message,)
        clone.message = message
        return clone


class AuthenticationError(AutoenhanceError):
    """401/403: the API key is missing, wrong or not allowed."""


class MissingApiKeyError(AuthenticationError):
    """A call needs an API key and none is configured (nothing was sent)."""


class NotFoundError(AutoenhanceError):
    """404: no such order or image (or it is not yours)."""


class ValidationError(AutoenhanceError, ValueError):
    """422 from the API, or input refused before any request. ``fields`` maps each
    field to its problems."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        body: Any = None,
        *,
        fields: dict[str, list[str]] | None = None,
        order_id: str | None = None,
    ):
        super().__init__(message, status_code, body, order_id=order_id)
        self.fields = fields or {}


class ConflictError(AutoenhanceError):
    """A custom order_id that is already taken by another order."""


class RateLimitError(AutoenhanceError):
    """429 after the retries ran out, or at once when the API asks to wait longer than
    the client's cap. ``retry_after`` is in seconds, when known."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        body: Any = None,
        *,
        retry_after: float | None = None,
        order_id: str | None = None,
    ):
        super().__init__(message, status_code, body, order_id=order_id)
        self.retry_after = retry_after


class ServerError(AutoenhanceError):
    """5xx after the retries ran out, or an answer of an unexpected shape."""


class TransportError(AutoenhanceError):
    """No usable answer: timeout, refused or dropped connection, DNS failure.
    ``connected`` is False when no connection could be opened at all (the API is
    unreachable), True when one was made and then failed."""

    def __init__(self, message: str, *, connected: bool = True, order_id: str | None = None):
        super().__init__(message, None, None, order_id=order_id)
        self.connected = connected


def unexpected_shape(what: str, value: Any, expected: str) -> ServerError:
    """The error for an answer of the wrong shape (``null``, a list, a string, ...)."""
    kind = "null" if value is None else type(value).__name__
    if isinstance(value, (dict, list, str)):
        kind = {"dict": "an object", "list": "a list", "str": "a string"}[type(value).__name__]
        if isinstance(value, dict):
            kind += f" with keys {one_line(sorted(map(str, value))[:6], 60)}"
    return ServerError(f"{what} failed: the API answered {kind} where {expected} was expected")


def error_from_response(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    what: str,
    host: str,
    *,
    order_id: str | None = None,
    reason: str | None = None,
) -> AutoenhanceError:
    """The typed error for an HTTP answer with status >= 400 (``body`` is its parsed
    JSON, or None). ``order_id`` is attached to the error; for a create it also names
    the taken id of a conflict."""
    server_msg = body.get("message") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    suffix = f"(HTTP {status})"
    if order_id is not None and _is_duplicate(status, detail, server_msg):
        return ConflictError(
            f"{what} failed: order_id {one_line(order_id)!r} is already used by another "
            f"order {suffix}",
            status,
            body,
            order_id=order_id,
        )
    if status in (401, 403):
        return AuthenticationError(
            f"{what} failed: the API key was refused; check AUTOENHANCE_API_KEY {suffix}",
            status,
            body,
            order_id=order_id,
        )
    if status == 404:
        return NotFoundError(f"{what} failed: not found {suffix}", status, body, order_id=order_id)
    if status in (400, 422):
        return _validation_error(status, body, what, order_id)
    if status == 429:
        return _rate_limit_error(status, body, headers, what, host, order_id)
    if status >= 500:
        return ServerError(
            f"{what} failed: {host} had a server error {suffix}", status, body, order_id=order_id
        )
    text = one_line(server_msg or reason or "unexpected answer")
    return AutoenhanceError(f"{what} failed: {text} {suffix}", status, body, order_id=order_id)


def _validation_error(status: int, body: Any, what: str, order_id: str | None) -> ValidationError:
    """400/422: the fields the API named and their problems, else its message."""
    server_msg = body.get("message") if isinstance(body, dict) else None
    fields = _field_errors(body.get("detail") if isinstance(body, dict) else None)
    if fields:
        text = "; ".join(f"{f}: {' '.join(map(str, m))}" for f, m in fields.items())
    else:
        text = server_msg or "the request was not valid"
    return ValidationError(
        f"{what} failed: {one_line(text, 200)} (HTTP {status})",
        status,
        body,
        fields=fields,
        order_id=order_id,
    )


def _rate_limit_error(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    what: str,
    host: str,
    order_id: str | None,
) -> RateLimitError:
    """429: with the wait the API asked for, when it said."""
    retry_after = parse_retry_after(headers.get("Retry-After"))
    hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
    return RateLimitError(
        f"{what} failed: rate limited by {host}{hint} (HTTP {status})",
        status,
        body,
        retry_after=retry_after,
        order_id=order_id,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number; HTTP dates are not used by the
    API), or None."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None  # NaN, inf -> None


def _is_duplicate(status: int, detail: Any, message: Any) -> bool:
    if status == 409:
        return True
    if status in (400, 422):
        text = (json.dumps(detail, default=str) if detail else "") + str(message or "")
        lowered = text.lower()
        return "order_id" in lowered and any(
            w in lowered for w in ("exist", "unique", "duplicate", "taken")
        )
    return False


def _field_errors(detail: Any) -> dict[str, list[str]]:
    """Flatten APIFlask's ``{"json": {"field": ["msg"]}}`` into ``{"field": ["msg"]}``."""
    fields: dict[str, list[str]] = {}
    if not isinstance(detail, dict):
        return fields
    for location in detail.values():
        if isinstance(location, dict):
            for field, messages in location.items():
                if isinstance(messages, list):
                    fields[str(field)] = [str(m) for m in messages]
                else:
                    fields[str(field)] = [str(messages)]
    return fields


_NO_CONNECTION = "cannot reach {host} (no connection within {timeout:g} s)"
_NO_ANSWER = "no answer from {host} within {timeout:g} s (timeout)"
#: Failures sorted by the exception (``False``) or by urllib3's reason under it
#: (``True``), in this order: the message after "<what> failed: " and whether a
#: connection was made.
_SORTED: tuple[tuple[bool, type[BaseException], str, bool], ...] = (
    (False, requests.exceptions.ConnectTimeout, _NO_CONNECTION, False),
    (False, requests.exceptions.ReadTimeout, _NO_ANSWER, True),
    (False, requests.exceptions.SSLError, "the secure connection to {host} failed (TLS)", False),
    (False, requests.exceptions.ProxyError, "the proxy refused the connection to {host}", False),
    (True, u3.NameResolutionError, "cannot reach {host} (unknown host name)", False),
    (True, u3.NewConnectionError, "cannot reach {host} (connection refused)", False),
    (True, u3.ConnectTimeoutError, _NO_CONNECTION, False),
    (True, u3.ReadTimeoutError, _NO_ANSWER, True),
)
#: A connection made, then lost.
_DROPPED = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
#: Nothing sent: the request itself is wrong.
_UNBUILDABLE = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


def transport_error(
    exc: requests.exceptions.RequestException, what: str, host: str, timeout: float
) -> TransportError:
    """Sort a transport failure by its exception type."""
    reason: Any = exc.args[0] if exc.args else None
    if isinstance(reason, u3.MaxRetryError):
        reason = reason.reason
    for of_reason, kind, text, connected in _SORTED:
        if isinstance(reason if of_reason else exc, kind):
            message = text.format(host=host, timeout=timeout)
            return TransportError(f"{what} failed: {message}", connected=connected)
    if isinstance(exc, _DROPPED):
        return TransportError(
            f"{what} failed: the connection to {host} dropped "
            f"({failure_kind(reason if reason is not None else exc)})"
        )
    if isinstance(exc, _UNBUILDABLE):
        return TransportError(
            f"{what} failed: the request could not be built ({type(exc).__name__})",
            connected=False,
        )
    return TransportError(f"{what} failed: {failure_kind(exc)}")


def failure_kind(exc: BaseException) -> str:
    """A short, key-free, URL-free name for a low-level failure."""
    if isinstance(exc, u3.ProtocolError) and exc.args and isinstance(exc.args[-1], BaseException):
        exc = exc.args[-1]
    names = {
        "RemoteDisconnected": "the server closed the connection",
        "ConnectionResetError": "connection reset",
        "ConnectionAbortedError": "connection aborted",
        "BrokenPipeError": "broken pipe",
        "IncompleteRead": "the answer was cut short",
        "InvalidChunkLength": "the answer was cut short",
    }
    return names.get(type(exc).__name__, one_line(type(exc).__name__))
