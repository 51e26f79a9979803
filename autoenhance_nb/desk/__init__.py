"""The order desk: the form, the table and the gallery as a web page (Voila) for people
who do not write code. ``autoenhance-desk`` (``main``, in ``_cli.py``, with its options
and their checks in ``_settings.py``) serves it; ``show_desk`` (``_page.py``) builds it in
each visitor's kernel; ``_env.py`` names the settings the command hands to the kernels.
Imports nothing heavy (the page's widgets load on first use), so the command starts fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._cli import main
from ._env import DEFAULT_SYNC_LIMIT, ENV_EXPORT_DIR, ENV_SYNC_LIMIT
from ._settings import DeskError, build_parser

if TYPE_CHECKING:
    from ._page import Desk, gallery_class, show_desk

__all__ = [
    "DEFAULT_SYNC_LIMIT",
    "ENV_EXPORT_DIR",
    "ENV_SYNC_LIMIT",
    "Desk",
    "DeskError",
    "build_parser",
    "gallery_class",
    "main",
    "show_desk",
]

_PAGE_NAMES = ("Desk", "gallery_class", "show_desk")


def __getattr__(name: str) -> Any:
    if name in _PAGE_NAMES:
        from . import _page

        return getattr(_page, name)
    raise AttributeError(f"module 'autoenhance_nb.desk' has no attribute {name!r}")
