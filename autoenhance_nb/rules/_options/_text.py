"""A magic's ``KEY=VALUE`` text (``--option``, ``%config``) read into an option value."""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import ValidationError, one_line
from ._spec import LEGACY_OPTIONS, OPTIONS

__all__ = ["parse_option", "parse_assignment"]


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
