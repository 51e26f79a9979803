"""IPython magics: ``%autoenhance_order`` (line and cell) and ``%autoenhance_login``.

Thin on purpose: parse and check the whole line (before any request), then dispatch
each flag to a small handler that calls the session's ``OrderTracker`` and prints one
line. Errors stop the cell with one line (``MagicError``, which IPython, nbclient and
papermill all report with its reason) unless ``%config AutoenhanceMagics.short_errors
= False``.
"""

from __future__ import annotations

import functools
import getpass
import os
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Dict, Float, Int, TraitError, Unicode, observe, validate

from .. import errors as E
from .._session import session, use_live, use_sandbox
from ..api import ClientOptions
from ..display import compact_table, created_line, refreshed_line, status_line
from ..errors import one_line
from ..rules import check_options, order_id_problem
from ..tracker.table import orders
from ._args import order_arguments
from ._batch import BatchCell
from ._brackets import check_brackets, run_brackets
from ._cells import (
    MagicError,
    check_export_path,
    check_var,
    match_files,
)
from ._gallery import show_gallery
from ._photos import PhotoFlags, check_photo_flags

__all__ = ["AutoenhanceMagics", "load_ipython_extension", "unload_ipython_extension", "magics_of"]


def parse_line(magic: Any, line: str) -> Any:
    """Parse a magic line with shell-like quoting ("a b" and 'a b' are one argument,
    quotes removed). Bad quoting or unknown flags are a UsageError, which names the flags
    but never repeats a value typed on the line (it could be a pasted API key)."""
    try:
        argv = shlex.split(line, posix=True)
    except ValueError as exc:
        raise MagicError(
            f'Cannot read the line: {exc}; put the name in double quotes, e.g. "O\'Brien house"'
        ) from None
    try:
        return magic.parser.parse_args(argv)
    except UsageError as exc:
        raise UsageError(_without_values(str(exc), argv)) from None


def _without_values(message: str, argv: list[str]) -> str:
    """``message`` with every value of ``argv`` (words that are not flags, and what
    follows ``=`` in a flag) shown as "…"; values under 4 characters cannot be a key."""
    values = {a.partition("=")[2] if a.startswith("-") else a for a in argv}
    for value in sorted((v for v in values if len(v) >= 4), key=len, reverse=True):
        message = message.replace(value, "…")
    return message


LOGIN_ARGUMENTS = (
    "%autoenhance_login takes no arguments (only --base-url URL): the key is never typed "
    "into a cell (it would be saved in the notebook); run %autoenhance_login alone and "
    "paste it at the hidden prompt"
)


def _login_base_url(line: str) -> str | None:
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


def _check_login_url(url: str) -> str:
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


def _in_terminal(shell: Any) -> bool:
    """True in terminal IPython, where a notebook's rich display does not exist."""
    return type(shell).__name__ == "TerminalInteractiveShell"


