"""The journal's records of photos and HDR groups being sent, and whether the process
that wrote one may still be sending it (``Journal`` stores them; ``Ledger`` and
``Shoot`` decide what a record means for an upload)."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from dataclasses import dataclass

from .. import errors as E

__all__ = [
    "OWNER",
    "LEASE_SECONDS",
    "PhotoRow",
    "GroupRow",
    "Busy",
    "BusyGroups",
    "alive",
    "photo_sender",
    "group_senders",
    "refused_outright",
]

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


class BusyGroups(Exception):
    """Another live process is merging some of these HDR groups now, or has just merged
    them: ``keys`` are theirs. Nothing was written."""

    def __init__(self, keys: set[str]):
        super().__init__(f"{len(keys)} group(s) are being merged by another process")
        self.keys = keys


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


def photo_sender(
    c: sqlite3.Connection,
    account: str,
    order_id: str,
    kind: str,
    name: str,
    key: tuple[str, int, int] | None,
    sha256: str | None,
    since: float,
) -> PhotoRow | None:
    """Another live process's row for this photo: sending it now (within the lease), or
    uploaded after ``since``; or a send that ended without its outcome (owner cleared),
    for the caller to settle against the order before it sends. The same photo: its
    name, and its file (path, size, mtime) or its content hash."""
    now = time.time()
    rows = c.execute(
        "SELECT id, name, path, size, mtime_ns, sha256, state, remote_id, owner, at"
        " FROM photos WHERE account = ? AND order_id = ? AND kind = ? AND name = ?"
        " AND (owner IS NULL OR owner != ?)"
        " AND ((state IN ('sending', 'registered') AND at >= ?)"
        " OR (state = 'uploaded' AND remote_id IS NOT NULL AND at >= ?)) ORDER BY id DESC",
        (account, order_id, kind, name, OWNER, now - LEASE_SECONDS, since),
    ).fetchall()
    for *fields, _at in rows:
        row = PhotoRow(*fields)
        same = (key is not None and (row.path, row.size, row.mtime_ns) == tuple(key)) or (
            sha256 is not None and row.sha256 == sha256
        )
        if same and (row.state == "uploaded" or row.owner is None or alive(row.owner)):
            return row
    return None


def group_senders(
    c: sqlite3.Connection, account: str, order_id: str, keys: set[str], since: float
) -> set[str]:
    """Those of ``keys`` another live process is merging into the order now (within the
    lease), or merged after ``since``; or whose process call ended without an answer
    (owner cleared), for the caller to settle against the order before it merges."""
    rows = c.execute(
        "SELECT key, state, owner FROM groups WHERE account = ? AND order_id = ?"
        " AND (owner IS NULL OR owner != ?)"
        " AND ((state = 'sent' AND at >= ?) OR (state = 'merged' AND at >= ?))",
        (account, order_id, OWNER, time.time() - LEASE_SECONDS, since),
    ).fetchall()
    return {
        k
        for k, state, owner in rows
        if k in keys and (state == "merged" or owner is None or alive(owner))
    }


def refused_outright(error: BaseException) -> bool:
    """The API clearly refused the request (a 4xx other than a timeout or a rate
    limit, or a check before sending): nothing was made. Anything else (no answer, a
    5xx, a stop) may have been made, and is settled against the order later."""
    if isinstance(error, E.ValidationError):
        return True
    status = getattr(error, "status_code", None) if isinstance(error, E.AutoenhanceError) else None
    return status is not None and 400 <= status < 500 and status not in (408, 429)
