"""Atomic file writes, shared by the CSV export and image downloads."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_write(target: Path, mode: str = "wb", **open_args) -> Iterator[IO]:
    """Write to a temporary file beside ``target``, flush it to disk, then rename it
    over ``target``. If anything fails (a full disk, a dropped download), ``target``
    keeps its previous content and the temporary file is removed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **open_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
