"""The order desk: the form, the table and the gallery as a web page (Voila) for people
who do not write code. ``autoenhance-desk`` (``cli.py``) serves it; ``page.py`` builds
it in each visitor's kernel. Imports nothing heavy, so the command starts fast."""

from __future__ import annotations

from typing import Any

__all__ = ["Desk", "show_desk", "main"]


def main(argv: list[str] | None = None) -> int:
    from .cli import main as run

    return run(argv)


def __getattr__(name: str) -> Any:
    if name in ("Desk", "show_desk"):
        from . import page

        return getattr(page, name)
    raise AttributeError(f"module 'autoenhance_nb.desk' has no attribute {name!r}")
