"""A local, stateful emulator of the Autoenhance v3 API (the "sandbox").

    with Sandbox(processing_seconds=0) as sb:
        requests.post(sb.url + "/v3/orders", json={"name": "Kitchen"},
                      headers={"x-api-key": "anything"})

It binds 127.0.0.1 on a free port and serves from a background thread. It shares no
code with ``autoenhance_nb.client`` so that each checks the other honestly.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar, overload

from ._app import (
    DUPLICATE_ORDER_STATUS,
    MAX_JSON_BYTES,
    MAX_UPLOAD_BYTES,
    LogEntry,
    SandboxApp,
    non_negative,
)
from ._server import ConnectionCounter, Handler, Server

__all__ = ["Sandbox", "SandboxApp", "LogEntry", "DUPLICATE_ORDER_STATUS", "DEFAULT_KEY"]

#: The key the CLI prints for clients when the sandbox accepts any key.
DEFAULT_KEY = "sandbox"

T = TypeVar("T")


class _Knob(Generic[T]):
    """A Sandbox attribute that reads and writes the app's validated property of the
    same name (so ``sb.error_rate = 5`` raises ValueError, as ``Sandbox(error_rate=5)``
    does)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Knob[T]: ...

    @overload
    def __get__(self, obj: Sandbox, owner: type | None = None) -> T: ...

    def __get__(self, obj: Sandbox | None, owner: type | None = None) -> T | _Knob[T]:
        if obj is None:
            return self
        value: T = getattr(obj.app, self.name)
        return value

    def __set__(self, obj: Sandbox, value: T) -> None:
        setattr(obj.app, self.name, value)


