"""The sandbox's image endpoints: create (register), retrieve, delete, reprocess and
report an image under /v3/images/, and the PUT to an image's pre-signed upload URL.

``ImageEndpoints`` is a mixin of ``app.SandboxApp``; the data is ``state.Account``'s.
Downloads of an image's pictures are in ``endpoints_downloads.py``. Imports nothing
from the client.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from ..state import NameRateLimited, Rejected
from . import _validation as validation
from ._base import ApiError, EndpointBase, Invalid, json_response


class ImageEndpoints(EndpointBase):
    """POST /v3/images/, GET/DELETE /v3/images/{id}, POST .../process and .../report,
    and PUT /_uploads/{id}."""

    def create_image(self, request: Request) -> Response:
        data = self._json_body(request, required=True)
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
            body = self.account.create_image(
                data["image_name"], data.get("order_id"), options, content_type
            )
        except NameRateLimited:
            raise ApiError(
                429,
                "Too many images created with this name in the last hour.",
                headers={"Retry-After": "3600"},
            ) from None
        body["upload_url"] = self._upload_url("", body["image_id"], body.pop("upload_token"))
        return json_response(body)

    def retrieve_image(self, request: Request, id: str) -> Response:
        image = self.account.get_image(id)
        if image is None:
            raise ApiError(404)
        return json_response(image)

    def delete_image(self, request: Request, id: str) -> Response:
        if not self.account.delete_image(id):
            raise ApiError(404)
        return Response(status=204)

    def reprocess_image(self, request: Request, id: str) -> Response:
        data = self._json_body(request, required=False)
        errors = validation.image_errors(data, create=False)
        if errors:
            raise Invalid("json", errors)
        current = self.account.get_image(id)
        if current is None:
            raise ApiError(404)
        if "order_id" in data and data["order_id"] != current["order_id"]:
            raise Invalid("json", {"order_id": ["The order of an image cannot change."]})
        # SDK 1.1.0's wrapper also sends the path's ``id`` in the body: not an option
        ignored = ("id", *validation.CONTENT_TYPE_KEYS)
        options = {k: v for k, v in data.items() if k not in ignored}
        try:
            image = self.account.reprocess(id, options)
        except Rejected as exc:
            raise Invalid("json", exc.errors) from None
        if image is None:  # deleted meanwhile
            raise ApiError(404)
        return json_response(image)

    def report_image(self, request: Request, id: str) -> Response:
        data = self._json_body(request, required=True)
        errors = validation.report_errors(data)
        if errors:
            raise Invalid("json", errors)
        report = self.account.report(
            id, data["categories"], data.get("comment"), data.get("score"), data.get("source")
        )
        if report is None:
            raise ApiError(404)
        return json_response({"message": "Thank you: the report has been received."})

    def upload(self, request: Request, id: str) -> Response:
        # Behaves like a pre-signed storage URL: no API key, a token in the URL, the
        # content type it was signed for (the image's contentType, by default
        # application/octet-stream), raw bytes as the body.
        expected = self.account.upload_content_type(id)
        data = self._read_upload(request, expected or "application/octet-stream")
        outcome = self.account.upload(id, request.args.get("token"), data)
        if outcome == "not_found":
            raise ApiError(404)
        if outcome == "forbidden":
            raise ApiError(403, "AccessDenied: the upload token is missing or wrong.")
        return Response(b"", status=200)
