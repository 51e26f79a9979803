"""``client.orders``: create, fetch, list, rename and delete orders (``/v3/orders/``),
each method a few lines around the client's one ``Transport``. A create is exactly
once under retries (see ``OrderService.create``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from .. import errors as E
from ..errors import one_line, unexpected_shape
from ..rules import validate_order_id
from ._transport import Transport

__all__ = ["OrderService", "order_path", "checked_order", "MAX_PAGES", "MAX_SHORT_PAGES"]

#: Listing stops after this many pages unless told otherwise (a server handing out
#: fresh page tokens forever must not hold a session).
MAX_PAGES = 2_000
#: Consecutive pages shorter than asked for that still offer a next page: a real API
#: fills every page but the last, so this many means the paging is broken.
MAX_SHORT_PAGES = 20

log = logging.getLogger("autoenhance_nb")


def order_path(order_id: str) -> str:
    """The order's URL path: one segment, everything reserved percent-encoded, so that
    "a/../b", "x?y#z" and "%2F" stay inside it."""
    return "/v3/orders/" + quote(order_id, safe="")


def checked_order(value: Any, what: str, order_id: str) -> dict[str, Any]:
    """An order answer, checked: an object whose order_id is the one asked for."""
    if not isinstance(value, dict) or not isinstance(value.get("order_id"), str):
        raise unexpected_shape(what, value, "an order")
    if value["order_id"] != order_id:
        raise E.ServerError(
            f"{what} failed: the API answered with another order ({one_line(value['order_id'])!r})",
            order_id=order_id,
        )
    return value


class OrderService:
    """``/v3/orders/``: one method per endpoint."""

    def __init__(self, http: Transport):
        self._http = http

    def create(
        self, name: str | None = None, order_id: str | None = None, *, adopt_existing: bool = False
    ) -> dict[str, Any]:
        """Create an order and return it.

        Without ``order_id`` the client picks a uuid4 hex, so the create can be retried
        safely: after a timeout, dropped connection, 429 or 5xx it tries again, and if
        the retry finds the id taken by an order with the same name, that order is the
        one the lost attempt made and is returned. One call never makes two orders.
        ``adopt_existing=True`` treats a taken id that way from the first attempt
        (used when re-running a batch whose earlier run may have created it).
        """
        if name is not None and not isinstance(name, str):
            raise E.ValidationError(
                f"Invalid name: must be a string, not {type(name).__name__}",
                fields={"name": ["must be a string"]},
            )
        order_id = uuid.uuid4().hex if order_id is None else validate_order_id(order_id)
        body: dict[str, Any] = {"order_id": order_id}
        if name is not None:
            body["name"] = name
        what = (
            f"Creating order {one_line(name)!r}"
            if name
            else f"Creating order {one_line(order_id)!r}"
        )
        self._http.need_key(what, order_id)

        def on_error(error: E.AutoenhanceError, attempt: int) -> dict[str, Any] | None:
            if isinstance(error, E.ConflictError) and (attempt > 0 or adopt_existing):
                return self._find_own(order_id, name, what)
            return None

        order = self._http.call(
            "POST", "/v3/orders/", what, json=body, order_id=order_id, on_error=on_error
        )
        return checked_order(order, what, order_id)

    def _find_own(self, order_id: str, name: str | None, what: str) -> dict[str, Any] | None:
        try:
            existing = self.get(order_id)
        except E.NotFoundError:
            return None
        if name is None or existing.get("name") == name:
            log.info("%s: found the order an earlier attempt created", what)
            return existing
        return None

    def get(self, order_id: str) -> dict[str, Any]:
        what = f"Fetching order {one_line(validate_order_id(order_id))!r}"
        order = self._http.call("GET", order_path(order_id), what, order_id=order_id)
        return checked_order(order, what, order_id)

    def list(
        self, per_page: int = 15, *, limit: int | None = None, max_pages: int = MAX_PAGES
    ) -> Iterator[dict[str, Any]]:
        """The account's orders, newest first, following ``pagination.next_offset``;
        at most ``limit`` orders (None: all) and ``max_pages`` pages. A repeated page
        token or a page of the wrong shape ends with a ``ServerError``."""
        if not isinstance(per_page, int) or not 1 <= per_page <= 15:
            raise E.ValidationError(
                "Invalid per_page: must be an integer from 1 to 15",
                fields={"per_page": ["must be 1 to 15"]},
            )
        what = "Listing orders"
        self._http.need_key(what)
        pages = _Pages(what, per_page)
        given = 0
        for _ in range(max_pages):
            page = self._http.call("GET", "/v3/orders/", what, params=pages.params())
            for order in pages.orders(page):
                yield order
                given += 1
                if limit is not None and given >= limit:
                    return
            if not pages.advance(page):
                return
        raise E.ServerError(
            f"{what} stopped after {max_pages} pages: the API kept "
            f"offering more (pass limit= or max_pages=)"
        )

    def update(self, order_id: str, *, name: str) -> dict[str, Any]:
        what = f"Renaming order {one_line(validate_order_id(order_id))!r}"
        if not isinstance(name, str):
            raise E.ValidationError(
                "Invalid name: must be a string", fields={"name": ["must be a string"]}
            )
        self._http.need_key(what, order_id)
        order = self._http.call(
            "PATCH", order_path(order_id), what, json={"name": name}, order_id=order_id
        )
        return checked_order(order, what, order_id)

    def delete(self, order_id: str) -> None:
        what = f"Deleting order {one_line(validate_order_id(order_id))!r}"
        self._http.need_key(what, order_id)
        self._http.call("DELETE", order_path(order_id), what, order_id=order_id, gone_is_done=True)


class _Pages:
    """The paging of one listing: the next page token, the tokens seen (a server
    handing one back twice would loop forever) and the run of short pages."""

    def __init__(self, what: str, per_page: int):
        self.what = what
        self.per_page = per_page
        self.offset: str | None = None
        self.seen: set[str] = set()
        self.short = 0

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"per_page": self.per_page}
        if self.offset is not None:
            params["offset"] = self.offset
        return params

    def orders(self, page: Any) -> Iterator[dict[str, Any]]:
        """The page's orders, each checked (a page of the wrong shape is an error)."""
        if not isinstance(page, dict) or not isinstance(page.get("orders", []), list):
            raise unexpected_shape(self.what, page, "a page of orders")
        batch = page.get("orders") or []
        self.short = self.short + 1 if len(batch) < self.per_page else 0
        for order in batch:
            if not isinstance(order, dict) or not isinstance(order.get("order_id"), str):
                raise unexpected_shape(self.what, order, "an order")
            yield order

    def advance(self, page: dict[str, Any]) -> bool:
        """Move to the next page; False when there is none."""
        pagination = page.get("pagination")
        offset = pagination.get("next_offset") if isinstance(pagination, dict) else None
        if offset is None or offset == "":
            return False
        offset = str(offset)
        if offset in self.seen:
            raise E.ServerError(f"{self.what} failed: the API repeated a page token")
        self.seen.add(offset)
        if self.short >= MAX_SHORT_PAGES:
            raise E.ServerError(
                f"{self.what} stopped: the API kept offering more pages with fewer orders "
                f"than asked ({self.short} pages in a row)"
            )
        self.offset = offset
        return True