class Sandbox:
    """Run the emulator. Every keyword but host, port and seed is also an attribute you
    may change while it runs (``sb.error_rate = 0.5``); a bad value raises ValueError,
    at construction and at any later set.

    api_key: None accepts any non-empty key; a string accepts only that key.
    processing_seconds: how long an uploaded image stays ``processing``.
    latency: seconds added to every request.
    error_rate: fraction of requests answered 503 before doing anything.
    ambiguous_rate: fraction of successful writes committed but answered 502.
    ambiguous_next (attribute only): the next N successful writes are answered 502,
        for tests that need one lost answer at an exact point.
    rate_limit: requests per second before 429 with Retry-After (0 = off; the real
        API documents 300).
    seed: makes the faults repeat.
    per_page_overflow: "clamp" (default) or "reject" a per_page above 15.
    upload_base_url: where ``upload_url`` points (default: this sandbox).
    max_json_bytes, max_upload_bytes: larger bodies get 413.
    daily_image_limit: images a day (UTC) that may start processing; later ones end
        in ``error`` with a status_reason (the real API's default is 500). None is off.
    merging_seconds: how long an order stays ``is_merging`` after
        POST /v3/orders/{id}/process before its merged HDR images appear.
    request_timeout: seconds a connection may stall (mid-request or idle) before the
        sandbox closes it, so a half-sent body never holds a thread forever.
    verbose: log every request to stderr (werkzeug's format).
    """

    api_key = _Knob[str | None]()
    processing_seconds = _Knob[float]()
    latency = _Knob[float]()
    error_rate = _Knob[float]()
    ambiguous_rate = _Knob[float]()
    ambiguous_next = _Knob[int]()
    rate_limit = _Knob[float]()
    per_page_overflow = _Knob[str]()
    upload_base_url = _Knob[str | None]()
    max_json_bytes = _Knob[int]()
    max_upload_bytes = _Knob[int]()
    daily_image_limit = _Knob[int | None]()
    merging_seconds = _Knob[float]()

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
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
        request_timeout: float = 30.0,
        verbose: bool = False,
    ):
        self.app = SandboxApp(
            api_key=api_key,
            processing_seconds=processing_seconds,
            latency=latency,
            error_rate=error_rate,
            ambiguous_rate=ambiguous_rate,
            rate_limit=rate_limit,
            seed=seed,
            per_page_overflow=per_page_overflow,
            upload_base_url=upload_base_url,
            max_json_bytes=max_json_bytes,
            max_upload_bytes=max_upload_bytes,
            daily_image_limit=daily_image_limit,
            merging_seconds=merging_seconds,
        )
        self.host = host
        self.port = port
        self._handler: type[Handler] | None = None
        self.request_timeout = request_timeout
        self.verbose = verbose
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._serving = False
        self._connections = ConnectionCounter()

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"<Sandbox {state}>"

    # -- server settings --------------------------------------------------------
    @property
    def request_timeout(self) -> float:
        """Seconds a connection may stall (mid-request or idle) before it is closed.
        A change applies to connections opened afterwards."""
        return self._request_timeout

    @request_timeout.setter
    def request_timeout(self, value: float) -> None:
        value = non_negative("request_timeout", value)
        if value == 0:
            raise ValueError("request_timeout must be greater than 0")
        self._request_timeout = value
        if self._handler is not None:
            self._handler.timeout = value

    @property
    def verbose(self) -> bool:
        """Log every request to stderr."""
        return self._verbose

    @verbose.setter
    def verbose(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"verbose must be True or False, not {value!r}")
        self._verbose = value
        if self._handler is not None:
            self._handler.verbose = value

    # -- lifecycle ------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from bind() (or start()) until stop()."""
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._server.server_port}"

    def bind(self) -> Sandbox:
        """Open the listening socket (so ``url`` is known) without serving yet; then
        call start() or serve_forever(). Binding twice is harmless. Raises OSError
        when the port is taken."""
        if self._server is not None:
            return self
        # a connection that stalls (mid-request or idle) is closed after request_timeout
        handler: type[Handler] = type(
            "Handler",
            (Handler,),
            {"verbose": self.verbose, "timeout": self.request_timeout},
        )
        server = Server(
            self.host, self.port, self.app, handler=handler, connections=self._connections
        )
        server.daemon_threads = True
        self._handler, self._server = handler, server
        self.app.base_url = self.url
        return self

    def start(self) -> Sandbox:
        """Bind if needed and serve from a background thread."""
        if self._serving:
            return self
        server = self._bind_server()
        self._serving = True
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"autoenhance-sandbox-{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI) until KeyboardInterrupt or stop();
        binds first if bind() was not called."""
        server = self._bind_server()
        self._serving = True
        try:
            server.serve_forever(poll_interval=0.1)
        finally:
            self._close()

    def _bind_server(self) -> Server:
        self.bind()
        assert self._server is not None
        return self._server

    def stop(self) -> None:
        """Stop serving and cut every open connection; a later start() comes back
        on the same port with the same data."""
        if self._server is None:
            return
        if self._serving:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close()

    def _close(self) -> None:
        server, self._server, self._thread, self._handler = self._server, None, None, None
        self._serving = False
        if server is not None:
            # a later start() comes back on the same port, with the same data, so a
            # test can take the API down and bring it back under a running client
            self.port = server.server_port
            server.server_close()
            server.drop_connections()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- inspection -----------------------------------------------------------
    @property
    def orders(self) -> list[dict]:
        """Every stored order as the API would return it, oldest first."""
        return self.app.account.all_orders()

    @property
    def connections_opened(self) -> int:
        """How many TCP connections the sandbox has accepted (across restarts). With
        HTTP/1.1 keep-alive, one ``requests.Session`` reuses one connection."""
        return self._connections.count

    @property
    def request_log(self) -> list[LogEntry]:
        """Every request served: method, raw path, endpoint, params, status."""
        return self.app.request_log

    @property
    def reports(self) -> list[dict]:
        """Every POST /v3/images/{id}/report received, oldest first: image_id,
        order_id, categories, comment, score, source, created_at."""
        return self.app.account.reports()

    def clear_log(self) -> None:
        self.app.clear_log()

    def requests_to(self, endpoint: str) -> list[LogEntry]:
        return [e for e in self.request_log if e.endpoint == endpoint]
