"""The sandbox's HTTP layer: ``SandboxApp``, a werkzeug WSGI app emulating the
Autoenhance v3 API.

Here is the core: construction, the URL map, ``__call__`` (routing on the raw path,
errors in the API's shapes), dispatch (auth, rate limit, fault injection) and the
request log. The rest is in mixins, one module each:

- ``settings.py``: the validated knobs (latency, error_rate, rate_limit, ...);
- ``endpoints_base.py``: ``ApiError``/``Invalid``, JSON bodies, pre-signed uploads;
- ``endpoints_orders.py``, ``endpoints_images.py``, ``endpoints_downloads.py`` and
  ``endpoints_brackets.py``: the endpoints, by group.

The data lives in ``state.Account``. Every name these held when they were one module
is importable from here. Imports nothing from the client.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ._server import CONNECTION_KEY
from ._settings import (
    MAX_JSON_BYTES,
    MAX_UPLOAD_BYTES,
    RateLimiter,
    count,
    fraction,
    non_negative,
    positive_int,
)
from .endpoints import (
    DUPLICATE_ORDER_MESSAGE,
    DUPLICATE_ORDER_STATUS,
    MAX_ORDER_ID_LENGTH,
    REASONS,
    RENDER_CACHE_SIZE,
    ApiError,
    BracketEndpoints,
    DownloadEndpoints,
    ImageEndpoints,
    Invalid,
    OrderEndpoints,
    json_response,
)
from .state import Account

__all__ = [
    "DRAIN_CAP_BYTES",
    "DUPLICATE_ORDER_MESSAGE",
    "DUPLICATE_ORDER_STATUS",
    "MAX_JSON_BYTES",
    "MAX_ORDER_ID_LENGTH",
    "MAX_UPLOAD_BYTES",
    "RENDER_CACHE_SIZE",
    "ApiError",
    "Invalid",
    "LogEntry",
    "SandboxApp",
    "count",
    "fraction",
    "json_response",
    "non_negative",
    "positive_int",
]

_log = logging.getLogger("autoenhance_nb.sandbox")

DRAIN_CAP_BYTES = 512 * 1024 * 1024

# their names when they were defined here
_REASONS = REASONS
_RateLimiter = RateLimiter


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


class SandboxApp(OrderEndpoints, ImageEndpoints, DownloadEndpoints, BracketEndpoints):
    """WSGI application. Every knob is a validated property (``settings.Settings``),
    read per request, so a test may change one while the server runs; a bad value
    raises ValueError at once."""

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
        self._limiter = None
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
        self._renders = OrderedDict()
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

    # -- fault injection --------------------------------------------------------
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
            response = json_response({"detail": {}, "message": REASONS.get(code, "Error")}, code)
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

    # -- sandbox-only endpoints -------------------------------------------------
    def health(self, request: Request) -> Response:
        return json_response({"status": "ok", "orders": self.account.order_count()})
