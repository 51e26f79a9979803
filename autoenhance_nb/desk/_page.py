"""The desk's page, built in each Voila kernel: a title with the environment badge, the
order form without the key field, the session table (started from the account's recent
orders), and the gallery of a chosen order when ``autoenhance_nb.gallery`` exists (the
form's own "Gallery of" picker when the form has one, else the desk's).

Everything it needs comes from the server's environment (set by ``autoenhance-desk``),
never from the visitor; every error is one line on the page."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..display import environment_badge, html, message_html, safe
from ..errors import one_line
from ..tracker import OrderTracker
from ..widgets import SafeHTML, close_parts, error_message
from ._env import (
    DEFAULT_MAX_DROP_MB,
    DEFAULT_SYNC_LIMIT,
    ENV_EVENTS,
    ENV_EXPORT_DIR,
    ENV_MAX_DROP_MB,
    ENV_SYNC_LIMIT,
)

__all__ = ["Desk", "show_desk", "gallery_class"]

PAGE_SIZE = 15


def gallery_class() -> Any | None:
    """``OrderGallery`` (the desk shows the gallery under its form)."""
    from ..widgets.gallery import OrderGallery

    return OrderGallery


class Desk(w.VBox):
    """The desk: ``Desk(tracker, export_dir=...)``; ``load()`` fills the table from the
    account's newest orders in the background."""

    def __init__(
        self,
        tracker: OrderTracker,
        *,
        export_dir: str | os.PathLike[str],
        sync_limit: int = DEFAULT_SYNC_LIMIT,
    ):
        from ..widgets import OrderForm

        self.tracker = tracker
        self.export_dir = Path(export_dir)
        self.export_dir.mkdir(parents=True, exist_ok=True)
        self.sync_limit = sync_limit
        self.title = SafeHTML().add_class("ae-desk-title")
        self.status = SafeHTML().add_class("ae-desk-status")
        self.reload_button = w.Button(
            description="Load the account's orders",
            icon="refresh",
            tooltip="Add the orders others made since this page opened",
            layout=w.Layout(width="auto", flex="0 0 auto"),
        ).add_class("ae-desk-reload")
        # the desk's title shows the environment: the form's header and table do not
        self.form = OrderForm(
            tracker, export_dir=self.export_dir, allow_key_entry=False, show_environment=False
        )
        self.form.photos.max_bytes = _number(ENV_MAX_DROP_MB, DEFAULT_MAX_DROP_MB) * 1000**2
        self.form.photos.bigger = "Drop fewer photos at once: the shoot in parts."
        #: the form's own "Gallery of" picker, if it has one (then the desk adds none)
        self.form_gallery: Any | None = getattr(self.form, "gallery_picker", None)
        self._gallery_class = gallery_class() if self.form_gallery is None else None
        self._own_gallery: Any | None = None
        self.gallery_order = w.Dropdown(
            description="Gallery of",
            options=[("(pick an order)", "")],
            value="",
            style={"description_width": "80px"},
            layout=w.Layout(width="auto", min_width="320px", max_width="520px"),
        ).add_class("ae-desk-order")
        self.gallery_message = SafeHTML().add_class("ae-desk-gallery-message")
        self.gallery_box = w.VBox(layout=w.Layout(max_width="100%")).add_class("ae-desk-gallery")
        status_row = w.HBox(
            [self.reload_button, self.status],
            layout=w.Layout(flex_flow="row wrap", align_items="center", max_width="100%"),
        )
        parts: list[w.Widget] = [self.title, status_row, self.form]
        if self._gallery_class is not None:
            parts += [
                SafeHTML(safe("<h3>Gallery</h3>")),
                self.gallery_order,
                self.gallery_message,
                self.gallery_box,
            ]
        super().__init__(parts, layout=w.Layout(max_width="1100px", padding="0 12px"))
        self.add_class("ae-desk")
        self.gallery_order.observe(lambda c: self.show_gallery(c["new"]), names="value")
        self.reload_button.on_click(lambda _: self.load())
        self._loader: threading.Thread | None = None
        self._empty = False  # the page says the account has no orders
        self._unsubscribe = tracker.on_change(lambda _t: self._render())
        self._render()

    # -- the account's orders ---------------------------------------------------------------
    def load(self) -> threading.Thread:
        """Fill the table with the account's newest orders (at most ``sync_limit``), page by
        page with the count on the page, in the background (what "Load the account's
        orders" does; a click while loading waits for the load in flight)."""
        if self._loader is not None and self._loader.is_alive():
            return self._loader
        self.reload_button.disabled = True
        self._loader = threading.Thread(
            target=self._load, name="autoenhance-desk-sync", daemon=True
        )
        self._loader.start()
        return self._loader

    def wait_loaded(self, timeout: float = 60.0) -> None:
        if self._loader is not None:
            self._loader.join(timeout)

    def _load(self) -> None:
        try:
            self._load_pages()
        finally:
            self.reload_button.disabled = False

    def _load_pages(self) -> None:
        if self.sync_limit <= 0:
            self._say("")
            return
        self._say(f"Loading the account's orders (the newest {self.sync_limit})…")
        found: list[dict[str, Any]] = []
        try:
            for order in self.tracker.client.list_orders(per_page=PAGE_SIZE, limit=self.sync_limit):
                found.append(order)
                if len(found) % PAGE_SIZE == 0:
                    self._say(f"Loading the account's orders: {len(found)} so far…")
        except Exception as exc:
            self._say(f"Could not load the account's orders: {error_message(exc)}", "error")
            return
        finally:
            # oldest first, so the newest sit at the end of the table, where new ones go
            for i, order in enumerate(reversed(found), 1):
                self.tracker.record(order, "sync", notify=i == len(found))
        n = len(found)
        self._say(
            f"Loaded the account's {n} newest order{'' if n == 1 else 's'}"
            if n
            else "The account has no orders yet: create one below",
            "ok",
        )
        self._empty = n == 0

    # -- view -------------------------------------------------------------------------------
    def _say(self, text: str, kind: str = "info") -> None:
        self.status.value = message_html(text, kind) if text else ""

    def _render(self) -> None:
        client = self.tracker.client
        live = self.tracker.environment == "live"
        self.title.value = html(
            "<h2 style='margin:8px 0'>Autoenhance order desk {}</h2>{}",
            environment_badge(self.tracker.environment, dev_mode=client.dev_mode),
            html(
                "<div>The live API: processing and full-size downloads use the account's "
                "credits</div>"
            )
            if live
            else "",
        )
        if self._empty and len(self.tracker):
            self._empty = False
            self._say("")
        if self._gallery_class is None:
            return
        latest = self.tracker.latest(200)
        options = [("(pick an order)", "")] + [
            (f"{one_line(n or '(no name)', 40)} · {one_line(o, 24)}", o)
            for o, n in zip(
                reversed(list(latest["order_id"])), reversed(list(latest["name"])), strict=False
            )
        ]
        if options != list(self.gallery_order.options):
            current = self.gallery_order.value
            with self.gallery_order.hold_trait_notifications():
                self.gallery_order.options = options
                self.gallery_order.value = current if current in dict(options).values() else ""

    @property
    def gallery(self) -> Any | None:
        """The gallery shown (None: none, or no gallery module)."""
        if self.form_gallery is not None:
            return self.form_gallery.gallery
        return self._own_gallery

    def show_gallery(self, order_id: str) -> None:
        """Show the gallery of ``order_id`` ("" clears it)."""
        if self.form_gallery is not None:
            if order_id:
                self.form_gallery.show(order_id)
            return
        if self._gallery_class is None:
            return
        old, self._own_gallery = self._own_gallery, None
        self.gallery_box.children = ()
        self.gallery_message.value = ""
        if old is not None and hasattr(old, "close"):
            old.close()
        if not order_id:
            return
        try:
            gallery = self._gallery_class(
                order_id, tracker=self.tracker, export_dir=self.export_dir
            )
        except Exception as exc:
            self.gallery_message.value = message_html(
                f"Could not show the gallery of {order_id}: {error_message(exc)}", "error"
            )
            return
        self._own_gallery = gallery
        self.gallery_box.children = (gallery,)

    def close(self) -> None:
        if hasattr(self, "_unsubscribe"):
            self._unsubscribe()
        for part in (getattr(self, "_own_gallery", None), getattr(self, "form", None)):
            if part is not None:
                part.close()
        # every model the desk made, layouts and styles included (its own gallery picker
        # is made but not shown when the form has one)
        close_parts(
            self,
            *(getattr(self, n, None) for n in ("gallery_order", "gallery_message", "gallery_box")),
        )
        super().close()


def _number(name: str, default: int) -> int:
    """A whole number the desk command set in the environment (``default`` without)."""
    text = (os.environ.get(name) or "").strip()
    try:
        return max(0, int(text)) if text else default
    except ValueError:
        return default


def show_desk() -> Desk | None:
    """What the desk notebook runs: display the desk for this visit (and start loading the
    account's orders), or one line saying why it cannot start."""
    from IPython.display import HTML, display

    export_dir = os.environ.get(ENV_EXPORT_DIR) or "autoenhance-desk-exports"
    try:
        from .._session import session

        Path(export_dir).mkdir(parents=True, exist_ok=True)
        tracker = session(quiet=True)
        if os.environ.get(ENV_EVENTS):  # the server's webhooks, for this visit (_hooks.py)
            tracker.follow(os.environ[ENV_EVENTS])
        desk = Desk(
            tracker, export_dir=export_dir, sync_limit=_number(ENV_SYNC_LIMIT, DEFAULT_SYNC_LIMIT)
        )
    except Exception as exc:
        text = error_message(exc).replace(str(Path(export_dir).absolute()), "the export folder")
        display(HTML(message_html(f"The desk could not start: {text}", "error")))
        return None
    display(desk)
    desk.load()
    return desk
