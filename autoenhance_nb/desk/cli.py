"""``autoenhance-desk``: serve the order desk (the bundled desk notebook) with Voila, for
people who do not write code.

The API key comes only from the server: ``AUTOENHANCE_API_KEY`` or ``--config PATH`` (a
file only its owner can read). Without a key, ONE sandbox process serves every visit, so
visitors see the same orders. Settings reach each Voila kernel through environment
variables (see ``page.py``); the page reads no path from its visitors."""

from __future__ import annotations

import argparse
import atexit
import configparser
import importlib.util
import ipaddress
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .env import ENV_EXPORT_DIR, ENV_SYNC_LIMIT

__all__ = ["main", "build_parser", "NOTEBOOK", "INSTALL_HINT", "DEFAULT_EXPORT_DIR"]

NOTEBOOK = Path(__file__).with_name("desk.ipynb")
INSTALL_HINT = 'autoenhance-desk needs Voila: pip install "autoenhance-nb[desk]"'
DEFAULT_EXPORT_DIR = "autoenhance-desk-exports"
DEFAULT_PORT = 8866
NON_LOCAL_WARNING = (
    "autoenhance-desk: WARNING: listening on {ip}: anyone who can reach port {port} can use "
    "the desk and spend the account's credits. Use --ip 127.0.0.1 (the default) unless "
    "the network in front of it is trusted."
)


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
        help="a JSON or INI file with api_key (and optionally base_url), readable by its "
        "owner only (chmod 600); default: AUTOENHANCE_API_KEY from the environment",
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
    """``api_key`` (and ``base_url``) from a JSON file (``{"api_key": ...}``) or an INI file
    (``[autoenhance]`` with ``api_key = ...``) that only its owner may read."""
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
    from ..keys import hide_key

    held, problem = hide_key(key)
    if held is None:
        raise DeskError(f"the api_key in --config {path_text} cannot be used: {problem}")
    out = {"api_key": key.strip()}
    base_url = values.get("base_url")
    if isinstance(base_url, str) and base_url.strip():
        out["base_url"] = base_url.strip()
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
    command = [
        sys.executable,
        "-m",
        "voila",
        str(NOTEBOOK),
        f"--port={args.port}",
        "--Voila.port_retries=0",
        f"--Voila.ip={args.ip}",
        "--strip_sources=True",
        "--show_tracebacks=False",
        f"--theme={args.theme}",
    ]
    if not args.open:
        command.append("--no-browser")
    return command


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not voila_installed():
        say(INSTALL_HINT)
        return 2
    if not 0 < args.port < 65536:
        say(f"autoenhance-desk: --port must be 1 to 65535, not {args.port}")
        return 2
    if not is_local(args.ip):
        say(NON_LOCAL_WARNING.format(ip=args.ip, port=args.port))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOENHANCE_DESK_")}
    try:
        export_dir = export_folder(args.export_dir)
        if args.config:
            config = read_config(args.config)
            env["AUTOENHANCE_API_KEY"] = config["api_key"]
            if "base_url" in config:
                env["AUTOENHANCE_BASE_URL"] = config["base_url"]
            else:
                env.pop("AUTOENHANCE_BASE_URL", None)
    except DeskError as exc:
        say(f"autoenhance-desk: {exc}")
        return 2
    env[ENV_EXPORT_DIR] = str(export_dir)
    env[ENV_SYNC_LIMIT] = str(max(0, args.sync_limit))
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
        host = f"[{args.ip}]" if ":" in args.ip else args.ip
        say(f"Autoenhance desk on http://{host}:{args.port}/ using {where}")
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
