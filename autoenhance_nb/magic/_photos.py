"""The photo commands of ``%autoenhance_order``: enhancement options (``--option
KEY=VALUE``, ``--preset NAME``), uploads, downloads (previews, or ``--full-size``
bought), ``--reprocess`` and ``--report``. Plain functions over a ``Run``; everything is
checked (``check_photo_flags``) before any request.

    %autoenhance_order Loft --images "shoot/*.jpg" --option enhance_type=warm --preset exterior
    %autoenhance_order --download ORDER_ID out/ --full-size --format png
    %autoenhance_order --reprocess IMAGE_ID --option enhance_type=neutral
    %autoenhance_order --report IMAGE_ID --category SKY_REPLACEMENT --score 2 "sky too blue"
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import errors as E
from ..errors import one_line
from ..rules import (
    check_download_query,
    check_report,
    merge_options,
    parse_assignment,
    validate_image_id,
)
from ._cells import MagicError
from ._run import Run

__all__ = ["check_photo_flags", "download", "download_query", "reprocess", "report", "upload"]


def check_photo_flags(args: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """Check the photo flags of a parsed line (before any request) and return the
    enhancement options they ask for: ``defaults`` < ``--preset`` < ``--option``s."""
    takes_options = args.images or args.add_images or args.reprocess
    if (args.options or args.preset) and not takes_options:
        raise MagicError("--option and --preset go with --images, --add-images or --reprocess")
    if (args.full_size or args.format or args.max_width) and not args.download:
        raise MagicError("--full-size, --format and --max-width go with --download")
    if (args.category or args.score is not None) and not args.report:
        raise MagicError("--category and --score go with --report IMAGE_ID")
    with _as_magic_error():
        parsed = dict(parse_assignment(text) for text in args.options or [])
        if args.download:
            check_download_query(download_query(args))
        if args.report:
            validate_image_id(args.report)
            check_report(args.category or [], _comment(args), args.score)
        if args.reprocess:
            validate_image_id(args.reprocess)
            return merge_options(parsed, preset=args.preset)
        return merge_options(defaults, parsed, preset=args.preset)


@contextmanager
def _as_magic_error() -> Iterator[None]:
    try:
        yield
    except E.ValidationError as exc:
        raise MagicError(str(exc)) from None


def download_query(args: Any) -> dict[str, Any]:
    """``--format`` and ``--max-width`` as the API's download query."""
    query: dict[str, Any] = {}
    if args.format:
        query["format"] = args.format
    if args.max_width is not None:
        query["max_width"] = args.max_width
    return query


def _comment(args: Any) -> str | None:
    """With --report, the words after the flags are the comment (set by the magic)."""
    return getattr(args, "comment", None)


def upload(run: Run, order_id: str, files: list[str], options: dict[str, Any]) -> None:
    """``--images`` / ``--add-images``: upload, say how it went; a failure stops the cell."""
    result = run.tracker.add_images(
        order_id, files, workers=run.upload_workers, progress=run.progress, **options
    )
    run.say(
        f"Photos for {one_line(order_id)}: {result.summary()}", "error" if result.failed else "ok"
    )
    run.failures([f"{one_line(f.item['source'], 120)}: {f.message}" for f in result.failed])
    if result.failed:
        raise MagicError(
            f"{len(result.failed)} of {result.total} photos failed (see "
            f"above); the others were uploaded"
        )


def download(run: Run, order_id: str, folder: str, args: Any) -> None:
    """``--download ORDER_ID FOLDER`` (previews, or ``--full-size`` bought)."""
    result = run.tracker.download(
        order_id, folder, full_size=args.full_size, **download_query(args)
    )
    what = "full size, bought" if args.full_size else "previews"
    run.say(
        f"Saved {len(result.saved)} images to "
        f"{os.path.abspath(os.path.expanduser(folder))} ({what})"
        + (f"; {len(result.skipped)} not processed yet" if result.skipped else ""),
        "error" if result.failed else "ok",
    )
    run.failures([f"{f.item['image']}: {f.message}" for f in result.failed])
    if result.failed:
        raise MagicError(f"{len(result.failed)} downloads failed (see above)")


def reprocess(run: Run, image_id: str, options: dict[str, Any]) -> None:
    image = run.tracker.reprocess(image_id, **options)
    shown = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "its own options"
    run.say(
        f"Reprocessing image {one_line(image_id)} with {one_line(shown, 200)} "
        f"({image.get('status') or 'processing'})"
    )


def report(run: Run, image_id: str, args: Any) -> None:
    answer = run.tracker.report(image_id, args.category, comment=_comment(args), score=args.score)
    message = answer.get("message") or "received"
    run.say(f"Reported image {one_line(image_id)}: {one_line(message, 200)}", "ok")
