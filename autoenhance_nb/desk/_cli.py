"""``autoenhance-desk``: serve the order desk (the bundled desk notebook) with Voila, for
people who do not write code.

The API key comes only from the server: ``AUTOENHANCE_API_KEY`` or ``--config PATH`` (a
file only its owner can read). Without a key, ONE sandbox process serves every visit, so
visitors see the same orders. Settings reach each Voila kernel through environment
variables (see ``_page.py``); the page reads no path from its visitors. The options and
their checks are in ``_settings.py``; this module launches the processes.

Voila runs from ``_server.py`` (``python -m autoenhance_nb.desk._server``), which adds the
guards a desk others can reach needs: the Host check (``--allowed-host``), the token
(required, and generated unless given, when the desk answers to more than this machine),
culling of kernels without a connected page (``--cull-after``) and a cap on kernels
(``--max-kernels``). ``docs/hosting.md`` explains hosting it for a team."""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._env import ENV_EVENTS, ENV_EXPORT_DIR, ENV_MAX_DROP_MB, ENV_SERVER, ENV_SYNC_LIMIT
from ._settings import (
    DeskError,
    build_parser,
    check_numbers,
    check_token,
    check_webhook,
    export_folder,
    host_name,
    is_local,
    needs_token,
    read_config,
)

__all__ = ["main", "NOTEBOOK", "INSTALL_HINT"]

NOTEBOOK = Path(__file__).with_name("desk.ipynb")
INSTALL_HINT = 'autoenhance-desk needs Voila: pip install "autoenhance-nb[desk]"'
NON_LOCAL_WARNING = (
    "autoenhance-desk: WARNING: listening on {ip}: anyone with the token link can use the "
    "desk and spend the account's credits, and on plain http the link crosses the network "
    "readable: put a reverse proxy with TLS in front (docs/hosting.md)."
)


