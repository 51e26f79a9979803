"""The order table as a CSV file: written atomically column by column (formula cells
neutralised, lone surrogates escaped), and read back into equal columns."""

from __future__ import annotations

import csv
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._files import atomic_write
from ...errors import one_line
from ._store import (
    COLUMNS,
    CREATED,
    DTYPES,
    FORMULA_PREFIXES,
    ID,
    STRING_COLUMNS,
    UPDATED,
    columns_of,
    frame_of,
    orders,
)


# -- CSV ----------------------------------------------------------------------------------
def write_csv(
    frame: pd.DataFrame, path: str | os.PathLike[str], *, escape_formulas: bool = True
) -> Path:
    """Write an order table to ``path`` atomically (a temporary file in the same folder,
    then a rename): UTF-8, ISO 8601 UTC timestamps, CRLF line ends, and cells that a
    spreadsheet would run as formulas prefixed with ``'`` unless
    ``escape_formulas=False``. Returns the absolute path. A failed write leaves any
    previous file intact."""
    return write_columns(columns_of(frame), path, escape_formulas=escape_formulas)


def write_columns(
    columns: list[list[Any]], path: str | os.PathLike[str], *, escape_formulas: bool = True
) -> Path:
    """``write_csv`` for the store's columns (no DataFrame needed): the same bytes, made
    column by column (timestamps formatted together by numpy, formula cells found by
    one scan), then written by pandas with nothing left to convert."""
    target = Path(path).expanduser().resolve()
    if str(path).endswith(("/", os.sep)) or target.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    out = list(columns)
    for c in _STRING_POSITIONS:
        if escape_formulas:
            out[c] = _escape_formula_cells(out[c])
    bad = [
        out[ID][i]
        for c in _STRING_POSITIONS
        if not _valid_unicode(out[c])
        for i, v in enumerate(out[c])
        if _SURROGATE_RE.search(v)
    ]
    if bad:
        warnings.warn(
            f"{orders(len(bad))} (e.g. {one_line(bad[0])!r}) have text with lone surrogates "
            f"(not valid Unicode); written escaped as \\uXXXX, which read_orders_csv undoes",
            stacklevel=3,
        )
    for c in _STRING_POSITIONS:
        # a cell with a lone surrogate, or with text that reads like its escape, is
        # escaped whole (backslashes doubled), so that reading undoes exactly that
        if bad or "\\u" in "\x00".join(out[c]):
            out[c] = [_escape_cell(v) if _NEEDS_ESCAPE_RE.search(v) else v for v in out[c]]
    for c in (CREATED, UPDATED):
        out[c] = _format_times(out[c])
    # every cell is text or a plain int now: pandas only joins them (as fast as the csv
    # module's writer on its own, and the one write path for every table)
    frame = pd.DataFrame(dict(zip(COLUMNS, out, strict=True)), columns=COLUMNS, dtype=object)
    with atomic_write(target, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return target


_STRING_POSITIONS = [COLUMNS.index(c) for c in STRING_COLUMNS]
_SURROGATE = "[\ud800-\udfff]"
_SURROGATE_RE = re.compile(_SURROGATE)
_ESCAPED_SURROGATE_RE = re.compile(r"\\u(d[89a-f][0-9a-f]{2})", re.IGNORECASE)
_NEEDS_ESCAPE_RE = re.compile(r"[\ud800-\udfff]|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_UNESCAPE_RE = re.compile(r"\\\\|\\u(d[89a-f][0-9a-f]{2})", re.IGNORECASE)


def _escape_cell(value: str) -> str:
    return _SURROGATE_RE.sub(_escape_surrogate, value.replace("\\", "\\\\"))


def _unescape_cell(value: str) -> str:
    return _UNESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else "\\", value)


def _escape_formula_cells(values: list[Any]) -> list[Any]:
    """Prefix ``'`` to cells starting like a formula; one C-speed scan finds whether
    any does (a cell starts the text or follows the separator)."""
    joined = "\x00".join(values)
    if not any(joined.startswith(p) or "\x00" + p in joined for p in FORMULA_PREFIXES):
        return values
    return ["'" + v if v.startswith(FORMULA_PREFIXES) else v for v in values]


def _valid_unicode(values: list[str]) -> bool:
    try:
        "".join(values).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _format_times(values: list[int | None]) -> list[str]:
    """Nanoseconds (or None) as ``%Y-%m-%dT%H:%M:%S.%fZ`` (or empty), all at once."""
    nat = np.iinfo("int64").min
    ns = np.array([nat if v is None else v for v in values], dtype="int64")
    us = ns // 1000  # floor, as strftime's %f (numpy's own cast wraps near the minimum)
    us[ns == nat] = nat
    text = np.datetime_as_string(us.view("datetime64[us]"))
    return [t + "Z" if t != "NaT" else "" for t in text.tolist()]


def _escape_surrogate(match: Any) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def _unescape_surrogate(match: Any) -> str:
    return chr(int(match.group(1), 16))


def read_orders_csv(path: str | os.PathLike[str], escape_formulas: bool = True) -> pd.DataFrame:
    """Read a CSV written by ``OrderTracker.to_csv`` back into an equal DataFrame."""
    return frame_of(read_orders_columns(path, escape_formulas))


def read_orders_columns(
    path: str | os.PathLike[str], escape_formulas: bool = True
) -> list[list[Any]]:
    """A CSV written by ``to_csv`` as store columns: pandas parses, then each column is
    fixed at once (formula escapes and surrogate escapes undone only where one scan
    finds any, timestamps parsed together)."""
    frame = pd.read_csv(
        path,
        dtype={c: object for c in STRING_COLUMNS},
        keep_default_na=False,
        na_values={"image_count": [""], "created_at": [""], "last_updated_at": [""]},
        encoding="utf-8",
    )
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{one_line(os.fspath(path))} is not an order table: missing columns {missing}"
        )
    nat = np.iinfo("int64").min
    cols: list[list[Any]] = []
    for name in COLUMNS:
        s = frame[name]
        if name in STRING_COLUMNS:
            cols.append(_unescape_cells([str(v) for v in s.tolist()], escape_formulas))
        elif name == "image_count":
            counts = s.astype("Int64")
            cols.append(counts.astype("object").where(counts.notna(), None).tolist())
        else:
            times = pd.to_datetime(s, utc=True, format="ISO8601").astype(DTYPES[name])
            ints = times.array.asi8 if len(times) else np.array([], "int64")
            values = ints.tolist()
            for i in np.flatnonzero(ints == nat).tolist():
                values[i] = None
            cols.append(values)
    return cols


def _unescape_cells(values: list[str], escape_formulas: bool) -> list[str]:
    joined = "\x00".join(values)
    if escape_formulas and (joined.startswith("'") or "\x00'" in joined):
        values = [v[1:] if len(v) > 1 and v[0] == "'" else v for v in values]
    if "\\u" in joined or "\\U" in joined:  # cells written escaped (see write_columns)
        values = [_unescape_cell(v) if _ESCAPED_SURROGATE_RE.search(v) else v for v in values]
    return values