@magics_class
class AutoenhanceMagics(Magics, PhotoFlags, BatchCell):
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
        return session(quiet=not announce, options=self._client_settings())

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
        Lines without an order_id get one derived from the name, so running the cell
        again never duplicates orders that were already created.

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
        args = parse_line(self.autoenhance_order, line)
        if args.report:  # the words after its flags are the report's comment
            args.comment, args.name = " ".join(args.name) or None, []
        args.name = " ".join(args.name) if args.name else None
        # every argument is checked before anything is sent
        check_var(args.out)
        check_export_path(args.export)
        options = check_photo_flags(args, self.default_options)
        if cell is not None and (args.name is not None or args.order_id is not None or args.images):
            raise MagicError(
                "%%autoenhance_order takes names in the cell body, not on its "
                "first line (and no --images: add photos per order with "
                "--add-images)"
            )
        if cell is None and args.images and args.name is None and args.order_id is None:
            raise MagicError(
                "--images goes with a new order's name; use --add-images "
                "ORDER_ID GLOB for an existing order"
            )
        if args.gallery is not None and order_id_problem(args.gallery):
            raise MagicError(f"--gallery: the order ID {order_id_problem(args.gallery)}")
        plan = check_brackets(*args.brackets) if args.brackets else None
        if args.dry_run and plan is None:
            raise MagicError("--dry-run goes with --brackets")
        if plan is not None and args.dry_run:
            run_brackets(None, None, *args.brackets, dry_run=True, checked=plan)
            return None
        if plan is not None and (cell is not None or (args.name is None and args.order_id is None)):
            raise MagicError(
                "--brackets goes with a new order's name, e.g. "
                '%autoenhance_order Loft --brackets auto "shoot/*.jpg"'
            )
        photos = match_files(args.images) if args.images else None
        extra = match_files(args.add_images[1]) if args.add_images else None
        if args.sandbox:
            use_sandbox()
        tracker = self._tracker()
        steps: list[Callable[[], None]] = []
        if cell is not None:
            steps.append(lambda: self._run_batch(tracker, cell, args.out))
        elif args.name is not None or args.order_id is not None:
            steps.append(
                lambda: self._create(tracker, args.name, args.order_id, photos, options, plan)
            )
        if args.add_images:
            steps.append(lambda: self._upload(tracker, args.add_images[0], extra or [], options))
        if args.reprocess:
            steps.append(lambda: self._reprocess(tracker, args.reprocess, options))
        if args.report:
            steps.append(lambda: self._report(tracker, args.report, args))
        for flag, handler in (
            ("sync", self._sync),
            ("refresh", self._refresh),
            ("watch", self._watch),
        ):
            if getattr(args, flag):
                steps.append(functools.partial(handler, tracker))
        if args.download:
            steps.append(lambda: self._download(tracker, args.download[0], args.download[1], args))
        if args.export:
            steps.append(lambda: self._export(tracker, args.export))
        if args.gallery:
            steps.append(lambda: self._gallery(tracker, args.gallery))
        with self._errors():
            for step in steps:
                step()
        self._store(args.out, tracker)
        print(status_line(tracker))
        wants_table = args.list or args.refresh or args.sync or args.watch
        if _in_terminal(self.shell):
            if wants_table and len(tracker):
                print(compact_table(tracker))
            return None
        if wants_table:
            return tracker.df
        if (
            args.export
            or args.download
            or args.sandbox
            or args.reprocess
            or args.report
            or args.gallery
        ):
            return None  # their own line says what happened
        return tracker  # a bounded HTML view; .df (or -o) gives the whole table

    # -- the handlers, one per flag ----------------------------------------------------------
    def _create(
        self,
        tracker: Any,
        name: str | None,
        order_id: str | None,
        photos: list[str] | None,
        options: dict[str, Any],
        plan: Any = None,
    ) -> None:
        order = tracker.create(name=name, order_id=order_id, source="magic", resume=True)
        print(created_line(order))
        if photos:
            self._upload(tracker, order["order_id"], photos, options)
        if plan is not None:
            run_brackets(
                tracker,
                order["order_id"],
                "",
                "",
                checked=plan,
                options=options,
                workers=self.upload_workers,
                progress=self.progress,
            )

    def _gallery(self, tracker: Any, order_id: str) -> None:
        show_gallery(tracker, order_id)

    def _sync(self, tracker: Any) -> None:
        print(f"Synced {orders(tracker.sync())} from the account")

    def _refresh(self, tracker: Any) -> None:
        print(refreshed_line(tracker.refresh(workers=self.workers)))

    def _watch(self, tracker: Any) -> None:
        tracker.watch(interval=self.watch_interval, progress=self.progress)
        print("Done: no order is processing")

    def _export(self, tracker: Any, path: str) -> None:
        written = tracker.to_csv(os.path.expanduser(path))
        print(f"Exported {orders(len(tracker))} to {written}")

    # -- %autoenhance_login ------------------------------------------------------------------
    @magic_arguments()
    @argument(
        "--base-url",
        dest="base_url",
        default=None,
        help="API base URL (default: AUTOENHANCE_BASE_URL, else the live API).",
    )
    @line_magic
    def autoenhance_login(self, line: str = "") -> None:
        """Ask for the API key (nothing echoed, nothing stored in history or in the
        notebook), check it with one request, and switch the session to the live API.
        The sandbox's table is kept aside: ``%autoenhance_order --sandbox`` goes back.

        Examples::

            %autoenhance_login
            %autoenhance_login --base-url https://api.autoenhance.ai
        """
        given = _login_base_url(line)  # before the prompt: a bad line asks for nothing
        with self._errors():
            base_url = _check_login_url(given) if given else self.base_url
            tracker = use_live(_ask_key(), base_url=base_url, options=self._client_settings())
        print(
            f"autoenhance: now using the {tracker.environment_label} API "
            f"(the key is kept in memory only)"
        )


def _ask_key() -> Any:
    """The key from a hidden prompt, wrapped at once so no frame holds it plainly."""
    from ..api import hide_key

    key, problem = hide_key(getpass.getpass("Autoenhance API key (input hidden): "))
    if key is None:
        raise E.AuthenticationError(f"{problem}; the session stays as it was")
    return key


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
