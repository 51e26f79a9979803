"""The photo part of ``%autoenhance_order``: enhancement options (``--option KEY=VALUE``,
``--preset NAME``), uploads, downloads (previews, or ``--full-size`` bought),
``--reprocess`` and ``--report``. A mixin of ``AutoenhanceMagics``: each flag one small
handler; everything is checked (``check_photo_flags``) before any request.

    %autoenhance_order Loft --images "shoot/*.jpg" --option enhance_type=warm --preset exterior
    %autoenhance_order --download ORDER_ID out/ --full-size --format png
    %autoenhance_order --reprocess IMAGE_ID --option enhance_type=neutral
    %autoenhance_order --report IMAGE_ID --category SKY_REPLACEMENT --score 2 "sky too blue"
"""

from __future__ import annotations

import os
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

__all__ = ["PhotoFlags", "check_photo_flags", "MAX_FAILURE_LINES"]

#: How many failure lines a batch prints before summing up the rest.
MAX_FAILURE_LINES = 20


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
            check_download_query(_download_query(args))
        if args.report:
            validate_image_id(args.report)
            check_report(args.category or [], _comment(args), args.score)
        if args.reprocess:
            validate_image_id(args.reprocess)
            return merge_options(parsed, preset=args.preset)
        return merge_options(defaults, parsed, preset=args.preset)


class _as_magic_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, E.ValidationError):
            raise MagicError(str(exc)) from None


def _download_query(args: Any) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if args.format:
        query["format"] = args.format
    if args.max_width is not None:
        query["max_width"] = args.max_width
    return query


def _comment(args: Any) -> str | None:
    """With --report, the words after the flags are the comment (set by the magic)."""
    return getattr(args, "comment", None)


class PhotoFlags:
    """The handlers of the photo flags (the magic's settings are its own)."""

    upload_workers: int
    progress: bool

    def _upload(
        self, tracker: Any, order_id: str, files: list[str], options: dict[str, Any]
    ) -> None:
        result = tracker.add_images(
            order_id, files, workers=self.upload_workers, progress=self.progress, **options
        )
        print(f"Photos for {one_line(order_id)}: {result.summary()}")
        for failure in result.failed[:MAX_FAILURE_LINES]:
            print(f"  {one_line(failure.item['source'], 120)}: {failure.message}")
        if result.failed:
            raise MagicError(
                f"{len(result.failed)} of {result.total} photos failed (see "
                f"above); the others were uploaded"
            )

    def _download(self, tracker: Any, order_id: str, folder: str, args: Any) -> None:
        result = tracker.download(
            order_id, folder, full_size=args.full_size, **_download_query(args)
        )
        what = "full size, bought" if args.full_size else "previews"
        print(
            f"Saved {len(result.saved)} images to "
            f"{os.path.abspath(os.path.expanduser(folder))} ({what})"
            + (f"; {len(result.skipped)} not processed yet" if result.skipped else "")
        )
        for failure in result.failed[:MAX_FAILURE_LINES]:
            print(f"  {failure.item['image']}: {failure.message}")
        if result.failed:
            raise MagicError(f"{len(result.failed)} downloads failed (see above)")

    def _reprocess(self, tracker: Any, image_id: str, options: dict[str, Any]) -> None:
        image = tracker.reprocess(image_id, **options)
        shown = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "its own options"
        print(
            f"Reprocessing image {one_line(image_id)} with {one_line(shown, 200)} "
            f"({image.get('status') or 'processing'})"
        )

    def _report(self, tracker: Any, image_id: str, args: Any) -> None:
        answer = tracker.report(image_id, args.category, comment=_comment(args), score=args.score)
        message = answer.get("message") or "received"
        print(f"Reported image {one_line(image_id)}: {one_line(message, 200)}")
