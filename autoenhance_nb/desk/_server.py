"""``python -m autoenhance_nb.desk._server NOTEBOOK [Voila options]``: Voila (0.5) with the
desk's guards, started by ``autoenhance-desk`` (``_cli.py``) instead of ``python -m voila``.

Voila serves the page, its static files and the kernels' websockets; this module adds
what a desk a team can reach needs, with Voila's and jupyter_server's own hooks:

* **Host check** (:class:`DeskApplication`): every request (page, static file, websocket,
  API) whose ``Host`` is not one the desk answers to gets 403 before any handler runs, so
  a DNS-rebinding page (its own name resolving to this machine) cannot drive the desk.
  Local names (``localhost``, loopback addresses) always; on a non-local bind, IP
  addresses (a rebinding page cannot send one as its Host) and this machine's name; and
  the names given with ``--allowed-host``. Voila's own check for cross-origin websockets
  (Origin must match Host) stays.
* **Token**: Voila's own (jupyter_server's ``PasswordIdentityProvider``): the page without
  it redirects to the login page, the kernels' websockets and API answer 403. It arrives
  through the environment, never the command line (other users can read that).
* **Culling** (:class:`DeskKernelManager`): jupyter_server's periodic culler, with one
  rule instead of its idle-time rule: a kernel with no websocket connected for
  ``cull_after`` seconds is shut down (a page fetched by ``curl`` or a crawler never
  connects; a closed or crashed tab disconnects), even if it is still sending messages
  (an auto-refresh thread). The clock starts when the page's request ends (its
  notebook has run). A connected page is never culled, however idle; a kernel busy
  running a visitor's action is left until it is done, for at most 10 minutes (or 10
  times ``cull_after``) without a page.
* **Cap**: at most ``max_kernels`` kernels; a visit over it gets a readable "the desk is
  busy" page (503, ``Retry-After``) and starts no kernel.
* **Plain error pages**: Voila's handlers render their 403/404 pages with a template
  that needs a setting Voila never sets, so each refused websocket or missing asset
  logged a traceback; they answer tornado's plain error page instead, and a malformed
  ``/voila/templates/`` path is a 404, not a 500.
* **Bounded requests**: HTTP bodies up to 1 MiB (the page posts nothing bigger; uploads
  travel on the websocket, whose messages tornado caps at 10 MiB), idle connections closed
  after a minute.

The settings come as JSON in ``AUTOENHANCE_DESK_SERVER`` (read and removed before Voila
starts, so kernels do not inherit the token): ``hosts`` (extra names), ``local`` (bound
to a loopback address), ``max_kernels``, ``cull_after`` (seconds), ``token`` ("" for
none), ``webhook`` (the receiver's path, authentication value, header and event log:
``_hooks.py``, the one path that takes no token)."""

from __future__ import annotations

import contextvars
import ipaddress
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.httputil import HTTPServerRequest
from voila.app import Voila

from ..display import html
from ._env import ENV_SERVER
from ._hooks import webhook_route
from ._offline import SERVER_ARGS, strip_cdn_links, trust_notebook
from ._settings import bare_host

__all__ = ["Guard", "DeskKernelManager", "DeskApplication", "DeskVoila", "main"]

MAX_BODY_BYTES = 1024 * 1024
IDLE_CONNECTION_SECONDS = 60.0

BUSY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>The desk is busy</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{retry}">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:15vh auto;
padding:0 1em;color:#222}}h1{{font-size:1.4em}}</style></head>
<body><h1>The desk is busy, try again in a minute</h1>
<p>Every place on the Autoenhance order desk is taken right now ({limit} open pages).
This page tries again by itself in {retry} seconds.</p></body></html>
"""

REFUSED_HOST_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Refused</title></head>
<body><h1>403: this desk does not answer to that address</h1>
<p>Open the desk with the address its operator gave you. (Operators: a name in front of
the desk, such as a reverse proxy's, is added with <code>--allowed-host NAME</code>.)</p>
</body></html>
"""


