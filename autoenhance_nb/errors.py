"""Typed errors of the Autoenhance client.

Every message is one readable line; no error ever carries the API key (the client
never puts it in a message, and ``__repr__`` shows only type, status and message).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AutoenhanceError", "AuthenticationError", "MissingApiKeyError", "NotFoundError",
    "ValidationError", "ConflictError", "RateLimitError", "ServerError", "TransportError",
    "one_line",
]


def one_line(text: Any, limit: int = 80) -> str:
    """Render user or server text safely inside a one-line message: control characters
    (newlines, escapes, bidi overrides) shown escaped, long text clipped."""
    s = str(text)
    out = []
    for ch in s:
        code = ord(ch)
        if code < 32 or code == 127 or 0x80 <= code < 0xA0 or 0x202A <= code <= 0x202E \
                or 0x2066 <= code <= 0x2069:
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    s = "".join(out)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


class AutoenhanceError(Exception):
    """Base class: ``message``, ``status_code`` (None when no response came) and
    ``body`` (the parsed JSON error body, or None). An error from creating an order also
    carries the ``order_id`` it was sent with: creating again with that id can never
    duplicate the order, whether or not the failed attempt made it."""

    order_id: str | None = None

    def __init__(self, message: str, status_code: int | None = None, body: Any = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        status = f", status_code={self.status_code}" if self.status_code is not None else ""
        return f"{type(self).__name__}({self.message!r}{status})"


class AuthenticationError(AutoenhanceError):
    """401/403: the API key is missing, wrong or not allowed."""


class MissingApiKeyError(AuthenticationError):
    """A call needs an API key and none is configured (nothing was sent)."""


class NotFoundError(AutoenhanceError):
    """404: no such order or image (or it is not yours)."""


class ValidationError(AutoenhanceError, ValueError):
    """422 from the API, or input refused before any request. ``fields`` maps each
    field to its problems."""

    def __init__(self, message: str, status_code: int | None = None, body: Any = None,
                 fields: dict[str, list[str]] | None = None):
        super().__init__(message, status_code, body)
        self.fields = fields or {}


class ConflictError(AutoenhanceError):
    """A custom order_id that is already taken by another order."""

    def __init__(self, message: str, status_code: int | None = None, body: Any = None,
                 order_id: str | None = None):
        super().__init__(message, status_code, body)
        self.order_id = order_id


class RateLimitError(AutoenhanceError):
    """429 after the retries ran out. ``retry_after`` is in seconds, when known."""

    def __init__(self, message: str, status_code: int | None = None, body: Any = None,
                 retry_after: float | None = None):
        super().__init__(message, status_code, body)
        self.retry_after = retry_after


class ServerError(AutoenhanceError):
    """5xx after the retries ran out."""


class TransportError(AutoenhanceError):
    """No usable answer: timeout, refused or dropped connection, DNS failure."""
