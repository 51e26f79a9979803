"""IPython magics: ``%autoenhance_order`` (line and cell) and ``%autoenhance_login``.

Thin on purpose: parse the line, call the session's ``OrderTracker``, print a line and
return the table. Errors stop the cell with a one-line ``UsageError`` (like JupySQL)
unless ``%config AutoenhanceMagics.short_errors = False``.
"""

from __future__ import annotations

import csv
import getpass
import glob
import hashlib
import os
import shlex
from contextlib import contextmanager
from typing import Iterator

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Int, Float, Unicode, observe

from . import errors as E
from .errors import one_line
from .session import session, use_live
from .tracker import orders

__all__ = ["AutoenhanceMagics", "load_ipython_extension", "unload_ipython_extension",
           "parse_batch", "derived_order_id"]


def parse_line(magic, line: str):
    """Parse a magic line with shell-like quoting ("a b" and 'a b' are one argument,
    quotes removed). Bad quoting or unknown flags are a UsageError."""
    try:
        argv = shlex.split(line, posix=True)
    except ValueError as exc:
        raise UsageError(f"Cannot read the line: {exc}; put the name in double quotes, "
                         f"e.g. \"O'Brien house\"") from None
    return magic.parser.parse_args(argv)


def _match(pattern: str) -> list[str]:
    """The files a glob names (``~`` and ``**`` allowed); a glob matching nothing is a
    usage error, found before anything is created."""
    files = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True))
    if not files:
        raise UsageError(f"No files match {one_line(pattern)!r}")
    return files


def derived_order_id(name: str | None, occurrence: int) -> str:
    """The order_id a cell line without one gets: a hash of its name and of how many
    lines above it in the cell carry the same name. Running the cell again (after a
    failure, or after a kernel restart) sends the same ids, so nothing is duplicated."""
    digest = hashlib.sha256(f"{name or ''}\x1f{occurrence}".encode("utf-8")).hexdigest()
    return "nb-" + digest[:29]


def parse_batch(text: str) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    """Parse a cell: one ``name`` or ``name,order_id`` per line, CSV quoting, blank lines
    and ``#`` comments skipped. Returns ([(line_no, item)], [(line_no, problem)])."""
    items: list[tuple[int, dict]] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            fields = next(csv.reader([stripped], skipinitialspace=True))
        except csv.Error as exc:
            problems.append((number, f"cannot read the line as CSV ({exc})"))
            continue
        fields = [f.strip() for f in fields]
        if len(fields) > 2:
            problems.append((number, "expected `name` or `name,order_id` (quote a name that "
                                     "contains commas)"))
            continue
        name = fields[0] or None
        order_id = fields[1] if len(fields) == 2 and fields[1] else None
        if order_id is None:
            occurrence = seen.get(name or "", 0)
            seen[name or ""] = occurrence + 1
            order_id = derived_order_id(name, occurrence)
        items.append((number, {"name": name, "order_id": order_id}))
    return items, problems


