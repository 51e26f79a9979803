"""The desk command's settings: its options (``build_parser``), their checks, and the
``--config`` file the API key (and the token) come from. Each problem is a
:class:`DeskError`, reported as one line before anything starts."""

from __future__ import annotations

import argparse
import configparser
import ipaddress
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from ._env import DEFAULT_MAX_DROP_MB

__all__ = [
    "DEFAULT_CULL_AFTER",
    "DEFAULT_EXPORT_DIR",
    "DEFAULT_MAX_KERNELS",
    "DEFAULT_PORT",
    "DeskError",
    "bare_host",
    "build_parser",
    "check_numbers",
    "check_token",
    "check_webhook",
    "export_folder",
    "host_name",
    "is_local",
    "needs_token",
    "read_config",
]

DEFAULT_EXPORT_DIR = "autoenhance-desk-exports"
DEFAULT_PORT = 8866
DEFAULT_CULL_AFTER = 60.0
DEFAULT_MAX_KERNELS = 10
MIN_TOKEN_LENGTH = 16
TOKEN_TEXT = re.compile(r"[A-Za-z0-9._~-]+")
BASE_URL_TEXT = re.compile(r"/([A-Za-z0-9._~%@+-]+/)*")
WEBHOOK_PATH_TEXT = re.compile(r"(/[A-Za-z0-9._~-]+)+")
HEADER_TEXT = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
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
    _add_guard_options(p)
    _add_session_options(p)
    _add_webhook_options(p)
    return p


def _add_webhook_options(p: argparse.ArgumentParser) -> None:
    """The webhook receiver (docs/webhooks.md)."""
    p.add_argument(
        "--webhook-path",
        metavar="PATH",
        default=None,
        help="receive Autoenhance's webhooks on this path (under --base-url), such as "
        "/hooks/autoenhance; every visit's table and gallery update at once and polling "
        "slows to a safety net. Needs --webhook-auth (or webhook_auth in --config)",
    )
    p.add_argument(
        "--webhook-auth",
        metavar="VALUE",
        default=None,
        help="the authentication value set in Autoenhance's web app, which every webhook "
        f"must carry (at least {MIN_TOKEN_LENGTH} characters). Prefer webhook_auth in "
        "--config: other users of this machine can read a command line",
    )
    p.add_argument(
        "--webhook-header",
        metavar="NAME",
        default="Authorization",
        help="the header the authentication value comes in (default Authorization; "
        "Autoenhance does not document its name)",
    )


def _add_guard_options(p: argparse.ArgumentParser) -> None:
    """The options of the guards a desk others can reach needs (see ``_server.py``)."""
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
        "--max-drop-mb",
        metavar="MB",
        type=int,
        default=DEFAULT_MAX_DROP_MB,
        help="the most photo megabytes one visit's kernel holds at once (default "
        f"{DEFAULT_MAX_DROP_MB}): a bigger drop is refused in one line before any byte is "
        "sent. The machine needs up to --max-kernels times this in memory",
    )


def _add_session_options(p: argparse.ArgumentParser) -> None:
    """The options each visit's session starts with."""
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


def needs_token(args: argparse.Namespace) -> bool:
    """A desk that answers to more than this machine needs a token."""
    return not is_local(args.ip) or bool(args.allowed_host)


def check_numbers(args: argparse.Namespace) -> None:
    if not 0 < args.port < 65536:
        raise DeskError(f"--port must be 1 to 65535, not {args.port}")
    if not 1 <= args.max_kernels <= 1000:
        raise DeskError(f"--max-kernels must be 1 to 1000, not {args.max_kernels}")
    if not 1 <= args.max_drop_mb <= 100_000:
        raise DeskError(f"--max-drop-mb must be 1 to 100000, not {args.max_drop_mb}")
    if not 1 <= args.cull_after <= 86400:  # also refuses nan
        raise DeskError(f"--cull-after must be 1 to 86400 seconds, not {args.cull_after:g}")
    for name in args.allowed_host:
        host_name(name)
    if not BASE_URL_TEXT.fullmatch(args.base_url) or "/../" in args.base_url:
        raise DeskError(
            f"--base-url {args.base_url!r} must be a path such as /services/desk/ "
            "(starting and ending with /)"
        )


def check_webhook(args: argparse.Namespace, auth: str | None) -> str | None:
    """The webhook's authentication value when ``--webhook-path`` is set (checked), or
    None; a DeskError for a bad path, header or value."""
    if args.webhook_path is None:
        if args.webhook_auth is not None:
            raise DeskError("--webhook-auth needs --webhook-path")
        return None
    path = args.webhook_path
    if not WEBHOOK_PATH_TEXT.fullmatch(path) or "/../" in path + "/":
        raise DeskError(f"--webhook-path {path!r} must be a path such as /hooks/autoenhance")
    if not HEADER_TEXT.fullmatch(args.webhook_header):
        raise DeskError(f"--webhook-header {args.webhook_header!r} is not a header name")
    if auth is None:
        raise DeskError("--webhook-path needs --webhook-auth (or webhook_auth in --config)")
    auth = auth.strip()
    if len(auth) < MIN_TOKEN_LENGTH or not auth.isprintable() or " " in auth:
        raise DeskError(
            f"the webhook's authentication value must be at least {MIN_TOKEN_LENGTH} "
            "characters, without spaces"
        )
    return auth


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
    """``api_key`` (and ``base_url``, the desk's ``token``, ``webhook_auth``) from a JSON file
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
    values = _config_values(path, path_text)
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
    webhook_auth = values.get("webhook_auth")
    if webhook_auth is not None:
        if not isinstance(webhook_auth, str):
            raise DeskError(f"the webhook_auth in --config {path_text} must be a string")
        out["webhook_auth"] = webhook_auth.strip()
    token = values.get("token")
    if token is not None:
        if not isinstance(token, str):
            raise DeskError(f"the token in --config {path_text} must be a string")
        out["token"] = check_token(token, f"in --config {path_text}")
    return out


def _config_values(path: Path, path_text: str) -> dict[str, Any]:
    """What the ``--config`` file says: its JSON object, or its ``[autoenhance]`` section."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        try:
            values: dict[str, Any] = json.loads(text)
        except ValueError as exc:
            raise DeskError(f"--config {path_text} is not valid JSON: {exc}") from None
        return values
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error:
        raise DeskError(
            f"--config {path_text}: expected JSON or an INI file with an [autoenhance] section"
        ) from None
    if not parser.has_section("autoenhance"):
        raise DeskError(f"--config {path_text} has no [autoenhance] section")
    return dict(parser.items("autoenhance"))
