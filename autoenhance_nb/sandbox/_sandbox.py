"""``Sandbox``: runs the emulator (``SandboxApp``) on a background thread (or the
calling one) and lets a test inspect and steer it.

Its keywords and attributes are ``SandboxSettings``' fields, taken from the dataclass
(never written out again): each knob is an attribute that reads and writes the
running app's settings, so ``sb.error_rate = 5`` raises ValueError as
``Sandbox(error_rate=5)`` does. Imports nothing from the client.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from ._app import LogEntry, SandboxApp
from ._server import ConnectionCounter, Handler, Server
from ._settings import SandboxSettings
from ._webhooks import Sent

P = ParamSpec("P")


def _keywords_of(
    source: Callable[P, Any],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Give the decorated ``__init__`` the keywords of ``source``, for type checkers
    (through ``P``) and for ``help()`` and ``inspect.signature`` (``__signature__``)."""

    def apply(init: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        self = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = [self, *inspect.signature(source).parameters.values()]
        init.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return init

    return apply


class _Setting:
    """A Sandbox attribute for one ``SandboxSettings`` field: it reads the running
    app's setting and, for a knob, writes it (checked); host, port and seed are
    read-only once the sandbox is made."""

    def __init__(self, field: dataclasses.Field[Any]):
        self.name = field.name
        self.knob: bool = field.metadata["knob"]
        self.__doc__ = field.metadata["help"]

    def __get__(self, obj: Sandbox | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj.settings, self.name)

    def __set__(self, obj: Sandbox, value: Any) -> None:
        if not self.knob:
            raise AttributeError(f"{self.name} is fixed once the sandbox is made")
        setattr(obj.settings, self.name, value)


class Sandbox:
    """Run the emulator on 127.0.0.1 and a free port (by default).

    ``Sandbox(**settings)`` takes ``SandboxSettings``' fields as keywords (or
    ``Sandbox.from_settings(settings)`` a whole one); each is also an attribute, and
    every one but host, port and seed may change while it runs (``sb.error_rate =
    0.5``); a bad value raises ValueError, at construction and at any later set.
    ``ambiguous_next`` (attribute only): the next N successful writes are answered
    502, for tests that need one lost answer at an exact point. ``reset()`` brings a
    running sandbox back to a new one's state, so tests may share one.
    """

    @_keywords_of(SandboxSettings)
    def __init__(self, **settings: Any) -> None:
        self.app = SandboxApp(SandboxSettings(**settings))
        self.settings = self.app.settings
        self._initial = dataclasses.replace(self.settings)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._serving = False
        self._connections = ConnectionCounter()

    @classmethod
    def from_settings(cls, settings: SandboxSettings) -> Sandbox:
        """A sandbox with a copy of ``settings``."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)})

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"<Sandbox {state}>"

    @property
    def ambiguous_next(self) -> int:
        """The next N successful writes are committed but answered 502."""
        return self.app.faults.ambiguous_next

    @ambiguous_next.setter
    def ambiguous_next(self, value: int) -> None:
        self.app.faults.ambiguous_next = value

    def reset(self) -> Sandbox:
        """Back to the state of a new sandbox without restarting the server: no
        orders, images, brackets or reports, an empty request log, the connection count
        at 0, a full rate-limit bucket, the faults' random sequence restarted from the
        seed, no lost answer pending, no webhook queued, and every knob as it was
        constructed."""
        self.settings.restore_knobs(self._initial)
        self.app.reset()
        self._connections.reset()
        return self

    # -- lifecycle ------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from bind() (or start()) until stop()."""
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host = self.settings.host
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
        server = Server(
            self.settings.host,
            self.settings.port,
            self.app,
            handler=Handler,
            settings=self.settings,
            connections=self._connections,
        )
        server.daemon_threads = True
        self._server = server
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
        self.app.webhooks.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI) until KeyboardInterrupt or stop();
        binds first if bind() was not called."""
        server = self._bind_server()
        self._serving = True
        self.app.webhooks.start()
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
        self.app.webhooks.stop()
        server, self._server, self._thread = self._server, None, None
        self._serving = False
        if server is not None:
            # a later start() comes back on the same port, with the same data, so a
            # test can take the API down and bring it back under a running client
            self.settings.port = server.server_port
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
        return self.app.account.orders.all()

    @property
    def connections_opened(self) -> int:
        """How many TCP connections the sandbox has accepted (across restarts, since
        the last reset). With HTTP/1.1 keep-alive, one ``requests.Session`` reuses one
        connection."""
        return self._connections.count

    @property
    def request_log(self) -> list[LogEntry]:
        """Every request served: method, raw path, endpoint, params, status."""
        return self.app.request_log

    @property
    def reports(self) -> list[dict]:
        """Every POST /v3/images/{id}/report received, oldest first: image_id,
        order_id, categories, comment, score, source, created_at."""
        return self.app.account.images.reports()

    @property
    def webhooks_sent(self) -> list[Sent]:
        """Every webhook POST made since the last reset (at most the last 10,000):
        the event, the receiver's status (0: no answer) and the attempt (0: first)."""
        return list(self.app.webhooks.sent)

    @property
    def webhooks_pending(self) -> int:
        """Webhook events queued and not yet delivered (nor given up)."""
        return self.app.webhooks.pending

    def clear_log(self) -> None:
        self.app.clear_log()

    def requests_to(self, endpoint: str) -> list[LogEntry]:
        return [e for e in self.request_log if e.endpoint == endpoint]


for _field in dataclasses.fields(SandboxSettings):
    setattr(Sandbox, _field.name, _Setting(_field))
del _field
