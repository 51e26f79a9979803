"""Request-body checks for the sandbox, in marshmallow's words (the real API is APIFlask).

Each function takes a decoded JSON object and returns ``{field: [messages]}``, empty
when the body is fine; the WSGI layer turns a non-empty result into a 422
ValidationError body. Enumerations are the spec's (``spec/autoenhance-v3.openapi.json``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_ORDER_ID_LENGTH = 255

AI_VERSIONS = [
    "dev",
    "5.x",
    "5.0",
    "4.x",
    "4.7",
    "4.5",
    "4.4",
    "4.3",
    "4.2",
    "4.1",
    "4.0",
    "3.x",
    "3.5",
    "3.4",
    "3.3",
    "3.2",
    "3.1",
    "3.0",
]
#: accepted on input only: the docs' examples send "latest" (answered as 5.x)
AI_VERSION_INPUTS = ["latest", *AI_VERSIONS]
ENHANCE_TYPES = ["property", "property_usa", "warm", "neutral", "modern"]
CLOUD_TYPES = ["CLEAR", "LOW_CLOUD", "HIGH_CLOUD", None]
REPORT_CATEGORIES = [
    "AUTO_PRIVACY",
    "COLOUR",
    "CONTRAST",
    "DOWNLOAD",
    "DYNAMIC_RANGE",
    "EXPOSURE",
    "HDR",
    "IMAGE_QUALITY",
    "ITEM_REMOVAL",
    "LENS_CORRECTION",
    "NO_COMPLAINTS",
    "NOISE",
    "OTHER",
    "PERSPECTIVE_CORRECTION",
    "PROCESSING",
    "SHARPNESS",
    "SKY_REPLACEMENT",
    "WHITE_BALANCE",
    "WINDOW_PULL",
    "PRIVACY",
]
REPORT_SOURCES = ["WEBAPP", "API"]

#: the upload Content-Type a client may name when creating an image (docs samples
#: send ``contentType``, the 2024 JS SDK ``content_type``)
CONTENT_TYPE_KEYS = ("contentType", "content_type")

#: the enhancement options of OrderHDRProcessIn (no image_name, rating, metadata...)
PROCESS_OPTION_KEYS = (
    "ai_version",
    "cloud_type",
    "enhance",
    "enhance_type",
    "lens_correction",
    "privacy",
    "sky_replacement",
    "upscale",
    "vertical_correction",
    "window_pull",
)

MISSING = "Missing data for required field."
UNKNOWN = "Unknown field."
NOT_STRING = "Not a valid string."
NOT_BOOLEAN = "Not a valid boolean."
NOT_MAPPING = "Not a valid mapping type."
NOT_LIST = "Not a valid list."
NOT_INTEGER = "Not a valid integer."

Errors = dict[str, list[str]]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _one_of(choices: list[Any]) -> str:
    return "Must be one of: " + ", ".join(str(c) for c in choices if c is not None) + "."


class _Checker:
    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.errors: Errors = {}

    def check(self, key: str, ok: Callable[[Any], bool], message: str) -> None:
        if key in self.data and key not in self.errors and not ok(self.data[key]):
            self.errors[key] = [message]


def option_errors(data: dict[str, Any], keys: tuple[str, ...] | None = None) -> Errors:
    """Checks the enhancement options (ImageIn's fields; only ``keys`` when given)."""
    c = _Checker({k: v for k, v in data.items() if keys is None or k in keys})
    c.check("ai_version", lambda v: v in AI_VERSION_INPUTS, _one_of(AI_VERSION_INPUTS))
    c.check("enhance_type", lambda v: v in ENHANCE_TYPES, _one_of(ENHANCE_TYPES))
    c.check("cloud_type", lambda v: v in CLOUD_TYPES, _one_of(CLOUD_TYPES))
    for key in (
        "enhance",
        "lens_correction",
        "vertical_correction",
        "sky_replacement",
        "threesixty",
        "upscale",
    ):
        c.check(key, lambda v: isinstance(v, bool), NOT_BOOLEAN)
    for key in ("privacy", "window_pull"):
        c.check(key, lambda v: v is None or isinstance(v, bool), NOT_BOOLEAN)
    c.check(
        "rating",
        lambda v: _is_int(v) and 0 <= v <= 5,
        "Must be greater than or equal to 0 and less than or equal to 5.",
    )
    c.check("metadata", lambda v: isinstance(v, dict), NOT_MAPPING)
    c.check("finetune_settings", lambda v: v is None or isinstance(v, dict), NOT_MAPPING)
    return c.errors


def image_errors(data: dict[str, Any], *, create: bool) -> Errors:
    """ImageIn (``create``) or ImageInUpdate (reprocess); unknown keys are allowed."""
    errors: Errors = {}
    if create and "image_name" not in data:
        errors["image_name"] = [MISSING]
    c = _Checker(data)
    c.check("image_name", lambda v: isinstance(v, str) and v.strip() != "", NOT_STRING)
    c.check(
        "order_id",
        lambda v: isinstance(v, str) and v.strip() != "" and len(v) <= MAX_ORDER_ID_LENGTH,
        "Not a valid order id.",
    )
    for key in CONTENT_TYPE_KEYS:
        c.check(
            key,
            lambda v: isinstance(v, str) and "/" in v and v.strip() == v and " " not in v,
            "Not a valid media type.",
        )
    return {**c.errors, **option_errors(data), **errors}


def report_errors(data: dict[str, Any]) -> Errors:
    """ReportIn: ``categories`` (required list of the enum), ``comment``, ``score``
    0-5, ``source`` WEBAPP|API; other keys are refused (marshmallow's default)."""
    errors: Errors = {
        k: [UNKNOWN] for k in data if k not in ("categories", "comment", "score", "source")
    }
    categories = data.get("categories")
    if "categories" not in data:
        errors["categories"] = [MISSING]
    elif not isinstance(categories, list):
        errors["categories"] = [NOT_LIST]
    else:
        bad = [c for c in categories if c not in REPORT_CATEGORIES]
        if bad:
            errors["categories"] = [f"{bad[0]!r} is not a category. " + _one_of(REPORT_CATEGORIES)]
    c = _Checker(data)
    c.check("comment", lambda v: isinstance(v, str), NOT_STRING)
    c.check(
        "score",
        lambda v: _is_int(v) and 0 <= v <= 5,
        "Must be greater than or equal to 0 and less than or equal to 5.",
    )
    c.check("source", lambda v: v in REPORT_SOURCES, _one_of(REPORT_SOURCES))
    return {**errors, **c.errors}


def bracket_errors(data: dict[str, Any]) -> Errors:
    """BracketIn: ``name`` and ``order_id`` required, ``metadata`` optional; other
    keys are refused."""
    errors: Errors = {k: [UNKNOWN] for k in data if k not in ("name", "order_id", "metadata")}
    for key in ("name", "order_id"):
        if key not in data:
            errors[key] = [MISSING]
    c = _Checker(data)
    c.check("name", lambda v: isinstance(v, str) and v.strip() != "", NOT_STRING)
    c.check("order_id", lambda v: isinstance(v, str) and v.strip() != "", NOT_STRING)
    c.check("metadata", lambda v: isinstance(v, dict), NOT_MAPPING)
    return {**errors, **c.errors}


def process_errors(data: dict[str, Any]) -> Errors:
    """OrderHDRProcessIn: the enhancement options plus either ``images`` (a list of
    ``{"bracket_ids": [...]}``) or ``number_of_brackets_per_image`` (>= 0; 0 or
    omitted means automatic grouping). Other keys are ignored: docs samples send
    image_name/contentType/hdr here (NOTES section 3)."""
    errors = option_errors(data, PROCESS_OPTION_KEYS)
    per_image = data.get("number_of_brackets_per_image")
    if "number_of_brackets_per_image" in data and per_image is not None:
        if not _is_int(per_image):
            errors["number_of_brackets_per_image"] = [NOT_INTEGER]
        elif per_image < 0:
            errors["number_of_brackets_per_image"] = ["Must be greater than or equal to 0."]
    images = data.get("images")
    if "images" in data and images is not None:
        if not isinstance(images, list):
            errors["images"] = [NOT_LIST]
        else:
            problems = [p for n, group in enumerate(images) if (p := _group_problem(n, group))]
            if problems:
                errors["images"] = problems
            elif per_image:
                errors["images"] = ["Give either images or number_of_brackets_per_image, not both."]
    return errors


def _group_problem(number: int, group: Any) -> str | None:
    """What is wrong with one ``{"bracket_ids": [...]}`` of ``images``, if anything."""
    if not isinstance(group, dict):
        return f"Image {number}: {NOT_MAPPING}"
    ids = group.get("bracket_ids")
    if "bracket_ids" not in group:
        return f"Image {number}: bracket_ids: {MISSING}"
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return f"Image {number}: bracket_ids must be a list of strings."
    if set(group) - {"bracket_ids"}:
        return f"Image {number}: {UNKNOWN}"
    return None
