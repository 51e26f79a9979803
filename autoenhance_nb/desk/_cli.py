"""``autoenhance-desk``: serve the order desk (the bundled desk notebook) with Voila, for
people who do not write code.

The API key comes only from the server: ``AUTOENHANCE_API_KEY`` or ``--config PATH`` (a
file only its owner can read). Without a key, ONE sandbox process serves every visit, so
visitors see the same orders. Settings reach each Voila kernel through environment
variables (see ``_page.py``); the page reads no path from its visitors.

Voila runs from ``_server.py`` (``python -m autoenhance_nb.desk._server``), which adds the
guards a desk others can reach needs: the Host check (``--allowed-host``), the token
(required, and generated unless given, when the desk answers to more than this machine),
culling of kernels without a connected page (``--cull-after``) and a cap on kernels
(``--max-kernels``). ``docs/hosting.md`` explains hosting it for a team."""

from __future__ import annotations

import argparse
import atexit
import configparser
import importlib.util
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from ._env import ENV_EXPORT_DIR, ENV_SYNC_LIMIT

#: The environment variable the guards' settings reach ``_server.py`` through (JSON; it
#: removes it before Voila starts, so kernels never see the token).
ENV_SERVER = "AUTOENHANCE_DESK_SERVER"

__all__ = ["main", "build_parser", "NOTEBOOK", "INSTALL_HINT", "DEFAULT_EXPORT_DIR"]

NOTEBOOK = Path(__file__).with_name("desk.ipynb")
INSTALL_HINT = 'autoenhance-desk needs Voila: pip install "autoenhance-nb[desk]"'
DEFAULT_EXPORT_DIR = "autoenhance-desk-exports"
DEFAULT_PORT = 8866
DEFAULT_CULL_AFTER = 60.0
DEFAULT_MAX_KERNELS = 10
MIN_TOKEN_LENGTH = 16
NON_LOCAL_WARNING = (
    "autoenhance-desk: WARNING: listening on {ip}: anyone with the token link can use the "
    "desk and spend the account's credits, and on plain http the link crosses the network "
    "readable: put a reverse proxy with TLS in front (docs/hosting.md)."
)
TOKEN_TEXT = re.compile(r"[A-Za-z0-9._~-]+")
BASE_URL_TEXT = re.compile(r"/([A-Za-z0-9._~%@+-]+/)*")
HOST_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


