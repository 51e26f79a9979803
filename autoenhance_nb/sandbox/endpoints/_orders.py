"""The sandbox's order endpoints: create, list (paged), retrieve, update (rename) and
delete an order under /v3/orders/.

``OrderEndpoints`` is given the account (``state.Account``) and the settings.
What a duplicate custom order_id gets is set here. Imports nothing from the client.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from ..state import Conflict, decode_offset
from . import _validation as validation
from ._base import ApiError, Endpoints, Invalid, Route, json_response

# What the real API answers to a duplicate custom order_id is unknown (NOTES section 7);
# this is the one place to change it.
DUPLICATE_ORDER_STATUS = 409
DUPLICATE_ORDER_MESSAGE = "An order with this order_id already exists."

MAX_ORDER_ID_LENGTH = validation.MAX_ORDER_ID_LENGTH


class OrderEndpoints(Endpoints):
    """POST/GET /v3/orders/ and GET/PATCH/DELETE /v3/orders/{id}."""

    def routes(self) -> list[Route]:
        return [
            Route("/v3/orders/", "POST", "create_order", self.create_order, is_write=True),
            Route("/v3/orders/", "GET", "list_orders", self.list_orders),
            Route("/v3/orders/<id>", "GET", "retrieve_order", self.retrieve_order, False),
            Route("/v3/orders/<id>", "PATCH", "update_order", self.update_order, is_write=True),
            Route("/v3/orders/<id>", "DELETE", "delete_order", self.delete_order, is_write=True),
        ]

    @staticmethod
    def _order_fields(data: dict) -> dict:
        errors: dict[str, list[str]] = {}
        for key in data:
            if key not in ("name", "order_id"):
                errors[key] = ["Unknown field."]
        name = data.get("name")
        if "name" in data and not isinstance(name, str):
            errors["name"] = ["Not a valid string."]
        if "order_id" in data:
            oid = data["order_id"]
            problem = None
            if not isinstance(oid, str):
                problem = "Not a valid string."
            elif not oid.strip():
                problem = "Must not be empty."
            elif len(oid) > MAX_ORDER_ID_LENGTH:
                problem = f"Longer than maximum length {MAX_ORDER_ID_LENGTH}."
            elif any(ord(c) < 32 or ord(c) == 127 for c in oid):
                problem = "Must not contain control characters."
            elif oid in (".", ".."):
                problem = "Not a valid order id."
            if problem:
                errors["order_id"] = [problem]
        if errors:
            raise Invalid("json", errors)
        return data

    def create_order(self, request: Request) -> Response:
        data = self._order_fields(self.json_body(request, required=False))
        try:
            order = self.account.orders.create(data.get("name"), data.get("order_id"))
        except Conflict:
            raise ApiError(
                DUPLICATE_ORDER_STATUS, DUPLICATE_ORDER_MESSAGE, {"order_id": data.get("order_id")}
            ) from None
        return json_response(order)

    def list_orders(self, request: Request) -> Response:
        args = request.args
        errors: dict[str, list[str]] = {}
        per_page = 5
        if "per_page" in args:
            try:
                per_page = int(args["per_page"])
            except ValueError:
                errors["per_page"] = ["Not a valid integer."]
            else:
                if per_page < 1:
                    errors["per_page"] = ["Must be greater than or equal to 1."]
                elif per_page > 15:
                    if self.settings.per_page_overflow == "reject":
                        errors["per_page"] = ["Must be less than or equal to 15."]
                    else:
                        per_page = 15
        offset = args.get("offset") or None
        if offset is not None and offset != "0":
            try:
                decode_offset(offset)
            except ValueError:
                errors["offset"] = ["Not a valid page token."]
        elif offset == "0":
            offset = None  # docs render the first page's offset as 0
        if errors:
            raise Invalid("query", errors)
        orders, next_offset = self.account.orders.page(per_page, offset)
        return json_response(
            {"orders": orders, "pagination": {"next_offset": next_offset, "per_page": per_page}}
        )

    def retrieve_order(self, request: Request, id: str) -> Response:
        order = self.account.orders.get(id)
        if order is None:
            raise ApiError(404)
        return json_response(order)

    def update_order(self, request: Request, id: str) -> Response:
        data = self._order_fields(self.json_body(request, required=False))
        if "order_id" in data and data["order_id"] != id:
            raise Invalid("json", {"order_id": ["The order_id of an order cannot change."]})
        order = self.account.orders.update(id, data.get("name"))
        if order is None:
            raise ApiError(404)
        return json_response(order)

    def delete_order(self, request: Request, id: str) -> Response:
        if not self.account.orders.delete(id):
            raise ApiError(404)
        return Response(status=204)
