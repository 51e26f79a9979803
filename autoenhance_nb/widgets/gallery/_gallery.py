"""``OrderGallery``: the photos of one order as cards (original and enhanced preview side
by side), a page at a time, with per-photo and "selected" actions.

Thumbnails are small (the API's ``max_width``), fetched a few at a time only for the
page shown and the next one, and kept in an LRU cache bounded by bytes; cards exist only
for the page shown, so memory stays bounded however many pages are visited. Statuses
update by themselves while the order processes (``widget_kit.AutoRefresher``, which
stops by itself). Errors are one line, on the card or the gallery, never a traceback.

    from autoenhance_nb import OrderGallery
    OrderGallery(order_id)          # or tracker.gallery(order_id)
"""

from __future__ import annotations

import math
import os
from typing import Any

import ipywidgets as w
import pandas as pd

from ..._session import session
from ...display import (
    GALLERY_CSS,
    Markup,
    environment_badge,
    html,
    join,
    message_html,
    status_badge,
)
from ...errors import one_line
from ...rules import validate_order_id
from .._exports import ExportFolder
from .._kit import (
    AutoRefresher,
    SafeHTML,
    auto_layout,
    close_parts,
    error_message,
    row,
    weak_method,
)
from . import _actions as A
from ._bulk import BulkActions
from ._cache import CACHE_BYTES, ThumbCache, Thumbnailer
from ._card import HAS_ORIGINAL, ImageCard
from ._compare import CompareView
from ._state import GalleryState

__all__ = ["OrderGallery"]


