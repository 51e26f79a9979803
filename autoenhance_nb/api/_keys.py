"""The API key holder: checks a key when it is set, and keeps it out of reprs,
pickles, messages and (once wrapped) every frame a verbose traceback could show."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import requests
import requests.auth

from .. import errors as E

__all__ = ["ApiKey", "check_key", "hide_key", "redact_upload_tokens"]


def check_key(key: Any) -> str:
    """The key, stripped, if it can be sent in a header; else a ``ValueError`` whose
    message never contains the key (it says what is wrong and where it came from)."""
    if not isinstance(key, str):
        raise E.ValidationError(
            f"The API key must be a string, not {type(key).__name__}",
            fields={"api_key": ["must be a string"]},
        )
    stripped = key.strip()
    problem = None
    if not stripped:
        problem = "it is empty"
    elif any(c in "\r\n" for c in stripped):
        problem = "it contains a line break (was a file with several lines pasted?)"
    elif any(c.isspace() for c in stripped):
        problem = "it contains a space"
    elif not stripped.isprintable() or not stripped.isascii():
        problem = "it contains characters that are not printable ASCII"
    if problem:
        raise E.ValidationError(
            f"The API key is not valid: {problem}", fields={"api_key": [problem]}
        )
    return stripped


class _HiddenStr(str):
    """The key as sent in the header: a plain string to http.client, but its repr (what
    a verbose traceback shows of ``request.headers``) hides it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<API key hidden>'"


def hide_key(value: Any) -> tuple[ApiKey | None, str | None]:
    """Wrap a key given as a string, without raising: (holder, None), or (None, the
    reason it is not a valid key). Callers rebind their own variable to the holder at
    once, so that no frame (shown by a verbose traceback) keeps the plain key."""
    if isinstance(value, ApiKey):
        return value, None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "no API key was given"
    try:
        return ApiKey(value), None
    except E.ValidationError as exc:
        reason = exc.message
    value = None
    return None, reason


class ApiKey(requests.auth.AuthBase):
    """Adds ``x-api-key`` to a request. Its repr, str and pickling never show the key,
    so the frames that hold it (verbose tracebacks show locals) show only this."""

    __slots__ = ("_key",)

    def __init__(self, key: str):
        self._key = check_key(key)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["x-api-key"] = _HiddenStr(self._key)
        return request

    def fingerprint(self) -> str:
        """16 hex digits that tell keys apart and cannot give the key back (a salted
        sha256, cut short): what the operations journal stores for an account."""
        return hashlib.sha256(b"autoenhance-nb account\x00" + self._key.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return "<API key hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key is not pickled")


class _RedactQueries(logging.Filter):
    """urllib3 logs each request line with its query string at DEBUG; an upload URL's
    query holds its pre-signed token, so query strings are cut from those lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and "?" in a for a in record.args
        ):
            record.args = tuple(
                a.split("?", 1)[0] if isinstance(a, str) and "?" in a else a for a in record.args
            )
        return True


def redact_upload_tokens() -> None:
    """Install the filter on urllib3's request log (once)."""
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactQueries) for f in urllib3_log.filters):
        urllib3_log.addFilter(_RedactQueries())