def ip_literal(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


@dataclass
class Guard:
    """What the desk answers to, how many kernels it keeps, for how long, and its token."""

    hosts: list[str] = field(default_factory=list)
    local: bool = True
    max_kernels: int = 10
    cull_after: float = 60.0
    token: str = ""
    #: the webhook receiver (path, auth, header, events), when ``--webhook-path`` is set
    webhook: dict[str, Any] | None = None

    @classmethod
    def from_environment(cls) -> Guard:
        """The settings in ``AUTOENHANCE_DESK_SERVER``, removed from the environment."""
        text = os.environ.pop(ENV_SERVER, "") or "{}"
        values = json.loads(text)
        return cls(
            hosts=[bare_host(h) for h in values.get("hosts", [])],
            local=bool(values.get("local", True)),
            max_kernels=int(values.get("max_kernels", 10)),
            cull_after=float(values.get("cull_after", 60.0)),
            token=str(values.get("token") or ""),
            webhook=values.get("webhook") or None,
        )

    def __post_init__(self) -> None:
        names = set(self.hosts)
        if not self.local:
            # the machine's own names (a rebinding page's Host is its own domain)
            for name in (socket.gethostname(), socket.getfqdn()):
                if name:
                    names.add(name.lower().rstrip("."))
        self._names = frozenset(names)

    @property
    def cull_interval(self) -> int:
        """How often the culler looks (seconds): a kernel goes at most this much after
        ``cull_after``."""
        return int(max(1, min(10, round(self.cull_after / 6))))

    def allows_host(self, host_header: str) -> bool:
        name = bare_host(host_header)
        if name == "localhost" or name in self._names:
            return True
        address = ip_literal(name)
        if address is None:
            return False
        return address.is_loopback or not self.local


GUARD = Guard()

#: The kernels a page request started (set by the page handler, filled by the kernel
#: manager): a kernel is not alone while its page is still being rendered.
PAGE_KERNELS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "PAGE_KERNELS", default=None
)


class DeskKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager with the desk's cap and its culling rule (see the
    module's docstring). ``max_kernels`` and ``cull_idle_timeout`` (the seconds a kernel
    may stay without a connected page) are set by :class:`DeskVoila`."""

    max_kernels = 10

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: kernel id -> when it was last seen without a connected page (time.monotonic())
        self._alone_since: dict[str, float] = {}
        #: kernel id -> when it was last seen rendering or busy while alone
        self._active_at: dict[str, float] = {}
        #: the kernels whose page request is still running (rendering the notebook)
        self._rendering: set[str] = set()
        #: the kernels being shut down (culled, or their page closed)
        self._leaving: set[str] = set()
        #: the kernels being started (named here, so that one is counted once)
        self._starting: set[str] = set()

    def full(self) -> bool:
        # a kernel being culled holds no place: its process is gone before
        # jupyter_server forgets it, and a visit then must not be turned away. A kernel
        # starting is listed before its start ends: counted by its id, it holds one place
        places = (set(self._kernels) | self._starting) - self._leaving
        return len(places) >= self.max_kernels

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        if self.full():  # two visits that passed the page's own check at once
            raise tornado.web.HTTPError(503, "the desk is full")
        kernel_id = kwargs.get("kernel_id") or str(uuid.uuid4())
        kwargs["kernel_id"] = kernel_id
        self._starting.add(kernel_id)
        try:
            kernel_id = await super().start_kernel(*args, **kwargs)
        finally:
            self._starting.discard(kernel_id)
        self._alone_since[kernel_id] = time.monotonic()
        started = PAGE_KERNELS.get()
        if started is not None:
            started.append(kernel_id)
            self._rendering.add(kernel_id)
        return str(kernel_id)

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # culled, or its page closed (Voila's shutdown call): it holds no place from now
        self._leaving.add(kernel_id)
        try:
            await ensure_async(super().shutdown_kernel(kernel_id, *args, **kwargs))
        finally:
            self._leaving.discard(kernel_id)

    def page_done(self, kernel_id: str) -> None:
        """The page request that started ``kernel_id`` ended: the clock starts."""
        self._rendering.discard(kernel_id)
        if kernel_id in self._kernels and not self._kernel_connections.get(kernel_id, 0):
            self._alone_since[kernel_id] = time.monotonic()

    def notify_connect(self, kernel_id: str) -> None:
        super().notify_connect(kernel_id)
        self._alone_since.pop(kernel_id, None)
        self._active_at.pop(kernel_id, None)

    def notify_disconnect(self, kernel_id: str) -> None:
        super().notify_disconnect(kernel_id)
        if kernel_id in self._kernels and not self._kernel_connections.get(kernel_id, 0):
            self._alone_since[kernel_id] = time.monotonic()

    async def cull_kernels(self) -> None:
        for gone in set(self._alone_since) - set(self._kernels):
            self._alone_since.pop(gone, None)
            self._active_at.pop(gone, None)
        self._rendering &= set(self._kernels)
        await super().cull_kernels()

    @property
    def busy_ceiling(self) -> float:
        """Seconds alone after which even a busy or rendering kernel goes (a state that
        never ends, a page read forever)."""
        return max(600.0, 10.0 * self.cull_idle_timeout)

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return
        if getattr(kernel, "execution_state", None) == "dead":
            await super().cull_kernel_if_idle(kernel_id)  # jupyter_server shuts it down
            return
        now = time.monotonic()
        if self._kernel_connections.get(kernel_id, 0) > 0:
            self._alone_since.pop(kernel_id, None)
            self._active_at.pop(kernel_id, None)
            return
        alone_since = self._alone_since.setdefault(kernel_id, now)
        # its page is still rendering, or it runs a visitor's action: the clock waits.
        # ("starting" is not waited for: jupyter_server's watcher can miss a new kernel's
        # first status messages, and then its state stays "starting")
        if kernel_id in self._rendering or getattr(kernel, "execution_state", None) == "busy":
            self._active_at[kernel_id] = now
        quiet = now - max(alone_since, self._active_at.get(kernel_id, alone_since))
        alone = now - alone_since
        if quiet >= self.cull_idle_timeout or alone >= self.busy_ceiling:
            self.log.info(
                "Shutting down kernel %s: no page connected for %d seconds", kernel_id, alone
            )
            self._alone_since.pop(kernel_id, None)
            self._active_at.pop(kernel_id, None)
            self._rendering.discard(kernel_id)
            await self.shutdown_kernel(kernel_id)


class RefusedHostHandler(tornado.web.RequestHandler):
    """403 for every method, for a request whose Host the desk does not answer to."""

    def prepare(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(REFUSED_HOST_PAGE)


class DeskApplication(tornado.web.Application):
    """Voila's tornado application, refusing foreign Hosts before routing and listening
    with bounded request bodies."""

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        if not GUARD.allows_host(request.host):
            self.settings["voila"].log.warning(
                "Refused a request for %s with Host %r", request.path[:100], request.host[:100]
            )
            return self.get_handler_delegate(request, RefusedHostHandler)
        return super().find_handler(request, **kwargs)

    def listen(self, port: int, address: str | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("max_body_size", MAX_BODY_BYTES)
        kwargs.setdefault("idle_connection_timeout", IDLE_CONNECTION_SECONDS)
        kwargs.setdefault("body_timeout", IDLE_CONNECTION_SECONDS)
        return super().listen(port, address or "", **kwargs)


class PlainErrors:
    """tornado's own error page ("404: Not Found"), which needs no template."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        tornado.web.RequestHandler.write_error(self, status_code, **kwargs)  # type: ignore[arg-type]


