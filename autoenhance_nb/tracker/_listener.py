"""Receivers feeding a tracker's ``Events``: ``WebhookListener``, a small local HTTP
server (stdlib ``http.server``) a notebook starts with ``tracker.listen(...)`` for the
sandbox or a tunnel, and ``EventFollower``, which tails the desk's event log
(``EventLog``). No widgets, no IPython."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._eventlog import EventLog
from ._events import DEFAULT_HEADER, MAX_EVENT_BYTES, Events, Refused, check_auth, receive

__all__ = ["EventFollower", "WebhookListener"]

log = logging.getLogger("autoenhance_nb")

DEFAULT_PATH = "/autoenhance-webhook"
FOLLOW_SECONDS = 0.1
READ_TIMEOUT = 10.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # quiet: logging decides
        log.debug("webhook listener: " + format, *args)

    def _answer(self, status: int, payload: dict[str, Any], close: bool = False) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        listener = self.server.listener
        if self.path.split("?", 1)[0] != listener.path:
            self._answer(404, {"message": "not found"}, close=True)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        given = self.headers.get(listener.header)
        try:
            if length < 0:
                raise Refused(400, "Content-Length is not a number")
            if length > MAX_EVENT_BYTES:  # refused unread (after the auth check)
                check_auth(given, listener.auth)
                raise Refused(413, f"the body is over {MAX_EVENT_BYTES} bytes")
            event = receive(self.rfile.read(length), given, listener.auth)
        except Refused as refused:
            listener.refused += 1
            self._answer(refused.status, {"message": refused.message}, close=length > 0)
            return
        listener.received += 1
        listener.events.submit(event)
        self._answer(200, {"ok": True})

    def _not_allowed(self) -> None:
        self._answer(405, {"message": "POST only"}, close=True)

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_allowed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    listener: WebhookListener


class WebhookListener:
    """A local receiver: POSTs to ``url`` carrying ``auth`` in the ``header`` are applied
    to the tracker's table. ``stop()`` ends it. Made by ``tracker.listen(...)``."""

    def __init__(
        self,
        events: Events,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        auth: str | None = None,
        header: str = DEFAULT_HEADER,
        path: str = DEFAULT_PATH,
    ):
        if auth is not None and (not isinstance(auth, str) or not auth.strip()):
            raise ValueError("auth must be None or a non-empty string")
        if auth is None and not _local(host):
            raise ValueError(f"a listener on {host} (beyond this machine) needs auth=...")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        self.events, self.auth, self.header, self.path = events, auth, header, path
        self.received = self.refused = 0
        self._server: _Server | None = _Server((host, port), _Handler)
        self._server.listener = self
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self._server.server_port}{path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="autoenhance-webhook-listener",
            daemon=True,
        )
        self._thread.start()
        events.attach(self)

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        """Stop listening (watching goes back to polling at its own pace)."""
        server, self._server = self._server, None
        self.events.detach(self)
        if server is not None:
            server.shutdown()
            server.server_close()
        self._thread.join(5)

    def __enter__(self) -> WebhookListener:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:  # never the authentication value
        state = self.url if self.running else "stopped"
        auth = "auth required" if self.auth is not None else "no auth"
        return f"<WebhookListener {state} ({auth}): {self.received} events, {self.refused} refused>"


class EventFollower:
    """Tails an ``EventLog`` (the desk's server appends what it receives) from a thread,
    applying each new event to the tracker's table. Made by ``tracker.follow(path)``."""

    def __init__(self, events: Events, path: str | os.PathLike[str]):
        self.events = events
        self.log = EventLog(path)
        self.position = self.log.last_id()  # what came before this visit is old news
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="autoenhance-event-follower", daemon=True
        )
        self._thread.start()
        events.attach(self)

    @property
    def running(self) -> bool:
        return not self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.wait(FOLLOW_SECONDS):
            try:
                for row_id, event in self.log.read_after(self.position):
                    self.position = row_id
                    self.events.apply(event)
            except Exception:  # a broken log must not end the page; polling remains
                log.exception("webhook: reading the event log failed")

    def stop(self) -> None:
        self._stop.set()
        self.events.detach(self)
        if self._thread is not threading.current_thread():
            self._thread.join(5)
        self.log.close()

    def __repr__(self) -> str:
        state = "following" if self.running else "stopped"
        return f"<EventFollower {state} {self.log.path.name} at event {self.position}>"


def _local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
