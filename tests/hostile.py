"""Fixture helpers for the hostile-server, interrupt, input-edge and key-secrecy tests.

Everything here talks real HTTP (or raw TCP) on 127.0.0.1 and uses only the package's
public names, so that it survives the package's internal restructuring.

- ``HostileServer``: a threaded HTTP server that behaves as a tiny, healthy Autoenhance
  order API (create, get, list, rename) unless told otherwise, and can be scripted per
  request: any status/body/headers, JSON of any shape, a body dripped one byte at a
  time, a gzip bomb, endless fresh page tokens, an order with a given id/timestamp/name.
  It counts connections and requests.
- ``BlackHole``: accepts TCP connections and never answers; counts them.
- ``refused_url()``: a URL on a port that was bound, then closed (connections refused).
- ``table_state`` / ``check_table``: the table invariants, through the public API.
- ``Kernel``: a real IPython kernel (jupyter_client) to run cells in and interrupt.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# ---------------------------------------------------------------------------------------
# answers
# ---------------------------------------------------------------------------------------
#: An answer is a callable(handler, request) that writes a whole HTTP response.
Answer = Callable[["_Handler", "Request"], None]


@dataclass
class Request:
    method: str
    path: str  # without the query string, percent-decoded
    query: dict
    body: Any  # parsed JSON, or None
    headers: dict


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_order(
    order_id: str,
    name: str | None = "",
    *,
    created_at: str | None = None,
    last_updated_at: str | None = None,
    **extra: Any,
) -> dict:
    """An order as the v3 API returns it."""
    stamp = now_iso()
    order = {
        "order_id": order_id,
        "name": name,
        "status": "waiting",
        "is_processing": False,
        "is_merging": False,
        "is_deleted": False,
        "total_images": 0,
        "images": [],
        "created_at": stamp if created_at is None else created_at,
        "last_updated_at": stamp if last_updated_at is None else last_updated_at,
    }
    order.update(extra)
    return order


def raw(status: int = 200, body: bytes = b"", headers: dict | None = None) -> Answer:
    """Any status, body bytes and headers (Content-Length added unless given)."""

    def answer(h: _Handler, req: Request) -> None:
        h.send_response(status)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if "Content-Length" not in hdrs:
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            h.send_header(k, v)
        h.end_headers()
        if req.method != "HEAD":
            h.wfile.write(body)

    return answer


def json_answer(obj: Any, status: int = 200, headers: dict | None = None) -> Answer:
    """JSON of any shape (null, [], "created", {}, ...)."""
    return raw(status, json.dumps(obj).encode("utf-8"), headers)


def order_answer(order_id: str | None = None, name: Any = ..., **fields: Any) -> Answer:
    """A 200 order answer: the requested order_id and name unless given, and any field
    overridden (e.g. ``created_at="0001-01-01T00:00:00Z"``). The order is stored, so
    later GETs of it answer the same."""

    def answer(h: _Handler, req: Request) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        oid = (
            order_id
            if order_id is not None
            else (body.get("order_id") or req.path.rstrip("/").rsplit("/", 1)[-1])
        )
        nm = body.get("name", "") if name is ... else name
        order = make_order(oid, nm, **fields)
        h.server.owner.orders[oid] = order
        json_answer(order)(h, req)

    return answer


def drip(
    body: bytes = b'{"order_id": "drip", "name": "drip"}', interval: float = 0.4, status: int = 200
) -> Answer:
    """Headers at once (with the full Content-Length), then one body byte every
    ``interval`` seconds: each socket read gets something, the whole answer never
    comes in time."""

    def answer(h: _Handler, req: Request) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.flush()
        for i in range(len(body)):
            if h.server.owner.closing.wait(interval):
                return
            h.wfile.write(body[i : i + 1])
            h.wfile.flush()

    return answer


@functools.lru_cache(maxsize=4)
def gzip_bomb_bytes(inflated: int) -> bytes:
    """A gzip stream of a JSON order whose name is ``inflated`` bytes of spaces
    (about 1000:1, so 400 MB is about 0.4 MB on the wire)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        gz.write(b'{"order_id": "bomb", "name": "')
        chunk = b" " * (1 << 20)
        left = inflated
        while left > 0:
            gz.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
        gz.write(b'"}')
    return buf.getvalue()


def gzip_bomb(inflated: int = 400 * 1024 * 1024) -> Answer:
    return raw(200, gzip_bomb_bytes(inflated), {"Content-Encoding": "gzip"})


