"""The enhancement options as the spec describes them, read at import from the
package's ``spec/autoenhance-v3.openapi.json`` (schema ``ImageIn``): each option's type,
allowed values, nullability, default and range; the report's categories and score; the
download query's parameters."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ._values import did_you_mean, json_problem, text_problem

__all__ = [
    "Option",
    "OPTIONS",
    "LEGACY_OPTIONS",
    "READ_ONLY",
    "NOT_OPTIONS",
    "REPORT_CATEGORIES",
    "REPORT_CATEGORY_LABELS",
    "REPORT_SCORE",
    "DOWNLOAD_PARAMS",
    "DOWNLOAD_FORMATS",
    "load_spec",
    "image_options",
]

SPEC_FILE = "spec/autoenhance-v3.openapi.json"
#: ImageIn fields that are arguments of a call, not enhancement settings
NOT_OPTIONS = ("image_name", "order_id")
_UNSET: Any = object()


def load_spec() -> dict[str, Any]:
    text = resources.files("autoenhance_nb").joinpath(SPEC_FILE).read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


@dataclass(frozen=True)
class Option:
    """One option as the spec describes it."""

    name: str
    type: str  # boolean, string, integer, number or object
    choices: tuple[Any, ...] | None = None  # the enum, without null
    nullable: bool = False
    default: Any = _UNSET
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    title: str = ""  # the words a person reads ("Sky replacement"); the name if none
    labels: tuple[tuple[Any, str], ...] = ()  # (value, label) of the enum, for people
    example: Any = _UNSET

    @property
    def has_default(self) -> bool:
        return self.default is not _UNSET

    @property
    def has_example(self) -> bool:
        return self.example is not _UNSET

    @property
    def label(self) -> str:
        """The option as a person reads it: the spec's ``title``, else its name in words."""
        return self.title or self.name.replace("_", " ").capitalize()

    def label_of(self, value: Any) -> str:
        """A value as a person reads it (``"CLEAR"`` -> ``"Clear sky"``; a dict or list
        as it is)."""
        for known, label in self.labels:
            if type(known) is type(value) and known == value:
                return label
        return str(value)

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None."""
        if value is None:
            return None if self.nullable else "must not be null"
        if self.type == "boolean":
            return None if isinstance(value, bool) else "must be true or false"
        if self.type == "string":
            if not isinstance(value, str):
                return _choices_text(self, "must be a string")
            if self.choices is not None and value not in self.choices:
                return _choices_text(self, "", value)
            return text_problem(value)
        if self.type in ("integer", "number"):
            kinds: tuple[type, ...] = (int,) if self.type == "integer" else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds):
                return f"must be {'a whole number' if self.type == 'integer' else 'a number'}"
            number = float(value) if abs(value) < 1e300 else math.inf  # type: ignore[arg-type]
            low = -math.inf if self.minimum is None else self.minimum
            high = math.inf if self.maximum is None else self.maximum
            if not (math.isfinite(number) and low <= number <= high):
                return f"must be a number from {low:g} to {high:g}"
            return None
        if self.type == "object":
            if not isinstance(value, dict):
                return "must be a JSON object (a dict)"
            return json_problem(value)
        return json_problem(value)


def _choices_text(option: Option, lead: str, value: Any = None) -> str:
    allowed = ", ".join(str(c) for c in option.choices or ())
    text = f"{lead}; use one of {allowed}" if lead else f"use one of {allowed}"
    if isinstance(value, str):
        text += did_you_mean(value, option.choices or ())
    return text.lstrip("; ")


def _option_of(name: str, schema: dict[str, Any]) -> Option:
    variants = schema.get("anyOf") or [schema]
    types = [v.get("type") for v in variants if v.get("type")]
    enum = schema.get("enum")
    return Option(
        name=name,
        type=types[0] if types else "any",
        choices=tuple(v for v in enum if v is not None) if enum else None,
        nullable=bool(
            schema.get("nullable")
            or any(v.get("nullable") for v in variants)
            or (enum and None in enum)
        ),
        default=schema.get("default", _UNSET),
        minimum=schema.get("minimum"),
        maximum=schema.get("maximum"),
        description=schema.get("description", ""),
        title=schema.get("title", ""),
        labels=tuple(
            (int(k) if types[:1] == ["integer"] else k, str(v))
            for k, v in (schema.get("x-enum-labels") or {}).items()
        ),
        example=schema.get("example", _UNSET),
    )


_SPEC = load_spec()
_IMAGE_IN = _SPEC["components"]["schemas"]["ImageIn"]
#: Every enhancement option of ``ImageIn``, in the spec's order.
OPTIONS: dict[str, Option] = {
    name: _option_of(name, schema)
    for name, schema in _IMAGE_IN["properties"].items()
    if name not in NOT_OPTIONS
}
#: Older spellings the API still reads (``contentType`` fixes the upload's type).
LEGACY_OPTIONS: dict[str, Option] = {
    name: _option_of(name, schema)
    for name, schema in _IMAGE_IN.get("x-legacy-properties", {}).items()
}
#: Fields the API owns: a client cannot set them.
READ_ONLY = tuple(_IMAGE_IN.get("x-read-only-fields-ignored", {}).get("fields", ()))
_REPORT = _SPEC["components"]["schemas"]["ReportIn"]["properties"]
REPORT_CATEGORIES: tuple[str, ...] = tuple(_REPORT["categories"]["items"]["enum"])
#: Each category in words, for people ("SKY_REPLACEMENT" -> "Sky replacement").
REPORT_CATEGORY_LABELS: dict[str, str] = {
    c: _REPORT["categories"]["items"].get("x-enum-labels", {}).get(c, c) for c in REPORT_CATEGORIES
}
REPORT_SCORE = _option_of("score", _REPORT["score"])
DOWNLOAD_PARAMS: dict[str, Option] = {
    p["name"]: _option_of(p["name"], p["schema"])
    for p in _SPEC["paths"]["/v3/images/{id}/enhanced"]["get"]["parameters"]
    if p.get("in") == "query"
}
DOWNLOAD_FORMATS: tuple[str, ...] = tuple(DOWNLOAD_PARAMS["format"].choices or ())


def image_options(image: Mapping[str, Any]) -> dict[str, Any]:
    """The enhancement options an API image carries (spec options and unknown extras;
    never the server-owned fields)."""
    skip = {*NOT_OPTIONS, *READ_ONLY, "s3PutObjectUrl", "scene"}
    return {
        k: v
        for k, v in image.items()
        if k in OPTIONS or (k not in skip and k not in _IMAGE_OUT_FIELDS)
    }


_IMAGE_OUT_FIELDS = set(_SPEC["components"]["schemas"]["ImageOut"]["properties"]) | set(
    _SPEC["components"]["schemas"]["ImageOut"].get("x-legacy-properties", {})
)
