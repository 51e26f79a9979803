"""The thin dispatcher of ``%autoenhance_order``: a checked ``Line`` (and the cell's
body) becomes the list of commands to run, in order, and the cell's result to show.
Each command is a plain function over a ``Run`` in its family's module: ``_orders``,
``_photos``, ``_batch``, ``_brackets``, ``_gallery``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..display import HTML_ROWS, Summary, SummaryFrame, Table
from . import _orders, _photos
from ._batch import run_batch
from ._brackets import run_brackets
from ._gallery import show_gallery
from ._line import Line
from ._run import Run

__all__ = ["Command", "commands", "dry_run", "result"]

Command = Callable[[Run], None]


def commands(line: Line, cell: str | None) -> list[Command]:
    """The commands a line asks for, in the order they run."""
    args = line.args
    steps: list[Command] = []
    if cell is not None:
        steps.append(partial(run_batch, cell=cell))
    elif line.creates:
        steps.append(partial(_orders.create, line=line))
    if args.add_images:
        steps.append(
            partial(
                _photos.upload,
                order_id=args.add_images[0],
                files=line.extra or [],
                options=line.options,
            )
        )
    if args.reprocess:
        steps.append(partial(_photos.reprocess, image_id=args.reprocess, options=line.options))
    if args.report:
        steps.append(partial(_photos.report, image_id=args.report, args=args))
    for flag, command in (
        ("sync", _orders.sync),
        ("refresh", _orders.refresh),
        ("watch", _orders.watch),
    ):
        if getattr(args, flag):
            steps.append(command)
    if args.download:
        order_id, folder = args.download
        steps.append(partial(_photos.download, order_id=order_id, folder=folder, args=args))
    if args.export:
        steps.append(partial(_orders.export, path=args.export))
    if args.gallery:
        steps.append(partial(_gallery, order_id=args.gallery))
    return steps


def _gallery(run: Run, order_id: str) -> None:
    show_gallery(run.tracker, order_id)  # a widget: displayed at once, above the summary


def dry_run(line: Line) -> Summary:
    """``--brackets … --dry-run``: the grouping and nothing sent (no session needed)."""
    summary = Summary()
    run_brackets(None, None, "", "", dry_run=True, checked=line.brackets, sink=summary.add)
    return summary


def result(line: Line, run: Run) -> Any:
    """The cell's one result: the whole table as a DataFrame shown as its summary
    (``--list``, ``--refresh``, ``--sync``, ``--watch``), the summary with the status
    alone (flags whose own line says what happened), or with the latest rows."""
    if line.wants_table:
        run.summary.table = Table.of(run.tracker)
        return SummaryFrame(run.tracker.df, summary=run.summary)
    run.summary.table = Table.of(run.tracker, max_rows=0 if line.quiet else HTML_ROWS)
    return run.summary