def endless_pages(
    orders_per_page: int = 1,
    delay: float = 0.0,
    slow_page: int | None = None,
    slow_seconds: float = 0.0,
    last_page: int | None = None,
) -> Answer:
    """``GET /v3/orders/`` answered forever (or up to ``last_page``) with a fresh page
    token and fresh orders; page number ``slow_page`` (counting from 1) takes
    ``slow_seconds``."""
    counter = {"pages": 0}
    lock = threading.Lock()

    def answer(h: _Handler, req: Request) -> None:
        with lock:
            counter["pages"] += 1
            page = counter["pages"]
        h.server.owner.pages_served = page
        if slow_page is not None and page == slow_page:
            h.server.owner.closing.wait(slow_seconds)
        elif delay:
            time.sleep(delay)
        orders = [
            make_order(f"endless-{page}-{i}", f"endless {page} {i}") for i in range(orders_per_page)
        ]
        token = None if last_page is not None and page >= last_page else f"token-{page}"
        json_answer({"orders": orders, "pagination": {"next_offset": token, "per_page": 15}})(
            h, req
        )

    return answer


def slow(answer: Answer, seconds: float) -> Answer:
    def delayed(h: _Handler, req: Request) -> None:
        if not h.server.owner.closing.wait(seconds):
            answer(h, req)

    return delayed


# ---------------------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------------------
@dataclass
class _Rule:
    method: str
    pattern: re.Pattern
    answer: Answer
    times: int | None  # None: forever


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        try:
            body = json.loads(data) if data else None
        except ValueError:
            body = None
        parts = urlsplit(self.path)
        req = Request(
            self.command, unquote(parts.path), parse_qs(parts.query), body, dict(self.headers)
        )
        with owner.lock:
            owner.requests.append(req)
            answer = owner._pop_answer(req)
        try:
            (answer or owner._healthy)(self, req)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: HostileServer):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request, client_address):
        with self.owner.lock:
            self.owner.connections += 1
            self.owner._socks.append(request)
        super().process_request(request, client_address)


