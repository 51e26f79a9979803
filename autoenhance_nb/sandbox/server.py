"""The sandbox's HTTP server: werkzeug's threaded WSGI server, quiet, with its open
connections tracked so that ``stop()`` really cuts clients off."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

_log = logging.getLogger("autoenhance_nb.sandbox")


class QuietHandler(WSGIRequestHandler):
    """werkzeug logs every request to stderr by default; a notebook does not want that."""

    verbose = False

    def log(self, type: str, message: str, *args: Any) -> None:
        if self.verbose:
            super().log(type, message, *args)
        elif type == "error":  # to logging, where the user decides; never printed by us
            _log.warning("sandbox: " + message, *args)


class Server(ThreadedWSGIServer):
    """Tracks open connections so that ``stop()`` really cuts keep-alive clients off,
    as a server going down would."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
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
