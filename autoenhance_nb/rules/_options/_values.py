"""What a value may be: plain JSON of a sane size, text without NUL, and the
"did you mean" hint for a misspelt choice."""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

from ...errors import one_line

__all__ = ["did_you_mean", "json_problem", "text_problem"]

MAX_TEXT = 2000  # characters in any string value
MAX_JSON = 16_000  # characters of a nested value as JSON
MAX_DEPTH = 5
MAX_ITEMS = 100


def did_you_mean(value: str, choices: Any) -> str:
    words = [str(c) for c in choices if c is not None]
    folded = {w.lower(): w for w in words}
    if value.lower() in folded:
        return f" (did you mean {folded[value.lower()]!r}?)"
    close = difflib.get_close_matches(value, words, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def text_problem(value: str) -> str | None:
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
        return text_problem(value)
    if isinstance(value, (list, tuple, dict)):
        return _container_problem(value, depth)
    return f"is a {type(value).__name__}, not JSON (use text, numbers, true/false, lists, dicts)"


def _container_problem(
    value: list[Any] | tuple[Any, ...] | dict[Any, Any], depth: int
) -> str | None:
    """Why a list, tuple or dict is not plain JSON of a sane size, or None."""
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
