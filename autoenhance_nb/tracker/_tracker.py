"""``OrderTracker``: the session's order table and what fills it. A core (the state, the
lock, the change callbacks, the recording: ``_core``) with operation objects built
around it (``orders``, ``photos``, ``brackets``); every method here is a thin delegate.
HTTP stays in the client, the columns and CSV format in ``table``, HTML in ``display``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..api import AutoenhanceClient
from ..display import HTML_ROWS, render_table
from ..errors import one_line
from ..rules import SessionOptions, merge_options
from ..rules.brackets import DEFAULT_MAX_GAP
from ._batch import BatchResult
from ._brackets import Brackets, BracketsResult
from ._core import TableState, TrackerCore
from ._journal import Journal, open_journal
from ._orders import Orders
from ._photos import Photos
from .table import orders

__all__ = ["OrderTracker", "set_gallery_factory"]

#: What ``tracker.gallery(...)`` calls to make the widget: set by the package's
#: ``__init__`` (``set_gallery_factory``), since the tracker imports no widgets.
_gallery_factory: Callable[..., Any] | None = None


def set_gallery_factory(factory: Callable[..., Any] | None) -> None:
    """Use ``factory(order_id, tracker, **kwargs)`` for ``OrderTracker.gallery``."""
    global _gallery_factory
    _gallery_factory = factory


class OrderTracker:
    """One table of orders for a session.

    tracker = OrderTracker()                 # or autoenhance_nb.session()
    tracker.create("Kitchen – 12 Rue Oberkampf")
    tracker.create_many(["Hall", "Garden"])
    tracker.refresh()
    tracker.df                               # a new DataFrame each time
    tracker.to_csv("orders.csv")

    The work is done by ``tracker.orders``, ``tracker.photos`` and ``tracker.brackets``,
    all around one core (the table, its lock, the change callbacks).

    ``journal``: the operations journal that makes a re-run after a crash resume
    instead of repeating (``"default"``: ``$AUTOENHANCE_JOURNAL`` or the user's data
    folder; a path; a ``Journal``; None: off). See docs/reliability.md.
    """

    def __init__(self, client: AutoenhanceClient | None = None, journal: Any = "default"):
        self._core = TrackerCore(
            client if client is not None else AutoenhanceClient(), open_journal(journal)
        )
        self.orders = Orders(self._core)
        self.photos = Photos(self._core, self.orders)
        self.brackets = Brackets(self._core)

    # -- environment -------------------------------------------------------------------
    @property
    def notebook(self) -> str | None:
        """This notebook's identity (a hash, never the path): it salts the cell magic's
        derived order ids and keys what ``resume()`` brings back. From the notebook's
        path as Jupyter tells the kernel (``JPY_SESSION_NAME``, or ``notebook_name``
        set by the magic from ``__session__``), else the journal's own random value."""
        return self._core.notebook()

    @property
    def notebook_name(self) -> str | None:
        """The notebook's path or name, when a front end knows it better than the
        environment does (the magic sets it from the kernel's ``__session__``)."""
        return self._core.notebook_hint

    @notebook_name.setter
    def notebook_name(self, value: str | None) -> None:
        self._core.notebook_hint = value or None

    @property
    def journal(self) -> Journal | None:
        """The operations journal (None: off): ``tracker.journal.clear()`` forgets it."""
        return self._core.journal

    @property
    def client(self) -> AutoenhanceClient:
        return self._core.client

    @client.setter
    def client(self, client: AutoenhanceClient) -> None:
        self._core.client = client

    @property
    def environment(self) -> str:
        return self.client.environment

    @property
    def environment_label(self) -> str:
        """``SANDBOX 127.0.0.1:8765`` or ``LIVE api.autoenhance.ai`` (`` · dev mode`` added
        when the client asks for the API's free test processing)."""
        dev = " · dev mode" if self.client.dev_mode else ""
        return f"{self.environment.upper()} {self.client.host}{dev}"

    def use_client(self, client: AutoenhanceClient, state: TableState | None = None) -> TableState:
        """Talk to another API (e.g. live instead of the sandbox). The table shows
        ``state`` (by default: empty, as the old orders belong to the old API); returns
        the old table's state so that it can be brought back."""
        return self._core.use_client(client, state)

    @property
    def default_options(self) -> SessionOptions:
        """Enhancement options every photo added gets unless the call (or its preset)
        says otherwise; each checked when set: ``tracker.default_options["enhance_type"]
        = "warm"``, or assign a whole dict."""
        return self._core.default_options

    @default_options.setter
    def default_options(self, value: Any) -> None:
        self._core.default_options = SessionOptions(merge_options(value))

    @property
    def dev_mode(self) -> bool:
        """The API's free, watermarked test processing (``x-dev-mode``), for this
        session's client."""
        return self.client.dev_mode

    @dev_mode.setter
    def dev_mode(self, value: bool) -> None:
        self.client.dev_mode = bool(value)
        self._core.changed()

    # -- change notification and recording ----------------------------------------------
    def on_change(self, callback: Callable[[OrderTracker], None]) -> Callable[[], None]:
        """Call ``callback(tracker)`` after every change; returns a function that
        unsubscribes it."""
        return self._core.on_change(lambda: callback(self))

    def record(self, order: dict[str, Any], source: str = "python", *, notify: bool = True) -> None:
        """Add an API order dict to the table, or update its row."""
        self._core.record(order, source, notify=notify)

    # -- orders ------------------------------------------------------------------------
    def create(
        self,
        name: str | None = None,
        order_id: str | None = None,
        source: str = "python",
        *,
        adopt_existing: bool = False,
        resume: bool = False,
    ) -> dict[str, Any]:
        """Create an order, record it, and return the API's dict. Raises the client's
        typed errors; nothing is recorded then.

        ``resume=True`` (the magic and the form): when the last create with this name
        failed without a clear answer (timeout, 5xx, ...), it may have made the order;
        this create resends that order_id, so it finds the order instead of making a
        second one."""
        return self.orders.create(
            name, order_id, source, adopt_existing=adopt_existing, resume=resume
        )

    def create_many(
        self,
        items: Iterable[str | dict[str, Any] | None] | pd.DataFrame,
        workers: int | None = None,
        progress: bool = True,
        source: str = "python",
        adopt_existing: bool = False,
        description: str = "Creating orders",
        *,
        resume: bool = True,
    ) -> BatchResult:
        """Create many orders concurrently over the pooled connection.

        ``items`` are names, dicts with ``name`` and/or ``order_id``, or a DataFrame
        with those columns. Never stops on one failure; returns a ``BatchResult``. Each
        item gets its order_id before it is sent, so
        ``create_many(result.retry_items())`` cannot duplicate an order that a lost
        answer hid. The stop button stops the batch at once, keeping every order made.
        ``workers=None`` sizes the batch from the client's rate limit and the latency
        seen so far (``batch.choose_workers``: 8 to 64 threads).

        With the journal, the same list run again from the same notebook (or script)
        is the same batch, even in a fresh kernel after a crash: its items without an
        order_id get the ids the first run gave them and find the orders it made
        instead of making them twice (``resume=False``: always new orders).
        """
        return self.orders.create_many(
            items, workers, progress, source, adopt_existing, description, resume=resume
        )

    def refresh(self, workers: int | None = None, progress: bool = False) -> dict[str, int]:
        """Re-fetch every tracked order and update its row. An order gone from the
        server is marked ``deleted``, not dropped. Returns counts; raises (after
        updating what it could) when some orders could not be fetched. Answers are
        recorded in chunks as they come (every quarter second or 2,048 answers), column
        by column. ``workers=None``: chosen as for ``create_many``."""
        return self.orders.refresh(workers, progress)

    def track(self, order_id: str, source: str = "track") -> dict[str, Any]:
        """Add an order that already exists (by id) to the table."""
        return self.orders.track(order_id, source)

    def sync(self, source: str = "sync", *, limit: int | None = None) -> int:
        """Add (or update) the account's orders, newest first (at most ``limit``);
        returns how many were listed. Rebuilds the table after a kernel restart. The
        table stays readable while pages load: each page is recorded as it comes."""
        return self.orders.sync(source, limit=limit)

    def resume(self, limit: int = 500, workers: int | None = None) -> int:
        """Bring back the work of this notebook after a restart or a crash: the orders
        the journal says it created or sent photos into (the newest ``limit``), each
        fetched from the API and added to the table (an order gone from the server is
        forgotten). Returns how many were added. ``session()`` does this by itself, in
        the background, when the journal holds any. Without a journal: 0."""
        return self.orders.resume(limit, workers)

    # -- photos ------------------------------------------------------------------------
    def add_images(
        self,
        order_id: str,
        paths: Iterable[Any],
        workers: int = 4,
        progress: bool = True,
        on_progress: Callable[[int, int, str], None] | None = None,
        preset: str | None = None,
        **options: Any,
    ) -> BatchResult:
        """Upload photos into an existing order concurrently (each registered, then
        streamed to its upload URL). ``paths`` holds file paths, bytes, or
        ``(name, bytes)`` pairs. ``options`` are enhancement settings for every photo,
        over ``preset`` (a name in ``options.presets``), over ``default_options``; all
        checked before any request. The order is looked up first: an unknown order is a
        ``NotFoundError`` and nothing is uploaded. Never stops on one bad file; returns
        what was uploaded and what failed, then refreshes the order's row (image count, status).
        ``on_progress(done, total, name)`` follows each file."""
        return self.photos.add_images(
            order_id, paths, workers, progress, on_progress, preset, **options
        )

    def watch(
        self, interval: float = 5.0, timeout: float = 1800.0, progress: bool = True
    ) -> pd.DataFrame:
        """Refresh every ``interval`` seconds until no tracked order is processing (all
        processed, in error, deleted, or waiting for photos); returns the table. Raises
        when ``timeout`` seconds pass first."""
        return self.photos.watch(interval, timeout, progress)

    def download(
        self,
        order_id: str,
        folder: str | os.PathLike[str],
        kind: str = "enhanced",
        workers: int = 4,
        *,
        full_size: bool = False,
        **query: Any,
    ) -> BatchResult:
        """Save every processed image of an order (for ``kind="original"``: every
        uploaded one) into ``folder``, named after the image (the extension follows
        ``format``). Enhanced images are free previews unless ``full_size=True``, which
        buys them (credits). ``query``: format, quality, max_width, scale, watermark,
        checked before any request. Returns what was saved (``saved``), what was not
        ready (``skipped``) and what failed."""
        return self.photos.download(order_id, folder, kind, workers, full_size=full_size, **query)

    def download_image(
        self,
        image_id: str,
        path: str | os.PathLike[str],
        kind: str = "enhanced",
        *,
        full_size: bool = False,
        **query: Any,
    ) -> Path:
        """Save one image (see ``download``; its folder is made); a full-size one is
        recorded as bought."""
        return self.photos.download_image(image_id, path, kind, full_size=full_size, **query)

    def reprocess(self, image_id: str, preset: str | None = None, **options: Any) -> dict[str, Any]:
        """Enhance an uploaded image again with ``options`` (over ``preset``; settings
        not given keep their values). Checked before any request; the image goes back
        to ``processing`` in ``images_df``."""
        return self.photos.reprocess(image_id, preset, **options)

    def report(
        self,
        image_id: str,
        categories: str | list[str],
        comment: str | None = None,
        score: int | None = None,
    ) -> dict[str, Any]:
        """Report a problem with an enhanced image (categories from
        ``options.REPORT_CATEGORIES``, optional comment, score 0-5); returns the API's
        acknowledgement."""
        return self.photos.report(image_id, categories, comment, score)

    def gallery(self, order_id: str, **kwargs: Any) -> Any:
        """The order's photos as an ``OrderGallery`` widget (original and enhanced side
        by side, per-photo actions); ``kwargs`` go to ``OrderGallery``."""
        if _gallery_factory is None:
            raise RuntimeError("the gallery needs autoenhance_nb's widgets (import autoenhance_nb)")
        return _gallery_factory(order_id, self, **kwargs)

    # -- HDR brackets ------------------------------------------------------------------
    def add_brackets(
        self,
        order_id: str,
        paths: Any,
        per_image: int | str | None = "auto",
        options: dict[str, Any] | None = None,
        dry_run: bool = False,
        *,
        max_gap: float = DEFAULT_MAX_GAP,
        workers: int = 4,
        progress: bool = True,
        on_progress: Callable[[int, int, str], None] | None = None,
    ) -> BracketsResult:
        """Group a bracketed shoot (``per_image``: ``"auto"`` from EXIF, or N), upload
        every bracket of the accepted groups concurrently, then process the order with
        exactly those groups and the enhancement ``options``. ``paths``: file paths or
        one glob. Returns a ``BracketsResult`` (``.df``: the grouping).

        Before any request: every file is read and checked (one unreadable file refuses
        the lot), and ``dry_run=True`` stops there. Then the order is looked up (an
        unknown order is a ``NotFoundError``, nothing uploaded). Running it again after
        a failure sends nothing twice: brackets already uploaded (same name and size in
        their metadata) are reused, groups already merged (an image bears their first
        bracket's name) are skipped; registrations whose answer was lost are never
        uploaded and never grouped."""
        return self.brackets.add_brackets(
            order_id,
            paths,
            per_image,
            options,
            dry_run,
            max_gap=max_gap,
            workers=workers,
            progress=progress,
            on_progress=on_progress,
        )

    def merged_images(self, order_id: str | None = None) -> pd.DataFrame:
        """``images_df`` with the brackets each merged image was made from (as grouped
        by this session: the API's image answers do not say). ``order_id``: one order."""
        return self.brackets.merged_images(order_id)

    # -- reading the table ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._core)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._core.state.store.index

    def row(self, order_id: str) -> dict[str, Any] | None:
        """The table's row for ``order_id`` as a dict (timestamps as ns), or None."""
        return self._core.row(order_id)

    def order_ids(self) -> list[str]:
        return self._core.order_ids()

    def status_counts(self) -> dict[str, int]:
        return self._core.status_counts()

    def check(self) -> None:
        """Raise AssertionError if the table's invariants are broken (for tests)."""
        self._core.check()

    @property
    def df(self) -> pd.DataFrame:
        """A new DataFrame: one row per order, first-recorded first."""
        return self._core.frame()

    def latest(self, n: int = HTML_ROWS) -> pd.DataFrame:
        """The last ``n`` rows only; cheap however long the session is."""
        return self._core.frame(last=n)

    @property
    def images_df(self) -> pd.DataFrame:
        """The images of the tracked orders, as of the last create, upload or refresh."""
        return self._core.images_frame()

    # -- CSV ----------------------------------------------------------------------------------
    def to_csv(self, path: str | os.PathLike[str], escape_formulas: bool = True) -> Path:
        """Write the table to ``path`` atomically (a temporary file in the same folder,
        then a rename): UTF-8, ISO 8601 UTC timestamps, and cells that a spreadsheet
        would run as formulas prefixed with ``'`` unless ``escape_formulas=False``.
        Returns the absolute path. A failed write leaves any previous file intact."""
        return self._core.to_csv(path, escape_formulas)

    def read_csv(
        self, path: str | os.PathLike[str], escape_formulas: bool = True, source: str | None = None
    ) -> pd.DataFrame:
        """Load a file written by ``to_csv`` into this tracker (undoing the formula
        escaping) so that tracking can resume; returns the table."""
        self._core.read_csv(path, escape_formulas, source)
        return self.df

    # -- display ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        # statuses come from the API: one-lined (a lone surrogate would fail the output)
        counts = ", ".join(f"{one_line(k, 40)} {v}" for k, v in self.status_counts().items())
        counts = counts or "empty"
        return f"<OrderTracker {self.environment_label}: {orders(len(self))} ({counts})>"

    def _repr_html_(self) -> str:
        return render_table(self)