class OrderGallery(w.VBox):
    """The photos of ``order_id`` (in the session's tracker unless one is given)."""

    def __init__(
        self,
        order_id: str,
        tracker: Any = None,
        *,
        page_size: int = 24,
        export_dir: str | os.PathLike[str] | None = None,
        cache_bytes: int = CACHE_BYTES,
        workers: int = 4,
        thumb_query: dict[str, Any] | None = None,
        refresh_interval: float = 3.0,
        refresh_max_seconds: float = 1800.0,
    ):
        self.order_id = validate_order_id(order_id)
        tracker = tracker if tracker is not None else session()
        self.page_size = max(1, int(page_size))
        self.page = 0
        self.cards: dict[str, ImageCard] = {}
        # what the cards and the "selected" actions share with the gallery
        self.state = GalleryState(
            tracker,
            ExportFolder(export_dir),
            Thumbnailer(tracker.client, ThumbCache(cache_bytes), workers, thumb_query),
            page=lambda: list(self.cards),
            changed=self._changed,
            redone=self.redone,
            selection_changed=self.selection_changed,
            compare=lambda image_id, name: self.compare.show(image_id, name),
        )
        self._auto = AutoRefresher(
            self._auto_step,
            self._auto_stopped,
            refresh_interval,
            refresh_max_seconds,
            name="autoenhance-gallery-refresh",
            pace=tracker.events.poll_interval,
            check=self._auto_check,
        )
        self._make_parts()
        super().__init__(
            [
                self.header,
                row(self.prev_button, self.page_label, self.next_button),
                self.bulk,
                self.message,
                self.compare,
                self.cards_box,
            ],
            layout=w.Layout(max_width="100%"),
        )
        self.add_class("ae-gallery")
        try:
            self.tracker.record(self.tracker.client.get_order(self.order_id), notify=False)
        except Exception as exc:
            self.say(f"Could not fetch order {one_line(self.order_id, 64)}: {error_message(exc)}")
        self._sync_rows()
        self.show_page(0)
        self._unsubscribe = self.tracker.on_change(weak_method(self, "_sync_rows"))
        if self.processing:
            self.watch()

    def _make_parts(self) -> None:
        self.header = SafeHTML().add_class("ae-gallery-header")
        self.message = SafeHTML().add_class("ae-gallery-message")
        self.prev_button = w.Button(description="Previous", icon="arrow-left", layout=auto_layout())
        self.next_button = w.Button(description="Next", icon="arrow-right", layout=auto_layout())
        self.prev_button.add_class("ae-prev")
        self.next_button.add_class("ae-next")
        self.prev_button.on_click(lambda _: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _: self.show_page(self.page + 1))
        self.page_label = SafeHTML().add_class("ae-page")
        self.cards_box = w.Box(
            layout=w.Layout(flex_flow="row wrap", max_width="100%", width="100%")
        ).add_class("ae-cards")
        self.bulk = BulkActions(self.state)
        self.compare = CompareView(self.state)  # one photo before and after, folded

    # -- state (the ``GalleryState`` holds it) ---------------------------------------------
    @property
    def tracker(self) -> Any:
        return self.state.tracker

    @property
    def exports(self) -> ExportFolder:
        return self.state.exports

    @property
    def thumbs(self) -> Thumbnailer:
        return self.state.thumbs

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.state.rows

    @property
    def selected(self) -> set[str]:
        return self.state.selected

    @property
    def revisions(self) -> dict[str, int]:
        return self.state.revisions

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self.rows) / self.page_size))

    @property
    def processing(self) -> int:
        return sum(1 for r in self.rows if r.get("status") == "processing")

    @property
    def auto_refreshing(self) -> bool:
        return self._auto.running

    def page_rows(self, page: int) -> list[dict[str, Any]]:
        return self.rows[page * self.page_size : (page + 1) * self.page_size]

    def say(self, text: str, kind: str = "error") -> None:
        self.message.value = message_html(one_line(text, 300), kind)

    def selection_changed(self) -> None:
        self.bulk.show_count()

    def _changed(self, image_id: str) -> None:
        card = self.cards.get(image_id)
        if card is not None and not card.closed:
            card.show_state()

    def _sync_rows(self) -> None:
        """Take the order's images from the tracker; update the cards shown."""
        images = self.tracker.images_df
        images = images[images["order_id"] == self.order_id]
        self.state.rows = [
            {
                k: (None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v)
                for k, v in rec.items()
            }
            for rec in images.to_dict("records")
        ]
        self.state.brackets = self._bracket_counts()
        for r in self.rows:
            card = self.cards.get(r["image_id"])
            if card is not None and r != card.image:
                card.update(r)
        if self.page >= self.pages:
            self.show_page(self.pages - 1)
        self._render_header()

    def _bracket_counts(self) -> dict[str, int]:
        merged = getattr(self.tracker, "merged_images", None)
        if merged is None:
            return {}
        try:
            frame = merged(self.order_id)
        except Exception:
            return {}
        return {
            i: int(n)
            for i, n in zip(frame["image_id"], frame["brackets"], strict=True)
            if n is not pd.NA and not pd.isna(n)
        }

    def _render_header(self) -> None:
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[str(r.get("status"))] = counts.get(str(r.get("status")), 0) + 1
        env = self.tracker.environment
        parts = [
            GALLERY_CSS,
            html(
                "<div><b>Order {}</b> {} &middot; {} {}",
                one_line(self.order_id, 64),
                environment_badge(env, dev_mode=self.tracker.client.dev_mode),
                len(self.rows),
                "photo" if len(self.rows) == 1 else "photos",
            ),
        ]
        parts.extend(html(" &middot; {} {}", status_badge(s), n) for s, n in counts.items())
        parts.append(html("</div>"))
        self.header.value = join(parts)

    # -- pages ------------------------------------------------------------------------
    def show_page(self, page: int) -> None:
        """Show page ``page`` (from 0): its cards load their thumbnails; the next page's
        are fetched ahead; cards of other pages are closed."""
        page = min(max(0, page), self.pages - 1)
        rows = self.page_rows(page)
        wanted = [r["image_id"] for r in rows]
        old = self.cards
        self.cards = {}
        for image_id, card in old.items():
            if image_id not in wanted:
                card.close()
        for r in rows:
            kept = old.get(r["image_id"])
            self.cards[r["image_id"]] = (
                kept if kept is not None and not kept.closed else ImageCard(self.state, r)
            )
        self.page = page
        self.cards_box.children = [self.cards[i] for i in wanted]
        if not rows:
            self.say("No photos in this order yet", "info")
        for card in self.cards.values():
            card.load()
        self.prev_button.disabled = page == 0
        self.next_button.disabled = page >= self.pages - 1
        self.page_label.value = f"page {page + 1} of {self.pages}"
        self._prefetch(page + 1)

    def _prefetch(self, page: int) -> None:
        for r in self.page_rows(page) if page < self.pages else []:
            if r.get("status") in HAS_ORIGINAL:
                self.thumbs.prefetch((r["image_id"], "original", 0))
            if r.get("status") == "processed":
                rev = self.state.revision(r["image_id"])
                self.thumbs.prefetch((r["image_id"], "enhanced", rev))

    # -- refresh ----------------------------------------------------------------------
    def redone(self, image_id: str) -> None:
        """An image went back to processing: its next enhanced picture is new."""
        self.revisions[image_id] = self.state.revision(image_id) + 1
        self.thumbs.cache.drop(image_id, "enhanced")
        self._sync_rows()
        card = self.cards.get(image_id)
        if card is not None:
            card.load()  # the new picture, once processed
        self.watch()

    def watch(self) -> None:
        """Update statuses every few seconds until nothing of the order processes (by
        webhook, with a slow safety-net refresh, while the tracker has a receiver)."""
        self._say_pace()
        self._auto.start()

    def _say_pace(self) -> None:
        events = self.tracker.events
        if events.active:
            text = f"Statuses {events.describe(self._auto.interval)}"
            self.message.value = message_html(text, "info")

    def refresh(self) -> None:
        """Fetch the order's statuses once (what the auto-refresh does)."""
        self.tracker.record(self.tracker.client.get_order(self.order_id))

    def _auto_step(self) -> str | None:
        try:
            self.refresh()
        except Exception as exc:
            self.say(f"Refreshing statuses: {error_message(exc)}")
        return self._auto_check()

    def _auto_check(self) -> str | None:
        if self.processing:
            return None
        return f"nothing of this order is processing ({len(self.rows)} photos)"

    def _auto_stopped(self, reason: str | None) -> None:
        if reason and not self.processing:
            self.message.value = message_html(f"Statuses up to date: {reason}", "info")

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the auto-refresh, the cards' and the selection's actions are done.
        For tests and scripts."""
        self._auto.join(timeout)
        for card in list(self.cards.values()):
            card.wait(timeout)
        self.bulk.wait(timeout)
        self.thumbs.idle(timeout)

    def close(self) -> None:
        if hasattr(self, "_auto"):
            self._auto.stop()
        if hasattr(self, "_unsubscribe"):
            self._unsubscribe()
        for card in getattr(self, "cards", {}).values():
            card.close()
        if hasattr(self, "state"):
            self.thumbs.close()
        # every model the gallery made: its rows of buttons, labels, layouts and styles
        close_parts(self)
        super().close()

    # -- static view -------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        """The live widget, plus what a saved notebook shows without a kernel: one text
        line, and the page's thumbnails loaded so far as a plain HTML grid."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        n = len(self.rows)
        data["text/plain"] = (
            f"Autoenhance gallery of order {one_line(self.order_id, 64)}: {n} "
            f"{'photo' if n == 1 else 'photos'} (needs a live kernel) "
            f"[{self.tracker.environment_label}]"
        )
        data["text/html"] = self.static_html()
        return data

    def static_html(self) -> Markup:
        figures = []
        for r in self.page_rows(self.page):
            image_id = r["image_id"]
            rev = self.state.revision(image_id)
            thumbs = join(
                A.thumb_html(kind, self.thumbs.cache.get((image_id, kind, k)), "not loaded")
                for kind, k in (("original", 0), ("enhanced", rev))
            )
            figures.append(
                html(
                    '<figure><div style="display:flex;gap:4px">{}</div><figcaption>{} {}'
                    "</figcaption></figure>",
                    thumbs,
                    status_badge(r.get("status")),
                    one_line(r.get("image_name") or image_id, 60),
                )
            )
        return html(
            '<div class="ae-gallery-static">{}<p><i>Autoenhance gallery of order {}: it needs '
            "a live kernel (run the cell). Page {} of {} when the notebook was saved:</i></p>"
            '<div class="ae-static-grid">{}</div></div>',
            GALLERY_CSS,
            one_line(self.order_id, 64),
            self.page + 1,
            self.pages,
            join(figures),
        )
