"""Cutting a shoot's frames into groups (one merged image each), and the plan that
previews them: see the package's notes for the rules."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ... import errors as E
from ...errors import one_line
from ._shots import Shot, read_shot

__all__ = [
    "Group",
    "Grouping",
    "plan_brackets",
    "group_shots",
    "MAX_BRACKETS_PER_IMAGE",
    "DEFAULT_MAX_GAP",
]

#: Most brackets one image may be merged from: the spec and API-NOTES state no limit.
MAX_BRACKETS_PER_IMAGE: int | None = None
#: Seconds between two frames past which the automatic grouping starts a new view.
DEFAULT_MAX_GAP = 2.0
#: Most file names a one-line error lists.
_SHOWN = 5


@dataclass
class Group:
    """Frames that become one image; ``problem`` says why it is refused, if it is."""

    number: int
    shots: list[Shot]
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def name(self) -> str:
        """The merged image's name: its first bracket's (API-NOTES section 3)."""
        return self.shots[0].name


@dataclass
class Grouping:
    """The plan for a shoot: its groups (refused ones with their reason) and warnings.
    ``df`` is the preview; ``accepted`` the groups that will be uploaded."""

    groups: list[Group]
    mode: str
    warnings: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> list[Group]:
        return [g for g in self.groups if g.ok]

    @property
    def refused(self) -> list[Group]:
        return [g for g in self.groups if not g.ok]

    @property
    def files(self) -> int:
        return sum(len(g.shots) for g in self.groups)

    def summary(self) -> str:
        text = (
            f"{self.files} files in {len(self.groups)} groups ({self.mode}): "
            f"{len(self.accepted)} to merge, {len(self.refused)} refused"
        )
        return text

    @property
    def df(self) -> pd.DataFrame:
        rows = []
        for g in self.groups:
            times = [s.taken for s in g.shots if s.taken is not None]
            rows.append(
                {
                    "group": g.number,
                    "image": g.name,
                    "brackets": len(g.shots),
                    "files": ", ".join(s.name for s in g.shots),
                    "exposures": ", ".join(s.describe() for s in g.shots),
                    "captured": min(times).isoformat(sep=" ") if times else None,
                    "camera": ", ".join(sorted({s.camera or "?" for s in g.shots})),
                    "status": "ok" if g.ok else f"refused: {g.problem}",
                }
            )
        columns = ["group", "image", "brackets", "files", "exposures", "captured", "camera"]
        frame = pd.DataFrame(rows, columns=[*columns, "status"])
        return frame.astype({"group": "int64", "brackets": "int64"})

    def _repr_html_(self) -> str:
        from ...display import frame_html, html, join

        notes = join(html("<p>⚠ {}</p>", w) for w in self.warnings)
        frame = frame_html(self.df)
        return html("<p>{}</p>{}{}", self.summary(), notes, frame)

    def __repr__(self) -> str:
        return f"<Grouping {self.summary()}>"


def plan_brackets(
    paths: Any, per_image: int | str | None = "auto", max_gap: float = DEFAULT_MAX_GAP
) -> Grouping:
    """Read every file (a list of paths, or one glob pattern) and group them. Any file
    that cannot be read refuses the whole plan with one line naming it."""
    files = _files(paths)
    if not files:
        raise E.ValidationError("No bracket files given", fields={"paths": ["empty"]})
    shots: list[Shot] = []
    problems: list[str] = []
    for path in files:
        try:
            shots.append(read_shot(path))
        except E.ValidationError as exc:
            problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise E.ValidationError(
            f"{len(problems)} of {len(files)} bracket files refused, nothing sent: "
            + "; ".join(problems[:_SHOWN])
            + more,
            fields={"paths": problems},
        )
    return group_shots(shots, per_image, max_gap)


def group_shots(
    shots: list[Shot], per_image: int | str | None = "auto", max_gap: float = DEFAULT_MAX_GAP
) -> Grouping:
    """Group frames already read (see the module's notes for the rules)."""
    mode = _mode(per_image)
    warnings: list[str] = []
    undated = [s.name for s in shots if s.taken is None]
    if undated:
        ordered = sorted(shots, key=lambda s: s.name)
        warnings.append(
            f"{len(undated)} of {len(shots)} files have no EXIF capture time "
            f"({_names(undated)}): the shoot is taken in file-name order"
        )
    else:
        ordered = sorted(shots, key=lambda s: (s.taken, s.name))
    insane = [s for s in ordered if s.exif_problems]
    if insane:
        warnings.append(
            f"{len(insane)} of {len(shots)} files have an EXIF exposure that is not a usable "
            f"number ({_names([f'{s.name}: {s.exif_problems[0]}' for s in insane])}): "
            f"treated as missing"
        )
    if isinstance(mode, int):
        runs = [ordered[i : i + mode] for i in range(0, len(ordered), mode)]
        groups = [Group(n, run) for n, run in enumerate(runs, start=1)]
    else:
        groups = _auto(ordered, max_gap, warnings)
    for group in groups:
        if group.problem is None:
            group.problem = _problem(group.shots)
    return Grouping(groups, "auto" if mode == "auto" else f"{mode} per image", warnings)


def _auto(ordered: list[Shot], max_gap: float, warnings: list[str]) -> list[Group]:
    runs: list[list[Shot]] = []
    blind: list[Shot] = []
    for shot in ordered:
        if shot.exposure is None and shot.taken is None:
            blind.append(shot)
            continue
        if not runs or _new_view(runs[-1], shot, max_gap):
            runs.append([shot])
            continue
        run = runs[-1]
        repeated = [
            k
            for k, s in enumerate(run)
            if shot.exposure is not None and s.exposure == shot.exposure
        ]
        if not repeated:
            run.append(shot)
            continue
        # The exposure sequence started again somewhere after the repeated value's frame:
        # the next view begins at the longest pause since then (else at this frame).
        cut = _longest_pause([*run, shot], repeated[-1] + 1)
        runs[-1], moved = run[:cut], run[cut:]
        runs.append([*moved, shot])
    groups = [Group(n, run) for n, run in enumerate(runs, start=1)]
    if blind:
        warnings.append(
            f"{len(blind)} files have no EXIF exposure or capture time "
            f"({_names([s.name for s in blind])}): give per_image=N to group them"
        )
        for shot in blind:
            groups.append(
                Group(
                    len(groups) + 1,
                    [shot],
                    "no EXIF exposure or capture time to group it by (use per_image=N)",
                )
            )
    return groups


def _new_view(run: list[Shot], shot: Shot, max_gap: float) -> bool:
    """A camera change or a pause longer than ``max_gap``: a new view for sure."""
    last = run[-1]
    if shot.camera and last.camera and shot.camera != last.camera:
        return True
    if shot.taken is not None and last.taken is not None:
        return (shot.taken - last.taken).total_seconds() > max_gap
    return False


def _longest_pause(frames: list[Shot], first: int) -> int:
    """The index in ``frames[first:]`` that follows the longest pause (the last
    frame's index when the times are unknown or tie)."""
    best, cut = -1.0, len(frames) - 1
    for j in range(first, len(frames)):
        before, after = frames[j - 1].taken, frames[j].taken
        if before is None or after is None:
            continue
        pause = (after - before).total_seconds()
        if pause > best or (pause == best and j > cut):
            best, cut = pause, j
    return cut


def _problem(shots: list[Shot]) -> str | None:
    if len(shots) < 2:
        return (
            f"a single frame ({one_line(shots[0].name)}): HDR needs 2 or more exposures "
            f"of the view (upload it as a photo instead)"
        )
    cameras = sorted({s.camera for s in shots if s.camera})
    if len(cameras) > 1:
        return f"mixes cameras ({', '.join(one_line(c) for c in cameras)})"
    if MAX_BRACKETS_PER_IMAGE is not None and len(shots) > MAX_BRACKETS_PER_IMAGE:
        return f"{len(shots)} brackets; the API takes at most {MAX_BRACKETS_PER_IMAGE} per image"
    return None


def _mode(per_image: int | str | None) -> int | str:
    if per_image is None or per_image == "auto":
        return "auto"
    if isinstance(per_image, str) and per_image.strip().isdigit():
        per_image = int(per_image)
    if isinstance(per_image, bool) or not isinstance(per_image, int) or per_image < 2:
        raise E.ValidationError(
            f"Invalid per_image: 'auto' or a whole number of 2 or more, not "
            f"{one_line(per_image)!r}",
            fields={"per_image": ["'auto' or 2 or more"]},
        )
    return per_image


def _files(paths: Any) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        text = os.path.expanduser(os.fspath(paths))
        if any(c in text for c in "*?["):
            import glob

            return [Path(p) for p in sorted(glob.glob(text, recursive=True))]
        return [Path(text)]
    return [Path(p) for p in paths]


def _names(names: list[str]) -> str:
    shown = ", ".join(one_line(n) for n in names[:_SHOWN])
    return shown + (f", and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
