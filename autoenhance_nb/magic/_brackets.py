"""The ``--brackets auto|N GLOB`` and ``--dry-run`` part of ``%autoenhance_order``: a
handler the magic calls, kept apart from ``magics.py``.

    %autoenhance_order Loft --brackets auto "shoot/*.jpg" --dry-run   # the grouping only
    %autoenhance_order Loft --brackets auto "shoot/*.jpg"             # create, upload, merge
    %autoenhance_order --add-brackets ORDER_ID 5 "more/*.jpg"          # into an existing order

``check_brackets`` runs with the other argument checks, before any request: the mode
(``auto`` or a whole number of 2 or more), the glob (it must match), and every file
(readable images; the grouping is made here). ``run_brackets`` shows the grouping, then
(unless a dry run) uploads and processes with ``tracker.add_brackets``.
"""

from __future__ import annotations

from typing import Any

from .. import errors as E
from ..errors import one_line
from ..rules.brackets import Grouping, plan_brackets
from ..tracker import BracketsResult
from ._cells import MagicError, match_files

__all__ = ["check_brackets", "run_brackets", "show_grouping", "BRACKETS_HELP", "DRY_RUN_HELP"]

BRACKETS_HELP = (
    'HDR brackets to upload, grouped "auto" (from EXIF) or N per image, e.g. '
    '--brackets auto "shoot/*.jpg"; merged and enhanced after the upload.'
)
DRY_RUN_HELP = "With --brackets: show how the files would be grouped; send nothing."
#: How many failure lines are printed before summing up the rest.
MAX_FAILURE_LINES = 20


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


def show_grouping(grouping: Grouping) -> None:
    """The grouping, as a table in a notebook (text in a terminal), with its warnings."""
    from IPython import get_ipython
    from IPython.display import display

    print(f"Grouping: {grouping.summary()}")
    for warning in grouping.warnings:
        print(f"  warning: {warning}")
    if getattr(get_ipython(), "kernel", None) is not None:
        display(grouping.df)  # a notebook: an HTML table
    else:
        columns = ["group", "brackets", "files", "exposures", "status"]
        print(grouping.df[columns].to_string(index=False, max_colwidth=120))


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
) -> BracketsResult:
    """Show the grouping, then (unless ``dry_run``) upload the brackets into
    ``order_id`` and process them. ``checked``: what ``check_brackets`` returned (the
    magic checks before creating the order). A failure ends with a ``MagicError`` after
    the lines saying what failed."""
    per_image, files, grouping = checked or check_brackets(mode, pattern)
    show_grouping(grouping)
    if dry_run:
        print("Dry run: nothing was sent")
        return BracketsResult(grouping, dry_run=True)
    if order_id is None:
        raise MagicError("--brackets needs an order: give a new order's name or --order-id")
    if not grouping.accepted:
        raise MagicError("No bracket group to merge: see the status column above; nothing sent")
    result = tracker.add_brackets(
        order_id, files, per_image, options=options, workers=workers, progress=progress
    )
    print(f"Brackets for {one_line(order_id)}: {result.summary()}")
    uploads = result.uploads
    failed = uploads.failed if uploads is not None else []
    for failure in failed[:MAX_FAILURE_LINES]:
        print(f"  {one_line(failure.item['source'], 120)}: {failure.message}")
    if failed:
        raise MagicError(
            f"{len(failed)} of {uploads.total if uploads else 0} brackets failed (see above); "
            f"nothing was merged: run the same line again to finish (nothing is sent twice)"
        )
    return result