def plain_errors(handler: type) -> type:
    """``handler`` answering errors with :class:`PlainErrors` (JSON API handlers keep
    their own, which work)."""
    if not issubclass(handler, JupyterHandler) or issubclass(handler, APIHandler):
        return handler
    return type(handler.__name__, (PlainErrors, handler), {})


def template_files_class(base: type) -> type:
    """Voila's template static file handler, with a 404 for a path that is not
    ``TEMPLATE/static/FILE`` (Voila's raises ValueError: a 500 and a traceback)."""

    class DeskTemplateFiles(base):
        def parse_url_path(self, path: str) -> str:
            parts = path.split("/", 2)
            if len(parts) != 3 or parts[1] != "static" or not parts[0] or not parts[2]:
                raise tornado.web.HTTPError(404)
            return str(super().parse_url_path(path))

    return DeskTemplateFiles


def page_handler_class(base: type) -> type:
    """Voila's page handler with the cap: over it, the busy page and no kernel."""

    class DeskPageHandler(base):
        @tornado.web.authenticated
        async def get(self, path: str | None = None) -> None:
            if not path and self.kernel_manager.full():
                raise tornado.web.HTTPError(503, "the desk is full")
            started: list[str] = []
            token = PAGE_KERNELS.set(started)
            try:
                await super().get(path)
            finally:
                PAGE_KERNELS.reset(token)
                for kernel_id in started:
                    self.kernel_manager.page_done(kernel_id)

        def write(self, chunk: Any) -> None:
            super().write(strip_cdn_links(chunk))  # offline: no CDN link (_offline.py)

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            if status_code != 503:
                tornado.web.RequestHandler.write_error(self, status_code, **kwargs)
                return
            retry = max(10, int(GUARD.cull_after))
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.set_header("Retry-After", str(retry))
            # built like every page of the package: values escaped (only integers here)
            self.finish(html(BUSY_PAGE, retry=int(retry), limit=int(GUARD.max_kernels)))

    return DeskPageHandler


class DeskVoila(Voila):
    """Voila with the desk's kernel manager, handlers and application (module docstring)."""

    name = "voila"  # Voila's settings key and config file name stay Voila's

    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        self.token = GUARD.token or None
        self.voila_configuration.multi_kernel_manager_class = DeskKernelManager

    def init_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = super().init_settings()
        manager = self.kernel_manager
        manager.max_kernels = GUARD.max_kernels
        manager.cull_idle_timeout = max(1, int(round(GUARD.cull_after)))
        manager.cull_interval = GUARD.cull_interval
        manager.cull_connected = False
        manager.cull_busy = False
        if self.notebook_path:
            trust_notebook(self.contents_manager, self.notebook_path)
        return settings

    def init_handlers(self) -> list[Any]:
        from voila.static_file_handler import TemplateStaticFileHandler
        from voila.tornado.handler import TornadoVoilaHandler

        replaced = {
            TornadoVoilaHandler: page_handler_class(TornadoVoilaHandler),
            TemplateStaticFileHandler: template_files_class(TemplateStaticFileHandler),
        }
        handlers: list[Any] = super().init_handlers()
        desk = [webhook_route(self.base_url, GUARD.webhook)] if GUARD.webhook else []
        return desk + [
            (spec[0], replaced.get(spec[1]) or plain_errors(spec[1]), *spec[2:])
            for spec in handlers
        ]

    def start(self) -> None:
        # Voila's start, with DeskApplication in place of tornado.web.Application
        self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
        settings = self.init_settings()
        self.app = DeskApplication(**settings)
        self.app.settings.update(self.tornado_settings)
        self.app.add_handlers(".*$", self.init_handlers())
        self.listen()


def main(argv: list[str] | None = None) -> None:
    global GUARD
    GUARD = Guard.from_environment()
    DeskVoila.launch_instance([*SERVER_ARGS, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
