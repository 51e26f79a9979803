"""The rules for order and image ids, shared by every front end and the client."""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError

__all__ = ["MAX_ID_LENGTH", "order_id_problem", "validate_order_id", "validate_image_id"]

MAX_ID_LENGTH = 255


def order_id_problem(order_id: Any) -> str | None:
    """The reason ``order_id`` cannot be a valid id, or None."""
    if not isinstance(order_id, str):
        return f"must be a string, not {type(order_id).__name__}"
    if not order_id.strip():
        return "must not be empty or only whitespace"
    if len(order_id) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters (got {len(order_id)})"
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in order_id):
        return "must not contain control characters"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in order_id):
        return "must not contain lone surrogates"
    if order_id in (".", ".."):
        # A dot segment would be normalised away by URL handling and reach another path.
        return "must not be '.' or '..'"
    return None


def validate_order_id(order_id: Any, field: str = "order_id") -> str:
    """Return ``order_id`` unchanged when it can be a valid id, else raise
    ``ValidationError``. The one rule every front end uses (the form shows its message
    next to the field)."""
    problem = order_id_problem(order_id)
    if problem:
        raise ValidationError(f"Invalid {field}: {problem}", fields={field: [problem]})
    return order_id


def validate_image_id(image_id: Any) -> str:
    """Image ids follow the same rule as order ids."""
    return validate_order_id(image_id, "image_id")
