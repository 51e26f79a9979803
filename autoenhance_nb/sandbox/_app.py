"""The sandbox's HTTP layer: ``SandboxApp``, a werkzeug WSGI app emulating the
Autoenhance v3 API.

It holds the settings (``SandboxSettings``), the account (``state.Account``), the
faults (``_faults.Faults``), the webhook sender (``_webhooks``) and the request log,
and gives the account and the settings to one endpoints object per resource
(``endpoints``), whose routes make its URL map. Here are ``__call__`` (routing on the
raw path, errors in the API's shapes) and dispatch (auth, rate limit, fault
injection). Imports nothing from the client.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ._faults import Faults
from ._server import CONNECTION_KEY
from ._settings import SandboxSettings
from ._webhooks import WebhookSender
from .endpoints import (
    REASONS,
    ApiError,
    BracketEndpoints,
    DownloadEndpoints,
    Endpoints,
    ImageEndpoints,
    OrderEndpoints,
    Route,
    json_response,
)
from .state import Account

_log = logging.getLogger("autoenhance_nb.sandbox")

DRAIN_CAP_BYTES = 512 * 1024 * 1024


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


class SandboxApp:
    """WSGI application. ``settings`` are read per request, so a test may change one
    while the server runs (a bad value raises ValueError at once)."""

    def __init__(self, settings: SandboxSettings | None = None):
        self.settings = settings if settings is not None else SandboxSettings()
        self.account = Account(self.settings)
        self.faults = Faults(self.settings)
        self.webhooks = WebhookSender(self.settings, self.account)
        self.base_url = ""  # set by the server once it knows its port
        self._log: list[LogEntry] = []
        self._log_lock = threading.Lock()
        self.endpoints: list[Endpoints] = [
            cls(self.account, self.settings, lambda: self.base_url)
            for cls in (OrderEndpoints, ImageEndpoints, DownloadEndpoints, BracketEndpoints)
        ]
        routes = [route for group in self.endpoints for route in group.routes()]
        routes.append(Route("/_sandbox/health", "GET", "health", self.health, False))
        self._routes = {route.endpoint: route for route in routes}
        self.url_map = Map(
            [Rule(r.rule, methods=[r.method], endpoint=r.endpoint) for r in routes],
            strict_slashes=False,
            merge_slashes=False,
        )

    def reset(self) -> None:
        """Back to a new sandbox's state, without touching the settings: no orders,
        images, brackets or reports, an empty request log, fresh faults (the rate-limit
        bucket full, the random sequence restarted from the seed, no lost answer
        pending) and no cached renders."""
        self.account.clear()
        self.faults.reset()
        self.webhooks.reset()
        for group in self.endpoints:
            group.reset()
        self.clear_log()

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
        if self.settings.latency:
            time.sleep(self.settings.latency)
        route = self._routes[endpoint]
        if endpoint == "health":
            return route.handler(request, **params)
        wait = self.faults.wait()
        if wait:
            raise ApiError(
                429, "Too Many Requests", headers={"Retry-After": str(max(1, math.ceil(wait)))}
            )
        if self.faults.error():
            raise ApiError(503, "Service Unavailable (sandbox error_rate)")
        if route.needs_key:
            self._check_key(request)
        response = route.handler(request, **params)
        if route.is_write and response.status_code < 300 and self.faults.lose_answer():
            # The change is committed; only the answer is lost on the way back.
            raise ApiError(502, "Bad Gateway (sandbox ambiguous_rate)")
        return response

    def _check_key(self, request: Request) -> None:
        key = request.headers.get("x-api-key", "")
        api_key = self.settings.api_key
        if not key.strip() or (api_key is not None and key != api_key):
            raise ApiError(401)

    # -- sandbox-only endpoints -------------------------------------------------
    def health(self, request: Request) -> Response:
        return json_response({"status": "ok", "orders": self.account.orders.count()})
