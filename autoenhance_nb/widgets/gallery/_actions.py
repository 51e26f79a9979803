"""What the gallery's buttons do to one image (buy its full size, redo it, report it),
shared by a card's own buttons and the gallery's "selected" buttons, on the gallery's
state; and the HTML pieces a card shows. Each action returns one line to show; errors
are raised and shown as one line by the caller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...display import Markup, html, status_badge, style
from ...errors import one_line
from .._exports import download_link
from ._cache import data_url
from ._state import GalleryState

__all__ = [
    "buy",
    "bought_link",
    "redo",
    "report",
    "thumb_html",
    "title_html",
    "options_text",
    "GALLERY_CSS",
]

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


def buy(state: GalleryState, image_id: str, name: str) -> str:
    """Buy the full size into the gallery's export folder and keep the file for the
    image's card (its link); the line to show."""
    exports = state.exports
    target = exports.target(exports.fresh_name(name or image_id))
    path = state.tracker.download_image(image_id, target, full_size=True)
    state.bought[image_id] = path
    state.changed(image_id)
    return f"Bought the full size: {path.name}"


def bought_link(path: Path) -> Markup:
    return download_link(path, path.name, "application/octet-stream")


def redo(state: GalleryState, image_id: str, options: dict[str, Any]) -> str:
    """Enhance the image again with ``options``; the gallery then expects a new picture."""
    state.tracker.reprocess(image_id, **options)
    state.redone(image_id)
    return "Redoing with " + options_text(options)


def report(
    tracker: Any, image_id: str, categories: list[str], comment: str | None, score: int | None
) -> str:
    answer = tracker.report(image_id, categories, comment, score)
    message = answer.get("message") if isinstance(answer, dict) else None
    return "Reported: " + one_line(message or ", ".join(categories), 160)
