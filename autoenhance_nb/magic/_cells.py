"""Reading what users type into a magic: the lines of a ``%%autoenhance_order`` cell
and file globs. No requests here: everything is checked before anything is sent."""

from __future__ import annotations

import csv
import glob
import hashlib
import os
import re
from typing import Any

from IPython.core.error import UsageError

from ..errors import one_line

__all__ = [
    "parse_batch",
    "derived_order_id",
    "match_files",
    "LINE_SEPARATORS",
    "DERIVED_PREFIX",
    "MagicError",
    "check_export_path",
    "check_var",
    "already_made",
]

DERIVED_PREFIX = "nb-"

#: Characters that str.splitlines() treats as line ends but a cell line may contain
#: (text pasted from Word or a PDF): only \n and \r\n end a line here.
LINE_SEPARATORS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_SEPARATOR_NAMES = {
    "\x0b": "a vertical tab",
    "\x0c": "a form feed",
    "\x85": "U+0085 (NEL)",
    "\u2028": "U+2028 (line separator)",
    "\u2029": "U+2029 (paragraph separator)",
}


class MagicError(UsageError):
    """A command that failed: shown as one line (no traceback), and reported with its
    reason by nbclient, nbconvert and papermill, which stop the run there (a plain
    UsageError only prints to stderr, so papermill's error would be empty)."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def match_files(pattern: str) -> list[str]:
    """The files a glob names (``~`` and ``**`` allowed); a glob matching nothing is a
    usage error, found before anything is created."""
    files = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
    if not files:
        raise MagicError(f"No files match {one_line(pattern, middle=True)!r}")
    return files


def derived_order_id(
    name: str | None, occurrence: int, notebook: str | None = None, what: str | None = None
) -> str:
    """The order_id a cell line without one gets: a hash of the notebook's identity
    (``tracker.notebook``: its path as Jupyter tells the kernel, else the journal's own
    value), its name and how many lines above it in the cell carry the same name.
    Running the cell again in the same notebook (after a failure, or in a fresh kernel)
    sends the same ids, so nothing is duplicated; another notebook sends other ids.
    ``what``: what else the line sends (a line magic's photos), hashed in too."""
    text = f"{name or ''}\x1f{occurrence}"
    if notebook:
        text = f"{notebook}\x1f{text}"
    if what is not None:
        text = f"{text}\x1f{what}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return DERIVED_PREFIX + digest[:29]


def parse_batch(
    text: str, notebook: str | None = None
) -> tuple[list[tuple[int, dict[str, str | None]]], list[tuple[int, str]]]:
    """Parse a cell: one ``name`` or ``name,order_id`` per line, CSV quoting, blank lines
    and ``#`` comments skipped. Only ``\\n`` (or ``\\r\\n``) ends a line; a line holding
    another line separator is refused with its reason, never split. Returns
    ([(line_no, item)], [(line_no, problem)]). ``notebook`` salts the derived ids."""
    items: list[tuple[int, dict[str, str | None]]] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        odd = LINE_SEPARATORS.search(stripped)
        if odd:
            what = _SEPARATOR_NAMES.get(odd.group(), f"U+{ord(odd.group()):04X}")
            problems.append(
                (number, f"contains {what}, a hidden line break (pasted text?); retype the line")
            )
            continue
        if stripped.count('"') % 2:
            # csv would swallow the rest of the line into the name, order_id included
            problems.append((number, 'cannot read the line as CSV: a quote (") is not closed'))
            continue
        try:
            fields = next(csv.reader([stripped], skipinitialspace=True))
        except csv.Error as exc:
            problems.append((number, f"cannot read the line as CSV ({exc})"))
            continue
        fields = [f.strip() for f in fields]
        if len(fields) > 2:
            problems.append(
                (number, "expected `name` or `name,order_id` (quote a name that contains commas)")
            )
            continue
        name = fields[0] or None
        order_id = fields[1] if len(fields) == 2 and fields[1] else None
        if order_id is None:
            occurrence = seen.get(name or "", 0)
            seen[name or ""] = occurrence + 1
            order_id = derived_order_id(name, occurrence, notebook)
        items.append((number, {"name": name, "order_id": order_id}))
    return items, problems


def check_export_path(path: str | None) -> None:
    if path is None:
        return
    if not path.strip():
        raise MagicError("--export needs a file name, e.g. --export orders.csv")
    expanded = os.path.expanduser(path)
    if path.endswith(("/", os.sep)) or os.path.isdir(expanded):
        raise MagicError(
            f"--export {one_line(path, middle=True)!r} is a folder; give a file name, "
            f"e.g. {os.path.join(path, 'orders.csv')}"
        )
    folder = os.path.dirname(os.path.abspath(expanded))
    if not os.path.isdir(folder):
        raise MagicError(
            f"--export {one_line(path, middle=True)!r}: no such folder "
            f"{one_line(os.path.dirname(path) or '.')!r}"
        )


def check_var(var: str | None) -> None:
    if var is not None and not var.isidentifier():
        raise MagicError(f"-o/--out needs a Python variable name, not {one_line(var)!r}")


def already_made(tracker: Any, item: dict[str, Any]) -> bool:
    """A cell line whose order is in the table: its derived id is this line's own, so
    the order is done even if renamed since; a typed id counts only with its name."""
    row = tracker.row(item["order_id"])
    if row is None:
        return False
    return item["order_id"].startswith(DERIVED_PREFIX) or row["name"] == (item["name"] or "")
