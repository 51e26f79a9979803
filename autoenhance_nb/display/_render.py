"""All presentation: the order table as HTML, status and environment badges, message
lines, and the one-line texts the magic and the form both say. Shared by the tracker's
``_repr_html_``, the magic and the widgets; no state and no HTTP here.

Colours come from JupyterLab's CSS variables (with fallbacks for Notebook, Voila and
static HTML), so light, dark and high-contrast themes all work.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import one_line
from ._markup import Markup, clean, html, join, style

__all__ = [
    "render_table",
    "status_badge",
    "environment_badge",
    "message_html",
    "status_line",
    "created_line",
    "HTML_ROWS",
    "TABLE_CSS",
]

HTML_ROWS = 50

# Status colours are saturated enough for white text on light and dark themes alike.
STATUS_COLOURS = {
    "waiting": "#4b5563",
    "processing": "#1d4ed8",
    "processed": "#15803d",
    "error": "#b91c1c",
    "deleted": "#6b7280",
    "expired": "#6b7280",
}
ENV_COLOURS = {"sandbox": "#b45309", "live": "#15803d"}
MESSAGE_COLOURS = {
    "ok": "var(--jp-success-color1, #15803d)",
    "error": "var(--jp-error-color1, #b91c1c)",
    "info": "var(--jp-ui-font-color1, inherit)",
}

TABLE_CSS = style(
    ".autoenhance-table{color:var(--jp-ui-font-color1,inherit);max-width:100%}"
    ".autoenhance-scroll{overflow-x:auto;max-width:100%}"
    ".autoenhance-orders{border-collapse:collapse;margin-top:4px;font-size:12px;"
    "color:var(--jp-ui-font-color1,inherit)}"
    ".autoenhance-orders th,.autoenhance-orders td{border-bottom:1px solid "
    "var(--jp-border-color2,#d1d5db);padding:2px 8px;text-align:left;white-space:nowrap;"
    "max-width:320px;overflow:hidden;text-overflow:ellipsis}"
    ".autoenhance-orders th{background:var(--jp-layout-color2,#eef0f3);"
    "color:var(--jp-ui-font-color1,#111827);font-weight:600}"
    ".autoenhance-badge{color:#fff;padding:1px 6px;border-radius:8px;white-space:nowrap}"
    ".autoenhance-env{color:#fff;padding:1px 6px;border-radius:3px;font-weight:bold}"
    ".autoenhance-table a,.ae-download a{color:var(--jp-content-link-color,#1d4ed8);"
    "text-decoration:underline}"
)


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
        return html("<td>{}</td>", status_badge(value))
    if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return html("<td></td>")
    if isinstance(value, pd.Timestamp):
        return html("<td>{}</td>", value.strftime("%Y-%m-%d %H:%M:%S"))
    return html("<td>{}</td>", one_line(value, 120))


def render_table(
    tracker: Any, max_rows: int = HTML_ROWS, latest: pd.DataFrame | None = None
) -> Markup:
    """The table as HTML: environment, counts per status, the latest rows (pass
    ``latest`` when you already have ``tracker.latest(max_rows)``). The rows sit in
    their own sideways-scrolling box, so a narrow window never cuts a column off."""
    counts = tracker.status_counts()
    total = len(tracker)
    parts = [
        html('<div class="autoenhance-table">{}', TABLE_CSS),
        html(
            "<div>{} {} &middot; <b>{}</b> {}",
            environment_badge(tracker.environment, dev_mode=tracker.client.dev_mode),
            tracker.client.host,
            total,
            "order" if total == 1 else "orders",
        ),
    ]
    for status, n in counts.items():
        parts.append(html(" &middot; {} {}", status_badge(status), n))
    parts.append(html("</div>"))
    if total:
        frame = latest if latest is not None else tracker.latest(max_rows)
        parts.append(
            html('<div class="autoenhance-scroll"><table class="autoenhance-orders"><thead><tr>')
        )
        columns = list(frame.columns)
        parts.extend(html("<th>{}</th>", c) for c in columns)
        parts.append(html("</tr></thead><tbody>"))
        for rec in frame.itertuples(index=False):
            cells = join(_cell(c, v) for c, v in zip(columns, rec, strict=False))
            parts.append(html("<tr>{}</tr>", cells))
        parts.append(html("</tbody></table></div>"))
        if total > max_rows:
            parts.append(
                html(
                    "<div><i>Showing the latest {} of {} orders; "
                    "<code>.df</code> has them all.</i></div>",
                    max_rows,
                    total,
                )
            )
    parts.append(html("</div>"))
    return join(parts)


# -- the sentences the magic and the form both say ------------------------------------------
def status_line(tracker: Any) -> str:
    """ "[SANDBOX 127.0.0.1:5000] 3 orders in the table (waiting 3)"."""
    counts = ", ".join(f"{one_line(k, 40)} {v}" for k, v in tracker.status_counts().items())
    return f"[{tracker.environment_label}] {orders(len(tracker))} in the table" + (
        f" ({counts})" if counts else ""
    )


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


def compact_table(tracker: Any, rows: int = 20) -> str:
    """The latest rows as text for a terminal: timestamps to the second, no index."""
    frame = tracker.latest(rows)
    for col in ("created_at", "last_updated_at"):
        frame[col] = frame[col].dt.strftime("%Y-%m-%d %H:%M:%S")
    text = clean(frame.to_string(index=False, max_colwidth=40))  # no lone surrogate
    if len(tracker) > rows:
        text += f"\n(latest {rows} of {len(tracker)}; -o VAR stores them all)"
    return text


def orders(n: int) -> str:
    """ "1 order", "3 orders"."""
    return f"{n} order" if n == 1 else f"{n} orders"
