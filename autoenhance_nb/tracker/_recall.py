"""What the journal remembers of the orders this user asked for: the ids a batch was
given (so that its re-run, even in a fresh kernel, resends them), which ids it made (so
that a taken id is adopted only when it is this journal's own), and the intent and
outcome of each create. ``Orders`` asks; nothing here sends a request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from .. import errors as E
from ..api import AutoenhanceClient
from ..errors import one_line
from ._core import TrackerCore

__all__ = ["Recall", "NOT_ADOPTED"]

#: Set (true) on the ``ConflictError`` of an id taken by an order this journal did not
#: make: the caller must not adopt that order either.
NOT_ADOPTED = "not_adopted"


class Recall:
    """The journal's memory for one create or batch (everything is a no-op without a
    journal: then only this session's own ids are adopted)."""

    def __init__(self, core: TrackerCore):
        self.journal = core.journal
        self.account = core.client.account
        self.notebook = core.notebook()
        self.own: set[str] = set()

    def batch_key(self, items: list[dict[str, Any]]) -> str | None:
        """A batch's identity: its notebook and its items (names and given ids) in
        order. The same list run again from the same notebook is the same batch."""
        if self.journal is None:
            return None
        material = [self.notebook, [[i.get("name"), i.get("order_id")] for i in items]]
        return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()

    def batch_ids(self, batch: str | None) -> dict[int, str]:
        """The ids an earlier run of this batch gave its items, by input position."""
        if self.journal is None or batch is None:
            return {}
        return self.journal.batch_ids(self.account, batch)

    def before(self, entries: Iterable[tuple[int, str, str | None]], batch: str | None) -> None:
        """Before sending: note which ids this journal made earlier (``own``: adopted if
        taken), then write the intent of every create."""
        if self.journal is None:
            return
        entries = list(entries)
        self.own = self.journal.made(self.account, (oid for _, oid, _ in entries))
        self.journal.intend_orders(self.account, self.notebook, entries, batch)

    def after(self, order_ids: Iterable[str]) -> None:
        """The outcome: these orders exist."""
        if self.journal is not None:
            ids = list(order_ids)
            if ids:
                self.journal.orders_made(self.account, ids)

    def create(
        self, client: AutoenhanceClient, name: str | None, order_id: str, adopt: bool
    ) -> dict[str, Any]:
        """Create the order; a taken id is adopted when ``adopt`` says so or this
        journal made it earlier (see ``not_adopted``)."""
        adopt = adopt or order_id in self.own
        try:
            return client.create_order(name=name, order_id=order_id, adopt_existing=adopt)
        except E.ConflictError as exc:
            raise self.not_adopted(exc, order_id, adopt) from None

    def not_adopted(
        self, error: E.ConflictError, order_id: str, adopted: bool
    ) -> E.AutoenhanceError:
        """A taken id: when this journal did not make it, the order is someone else's
        (another notebook or person on the account): never adopted silently. Its
        intent is forgotten, so that a re-run does not take it for this journal's."""
        if self.journal is None or adopted:
            return error
        self.journal.forget_orders(self.account, [order_id])
        clear = error.with_message(
            f"order_id {one_line(order_id)!r} is taken on the account by an order this "
            f"journal did not make (another notebook or person?), so it is not adopted: "
            f"give the order another order_id, or tracker.track({one_line(order_id)!r}) "
            f"to follow that order"
        )
        setattr(clear, NOT_ADOPTED, True)
        return clear
