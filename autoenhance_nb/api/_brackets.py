"""``client.brackets``: register and upload HDR brackets, list an order's brackets, and
process an order (group its brackets into images and enhance them), each method a few
lines around the client's one ``Transport``.

Exactly once under retries:

- A bracket registration whose answer may have been lost (a 5xx) is retried; the API
  has no way to delete a bracket, so the registrations a lost attempt may have left
  (same ``client_ref`` in their metadata, never uploaded) are found and *ignored*: they
  hold no bytes, and ``process_order(groups=...)`` only ever names the brackets whose
  upload succeeded, so they never become part of an image.
- ``process_order`` looks at the order first; when an attempt's answer is lost it
  looks again before retrying, and an order that started merging (or gained images)
  meanwhile means the lost attempt did the job: it is not sent twice.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .. import errors as E
from ..errors import one_line, unexpected_shape
from ..rules import ImageSource, validate_order_id
from ._images import put_upload
from ._orders import OrderService, checked_order, order_path
from ._transport import Transport

__all__ = ["BracketService", "CLIENT_REF", "GROUPING_KEYS"]

log = logging.getLogger("autoenhance_nb")

#: The metadata key each registration carries, unique per call (the same across its
#: retries): it tells a lost attempt's registration apart from everything else.
CLIENT_REF = "client_ref"
#: Process options that choose the grouping: given by name, never in ``**options``.
GROUPING_KEYS = ("images", "number_of_brackets_per_image")
_MAYBE_DONE = frozenset({500, 502, 503, 504})
_Brackets = list[dict[str, Any]]


class BracketService:
    """``/v3/brackets/``, ``/v3/orders/{id}/brackets``, ``/v3/orders/{id}/process``.
    ``orders`` looks at the order around a process call."""

    def __init__(self, http: Transport, orders: OrderService):
        self._http = http
        self._orders = orders

    def create(
        self, order_id: str, name: str, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Register one bracket in an order; returns the API's answer (``bracket_id``,
        ``upload_url``, ``is_uploaded``...). ``metadata`` is stored with it, plus a
        ``client_ref``. A retried registration leaves no second usable bracket (see the
        module's notes)."""
        validate_order_id(order_id)
        if not isinstance(name, str) or not name.strip():
            raise E.ValidationError(
                "Invalid name: a bracket needs a non-empty file name",
                fields={"name": ["must be a non-empty string"]},
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise E.ValidationError(
                f"Invalid metadata: must be a dict, not {type(metadata).__name__}",
                fields={"metadata": ["must be a dict"]},
            )
        what = f"Registering bracket {one_line(name)!r} in order {one_line(order_id)!r}"
        self._http.need_key(what, order_id)
        ref = uuid.uuid4().hex
        body = {
            "order_id": order_id,
            "name": name,
            "metadata": {**(metadata or {}), CLIENT_REF: ref},
        }
        maybe_twice: list[int] = []

        def note(error: E.AutoenhanceError, attempt: int) -> None:
            if error.status_code in _MAYBE_DONE:
                maybe_twice.append(attempt)

        bracket = self._http.call(
            "POST", "/v3/brackets/", what, json=body, order_id=order_id, on_error=note
        )
        if not isinstance(bracket, dict) or not isinstance(bracket.get("bracket_id"), str):
            raise unexpected_shape(what, bracket, "a registered bracket")
        if maybe_twice:
            self._note_lost_registrations(order_id, ref, bracket["bracket_id"])
        return bracket

    def _note_lost_registrations(self, order_id: str, ref: str, keep: str) -> None:
        try:
            extra = [
                b["bracket_id"]
                for b in self.list(order_id)
                if (b.get("metadata") or {}).get(CLIENT_REF) == ref and b["bracket_id"] != keep
            ]
        except E.AutoenhanceError as exc:  # best effort: the registration itself succeeded
            log.info("could not look for lost bracket registrations: %s", exc)
            return
        if extra:
            log.info(
                "bracket registration retried: %d earlier registration(s) never uploaded, "
                "ignored (%s)",
                len(extra),
                ", ".join(extra),
            )

    def upload(
        self,
        order_id: str,
        source: str | os.PathLike[str] | bytes | ImageSource,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        on_registered: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Register a bracket and PUT its bytes to the returned ``upload_url`` (streamed
        from disk, ``application/octet-stream``, no API key: the URL belongs to a storage
        host). Returns the registration with ``is_uploaded`` true.

        Refused before any request: a missing path, a folder, an empty file, content
        that is not an image."""
        photo = source if isinstance(source, ImageSource) else ImageSource(source, name)
        bracket = self.create(order_id, photo.name, metadata)
        if on_registered is not None:
            on_registered(bracket)  # before the bytes: the journal notes the bracket's id
        what = f"Uploading bracket {one_line(photo.name)!r}"
        put_upload(self._http, bracket.get("upload_url"), photo, what, order_id)
        uploaded = {k: v for k, v in bracket.items() if k != "upload_url"}
        uploaded["is_uploaded"] = True
        uploaded.setdefault("order_id", order_id)
        return uploaded

    def list(self, order_id: str) -> _Brackets:
        """The brackets registered on an order, in the API's order (``is_uploaded``
        says which hold bytes)."""
        what = f"Listing the brackets of order {one_line(validate_order_id(order_id))!r}"
        path = order_path(order_id) + "/brackets"
        answer = self._http.call("GET", path, what, order_id=order_id)
        brackets = answer.get("brackets") if isinstance(answer, dict) else None
        if not isinstance(brackets, list):
            raise unexpected_shape(what, answer, "a list of brackets")
        for bracket in brackets:
            if not isinstance(bracket, dict) or not isinstance(bracket.get("bracket_id"), str):
                raise unexpected_shape(what, bracket, "a bracket")
        return brackets

    def process(
        self,
        order_id: str,
        *,
        brackets_per_image: int | None = None,
        groups: Sequence[Sequence[str]] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Group the order's uploaded brackets into images and start enhancing them.

        ``groups``: explicit, a list of lists of bracket ids (one image each);
        ``brackets_per_image=N``: every N uploaded brackets, in upload order; neither:
        the API groups them by looking at them. ``options`` are the enhancement
        settings of ``OrderHDRProcessIn`` (enhance_type, sky_replacement, ...).
        Returns the order (``is_merging`` true while the brackets are merged)."""
        validate_order_id(order_id)
        body = {**options, **_grouping(brackets_per_image, groups, options)}
        what = f"Processing the brackets of order {one_line(order_id)!r}"
        self._http.need_key(what, order_id)
        before = self._orders.get(order_id)

        def done_already(error: E.AutoenhanceError, attempt: int) -> dict[str, Any] | None:
            maybe = (
                error.status_code in _MAYBE_DONE
                or (isinstance(error, E.TransportError) and error.connected)
                or (attempt > 0 and isinstance(error, E.ValidationError))
            )
            if not maybe:
                return None
            try:
                now = self._orders.get(order_id)
            except E.AutoenhanceError as exc:
                raise E.ServerError(
                    f"{what}: the answer was lost and the order could not be checked "
                    f"({one_line(exc)}); look at the order before processing again",
                    order_id=order_id,
                ) from None
            if _started(before, now):
                log.info("%s: an attempt whose answer was lost started it", what)
                return now
            if before.get("is_merging") and error.status_code in _MAYBE_DONE:
                raise E.ServerError(
                    f"{what}: the answer was lost while an earlier merge was running, so "
                    f"whether it started cannot be told; look at the order before "
                    f"processing again",
                    order_id=order_id,
                )
            return None

        order = self._http.call(
            "POST",
            order_path(order_id) + "/process",
            what,
            json=body,
            order_id=order_id,
            on_error=done_already,
        )
        return checked_order(order, what, order_id)


def _grouping(
    per_image: int | None, groups: Sequence[Sequence[str]] | None, options: dict[str, Any]
) -> dict[str, Any]:
    """The grouping part of a process body, checked before any request."""
    for key in GROUPING_KEYS:
        if key in options:
            raise E.ValidationError(
                f"Invalid option {key}: choose the grouping with groups= or brackets_per_image=",
                fields={key: ["use groups= or brackets_per_image="]},
            )
    if per_image is not None and groups is not None:
        raise E.ValidationError(
            "Give groups= or brackets_per_image=, not both",
            fields={"groups": ["not with brackets_per_image"]},
        )
    if per_image is not None:
        if isinstance(per_image, bool) or not isinstance(per_image, int) or per_image < 1:
            raise E.ValidationError(
                f"Invalid brackets_per_image: must be a whole number of 1 or more, "
                f"not {one_line(per_image)!r}",
                fields={"brackets_per_image": ["must be 1 or more"]},
            )
        return {"number_of_brackets_per_image": per_image}
    if groups is None:
        return {}
    if isinstance(groups, (str, bytes)) or not groups:
        raise E.ValidationError(
            "Invalid groups: a non-empty list of lists of bracket ids",
            fields={"groups": ["must be a non-empty list of lists"]},
        )
    seen: set[str] = set()
    images = []
    for number, group in enumerate(groups, start=1):
        if isinstance(group, (str, bytes)) or not group:
            raise E.ValidationError(
                f"Invalid groups: group {number} must be a non-empty list of bracket ids",
                fields={"groups": [f"group {number} is empty or not a list"]},
            )
        ids = [validate_order_id(b, "bracket_id") for b in group]
        twice = seen.intersection(ids) or {b for b in ids if ids.count(b) > 1}
        if twice:
            raise E.ValidationError(
                f"Invalid groups: bracket {one_line(sorted(twice)[0])!r} is in more than one group",
                fields={"groups": ["a bracket is in more than one group"]},
            )
        seen.update(ids)
        images.append({"bracket_ids": ids})
    return {"images": images}


def _started(before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether ``now`` shows a process call that ``before`` did not: the order started
    merging, or it has images it did not have."""
    if now.get("is_merging") and not before.get("is_merging"):
        return True

    def ids(order: dict[str, Any]) -> set[str]:
        return {
            i["image_id"]
            for i in order.get("images") or []
            if isinstance(i, dict) and isinstance(i.get("image_id"), str)
        }

    return bool(ids(now) - ids(before))
