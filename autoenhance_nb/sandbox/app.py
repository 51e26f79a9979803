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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import validation
from .render import FORMATS, Rendition, fingerprint, merge, render, same_scene
from .server import CONNECTION_KEY
from .state import Account, Conflict, Merge, NameRateLimited, Rejected, decode_offset

_log = logging.getLogger("autoenhance_nb.sandbox")

# What the real API answers to a duplicate custom order_id is unknown (NOTES section 7);
# this is the one place to change it.
DUPLICATE_ORDER_STATUS = 409
DUPLICATE_ORDER_MESSAGE = "An order with this order_id already exists."

MAX_JSON_BYTES = 1 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_ORDER_ID_LENGTH = validation.MAX_ORDER_ID_LENGTH
RENDER_CACHE_SIZE = 32  # downloads rendered lately, kept to answer repeats at once
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
        daily_image_limit: int | None = None,
        merging_seconds: float = 2.0,
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
        self.daily_image_limit = daily_image_limit
        self.merging_seconds = merging_seconds
        self._renders: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
        self._renders_lock = threading.Lock()
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
                Rule("/v3/images/<id>/process", methods=["POST"], endpoint="reprocess_image"),
                Rule("/v3/images/<id>/report", methods=["POST"], endpoint="report_image"),
                Rule("/v3/brackets/", methods=["POST"], endpoint="create_bracket"),
                Rule("/v3/orders/<order_id>/brackets", methods=["GET"], endpoint="order_brackets"),
                Rule("/v3/orders/<id>/process", methods=["POST"], endpoint="process_order"),
                Rule("/_uploads/<id>", methods=["PUT"], endpoint="upload"),
                Rule("/_uploads/brackets/<id>", methods=["PUT"], endpoint="upload_bracket"),
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
            "download_watermark": (self.download_watermark, False, False),
            "reprocess_image": (self.reprocess_image, True, True),
            "report_image": (self.report_image, True, True),
            "create_bracket": (self.create_bracket, True, True),
            "order_brackets": (self.order_brackets, False, False),
            "process_order": (self.process_order, True, True),
            "upload": (self.upload, False, True),
            "upload_bracket": (self.upload_bracket, False, True),
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
    def _upload_url(self, kind: str, id: str, token: str) -> str:
        base = (self.upload_base_url or self.base_url).rstrip("/")
        return f"{base}/_uploads/{kind}{id}?token={token}"

    def create_image(self, request: Request) -> Response:
        data = self._json_body(request, required=True)
        errors = validation.image_errors(data, create=True)
        if errors:
            raise Invalid("json", errors)
        content_type = next(
            (data[k] for k in validation.CONTENT_TYPE_KEYS if k in data),
            "application/octet-stream",
        )
        options = {
            k: v
            for k, v in data.items()
            if k not in ("image_name", "order_id", *validation.CONTENT_TYPE_KEYS)
        }
        try:
            body = self.account.create_image(
                data["image_name"], data.get("order_id"), options, content_type
            )
        except NameRateLimited:
            raise ApiError(
                429,
                "Too many images created with this name in the last hour.",
                headers={"Retry-After": "3600"},
            ) from None
        body["upload_url"] = self._upload_url("", body["image_id"], body.pop("upload_token"))
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

    def reprocess_image(self, request: Request, id: str) -> Response:
        data = self._json_body(request, required=False)
        errors = validation.image_errors(data, create=False)
        if errors:
            raise Invalid("json", errors)
        current = self.account.get_image(id)
        if current is None:
            raise ApiError(404)
        if "order_id" in data and data["order_id"] != current["order_id"]:
            raise Invalid("json", {"order_id": ["The order of an image cannot change."]})
        # SDK 1.1.0's wrapper also sends the path's ``id`` in the body: not an option
        ignored = ("id", *validation.CONTENT_TYPE_KEYS)
        options = {k: v for k, v in data.items() if k not in ignored}
        try:
            image = self.account.reprocess(id, options)
        except Rejected as exc:
            raise Invalid("json", exc.errors) from None
        if image is None:  # deleted meanwhile
            raise ApiError(404)
        return json_response(image)

    def report_image(self, request: Request, id: str) -> Response:
        data = self._json_body(request, required=True)
        errors = validation.report_errors(data)
        if errors:
            raise Invalid("json", errors)
        report = self.account.report(
            id, data["categories"], data.get("comment"), data.get("score"), data.get("source")
        )
        if report is None:
            raise ApiError(404)
        return json_response({"message": "Thank you: the report has been received."})

    def _read_upload(self, request: Request, expected_type: str) -> bytes:
        """The body of a PUT to a pre-signed URL: a length, the signed Content-Type."""
        length = request.content_length
        if length is None and request.headers.get("Transfer-Encoding", "").lower() != "chunked":
            raise ApiError(411, "Content-Length is required.")
        if length is not None and length > self.max_upload_bytes:
            raise ApiError(413, f"Uploads are limited to {self.max_upload_bytes} bytes.")
        if request.mimetype != expected_type.lower():
            raise ApiError(
                403,
                "SignatureDoesNotMatch: the upload URL was signed for "
                f"Content-Type {expected_type}.",
            )
        data = request.stream.read(self.max_upload_bytes + 1)
        if len(data) > self.max_upload_bytes:
            raise ApiError(413, f"Uploads are limited to {self.max_upload_bytes} bytes.")
        return data

    def upload(self, request: Request, id: str) -> Response:
        # Behaves like a pre-signed storage URL: no API key, a token in the URL, the
        # content type it was signed for (the image's contentType, by default
        # application/octet-stream), raw bytes as the body.
        expected = self.account.upload_content_type(id)
        data = self._read_upload(request, expected or "application/octet-stream")
        outcome = self.account.upload(id, request.args.get("token"), data)
        if outcome == "not_found":
            raise ApiError(404)
        if outcome == "forbidden":
            raise ApiError(403, "AccessDenied: the upload token is missing or wrong.")
        return Response(b"", status=200)

    # -- downloads --------------------------------------------------------------
    def _rendition(self, request: Request, *, enhanced: bool, preview_default: bool) -> Rendition:
        args = request.args
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}

        def number(key: str, cast: Callable[[str], Any], low: float, high: float | None) -> None:
            if key not in args:
                return
            try:
                value = cast(args[key])
            except ValueError:
                errors[key] = ["Not a valid number."]
                return
            if not math.isfinite(value) or value < low or (high is not None and value > high):
                errors[key] = [
                    f"Must be between {low} and {high}."
                    if high is not None
                    else f"Must be greater than or equal to {low}."
                ]
                return
            values[key] = value

        def boolean(key: str, default: bool) -> bool:
            raw = args.get(key)
            if raw is None:
                return default
            if raw.lower() in ("true", "1"):
                return True
            if raw.lower() in ("false", "0"):
                return False
            errors[key] = ["Not a valid boolean."]
            return default

        number("quality", int, 1, 90)
        number("max_width", int, 1, None)
        number("scale", float, 0, 1)
        fmt = args.get("format")
        if fmt is not None and fmt not in FORMATS:
            errors["format"] = ["Must be one of: " + ", ".join(FORMATS) + "."]
        preview = boolean("preview", preview_default)
        mark = boolean("watermark", False)
        if errors:
            raise Invalid("query", errors)
        dev_mode = request.headers.get("x-dev-mode", "").strip().lower() == "true"
        return Rendition(
            enhanced=enhanced,
            format=fmt,
            quality=values.get("quality"),
            max_width=values.get("max_width"),
            scale=values.get("scale"),
            preview=preview,
            watermark=mark or (enhanced and dev_mode),
        )

    def _picture(self, id: str, rendition: Rendition) -> Response:
        snap = self.account.snapshot(id)
        if snap is None:
            raise ApiError(404)
        if snap.data is None:
            raise ApiError(404, "The image has not been uploaded yet.")
        if rendition.enhanced and snap.status != "processed":
            raise ApiError(404, f"The enhanced image is not ready (status {snap.status}).")
        key = (snap.image_id, snap.revision, rendition)
        with self._renders_lock:
            cached = self._renders.get(key)
            if cached is not None:
                self._renders.move_to_end(key)
        if cached is None:
            try:
                cached = render(snap.data, snap.content_type, snap.options, rendition)
            except Exception:  # never a 500 for a picture: fall back to the stored bytes
                _log.exception("sandbox: could not render image %s", id)
                cached = (snap.data, snap.content_type or "application/octet-stream")
            with self._renders_lock:
                self._renders[key] = cached
                while len(self._renders) > RENDER_CACHE_SIZE:
                    self._renders.popitem(last=False)
        payload, mimetype = cached
        kind = "enhanced" if rendition.enhanced else "original"
        if rendition.preview:
            kind += "; preview"
        if rendition.watermark or rendition.preview:
            kind += "; watermark"
        return Response(
            payload, status=200, mimetype=mimetype, headers={"X-Sandbox-Rendition": kind}
        )

    def download_enhanced(self, request: Request, id: str) -> Response:
        rendition = self._rendition(request, enhanced=True, preview_default=True)
        response = self._picture(id, rendition)
        dev_mode = request.headers.get("x-dev-mode", "").strip().lower() == "true"
        if not rendition.preview and not dev_mode and request.method == "GET":
            # the full-size enhanced image is bought (docs: preview=false uses a credit)
            self.account.mark_downloaded(id)
        return response

    def download_original(self, request: Request, id: str) -> Response:
        return self._picture(id, self._rendition(request, enhanced=False, preview_default=False))

    def download_preview(self, request: Request, id: str) -> Response:
        return self._picture(id, Rendition(enhanced=True, preview=True, watermark=True))

    def download_watermark(self, request: Request, id: str) -> Response:
        return self._picture(id, Rendition(enhanced=True, watermark=True))

    # -- brackets (HDR) ---------------------------------------------------------
    def create_bracket(self, request: Request) -> Response:
        data = self._json_body(request, required=True)
        errors = validation.bracket_errors(data)
        if errors:
            raise Invalid("json", errors)
        body = self.account.create_bracket(
            data["order_id"], data["name"], data.get("metadata") or {}
        )
        if body is None:
            raise ApiError(404, "The order does not exist.")
        body["upload_url"] = self._upload_url(
            "brackets/", body["bracket_id"], body.pop("upload_token")
        )
        return json_response(body)

    def upload_bracket(self, request: Request, id: str) -> Response:
        data = self._read_upload(request, "application/octet-stream")
        # outside the account's lock: decoding a picture may take a moment
        signature = fingerprint(data)
        outcome = self.account.upload_bracket(id, request.args.get("token"), data, signature)
        if outcome == "not_found":
            raise ApiError(404)
        if outcome == "forbidden":
            raise ApiError(403, "AccessDenied: the upload token is missing or wrong.")
        return Response(b"", status=200)

    def order_brackets(self, request: Request, order_id: str) -> Response:
        brackets = self.account.order_brackets(order_id)
        if brackets is None:
            raise ApiError(404)
        return json_response({"brackets": brackets})

    def process_order(self, request: Request, id: str) -> Response:
        data = self._json_body(request, required=False)
        errors = validation.process_errors(data)
        if errors:
            raise Invalid("json", errors)
        images = data.get("images")
        groups = [g["bracket_ids"] for g in images] if images else None
        options = {k: data[k] for k in validation.PROCESS_OPTION_KEYS if k in data}
        try:
            planned = self.account.plan_merge(
                id, groups, data.get("number_of_brackets_per_image") or None, same_scene
            )
        except Rejected as exc:
            raise Invalid("json", exc.errors) from None
        if planned is None:
            raise ApiError(404)
        merges = []
        for group in planned:  # the merge itself runs outside the account's lock
            try:
                merged = merge([data for _, _, data in group])
            except Exception:
                _log.exception("sandbox: could not merge brackets of order %s", id)
                merged = None
            merges.append(
                Merge(
                    bracket_ids=[bracket_id for bracket_id, _, _ in group],
                    name=group[0][1],
                    data=merged if merged is not None else group[0][2],
                    options=options,
                )
            )
        order = self.account.start_merge(id, merges)
        if order is None:
            raise ApiError(404)
        return json_response(order)

    def health(self, request: Request) -> Response:
        return json_response({"status": "ok", "orders": self.account.order_count()})
