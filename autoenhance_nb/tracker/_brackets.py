"""The tracker's HDR operation: group a bracketed shoot, upload it, merge and enhance it.
A mixin of ``OrderTracker``; the state it reads and writes is the tracker's."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import errors as E
from ..api import CLIENT_REF
from ..errors import one_line
from ..rules import validate_order_id
from ..rules.brackets import DEFAULT_MAX_GAP, Grouping, Shot, plan_brackets
from ._batch import BatchResult, fan_out

if TYPE_CHECKING:
    from ..api import AutoenhanceClient
    from ._tracker import TableState

__all__ = ["BracketOperations", "BracketsResult"]


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


class BracketOperations:
    """HDR brackets: ``add_brackets``, ``merged_images``."""

    client: AutoenhanceClient
    _lock: threading.RLock
    _state: TableState

    if TYPE_CHECKING:

        def record(
            self, order: dict[str, Any], source: str = "python", *, notify: bool = True
        ) -> None: ...
        @property
        def images_df(self) -> pd.DataFrame: ...

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
        """Group a bracketed shoot (``per_image``: ``"auto"`` from EXIF, or N), upload
        every bracket of the accepted groups concurrently, then process the order with
        exactly those groups and the enhancement ``options``. ``paths``: file paths or
        one glob. Returns a ``BracketsResult`` (``.df``: the grouping).

        Before any request: every file is read and checked (one unreadable file refuses
        the lot), and ``dry_run=True`` stops there. Then the order is looked up (an
        unknown order is a ``NotFoundError``, nothing uploaded). Running it again after
        a failure sends nothing twice: brackets already uploaded (same name and size in
        their metadata) are reused, groups already merged (an image bears their first
        bracket's name) are skipped; registrations whose answer was lost are never
        uploaded and never grouped."""
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
        order = self.client.get_order(order_id)  # NotFoundError before any upload
        self.record(order, notify=False)
        result = BracketsResult(grouping)
        merged_names = {
            i.get("image_name") for i in order.get("images") or [] if isinstance(i, dict)
        }
        todo = []
        for group in grouping.accepted:
            if group.name in merged_names:
                result.already_merged.append(group.name)
            else:
                todo.append(group)
        known = _uploaded_by_file(self.client.list_brackets(order_id)) if todo else {}
        ids: dict[tuple[int, int], str] = {}
        sends: list[tuple[int, int, Shot]] = []
        for group in todo:
            for k, shot in enumerate(group.shots):
                found = known.get((shot.name, shot.size))
                if found:
                    ids[(group.number, k)] = found.pop(0)
                    result.reused += 1
                else:
                    sends.append((group.number, k, shot))
        uploads = BatchResult(total=len(sends), verb="uploaded")
        result.uploads = uploads

        def one(item: tuple[int, int, Shot]) -> dict[str, Any]:
            number, _, shot = item
            return self.client.upload_bracket(
                order_id, shot.path, name=shot.name, metadata=shot.metadata(number)
            )

        def record(index: int, bracket: dict[str, Any]) -> None:
            number, k, _ = sends[index]
            with self._lock:
                ids[(number, k)] = bracket["bracket_id"]

        def progressed(done: int, total: int, _: Any) -> None:
            if on_progress is not None:
                on_progress(done, total, "")

        bar = _bar(len(sends), "Uploading brackets", "bracket") if progress and sends else None
        try:
            fan_out(
                sends,
                one,
                workers=workers,
                result=uploads,
                record=record,
                describe=lambda item: {"source": str(item[2].path), "group": item[0]},
                progress=bar,
                on_progress=progressed,
                thread_name="autoenhance-bracket",
            )
        finally:
            if bar is not None:
                bar.close()
        if not uploads.ok or not todo:
            if not todo:
                result.order = order
            return result
        result.groups = [[ids[(g.number, k)] for k in range(len(g.shots))] for g in todo]
        result.ignored = _lost_registrations(self.client.list_brackets(order_id), result.groups)
        answer = self.client.process_order(order_id, groups=result.groups, **(options or {}))
        result.order = answer
        self._note_groups(order_id, todo)
        self.record(answer)
        return result

    def merged_images(self, order_id: str | None = None) -> pd.DataFrame:
        """``images_df`` with the brackets each merged image was made from (as grouped
        by this session: the API's image answers do not say). ``order_id``: one order."""
        images = self.images_df
        if order_id is not None:
            images = images[images["order_id"] == order_id]
        with self._lock:
            known = dict(_groups_of(self))
        files = [
            known.get((o, n)) for o, n in zip(images["order_id"], images["image_name"], strict=True)
        ]
        images = images.assign(
            brackets=pd.array([len(f) if f else pd.NA for f in files], dtype="Int64"),
            bracket_files=pd.array([", ".join(f) if f else pd.NA for f in files], dtype="string"),
        )
        return images.reset_index(drop=True)

    def _note_groups(self, order_id: str, groups: list[Any]) -> None:
        with self._lock:
            store = _groups_of(self)
            for group in groups:
                store[(order_id, group.name)] = [s.name for s in group.shots]


def _groups_of(tracker: Any) -> dict[tuple[str, str], list[str]]:
    """The session's record of which files each merged image came from."""
    store = tracker.__dict__.get("_bracket_groups")
    if store is None:
        store = tracker.__dict__["_bracket_groups"] = {}
    return store


def _uploaded_by_file(brackets: list[dict[str, Any]]) -> dict[tuple[str, int], list[str]]:
    """Uploaded brackets by (file name, size) as their metadata says."""
    found: dict[tuple[str, int], list[str]] = {}
    for b in brackets:
        meta = b.get("metadata") or {}
        if b.get("is_uploaded") and isinstance(meta, dict) and isinstance(meta.get("size"), int):
            found.setdefault((str(b.get("name")), meta["size"]), []).append(b["bracket_id"])
    return found


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


def _bar(total: int, description: str, unit: str) -> Any:
    from tqdm.auto import tqdm  # lazily: tqdm pulls in ipywidgets' front-end glue

    return tqdm(total=total, desc=description, unit=unit, leave=True)
