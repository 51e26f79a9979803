"""The enhancement options of an image, described by the spec (one source of truth).

``OPTIONS`` is read at import from the package's ``spec/autoenhance-v3.openapi.json``
(schema ``ImageIn``): each option's type, allowed values, nullability, default and
range. Every front end checks options here BEFORE any request:

    check_options({"enhance_type": "warn"})
    # ValidationError: Invalid option enhance_type='warn': use one of property,
    #   property_usa, warm, neutral, modern (did you mean 'warm'?)

Options the spec does not know are passed through with an ``UnknownOptionWarning``
(the API adds options over time), as long as they are plain JSON of a sane size.
Presets are named option sets: ``presets["exterior"]``, ``define_preset(name, **opts)``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import warnings
from collections import UserDict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..errors import ValidationError, one_line

__all__ = [
    "Option",
    "OPTIONS",
    "REPORT_CATEGORIES",
    "DOWNLOAD_FORMATS",
    "UnknownOptionWarning",
    "check_options",
    "check_download_query",
    "check_report",
    "merge_options",
    "presets",
    "define_preset",
    "parse_option",
    "parse_assignment",
]

SPEC_FILE = "spec/autoenhance-v3.openapi.json"
#: ImageIn fields that are arguments of a call, not enhancement settings
NOT_OPTIONS = ("image_name", "order_id")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_TEXT = 2000  # characters in any string value
MAX_JSON = 16_000  # characters of a nested value as JSON
MAX_DEPTH = 5
MAX_ITEMS = 100
_UNSET: Any = object()


class UnknownOptionWarning(UserWarning):
    """An option the spec does not list: sent as it is (the API adds options)."""


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

    @property
    def has_default(self) -> bool:
        return self.default is not _UNSET

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
            return _text_problem(value)
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


def did_you_mean(value: str, choices: Any) -> str:
    words = [str(c) for c in choices if c is not None]
    folded = {w.lower(): w for w in words}
    if value.lower() in folded:
        return f" (did you mean {folded[value.lower()]!r}?)"
    close = difflib.get_close_matches(value, words, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _text_problem(value: str) -> str | None:
    if len(value) > MAX_TEXT:
        return f"is too long ({len(value)} characters; at most {MAX_TEXT})"
    if "\x00" in value:
        return "contains a NUL character"
    return None


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` is not plain JSON of a sane size (depth, items, text), or None."""
    if depth > MAX_DEPTH:
        return f"is nested more than {MAX_DEPTH} levels deep"
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if abs(value) < 2**53 else "holds a number too large for JSON"
    if isinstance(value, float):
        return None if math.isfinite(value) else "holds NaN or infinity, which JSON cannot carry"
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, (list, tuple, dict)):
        if len(value) > MAX_ITEMS:
            return f"holds more than {MAX_ITEMS} items"
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str) or len(key) > 200:
                    return f"has a key that is not a short string: {one_line(repr(key), 40)}"
        for item in value.values() if isinstance(value, dict) else value:
            problem = json_problem(item, depth + 1)
            if problem is not None:
                return problem
        if depth == 0 and len(json.dumps(value)) > MAX_JSON:
            return f"is too big ({MAX_JSON} characters of JSON at most)"
        return None
    return f"is a {type(value).__name__}, not JSON (use text, numbers, true/false, lists, dicts)"


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
REPORT_SCORE = _option_of("score", _REPORT["score"])
DOWNLOAD_PARAMS: dict[str, Option] = {
    p["name"]: _option_of(p["name"], p["schema"])
    for p in _SPEC["paths"]["/v3/images/{id}/enhanced"]["get"]["parameters"]
    if p.get("in") == "query"
}
DOWNLOAD_FORMATS: tuple[str, ...] = tuple(DOWNLOAD_PARAMS["format"].choices or ())


