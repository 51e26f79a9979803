"""A desk a team can host, with real processes and real HTTP: ``autoenhance-desk`` (Voila,
its kernels, its sandbox) on a free port, plain HTTP requests and websockets sent to
127.0.0.1 only.

* Kernels whose page never connected (a ``curl`` of the page) or disconnected are shut
  down after ``--cull-after``; a connected page is kept however idle.
* At most ``--max-kernels`` kernels: one visit more gets the busy page (503,
  Retry-After) and no kernel; a flood of GETs leaves at most that many, none once they
  are culled, and the desk's memory back near its idle figure.
* A foreign ``Host`` (page, static file, websocket) gets 403; local names work.
* ``--ip 0.0.0.0`` generates a token and prints it with the URL; without it the page
  redirects to the login page and the API and websockets answer 403.

The desk's kernels and memory are read from /proc (the desk's process tree)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import websocket

from autoenhance_nb.desk import _cli as cli
from autoenhance_nb.desk import _settings as settings

from ..helpers import without_autoenhance_env

pytestmark = pytest.mark.timeout(150)
BUSY = "The desk is busy, try again in a minute"
CULL = 3  # --cull-after for the fast tests (each test that needs no kernel left waits it)


# -- the desk's process tree, from /proc ---------------------------------------------------------
def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found = [pid]
    for p in found:
        found.extend(children.get(p, []))
    return found


def kernel_count(pid: int) -> int:
    n = 0
    for p in _tree(pid):
        try:
            n += b"ipykernel" in Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            pass
    return n


def tree_mb(pid: int) -> float:
    """The resident memory of the desk and all its children (Voila, kernels, sandbox)."""
    kb = 0
    for p in _tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        kb += sum(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:"))
    return kb / 1024


def wait_for_kernels(pid: int, most: int, timeout: float) -> float:
    """Seconds until the desk has at most ``most`` kernels (fails after ``timeout``)."""
    start = time.monotonic()
    while kernel_count(pid) > most:
        assert time.monotonic() - start < timeout, f"{kernel_count(pid)} kernels left"
        time.sleep(0.25)
    return time.monotonic() - start


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


# -- a desk ------------------------------------------------------------------------------------
class Desk:
    def __init__(self, base: Path, *args: str, env: dict[str, str] | None = None):
        self.port = cli.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / f"desk-{self.port}.log"
        run_env = without_autoenhance_env()
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR"):
            (base / name.lower()).mkdir(exist_ok=True)
            run_env[name] = str(base / name.lower())
        run_env.update(env or {})
        command = [sys.executable, "-m", "autoenhance_nb.desk", "--port", str(self.port)]
        command += ["--export-dir", str(base / "exports"), "--sandbox-processing-seconds", "0"]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [*command, *args], stdout=self._log, stderr=subprocess.STDOUT, env=run_env, cwd=base
        )
        deadline = time.monotonic() + 60
        while "running at" not in self.log or "Autoenhance desk on" not in self.log:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("the desk did not start:\n" + self.log[-3000:])
            time.sleep(0.1)
        self.pid = self.proc.pid

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def get(self, path: str = "/", **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        kwargs.setdefault("allow_redirects", False)
        return requests.get(self.url + path, **kwargs)

    def open_page(self, session: requests.Session | None = None, query: str = "") -> str:
        """GET the page (a visit: one kernel); its kernel id."""
        answer = (session or requests).get(f"{self.url}/{query}", timeout=60)
        assert answer.status_code == 200, answer.text[:500]
        return re.search(r'"kernelId": "([0-9a-f-]+)"', answer.text).group(1)

    def connect(self, kernel_id: str, **options) -> websocket.WebSocket:
        """The kernel's websocket, as the page opens it."""
        return websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels", timeout=30, **options
        )

    def kernel_exists(self, kernel_id: str) -> bool:
        return self.get(f"/api/kernels/{kernel_id}").status_code == 200

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    pytest.importorskip("voila")
    d = Desk(tmp_path_factory.mktemp("desk"), "--max-kernels", "3", "--cull-after", str(CULL))
    time.sleep(1)  # the sandbox and Voila settle
    d.idle_mb = tree_mb(d.pid)
    yield d
    d.stop()
    assert "Traceback" not in d.log, d.log[-3000:]


@pytest.fixture
def fresh(desk):
    """The module's desk, with no kernel left from an earlier test."""
    wait_for_kernels(desk.pid, 0, CULL + 20)
    return desk


def _refused(call) -> int:
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        call()
    return info.value.status_code


