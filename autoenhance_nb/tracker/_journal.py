"""The operations journal: what this user's kernels, notebooks and desk visits asked the
API to make, written before each request (intent) and after its answer (outcome), so a
re-run after a crashed kernel resumes instead of repeating. One SQLite file (WAL, a busy
timeout, short transactions) shared by every process of the user. An account is the
base URL and a fingerprint of the key (never the key). Storage only: what to do with a
record is decided by the tracker's operations."""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._rows import OWNER as _OWNER
from ._rows import Busy, BusyGroups, GroupRow, PhotoRow, group_senders, photo_sender
from .table import interrupts_deferred

__all__ = [
    "Journal",
    "journal_path",
    "open_journal",
    "file_sha256",
    "JOURNAL_ENV",
    "OFF_VALUES",
]

JOURNAL_ENV = "AUTOENHANCE_JOURNAL"
#: Values of ``$AUTOENHANCE_JOURNAL`` that turn the journal off.
OFF_VALUES = ("", "off", "none", "0", "false", "no")
#: Milliseconds a writer waits for another process's transaction to end.
BUSY_TIMEOUT_MS = 10_000
_HASH_CHUNK = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    account TEXT NOT NULL, order_id TEXT NOT NULL, name TEXT, notebook TEXT,
    batch TEXT, position INTEGER, state TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (account, order_id));
CREATE INDEX IF NOT EXISTS orders_batch ON orders (account, batch);
CREATE INDEX IF NOT EXISTS orders_notebook ON orders (account, notebook, at);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, order_id TEXT NOT NULL,
    kind TEXT NOT NULL, name TEXT, path TEXT, size INTEGER, mtime_ns INTEGER,
    sha256 TEXT, sent TEXT, state TEXT NOT NULL, remote_id TEXT, owner TEXT,
    notebook TEXT, at REAL NOT NULL);
DROP INDEX IF EXISTS photos_order;
CREATE INDEX IF NOT EXISTS photos_by_name ON photos (account, order_id, kind, name);
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, PRIMARY KEY (path, size, mtime_ns));
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, order_id TEXT NOT NULL,
    key TEXT NOT NULL, name TEXT, bracket_ids TEXT, state TEXT NOT NULL,
    owner TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS groups_order ON groups (account, order_id);
"""


def journal_path() -> Path | None:
    """Where the journal lives: ``$AUTOENHANCE_JOURNAL`` (``off`` turns it off), else
    the user's data folder. None: off."""
    value = os.environ.get(JOURNAL_ENV)
    if value is not None:
        if value.strip().lower() in OFF_VALUES:
            return None
        return Path(value).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
    return Path(base).expanduser() / "autoenhance-nb" / "journal.sqlite3"


