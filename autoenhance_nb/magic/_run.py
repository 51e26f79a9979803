"""What one ``%autoenhance_order`` cell works with: the session's tracker, the magic's
settings, and the ``Summary`` every command adds its lines to. The command functions
(``_orders``, ``_photos``, ``_batch``, ``_brackets``) take it as their first argument,
so they need neither the magic nor IPython."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..display import Summary

__all__ = ["MAX_FAILURE_LINES", "Run"]

#: How many failure lines a command shows before summing up the rest.
MAX_FAILURE_LINES = 20


@dataclass
class Run:
    """One cell's work. ``summary`` is shown once, as the cell's result (or printed
    before the one-line error when a command fails)."""

    tracker: Any
    summary: Summary = field(default_factory=Summary)
    workers: int = 8
    upload_workers: int = 4
    progress: bool = True
    watch_interval: float = 5.0

    def say(self, text: str, kind: str = "info") -> None:
        self.summary.say(text, kind)

    def failures(self, lines: list[str]) -> None:
        """The first ``MAX_FAILURE_LINES`` failures under the line that counted them."""
        for text in lines[:MAX_FAILURE_LINES]:
            self.summary.say(text, "error", indent=True)
        if len(lines) > MAX_FAILURE_LINES:
            self.summary.say(f"… and {len(lines) - MAX_FAILURE_LINES} more", "error", indent=True)
