"""What the gallery's buttons do to one image (buy its full size, redo it, report it),
shared by a card's own buttons and the gallery's "selected" buttons, on the gallery's
state; and the HTML pieces a card shows. Each action returns one line to show; errors
are raised and shown as one line by the caller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...display import Markup, html, status_badge
from ...errors import one_line
from ...rules import OPTIONS
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
    "options_html",
]


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
    """The options an image was enhanced with, short and in words: ``Enhancement style:
    Warm, Blur faces and plates`` (an option the spec does not know: ``name=value``);
    the tooltip of the card's line names them as the API does."""
    if isinstance(options, str) and options:
        try:
            options = json.loads(options)
        except ValueError:
            return one_line(options, 120)
    if not isinstance(options, dict) or not options:
        return "API defaults"
    parts = []
    for key, value in sorted(options.items()):
        option = OPTIONS.get(key)
        if option is None:
            parts.append(key if value is True else f"{key}={value}")
        elif value is True:
            parts.append(option.label)
        elif value is False:
            parts.append(f"no {option.label[:1].lower()}{option.label[1:]}")
        else:
            parts.append(f"{option.label}: {option.label_of(value)}")
    return one_line(", ".join(parts), 160)


def options_html(options: Any) -> Markup:
    """``options_text`` with the whole line and the API's names as its tooltip."""
    raw = options
    if isinstance(options, str) and options:
        try:
            raw = json.loads(options)
        except ValueError:
            pass
    if isinstance(raw, dict):
        raw = ", ".join(k if v is True else f"{k}={v}" for k, v in sorted(raw.items()))
    words = options_text(options)
    return html('<span title="{}">{}</span>', one_line(f"{words} ({raw or 'none'})", 600), words)


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
