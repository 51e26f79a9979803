"""The order commands of ``%autoenhance_order``: create one order (with its photos or
brackets), ``--sync``, ``--refresh``, ``--watch`` and ``--export``. Plain functions over
a ``Run``: each calls the tracker and says one line."""

from __future__ import annotations

import json
import os
from typing import Any

from .. import errors as E
from ..display import created_line, orders, refreshed_line
from ..errors import one_line
from ._brackets import run_brackets
from ._cells import MagicError, derived_order_id
from ._line import Line
from ._photos import upload
from ._run import Run

__all__ = ["create", "export", "refresh", "sync", "watch"]


def create(run: Run, line: Line) -> None:
    """The line's new order, then its ``--images`` or its ``--brackets``."""
    args = line.args
    if args.order_id is None and (line.photos or line.brackets is not None):
        order = _paid_line_order(run, line)
    else:
        order = run.tracker.create(
            name=args.name, order_id=args.order_id, source="magic", resume=True
        )
        run.say(created_line(order), "ok")
    if line.photos:
        upload(run, order["order_id"], line.photos, line.options)
    if line.brackets is not None:
        run_brackets(
            run.tracker,
            order["order_id"],
            "",
            "",
            checked=line.brackets,
            options=line.options,
            workers=run.upload_workers,
            progress=run.progress,
            sink=run.summary.add,
        )


def _paid_line_order(run: Run, line: Line) -> dict[str, Any]:
    """The order of a line that sends photos (each one paid for) without an order_id.
    With the journal, its id is derived like a cell line's, from the notebook, the name
    and the line's ``--images``/``--brackets`` globs (as absolute paths): the same line
    run again (after a crash, a stop or a failed photo, in this kernel or a fresh one)
    finds its order and sends only the photos it lacks, never a second order. Another
    notebook, name or glob: a new order. Without the journal nothing would know which
    photos the order holds: a new order each run, as before."""
    tracker, args = run.tracker, line.args
    journal = tracker.journal
    if journal is None:
        order = tracker.create(name=args.name, source="magic", resume=True)
        run.say(created_line(order), "ok")
        return order
    grouping, pattern = args.brackets or (None, None)
    globs = {"images": _absolute(args.images), "brackets": [grouping, _absolute(pattern)]}
    order_id = derived_order_id(args.name, 0, tracker.notebook, json.dumps(globs))
    if tracker.row(order_id) is not None or journal.made(tracker.client.account, [order_id]):
        try:
            order = tracker.track(order_id, source="magic")
        except E.NotFoundError:
            pass  # deleted on the account (or never made): made again below
        else:
            run.say(
                f"Order {one_line(order_id, 64)} {one_line(order.get('name') or '')!r} was "
                f"made by an earlier run of this line: sending only what it lacks "
                f"(--order-id or another name for a new order)",
                "ok",
            )
            return order
    result = tracker.create_many(
        [{"name": args.name, "order_id": order_id}], progress=False, source="magic"
    )
    if result.failed:  # e.g. the id taken by an order this journal did not make
        raise MagicError(result.failed[0].message)
    order = result.done[0]
    run.say(created_line(order), "ok")
    return dict(order)


def _absolute(pattern: str | None) -> str | None:
    return None if pattern is None else os.path.abspath(os.path.expanduser(pattern))


def sync(run: Run) -> None:
    run.say(f"Synced {orders(run.tracker.sync())} from the account")


def refresh(run: Run) -> None:
    run.say(refreshed_line(run.tracker.refresh(workers=run.workers)))


def watch(run: Run) -> None:
    run.tracker.watch(interval=run.watch_interval, progress=run.progress)
    run.say("Done: no order is processing", "ok")


def export(run: Run, path: str) -> None:
    written = run.tracker.to_csv(os.path.expanduser(path))
    run.say(f"Exported {orders(len(run.tracker))} to {written}", "ok")
