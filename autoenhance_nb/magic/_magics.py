"""IPython magics: ``%autoenhance_order`` (line and cell) and ``%autoenhance_login``.

Thin on purpose, as JupySQL's magic: check the whole line (``_line``, before any
request), hand each command to its plain function (``_dispatch`` over ``_orders``,
``_photos``, ``_batch``, ``_brackets``, ``_gallery``), and return one display object
(``Summary``), shown once under the cell in every front end. Errors stop the cell with
one line (``MagicError``, which IPython, nbclient and papermill all report with its
reason) unless ``%config AutoenhanceMagics.short_errors = False``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Dict, Float, Int, TraitError, Unicode, observe, validate

from .. import errors as E
from .._session import session, use_live, use_sandbox
from ..api import ClientOptions
from ..display import Message
from ..errors import one_line
from ..rules import check_options
from ._args import order_arguments
from ._cells import MagicError
from ._dispatch import commands, dry_run, result
from ._line import check_line
from ._login import ask_key, check_login_url, login_base_url
from ._run import Run

__all__ = ["AutoenhanceMagics", "load_ipython_extension", "unload_ipython_extension", "magics_of"]


@magics_class
class AutoenhanceMagics(Magics):
    """Create and track Autoenhance orders from notebook cells."""

    short_errors = Bool(
        True,
        config=True,
        help=(
            "Show a failing command as one line instead of a full traceback. Either way the "
            "cell fails, so Run All, nbclient and papermill stop there."
        ),
    )
    workers = Int(8, config=True, help="Concurrent requests for a cell batch and --refresh.")
    timeout = Float(30.0, config=True, help="Seconds to wait for each API answer.")
    max_retries = Int(
        3, config=True, help="Retries after a 429, 5xx, timeout or dropped connection."
    )
    progress = Bool(True, config=True, help="Show progress bars (batches, uploads, --watch).")
    upload_workers = Int(4, config=True, help="Concurrent photo uploads.")
    watch_interval = Float(5.0, config=True, help="Seconds between refreshes in --watch.")
    base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "API base URL for the live API (default: AUTOENHANCE_BASE_URL, else "
            "https://api.autoenhance.ai). Used with the key from AUTOENHANCE_API_KEY or "
            "%autoenhance_login; without a key the session stays on the sandbox."
        ),
    )

    default_options = Dict(
        {}, config=True, help="Enhancement options for every photo uploaded by the magic."
    )
    dev_mode = Bool(
        False, config=True, help="The API's free, watermarked test processing (x-dev-mode)."
    )

    @validate("default_options")
    def _check_default_options(self, proposal: Any) -> dict[str, Any]:
        try:
            return check_options(proposal["value"])
        except E.ValidationError as exc:
            raise TraitError(str(exc)) from None

    @observe("dev_mode")
    def _apply_dev_mode(self, change: Any) -> None:
        self._tracker(announce=False).dev_mode = change["new"]

    @observe("timeout", "max_retries")
    def _apply_client_settings(self, change: Any) -> None:
        tracker = self._tracker(announce=False)
        setattr(tracker.client, change["name"], change["new"])

    @observe("base_url")
    def _apply_base_url(self, change: Any) -> None:
        from ..api import hide_key

        # wrapped at once: a refused key's verbose traceback shows no frame holding it
        key, _ = hide_key(os.environ.get("AUTOENHANCE_API_KEY"))
        if change["new"] and key is not None:
            use_live(key, base_url=change["new"], options=self._client_settings())

    # -- helpers -------------------------------------------------------------------------
    def _client_settings(self) -> ClientOptions:
        """The client settings of the magic's traits, as the session holds them."""
        return ClientOptions(
            timeout=self.timeout, max_retries=self.max_retries, dev_mode=self.dev_mode
        )

    def _tracker(self, announce: bool = True) -> Any:
        tracker = session(quiet=not announce, options=self._client_settings())
        named = self.shell.user_ns.get("__session__") if self.shell is not None else None
        if isinstance(named, str) and named:
            tracker.notebook_name = named  # the notebook's path, as Jupyter tells the kernel
        return tracker

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the toolkit's errors into a one-line MagicError that stops the cell."""
        try:
            yield
        except UsageError:
            raise
        except (E.AutoenhanceError, OSError, ValueError) as exc:
            if not self.short_errors:
                raise
            message = str(exc) if isinstance(exc, E.AutoenhanceError) else one_line(exc, 300)
            raise MagicError(message) from None

    def _store(self, var: str | None, tracker: Any) -> None:
        if var is not None and self.shell is not None:
            self.shell.push({var: tracker.df})

    # -- %autoenhance_order ------------------------------------------------------------------
    @order_arguments
    @line_cell_magic
    def autoenhance_order(self, line: str = "", cell: str | None = None) -> Any:
        """Create Autoenhance orders and work with the session's order table.

        Line: create one order; cell: one order per line (``name`` or
        ``name,order_id``, CSV quoting, ``#`` comments), created as one concurrent batch.
        Lines without an order_id get one derived from the name (a line sending photos,
        also from its glob), so running it again never duplicates orders or photos.

        Examples::

            %autoenhance_order "Kitchen – 12 Rue Oberkampf"
            %autoenhance_order Garden shoot --order-id garden-2026-11
            %autoenhance_order --list
            df = %autoenhance_order --refresh
            %autoenhance_order --sync -o orders
            %autoenhance_order --export orders.csv
            %autoenhance_order "Kitchen – 12 Rue Oberkampf" --images "shoot/*.jpg"
            %autoenhance_order --add-images kitchen-12 "more/*.jpg"
            %autoenhance_order --watch
            %autoenhance_order --download kitchen-12 enhanced/
            %autoenhance_order --sandbox
            %autoenhance_order Loft --brackets auto "shoot/*.jpg" [--dry-run]
            %autoenhance_order --gallery kitchen-12

            %%autoenhance_order -o week
            Kitchen – 12 Rue Oberkampf
            "Hall, first floor",hall-1
            # a comment
            Garden

        Settings: ``%config AutoenhanceMagics`` (workers, timeout, max_retries,
        short_errors, progress, upload_workers, watch_interval, base_url). The API key
        is never an argument: use the AUTOENHANCE_API_KEY environment variable or
        ``%autoenhance_login``.
        """
        checked = check_line(self.autoenhance_order, line, cell, self.default_options)
        if checked.args.dry_run:
            return dry_run(checked)
        steps = commands(checked, cell)
        if checked.args.sandbox:
            use_sandbox()
        run = Run(
            self._tracker(),
            workers=self.workers,
            upload_workers=self.upload_workers,
            progress=self.progress,
            watch_interval=self.watch_interval,
        )
        try:
            with self._errors():
                for step in steps:
                    step(run)
        except BaseException:
            self._store(checked.args.out, run.tracker)
            if run.summary:
                print(repr(run.summary))  # what was done before the one-line error
            raise
        self._store(checked.args.out, run.tracker)
        return result(checked, run)

    # -- %autoenhance_login ------------------------------------------------------------------
    @magic_arguments()
    @argument(
        "--base-url",
        dest="base_url",
        default=None,
        help="API base URL (default: AUTOENHANCE_BASE_URL, else the live API).",
    )
    @line_magic
    def autoenhance_login(self, line: str = "") -> Message:
        """Ask for the API key (nothing echoed, nothing stored in history or in the
        notebook), check it with one request, and switch the session to the live API.
        The sandbox's table is kept aside: ``%autoenhance_order --sandbox`` goes back.

        Examples::

            %autoenhance_login
            %autoenhance_login --base-url https://api.autoenhance.ai
        """
        given = login_base_url(line)  # before the prompt: a bad line asks for nothing
        with self._errors():
            base_url = check_login_url(given) if given else self.base_url
            tracker = use_live(ask_key(), base_url=base_url, options=self._client_settings())
        return Message(
            f"autoenhance: now using the {tracker.environment_label} API "
            f"(the key is kept in memory only)",
            "ok",
        )


