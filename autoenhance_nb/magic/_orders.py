"""The order commands of ``%autoenhance_order``: create one order (with its photos or
brackets), ``--sync``, ``--refresh``, ``--watch`` and ``--export``. Plain functions over
a ``Run``: each calls the tracker and says one line."""

from __future__ import annotations

import os

from ..display import created_line, orders, refreshed_line
from ._brackets import run_brackets
from ._line import Line
from ._photos import upload
from ._run import Run

__all__ = ["create", "export", "refresh", "sync", "watch"]


def create(run: Run, line: Line) -> None:
    """The line's new order, then its ``--images`` or its ``--brackets``."""
    args = line.args
    order = run.tracker.create(name=args.name, order_id=args.order_id, source="magic", resume=True)
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