def voila_installed() -> bool:
    try:
        return importlib.util.find_spec("voila") is not None
    except (ImportError, ValueError):  # a blocked import (sys.modules["voila"] = None)
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_sandbox(
    port: int, processing_seconds: float, webhook: tuple[str, str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``python -m autoenhance_nb.sandbox --port PORT`` (see ``sandbox_ready``);
    ``webhook``: (the desk's receiver URL, its authentication value, its header), the
    value passed through the environment (a command line is readable by others)."""
    command = [sys.executable, "-m", "autoenhance_nb.sandbox", "--port", str(port)]
    command += ["--processing-seconds", str(processing_seconds)]
    env = None
    if webhook is not None:
        command += ["--webhook-url", webhook[0], "--webhook-header", webhook[2]]
        env = {**os.environ, "AUTOENHANCE_SANDBOX_WEBHOOK_AUTH": webhook[1]}
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)


def sandbox_ready(proc: subprocess.Popen[str]) -> str:
    """Wait for the sandbox's "listening on URL" line; its URL."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on " in line:
            # the rest of what it says is read and dropped (a closed pipe would break its
            # goodbye line into a traceback)
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return line.rsplit("listening on ", 1)[1].strip()
    proc.wait()
    raise DeskError(f"the sandbox did not start (exit code {proc.returncode})")


def start_sandbox(processing_seconds: float) -> tuple[subprocess.Popen[str], str]:
    """The sandbox on a free port: (the process, its URL)."""
    proc = launch_sandbox(free_port(), processing_seconds)
    return proc, sandbox_ready(proc)


def stop(proc: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """End a child process: SIGTERM, then SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def voila_command(args: argparse.Namespace) -> list[str]:
    """Voila's command line: ``_server.py``, which takes Voila's options (the guards'
    settings go through the environment, see ``server_settings``)."""
    command = [
        sys.executable,
        "-m",
        "autoenhance_nb.desk._server",
        str(NOTEBOOK),
        f"--port={args.port}",
        "--Voila.port_retries=0",
        f"--Voila.ip={args.ip}",
        f"--Voila.base_url={args.base_url}",
        "--strip_sources=True",
        "--show_tracebacks=False",
        f"--theme={args.theme}",
    ]
    if not args.open:
        command.append("--no-browser")
    return command


def server_settings(
    args: argparse.Namespace, token: str, webhook_auth: str | None = None, events: str = ""
) -> str:
    """The guards' settings for ``_server.py`` (JSON, through the environment), with the
    webhook receiver's when there is one."""
    hosts = [host_name(h) for h in args.allowed_host]
    settings: dict[str, Any] = {
        "hosts": hosts,
        "local": is_local(args.ip),
        "max_kernels": args.max_kernels,
        "cull_after": args.cull_after,
        "token": token,
    }
    if webhook_auth is not None:
        settings["webhook"] = {
            "path": args.webhook_path,
            "auth": webhook_auth,
            "header": args.webhook_header,
            "events": events,
        }
    return json.dumps(settings)


def page_url(args: argparse.Namespace) -> str:
    """The page's address as printed: this machine's name for a wildcard bind."""
    host = args.ip
    try:
        if ipaddress.ip_address(host).is_unspecified:
            host = socket.gethostname() or "localhost"
    except ValueError:
        pass
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{args.port}{args.base_url}"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Launch:
    """What the checked settings give the processes: Voila's environment, the token
    (generated or not) and the export folder."""

    env: dict[str, str]
    token: str
    generated: bool
    export_dir: Path
    webhook_auth: str | None = None
    events_dir: Path | None = None  # the event log's private folder (removed at the end)

    def sandbox_webhook(self, args: argparse.Namespace) -> tuple[str, str, str] | None:
        """Where the desk's own sandbox sends its webhooks: the desk's receiver."""
        if self.webhook_auth is None:
            return None
        url = f"http://127.0.0.1:{args.port}{args.base_url.rstrip('/')}{args.webhook_path}"
        return url, self.webhook_auth, args.webhook_header

    def announced_url(self, args: argparse.Namespace) -> str:
        """The page's address as printed; a token from --config or --token is the
        operator's to hand out, so only a generated one is shown."""
        url = page_url(args)
        if self.token:
            url += f"?token={self.token}" if self.generated else "?token=(the token you gave)"
        return url


def prepare(args: argparse.Namespace) -> Launch:
    """Check the settings and build Voila's environment (a DeskError if one is wrong)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOENHANCE_DESK_")}
    check_numbers(args)
    token = "" if args.token is None else check_token(args.token, "given with --token")
    export_dir = export_folder(args.export_dir)
    config: dict[str, str] = {}
    if args.config:
        config = read_config(args.config)
        env["AUTOENHANCE_API_KEY"] = config["api_key"]
        if "base_url" in config:
            env["AUTOENHANCE_BASE_URL"] = config["base_url"]
        else:
            env.pop("AUTOENHANCE_BASE_URL", None)
        token = token or config.get("token", "")
    webhook_auth = check_webhook(args, args.webhook_auth or config.get("webhook_auth"))
    generated = not token and needs_token(args)
    if generated:
        token = secrets.token_urlsafe(32)
    env[ENV_EXPORT_DIR] = str(export_dir)
    env[ENV_SYNC_LIMIT] = str(max(0, args.sync_limit))
    env[ENV_MAX_DROP_MB] = str(args.max_drop_mb)
    events_dir = None
    events = ""
    if webhook_auth is not None:
        # private to this desk (0700), next to nothing of the user's; see docs/webhooks.md
        events_dir = Path(tempfile.mkdtemp(prefix="autoenhance-desk-events-"))
        events = str(events_dir / "events.sqlite")
        env[ENV_EVENTS] = events
    env[ENV_SERVER] = server_settings(args, token, webhook_auth, events)
    return Launch(env, token, generated, export_dir, webhook_auth, events_dir)


def _terminate(signum: int, frame: object) -> None:  # SIGTERM behaves like Ctrl-C
    raise KeyboardInterrupt


def serve(args: argparse.Namespace, launch: Launch) -> int:
    """Run Voila (and the sandbox without a key) until Voila ends, Ctrl-C or SIGTERM;
    both stop either way. The exit code."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    children: list[subprocess.Popen[Any]] = []  # the sandbox (if any), then Voila
    try:
        return run_children(args, launch, children)
    except DeskError as exc:
        say(f"autoenhance-desk: {exc}")
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        for proc in reversed(children):
            if proc.poll() is None:
                proc.terminate()  # both at once: Voila takes seconds to stop its kernels
        for proc in reversed(children):
            stop(proc)
        if launch.events_dir is not None:
            shutil.rmtree(launch.events_dir, ignore_errors=True)


def run_children(
    args: argparse.Namespace, launch: Launch, children: list[subprocess.Popen[Any]]
) -> int:
    """Start the processes (each added to ``children`` as it starts), say where the desk
    is, and wait for Voila; its exit code."""
    env = launch.env
    sandbox: subprocess.Popen[str] | None = None
    if not (env.get("AUTOENHANCE_API_KEY") or "").strip():
        # started side by side with Voila (each takes seconds to import); the sandbox
        # is up long before a visitor's kernel asks it anything
        url = f"http://127.0.0.1:{free_port()}"
        sandbox = launch_sandbox(
            int(url.rsplit(":", 1)[1]),
            args.sandbox_processing_seconds,
            launch.sandbox_webhook(args),
        )
        children.append(sandbox)
        atexit.register(stop, sandbox)
        env["AUTOENHANCE_API_KEY"] = "sandbox"
        env["AUTOENHANCE_BASE_URL"] = url
    voila = subprocess.Popen(voila_command(args), env=env)
    children.append(voila)
    if sandbox is not None:
        url = sandbox_ready(sandbox)
        where = f"SANDBOX at {url} (nothing reaches Autoenhance; one sandbox for every visit)"
    else:
        where = "the Autoenhance API with the server's key (processing uses credits)"
    say(f"Autoenhance desk on {launch.announced_url(args)} using {where}")
    if launch.webhook_auth is not None:
        say(f"Webhooks received on {page_url(args).rstrip('/')}{args.webhook_path}")
    say(f"Exports go into {launch.export_dir}. Press Ctrl-C to stop.")
    code = voila.wait()
    if code:
        say(f"autoenhance-desk: Voila stopped (exit code {code})")
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not voila_installed():
        say(INSTALL_HINT)
        return 2
    if not is_local(args.ip):
        say(NON_LOCAL_WARNING.format(ip=args.ip, port=args.port))
    try:
        launch = prepare(args)
    except DeskError as exc:
        say(f"autoenhance-desk: {exc}")
        return 2
    code = serve(args, launch)
    say("Desk stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
