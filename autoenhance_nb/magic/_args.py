"""The arguments of ``%autoenhance_order``, declared apart from the magic's class so
that the class holds behaviour only. ``magic_arguments`` makes them ``%autoenhance_order?``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments

from ._brackets import BRACKETS_HELP, DRY_RUN_HELP

__all__ = ["order_arguments"]

_ARGUMENTS = [
    argument("name", nargs="*", help="Name of the order to create (quote it, or not)."),
    argument(
        "--order-id",
        dest="order_id",
        default=None,
        help="Custom order_id (must be unique). Default: one is generated; a line that "
        "sends photos gets one derived from its notebook, name and glob, so that "
        "running it again resumes that order.",
    ),
    argument(
        "--images",
        metavar="GLOB",
        default=None,
        help='Photos to upload into the new order, e.g. "shoot/*.jpg".',
    ),
    argument(
        "--add-images",
        dest="add_images",
        nargs=2,
        metavar=("ORDER_ID", "GLOB"),
        default=None,
        help="Upload photos into an existing order.",
    ),
    argument(
        "--watch",
        action="store_true",
        help="Refresh until no order is processing (with a progress bar).",
    ),
    argument(
        "--download",
        nargs=2,
        metavar=("ORDER_ID", "FOLDER"),
        default=None,
        help="Save an order's processed images into FOLDER (free previews; see --full-size).",
    ),
    argument(
        "--full-size",
        dest="full_size",
        action="store_true",
        help="With --download: buy the full-size images (uses credits).",
    ),
    argument("--format", default=None, help="With --download: png, jpeg or webp."),
    argument("--max-width", dest="max_width", type=int, default=None, help="With --download."),
    argument(
        "--option",
        dest="options",
        action="append",
        metavar="KEY=VALUE",
        help="An enhancement option for --images/--add-images/--reprocess (repeatable), "
        "e.g. --option enhance_type=warm --option metadata='{\"shoot\": 3}'.",
    ),
    argument("--preset", default=None, help="Named options (autoenhance_nb.options.presets)."),
    argument("--reprocess", metavar="IMAGE_ID", default=None, help="Enhance an image again."),
    argument("--report", metavar="IMAGE_ID", default=None, help="Report a problem with an image."),
    argument("--category", action="append", help="With --report (repeatable)."),
    argument("--score", type=int, default=None, help="With --report: 0 (worst) to 5."),
    argument("--list", action="store_true", help="Show the session table."),
    argument(
        "--refresh", action="store_true", help="Re-fetch every order's status, then show the table."
    ),
    argument("--sync", action="store_true", help="Add every order of the account to the table."),
    argument(
        "--export",
        metavar="PATH",
        default=None,
        help="Write the table to a CSV file (formula cells neutralised).",
    ),
    argument(
        "--sandbox",
        action="store_true",
        help="Go back to the built-in sandbox (and its table) from the live API.",
    ),
    argument(
        "-o",
        "--out",
        metavar="VAR",
        default=None,
        help="Also store the table (a DataFrame) in the variable VAR.",
    ),
    argument(
        "--brackets",
        nargs=2,
        metavar=("auto|N", "GLOB"),
        default=None,
        help=BRACKETS_HELP,
    ),
    argument("--dry-run", dest="dry_run", action="store_true", help=DRY_RUN_HELP),
    argument(
        "--gallery",
        metavar="ORDER_ID",
        default=None,
        help="Show the order's photos: original and enhanced side by side; buy, redo, report.",
    ),
]


def order_arguments(func: Callable[..., Any]) -> Callable[..., Any]:
    """Apply ``magic_arguments`` and every argument of ``%autoenhance_order``."""
    for declare in reversed(_ARGUMENTS):
        func = declare(func)
    return magic_arguments()(func)
