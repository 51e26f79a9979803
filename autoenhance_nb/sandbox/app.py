"""The sandbox's HTTP layer: a werkzeug WSGI app emulating the Autoenhance v3 API.

Routing, auth, validation, fault injection and the request log live here; the data
lives in ``state.Account``. Error bodies follow the API's APIFlask shapes
(``HTTPError`` and ``ValidationError`` in the spec). Imports nothing from the client.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .server import CONNECTION_KEY
from .state import Account, Conflict, NameRateLimited, decode_offset

_log = logging.getLogger("autoenhance_nb.sandbox")

# What the real API answers to a duplicate custom order_id is unknown (NOTES section 7);
# this is the one place to change it.
DUPLICATE_ORDER_STATUS = 409
DUPLICATE_ORDER_MESSAGE = "An order with this order_id already exists."

MAX_JSON_BYTES = 1 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_ORDER_ID_LENGTH = 255
DRAIN_CAP_BYTES = 512 * 1024 * 1024

_REASONS = {
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

_AI_VERSIONS = [
    "dev",
    "5.x",
    "5.0",
    "4.x",
    "4.7",
    "4.5",
    "4.4",
    "4.3",
    "4.2",
    "4.1",
    "4.0",
    "3.x",
    "3.5",
    "3.4",
    "3.3",
    "3.2",
    "3.1",
    "3.0",
]
_ENHANCE_TYPES = ["property", "property_usa", "warm", "neutral", "modern"]
_CLOUD_TYPES = ["CLEAR", "LOW_CLOUD", "HIGH_CLOUD", None]


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str | None = None,
        detail: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message or _REASONS.get(status, "Error")
        self.detail = detail or {}
        self.headers = headers or {}


class Invalid(ApiError):
    """422 with the APIFlask ValidationError body."""

    def __init__(self, location: str, errors: dict[str, list[str]]):
        super().__init__(422, "Validation error", {location: errors})


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


@dataclass(frozen=True)
class LogEntry:
    """One request the sandbox served. ``path`` is the raw, still-encoded path;
    ``endpoint`` and ``params`` say where routing sent it."""

    method: str
    path: str
    endpoint: str | None
    params: dict
    status: int
    had_api_key: bool
    api_version: str | None = None
    connection: int | None = None  # which TCP connection (1, 2, ...) it came on


class _RateLimiter:
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


class SandboxApp:
    """WSGI application. Every knob is a validated property, read per request, so a
    test may change one while the server runs; a bad value raises ValueError at once."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        processing_seconds: float = 2.0,
        latency: float = 0.0,
        error_rate: float = 0.0,
        ambiguous_rate: float = 0.0,
        rate_limit: float = 0.0,
        seed: int | None = None,
        per_page_overflow: str = "clamp",
        upload_base_url: str | None = None,
        max_json_bytes: int = MAX_JSON_BYTES,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ):
        self.account = Account()
        self._limiter: _RateLimiter | None = None
        self.api_key = api_key
        self.processing_seconds = processing_seconds
        self.latency = latency
        self.error_rate = error_rate
        self.ambiguous_rate = ambiguous_rate
        self.ambiguous_next = 0
        self.rate_limit = rate_limit
        self.per_page_overflow = per_page_overflow
        self.upload_base_url = upload_base_url
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes
        self.base_url = ""  # set by the server once it knows its port
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._log: list[LogEntry] = []
        self._log_lock = threading.Lock()
        self.url_map = Map(
            [
                Rule("/v3/orders/", methods=["POST"], endpoint="create_order"),
                Rule("/v3/orders/", methods=["GET"], endpoint="list_orders"),
                Rule("/v3/orders/<id>", methods=["GET"], endpoint="retrieve_order"),
                Rule("/v3/orders/<id>", methods=["PATCH"], endpoint="update_order"),
                Rule("/v3/orders/<id>", methods=["DELETE"], endpoint="delete_order"),
                Rule("/v3/images/", methods=["POST"], endpoint="create_image"),
                Rule("/v3/images/<id>", methods=["GET"], endpoint="retrieve_image"),
                Rule("/v3/images/<id>", methods=["DELETE"], endpoint="delete_image"),
                Rule("/v3/images/<id>/enhanced", methods=["GET"], endpoint="download_enhanced"),
                Rule("/v3/images/<id>/original", methods=["GET"], endpoint="download_original"),
                Rule("/v3/images/<id>/preview", methods=["GET"], endpoint="download_preview"),
                Rule("/v3/images/<id>/watermark", methods=["GET"], endpoint="download_watermark"),
                Rule("/_uploads/<id>", methods=["PUT"], endpoint="upload"),
                Rule("/_sandbox/health", methods=["GET"], endpoint="health"),
            ],
            strict_slashes=False,
            merge_slashes=False,
        )
        # endpoint -> (handler, needs_key, is_write)
        self._views: dict[str, tuple[Callable[..., Response], bool, bool]] = {
            "create_order": (self.create_order, True, True),
            "list_orders": (self.list_orders, True, False),
            "retrieve_order": (self.retrieve_order, False, False),
            "update_order": (self.update_order, True, True),
            "delete_order": (self.delete_order, True, True),
            "create_image": (self.create_image, True, True),
            "retrieve_image": (self.retrieve_image, False, False),
            "delete_image": (self.delete_image, True, True),
            "download_enhanced": (self.download_enhanced, True, False),
            "download_original": (self.download_original, True, False),
            "download_preview": (self.download_preview, False, False),
            "download_watermark": (self.download_preview, False, False),
            "upload": (self.upload, False, True),
            "health": (self.health, False, False),
        }

    # -- knobs ----------------------------------------------------------------
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
        self._limiter = _RateLimiter(value) if value else None

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

    def _take_ambiguous_next(self) -> bool:
        with self._rng_lock:
            if self.ambiguous_next > 0:
                self.ambiguous_next -= 1
                return True
            return False

    def _chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < rate

    # -- request log ----------------------------------------------------------
    @property
    def request_log(self) -> list[LogEntry]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, entry: LogEntry) -> None:
        with self._log_lock:
            self._log.append(entry)

    # -- WSGI -----------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        # Route on the raw path, split into segments before decoding, so that an id
        # holding an encoded "/" (%2F) stays one segment, as the client sent it.
        raw_path = (
            urlsplit(environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.path).path
            or "/"
        )
        endpoint, params = None, {}
        had_key = bool(request.headers.get("x-api-key"))
        try:
            try:
                adapter = self.url_map.bind("sandbox", path_info=raw_path)
                endpoint, raw_params = adapter.match(raw_path, method=request.method)
                params = {k: unquote(v, errors="strict") for k, v in raw_params.items()}
            except (NotFound, UnicodeDecodeError):
                raise ApiError(404) from None
            except MethodNotAllowed:
                raise ApiError(405) from None
            response = self._dispatch(request, endpoint, params)
        except ApiError as err:
            response = json_response(
                {"detail": err.detail, "message": err.message}, err.status, err.headers
            )
        except ClientDisconnected:  # the body stopped coming (stalled past the timeout)
            response = json_response(
                {"detail": {}, "message": "Request Timeout: the body did not arrive in full"}, 408
            )
        except HTTPException as exc:
            code = exc.code or 400
            response = json_response({"detail": {}, "message": _REASONS.get(code, "Error")}, code)
        except OSError:
            response = json_response({"detail": {}, "message": "Request Timeout"}, 408)
        except Exception:  # a sandbox bug: say so in the API's shape, never an HTML page
            _log.exception("sandbox: error answering %s %s", request.method, raw_path)
            response = json_response({"detail": {}, "message": "Internal Server Error"}, 500)
        self._drain(request, response)
        self._record(
            LogEntry(
                request.method,
                raw_path,
                endpoint,
                params,
                response.status_code,
                had_key,
                request.headers.get("x-api-version"),
                environ.get(CONNECTION_KEY),
            )
        )
        return response(environ, start_response)

    def _drain(self, request: Request, response: Response) -> None:
        """Read what is left of a refused body (say, an upload over the limit) so the
        client, still sending, gets to read the answer instead of a reset connection,
        and the connection stays usable. Past a cap, close the connection instead."""
        chunked = bool(request.environ.get("wsgi.input_terminated"))
        length = request.content_length or 0
        if not length and not chunked:
            return
        if length > DRAIN_CAP_BYTES:
            response.headers["Connection"] = "close"
            return
        read = 0
        try:
            while chunk := request.stream.read(1024 * 1024):
                read += len(chunk)
                if read > DRAIN_CAP_BYTES:
                    response.headers["Connection"] = "close"
                    return
        except (OSError, HTTPException):
            response.headers["Connection"] = "close"

    def _dispatch(self, request: Request, endpoint: str, params: dict) -> Response:
        if self.latency:
            time.sleep(self.latency)
        handler, needs_key, is_write = self._views[endpoint]
        if endpoint == "health":
            return handler(request, **params)
        if self._limiter is not None:
            wait = self._limiter.take()
            if wait:
                raise ApiError(
                    429, "Too Many Requests", headers={"Retry-After": str(max(1, math.ceil(wait)))}
                )
        if self._chance(self.error_rate):
            raise ApiError(503, "Service Unavailable (sandbox error_rate)")
        if needs_key:
            self._check_key(request)
        response = handler(request, **params)
        if (
            is_write
            and response.status_code < 300
            and (self._take_ambiguous_next() or self._chance(self.ambiguous_rate))
        ):
            # The change is committed; only the answer is lost on the way back.
            raise ApiError(502, "Bad Gateway (sandbox ambiguous_rate)")
        return response

    def _check_key(self, request: Request) -> None:
        key = request.headers.get("x-api-key", "")
        if not key.strip() or (self.api_key is not None and key != self.api_key):
            raise ApiError(401)

    # -- body parsing ---------------------------------------------------------
    def _json_body(self, request: Request, *, required: bool) -> dict:
        length = request.content_length
        if length is not None and length > self.max_json_bytes:
            raise ApiError(413, f"Request body is larger than {self.max_json_bytes} bytes.")
        raw = request.stream.read(self.max_json_bytes + 1)
        if len(raw) > self.max_json_bytes:
            raise ApiError(413, f"Request body is larger than {self.max_json_bytes} bytes.")
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
        if not isinstance(data, dict):
            raise Invalid("json", {"_schema": ["Invalid input type."]})
        return data

    # -- orders ---------------------------------------------------------------
    @staticmethod
    def _order_fields(data: dict) -> dict:
        errors: dict[str, list[str]] = {}
        for key in data:
            if key not in ("name", "order_id"):
                errors[key] = ["Unknown field."]
        name = data.get("name")
        if "name" in data and not isinstance(name, str):
            errors["name"] = ["Not a valid string."]
        if "order_id" in data:
            oid = data["order_id"]
            problem = None
            if not isinstance(oid, str):
                problem = "Not a valid string."
            elif not oid.strip():
                problem = "Must not be empty."
            elif len(oid) > MAX_ORDER_ID_LENGTH:
                problem = f"Longer than maximum length {MAX_ORDER_ID_LENGTH}."
            elif any(ord(c) < 32 or ord(c) == 127 for c in oid):
                problem = "Must not contain control characters."
            elif oid in (".", ".."):
                problem = "Not a valid order id."
            if problem:
                errors["order_id"] = [problem]
        if errors:
            raise Invalid("json", errors)
        return data

    def create_order(self, request: Request) -> Response:
        data = self._order_fields(self._json_body(request, required=False))
        try:
            order = self.account.create_order(data.get("name"), data.get("order_id"))
        except Conflict:
            raise ApiError(
                DUPLICATE_ORDER_STATUS, DUPLICATE_ORDER_MESSAGE, {"order_id": data.get("order_id")}
            ) from None
        return json_response(order)

    def list_orders(self, request: Request) -> Response:
        args = request.args
        errors: dict[str, list[str]] = {}
        per_page = 5
        if "per_page" in args:
            try:
                per_page = int(args["per_page"])
            except ValueError:
                errors["per_page"] = ["Not a valid integer."]
            else:
                if per_page < 1:
                    errors["per_page"] = ["Must be greater than or equal to 1."]
                elif per_page > 15:
                    if self.per_page_overflow == "reject":
                        errors["per_page"] = ["Must be less than or equal to 15."]
                    else:
                        per_page = 15
        offset = args.get("offset") or None
        if offset is not None and offset != "0":
            try:
                decode_offset(offset)
            except ValueError:
                errors["offset"] = ["Not a valid page token."]
        elif offset == "0":
            offset = None  # docs render the first page's offset as 0
        if errors:
            raise Invalid("query", errors)
        orders, next_offset = self.account.list_orders(per_page, offset)
        return json_response(
            {"orders": orders, "pagination": {"next_offset": next_offset, "per_page": per_page}}
        )

    def retrieve_order(self, request: Request, id: str) -> Response:
        order = self.account.get_order(id)
        if order is None:
            raise ApiError(404)
        return json_response(order)

    def update_order(self, request: Request, id: str) -> Response:
        data = self._order_fields(self._json_body(request, required=False))
        if "order_id" in data and data["order_id"] != id:
            raise Invalid("json", {"order_id": ["The order_id of an order cannot change."]})
        order = self.account.update_order(id, data.get("name"))
        if order is None:
            raise ApiError(404)
        return json_response(order)

    def delete_order(self, request: Request, id: str) -> Response:
        if not self.account.delete_order(id):
            raise ApiError(404)
        return Response(status=204)

    # -- images ---------------------------------------------------------------
    @staticmethod
    def _image_fields(data: dict) -> dict:
        errors: dict[str, list[str]] = {}

        def check(key: str, ok: Callable[[Any], bool], message: str) -> None:
            if key in data and not ok(data[key]):
                errors[key] = [message]

        is_bool = lambda v: isinstance(v, bool)  # noqa: E731
        if "image_name" not in data:
            errors["image_name"] = ["Missing data for required field."]
        check("image_name", lambda v: isinstance(v, str) and v.strip() != "", "Not a valid string.")
        check(
            "order_id",
            lambda v: isinstance(v, str) and v.strip() != "" and len(v) <= MAX_ORDER_ID_LENGTH,
            "Not a valid order id.",
        )
        check(
            "ai_version",
            lambda v: v in _AI_VERSIONS,
            "Must be one of: " + ", ".join(_AI_VERSIONS) + ".",
        )
        check(
            "enhance_type",
            lambda v: v in _ENHANCE_TYPES,
            "Must be one of: " + ", ".join(_ENHANCE_TYPES) + ".",
        )
        check(
            "cloud_type",
            lambda v: v in _CLOUD_TYPES,
            "Must be one of: CLEAR, LOW_CLOUD, HIGH_CLOUD.",
        )
        for key in (
            "enhance",
            "lens_correction",
            "vertical_correction",
            "sky_replacement",
            "threesixty",
            "upscale",
        ):
            check(key, is_bool, "Not a valid boolean.")
        for key in ("privacy", "window_pull"):
            check(key, lambda v: v is None or isinstance(v, bool), "Not a valid boolean.")
        check(
            "rating",
            lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 5,
            "Must be greater than or equal to 0 and less than or equal to 5.",
        )
        check("metadata", lambda v: isinstance(v, dict), "Not a valid mapping type.")
        check(
            "finetune_settings",
            lambda v: v is None or isinstance(v, dict),
            "Not a valid mapping type.",
        )
        if errors:
            raise Invalid("json", errors)
        return data

    def create_image(self, request: Request) -> Response:
        data = self._image_fields(self._json_body(request, required=True))
        options = {k: v for k, v in data.items() if k not in ("image_name", "order_id")}
        try:
            image = self.account.create_image(data["image_name"], data.get("order_id"), options)
        except NameRateLimited:
            raise ApiError(
                429,
                "Too many images created with this name in the last hour.",
                headers={"Retry-After": "3600"},
            ) from None
        body = self.account.get_image(image.image_id)
        assert body is not None  # just created, under no other lock
        base = (self.upload_base_url or self.base_url).rstrip("/")
        body["upload_url"] = f"{base}/_uploads/{image.image_id}?token={image.upload_token}"
        return json_response(body)

    def retrieve_image(self, request: Request, id: str) -> Response:
        image = self.account.get_image(id)
        if image is None:
            raise ApiError(404)
        return json_response(image)

    def delete_image(self, request: Request, id: str) -> Response:
        if not self.account.delete_image(id):
            raise ApiError(404)
        return Response(status=204)

    def upload(self, request: Request, id: str) -> Response:
        # Behaves like a pre-signed storage URL: no API key, a token in the URL,
        # the content type it was signed for, raw bytes as the body.
        length = request.content_length
        if length is None and request.headers.get("Transfer-Encoding", "").lower() != "chunked":
            raise ApiError(411, "Content-Length is required.")
        if length is not None and length > self.max_upload_bytes:
            raise ApiError(413, f"Uploads are limited to {self.max_upload_bytes} bytes.")
        if request.mimetype != "application/octet-stream":
            raise ApiError(
                403,
                "SignatureDoesNotMatch: the upload URL was signed for "
                "Content-Type application/octet-stream.",
            )
        data = request.stream.read(self.max_upload_bytes + 1)
        if len(data) > self.max_upload_bytes:
            raise ApiError(413, f"Uploads are limited to {self.max_upload_bytes} bytes.")
        outcome = self.account.upload(id, request.args.get("token"), data)
        if outcome == "not_found":
            raise ApiError(404)
        if outcome == "forbidden":
            raise ApiError(403, "AccessDenied: the upload token is missing or wrong.")
        return Response(b"", status=200)

    def _download_args(self, request: Request) -> dict:
        args = request.args
        errors: dict[str, list[str]] = {}

        def number(key: str, cast, low, high) -> None:
            if key not in args:
                return
            try:
                value = cast(args[key])
            except ValueError:
                errors[key] = ["Not a valid number."]
                return
            if (low is not None and value < low) or (high is not None and value > high):
                errors[key] = [
                    f"Must be between {low} and {high}."
                    if high is not None
                    else f"Must be greater than or equal to {low}."
                ]

        number("quality", int, 1, 90)
        number("max_width", int, 1, None)
        number("scale", float, 0, 1)
        if "format" in args and args["format"] not in ("png", "jpeg", "webp"):
            errors["format"] = ["Must be one of: png, jpeg, webp."]
        for key in ("preview", "watermark"):
            if key in args and args[key].lower() not in ("true", "false", "1", "0"):
                errors[key] = ["Not a valid boolean."]
        if errors:
            raise Invalid("query", errors)
        return dict(args)

    def _image_bytes(self, id: str, *, enhanced: bool) -> Response:
        image = self.account.image_record(id)
        if image is None:
            raise ApiError(404)
        if image.data is None:
            raise ApiError(404, "The image has not been uploaded yet.")
        if enhanced and image.status != "processed":
            raise ApiError(404, f"The enhanced image is not ready (status {image.status}).")
        return Response(
            image.data,
            status=200,
            mimetype=image.content_type or "application/octet-stream",
            headers={"X-Sandbox-Rendition": "enhanced" if enhanced else "original"},
        )

    def download_enhanced(self, request: Request, id: str) -> Response:
        self._download_args(request)
        return self._image_bytes(id, enhanced=True)

    def download_original(self, request: Request, id: str) -> Response:
        self._download_args(request)
        return self._image_bytes(id, enhanced=False)

    def download_preview(self, request: Request, id: str) -> Response:
        return self._image_bytes(id, enhanced=True)

    def health(self, request: Request) -> Response:
        return json_response({"status": "ok", "orders": self.account.order_count()})
