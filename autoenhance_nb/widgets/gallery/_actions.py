"""What the gallery's buttons do to one image (buy its full size, redo it, report it),
shared by a card's own buttons and the gallery's "selected" buttons; and the HTML
pieces a card shows. Each action returns one line to show; errors are raised and shown
as one line by the caller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...display import Markup, html, status_badge, style
from ...errors import one_line
from .._exports import ExportFolder, download_link
from ._cache import data_url

__all__ = ["buy", "redo", "report", "thumb_html", "options_text", "GALLERY_CSS"]

GALLERY_CSS = style(
    ".ae-gallery{color:var(--jp-ui-font-color1,inherit);max-width:100%}"
    ".ae-gallery .ae-cards{display:flex;flex-flow:row wrap;gap:8px;max-width:100%}"
    ".ae-gallery .ae-card{border:1px solid var(--jp-border-color2,#d1d5db);border-radius:4px;"
    "background:var(--jp-layout-color1,transparent);padding:4px;box-sizing:border-box;"
    "min-width:0;max-width:100%}"
    ".ae-gallery .ae-card.ae-selected{border-color:var(--jp-brand-color1,#1d4ed8);"
    "box-shadow:0 0 0 1px var(--jp-brand-color1,#1d4ed8)}"
    ".ae-gallery .ae-thumb-box{flex:1 1 0;min-width:0}"
    ".ae-gallery .ae-thumb-box>.widget-html-content{min-width:0}"
    ".ae-gallery img.ae-thumb{display:block;width:100%;max-width:160px;height:auto;"
    "border-radius:2px}"
    ".ae-gallery .ae-thumb-empty{width:100%;max-width:160px;height:96px;display:flex;"
    "align-items:center;justify-content:center;font-size:11px;"
    "color:var(--jp-ui-font-color2,#6b7280);background:var(--jp-layout-color2,#eef0f3)}"
    ".ae-gallery .ae-caption{font-size:11px;color:var(--jp-ui-font-color2,#6b7280)}"
    ".ae-gallery .ae-card-title{font-weight:600;white-space:nowrap;overflow:hidden;"
    "text-overflow:ellipsis;max-width:100%}"
    ".ae-gallery .ae-card-meta,.ae-gallery .ae-card-message{font-size:11px;"
    "white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:100%}"
    ".ae-gallery .ae-card-meta{color:var(--jp-ui-font-color2,#6b7280)}"
    ".ae-gallery .widget-html-content{max-width:100%}"
    ".ae-gallery a{color:var(--jp-content-link-color,#1d4ed8);text-decoration:underline}"
    ".ae-gallery-static .ae-static-grid{display:flex;flex-wrap:wrap;gap:8px}"
    ".ae-gallery-static figure{margin:0;max-width:330px}"
    ".ae-gallery-static img{max-width:160px;height:auto}"
)


def thumb_html(kind: str, data: bytes | None, note: str = "") -> Markup:
    """One thumbnail with its caption, or a grey box with ``note``."""
    caption = html('<div class="ae-caption">{}</div>', kind)
    if data is None:
        return html('<div class="ae-thumb-empty">{}</div>{}', note, caption)
    return html(
        '<img class="ae-thumb ae-thumb-{}" alt="{}" src="{}">{}',
        kind,
        kind,
        data_url(data),
        caption,
    )


def options_text(options: Any) -> str:
    """The options an image was enhanced with, short: ``enhance_type=warm, privacy``."""
    if isinstance(options, str) and options:
        try:
            options = json.loads(options)
        except ValueError:
            return one_line(options, 120)
    if not isinstance(options, dict) or not options:
        return "API defaults"
    parts = [k if v is True else f"{k}={v}" for k, v in sorted(options.items())]
    return one_line(", ".join(parts), 160)


def title_html(name: str, status: str, brackets: int | None) -> Markup:
    extra = f" · HDR from {brackets} brackets" if brackets else ""
    return html(
        '<div class="ae-card-title" title="{}">{} {}{}</div>',
        one_line(name, 500),
        status_badge(status),
        one_line(name, 60),
        extra,
    )


def buy(tracker: Any, exports: ExportFolder, image_id: str, name: str) -> tuple[str, Path]:
    """Buy the full size into the export folder; (the line to show, the file)."""
    target = exports.target(exports.fresh_name(name or image_id))
    path = tracker.download_image(image_id, target, full_size=True)
    return f"Bought the full size: {path.name}", path


def bought_link(path: Path) -> Markup:
    return download_link(path, path.name, "application/octet-stream")


def redo(tracker: Any, image_id: str, options: dict[str, Any]) -> str:
    tracker.reprocess(image_id, **options)
    return "Redoing with " + options_text(options)


def report(
    tracker: Any, image_id: str, categories: list[str], comment: str | None, score: int | None
) -> str:
    answer = tracker.report(image_id, categories, comment, score)
    message = answer.get("message") if isinstance(answer, dict) else None
    return "Reported: " + one_line(message or ", ".join(categories), 160)


class ReportFields:
    """The report's fields (categories from the spec, a comment, a score 0-5) and its send
    button, for one card or for the selected cards; ``prefix`` names their CSS classes."""

    def __init__(self, label: str, prefix: str, on_send: Any):
        import ipywidgets as w

        from ...rules import REPORT_CATEGORIES
        from .. import auto_layout, field_layout

        self.categories = w.SelectMultiple(
            description="Categories", options=REPORT_CATEGORIES, rows=4, layout=field_layout(320)
        ).add_class(f"{prefix}-categories")
        self.comment = w.Text(description="Comment", layout=field_layout(320)).add_class(
            f"{prefix}-comment"
        )
        self.score = w.Dropdown(
            description="Score",
            options=[("none", None)] + [(str(i), i) for i in range(6)],
            layout=field_layout(200),
        ).add_class(f"{prefix}-score")
        self.send = w.Button(
            description=label, button_style="warning", layout=auto_layout()
        ).add_class(f"{prefix}-now")
        self.send.on_click(lambda _: on_send())
        self.panel = w.VBox([self.categories, self.comment, self.score, self.send]).add_class(
            f"{prefix}-panel"
        )

    def values(self) -> tuple[list[str], str | None, int | None]:
        """(categories, comment or None, score or None) as the fields hold them."""
        return list(self.categories.value), self.comment.value.strip() or None, self.score.value


def editor_options(editor: Any, say: Any) -> dict[str, Any] | None:
    """The options editor's checked options, or None after saying why they are refused
    (a card's Redo and the selected cards' Redo read them the same way)."""
    from ...errors import ValidationError

    try:
        return dict(editor.options)
    except ValidationError as exc:
        say(str(exc), "error")
        return None
