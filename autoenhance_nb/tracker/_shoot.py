"""One ``add_brackets`` call's view of its order: each shot known by its content (a
sha256, also stored in the bracket's metadata), the brackets and merged groups earlier
runs made (from the journal and the API), what is left to send, and the journal's
intent and outcome around each upload and the process call. A second shoot whose files
reuse the first one's names is another shoot: its content differs."""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from typing import Any

from ..rules import ImageSource
from ..rules.brackets import Grouping, Shot
from ._core import TrackerCore
from ._journal import file_sha256
from ._ledger import Ledger, PhotoKey
from ._rows import GroupRow, refused_outright

__all__ = ["Shoot"]


class Shoot:
    """The shoot's accepted groups against one order (see the module)."""

    def __init__(self, core: TrackerCore, order_id: str, grouping: Grouping):
        self.client = core.client
        self.order_id = order_id
        self.journal = core.journal
        self.account = self.client.account
        self.ledger = (
            Ledger(self.journal, self.client, order_id, "bracket", core.notebook())
            if self.journal is not None
            else None
        )
        self.keys: dict[str, PhotoKey] = {}
        self.sha: dict[str, str] = {}
        for group in grouping.accepted:
            for shot in group.shots:
                self._hash(shot)
        self.since = time.time()  # others' merges from now on are not in ``groups``
        self.groups: list[GroupRow] = (
            self.journal.groups(self.account, order_id) if self.journal is not None else []
        )

    def reload(self, order: dict[str, Any]) -> None:
        """Read the groups again (another kernel merged some meanwhile), settling what
        a process that ended without an answer left, against ``order``."""
        if self.journal is not None:
            self.since = time.time()
            self.groups = self.journal.groups(self.account, self.order_id)
            self.settle(order, None)

    def _hash(self, shot: Shot) -> None:
        path = str(shot.path.resolve())
        st = os.stat(path)
        key: PhotoKey = (path, st.st_size, st.st_mtime_ns)
        sha = self.journal.known_hash(*key) if self.journal is not None else None
        if sha is None:
            sha = file_sha256(path)
            if self.journal is not None:
                self.journal.note_hash(*key, sha)
        self.keys[str(shot.path)] = key
        self.sha[str(shot.path)] = sha

    def key(self, group: Any) -> str:
        """A group's identity: the hash of its brackets' hashes, in order."""
        joined = ",".join(self.sha[str(s.path)] for s in group.shots)
        return hashlib.sha256(joined.encode()).hexdigest()

    # -- what earlier runs did ---------------------------------------------------------
    def settle(self, order: dict[str, Any], brackets: list[dict[str, Any]] | None) -> None:
        """Settle what a killed run left: its brackets (see ``Ledger``) and a process
        call sent without an answer, counted as done when the order is merging or shows
        more images of that name than the journal's merged groups account for."""
        if self.ledger is not None and brackets is not None:
            self.ledger.settle_brackets(brackets)
        if self.journal is None:
            return
        names = Counter(
            i.get("image_name") for i in order.get("images") or [] if isinstance(i, dict)
        )
        merged = Counter(g.name for g in self.groups if g.state == "merged")
        for group in self.groups:
            if not group.orphaned:
                continue
            done = bool(order.get("is_merging")) or names[group.name] > merged[group.name]
            group.state = "merged" if done else "abandoned"
            merged[group.name] += done
            self.journal.groups_settled([group.id], group.state)

    def not_merged(self, order: dict[str, Any], result: Any) -> list[Any]:
        """The accepted groups not merged yet (the others go to
        ``result.already_merged``): with the journal, a group is known by its content;
        without it, by the name of its merged image (its first bracket's file name)."""
        if self.journal is not None:
            keys = {g.key for g in self.groups if g.state == "merged"}
            done = lambda group: self.key(group) in keys  # noqa: E731
        else:
            names = {i.get("image_name") for i in order.get("images") or [] if isinstance(i, dict)}
            done = lambda group: group.name in names  # noqa: E731
        todo = []
        for group in result.grouping.accepted:
            if done(group):
                result.already_merged.append(group.name)
            else:
                todo.append(group)
        return todo

    def to_send(
        self, todo: list[Any], brackets: list[dict[str, Any]], result: Any
    ) -> tuple[dict[tuple[int, int], str], list[tuple[int, int, Shot]]]:
        """The bracket ids already uploaded by an earlier run (same content, in no
        merged group), by (group, shot), and the shots still to send."""
        used = {b for g in self.groups if g.state == "merged" for b in g.bracket_ids}
        known: dict[Any, list[str]] = {}
        for b in brackets:
            meta = b.get("metadata") or {}
            if not b.get("is_uploaded") or b["bracket_id"] in used or not isinstance(meta, dict):
                continue
            if isinstance(meta.get("sha256"), str):
                known.setdefault(meta["sha256"], []).append(b["bracket_id"])
            elif isinstance(meta.get("size"), int):  # uploaded before content hashes
                known.setdefault((str(b.get("name")), meta["size"]), []).append(b["bracket_id"])
        ids: dict[tuple[int, int], str] = {}
        sends: list[tuple[int, int, Shot]] = []
        for group in todo:
            for k, shot in enumerate(group.shots):
                found = known.get(self.sha[str(shot.path)]) or known.get((shot.name, shot.size))
                if found:
                    ids[(group.number, k)] = found.pop(0)
                    result.reused += 1
                else:
                    sends.append((group.number, k, shot))
        return ids, sends

    # -- sending -----------------------------------------------------------------------
    def upload(self, item: tuple[int, int, Shot]) -> dict[str, Any]:
        """Upload one shot, its intent and outcome in the journal."""
        number, _, shot = item
        sha = self.sha[str(shot.path)]
        meta = {**shot.metadata(number), "sha256": sha}
        photo = ImageSource(shot.path, shot.name)
        ledger = self.ledger
        if ledger is None:
            return self.client.brackets.upload(self.order_id, photo, metadata=meta)
        key = self.keys[str(shot.path)]
        row = ledger.claim(photo, key, sha, meta)
        if isinstance(row, str):  # another kernel uploaded this shot meanwhile
            return {"bracket_id": row, "name": shot.name, "is_uploaded": True}
        try:
            bracket = self.client.brackets.upload(
                self.order_id,
                photo,
                metadata=meta,
                on_registered=lambda reg: ledger.registered(row, reg.get("bracket_id")),
            )
        except BaseException as exc:
            ledger.ended(row, exc)
            raise
        ledger.done(row, bracket["bracket_id"], photo, key, sha)
        return bracket

    def intend(self, todo: list[Any], groups: list[list[str]]) -> list[int]:
        """Before the process call: each group about to be merged. Raises
        ``BusyGroups`` when another kernel is merging (or just merged) one of them."""
        if self.journal is None:
            return []
        return self.journal.intend_groups(
            self.account,
            self.order_id,
            [(self.key(g), g.name, ids) for g, ids in zip(todo, groups, strict=True)],
            self.since,
        )

    def merged(self, rows: list[int]) -> None:
        if self.journal is not None and rows:
            self.journal.groups_settled(rows, "merged")

    def ended(self, rows: list[int], error: BaseException) -> None:
        """The process call raised: a clear refusal merged nothing; anything else (a
        timeout, a stop) is for the next run to settle against the order."""
        if self.journal is None or not rows:
            return
        if refused_outright(error):
            self.journal.groups_settled(rows, "abandoned")
        else:
            self.journal.groups_ended(rows)