class HostileServer:
    """A scriptable API on 127.0.0.1. Healthy by default; ``on(...)`` scripts answers.

    with HostileServer() as srv:
        srv.on("POST", "/v3/orders", json_answer(None))          # next create only
        srv.on("GET", "/v3/orders/?$", endless_pages(), times=None)  # every listing
        client = AutoenhanceClient(api_key="test-key", base_url=srv.url, ...)
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.rules: list[_Rule] = []
        self.requests: list[Request] = []
        self.connections = 0
        self.orders: dict[str, dict] = {}
        self.pages_served = 0
        self.closing = threading.Event()
        self._socks: list[socket.socket] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> HostileServer:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="hostile-server",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self.lock:
                socks = list(self._socks)
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._server = None

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- scripting -------------------------------------------------------------------
    def on(
        self, method: str, path_regex: str, answer: Answer, times: int | None = 1
    ) -> HostileServer:
        """Answer the next ``times`` requests (None: all) whose method matches and whose
        path matches ``path_regex`` (``re.search``) with ``answer``."""
        with self.lock:
            self.rules.append(_Rule(method.upper(), re.compile(path_regex), answer, times))
        return self

    def heal(self) -> None:
        """Forget every scripted answer: healthy from now on."""
        with self.lock:
            self.rules.clear()

    def _pop_answer(self, req: Request) -> Answer | None:
        for rule in self.rules:
            if rule.method == req.method and rule.pattern.search(req.path):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.rules.remove(rule)
                return rule.answer
        return None

    def count(self, method: str, path_regex: str = "") -> int:
        with self.lock:
            return sum(
                1 for r in self.requests if r.method == method and re.search(path_regex, r.path)
            )

    # -- the healthy API -------------------------------------------------------------
    def _healthy(self, h: _Handler, req: Request) -> None:
        path = req.path.rstrip("/")
        if path == "/v3/orders" and req.method == "POST":
            body = req.body if isinstance(req.body, dict) else {}
            oid = body.get("order_id") or os.urandom(16).hex()
            if oid in self.orders:
                return json_answer(
                    {
                        "message": "An order with this order_id already exists",
                        "detail": {"order_id": oid},
                    },
                    409,
                )(h, req)
            self.orders[oid] = make_order(oid, body.get("name"))
            return json_answer(self.orders[oid])(h, req)
        if path == "/v3/orders" and req.method == "GET":
            return json_answer(
                {
                    "orders": list(self.orders.values())[::-1],
                    "pagination": {"next_offset": None, "per_page": 15},
                }
            )(h, req)
        if path.startswith("/v3/orders/"):
            oid = path[len("/v3/orders/") :]
            order = self.orders.get(oid)
            if order is None:
                return json_answer({"message": "Not Found", "detail": {}}, 404)(h, req)
            if req.method == "GET":
                return json_answer(order)(h, req)
            if req.method == "PATCH":
                if isinstance(req.body, dict) and "name" in req.body:
                    order["name"] = req.body["name"]
                return json_answer(order)(h, req)
            if req.method == "DELETE":
                del self.orders[oid]
                return raw(204)(h, req)
        return json_answer({"message": "Not Found", "detail": {}}, 404)(h, req)


# ---------------------------------------------------------------------------------------
# dead servers
# ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused_url() -> str:
    """A URL on a port that was bound and closed: every connection is refused."""
    return f"http://127.0.0.1:{free_port()}"


class BlackHole:
    """Accepts every connection and never answers (until stopped). Counts connections."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self._sock.settimeout(0.05)
        self.connections = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="black-hole")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._held.append(conn)

    def start(self) -> BlackHole:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._held:
            try:
                conn.close()
            except OSError:
                pass
        self._sock.close()

    def __enter__(self) -> BlackHole:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SynDropHole:
    """A listening socket whose accept queue is full and that never accepts: further
    connection attempts get no answer at all (they time out while connecting), like a
    firewall dropping packets. Count the attempts with ``ConnectCounter``."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(0)
        self.port = self._sock.getsockname()[1]
        self._fill: list[socket.socket] = []
        for _ in range(4):  # fill the queue; the first one or two complete
            s = socket.socket()
            s.settimeout(0.2)
            try:
                s.connect(("127.0.0.1", self.port))
            except OSError:
                s.close()
                break
            self._fill.append(s)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SynDropHole:
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self._fill:
            s.close()
        self._sock.close()


class ConnectCounter:
    """Counts ``socket.connect`` calls of this process to a port (a Python audit hook:
    nothing is patched). Works for refused ports, where no server can count.

        with ConnectCounter(port) as cc:
            ...
        cc.count
    """

    _installed = False
    _active: list[ConnectCounter] = []
    _lock = threading.Lock()

    def __init__(self, port: int):
        self.port = port
        self.count = 0

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        if event != "socket.connect" or not cls._active:
            return
        address = args[1] if len(args) > 1 else None
        if isinstance(address, tuple) and len(address) >= 2:
            for counter in list(cls._active):
                if address[1] == counter.port:
                    counter.count += 1

    def __enter__(self) -> ConnectCounter:
        import sys

        with ConnectCounter._lock:
            if not ConnectCounter._installed:
                sys.addaudithook(ConnectCounter._hook)
                ConnectCounter._installed = True
            ConnectCounter._active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with ConnectCounter._lock:
            ConnectCounter._active.remove(self)


def port_of(url: str) -> int:
    return int(urlsplit(url).port)


# ---------------------------------------------------------------------------------------
# table invariants (public API only)
# ---------------------------------------------------------------------------------------
def table_state(tracker) -> dict:
    """What the invariant check needs, read through the tracker's public API."""
    df = tracker.df
    return {
        "len": len(tracker),
        "df_len": len(df),
        "df_unique_ids": int(df["order_id"].nunique()),
        "status_total": sum(tracker.status_counts().values()),
        "rows": [
            [str(o), None if n is None or n != n else str(n)]
            for o, n in zip(df["order_id"].astype(object), df["name"].astype(object), strict=False)
        ],
    }


#: The same, as code to run in a kernel (prints one JSON line).
KERNEL_STATE_CODE = """
import json as _json, autoenhance_nb as _ae
def _state(t):
    df = t.df
    return {"len": len(t), "df_len": len(df), "df_unique_ids": int(df["order_id"].nunique()),
            "status_total": sum(t.status_counts().values()),
            "rows": [[str(o), None if n is None or n != n else str(n)]
                     for o, n in zip(df["order_id"].astype(object), df["name"].astype(object))]}
_s = _state(_ae.session())
try:
    _ae.session().refresh()
    _s["refresh"] = "ok"
except Exception as _e:
    _s["refresh"] = type(_e).__name__ + ": " + str(_e)
print("STATE" + _json.dumps(_s))
"""


