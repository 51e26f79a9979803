"""The sandbox's HDR bracket endpoints: create a bracket (POST /v3/brackets/), the PUT
to its pre-signed upload URL, list an order's brackets, and process an order (merge
its brackets into images, POST /v3/orders/{id}/process).

``BracketEndpoints`` is given the account (``state.Account``) and the settings; the
merging of pictures is ``_render.merge``. Imports nothing from the client.
"""

from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from .._render import fingerprint, merge, same_scene
from ..state import Merge, Rejected
from . import _validation as validation
from ._base import ApiError, Endpoints, Invalid, Route, json_response

_log = logging.getLogger("autoenhance_nb.sandbox")


class BracketEndpoints(Endpoints):
    """POST /v3/brackets/, PUT /_uploads/brackets/{id}, GET /v3/orders/{id}/brackets
    and POST /v3/orders/{id}/process."""

    def routes(self) -> list[Route]:
        brackets, process = "/v3/orders/<order_id>/brackets", "/v3/orders/<id>/process"
        return [
            Route("/v3/brackets/", "POST", "create_bracket", self.create_bracket, True, True),
            Route(
                "/_uploads/brackets/<id>", "PUT", "upload_bracket", self.upload_bracket, False, True
            ),
            Route(brackets, "GET", "order_brackets", self.order_brackets, needs_key=False),
            Route(process, "POST", "process_order", self.process_order, is_write=True),
        ]

    def create_bracket(self, request: Request) -> Response:
        data = self.json_body(request, required=True)
        errors = validation.bracket_errors(data)
        if errors:
            raise Invalid("json", errors)
        body = self.account.brackets.create(
            data["order_id"], data["name"], data.get("metadata") or {}
        )
        if body is None:
            raise ApiError(404, "The order does not exist.")
        body["upload_url"] = self.upload_url(
            "brackets/", body["bracket_id"], body.pop("upload_token")
        )
        return json_response(body)

    def upload_bracket(self, request: Request, id: str) -> Response:
        data = self.read_upload(request, "application/octet-stream")
        # outside the account's lock: decoding a picture may take a moment
        signature = fingerprint(data)
        outcome = self.account.brackets.upload(id, request.args.get("token"), data, signature)
        if outcome == "not_found":
            raise ApiError(404)
        if outcome == "forbidden":
            raise ApiError(403, "AccessDenied: the upload token is missing or wrong.")
        return Response(b"", status=200)

    def order_brackets(self, request: Request, order_id: str) -> Response:
        brackets = self.account.brackets.of_order(order_id)
        if brackets is None:
            raise ApiError(404)
        return json_response({"brackets": brackets})

    def process_order(self, request: Request, id: str) -> Response:
        data = self.json_body(request, required=False)
        errors = validation.process_errors(data)
        if errors:
            raise Invalid("json", errors)
        images = data.get("images")
        groups = [g["bracket_ids"] for g in images] if images else None
        options = {k: data[k] for k in validation.PROCESS_OPTION_KEYS if k in data}
        try:
            planned = self.account.brackets.plan_merge(
                id, groups, data.get("number_of_brackets_per_image") or None, same_scene
            )
        except Rejected as exc:
            raise Invalid("json", exc.errors) from None
        if planned is None:
            raise ApiError(404)
        merges = []
        for group in planned:  # the merge itself runs outside the account's lock
            try:
                merged = merge([data for _, _, data in group])
            except Exception:
                _log.exception("sandbox: could not merge brackets of order %s", id)
                merged = None
            merges.append(
                Merge(
                    bracket_ids=[bracket_id for bracket_id, _, _ in group],
                    name=group[0][1],
                    data=merged if merged is not None else group[0][2],
                    options=options,
                )
            )
        order = self.account.brackets.start_merge(id, merges)
        if order is None:
            raise ApiError(404)
        return json_response(order)
