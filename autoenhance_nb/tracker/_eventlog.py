"""``EventLog``: the webhook events a desk's server received, in a small sqlite file
that each visit's kernel tails (``EventFollower``). One writer (the server), many
readers (the kernels), in WAL mode so that readers never block the writer. Old rows are
pruned: the log is a relay, not a record (the API holds the truth)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from ._events import Refused, WebhookEvent, parse_event

__all__ = ["EventLog"]

#: rows kept; a kernel further behind than this has its safety-net polling
KEEP_ROWS = 10_000
PRUNE_EVERY = 500


class EventLog:
    """``EventLog(path)``: ``append(event)``, ``read_after(row_id)``, ``last_id()``."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS events "
                "(id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, body TEXT NOT NULL)"
            )
        self._appended = 0

    def append(self, event: WebhookEvent) -> int:
        """Add ``event``; its row id."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO events (at, body) VALUES (?, ?)", (time.time(), event.as_json())
            )
            row_id = int(cursor.lastrowid or 0)
            self._appended += 1
            if self._appended % PRUNE_EVERY == 0:
                self._db.execute("DELETE FROM events WHERE id <= ?", (row_id - KEEP_ROWS,))
        return row_id

    def read_after(self, row_id: int, limit: int = 1000) -> list[tuple[int, WebhookEvent]]:
        """The events after ``row_id``, oldest first (a row that no longer parses is
        skipped)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?", (row_id, limit)
            ).fetchall()
        out = []
        for found_id, body in rows:
            try:
                out.append((int(found_id), parse_event(str(body).encode())))
            except (Refused, json.JSONDecodeError):
                continue
        return out

    def last_id(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        with self._lock:
            self._db.close()
