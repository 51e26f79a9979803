"""The sandbox's image endpoints: create (register), retrieve, delete, reprocess and
report an image under /v3/images/, and the PUT to an image's pre-signed upload URL.

``ImageEndpoints`` is given the account (``state.Account``) and the settings.
Downloads of an image's pictures are in ``_downloads``. Imports nothing
from the client.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from ..state import NameRateLimited, Rejected
from . import _validation as validation
from ._base import ApiError, Endpoints, Invalid, Route, json_response


class ImageEndpoints(Endpoints):
    """POST /v3/images/, GET/DELETE /v3/images/{id}, POST .../process and .../report,
    and PUT /_uploads/{id}."""

    def routes(self) -> list[Route]:
        image = "/v3/images/<id>"
        return [
            Route("/v3/images/", "POST", "create_image", self.create_image, is_write=True),
            Route(image, "GET", "retrieve_image", self.retrieve_image, needs_key=False),
            Route(image, "DELETE", "delete_image", self.delete_image, is_write=True),
            Route(image + "/process", "POST", "reprocess_image", self.reprocess_image, True, True),
            Route(image + "/report", "POST", "report_image", self.report_image, True, True),
            Route("/_uploads/<id>", "PUT", "upload", self.upload, needs_key=False, is_write=True),
        ]

    def create_image(self, request: Request) -> Response:
        data = self.json_body(request, required=True)
        errors = validation.image_errors(data, create=True)
        if errors:
            raise Invalid("json", errors)
        content_type = next(
            (data[k] for k in validation.CONTENT_TYPE_KEYS if k in data),
            "application/octet-stream",
        )
        options = {
            k: v
            for k, v in data.items()
            if k not in ("image_name", "order_id", *validation.CONTENT_TYPE_KEYS)
        }
        try:
            body = self.account.images.create(
                data["image_name"], data.get("order_id"), options, content_type
            )
        except NameRateLimited:
            raise ApiError(
                429,
                "Too many images created with this name in the last hour.",
                headers={"Retry-After": "3600"},
            ) from None
        body["upload_url"] = self.upload_url("", body["image_id"], body.pop("upload_token"))
        return json_response(body)

    def retrieve_image(self, request: Request, id: str) -> Response:
        image = self.account.images.get(id)
        if image is None:
            raise ApiError(404)
        return json_response(image)

    def delete_image(self, request: Request, id: str) -> Response:
        if not self.account.images.delete(id):
            raise ApiError(404)
        return Response(status=204)

    def reprocess_image(self, request: Request, id: str) -> Response:
        data = self.json_body(request, required=False)
        errors = validation.image_errors(data, create=False)
        if errors:
            raise Invalid("json", errors)
        current = self.account.images.get(id)
        if current is None:
            raise ApiError(404)
        if "order_id" in data and data["order_id"] != current["order_id"]:
            raise Invalid("json", {"order_id": ["The order of an image cannot change."]})
        # SDK 1.1.0's wrapper also sends the path's ``id`` in the body: not an option
        ignored = ("id", *validation.CONTENT_TYPE_KEYS)
        options = {k: v for k, v in data.items() if k not in ignored}
        try:
            image = self.account.images.reprocess(id, options)
        except Rejected as exc:
            raise Invalid("json", exc.errors) from None
        if image is None:  # deleted meanwhile
            raise ApiError(404)
        return json_response(image)

    def report_image(self, request: Request, id: str) -> Response:
        data = self.json_body(request, required=True)
        errors = validation.report_errors(data)
        if errors:
            raise Invalid("json", errors)
        report = self.account.images.report(
            id, data["categories"], data.get("comment"), data.get("score"), data.get("source")
        )
        if report is None:
            raise ApiError(404)
        return json_response({"message": "Thank you: the report has been received."})

    def upload(self, request: Request, id: str) -> Response:
        # Behaves like a pre-signed storage URL: no API key, a token in the URL, the
        # content type it was signed for (the image's contentType, by default
        # application/octet-stream), raw bytes as the body.
        expected = self.account.images.upload_content_type(id)
        data = self.read_upload(request, expected or "application/octet-stream")
        outcome = self.account.images.upload(id, request.args.get("token"), data)
        if outcome == "not_found":
            raise ApiError(404)
        if outcome == "forbidden":
            raise ApiError(403, "AccessDenied: the upload token is missing or wrong.")
        return Response(b"", status=200)