# -- the Host check ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "attacker.example:{port}",
        "localhost.attacker.example",
        "127.0.0.1.nip.io:{port}",
        "10.0.0.5:{port}",  # an address, but the desk is bound to this machine only
    ],
)
def test_a_foreign_host_is_refused_for_page_static_files_and_api(fresh, host):
    host = host.format(port=fresh.port)
    for path in ("/", "/voila/static/voila.js", "/api/kernels/0-0-0-0-0", "/login", "/nothing"):
        answer = fresh.get(path, headers={"Host": host})
        assert answer.status_code == 403, (path, answer.status_code)
        assert "does not answer to that address" in answer.text
    assert kernel_count(fresh.pid) == 0  # the page was not rendered


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:{port}", "LOCALHOST.:{port}", "127.0.0.1:{port}", "[::1]:{port}"],
)
def test_local_names_are_accepted(fresh, host):
    answer = fresh.get("/voila/static/voila.js", headers={"Host": host.format(port=fresh.port)})
    assert answer.status_code == 200 and len(answer.content) > 1000


def test_the_host_rule():
    pytest.importorskip("voila")
    from autoenhance_nb.desk._server import Guard

    local = Guard(local=True)
    for host in ("localhost", "LocalHost.:80", "127.0.0.1:1", "127.0.0.2", "[::1]:8866", "::1"):
        assert local.allows_host(host), host
    for host in ("10.0.0.5", "[2001:db8::1]:80", "attacker.example", "localhost.evil", "", ":80"):
        assert not local.allows_host(host), host
    proxied = Guard(local=True, hosts=["desk.example"])  # a reverse proxy's name
    assert proxied.allows_host("Desk.Example:443") and not proxied.allows_host("evil.example")
    wide = Guard(local=False, hosts=["desk.example"])
    for host in ("desk.example", "192.0.2.7:8866", "[2001:db8::1]:80", "localhost"):
        assert wide.allows_host(host), host
    for host in ("evil.example", "desk.example.evil.example", "192.0.2.7.nip.io"):
        assert not wide.allows_host(host), host


def test_the_page_and_its_websocket_with_a_foreign_host_or_origin_are_refused(fresh):
    kernel = fresh.open_page()  # a local Host: the page is served
    evil = {"host": "attacker.example", "origin": "http://attacker.example"}
    assert _refused(lambda: fresh.connect(kernel, **evil)) == 403  # a DNS-rebinding page
    cross = {"origin": "http://attacker.example"}  # a cross-origin page on a local Host
    assert _refused(lambda: fresh.connect(kernel, **cross)) == 403
    ws = fresh.connect(kernel, origin=fresh.url)  # the page itself
    ws.close()


# -- culling and the cap ------------------------------------------------------------------------
def test_a_connected_page_is_kept_and_an_unconnected_or_closed_one_is_culled(fresh):
    kept = fresh.open_page()
    ws = fresh.connect(kept, origin=fresh.url)
    try:
        fetched = fresh.open_page()  # as curl does: never connects
        assert kernel_count(fresh.pid) == 2
        # the fetched one goes after --cull-after; the connected one stays, idle as it is
        waited = wait_for_kernels(fresh.pid, 1, CULL + 15)
        # (its process ends a moment before Voila forgets it)
        wait_until(lambda: not fresh.kernel_exists(fetched), 10)
        time.sleep(max(0.0, 2 * CULL - waited))
        assert fresh.kernel_exists(kept) and kernel_count(fresh.pid) == 1
    finally:
        ws.close()  # the tab closes (or crashes) without saying goodbye
    start = time.monotonic()
    wait_for_kernels(fresh.pid, 0, CULL + 15)
    assert time.monotonic() - start >= CULL - 1.5  # not before --cull-after
    assert "Traceback" not in fresh.log


def test_a_get_flood_leaves_at_most_the_cap_and_the_memory_comes_back(fresh):
    most, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            most[0] = max(most[0], kernel_count(fresh.pid))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: fresh.get("/"), range(30)))
        flood_mb = tree_mb(fresh.pid)
        after_flood = kernel_count(fresh.pid)
    finally:
        stop.set()
        watcher.join()
    flood_seconds = time.monotonic() - started
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 503}, codes
    assert codes.count(200) >= 3 and codes.count(503) >= 10
    assert all(BUSY in a.text for a in answers if a.status_code == 503)
    assert after_flood <= 3
    # sampled from /proc every 0.1 s during the flood: on a loaded machine one culled
    # kernel's process was once seen beside three running ones (not explained: the
    # manager waits for a kernel's process before it forgets the kernel)
    assert most[0] <= 3 + 1
    culled_in = wait_for_kernels(fresh.pid, 0, CULL + 20)
    time.sleep(1)
    after_mb = tree_mb(fresh.pid)
    figures = {
        "gets": 30,
        "served": codes.count(200),
        "busy": codes.count(503),
        "most_kernels": most[0],
        "kernels_after_flood": after_flood,
        "flood_seconds": round(flood_seconds, 1),
        "culled_within_seconds": round(culled_in, 1),
        "idle_mb": round(fresh.idle_mb),
        "flood_mb": round(flood_mb),
        "after_mb": round(after_mb),
    }
    print("desk GET flood:", json.dumps(figures))
    assert after_mb - fresh.idle_mb < 150, figures


