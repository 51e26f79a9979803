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
from ._events import DEFAULT_HEADER, Events
from ._journal import Journal, open_journal
from ._listener import DEFAULT_PATH, EventFollower, WebhookListener
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
        #: webhook events into the table (``listen``, ``follow``)
        self.events = Events(self._core)
        self.photos = Photos(self._core, self.orders, self.events)
        self.brackets = Brackets(self._core)

    # -- environment -------------------------------------------------------------------
    @property
    def notebook(self) -> str | None:
        """This notebook's identity (a hash of its path as Jupyter tells the kernel, else
        the journal's random value): salts derived order ids, keys ``resume()``."""
        return self._core.notebook()

    @property
    def notebook_name(self) -> str | None:
        """The notebook's path, when a front end knows it (the magic: ``__session__``)."""
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
        """``SANDBOX 127.0.0.1:8765`` or ``LIVE api.autoenhance.ai`` (`` · dev mode``)."""
        dev = " · dev mode" if self.client.dev_mode else ""
        return f"{self.environment.upper()} {self.client.host}{dev}"

    def use_client(self, client: AutoenhanceClient, state: TableState | None = None) -> TableState:
        """Talk to another API; the table shows ``state`` (default: empty, the old
        orders belong to the old API). Returns the old state, to bring it back."""
        return self._core.use_client(client, state)

    @property
    def default_options(self) -> SessionOptions:
        """Options every photo added gets unless the call says otherwise, checked when
        set: ``tracker.default_options["enhance_type"] = "warm"`` or a whole dict."""
        return self._core.default_options

    @default_options.setter
    def default_options(self, value: Any) -> None:
        self._core.default_options = SessionOptions(merge_options(value))

    @property
    def dev_mode(self) -> bool:
        """The API's free, watermarked test processing (``x-dev-mode``)."""
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
        """Create an order, record it, and return the API's dict (the client's typed
        errors record nothing). ``resume=True`` (the magic, the form): when the last
        create with this name got no clear answer, it resends that order_id, finding
        the order instead of making a second one."""
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
        """Create many orders concurrently; returns a ``BatchResult`` (never stops on
        one failure). ``items``: names, dicts with ``name`` and/or ``order_id``, or a
        DataFrame with those columns. Each item gets its order_id before it is sent, so
        ``create_many(result.retry_items())`` cannot duplicate an order a lost answer
        hid; the stop button stops at once, keeping every order made. ``workers=None``:
        sized from the rate limit and the latency seen (8 to 64 threads).

        With the journal, the same list run again from the same notebook, even in a
        fresh kernel after a crash, finds the orders its first run made instead of
        making them twice (``resume=False``: always new orders)."""
        return self.orders.create_many(
            items, workers, progress, source, adopt_existing, description, resume=resume
        )

    def refresh(self, workers: int | None = None, progress: bool = False) -> dict[str, int]:
        """Re-fetch every tracked order and update its row (an order gone from the
        server is marked ``deleted``). Returns counts; raises, after updating what it
        could, when some orders could not be fetched. ``workers``: as for
        ``create_many``."""
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
        """Bring back this notebook's work after a restart or a crash: the newest
        ``limit`` orders the journal says it made or filled, fetched from the API (an
        order gone from the server is forgotten). Returns how many were added;
        ``session()`` does it in the background. Without a journal: 0."""
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
        when ``timeout`` seconds pass first. With a webhook receiver running
        (``listen``, ``follow``) statuses arrive by event, and polling slows to every
        ``tracker.events.safety_interval`` seconds (60), for events lost on the way."""
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

    # -- webhooks ------------------------------------------------------------------------
    def listen(
        self,
        port: int = 0,
        *,
        auth: str | None = None,
        host: str = "127.0.0.1",
        header: str = DEFAULT_HEADER,
        path: str = DEFAULT_PATH,
    ) -> WebhookListener:
        """Receive Autoenhance's webhooks on ``.url`` (``http://host:port/path``, a free
        port by default) and apply them to the table at once; watching then polls only
        as a safety net. ``auth``: the value every event must carry in ``header``
        (required beyond this machine). ``.stop()`` ends it."""
        return WebhookListener(
            self.events, port=port, host=host, auth=auth, header=header, path=path
        )

    def follow(self, path: str | os.PathLike[str]) -> EventFollower:
        """Apply the events a desk writes to its event log at ``path``; ``.stop()``."""
        return EventFollower(self.events, path)

    def gallery(self, order_id: str, **kwargs: Any) -> Any:
        """The order's photos as an ``OrderGallery`` widget (``kwargs`` go to it)."""
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
        the accepted groups' brackets, then process the order with exactly those groups
        and ``options``. ``paths``: file paths or one glob. Every file is checked before
        any request (``dry_run=True`` stops there); an unknown order is a
        ``NotFoundError``. A re-run, even after a crash, sends nothing twice: brackets
        and merged groups are known by their content (the journal and the brackets'
        metadata), so a second shoot reusing file names is uploaded and merged."""
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
        """Write the table to ``path`` atomically (UTF-8, ISO 8601 UTC timestamps, cells
        a spreadsheet would run as formulas prefixed with ``'`` unless
        ``escape_formulas=False``); returns the absolute path. A failed write leaves
        any previous file intact."""
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