@magics_class
class AutoenhanceMagics(Magics):
    """Create and track Autoenhance orders from notebook cells."""

    short_errors = Bool(True, config=True, help=(
        "Show a failing command as one line (UsageError) instead of a full traceback. "
        "Either way the cell fails, so Run All and nbclient stop there."))
    workers = Int(8, config=True, help="Concurrent requests for a cell batch and --refresh.")
    timeout = Float(30.0, config=True, help="Seconds to wait for each API answer.")
    max_retries = Int(3, config=True, help="Retries after a 429, 5xx, timeout or dropped "
                                           "connection.")
    progress = Bool(True, config=True, help="Show progress bars (batches, uploads, --watch).")
    upload_workers = Int(4, config=True, help="Concurrent photo uploads.")
    watch_interval = Float(5.0, config=True, help="Seconds between refreshes in --watch.")
    base_url = Unicode(None, allow_none=True, config=True, help=(
        "API base URL for the live API (default: AUTOENHANCE_BASE_URL, else "
        "https://api.autoenhance.ai). Used with the key from AUTOENHANCE_API_KEY or "
        "%autoenhance_login; without a key the session stays on the sandbox."))

    @observe("timeout", "max_retries")
    def _apply_client_settings(self, change) -> None:
        tracker = self._tracker(announce=False)
        setattr(tracker.client, change["name"], change["new"])

    @observe("base_url")
    def _apply_base_url(self, change) -> None:
        key = (os.environ.get("AUTOENHANCE_API_KEY") or "").strip()
        if change["new"] and key:
            use_live(key, base_url=change["new"], timeout=self.timeout,
                     max_retries=self.max_retries)

    # -- helpers ----------------------------------------------------------------------------
    def _tracker(self, announce: bool = True):
        return session(quiet=not announce, timeout=self.timeout, max_retries=self.max_retries)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the toolkit's errors into a one-line UsageError that stops the cell."""
        try:
            yield
        except UsageError:
            raise
        except (E.AutoenhanceError, OSError, ValueError) as exc:
            if not self.short_errors:
                raise
            message = str(exc) if isinstance(exc, E.AutoenhanceError) else one_line(exc, 300)
            raise UsageError(message) from None

    def _store(self, var: str | None, tracker) -> None:
        if var is None:
            return
        if not var.isidentifier():
            raise UsageError(f"-o/--out needs a Python variable name, not {one_line(var)!r}")
        self.shell.user_ns[var] = tracker.df

    @staticmethod
    def _status_line(tracker) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in tracker.status_counts().items())
        return (f"[{tracker.environment_label}] {orders(len(tracker))} in the table"
                + (f" ({counts})" if counts else ""))

    # -- %autoenhance_order ---------------------------------------------------------------------
    @magic_arguments()
    @argument("name", nargs="*", help="Name of the order to create (quote it, or not).")
    @argument("--order-id", dest="order_id", default=None,
              help="Custom order_id (must be unique). Default: one is generated.")
    @argument("--images", metavar="GLOB", default=None,
              help="Photos to upload into the new order, e.g. \"shoot/*.jpg\".")
    @argument("--add-images", dest="add_images", nargs=2, metavar=("ORDER_ID", "GLOB"),
              default=None, help="Upload photos into an existing order.")
    @argument("--watch", action="store_true",
              help="Refresh until no order is processing (with a progress bar).")
    @argument("--download", nargs=2, metavar=("ORDER_ID", "FOLDER"), default=None,
              help="Save an order's processed (enhanced) images into FOLDER.")
    @argument("--list", action="store_true", help="Show the session table.")
    @argument("--refresh", action="store_true",
              help="Re-fetch every order's status, then show the table.")
    @argument("--sync", action="store_true",
              help="Add every order of the account to the table.")
    @argument("--export", metavar="PATH", default=None,
              help="Write the table to a CSV file (formula cells neutralised).")
    @argument("-o", "--out", metavar="VAR", default=None,
              help="Also store the table (a DataFrame) in the variable VAR.")
    @line_cell_magic
    def autoenhance_order(self, line: str = "", cell: str | None = None):
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

            %%autoenhance_order -o week
            Kitchen – 12 Rue Oberkampf
            "Hall, first floor",hall-1
            # a comment
            Garden

        Settings: ``%config AutoenhanceMagics`` (workers, timeout, max_retries,
        short_errors, progress, upload_workers, watch_interval, base_url). The API key is never an argument: use the
        AUTOENHANCE_API_KEY environment variable or ``%autoenhance_login``.
        """
        args = parse_line(self.autoenhance_order, line)
        name = " ".join(args.name) if args.name else None
        tracker = self._tracker()
        with self._errors():
            if cell is not None:
                if name is not None or args.order_id is not None or args.images:
                    raise UsageError("%%autoenhance_order takes names in the cell body, "
                                     "not on its first line (and no --images: add photos "
                                     "per order with --add-images)")
                self._run_batch(tracker, cell, args.out)
            elif name is not None or args.order_id is not None:
                photos = _match(args.images) if args.images else None
                order = tracker.create(name=name, order_id=args.order_id, source="magic")
                print(f"Created order {order['order_id']} "
                      f"{one_line(order.get('name') or '')!r} ({order.get('status')})")
                if photos:
                    self._upload(tracker, order["order_id"], photos)
            elif args.images:
                raise UsageError("--images goes with a new order's name; use --add-images "
                                 "ORDER_ID GLOB for an existing order")
            if args.add_images:
                order_id, pattern = args.add_images
                self._upload(tracker, order_id, _match(pattern))
            if args.sync:
                n = tracker.sync()
                print(f"Synced {orders(n)} from the account")
            if args.refresh:
                counts = tracker.refresh(workers=self.workers)
                print(f"Refreshed {orders(counts['updated'])}"
                      + (f", {counts['deleted']} deleted on the server"
                         if counts["deleted"] else ""))
            if args.watch:
                tracker.watch(interval=self.watch_interval, progress=self.progress)
                print("Done: no order is processing")
            if args.download:
                order_id, folder = args.download
                result = tracker.download(order_id, folder)
                print(f"Saved {len(result.saved)} images to "
                      f"{os.path.abspath(os.path.expanduser(folder))}"
                      + (f"; {len(result.skipped)} not processed yet" if result.skipped else ""))
                for failure in result.failed:
                    print(f"  {failure.item['image']}: {failure.message}")
                if result.failed:
                    raise UsageError(f"{len(result.failed)} downloads failed (see above)")
            if args.export:
                path = tracker.to_csv(os.path.expanduser(args.export))
                print(f"Exported {orders(len(tracker))} to {path}")
        self._store(args.out, tracker)
        print(self._status_line(tracker))
        if (args.export or args.download) and not (args.list or args.refresh or args.sync
                                                    or args.watch):
            return None  # the export line says what happened
        return tracker.df

    def _upload(self, tracker, order_id: str, files: list[str]) -> None:
        result = tracker.add_images(order_id, files, workers=self.upload_workers,
                                    progress=self.progress)
        print(f"Photos for {order_id}: {result.summary()}")
        for failure in result.failed:
            print(f"  {failure.item['source']}: {failure.message}")
        if result.failed:
            raise UsageError(f"{len(result.failed)} of {result.total} photos failed (see "
                             f"above); the others were uploaded")

    def _run_batch(self, tracker, cell: str, out: str | None) -> None:
        items, problems = parse_batch(cell)
        fresh = [(n, item) for n, item in items
                 if (tracker.row(item["order_id"]) or {}).get("name") != (item["name"] or "")]
        skipped = len(items) - len(fresh)
        result = tracker.create_many([item for _, item in fresh], workers=self.workers,
                                     progress=self.progress, source="magic",
                                     adopt_existing=True)
        line_of = [n for n, _ in fresh]
        failures = sorted([(n, p) for n, p in problems]
                          + [(line_of[f.index], f.message) for f in result.failed])
        total = len(items) + len(problems)
        summary = f"created {len(result.created)} of {total}"
        if skipped:
            summary += f" ({skipped} already in the table)"
        summary += f", {len(failures)} failed"
        print(summary)
        for number, message in failures:
            print(f"  line {number}: {message}")
        if failures:
            self._store(out, tracker)
            raise UsageError(f"{len(failures)} of {total} lines failed (see above); fix them "
                             f"and run the cell again: created orders are not duplicated")

    # -- %autoenhance_login -------------------------------------------------------------------
    @magic_arguments()
    @argument("--base-url", dest="base_url", default=None,
              help="API base URL (default: AUTOENHANCE_BASE_URL, else the live API).")
    @line_magic
    def autoenhance_login(self, line: str = ""):
        """Ask for the API key (nothing echoed, nothing stored in history or in the
        notebook) and switch the session to the live API. The table starts empty:
        sandbox orders are not real.

        Examples::

            %autoenhance_login
            %autoenhance_login --base-url https://api.autoenhance.ai
        """
        args = parse_line(self.autoenhance_login, line)
        key = getpass.getpass("Autoenhance API key (input hidden): ")
        if not key.strip():
            raise UsageError("No key entered; the session stays on "
                             f"{self._tracker(announce=False).environment_label}")
        with self._errors():
            tracker = use_live(key, base_url=args.base_url or self.base_url,
                               timeout=self.timeout, max_retries=self.max_retries)
        del key
        print(f"autoenhance: now using the {tracker.environment_label} API "
              f"(the key is kept in memory only)")


def load_ipython_extension(ipython) -> None:
    """``%load_ext autoenhance_nb``: register the magics and name the environment."""
    existing = getattr(ipython, "_autoenhance_magics", None)
    if existing is not None:
        return  # loading twice is harmless
    magics = AutoenhanceMagics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    ipython._autoenhance_magics = magics
    tracker = session(quiet=True, timeout=magics.timeout, max_retries=magics.max_retries)
    if tracker.environment == "sandbox" and tracker.sandbox is not None:
        print(f"autoenhance: using the built-in SANDBOX at {tracker.sandbox.url} "
              f"(no AUTOENHANCE_API_KEY; nothing reaches Autoenhance). "
              f"%autoenhance_login switches to the live API.")
    else:
        print(f"autoenhance: using the {tracker.environment_label} API")


def unload_ipython_extension(ipython) -> None:
    magics = getattr(ipython, "_autoenhance_magics", None)
    if magics is None:
        return
    for kind in ("line", "cell"):
        for name in ("autoenhance_order", "autoenhance_login"):
            ipython.magics_manager.magics[kind].pop(name, None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    del ipython._autoenhance_magics