def magics_of(shell: Any) -> AutoenhanceMagics | None:
    """The shell's loaded ``AutoenhanceMagics``, or None."""
    found = shell.magics_manager.registry.get("AutoenhanceMagics")
    return found if isinstance(found, AutoenhanceMagics) else None


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext autoenhance_nb``: register the magics and name the environment."""
    if magics_of(ipython) is not None:
        return  # loading twice is harmless
    magics = AutoenhanceMagics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    from .._session import current_context, current_session

    fresh = current_session() is None
    tracker = session(quiet=True, timeout=magics.timeout, max_retries=magics.max_retries)
    ctx = current_context()
    if tracker.environment == "sandbox" and ctx is not None and ctx.sandbox is not None:
        print(
            f"autoenhance: using the built-in SANDBOX at {ctx.sandbox.url} "
            f"(no AUTOENHANCE_API_KEY; nothing reaches Autoenhance). "
            f"%autoenhance_login switches to the live API."
        )
    else:
        print(
            f"autoenhance: using the {tracker.environment_label} API"
            + ("" if fresh else " (the session already running)")
        )


def unload_ipython_extension(ipython: Any) -> None:
    magics = magics_of(ipython)
    if magics is None:
        return
    for kind in ("line", "cell"):
        for name in ("autoenhance_order", "autoenhance_login"):
            ipython.magics_manager.magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop("AutoenhanceMagics", None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
