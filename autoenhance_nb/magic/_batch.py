"""The cell form of ``%%autoenhance_order``: one order per line, created as one
concurrent batch (a mixin of ``AutoenhanceMagics``; the magic's settings are its own)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors as E
from ._cells import DERIVED_PREFIX, MagicError, already_made, parse_batch
from ._photos import MAX_FAILURE_LINES

__all__ = ["BatchCell"]


class BatchCell:
    """``_run_batch``: create a cell's orders, never duplicating what exists."""

    workers: int
    progress: bool

    if TYPE_CHECKING:  # the magic's own helper

        def _store(self, var: str | None, tracker: Any) -> None: ...

    def _run_batch(self, tracker: Any, cell: str, out: str | None) -> None:
        items, problems = parse_batch(cell)
        fresh = [(n, item) for n, item in items if not already_made(tracker, item)]
        skipped = len(items) - len(fresh)
        result = tracker.create_many(
            [item for _, item in fresh],
            workers=self.workers,
            progress=self.progress,
            source="magic",
            adopt_existing=True,
        )
        line_of = [n for n, _ in fresh]
        self._adopt_own_renamed(tracker, result)
        failures = sorted(
            [(n, p) for n, p in problems] + [(line_of[f.index], f.message) for f in result.failed]
        )
        total = len(items) + len(problems)
        summary = f"created {len(result.created)} of {total}"
        if skipped:
            summary += f" ({skipped} already in the table)"
        summary += f", {len(failures)} failed"
        if result.stopped:
            summary += f"; stopped: {result.stopped}"
        print(summary)
        for number, message in failures[:MAX_FAILURE_LINES]:
            print(f"  line {number}: {message}")
        if len(failures) > MAX_FAILURE_LINES:
            print(f"  … and {len(failures) - MAX_FAILURE_LINES} more")
        if failures:
            self._store(out, tracker)
            reason = f" ({result.stopped})" if result.stopped else " (see above)"
            raise MagicError(
                f"{len(failures)} of {total} lines failed{reason}; fix them "
                f"and run the cell again: created orders are not duplicated"
            )

    @staticmethod
    def _adopt_own_renamed(tracker: Any, result: Any) -> None:
        """A line's derived id taken on the server is this line's own order (made by an
        earlier run, renamed since): track it instead of failing."""
        kept = []
        for failure in result.failed:
            oid = failure.item.get("order_id") or ""
            if isinstance(failure.error, E.ConflictError) and oid.startswith(DERIVED_PREFIX):
                try:
                    result.done.append(tracker.track(oid, source="magic"))
                    continue
                except E.AutoenhanceError:
                    pass
            kept.append(failure)
        result.failed = kept
