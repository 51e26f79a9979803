"""The journal's records of photos and HDR groups being sent, and whether the process
that wrote one may still be sending it (``Journal`` stores them; ``Ledger`` and
``Shoot`` decide what a record means for an upload)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

__all__ = ["OWNER", "LEASE_SECONDS", "PhotoRow", "GroupRow", "Busy", "alive"]

#: This process, as the rows it writes name their owner: host and pid.
OWNER = f"{socket.gethostname()}:{os.getpid()}"
#: How long another live process's unfinished send of a photo holds it: one photo's
#: upload, retries included, ends well within this; a row older than this was left by
#: a call that stopped without saying so (its kernel still running, idle).
LEASE_SECONDS = 300.0


@dataclass
class PhotoRow:
    """One photo or bracket sent (or about to be) into an order."""

    id: int
    name: str | None
    path: str | None
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    state: str  # sending | registered | uploaded | abandoned | failed
    remote_id: str | None
    owner: str | None

    @property
    def orphaned(self) -> bool:
        """Left unfinished by a process that is gone (a killed kernel)."""
        return self.state in ("sending", "registered") and not alive(self.owner)


class Busy(Exception):
    """Another live process is sending this photo into this order now, or has just
    uploaded it: ``row`` is its record. Nothing was written."""

    def __init__(self, row: PhotoRow):
        super().__init__(f"{row.name!r} is being sent by {row.owner}")
        self.row = row


@dataclass
class GroupRow:
    """One HDR group sent to be merged."""

    id: int
    key: str
    name: str | None
    bracket_ids: list[str]
    state: str  # sent | merged | abandoned
    owner: str | None

    @property
    def orphaned(self) -> bool:
        """Sent by a process that is gone (or by this one, in a call that ended)
        without the answer being written."""
        return self.state == "sent" and (self.owner == OWNER or not alive(self.owner))


def alive(owner: str | None) -> bool:
    """Whether the process that wrote a row may still be sending it."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine sharing the file: never second-guessed
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