def test_a_visit_over_the_cap_gets_the_busy_page_and_no_kernel(fresh):
    with ThreadPoolExecutor(3) as pool:
        kernels = list(pool.map(lambda _: fresh.open_page(), range(3)))
    sockets = [fresh.connect(k, origin=fresh.url) for k in kernels]  # three open pages
    try:
        assert kernel_count(fresh.pid) == 3
        answer = fresh.get("/")
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == str(max(10, CULL))
        assert answer.headers["Content-Type"].startswith("text/html")
        assert BUSY in answer.text and "Traceback" not in answer.text
        time.sleep(1)
        assert kernel_count(fresh.pid) == 3  # no kernel for the refused visit
        assert all(fresh.kernel_exists(k) for k in kernels)
    finally:
        for ws in sockets:
            ws.close()


def test_a_kernel_still_finishing_its_start_holds_one_place_not_two():
    """jupyter_server puts a new kernel in its list, then waits for its first answer:
    counted as started and as starting in that window, a desk with room for one more
    turned the next visit away (seen in CI: a third page of three got the busy page)."""
    import asyncio

    from autoenhance_nb.desk._server import DeskKernelManager

    async def run() -> list[bool]:
        manager = DeskKernelManager()
        manager.max_kernels = 2
        start = asyncio.ensure_future(manager.start_kernel(kernel_name="python3"))
        seen = []
        while not start.done():
            if manager.list_kernel_ids():  # listed, its start not finished
                seen.append(manager.full())
            await asyncio.sleep(0.001)
        kernel_id = await start
        seen.append(manager.full())
        await manager.shutdown_kernel(kernel_id, now=True)
        return seen

    seen = asyncio.run(run())
    assert len(seen) > 1, "the window was not seen"  # the last is after the start
    assert not any(seen), seen  # was True in the window: 1 listed + 1 starting = 2 of 2


# -- the token ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def remote_desk(tmp_path_factory):
    pytest.importorskip("voila")
    base = tmp_path_factory.mktemp("remote")
    # listens on every address of this machine; requests go to 127.0.0.1 only
    d = Desk(base, "--ip", "0.0.0.0", "--allowed-host", "desk.example", "--cull-after", "3")
    yield d
    d.stop()


def test_a_non_local_desk_prints_a_generated_token_and_refuses_visits_without_it(remote_desk):
    d = remote_desk
    found = re.search(r"Autoenhance desk on http://\S+:(\d+)/\?token=([A-Za-z0-9_-]+) ", d.log)
    assert found, d.log[-2000:]
    assert found.group(1) == str(d.port) and len(found.group(2)) >= 40
    token = found.group(2)
    assert "WARNING: listening on 0.0.0.0" in d.log

    # without the token (or with a wrong one): the login page, and no kernel
    for query in ("", "?token=", "?token=" + "x" * 43, "?token=" + token[:-1]):
        answer = d.get("/" + query)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], query
    assert d.get("/", headers={"Authorization": "token nope-nope-nope-nope"}).status_code == 302
    login = d.get("/login")
    assert login.status_code == 200 and "Traceback" not in login.text
    time.sleep(1)
    assert kernel_count(d.pid) == 0

    # with it: the page, and the login cookie opens the kernel's websocket
    session = requests.Session()
    kernel = d.open_page(session, f"?token={token}")
    assert d.get(f"/api/kernels/{kernel}").status_code == 403  # the API without it
    assert _refused(lambda: d.connect(kernel)) == 403  # the websocket without it
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    ws = d.connect(kernel, cookie=cookie, origin=d.url)
    ws.close()
    assert d.get("/", headers={"Authorization": f"token {token}"}).status_code == 200

    # the names it answers to: --allowed-host and addresses; not others
    auth = {"Authorization": f"token {token}"}
    for host in ("desk.example", "DESK.EXAMPLE:443", "192.0.2.7:8866"):
        assert d.get("/voila/static/voila.js", headers={"Host": host, **auth}).ok, host
    assert d.get("/voila/static/voila.js", headers={"Host": "evil.example"}).status_code == 403
    assert token not in d.log.replace(found.group(0), "")  # printed once, with the URL

    # what a scanner sends is refused with a plain page, and no traceback in the log
    for path in ("/voila/labextensions/x.js", "/voila/api/themes/x", "/voila/templates/x"):
        answer = d.get(path)
        assert answer.status_code == 404 and "Traceback" not in answer.text, path
    time.sleep(0.5)
    assert "Traceback" not in d.log and "Uncaught exception" not in d.log, d.log[-3000:]


