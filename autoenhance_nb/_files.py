"""Atomic file writes, shared by the CSV export and image downloads."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (setting
    it, even briefly, would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(target: Path, mode: str = "wb", **open_args: Any) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``target``, flush it to disk, then rename it
    over ``target``. If anything fails (a full disk, a dropped download), ``target``
    keeps its previous content and the temporary file is removed. The file gets the
    permissions a plain ``open()`` would give it (the umask's), not the temporary
    file's private 0600."""
    if not target.parent.is_dir():
        raise FileNotFoundError(f"No such folder: {target.parent}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
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
