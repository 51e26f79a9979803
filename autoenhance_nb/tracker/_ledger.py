"""What the journal says about one order's photos (or brackets) during one upload call:
which photos an earlier run already put into the order, what a killed kernel left half
done (settled here against the order as the API shows it), and the intent and outcome
of each new upload. Nothing here decides to upload: ``Photos`` and ``Brackets`` do."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from .. import errors as E
from ..api import AutoenhanceClient, pause
from ..rules import ImageSource
from ._journal import Journal, file_sha256
from ._rows import Busy, PhotoRow, refused_outright

__all__ = ["Ledger", "Already", "PhotoKey"]

log = logging.getLogger("autoenhance_nb")

#: (resolved path, size, mtime_ns): a photo's cheap identity, confirmed by its hash
PhotoKey = tuple[str, int, int]
_NOT_UPLOADED = (None, "waiting")
#: How often a photo another kernel is sending is looked at again.
BUSY_POLL_SECONDS = 0.2


@dataclass
class Already:
    """A photo an earlier run uploaded into the order: reported, not sent again."""

    name: str
    image: dict[str, Any]


class Ledger:
    """One order's photos (``kind="image"``) or brackets (``"bracket"``) in the journal,
    for one call. ``uploaded`` holds the ids of what the order holds with bytes."""

    def __init__(
        self,
        journal: Journal,
        client: AutoenhanceClient,
        order_id: str,
        kind: str,
        notebook: str | None,
        since: float | None = None,
    ):
        self.journal = journal
        self.client = client
        self.account = client.account
        self.order_id = order_id
        self.kind = kind
        self.notebook = notebook
        #: others' uploads after this are not in ``rows`` (nor in the order the caller
        #: fetched: it takes the time before fetching)
        self.since = time.time() if since is None else since
        self.rows: list[PhotoRow] = journal.photos(self.account, order_id, kind)
        self.sizes = {(r.name, r.size) for r in self.rows}
        self.uploaded: set[str] = set()
        self._registered: set[int] = set()

    # -- what the order holds ----------------------------------------------------------
    def settle_images(self, order: dict[str, Any]) -> int:
        """Settle the rows a killed (or interrupted) run left: an image whose bytes
        arrived counts as uploaded; a registration without bytes is deleted, so the
        order counts no phantom. Returns how many registrations were cleaned up."""
        images = {
            i["image_id"]: i
            for i in order.get("images") or []
            if isinstance(i, dict) and isinstance(i.get("image_id"), str)
        }
        self.uploaded = {k for k, i in images.items() if i.get("status") not in _NOT_UPLOADED}
        known = {r.remote_id for r in self.rows if r.remote_id}
        cleaned = 0
        for row in self.rows:
            if not row.orphaned:
                continue
            if row.remote_id is not None:
                if row.remote_id in self.uploaded:
                    self._settle(row, "uploaded")
                    continue
                doomed = [row.remote_id] if row.remote_id in images else []
            else:  # the registration's answer never came: look for it by name
                doomed = [
                    k
                    for k, i in images.items()
                    if i.get("image_name") == row.name
                    and i.get("status") in _NOT_UPLOADED
                    and k not in known
                ]
            cleaned += self._delete(doomed)
            self._settle(row, "abandoned")
        return cleaned

    def settle_brackets(self, brackets: list[dict[str, Any]]) -> None:
        """As ``settle_images`` for brackets, which the API cannot delete: one that
        holds bytes counts as uploaded, the others are left out of every group."""
        self.uploaded = {b["bracket_id"] for b in brackets if b.get("is_uploaded")}
        for row in self.rows:
            if row.orphaned:
                state = "uploaded" if row.remote_id in self.uploaded else "abandoned"
                self._settle(row, state)

    def _delete(self, image_ids: list[str]) -> int:
        n = 0
        for image_id in image_ids:
            try:
                self.client.images.delete(image_id)
                n += 1
            except E.AutoenhanceError as exc:  # best effort: never stops the upload
                log.info("could not delete a registration a killed run left: %s", exc)
        return n

    def _settle(self, row: PhotoRow, state: str) -> None:
        self.journal.photo_settled(row.id, state)
        row.state = state

    # -- one photo -----------------------------------------------------------------------
    def identify(self, photo: ImageSource) -> tuple[PhotoKey | None, str | None]:
        """The photo's cheap key (a file: its path, size and mtime, which change with
        its content) and, when known or needed, its content hash: bytes are hashed at
        once; a file only to confirm, when the journal holds a photo of the same name
        and size for this order under another key."""
        if photo.path is None:
            return None, photo.sha256
        path = photo.path.resolve()
        st = os.stat(path)
        key: PhotoKey = (str(path), st.st_size, st.st_mtime_ns)
        sha = self.journal.known_hash(*key)
        same_file = any((r.path, r.size, r.mtime_ns) == key for r in self.rows)
        if sha is None and not same_file and (photo.name, st.st_size) in self.sizes:
            sha = self._hash(key)
            self._confirm(photo.name, st.st_size)
        return key, sha

    def _hash(self, key: PhotoKey) -> str:
        sha = self.journal.known_hash(*key) or file_sha256(key[0])
        self.journal.note_hash(*key, sha)
        return sha

    def _confirm(self, name: str, size: int) -> None:
        """The hashes of the uploaded files of this name and size whose hash is not
        known yet, when they are still where they were, unchanged."""
        for row in self.rows:
            if row.sha256 or row.name != name or row.size != size or row.path is None:
                continue
            try:
                st = os.stat(row.path)
            except OSError:
                continue  # moved or removed: cannot be compared
            if (st.st_size, st.st_mtime_ns) == (row.size, row.mtime_ns):
                row.sha256 = self._hash((row.path, st.st_size, st.st_mtime_ns))

    def found(self, name: str, key: PhotoKey | None, sha: str | None) -> str | None:
        """The id of this photo in the order, uploaded by an earlier run, or None. A
        photo is its name and its content: the same name with other content is another
        photo (a camera's counter restarted), and so is the same content under another
        name (the user's choice to send it again)."""
        for row in self.rows:
            if row.state != "uploaded" or row.remote_id not in self.uploaded:
                continue
            if row.name != name:
                continue
            same_file = key is not None and (row.path, row.size, row.mtime_ns) == key
            if (sha is not None and row.sha256 == sha) or same_file:
                return row.remote_id
        return None

    def intend(
        self, photo: ImageSource, key: PhotoKey | None, sha: str | None, sent: dict[str, Any]
    ) -> int:
        """Before registering: the photo's intent. Raises ``Busy`` when another kernel
        is sending it (see ``claim``)."""
        return self.journal.intend_photo(
            self.account,
            self.order_id,
            self.kind,
            name=photo.name,
            key=key,
            size=photo.size,
            sha256=sha,
            sent=json.dumps(sent, sort_keys=True, default=str),
            notebook=self.notebook,
            since=self.since,
        )

    def claim(
        self, photo: ImageSource, key: PhotoKey | None, sha: str | None, sent: dict[str, Any]
    ) -> int | str:
        """The photo's intent (its row id, an int), or the id of the image another
        kernel uploaded it as (a str). While another live kernel is sending it, wait
        for that one to end (at most its lease; the batch's stop ends the wait):
        uploaded there, it is not sent here; failed, or stopped before its bytes
        arrived (its registration is deleted), it is sent here."""
        other: PhotoRow | None = None
        while True:
            try:
                row_id = self.intend(photo, key, sha, sent)
            except Busy as busy:
                if busy.row.state == "uploaded" and busy.row.remote_id:
                    self.uploaded.add(busy.row.remote_id)
                    return busy.row.remote_id
                if busy.row.owner is None:  # its send ended without saying how
                    found = self._outcome_of(busy.row)  # settled: not busy any more
                    if found is not None:
                        return found
                    continue
                if other is None:
                    log.info("%s: waiting for %s, which is sending it", photo.name, busy.row.owner)
                other = busy.row
                pause(BUSY_POLL_SECONDS)
                continue
            if other is None:
                return row_id
            done = self._outcome_of(other)  # it stopped without saying how it ended
            if done is None:
                return row_id
            self.journal.photo_settled(row_id, "abandoned")
            return done

    def _outcome_of(self, other: PhotoRow) -> str | None:
        """Another kernel's send that ended without its outcome in the journal (killed,
        or stopped): the id of its image when the bytes arrived (its row settled as
        uploaded), else None, its registration deleted (a photo) so the order counts no
        phantom. Its row is re-read first: it may have said how it ended after all."""
        latest = next(
            (r for r in self.journal.photos(self.account, self.order_id, self.kind)
             if r.id == other.id),
            other,
        )  # fmt: skip
        if latest.state == "uploaded" and latest.remote_id:
            return latest.remote_id
        if latest.remote_id is None or latest.state not in ("sending", "registered"):
            return None
        try:
            if self.kind == "image":
                arrived = self.client.images.get(latest.remote_id).get("status")
                if arrived not in _NOT_UPLOADED:
                    self._settle(latest, "uploaded")
                    self.uploaded.add(latest.remote_id)
                    return latest.remote_id
                self._delete([latest.remote_id])
            else:
                uploaded = {
                    b.get("bracket_id")
                    for b in self.client.brackets.list(self.order_id)
                    if b.get("is_uploaded")
                }
                if latest.remote_id in uploaded:
                    self._settle(latest, "uploaded")
                    self.uploaded.add(latest.remote_id)
                    return latest.remote_id
        except E.NotFoundError:
            pass  # deleted meanwhile: nothing of it is in the order
        self._settle(latest, "abandoned")
        return None

    def registered(self, row_id: int, remote_id: Any) -> None:
        if isinstance(remote_id, str):
            self._registered.add(row_id)
            self.journal.photo_registered(row_id, remote_id)

    def done(
        self,
        row_id: int,
        remote_id: str,
        photo: ImageSource,
        key: PhotoKey | None,
        sha: str | None = None,
    ) -> None:
        sha = sha or photo.sha256
        self.journal.photo_settled(row_id, "uploaded", remote_id, sha)
        if key is not None and sha is not None:
            self.journal.note_hash(*key, sha)

    def ended(self, row_id: int, error: BaseException) -> None:
        """A send that raised: a clear refusal of the registration made nothing;
        anything else is left for the next run to settle against the order."""
        if row_id in self._registered:
            self.journal.photo_ended(row_id)  # a registration may wait: settled next run
        elif refused_outright(error):
            self.journal.photo_settled(row_id, "failed")
        else:
            self.journal.photo_ended(row_id)
