"""The cell form of ``%%autoenhance_order``: one order per line, created as one
concurrent batch, never duplicating what a run of the same cell already made."""

from __future__ import annotations

from typing import Any

from .. import errors as E
from ..tracker import NOT_ADOPTED
from ._cells import DERIVED_PREFIX, MagicError, already_made, parse_batch
from ._run import Run

__all__ = ["adopt_own_renamed", "run_batch"]


def run_batch(run: Run, cell: str) -> None:
    """Create the cell's orders (skipping those in the table); a failed line stops the
    cell after the lines saying which and why."""
    tracker = run.tracker
    items, problems = parse_batch(cell, tracker.notebook)
    fresh = [(n, item) for n, item in items if not already_made(tracker, item)]
    skipped = len(items) - len(fresh)
    result = tracker.create_many(
        [item for _, item in fresh],
        workers=run.workers,
        progress=run.progress,
        source="magic",
        # with the journal, only the orders it made are adopted (see Recall)
        adopt_existing=tracker.journal is None,
    )
    line_of = [n for n, _ in fresh]
    adopt_own_renamed(tracker, result)
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
    run.say(summary, "error" if failures else "ok")
    run.failures([f"line {number}: {message}" for number, message in failures])
    if failures:
        reason = f" ({result.stopped})" if result.stopped else " (see above)"
        raise MagicError(
            f"{len(failures)} of {total} lines failed{reason}; fix them "
            f"and run the cell again: created orders are not duplicated"
        )


def adopt_own_renamed(tracker: Any, result: Any) -> None:
    """A line's derived id taken on the server is this line's own order (made by an
    earlier run, renamed since): track it instead of failing. Not an order the journal
    did not make: that one is another notebook's (the failure says so)."""
    kept = []
    for failure in result.failed:
        oid = failure.item.get("order_id") or ""
        if (
            isinstance(failure.error, E.ConflictError)
            and oid.startswith(DERIVED_PREFIX)
            and not getattr(failure.error, NOT_ADOPTED, False)
        ):
            try:
                result.done.append(tracker.track(oid, source="magic"))
                continue
            except E.AutoenhanceError:
                pass
        kept.append(failure)
    result.failed = kept
