"""What every endpoint group of the sandbox shares: the error and response shapes and
the readers of request bodies.

``ApiError`` and ``Invalid`` become the API's APIFlask error bodies (``HTTPError`` and
``ValidationError`` in the spec); ``Endpoints``, the base of each resource's endpoints,
holds the account and the settings it is given, reads a JSON body, reads the body of a
PUT to a pre-signed upload URL, and makes those URLs; a ``Route`` is one URL rule and
its handler. ``SandboxApp`` routes to them. Imports nothing from the client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from .._settings import SandboxSettings
from ..state import Account

#: Deepest nesting a JSON body may have: deeper is a 400 before anything walks it
#: (``json.loads`` itself gives up near 1000 levels; copying or answering less deep
#: values could still exhaust the stack).
MAX_JSON_DEPTH = 64
TOO_DEEP = f"The request body is not valid JSON: nested more than {MAX_JSON_DEPTH} levels deep."

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """An answer in the API's HTTPError shape: ``{"detail": ..., "message": ...}``."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        detail: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message or REASONS.get(status, "Error")
        self.detail = detail or {}
        self.headers = headers or {}


class Invalid(ApiError):
    """422 with the APIFlask ValidationError body."""

    def __init__(self, location: str, errors: dict[str, list[str]]):
        super().__init__(422, "Validation error", {location: errors})


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


@dataclass(frozen=True)
class Route:
    """One URL rule and what serves it: ``needs_key`` when the spec requires
    ``x-api-key``, ``is_write`` when a lost answer (``ambiguous_rate``) may hit it."""

    rule: str
    method: str
    endpoint: str
    handler: Callable[..., Response]
    needs_key: bool = True
    is_write: bool = False


class Endpoints:
    """The base of each resource's endpoints: the account they serve, the settings they
    read per request, and the readers of request bodies they share. ``base_url`` gives
    the sandbox's own URL (known once the server has bound its port)."""

    def __init__(
        self,
        account: Account,
        settings: SandboxSettings,
        base_url: Callable[[], str] = lambda: "",
    ):
        self.account = account
        self.settings = settings
        self.base_url = base_url

    def routes(self) -> list[Route]:
        """The rules this resource serves."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget whatever the endpoints keep between requests (nothing, by default)."""

    # -- body parsing ---------------------------------------------------------
    def json_body(self, request: Request, *, required: bool) -> dict:
        limit = self.settings.max_json_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise ApiError(413, f"Request body is larger than {limit} bytes.")
        raw = request.stream.read(limit + 1)
        if len(raw) > limit:
            raise ApiError(413, f"Request body is larger than {limit} bytes.")
        if not raw.strip():
            if required:
                raise Invalid("json", {"_schema": ["A JSON body is required."]})
            return {}
        if request.mimetype != "application/json":
            raise ApiError(415, "Content-Type must be application/json.")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "The request body is not valid JSON.") from None
        except RecursionError:
            raise ApiError(400, TOO_DEEP) from None
        if _deeper_than(data, MAX_JSON_DEPTH):
            raise ApiError(400, TOO_DEEP)
        if not isinstance(data, dict):
            raise Invalid("json", {"_schema": ["Invalid input type."]})
        return data

    # -- pre-signed uploads ------------------------------------------------------
    def upload_url(self, kind: str, id: str, token: str) -> str:
        base = (self.settings.upload_base_url or self.base_url()).rstrip("/")
        return f"{base}/_uploads/{kind}{id}?token={token}"

    def read_upload(self, request: Request, expected_type: str) -> bytes:
        """The body of a PUT to a pre-signed URL: a length, the signed Content-Type."""
        limit = self.settings.max_upload_bytes
        length = request.content_length
        if length is None and request.headers.get("Transfer-Encoding", "").lower() != "chunked":
            raise ApiError(411, "Content-Length is required.")
        if length is not None and length > limit:
            raise ApiError(413, f"Uploads are limited to {limit} bytes.")
        if request.mimetype != expected_type.lower():
            raise ApiError(
                403,
                "SignatureDoesNotMatch: the upload URL was signed for "
                f"Content-Type {expected_type}.",
            )
        data = request.stream.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, f"Uploads are limited to {limit} bytes.")
        return data


def _deeper_than(value: Any, limit: int) -> bool:
    """True when lists and objects nest more than ``limit`` levels (walked without
    recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False
