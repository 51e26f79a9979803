"""The process-wide default tracker that the magic and the form share.

Without ``AUTOENHANCE_API_KEY`` it runs the built-in sandbox in this process and says
so; with it, it talks to the live API (or ``AUTOENHANCE_BASE_URL``). A configured key
never falls back to the sandbox.
"""

from __future__ import annotations

import os
import threading

from .client import AutoenhanceClient
from .tracker import OrderTracker

__all__ = ["session", "current_session", "use_live", "reset_session", "SANDBOX_KEY"]

#: What the session's client sends to its own sandbox (which accepts any key).
SANDBOX_KEY = "sandbox"

_lock = threading.Lock()
_session: OrderTracker | None = None


def session(*, quiet: bool = False, **client_options) -> OrderTracker:
    """The session's ``OrderTracker``, created on first use.

    ``client_options`` (timeout, max_retries, ...) apply when it is created.
    """
    global _session
    with _lock:
        if _session is None:
            _session = _new_session(quiet=quiet, **client_options)
        return _session


def _new_session(*, quiet: bool, **client_options) -> OrderTracker:
    key = (os.environ.get("AUTOENHANCE_API_KEY") or "").strip()
    if key:
        tracker = OrderTracker(AutoenhanceClient(**client_options))
        if not quiet:
            print(f"autoenhance: using the {tracker.environment_label} API "
                  f"(key from AUTOENHANCE_API_KEY)")
        return tracker
    from .sandbox import Sandbox  # lazily: the server library is not needed for live use

    sandbox = Sandbox().start()
    tracker = OrderTracker(AutoenhanceClient(api_key=SANDBOX_KEY, base_url=sandbox.url,
                                             environment="sandbox", **client_options))
    tracker.sandbox = sandbox
    if not quiet:
        print(f"autoenhance: no AUTOENHANCE_API_KEY set, so this session uses the built-in "
              f"SANDBOX at {sandbox.url} (nothing reaches Autoenhance)")
    return tracker


def current_session() -> OrderTracker | None:
    """The session's tracker if one was started, without starting one."""
    return _session


def use_live(api_key: str, base_url: str | None = None, **client_options) -> OrderTracker:
    """Switch the session to the live API with ``api_key``. Orders made in the sandbox
    are not real, so the table starts empty and the sandbox stops. The same tracker
    object stays, so every form and magic follows."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError("An API key is needed to use the live API")
    client = AutoenhanceClient(api_key=api_key.strip(), base_url=base_url, **client_options)
    tracker = session(quiet=True)
    old_sandbox = tracker.sandbox
    tracker.use_client(client)
    tracker.sandbox = None
    if old_sandbox is not None:
        old_sandbox.stop()
    return tracker


def reset_session() -> None:
    """Forget the session (stopping its sandbox); the next ``session()`` starts anew."""
    global _session
    with _lock:
        old, _session = _session, None
    if old is not None and old.sandbox is not None:
        old.sandbox.stop()
