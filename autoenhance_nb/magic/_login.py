"""``%autoenhance_login``'s line and prompt: the only argument is ``--base-url``; the key
is asked at a hidden prompt and wrapped at once, never typed into a cell (it would be
saved in the notebook, the history and ``In[]``)."""

from __future__ import annotations

import getpass
import shlex
from typing import Any

from .. import errors as E
from ._cells import MagicError

__all__ = ["LOGIN_ARGUMENTS", "ask_key", "check_login_url", "login_base_url"]

LOGIN_ARGUMENTS = (
    "%autoenhance_login takes no arguments (only --base-url URL): the key is never typed "
    "into a cell (it would be saved in the notebook); run %autoenhance_login alone and "
    "paste it at the hidden prompt"
)


def login_base_url(line: str) -> str | None:
    """The ``--base-url`` of a ``%autoenhance_login`` line, or None. Any other argument
    (a key typed on the line, most likely) is a one-line error that never repeats it."""
    try:
        argv = shlex.split(line, posix=True)
    except ValueError:
        raise MagicError(LOGIN_ARGUMENTS) from None
    if not argv:
        return None
    if len(argv) == 2 and argv[0] == "--base-url":
        url = argv[1]
    elif len(argv) == 1 and argv[0].startswith("--base-url="):
        url = argv[0].partition("=")[2]
    else:
        raise MagicError(LOGIN_ARGUMENTS)
    return url


def check_login_url(url: str) -> str:
    """``url`` if it is an http(s) URL without a user name or password; else a
    ``ValidationError`` that does not repeat it (it could be the key, typed there)."""
    from urllib.parse import urlsplit

    from ..api import check_base_url

    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc
    except ValueError:
        ok = False
    if not ok:
        raise E.ValidationError(
            "--base-url must be an http(s) URL such as https://api.autoenhance.ai, with no "
            "user name or password (what was typed is not repeated: it could be the key); "
            "the key itself goes at the hidden prompt of %autoenhance_login alone",
            fields={"base_url": ["must be an http(s) URL"]},
        )
    return check_base_url(url)


def ask_key() -> Any:
    """The key from a hidden prompt, wrapped at once so no frame holds it plainly."""
    from ..api import hide_key

    key, problem = hide_key(getpass.getpass("Autoenhance API key (input hidden): "))
    if key is None:
        raise E.AuthenticationError(f"{problem}; the session stays as it was")
    return key
