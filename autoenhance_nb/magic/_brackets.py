"""The ``--brackets auto|N GLOB`` and ``--dry-run`` part of ``%autoenhance_order``: a
command function over the tracker; its lines go to the cell's ``Summary``.

    %autoenhance_order Loft --brackets auto "shoot/*.jpg" --dry-run   # the grouping only
    %autoenhance_order Loft --brackets auto "shoot/*.jpg"             # create, upload, merge
    %autoenhance_order --add-brackets ORDER_ID 5 "more/*.jpg"          # into an existing order

``check_brackets`` runs with the other argument checks, before any request: the mode
(``auto`` or a whole number of 2 or more), the glob (it must match), and every file
(readable images; the grouping is made here). ``run_brackets`` shows the grouping (a
``Message`` and a ``Frame``: a table in a notebook, text in a terminal), then (unless a
dry run) uploads and processes with ``tracker.add_brackets``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import errors as E
from ..display import Frame, Message
from ..errors import one_line
from ..rules.brackets import Grouping, plan_brackets
from ..tracker import BracketsResult
from ._cells import MagicError, match_files
from ._run import MAX_FAILURE_LINES

__all__ = ["BRACKETS_HELP", "DRY_RUN_HELP", "check_brackets", "grouping_parts", "run_brackets"]

BRACKETS_HELP = (
    'HDR brackets to upload, grouped "auto" (from EXIF) or N per image, e.g. '
    '--brackets auto "shoot/*.jpg"; merged and enhanced after the upload.'
)
DRY_RUN_HELP = "With --brackets: show how the files would be grouped; send nothing."
#: The grouping's columns shown as text (the HTML table has them all).
TEXT_COLUMNS = ["group", "brackets", "files", "exposures", "status"]


def check_brackets(mode: str, pattern: str) -> tuple[int | str, list[str], Grouping]:
    """``(per_image, files, grouping)`` for ``--brackets MODE GLOB``; a one-line
    ``MagicError`` for a bad mode, a glob matching nothing, or a file that is not a
    readable image. Sends nothing."""
    text = str(mode).strip().lower()
    if text != "auto" and not (text.isdigit() and int(text) >= 2):
        raise MagicError(
            f"--brackets takes 'auto' or a number of brackets per image (2 or more), "
            f"not {one_line(mode)!r}"
        )
    per_image: int | str = "auto" if text == "auto" else int(text)
    files = match_files(pattern)
    try:
        grouping = plan_brackets(files, per_image)
    except E.ValidationError as exc:
        raise MagicError(str(exc)) from None
    return per_image, files, grouping


def grouping_parts(grouping: Grouping) -> list[Any]:
    """The grouping as display parts: its summary line, its warnings, its table."""
    parts: list[Any] = [Message(f"Grouping: {grouping.summary()}")]
    parts.extend(Message(f"warning: {w}", "warn", indent=True) for w in grouping.warnings)
    parts.append(Frame(grouping.df, text_columns=TEXT_COLUMNS))
    return parts


def _print(part: Any) -> None:
    print(repr(part))


def run_brackets(
    tracker: Any,
    order_id: str | None,
    mode: str,
    pattern: str,
    *,
    dry_run: bool = False,
    options: dict[str, Any] | None = None,
    workers: int = 4,
    progress: bool = True,
    checked: tuple[int | str, list[str], Grouping] | None = None,
    sink: Callable[[Any], None] = _print,
) -> BracketsResult:
    """Show the grouping, then (unless ``dry_run``) upload the brackets into
    ``order_id`` and process them. ``checked``: what ``check_brackets`` returned (the
    magic checks before creating the order). Each line goes to ``sink`` (the magic's
    ``Summary.add``; printed by default). A failure ends with a ``MagicError`` after
    the lines saying what failed."""
    per_image, files, grouping = checked or check_brackets(mode, pattern)
    for part in grouping_parts(grouping):
        sink(part)
    if dry_run:
        sink(Message("Dry run: nothing was sent"))
        return BracketsResult(grouping, dry_run=True)
    if order_id is None:
        raise MagicError("--brackets needs an order: give a new order's name or --order-id")
    if not grouping.accepted:
        raise MagicError("No bracket group to merge: see the status column above; nothing sent")
    result = tracker.add_brackets(
        order_id, files, per_image, options=options, workers=workers, progress=progress
    )
    uploads = result.uploads
    failed = uploads.failed if uploads is not None else []
    sink(
        Message(
            f"Brackets for {one_line(order_id)}: {result.summary()}", "error" if failed else "ok"
        )
    )
    for failure in failed[:MAX_FAILURE_LINES]:
        sink(
            Message(
                f"{one_line(failure.item['source'], 120)}: {failure.message}", "error", indent=True
            )
        )
    if failed:
        raise MagicError(
            f"{len(failed)} of {uploads.total if uploads else 0} brackets failed (see above); "
            f"nothing was merged: run the same line again to finish (nothing is sent twice)"
        )
    return result
