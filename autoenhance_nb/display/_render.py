"""The order table and the small pieces every surface shares: status and environment
badges, message lines, and the one-line texts the magic and the form both say.

``Table`` is the one renderer of the order table, for the magic, the tracker's
``_repr_html_``, the form and the desk (``render_table``): a snapshot of the rows, the
counts and the environment, shown as HTML or as text. It reads a tracker (or a
DataFrame) once and keeps no reference to it. No state, no HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import one_line
from ._markup import Markup, clean, html, join
from ._styles import ENV_COLOURS, MESSAGE_COLOURS, STATUS_COLOURS, TABLE_CSS

__all__ = [
    "HEADERS",
    "HTML_ROWS",
    "TEXT_ROWS",
    "Table",
    "compact_table",
    "created_line",
    "environment_badge",
    "message_html",
    "orders",
    "refreshed_line",
    "render_table",
    "status_badge",
    "status_line",
]

#: Rows a table shows as HTML; the text form (a terminal) shows fewer.
HTML_ROWS = 50
TEXT_ROWS = 20
_TIMES = ("created_at", "last_updated_at")
#: The table's columns as people read them, in the order they are shown (the DataFrame
#: keeps the API's names and order; each header's tooltip names its column).
HEADERS = {
    "name": "Order",
    "image_count": "Photos",
    "status": "Status",
    "last_updated_at": "Updated (UTC)",
    "created_at": "Created (UTC)",
    "order_id": "Order ID",
    "source": "Made with",
}


def status_badge(status: Any) -> Markup:
    text = str(status)
    colour = STATUS_COLOURS.get(text, "#6d28d9")
    return html(
        '<span class="autoenhance-status autoenhance-badge" style="background:{}">{}</span>',
        colour,
        one_line(text, 40),
    )


def environment_badge(environment: str, *, dev_mode: bool = False) -> Markup:
    label = environment.upper() + (" · dev mode" if dev_mode else "")
    colour = ENV_COLOURS.get(environment, "#6d28d9")
    return html(
        '<span class="autoenhance-env ae-env" style="background:{}">{}</span>', colour, label
    )


def message_html(text: str, kind: str = "info") -> Markup:
    colour = MESSAGE_COLOURS[kind]
    return html('<span class="ae-msg-{}" style="color:{}">{}</span>', kind, colour, text)


def _cell(col: str, value: Any) -> Markup:
    if col == "status":
        return html('<td class="ae-col-{}">{}</td>', col, status_badge(value))
    if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return html('<td class="ae-col-{}"></td>', col)
    if isinstance(value, pd.Timestamp):
        return html('<td class="ae-col-{}">{}</td>', col, value.strftime("%Y-%m-%d %H:%M:%S"))
    text = one_line(value, 120)
    if not isinstance(value, str):
        return html('<td class="ae-col-{}">{}</td>', col, text)
    # a narrow table cuts long text with an ellipsis: the tooltip holds all of it
    return html('<td class="ae-col-{}" title="{}">{}</td>', col, text, text)


@dataclass(frozen=True)
class Table:
    """The order table at one moment: ``repr`` is the status line and the latest rows as
    text, ``_repr_html_`` the badges, counts and rows (the form's and the desk's table).
    ``max_rows=0``: the status alone."""

    environment: str
    host: str
    counts: dict[str, int]
    total: int
    rows: pd.DataFrame = field(repr=False)
    dev_mode: bool = False
    max_rows: int = HTML_ROWS
    badge: bool = True  # False: the page around it shows the environment once already

    @classmethod
    def of(
        cls,
        tracker: Any,
        max_rows: int = HTML_ROWS,
        latest: pd.DataFrame | None = None,
        *,
        badge: bool = True,
    ) -> Table:
        """The tracker's table now (pass ``latest`` when you have ``tracker.latest(n)``)."""
        rows = latest if latest is not None else None
        if rows is None:
            rows = tracker.latest(max_rows) if max_rows > 0 else pd.DataFrame()
        return cls(
            environment=tracker.environment,
            host=tracker.client.host,
            counts=tracker.status_counts(),
            total=len(tracker),
            rows=rows,
            dev_mode=bool(tracker.client.dev_mode),
            max_rows=max_rows,
            badge=badge,
        )

    @property
    def label(self) -> str:
        """``SANDBOX 127.0.0.1:8765`` (`` · dev mode`` added when it is on)."""
        return f"{self.environment.upper()} {self.host}" + (" · dev mode" if self.dev_mode else "")

    def status_line(self) -> str:
        """ "[SANDBOX 127.0.0.1:5000] 3 orders in the table (waiting 3)"."""
        counts = ", ".join(f"{one_line(k, 40)} {v}" for k, v in self.counts.items())
        return f"[{self.label}] {orders(self.total)} in the table" + (
            f" ({counts})" if counts else ""
        )

    def text(self, rows: int = TEXT_ROWS) -> str:
        """The latest rows as text for a terminal: timestamps to the second, no index."""
        frame = self.rows.tail(rows).copy()
        for col in _TIMES:
            if col in frame:
                frame[col] = frame[col].dt.strftime("%Y-%m-%d %H:%M:%S")
        text = clean(frame.to_string(index=False, max_colwidth=40))  # no lone surrogate
        if self.total > len(frame):
            text += f"\n(latest {len(frame)} of {self.total}; -o VAR stores them all)"
        return text

    def html(self) -> Markup:
        """Environment, counts per status, the latest rows in their own sideways-scrolling
        box (so a narrow window never cuts a column off)."""
        where = html(
            "{} {} &middot; ",
            environment_badge(self.environment, dev_mode=self.dev_mode),
            self.host,
        )
        parts = [
            html('<div class="autoenhance-table">{}', TABLE_CSS),
            html("<div>{}<b>{}</b> {}", where if self.badge else "", self.total, _noun(self.total)),
        ]
        parts.extend(html(" &middot; {} {}", status_badge(s), n) for s, n in self.counts.items())
        parts.append(html("</div>"))
        if self.total and self.max_rows > 0:
            parts.append(self._rows_html())
        parts.append(html("</div>"))
        return join(parts)

    def _rows_html(self) -> Markup:
        known = [c for c in HEADERS if c in self.rows.columns]
        columns = known + [c for c in self.rows.columns if c not in HEADERS]
        head = join(
            html('<th class="ae-col-{}" title="{}">{}</th>', c, c, HEADERS.get(c, c))
            for c in columns
        )
        body = join(
            html("<tr>{}</tr>", join(_cell(c, v) for c, v in zip(columns, rec, strict=False)))
            for rec in self.rows[columns].itertuples(index=False)
        )
        note = html("")
        if self.total > self.max_rows:
            note = html(
                "<div><i>Showing the latest {} of {} orders; "
                "<code>.df</code> has them all.</i></div>",
                self.max_rows,
                self.total,
            )
        return html(
            '<div class="autoenhance-scroll"><table class="autoenhance-orders"><thead><tr>{}'
            "</tr></thead><tbody>{}</tbody></table></div>{}",
            head,
            body,
            note,
        )

    def _repr_html_(self) -> str:
        return str(self.html())

    def __repr__(self) -> str:
        if not (self.total and self.max_rows > 0):
            return self.status_line()
        return f"{self.status_line()}\n{self.text()}"