def open_journal(journal: Any = "default") -> Journal | None:
    """``"default"``: the journal at ``journal_path()``; a path: that file; a
    ``Journal``: itself; None or False: no journal."""
    if journal is None or journal is False:
        return None
    if isinstance(journal, Journal):
        return journal
    if isinstance(journal, str) and journal == "default":
        path = journal_path()
        return None if path is None else Journal(path)
    return Journal(Path(journal).expanduser())


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Journal:
    """The journal file (see the module). Thread-safe: one connection, one lock, each
    write its own short transaction."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._active: set[int] = set()  # photo rows this process is sending now
        self._workspace: str | None = None
        conn = sqlite3.connect(
            str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
        conn.isolation_level = None  # explicit BEGIN IMMEDIATE ... COMMIT
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across a killed process
        self._conn = conn
        with self._tx() as c:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass

    def __repr__(self) -> str:
        return f"<Journal {self.path}>"

    def close(self) -> None:
        with self._locked():
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction. The stop button is held back while it runs: a
        transaction left open would hold the file's write lock against every kernel."""
        with self._locked():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The lock, with the stop button held back: a SIGINT landing just as ``with``
        took the lock could leave it taken (CPython bpo-29988), hanging the next call."""
        with interrupts_deferred(), self._lock:
            yield

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._locked():
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- identity ----------------------------------------------------------------------
    def workspace(self) -> str:
        """A random value made once per journal: the notebook identity of code that runs
        outside any named notebook."""
        if self._workspace is not None:
            return self._workspace
        with self._tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('workspace', ?)",
                (secrets.token_hex(16),),
            )
            value = str(c.execute("SELECT value FROM meta WHERE key = 'workspace'").fetchone()[0])
        self._workspace = value
        return value

    def known_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        rows = self._read(
            "SELECT sha256 FROM hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
            (path, size, mtime_ns),
        )
        return rows[0][0] if rows else None

    def note_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)", (path, size, mtime_ns, sha256)
            )

    # -- orders ------------------------------------------------------------------------
    def batch_ids(self, account: str, batch: str) -> dict[int, str]:
        """The order ids an earlier run of the same batch was given, by position."""
        rows = self._read(
            "SELECT position, order_id FROM orders WHERE account = ? AND batch = ?",
            (account, batch),
        )
        return {int(p): str(o) for p, o in rows}

    def intend_orders(
        self,
        account: str,
        notebook: str | None,
        entries: Iterable[tuple[int, str, str | None]],
        batch: str | None = None,
    ) -> None:
        """Before creating: (position, order_id, name) of each order about to be asked
        for (``batch``: the batch's key, so that its re-run finds the same ids)."""
        now = time.time()
        with self._tx() as c:
            c.executemany(
                "INSERT OR IGNORE INTO orders VALUES (?, ?, ?, ?, ?, ?, 'sent', ?)",
                [(account, oid, name, notebook, batch, i, now) for i, oid, name in entries],
            )

    def orders_made(self, account: str, order_ids: Iterable[str]) -> None:
        with self._tx() as c:
            c.executemany(
                "UPDATE orders SET state = 'made' WHERE account = ? AND order_id = ?",
                [(account, oid) for oid in order_ids],
            )

    def made(self, account: str, order_ids: Iterable[str]) -> set[str]:
        """Those of ``order_ids`` this journal asked for on this account."""
        ids = list(order_ids)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT order_id FROM orders WHERE account = ? AND order_id IN ({marks})",
                (account, *chunk),
            )
            found.update(str(r[0]) for r in rows)
        return found

    def orders_of(self, account: str, notebook: str | None, limit: int = 500) -> list[str]:
        """The orders this notebook made or sent photos into, oldest first."""
        rows = self._read(
            "SELECT order_id, MIN(at) AS first FROM ("
            " SELECT order_id, at FROM orders WHERE account = ? AND notebook IS ?"
            " UNION ALL SELECT order_id, at FROM photos WHERE account = ? AND notebook IS ?)"
            " GROUP BY order_id ORDER BY first DESC LIMIT ?",
            (account, notebook, account, notebook, limit),
        )
        return [str(r[0]) for r in reversed(rows)]

    def forget_orders(self, account: str, order_ids: Iterable[str]) -> None:
        """Orders gone from the server: nothing of them is worth keeping."""
        ids = [(account, oid) for oid in order_ids]
        with self._tx() as c:
            for table in ("orders", "photos", "groups"):
                c.executemany(f"DELETE FROM {table} WHERE account = ? AND order_id = ?", ids)

    # -- photos and brackets -----------------------------------------------------------
    def photos(self, account: str, order_id: str, kind: str) -> list[PhotoRow]:
        rows = self._read(
            "SELECT id, name, path, size, mtime_ns, sha256, state, remote_id, owner"
            " FROM photos WHERE account = ? AND order_id = ? AND kind = ? ORDER BY id",
            (account, order_id, kind),
        )
        found = [PhotoRow(*r) for r in rows]
        with self._locked():
            active = set(self._active)
        for row in found:
            if row.owner == _OWNER and row.id not in active and row.state != "uploaded":
                row.owner = None  # this process's, from a call that ended (interrupted)
        return found

    def intend_photo(
        self,
        account: str,
        order_id: str,
        kind: str,
        *,
        name: str,
        key: tuple[str, int, int] | None,
        size: int,
        sha256: str | None,
        sent: str,
        notebook: str | None,
        since: float = 0.0,
    ) -> int:
        """Before registering: the photo about to be sent; returns its row's id. Raises
        ``Busy`` (writing nothing) when another live process is sending the same photo
        (its name, and its file or content) into the order, or uploaded it after
        ``since``: checked and claimed in one transaction, so two kernels never both
        send it."""
        path, _, mtime_ns = key if key is not None else (None, None, None)
        with self._tx() as c:
            other = photo_sender(c, account, order_id, kind, name, key, sha256, since)
            if other is not None:
                raise Busy(other)
            cur = c.execute(
                "INSERT INTO photos (account, order_id, kind, name, path, size, mtime_ns,"
                " sha256, sent, state, owner, notebook, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?, ?)",
                (account, order_id, kind, name, path, size, mtime_ns, sha256, sent, _OWNER,
                 notebook, time.time()),
            )  # fmt: skip
            row_id = int(cur.lastrowid or 0)
            self._active.add(row_id)
        return row_id

    def photo_registered(self, row_id: int, remote_id: str) -> None:
        """The registration's answer; ``at`` moves on, renewing the send's lease."""
        with self._tx() as c:
            c.execute(
                "UPDATE photos SET state = 'registered', remote_id = ?, at = ? WHERE id = ?",
                (remote_id, time.time(), row_id),
            )

    def photo_settled(
        self, row_id: int, state: str, remote_id: str | None = None, sha256: str | None = None
    ) -> None:
        """The outcome: ``uploaded`` (with the image's id and the content's hash),
        ``abandoned`` (cleaned up) or ``failed`` (nothing made)."""
        with self._tx() as c:
            c.execute(
                "UPDATE photos SET state = ?, remote_id = COALESCE(?, remote_id),"
                " sha256 = COALESCE(?, sha256), at = ? WHERE id = ?",
                (state, remote_id, sha256, time.time(), row_id),
            )
            self._active.discard(row_id)

    def photo_ended(self, row_id: int) -> None:
        """This process stopped sending the row (its outcome is unknown): no longer
        its owner's, so that any run (here or in another kernel) settles it."""
        with self._tx() as c:
            c.execute("UPDATE photos SET owner = NULL WHERE id = ?", (row_id,))
            self._active.discard(row_id)

    # -- HDR groups --------------------------------------------------------------------
    def groups(self, account: str, order_id: str) -> list[GroupRow]:
        rows = self._read(
            "SELECT id, key, name, bracket_ids, state, owner FROM groups"
            " WHERE account = ? AND order_id = ? ORDER BY id",
            (account, order_id),
        )
        return [
            GroupRow(i, k, n, (b or "").split(",") if b else [], s, o) for i, k, n, b, s, o in rows
        ]

    def intend_groups(
        self,
        account: str,
        order_id: str,
        groups: Iterable[tuple[str, str, list[str]]],
        since: float = 0.0,
    ) -> list[int]:
        """Before a process call: (key, name, bracket ids) of each group to merge.
        Raises ``BusyGroups`` (writing nothing) when another live process is merging one
        of them now, or merged it after ``since``: checked and written in one
        transaction, so two kernels never both merge a group."""
        now = time.time()
        ids = []
        groups = list(groups)
        with self._tx() as c:
            busy = group_senders(c, account, order_id, {k for k, _, _ in groups}, since)
            if busy:
                raise BusyGroups(busy)
            for key, name, brackets in groups:
                cur = c.execute(
                    "INSERT INTO groups (account, order_id, key, name, bracket_ids, state,"
                    " owner, at) VALUES (?, ?, ?, ?, ?, 'sent', ?, ?)",
                    (account, order_id, key, name, ",".join(brackets), _OWNER, now),
                )
                ids.append(int(cur.lastrowid or 0))
        return ids

    def groups_settled(self, row_ids: Iterable[int], state: str) -> None:
        now = time.time()
        with self._tx() as c:
            c.executemany(
                "UPDATE groups SET state = ?, at = ? WHERE id = ?",
                [(state, now, i) for i in row_ids],
            )

    def groups_ended(self, row_ids: Iterable[int]) -> None:
        """This process's process call ended without an answer: its groups are any
        run's to settle (against the order)."""
        with self._tx() as c:
            c.executemany("UPDATE groups SET owner = NULL WHERE id = ?", [(i,) for i in row_ids])

    # -- clearing ----------------------------------------------------------------------
    def clear(self, account: str | None = None) -> None:
        """Forget everything (or one account's records). The orders and photos on the
        server are untouched; a re-run after this may upload a photo again."""
        with self._tx() as c:
            for table in ("orders", "photos", "groups"):
                if account is None:
                    c.execute(f"DELETE FROM {table}")
                else:
                    c.execute(f"DELETE FROM {table} WHERE account = ?", (account,))
            if account is None:
                c.execute("DELETE FROM hashes")

    def counts(self) -> dict[str, int]:
        tables = ("orders", "photos", "groups")
        return {t: int(self._read(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables}
