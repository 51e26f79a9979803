"""The one place HTML is built. Every value is escaped unless it is already ``Markup``:
``html("<b>{}</b>", name)`` escapes ``name`` (markupsafe's ``Markup.format``, as Jinja
does), ``join(parts)`` escapes every part that is not ``Markup``. A string that came from
the API or a person is data and never markup; only this package's own constants are
marked safe (``safe(...)``), and only where they are defined.

Lone surrogates (half of a UTF-16 pair, which JSON from another client can carry) are
replaced with U+FFFD on the way in, so no page, widget state or message fails to encode.
Imports no widgets, so the tracker may use it for ``_repr_html_``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup
from markupsafe import escape as _escape

__all__ = ["clean", "escape", "frame_html", "html", "join", "safe", "style"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: Any) -> str:
    """``str(text)`` with lone surrogates replaced by U+FFFD (encodable as UTF-8)."""
    s = str(text)
    return _SURROGATE.sub("\ufffd", s) if _SURROGATE.search(s) else s


def escape(value: Any) -> Markup:
    """``value`` as markup: ``Markup`` kept, anything else escaped (``&<>"'``)."""
    if isinstance(value, Markup):
        return value
    return _escape(clean(value))


def _arg(value: Any) -> Any:
    # numbers keep their format specs ("{:.1f}"); text is cleaned, then escaped by format
    if isinstance(value, Markup) or isinstance(value, int | float):
        return value
    return clean(value)


def html(template: str, *args: Any, **kwargs: Any) -> Markup:
    """``template`` (this package's own markup, a literal) with every argument escaped:
    ``html('<a title="{}">{}</a>', name, name)``."""
    return Markup(template).format(*map(_arg, args), **{k: _arg(v) for k, v in kwargs.items()})


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    """The parts one after another; parts that are not ``Markup`` are escaped."""
    return Markup(sep).join(escape(p) for p in parts)


def safe(text: str) -> Markup:
    """Mark one of the package's own constants (never data) as markup."""
    return Markup(text)


def style(css: str) -> Markup:
    """A ``<style>`` element for one of the package's own stylesheets."""
    if "</" in css:
        raise ValueError("a stylesheet may not close its element")
    return Markup("<style>") + Markup(css) + Markup("</style>")


def frame_html(frame: Any) -> Markup:
    """A DataFrame as an HTML table without its index; pandas escapes every cell
    (``escape=True``, said here so it stays so)."""
    return Markup(clean(frame.to_html(index=False, escape=True)))