class DeskError(Exception):
    """A problem reported as one line before anything starts."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autoenhance-desk",
        description="Serve the Autoenhance order desk (form, table, gallery) as a web page.",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument(
        "--ip",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    p.add_argument(
        "--export-dir",
        default=DEFAULT_EXPORT_DIR,
        help=f"the only folder the page writes into (default ./{DEFAULT_EXPORT_DIR}/, made)",
    )
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    p.add_argument("--theme", choices=["light", "dark"], default="light", help="page theme")
    p.add_argument(
        "--config",
        metavar="PATH",
        default=None,
        help="a JSON or INI file with api_key (and optionally base_url and token), readable "
        "by its owner only (chmod 600); default: AUTOENHANCE_API_KEY from the environment",
    )
    p.add_argument(
        "--base-url",
        metavar="PATH",
        default="/",
        help="the path the page is served under (default /), such as /services/desk/ "
        "behind a JupyterHub or a proxy that keeps the prefix",
    )
    p.add_argument(
        "--allowed-host",
        metavar="NAME",
        action="append",
        default=[],
        help="a host name the desk answers to besides this machine's (repeatable), such as "
        "a reverse proxy's desk.example.com; other Host headers get 403. Makes a token "
        "required",
    )
    p.add_argument(
        "--token",
        default=None,
        help="the token visitors open the page with (http://HOST:PORT/?token=...); "
        "required (and generated unless given here or as 'token' in --config) when the "
        "desk listens beyond this machine or has --allowed-host. Prefer --config: other "
        "users of this machine can read a command line",
    )
    p.add_argument(
        "--cull-after",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_CULL_AFTER,
        help="shut down a visit's kernel when no page has been connected to it for this "
        f"long (default {DEFAULT_CULL_AFTER:g}); a page left open is never shut down",
    )
    p.add_argument(
        "--max-kernels",
        metavar="N",
        type=int,
        default=DEFAULT_MAX_KERNELS,
        help=f"at most N open visits (one kernel each, about 130 MB; default "
        f"{DEFAULT_MAX_KERNELS}); one more gets a 'the desk is busy' page",
    )
    p.add_argument(
        "--sync-limit",
        type=int,
        default=100,
        help="how many of the account's newest orders each visit starts with (default 100)",
    )
    p.add_argument(
        "--sandbox-processing-seconds",
        type=float,
        default=2.0,
        help="without a key: seconds an image stays 'processing' in the sandbox (default 2)",
    )
    return p


def is_local(ip: str) -> bool:
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def bare_host(text: str) -> str:
    """A host as the Host check compares it: lower case, without port, brackets or final
    dot (``Desk.Example.:443`` -> ``desk.example``, ``[::1]:8866`` -> ``::1``)."""
    name = text.strip().lower()
    if name.startswith("["):  # [::1] or [::1]:8866
        return name[1:].split("]", 1)[0]
    if name.count(":") > 1:  # an IPv6 address without brackets: no port
        return name
    return name.split(":", 1)[0].rstrip(".")


def host_name(text: str) -> str:
    """An ``--allowed-host`` value as the Host check compares it (see ``bare_host``), or
    a DeskError."""
    name = bare_host(text)
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    labels = name.split(".")
    if not name or len(name) > 253 or not all(HOST_LABEL.fullmatch(x) for x in labels):
        raise DeskError(f"--allowed-host {text!r} is not a host name or an IP address")
    return name


def check_token(token: str, where: str) -> str:
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH or not TOKEN_TEXT.fullmatch(token):
        raise DeskError(
            f"the token {where} must be at least {MIN_TOKEN_LENGTH} characters among letters, "
            "digits and . _ ~ -"
        )
    return token


def voila_installed() -> bool:
    try:
        return importlib.util.find_spec("voila") is not None
    except (ImportError, ValueError):  # a blocked import (sys.modules["voila"] = None)
        return False


def export_folder(text: str) -> Path:
    """The export folder, made if missing (absolute, so every kernel agrees)."""
    path = Path(text).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise DeskError(f"--export-dir {text} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeskError(f"cannot make the export folder {text}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise DeskError(f"the export folder {text} is not writable")
    return path


def read_config(path_text: str) -> dict[str, str]:
    """``api_key`` (and ``base_url``, and the desk's ``token``) from a JSON file
    (``{"api_key": ...}``) or an INI file (``[autoenhance]`` with ``api_key = ...``) that
    only its owner may read."""
    path = Path(path_text).expanduser()
    try:
        st = path.stat()
    except OSError as exc:
        raise DeskError(f"cannot read --config {path_text}: {exc.strerror or exc}") from None
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DeskError(
            f"--config {path_text} can be read by other users: chmod 600 {path_text} first"
        )
    text = path.read_text(encoding="utf-8")
    values: dict[str, Any]
    if text.lstrip().startswith("{"):
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise DeskError(f"--config {path_text} is not valid JSON: {exc}") from None
    else:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text, source=str(path))
        except configparser.Error:
            raise DeskError(
                f"--config {path_text}: expected JSON or an INI file with an [autoenhance] section"
            ) from None
        if not parser.has_section("autoenhance"):
            raise DeskError(f"--config {path_text} has no [autoenhance] section")
        values = dict(parser.items("autoenhance"))
    key = values.get("api_key")
    if not isinstance(key, str) or not key.strip():
        raise DeskError(f"--config {path_text} has no api_key")
    from ..api import hide_key

    held, problem = hide_key(key)
    if held is None:
        raise DeskError(f"the api_key in --config {path_text} cannot be used: {problem}")
    out = {"api_key": key.strip()}
    base_url = values.get("base_url")
    if isinstance(base_url, str) and base_url.strip():
        out["base_url"] = base_url.strip()
    token = values.get("token")
    if token is not None:
        if not isinstance(token, str):
            raise DeskError(f"the token in --config {path_text} must be a string")
        out["token"] = check_token(token, f"in --config {path_text}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_sandbox(port: int, processing_seconds: float) -> subprocess.Popen[str]:
    """Start ``python -m autoenhance_nb.sandbox --port PORT`` (see ``sandbox_ready``)."""
    command = [sys.executable, "-m", "autoenhance_nb.sandbox", "--port", str(port)]
    command += ["--processing-seconds", str(processing_seconds)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


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


def server_settings(args: argparse.Namespace, token: str) -> str:
    """The guards' settings for ``_server.py`` (JSON, through the environment)."""
    hosts = [host_name(h) for h in args.allowed_host]
    return json.dumps(
        {
            "hosts": hosts,
            "local": is_local(args.ip),
            "max_kernels": args.max_kernels,
            "cull_after": args.cull_after,
            "token": token,
        }
    )


def needs_token(args: argparse.Namespace) -> bool:
    """A desk that answers to more than this machine needs a token."""
    return not is_local(args.ip) or bool(args.allowed_host)


def check_numbers(args: argparse.Namespace) -> None:
    if not 0 < args.port < 65536:
        raise DeskError(f"--port must be 1 to 65535, not {args.port}")
    if not 1 <= args.max_kernels <= 1000:
        raise DeskError(f"--max-kernels must be 1 to 1000, not {args.max_kernels}")
    if not 1 <= args.cull_after <= 86400:  # also refuses nan
        raise DeskError(f"--cull-after must be 1 to 86400 seconds, not {args.cull_after:g}")
    for name in args.allowed_host:
        host_name(name)
    if not BASE_URL_TEXT.fullmatch(args.base_url) or "/../" in args.base_url:
        raise DeskError(
            f"--base-url {args.base_url!r} must be a path such as /services/desk/ "
            "(starting and ending with /)"
        )


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not voila_installed():
        say(INSTALL_HINT)
        return 2
    if not is_local(args.ip):
        say(NON_LOCAL_WARNING.format(ip=args.ip, port=args.port))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOENHANCE_DESK_")}
    token = ""
    try:
        check_numbers(args)
        if args.token is not None:
            token = check_token(args.token, "given with --token")
        export_dir = export_folder(args.export_dir)
        if args.config:
            config = read_config(args.config)
            env["AUTOENHANCE_API_KEY"] = config["api_key"]
            if "base_url" in config:
                env["AUTOENHANCE_BASE_URL"] = config["base_url"]
            else:
                env.pop("AUTOENHANCE_BASE_URL", None)
            token = token or config.get("token", "")
    except DeskError as exc:
        say(f"autoenhance-desk: {exc}")
        return 2
    generated = not token and needs_token(args)
    if generated:
        token = secrets.token_urlsafe(32)
    env[ENV_EXPORT_DIR] = str(export_dir)
    env[ENV_SYNC_LIMIT] = str(max(0, args.sync_limit))
    env[ENV_SERVER] = server_settings(args, token)
    use_sandbox = not (env.get("AUTOENHANCE_API_KEY") or "").strip()

    def _terminate(signum: int, frame: object) -> None:  # SIGTERM behaves like Ctrl-C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    sandbox: subprocess.Popen[str] | None = None
    voila: subprocess.Popen[bytes] | None = None
    code = 0
    try:
        if use_sandbox:
            # started side by side with Voila (each takes seconds to import); the sandbox
            # is up long before a visitor's kernel asks it anything
            url = f"http://127.0.0.1:{free_port()}"
            sandbox = launch_sandbox(int(url.rsplit(":", 1)[1]), args.sandbox_processing_seconds)
            atexit.register(stop, sandbox)
            env["AUTOENHANCE_API_KEY"] = "sandbox"
            env["AUTOENHANCE_BASE_URL"] = url
        voila = subprocess.Popen(voila_command(args), env=env)
        if sandbox is not None:
            url = sandbox_ready(sandbox)
            where = f"SANDBOX at {url} (nothing reaches Autoenhance; one sandbox for every visit)"
        else:
            where = "the Autoenhance API with the server's key (processing uses credits)"
        url = page_url(args)
        if token:  # a token from --config or --token is the operator's to hand out
            url += f"?token={token}" if generated else "?token=(the token you gave)"
        say(f"Autoenhance desk on {url} using {where}")
        say(f"Exports go into {export_dir}. Press Ctrl-C to stop.")
        code = voila.wait()
        if code:
            say(f"autoenhance-desk: Voila stopped (exit code {code})")
    except DeskError as exc:
        say(f"autoenhance-desk: {exc}")
        code = 2
    except KeyboardInterrupt:
        code = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        for proc in (voila, sandbox):
            if proc is not None and proc.poll() is None:
                proc.terminate()  # both at once: Voila takes seconds to stop its kernels
        stop(voila)
        stop(sandbox)
    say("Desk stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
