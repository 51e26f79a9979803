"""The tracker's HDR operation: group a bracketed shoot, upload it, merge and enhance it.
``Brackets`` is given the tracker's core (state, lock, recording); what it remembers of
the session's groups lives there too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import errors as E
from ..api import CLIENT_REF, pause
from ..errors import one_line
from ..rules import validate_order_id
from ..rules.brackets import DEFAULT_MAX_GAP, Grouping, Shot, plan_brackets
from ._batch import BatchResult, FanOut, progress_bar
from ._core import TrackerCore
from ._rows import BusyGroups
from ._shoot import Shoot

__all__ = ["Brackets", "BracketsResult"]

#: How often HDR groups another kernel is merging are looked at again (seconds).
GROUP_POLL_SECONDS = 1.0


@dataclass
class BracketsResult:
    """What ``add_brackets`` did: the ``grouping`` (its ``df`` is the preview),
    ``uploads`` (a BatchResult: one item per bracket file sent), the bracket ids of each
    merged image (``groups``), the order after the process call (``order``; None for a
    dry run or when uploads failed), brackets found already uploaded by an earlier run
    (``reused``), groups already merged by an earlier run (``already_merged``), and
    registrations lost attempts left behind, never uploaded and ignored (``ignored``)."""

    grouping: Grouping
    uploads: BatchResult | None = None
    groups: list[list[str]] = field(default_factory=list)
    order: dict[str, Any] | None = None
    reused: int = 0
    already_merged: list[str] = field(default_factory=list)
    ignored: int = 0
    dry_run: bool = False

    @property
    def df(self) -> pd.DataFrame:
        return self.grouping.df

    @property
    def ok(self) -> bool:
        return self.dry_run or (
            self.uploads is not None and self.uploads.ok and self.order is not None
        )

    def summary(self) -> str:
        if self.dry_run:
            return f"Dry run, nothing sent: {self.grouping.summary()}"
        parts = [self.grouping.summary()]
        if self.uploads is not None:
            parts.append(f"brackets {self.uploads.summary()}")
        if self.reused:
            parts.append(f"{self.reused} already uploaded")
        if self.already_merged:
            parts.append(f"{len(self.already_merged)} groups already merged")
        if self.order is not None and self.groups:
            parts.append(f"{len(self.groups)} images merging")
        elif self.uploads is not None and not self.uploads.ok:
            parts.append("not processed (run again: nothing is sent twice)")
        return "; ".join(parts)

    def _repr_html_(self) -> str:
        from ..display import frame_html, html

        frame = frame_html(self.grouping.df)
        return html("<p>{}</p>{}", one_line(self.summary(), 2000), frame)

    def __repr__(self) -> str:
        return f"<BracketsResult {self.summary()}>"


class Brackets:
    """HDR brackets: ``add_brackets``, ``merged_images``."""

    def __init__(self, core: TrackerCore):
        self.core = core

    def add_brackets(
        self,
        order_id: str,
        paths: Any,
        per_image: int | str | None = "auto",
        options: dict[str, Any] | None = None,
        dry_run: bool = False,
        *,
        max_gap: float = DEFAULT_MAX_GAP,
        workers: int = 4,
        progress: bool = True,
        on_progress: Callable[[int, int, str], None] | None = None,
    ) -> BracketsResult:
        """See ``OrderTracker.add_brackets``."""
        validate_order_id(order_id)
        grouping = plan_brackets(paths, per_image, max_gap)
        if dry_run:
            return BracketsResult(grouping, dry_run=True)
        if not grouping.accepted:
            reasons = "; ".join(f"group {g.number}: {g.problem}" for g in grouping.refused[:3])
            raise E.ValidationError(
                f"No bracket group to merge, nothing sent: {reasons}",
                fields={"paths": [g.problem or "" for g in grouping.refused]},
            )
        client = self.core.client
        order = client.get_order(order_id)  # NotFoundError before any upload
        self.core.record(order, notify=False)
        result = BracketsResult(grouping)
        shoot = Shoot(self.core, order_id, grouping)
        brackets = client.list_brackets(order_id)
        shoot.settle(order, brackets)
        todo = shoot.not_merged(order, result)
        ids, sends = shoot.to_send(todo, brackets, result)
        result.uploads = self._upload(shoot, sends, ids, workers, progress, on_progress)
        if not result.uploads.ok or not todo:
            if not todo:
                result.order = order
            return result
        claimed = self._claim(shoot, todo, ids, result)
        if claimed is None:  # another kernel merged them all meanwhile
            result.order = client.get_order(order_id)
            self.core.record(result.order)
            return result
        todo, rows = claimed
        result.ignored = _lost_registrations(client.list_brackets(order_id), result.groups)
        try:
            answer = client.process_order(order_id, groups=result.groups, **(options or {}))
        except BaseException as exc:
            shoot.ended(rows, exc)
            raise
        shoot.merged(rows)
        result.order = answer
        self._note_groups(order_id, todo)
        self.core.record(answer)
        return result

    def _claim(
        self, shoot: Shoot, todo: list[Any], ids: dict[tuple[int, int], str], result: Any
    ) -> tuple[list[Any], list[int]] | None:
        """The groups to merge and their journal rows, once no other kernel is merging
        any of them: while one is, wait (the stop button ends the wait) and look again,
        leaving out what it merged (``already_merged``). None when nothing is left."""
        while True:
            result.groups = [[ids[(g.number, k)] for k in range(len(g.shots))] for g in todo]
            try:
                return todo, shoot.intend(todo, result.groups)
            except BusyGroups:
                pause(GROUP_POLL_SECONDS)
            shoot.reload(self.core.client.get_order(shoot.order_id))
            merged = {g.key for g in shoot.groups if g.state == "merged"}
            result.already_merged += [g.name for g in todo if shoot.key(g) in merged]
            todo = [g for g in todo if shoot.key(g) not in merged]
            if not todo:
                result.groups = []
                return None

    def _upload(
        self,
        shoot: Shoot,
        sends: list[tuple[int, int, Shot]],
        ids: dict[tuple[int, int], str],
        workers: int,
        progress: bool,
        on_progress: Callable[[int, int, str], None] | None,
    ) -> BatchResult:
        """Upload the shots concurrently; each new bracket id goes into ``ids``."""
        core = self.core
        uploads = BatchResult(total=len(sends), verb="uploaded")

        def record(index: int, bracket: dict[str, Any]) -> None:
            number, k, _ = sends[index]
            with core.lock:
                ids[(number, k)] = bracket["bracket_id"]

        def progressed(done: int, total: int, _: Any) -> None:
            if on_progress is not None:
                on_progress(done, total, "")

        bar = (
            progress_bar(len(sends), "Uploading brackets", "bracket")
            if progress and sends
            else None
        )
        try:
            FanOut(
                sends,
                shoot.upload,
                workers=workers,
                result=uploads,
                record=record,
                describe=lambda item: {"source": str(item[2].path), "group": item[0]},
                progress=bar,
                on_progress=progressed,
                thread_name="autoenhance-bracket",
            ).run()
        finally:
            if bar is not None:
                bar.close()
        return uploads

    def merged_images(self, order_id: str | None = None) -> pd.DataFrame:
        """See ``OrderTracker.merged_images``."""
        images = self.core.images_frame()
        if order_id is not None:
            images = images[images["order_id"] == order_id]
        with self.core.lock:
            known = dict(self.core.bracket_groups)
        files = [
            known.get((o, n)) for o, n in zip(images["order_id"], images["image_name"], strict=True)
        ]
        images = images.assign(
            brackets=pd.array([len(f) if f else pd.NA for f in files], dtype="Int64"),
            bracket_files=pd.array([", ".join(f) if f else pd.NA for f in files], dtype="string"),
        )
        return images.reset_index(drop=True)

    def _note_groups(self, order_id: str, groups: list[Any]) -> None:
        with self.core.lock:
            for group in groups:
                self.core.bracket_groups[(order_id, group.name)] = [s.name for s in group.shots]


def _lost_registrations(brackets: list[dict[str, Any]], groups: list[list[str]]) -> int:
    """Registrations made by this toolkit that hold no bytes and are in no group."""
    chosen = {b for g in groups for b in g}
    return sum(
        1
        for b in brackets
        if not b.get("is_uploaded")
        and b["bracket_id"] not in chosen
        and CLIENT_REF in (b.get("metadata") or {})
    )
