"""The process-wide session that the magic, the form and Python code share: one
``OrderTracker`` and, without a key, the built-in sandbox it talks to.

Without ``AUTOENHANCE_API_KEY`` it runs the sandbox in this process and says so; with
it, it talks to the live API (or ``AUTOENHANCE_BASE_URL``). A configured key never
falls back to the sandbox. Going live checks the key with one cheap request first;
the sandbox's table is kept aside, and ``use_sandbox()`` brings it back.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .api import AutoenhanceClient, ClientOptions, check_base_url, hide_key
from .errors import ValidationError
from .tracker import OrderTracker, TableState

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = [
    "session",
    "current_session",
    "current_context",
    "use_live",
    "use_sandbox",
    "reset_session",
    "SANDBOX_KEY",
    "SessionContext",
]

#: What the session's client sends to its own sandbox (which accepts any key).
SANDBOX_KEY = "sandbox"


@dataclass
class SessionContext:
    """The session's parts: the tracker every front end uses, the sandbox it runs (if
    any), the sandbox's table while the tracker talks to the live API, and the client
    settings the session started with (a fresh sandbox client gets them too)."""

    tracker: OrderTracker
    sandbox: Sandbox | None = None
    parked: dict[str, tuple[AutoenhanceClient, TableState]] = field(default_factory=dict)
    client_options: ClientOptions = field(default_factory=ClientOptions)


log = logging.getLogger("autoenhance_nb")

_lock = threading.RLock()
_context: SessionContext | None = None


def session(
    *, quiet: bool = False, options: ClientOptions | None = None, **client_options: Any
) -> OrderTracker:
    """The session's ``OrderTracker``, created on first use.

    ``options`` (a ``ClientOptions``) and ``client_options`` (timeout, max_retries, ...:
    its fields, which win) apply when it is created.
    """
    return context(quiet=quiet, options=options, **client_options).tracker


def context(
    *, quiet: bool = False, options: ClientOptions | None = None, **client_options: Any
) -> SessionContext:
    """The session's parts, created on first use (see ``session``)."""
    global _context
    settings = ClientOptions.build(options, **client_options)
    with _lock:
        if _context is None:
            _context = _new_context(settings, quiet=quiet)
        return _context


def _new_context(client_options: ClientOptions, *, quiet: bool) -> SessionContext:
    if (os.environ.get("AUTOENHANCE_API_KEY") or "").strip():
        tracker = OrderTracker(AutoenhanceClient(options=client_options))
        if not quiet:
            print(
                f"autoenhance: using the {tracker.environment_label} API "
                f"(key from AUTOENHANCE_API_KEY)"
            )
        resume_in_background(tracker)
        return SessionContext(tracker, client_options=client_options)
    sandbox = _start_sandbox()
    tracker = OrderTracker(_sandbox_client(sandbox, client_options))
    if not quiet:
        print(
            f"autoenhance: no AUTOENHANCE_API_KEY set, so this session uses the built-in "
            f"SANDBOX at {sandbox.url} (nothing reaches Autoenhance)"
        )
    return SessionContext(tracker, sandbox, client_options=client_options)


def resume_in_background(tracker: OrderTracker) -> threading.Thread | None:
    """``tracker.resume()`` on a daemon thread when the journal holds this notebook's
    orders (one quick local read decides; a session's own in-kernel sandbox starts
    empty, so it is never resumed). The table fills as the answers come."""
    journal = tracker.journal
    if journal is None or not journal.orders_of(tracker.client.account, tracker.notebook, 1):
        return None

    def run() -> None:
        try:
            tracker.resume()
        except Exception as exc:  # noqa: BLE001 -- a background nicety: never raises
            log.info("could not resume the journal's orders: %s", exc)

    thread = threading.Thread(target=run, name="autoenhance-resume", daemon=True)
    thread.start()
    return thread


def _start_sandbox() -> Sandbox:
    from .sandbox import Sandbox  # lazily: the server library is not needed for live use

    return Sandbox().start()


def _sandbox_client(sandbox: Sandbox, options: ClientOptions) -> AutoenhanceClient:
    return AutoenhanceClient(
        api_key=SANDBOX_KEY, base_url=sandbox.url, environment="sandbox", options=options
    )


def current_session() -> OrderTracker | None:
    """The session's tracker if one was started, without starting one."""
    ctx = _context
    return ctx.tracker if ctx is not None else None


def current_context() -> SessionContext | None:
    """The session's parts if it was started, without starting it."""
    return _context


def use_live(
    api_key: Any,
    base_url: str | None = None,
    *,
    verify: bool = True,
    options: ClientOptions | None = None,
    **client_options: Any,
) -> OrderTracker:
    """Switch the session to the live API with ``api_key``.

    The key is checked first with one cheap authenticated request (``verify=False``
    skips that): a wrong key raises ``AuthenticationError`` and the session stays as it
    was. The sandbox's table is kept aside (``use_sandbox()`` brings it back); the same
    tracker object stays, so every form and magic follows. ``options`` and
    ``client_options`` set the new client as in ``session``."""
    # rebinding the argument at once: no frame of a verbose traceback shows the key
    api_key, problem = hide_key(api_key)
    if api_key is None:
        raise ValidationError(
            f"An API key is needed to use the live API: {problem}",
            fields={"api_key": ["missing or invalid"]},
        ) from None
    if base_url is not None:
        base_url = check_base_url(base_url)
    settings = ClientOptions.build(options, **client_options)
    client = AutoenhanceClient(api_key=api_key, base_url=base_url, options=settings)
    if verify:
        check_key_works(client)
    ctx = context(quiet=True)
    with _lock:
        old_client = ctx.tracker.client
        old_state = ctx.tracker.use_client(client)
        if _on_own_sandbox(ctx, old_client):
            ctx.parked["sandbox"] = (old_client, old_state)
    resume_in_background(ctx.tracker)  # this notebook's live orders, from the journal
    return ctx.tracker


def check_key_works(client: AutoenhanceClient) -> None:
    """One cheap authenticated request (the first order of the account); raises
    ``AuthenticationError`` for a refused key, other typed errors when the API cannot
    be reached."""
    for _ in client.list_orders(per_page=1, limit=1):
        break


def _on_own_sandbox(ctx: SessionContext, client: AutoenhanceClient) -> bool:
    return ctx.sandbox is not None and ctx.sandbox.running and client.base_url == ctx.sandbox.url


def use_sandbox() -> OrderTracker:
    """Go back to the built-in sandbox, with the table it had before going live (or a
    fresh sandbox if none ran yet). The live orders stay on the account."""
    ctx = context(quiet=True)
    with _lock:
        if _on_own_sandbox(ctx, ctx.tracker.client):
            return ctx.tracker
        if ctx.sandbox is None:
            ctx.sandbox = _start_sandbox()
        elif not ctx.sandbox.running:
            ctx.sandbox.start()  # comes back on its port, with its orders
        parked = ctx.parked.pop("sandbox", None)
        if parked is None:
            ctx.tracker.use_client(_sandbox_client(ctx.sandbox, ctx.client_options))
        else:
            ctx.tracker.use_client(parked[0], parked[1])
    return ctx.tracker


def reset_session() -> None:
    """Forget the session (stopping its sandbox); the next ``session()`` starts anew."""
    global _context
    with _lock:
        old, _context = _context, None
    if old is not None and old.sandbox is not None:
        old.sandbox.stop()
