"""A local, stateful emulator of the Autoenhance v3 API (the "sandbox").

    with Sandbox(processing_seconds=0) as sb:
        requests.post(sb.url + "/v3/orders", json={"name": "Kitchen"},
                      headers={"x-api-key": "anything"})

It binds 127.0.0.1 on a free port and serves from a background thread. It shares no
code with ``autoenhance_nb.client`` so that each checks the other honestly.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from .app import (DUPLICATE_ORDER_STATUS, MAX_JSON_BYTES, MAX_UPLOAD_BYTES, LogEntry,
                  SandboxApp)

__all__ = ["Sandbox", "LogEntry", "DUPLICATE_ORDER_STATUS", "DEFAULT_KEY"]

_log = logging.getLogger("autoenhance_nb.sandbox")

#: The key the CLI prints for clients when the sandbox accepts any key.
DEFAULT_KEY = "sandbox"


class _QuietHandler(WSGIRequestHandler):
    """werkzeug logs every request to stderr by default; a notebook does not want that."""

    verbose = False

    def log(self, type: str, message: str, *args: Any) -> None:
        if self.verbose:
            super().log(type, message, *args)
        elif type == "error":  # to logging, where the user decides; never printed by us
            _log.warning("sandbox: " + message, *args)


class _Server(ThreadedWSGIServer):
    """Tracks open connections so that ``stop()`` really cuts keep-alive clients off,
    as a server going down would."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):  # type: ignore[override]
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Sandbox:
    """Run the emulator. Every keyword is also an attribute you may change while it
    runs (``sb.error_rate = 0.5``).

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
    request_timeout: seconds a connection may stall (mid-request or idle) before the
        sandbox closes it, so a half-sent body never holds a thread forever.
    """

    _KNOBS = ("api_key", "latency", "error_rate", "ambiguous_rate", "ambiguous_next",
              "rate_limit",
              "processing_seconds", "per_page_overflow", "upload_base_url",
              "max_json_bytes", "max_upload_bytes")

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
                 processing_seconds: float = 2.0, latency: float = 0.0,
                 error_rate: float = 0.0, ambiguous_rate: float = 0.0,
                 rate_limit: float = 0.0, seed: int | None = None,
                 per_page_overflow: str = "clamp", upload_base_url: str | None = None,
                 max_json_bytes: int = MAX_JSON_BYTES, max_upload_bytes: int = MAX_UPLOAD_BYTES,
                 request_timeout: float = 30.0, verbose: bool = False):
        for name, value in (("error_rate", error_rate), ("ambiguous_rate", ambiguous_rate)):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        for name, value in (("latency", latency), ("rate_limit", rate_limit),
                            ("processing_seconds", processing_seconds)):
            if value < 0:
                raise ValueError(f"{name} must not be negative")
        self.host = host
        self.port = port
        self.verbose = verbose
        self.request_timeout = request_timeout
        self.app = SandboxApp(
            api_key=api_key, processing_seconds=processing_seconds, latency=latency,
            error_rate=error_rate, ambiguous_rate=ambiguous_rate, rate_limit=rate_limit,
            seed=seed, per_page_overflow=per_page_overflow, upload_base_url=upload_base_url,
            max_json_bytes=max_json_bytes, max_upload_bytes=max_upload_bytes)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __getattr__(self, name: str) -> Any:
        if name in Sandbox._KNOBS:
            return getattr(self.app, name)
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Sandbox._KNOBS:
            setattr(self.app, name, value)
        else:
            super().__setattr__(name, value)

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"<Sandbox {state}>"

    # -- lifecycle ------------------------------------------------------------
    @property
    def running(self) -> bool:
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

    def start(self) -> "Sandbox":
        if self._server is not None:
            return self
        self._bind()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"autoenhance-sandbox-{self._server.server_port}",
                                        daemon=True)
        self._thread.start()
        return self

    def _bind(self) -> None:
        # a connection that stalls (mid-request or idle) is closed after request_timeout
        handler = type("Handler", (_QuietHandler,), {"verbose": self.verbose,
                                                     "timeout": self.request_timeout})
        self._server = _Server(self.host, self.port, self.app, handler=handler)
        self._server.daemon_threads = True
        self.app.base_url = self.url

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI) until KeyboardInterrupt or stop()."""
        if self._server is None:
            self._bind()
        try:
            self._server.serve_forever(poll_interval=0.1)
        finally:
            self._close()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close()

    def _close(self) -> None:
        server, self._server, self._thread = self._server, None, None
        if server is not None:
            # a later start() comes back on the same port, with the same data, so a
            # test can take the API down and bring it back under a running client
            self.port = server.server_port
            server.server_close()
            server.drop_connections()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- inspection -----------------------------------------------------------
    @property
    def orders(self) -> list[dict]:
        """Every stored order as the API would return it, oldest first."""
        return self.app.account.all_orders()

    @property
    def request_log(self) -> list[LogEntry]:
        """Every request served: method, raw path, endpoint, params, status."""
        return self.app.request_log

    def clear_log(self) -> None:
        self.app.clear_log()

    def requests_to(self, endpoint: str) -> list[LogEntry]:
        return [e for e in self.request_log if e.endpoint == endpoint]
