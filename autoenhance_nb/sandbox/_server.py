"""The sandbox's HTTP server: werkzeug's threaded WSGI server with an HTTP/1.1
keep-alive request handler, quiet by default, with its open connections tracked so
that ``stop()`` really cuts clients off.

werkzeug's own handler answers every request with ``Connection: close`` (it cannot
tell where an unread request body ends). This one wraps the body so it knows whether
the application read it all, sends a Content-Length with every answer, and keeps the
connection open unless the body was left unread, the client asked to close, or the
application said ``Connection: close``.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from ._settings import SandboxSettings

_log = logging.getLogger("autoenhance_nb.sandbox")

#: environ key holding the number of the connection a request came on (1, 2, ...).
CONNECTION_KEY = "autoenhance_sandbox.connection"


class _Body(io.RawIOBase):
    """``wsgi.input`` that never reads past the request body and knows whether the
    application read all of it (so the next request on the connection starts where
    it should)."""

    def __init__(self, raw: Any, length: int | None, chunked: bool):
        self._raw = raw
        self._chunked = chunked
        self._remaining = 0 if chunked else (length or 0)
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._chunked:
            n = self._raw.readinto(buffer)
            if not n:
                self._eof = True
            return n or 0
        if self._remaining <= 0:
            return 0
        view = memoryview(buffer)[: self._remaining]
        n = self._raw.readinto(view)
        if not n:  # the client went away mid-body
            return 0
        self._remaining -= n
        return n

    @property
    def complete(self) -> bool:
        return self._eof if self._chunked else self._remaining <= 0


class Handler(WSGIRequestHandler):
    """Keep-alive WSGI handler; logs only errors (to ``logging``) unless the server's
    settings say ``verbose``; its timeout is their ``request_timeout``."""

    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, and each answer in one write: a kept-alive connection must not wait
    # out the client's delayed ACK (40 ms a request) between headers and body
    disable_nagle_algorithm = True
    verbose = False  # without a Server's settings (werkzeug's own servers)

    def log(self, type: str, message: str, *args: Any) -> None:
        server = self.server
        verbose = server.settings.verbose if isinstance(server, Server) else self.verbose
        if verbose:
            super().log(type, message, *args)
        elif type == "error":  # to logging, where the user decides; never printed by us
            _log.warning("sandbox: " + message, *args)

    def setup(self) -> None:
        super().setup()
        server = self.server
        if isinstance(server, Server):
            # a connection that stalls (mid-request or idle) is closed after this
            self.connection.settimeout(server.settings.request_timeout)
        self.connection_number = server.connections.next() if isinstance(server, Server) else 0

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        chunked = bool(environ.get("wsgi.input_terminated"))
        try:
            length: int | None = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = None
        if length is None or length < 0:
            self._send_simple(400, "Bad Request", "Content-Length is not a number.")
            return
        body = _Body(environ["wsgi.input"], length, chunked)
        environ["wsgi.input"] = body
        environ[CONNECTION_KEY] = self.connection_number

        status: str | None = None
        headers: list[tuple[str, str]] = []

        def start_response(
            new_status: str, new_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            nonlocal status, headers
            status, headers = new_status, list(new_headers)
            return lambda data: None  # the sandbox never writes through write()

        try:
            result = self.server.app(environ, start_response)
            try:
                payload = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # the app answers its own errors; this is a last resort
            self.log("error", "error on request: %r", exc)
            self._send_simple(500, "Internal Server Error", "Internal Server Error")
            return
        if status is None:
            self._send_simple(500, "Internal Server Error", "Internal Server Error")
            return
        if not body.complete:
            # an unread body would be taken for the next request: close instead
            self.close_connection = True
        self._send(status, headers, payload)

    def _send_simple(self, code: int, reason: str, message: str) -> None:
        self.close_connection = True
        payload = json.dumps({"detail": {}, "message": message}).encode()
        self._send(f"{code} {reason}", [("Content-Type", "application/json")], payload)

    def _send(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        out = [(k, v) for k, v in headers if k.lower() not in ("content-length", "connection")]
        if any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
            self.close_connection = True
        try:
            self.send_response(code, reason)
            for key, value in out:
                self.send_header(key, value)
            if code >= 200 and code not in (204, 304):
                length = str(len(payload))
                if self.command == "HEAD":  # the length a GET would have had
                    length = next((v for k, v in headers if k.lower() == "content-length"), length)
                self.send_header("Content-Length", length)
            if self.close_connection:
                self.send_header("Connection", "close")
            elif self.request_version == "HTTP/1.0":
                self.send_header("Connection", "keep-alive")
            # headers and body in one write (http.server's end_headers would write twice)
            buffered: list[bytes] = getattr(self, "_headers_buffer", [])
            head = b"".join(buffered) + b"\r\n"
            buffered.clear()
            send_body = self.command != "HEAD" and code not in (204, 304)
            self.wfile.write(head + payload if send_body else head)
            self.wfile.flush()
        except (TimeoutError, ConnectionError):
            self.close_connection = True


class ConnectionCounter:
    """Numbers the accepted connections 1, 2, ...; shared by the servers one Sandbox
    runs one after another, so the numbers go on across a restart (and start again
    after a reset)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def next(self) -> int:
        with self._lock:
            self.count += 1
            return self.count

    def reset(self) -> None:
        """Number the next connection 1 again."""
        with self._lock:
            self.count = 0


class Server(ThreadedWSGIServer):
    """Tracks open connections so that ``stop()`` really cuts keep-alive clients off,
    as a server going down would, and numbers the connections it accepts."""

    def __init__(
        self,
        *args: Any,
        settings: SandboxSettings,
        connections: ConnectionCounter | None = None,
        **kwargs: Any,
    ):
        self.settings = settings  # request_timeout and verbose, read per connection
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.connections = connections or ConnectionCounter()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
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