def _refuse(problems: list[tuple[str, str]], what: str) -> ValidationError:
    text = "; ".join(f"{name}: {problem}" for name, problem in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    plural = "s" if len(problems) > 1 else ""
    return ValidationError(
        one_line(f"Invalid {what}{plural} {text}{more}", 400),
        fields={name: [problem] for name, problem in problems},
    )


def _label(name: Any, value: Any) -> str:
    return f"{one_line(name, 64)}={one_line(repr(value), 40)}"


def check_options(options: Any, what: str = "option") -> dict[str, Any]:
    """A checked copy of ``options``; a ``ValidationError`` (one line naming each field
    and its allowed values) when anything is wrong. Unknown names that hold plain JSON
    pass with an ``UnknownOptionWarning``."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValidationError(
            f"Invalid {what}s: expected name=value pairs (a dict), not a {type(options).__name__}"
        )
    problems: list[tuple[str, str]] = []
    unknown: list[str] = []
    for key, value in options.items():
        if not isinstance(key, str) or not NAME.fullmatch(key):
            problems.append((one_line(repr(key), 40), "not an option name"))
        elif key in NOT_OPTIONS:
            problems.append((key, "an argument of the call, not an option"))
        elif key in READ_ONLY:
            problems.append((key, "set by the API, not by a client"))
        else:
            option = OPTIONS.get(key) or LEGACY_OPTIONS.get(key)
            problem = option.problem(value) if option else json_problem(value)
            if problem is not None:
                problems.append((_label(key, value), problem))
            elif option is None:
                unknown.append(key)
    if problems:
        raise _refuse(problems, what)
    for key in unknown:
        warnings.warn(
            f"Unknown option {key!r}: not in the API spec, sent as it is"
            + did_you_mean(key, OPTIONS),
            UnknownOptionWarning,
            stacklevel=3,
        )
    return dict(options)


def check_download_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """The download query (format, quality, max_width, scale, preview, watermark)
    checked against the spec's parameters; values as the API reads them."""
    problems: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    for key, value in query.items():
        param = DOWNLOAD_PARAMS.get(key) if isinstance(key, str) else None
        if param is None:
            allowed = ", ".join(DOWNLOAD_PARAMS)
            problems.append((one_line(repr(key), 40), f"not a download option (use {allowed})"))
            continue
        if value is None:
            continue
        problem = param.problem(value)
        if problem is not None:
            problems.append((_label(key, value), problem))
        out[key] = str(value).lower() if isinstance(value, bool) else value
    if problems:
        raise _refuse(problems, "download option")
    return out


def check_report(categories: Any, comment: Any = None, score: Any = None) -> dict[str, Any]:
    """A ``ReportIn`` body, checked: categories from the spec's list, score 0-5."""
    if isinstance(categories, str):
        categories = [categories]
    problems: list[tuple[str, str]] = []
    if not isinstance(categories, (list, tuple)) or not categories:
        problems.append(("categories", "must be a non-empty list of categories"))
        categories = []
    for c in categories[:MAX_ITEMS]:
        if not isinstance(c, str) or c not in REPORT_CATEGORIES:
            hint = did_you_mean(c.upper(), REPORT_CATEGORIES) if isinstance(c, str) else ""
            allowed = ", ".join(REPORT_CATEGORIES)
            problems.append((_label("category", c), f"use one of {allowed}{hint}"))
    if len(categories) > len(REPORT_CATEGORIES):
        problems.append(("categories", f"holds more than {len(REPORT_CATEGORIES)} items"))
    if comment is not None:
        trouble = _text_problem(comment) if isinstance(comment, str) else "must be text"
        if trouble is not None:
            problems.append(("comment", trouble))
    if score is not None and REPORT_SCORE.problem(score):
        problems.append((_label("score", score), REPORT_SCORE.problem(score) or ""))
    if problems:
        raise _refuse(problems, "report")
    body: dict[str, Any] = {"categories": list(dict.fromkeys(categories))}
    if comment is not None:
        body["comment"] = comment
    if score is not None:
        body["score"] = score
    return body


# -- presets ---------------------------------------------------------------------------
class Presets(UserDict[str, dict[str, Any]]):
    """Named option sets; each checked when defined (``presets["mine"] = {...}``)."""

    def __setitem__(self, name: str, options: Mapping[str, Any]) -> None:
        if not isinstance(name, str) or not re.fullmatch(r"[\w.-]{1,40}", name):
            raise ValidationError(
                f"Invalid preset name {one_line(repr(name), 40)}: use 1-40 letters, "
                f"digits, '_', '.' or '-'"
            )
        super().__setitem__(name, check_options(options, f"option in preset {name!r}"))

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self.data:
            hint = did_you_mean(name, self.data) if isinstance(name, str) else ""
            raise ValidationError(
                f"Unknown preset {one_line(repr(name), 40)}: use one of "
                f"{', '.join(self.data)}{hint}",
                fields={"preset": ["unknown"]},
            )
        return dict(self.data[name])


#: Built-in presets: every value is one the spec lists.
presets = Presets(
    {
        "standard": {
            "enhance_type": "neutral",
            "lens_correction": True,
            "vertical_correction": True,
        },
        "warm": {"enhance_type": "warm"},
        "exterior": {"sky_replacement": True, "cloud_type": "LOW_CLOUD"},
        "interior": {"enhance_type": "neutral", "window_pull": True},
        "privacy": {"privacy": True},
        "panorama": {"threesixty": True},
    }
)


class SessionOptions(UserDict[str, Any]):
    """Options every photo of a session gets unless a call says otherwise
    (``tracker.default_options``); each checked when set."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, check_options({name: value})[name])


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


def define_preset(name: str, **options: Any) -> dict[str, Any]:
    """Add (or replace) a named preset; returns its options."""
    presets[name] = options
    return presets[name]


def merge_options(
    *layers: Mapping[str, Any] | None, preset: str | None = None, what: str = "option"
) -> dict[str, Any]:
    """``layers`` merged left to right (session defaults first, the call's own last),
    with ``preset`` just below the last layer (the call's own); checked."""
    merged: dict[str, Any] = {}
    ordered = list(layers)
    if preset is not None:
        ordered.insert(max(len(ordered) - 1, 0), presets[preset])
    for layer in ordered:
        merged.update(check_options(layer, what) if layer else {})
    return check_options(merged, what) if merged else {}


# -- text (the magic, %config) -----------------------------------------------------------
def parse_option(key: str, text: str) -> Any:
    """A magic's ``KEY=VALUE`` value: text for the spec's string options (``null`` for a
    nullable one); otherwise true/false, null, numbers, or JSON for lists and dicts."""
    option = OPTIONS.get(key) or LEGACY_OPTIONS.get(key)
    low = text.strip().lower()
    if option is not None and option.type == "string":
        return None if option.nullable and low in ("null", "none") else text
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "none"):
        return None
    if re.fullmatch(r"[+-]?\d{1,15}", text.strip()):
        return int(text)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", text.strip()):
        return float(text)
    if text.strip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValidationError(
                f"Invalid option {one_line(key, 64)}: not valid JSON ({exc})"
            ) from None
    return text


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> (key, parsed value)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValidationError(
            f"Invalid --option {one_line(repr(text), 60)}: write KEY=VALUE, e.g. "
            f"--option enhance_type=warm"
        )
    return key, parse_option(key, value)
