"""The desk's webhook receiver: ``WebhookHandler`` answers Autoenhance's POSTs on
``--webhook-path`` in the Voila server's process and appends each accepted event to
the desk's event log (``tracker.EventLog``), which every visit's kernel tails
(``tracker.follow``), so each open page's table and gallery move at once.

Why a log file and not a push to the kernels: the kernels are separate processes
that Voila starts and culls, each with its own tracker; the server knows no address
of theirs, and a kernel may be starting, busy or gone when an event arrives. A sqlite
file (WAL: the server writes, the kernels read without blocking it) needs no port and
no registration, a kernel that starts late simply begins at the end, and a kernel that
misses events (culled, restarted) loses nothing the safety-net polling would not find.

The path is the only one that takes no desk token: Autoenhance cannot send one. It
takes the authentication value instead (``receive``: compared in constant time; a
wrong or missing one, a body over 16 KiB, a body that is not one of the known events:
4xx and nothing written). The Host check still applies to it, as to everything."""

from __future__ import annotations

import json
import re
from typing import Any

import tornado.web

from ..tracker import EventLog, Refused, receive

__all__ = ["WebhookHandler", "webhook_route"]


class WebhookHandler(tornado.web.RequestHandler):
    """POST only; 200 ``{"ok": true}`` once the event is in the log."""

    def initialize(self, log: EventLog, auth: str, header: str) -> None:
        self.event_log = log
        self.auth = auth
        self.header = header

    def check_xsrf_cookie(self) -> None:
        """A webhook has no cookie: it proves itself with its authentication value."""

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(payload))

    def post(self) -> None:
        try:
            event = receive(self.request.body, self.request.headers.get(self.header), self.auth)
        except Refused as refused:
            self._answer(refused.status, {"message": refused.message})
            return
        self.event_log.append(event)
        self._answer(200, {"ok": True})

    def write_error(self, status_code: int, **kwargs: Any) -> None:  # 405 and the like
        self._answer(status_code, {"message": self._reason})


def webhook_route(base_url: str, settings: dict[str, Any]) -> tuple[str, type, dict[str, Any]]:
    """The tornado route for the receiver: (pattern, handler, its arguments)."""
    path = base_url.rstrip("/") + settings["path"]
    log = EventLog(settings["events"])
    return (
        re.escape(path),  # tornado takes a pattern: a "." in the path is a dot
        WebhookHandler,
        {"log": log, "auth": settings["auth"], "header": settings["header"]},
    )