def check_table(state: dict, server_orders: list[dict], *, complete: bool = True) -> None:
    """The table invariants: one row per order, counts agree, every row pairs the
    server's order_id with that order's name, and (``complete``) every order the server
    made is in the table."""
    assert state["len"] == state["df_len"] == state["df_unique_ids"], (
        f"len(t)={state['len']}, len(df)={state['df_len']}, unique ids={state['df_unique_ids']}"
    )
    assert state["status_total"] == state["len"], (
        f"status_counts sum {state['status_total']} != len {state['len']}"
    )
    server = {o["order_id"]: (o.get("name") or "") for o in server_orders}
    wrong = [
        (oid, name, server.get(oid))
        for oid, name in state["rows"]
        if oid not in server or (name or "") != server[oid]
    ]
    assert not wrong, (
        f"rows not matching the server's orders (id, table name, server name): {wrong[:5]}"
    )
    if complete:
        table_ids = {oid for oid, _ in state["rows"]}
        missing = set(server) - table_ids
        assert not missing, (
            f"the server made {len(server)} orders, the table has "
            f"{len(table_ids)}: {len(missing)} missing"
        )
    if "refresh" in state:
        assert state["refresh"] == "ok", f"refresh() after the interrupt: {state['refresh']}"


# ---------------------------------------------------------------------------------------
# a real kernel
# ---------------------------------------------------------------------------------------
@dataclass
class CellRun:
    status: str = ""  # "ok" / "error" / "timeout"
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""
    started: float = 0.0  # monotonic, when the kernel began the cell
    finished: float = 0.0  # monotonic, when the reply came
    interrupted: float | None = None  # monotonic, when the interrupt was sent
    outputs: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(
            [self.stdout, self.stderr, self.ename, self.evalue, self.traceback] + self.outputs
        )


class Kernel:
    """A real IPython kernel started with ``env`` added to the environment.

    with Kernel({"AUTOENHANCE_API_KEY": "sandbox", "AUTOENHANCE_BASE_URL": url}) as k:
        run = k.execute("%load_ext autoenhance_nb")
        run = k.execute(cell, interrupt_after=0.4)
    """

    _ANSI = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self, env: dict[str, str]):
        from jupyter_client import KernelManager

        full = {
            k: v
            for k, v in os.environ.items()
            if k not in ("AUTOENHANCE_API_KEY", "AUTOENHANCE_BASE_URL")
        }
        full.update(env)
        full["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(
            env=full, extra_arguments=["--HistoryManager.enabled=False", "--colors=NoColor"]
        )
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)

    def execute(
        self, code: str, *, timeout: float = 120.0, interrupt_after: float | None = None
    ) -> CellRun:
        """Run a cell; optionally interrupt it ``interrupt_after`` seconds after the
        kernel started it. Returns when the reply comes or ``timeout`` passes (then
        ``status == "timeout"``: the kernel is still busy)."""
        run = CellRun()
        msg_id = self.kc.execute(code, store_history=False)
        deadline = time.monotonic() + timeout
        interrupt_at: float | None = None
        reply = None
        idle = False
        while time.monotonic() < deadline and not (reply is not None and idle):
            if interrupt_at is not None and time.monotonic() >= interrupt_at:
                run.interrupted = time.monotonic()
                self.km.interrupt_kernel()
                interrupt_at = None
            wait = 0.02
            try:
                msg = self.kc.get_iopub_msg(timeout=wait)
            except queue.Empty:
                msg = None
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content["execution_state"] == "busy":
                    pass
                elif kind == "execute_input":
                    run.started = time.monotonic()
                    if interrupt_after is not None:
                        interrupt_at = run.started + interrupt_after
                elif kind == "stream":
                    if content["name"] == "stdout":
                        run.stdout += content["text"]
                    else:
                        run.stderr += content["text"]
                elif kind == "error":
                    run.ename, run.evalue = content["ename"], content["evalue"]
                    run.traceback = self._ANSI.sub("", "\n".join(content["traceback"]))
                elif kind in ("execute_result", "display_data"):
                    run.outputs.append(content["data"].get("text/plain", ""))
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
            if reply is None:
                try:
                    shell = self.kc.get_shell_msg(timeout=0)
                except queue.Empty:
                    shell = None
                if shell is not None and shell["parent_header"].get("msg_id") == msg_id:
                    reply = shell
                    run.finished = time.monotonic()
                    run.status = shell["content"]["status"]
        if reply is None:
            run.status = "timeout"
            run.finished = time.monotonic()
        return run

    def state(self, refresh: bool = True) -> dict:
        """The session table's invariant figures (see ``table_state``); ``refresh``: also
        check that ``refresh()`` works (it reads every order: slow on a big table)."""
        code = (
            KERNEL_STATE_CODE
            if refresh
            else KERNEL_STATE_CODE.replace("_ae.session().refresh()", "pass")
        )
        run = self.execute(code, timeout=120)
        for line in run.stdout.splitlines():
            if line.startswith("STATE"):
                return json.loads(line[5:])
        raise AssertionError(f"no state from the kernel: {run.text[-2000:]}")