def _noun(n: int) -> str:
    return "order" if n == 1 else "orders"


def render_table(
    tracker: Any,
    max_rows: int = HTML_ROWS,
    latest: pd.DataFrame | None = None,
    *,
    badge: bool = True,
) -> Markup:
    """The table as HTML (``Table.of(tracker).html()``): the magic's, the form's and the
    desk's table look the same (``badge=False`` under a header that shows the
    environment already)."""
    return Table.of(tracker, max_rows, latest, badge=badge).html()


# -- the sentences the magic and the form both say ------------------------------------------
def status_line(tracker: Any) -> str:
    """ "[SANDBOX 127.0.0.1:5000] 3 orders in the table (waiting 3)"."""
    return Table.of(tracker, max_rows=0).status_line()


def created_line(order: dict[str, Any]) -> str:
    """ "Created order 1f2e… 'Kitchen' (waiting)"."""
    return (
        f"Created order {one_line(order.get('order_id'), 64)} "
        f"{one_line(order.get('name') or '')!r} ({one_line(order.get('status'), 40)})"
    )


def refreshed_line(counts: dict[str, int]) -> str:
    return f"Refreshed {orders(counts['updated'])}" + (
        f", {counts['deleted']} deleted on the server" if counts.get("deleted") else ""
    )


def compact_table(tracker: Any, rows: int = TEXT_ROWS) -> str:
    """The latest rows as text for a terminal: timestamps to the second, no index."""
    return Table.of(tracker, max_rows=rows).text(rows)


def orders(n: int) -> str:
    """ "1 order", "3 orders"."""
    return f"{n} order" if n == 1 else f"{n} orders"
