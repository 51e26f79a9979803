"""Reading and checking a whole ``%autoenhance_order`` line before anything is sent:
shell-like quoting, the flags' combinations, the photo options, the bracket grouping
and the files the globs name. The result is a ``Line``; the dispatcher (``_dispatch``)
turns it into commands."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from ..rules import order_id_problem
from ..rules.brackets import Grouping
from ._brackets import check_brackets
from ._cells import MagicError, check_export_path, check_var, match_files
from ._photos import check_photo_flags

__all__ = ["Line", "check_line", "parse_line"]

#: Flags whose own line says what happened: their cell shows the status, not the rows.
QUIET_FLAGS = ("export", "download", "sandbox", "reprocess", "report", "gallery")
#: Flags whose result is the whole table (a DataFrame: ``df = %autoenhance_order --list``).
TABLE_FLAGS = ("list", "refresh", "sync", "watch")


@dataclass
class Line:
    """A checked line: the parsed ``args`` (name joined, report comment split off), the
    enhancement options, the files of ``--images`` / ``--add-images``, the grouping of
    ``--brackets``."""

    args: Any
    options: dict[str, Any]
    photos: list[str] | None = None
    extra: list[str] | None = None
    brackets: tuple[int | str, list[str], Grouping] | None = None

    @property
    def creates(self) -> bool:
        return self.args.name is not None or self.args.order_id is not None

    @property
    def wants_table(self) -> bool:
        return any(getattr(self.args, flag) for flag in TABLE_FLAGS)

    @property
    def quiet(self) -> bool:
        return any(getattr(self.args, flag) for flag in QUIET_FLAGS)


def parse_line(magic: Any, line: str) -> Any:
    """Parse a magic line with shell-like quoting ("a b" and 'a b' are one argument,
    quotes removed). Bad quoting or unknown flags are a UsageError, which names the flags
    but never repeats a value typed on the line (it could be a pasted API key)."""
    try:
        argv = shlex.split(line, posix=True)
    except ValueError as exc:
        raise MagicError(
            f'Cannot read the line: {exc}; put the name in double quotes, e.g. "O\'Brien house"'
        ) from None
    try:
        return magic.parser.parse_args(argv)
    except UsageError as exc:
        raise UsageError(_without_values(str(exc), argv)) from None


def _without_values(message: str, argv: list[str]) -> str:
    """``message`` with every value of ``argv`` (words that are not flags, and what
    follows ``=`` in a flag) shown as "…"; values under 4 characters cannot be a key."""
    values = {a.partition("=")[2] if a.startswith("-") else a for a in argv}
    for value in sorted((v for v in values if len(v) >= 4), key=len, reverse=True):
        message = message.replace(value, "…")
    return message


def check_line(magic: Any, line: str, cell: str | None, defaults: dict[str, Any]) -> Line:
    """Parse ``line`` and check every argument (sending nothing): a ``MagicError`` (one
    line) for any combination that cannot work."""
    args = parse_line(magic, line)
    if args.report:  # the words after its flags are the report's comment
        args.comment, args.name = " ".join(args.name) or None, []
    args.name = " ".join(args.name) if args.name else None
    check_var(args.out)
    check_export_path(args.export)
    checked = Line(args, check_photo_flags(args, defaults))
    _check_combinations(checked, cell)
    if args.gallery is not None and order_id_problem(args.gallery):
        raise MagicError(f"--gallery: the order ID {order_id_problem(args.gallery)}")
    checked.brackets = check_brackets(*args.brackets) if args.brackets else None
    if args.dry_run and checked.brackets is None:
        raise MagicError("--dry-run goes with --brackets")
    if (
        checked.brackets is not None
        and not args.dry_run
        and (cell is not None or not checked.creates)
    ):
        raise MagicError(
            "--brackets goes with a new order's name, e.g. "
            '%autoenhance_order Loft --brackets auto "shoot/*.jpg"'
        )
    if not args.dry_run:
        checked.photos = match_files(args.images) if args.images else None
        checked.extra = match_files(args.add_images[1]) if args.add_images else None
    return checked


def _check_combinations(line: Line, cell: str | None) -> None:
    args = line.args
    if cell is not None and (line.creates or args.images):
        raise MagicError(
            "%%autoenhance_order takes names in the cell body, not on its "
            "first line (and no --images: add photos per order with "
            "--add-images)"
        )
    if cell is None and args.images and not line.creates:
        raise MagicError(
            "--images goes with a new order's name; use --add-images "
            "ORDER_ID GLOB for an existing order"
        )
