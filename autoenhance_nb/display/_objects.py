"""Display objects, as JupySQL's ``display.py``: each has ``_repr_html_`` and a plain
``repr``, so IPython picks the right form for Lab, Notebook, a terminal, nbconvert,
papermill or Voila; nothing here asks which front end is running.

A magic cell returns one ``Summary`` (its messages, then the order table), shown once
by the cell's result; ``SummaryFrame`` is the same for a command whose result is the
whole table as a DataFrame (``df = %autoenhance_order --list``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._markup import Markup, clean, frame_html, html, join
from ._render import Table, message_html
from ._styles import TABLE_CSS

__all__ = ["Frame", "Message", "Summary", "SummaryFrame"]

_INDENT = "  "


class Message:
    """One line: ``Message("Created order …", "ok")``; kinds ``info``, ``ok``, ``warn``,
    ``error``. ``indent``: a detail of the line above (a failed photo, a warning)."""

    def __init__(self, text: str, kind: str = "info", *, indent: bool = False):
        self.text = clean(text)
        self.kind = kind
        self.indent = indent

    def html(self) -> Markup:
        margin = "1.5em" if self.indent else "0"
        return html(
            '<div class="autoenhance-message" style="margin-left:{}">{}</div>',
            margin,
            message_html(self.text, self.kind),
        )

    def _repr_html_(self) -> str:
        return str(html('<div class="autoenhance-table">{}{}</div>', TABLE_CSS, self.html()))

    def __repr__(self) -> str:
        return (_INDENT if self.indent else "") + self.text


class Frame:
    """A small DataFrame shown without its index (a bracket grouping): escaped HTML in a
    sideways-scrolling box; as text, ``text_columns`` only (all by default)."""

    def __init__(self, frame: pd.DataFrame, text_columns: list[str] | None = None):
        self.frame = frame
        self.text_columns = text_columns

    def html(self) -> Markup:
        return html('<div class="autoenhance-scroll">{}</div>', frame_html(self.frame))

    def _repr_html_(self) -> str:
        return str(html('<div class="autoenhance-table">{}{}</div>', TABLE_CSS, self.html()))

    def __repr__(self) -> str:
        frame = self.frame if self.text_columns is None else self.frame[self.text_columns]
        return clean(frame.to_string(index=False, max_colwidth=120))


class Summary:
    """What one magic cell did: its lines (``Message`` and ``Frame`` parts, in order),
    then the order table (``Table``) if there is one. Shown once, as the cell's result."""

    def __init__(self, parts: list[Any] | None = None, table: Table | None = None):
        self.parts: list[Any] = list(parts or [])
        self.table = table

    def add(self, part: Any) -> None:
        """Append a ``Message`` or a ``Frame`` (anything with ``html()`` and ``repr``)."""
        self.parts.append(part)

    def say(self, text: str, kind: str = "info", *, indent: bool = False) -> None:
        self.add(Message(text, kind, indent=indent))

    def __bool__(self) -> bool:
        return bool(self.parts) or self.table is not None

    def html(self) -> Markup:
        lines = join(p.html() for p in self.parts)
        if self.table is None:
            return html('<div class="autoenhance-table">{}{}</div>', TABLE_CSS, lines)
        # the table brings the stylesheet
        return html('<div class="autoenhance-table">{}</div>{}', lines, self.table.html())

    def _repr_html_(self) -> str:
        return str(self.html())

    def __repr__(self) -> str:
        shown = [repr(p) for p in self.parts]
        if self.table is not None:
            shown.append(repr(self.table))
        return "\n".join(shown)


class SummaryFrame(pd.DataFrame):
    """The whole order table as a DataFrame (``df = %autoenhance_order --list``) that
    shows itself as its cell's ``Summary``: the tidy table, not pandas' own. Anything
    derived from it (``df.head()``, a filter) is a plain DataFrame; ``print(df)`` is
    pandas' text."""

    _metadata = ["summary"]

    def __init__(self, data: Any = None, *args: Any, summary: Summary | None = None, **kw: Any):
        super().__init__(data, *args, **kw)
        self.summary = summary if summary is not None else Summary()

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self.summary))