# ---------------------------------------------------------------------------------------
# a proxy that makes every string of every answer hostile
# ---------------------------------------------------------------------------------------
#: Markup that must stay text wherever it is shown (script, event handlers, an element
#: that closes the one it sits in, a quote that ends an attribute, a lone surrogate).
MARKUP_PAYLOADS = (
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(2)>',
    "</style></div><script>alert(3)</script>",
    "' onmouseover='alert(4)",
    "half\ud800pair",
)
PAYLOAD = "".join(MARKUP_PAYLOADS[:4])

#: Keys whose values the client needs to keep working (ids it calls again, timestamps it
#: parses, URLs it follows, page tokens): every other string gets the payload.
_KEEP = re.compile(r"(^|_)(id|at|url|token|offset|next|per_page)$|Url$", re.IGNORECASE)


def poison(value: Any, key: str = "") -> Any:
    """``value`` with ``PAYLOAD`` (and a lone surrogate) appended to every string at any
    depth, except under keys the client needs intact (see ``_KEEP``)."""
    if isinstance(value, dict):
        return {k: poison(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [poison(v, key) for v in value]
    if isinstance(value, str) and not _KEEP.search(key) and not value.startswith("http"):
        return value + " " + PAYLOAD + " half\ud800pair"
    return value


class PoisoningProxy:
    """A real HTTP server in front of ``upstream`` (a sandbox URL) that passes every
    request through and returns every JSON answer with every string poisoned: names,
    statuses, reasons, options at any depth, error messages."""

    def __init__(self, upstream: str):
        import requests
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request as WRequest
        from werkzeug.wrappers import Response as WResponse

        self.upstream = upstream.rstrip("/")
        self.answers = 0
        session = requests.Session()

        @WRequest.application
        def app(request: WRequest) -> WResponse:
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.lower() not in ("host", "content-length")
            }
            url = self.upstream + request.full_path.rstrip("?")
            if request.environ.get("RAW_URI"):
                url = self.upstream + request.environ["RAW_URI"]
            answer = session.request(
                request.method, url, headers=headers, data=request.get_data(), timeout=30
            )
            body = answer.content
            kind = answer.headers.get("content-type", "")
            if "json" in kind and body:
                self.answers += 1
                body = json.dumps(poison(answer.json()), ensure_ascii=True).encode()
            keep = {"content-type", "retry-after", "x-ratelimit-remaining"}
            out = {k: v for k, v in answer.headers.items() if k.lower() in keep}
            return WResponse(body, status=answer.status_code, headers=out)

        from werkzeug.serving import WSGIRequestHandler

        class Quiet(WSGIRequestHandler):
            def log(self, *args: Any, **kwargs: Any) -> None:  # no line per request
                pass

        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PoisoningProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def injected_markup(page: str, own_classes: tuple[str, ...] = ("ae-thumb",)) -> list[str]:
    """What in ``page`` (HTML the toolkit built) is markup that did not come from the
    toolkit: script/svg/iframe elements, event-handler attributes, images other than
    the toolkit's data: thumbnails, links other than data: downloads, a stylesheet with
    script in it, and the toolkit's own tags escaped twice (shown as text). Empty: clean."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.in_style = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            names = dict(attrs)
            if tag in ("script", "svg", "iframe", "object", "embed", "math", "base", "form"):
                found.append(f"<{tag}>")
            for name, _ in attrs:
                if name.lower().startswith("on"):
                    found.append(f"<{tag} {name}=...>")
            if tag == "img":
                cls, src = names.get("class") or "", names.get("src") or ""
                if not any(c in cls for c in own_classes) or not src.startswith("data:image/"):
                    found.append(f"<img src={src[:30]!r}>")
            if tag == "a" and not (names.get("href") or "").startswith("data:"):
                found.append(f"<a href={names.get('href')!r}>")
            self.in_style = tag == "style"

        def handle_endtag(self, tag: str) -> None:
            self.in_style = False

        def handle_data(self, data: str) -> None:
            if self.in_style and ("alert" in data or "<" in data):
                found.append("script-like text inside <style>")
            if re.search(r"<(span|div) class=|<t[dhr]>|<b>|<h[23] |<style>", data):
                found.append(f"the toolkit's own markup escaped twice: {data[:60]!r}")

    Parser().feed(page)
    return found
