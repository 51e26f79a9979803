"""All presentation: display objects (``Message``, ``Table``, ``Frame``, ``Summary``,
``SummaryFrame``), each with ``_repr_html_`` and a plain ``repr`` so every front end gets
the right form; HTML built in one place that escapes by default (``_markup``); the
order table's one renderer and the sentences every surface shares (``_render``); every
stylesheet of the package (``_styles``). No state, no HTTP, no widgets, no IPython.

    from autoenhance_nb.display import Message
    Message("Created order kitchen-12", "ok")   # a cell's last expression
"""

from ._markup import Markup, clean, escape, frame_html, html, join, safe, style
from ._objects import Frame, Message, Summary, SummaryFrame
from ._render import (
    HEADERS,
    HTML_ROWS,
    TEXT_ROWS,
    Table,
    compact_table,
    created_line,
    environment_badge,
    message_html,
    orders,
    refreshed_line,
    render_table,
    status_badge,
    status_line,
)
from ._styles import FORM_CSS, GALLERY_CSS, TABLE_CSS

__all__ = [
    "FORM_CSS",
    "GALLERY_CSS",
    "HEADERS",
    "HTML_ROWS",
    "TABLE_CSS",
    "TEXT_ROWS",
    "Frame",
    "Markup",
    "Message",
    "Summary",
    "SummaryFrame",
    "Table",
    "clean",
    "compact_table",
    "created_line",
    "environment_badge",
    "escape",
    "frame_html",
    "html",
    "join",
    "message_html",
    "orders",
    "refreshed_line",
    "render_table",
    "safe",
    "status_badge",
    "status_line",
    "style",
]
