"""Checking options, the download query and a report body against the spec before
any request: one ``ValidationError`` line naming each field and its allowed values."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

from ...errors import ValidationError, one_line
from ._spec import (
    DOWNLOAD_PARAMS,
    LEGACY_OPTIONS,
    NOT_OPTIONS,
    OPTIONS,
    READ_ONLY,
    REPORT_CATEGORIES,
    REPORT_SCORE,
)
from ._values import MAX_ITEMS, did_you_mean, json_problem, text_problem

__all__ = ["UnknownOptionWarning", "check_options", "check_download_query", "check_report"]

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class UnknownOptionWarning(UserWarning):
    """An option the spec does not list: sent as it is (the API adds options)."""


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
        trouble = text_problem(comment) if isinstance(comment, str) else "must be text"
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
