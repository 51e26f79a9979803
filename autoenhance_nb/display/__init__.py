"""All presentation: HTML built in one place that escapes by default (``_markup``), the
order table, badges, message lines and the sentences every front end shares
(``_render``). No state, no HTTP, no widgets."""

from ._markup import Markup, clean, escape, frame_html, html, join, safe, style
from ._render import (
    HTML_ROWS,
    TABLE_CSS,
    compact_table,
    created_line,
    environment_badge,
    message_html,
    refreshed_line,
    render_table,
    status_badge,
    status_line,
)

__all__ = [
    "HTML_ROWS",
    "TABLE_CSS",
    "Markup",
    "clean",
    "compact_table",
    "created_line",
    "environment_badge",
    "escape",
    "frame_html",
    "html",
    "join",
    "message_html",
    "refreshed_line",
    "render_table",
    "safe",
    "status_badge",
    "status_line",
    "style",
]