def test_a_token_from_the_config_file_is_required_and_never_printed(tmp_path, sandbox):
    """... on a desk served under a path, as behind a JupyterHub."""
    pytest.importorskip("voila")
    key, token = "sk-hosted-desk-4711", "team-token-2b7c9e1f5a"
    config = tmp_path / "desk.json"
    config.write_text(json.dumps({"api_key": key, "base_url": sandbox.url, "token": token}))
    config.chmod(0o600)
    d = Desk(
        tmp_path, "--config", str(config), "--cull-after", "3", "--base-url", "/services/desk/"
    )
    try:
        answer = d.get("/services/desk/")  # a local desk with a token asks for it too
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/services/desk/login")
        session = requests.Session()
        kernel = d.open_page(session, f"services/desk/?token={token}")
        assert d.get("/services/desk/voila/static/voila.js").status_code == 200
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        url = f"ws://127.0.0.1:{d.port}/services/desk/api/kernels/{kernel}/channels"
        websocket.create_connection(url, cookie=cookie, origin=d.url, timeout=30).close()
        assert "/services/desk/?token=(the token you gave)" in d.log
        assert token not in d.log and key not in d.log
    finally:
        d.stop()


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, problem",
    [
        (["--max-kernels", "0"], "--max-kernels must be 1 to 1000, not 0"),
        (["--max-drop-mb", "0"], "--max-drop-mb must be 1 to 100000, not 0"),
        (["--cull-after", "0.5"], "--cull-after must be 1 to 86400 seconds, not 0.5"),
        (["--cull-after", "nan"], "--cull-after must be 1 to 86400 seconds, not nan"),
        (["--token", "short"], "at least 16 characters"),
        (["--token", "has spaces in the token"], "at least 16 characters"),
        (["--allowed-host", "bad host/x"], "--allowed-host 'bad host/x' is not a host name"),
        (["--allowed-host", ""], "is not a host name"),
        (["--base-url", "desk"], "--base-url 'desk' must be a path such as /services/desk/"),
        (["--base-url", "/a/../b/"], "must be a path"),
        (["--base-url", "/a b/"], "must be a path"),
    ],
)
def test_bad_hosting_options_are_one_line(tmp_path, capsys, args, problem):
    assert cli.main([*args, "--export-dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("autoenhance-desk: ") and problem in err and "\n" not in err


def test_a_bad_token_in_the_config_is_one_line_without_the_key(tmp_path):
    path = tmp_path / "desk.json"
    path.write_text(json.dumps({"api_key": "sk-cfg-77", "token": "tiny"}))
    path.chmod(0o600)
    with pytest.raises(settings.DeskError, match="at least 16 characters") as info:
        settings.read_config(str(path))
    assert "sk-cfg-77" not in str(info.value) and "tiny" not in str(info.value)


@pytest.mark.parametrize(
    "args, needed",
    [
        ([], False),
        (["--ip", "::1"], False),
        (["--ip", "0.0.0.0"], True),
        (["--allowed-host", "a.b"], True),
    ],
)
def test_a_token_is_needed_when_the_desk_answers_beyond_this_machine(args, needed):
    assert settings.needs_token(settings.build_parser().parse_args(args)) is needed


# -- the real defaults (slow) ------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_thirty_gets_with_the_default_settings_leave_no_kernel_90_seconds_later(tmp_path):
    pytest.importorskip("voila")
    d = Desk(tmp_path)
    try:
        time.sleep(1)
        idle_mb = tree_mb(d.pid)
        started = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            codes = [a.status_code for a in pool.map(lambda _: d.get("/"), range(30))]
        flood_seconds = time.monotonic() - started
        after_flood, flood_mb = kernel_count(d.pid), tree_mb(d.pid)
        assert after_flood <= settings.DEFAULT_MAX_KERNELS and set(codes) <= {200, 503}
        assert codes.count(503) == 30 - codes.count(200)
        culled_in = wait_for_kernels(d.pid, 0, 90)
        time.sleep(1)
        after_mb = tree_mb(d.pid)
        print(
            "desk GET flood, defaults:",
            json.dumps(
                {
                    "served": codes.count(200),
                    "busy": codes.count(503),
                    "kernels_after_flood": after_flood,
                    "flood_seconds": round(flood_seconds, 1),
                    "culled_within_seconds": round(culled_in, 1),
                    "idle_mb": round(idle_mb),
                    "flood_mb": round(flood_mb),
                    "after_mb": round(after_mb),
                }
            ),
        )
        assert after_mb - idle_mb < 150
        assert "Traceback" not in d.log
    finally:
        d.stop()
