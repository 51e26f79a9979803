"""Grouping an HDR shoot into brackets, before anything is uploaded. Pure functions
over local files: no HTTP.

A bracketed shoot is a run of frames of one view at different exposures, then the next
view. ``plan_brackets`` reads each file's EXIF (Pillow) and cuts the run into groups:

- ``per_image=N``: every N consecutive files, in capture order;
- ``"auto"`` (default): a new group starts when the exposure sequence starts again (the
  exposure bias, or exposure time, comes back to the group's first value or repeats
  one), when more than ``max_gap`` seconds pass between two frames, or when the camera
  changes. A folder of mixed 3- and 5-bracket views groups correctly.

Capture order is the EXIF capture time (``DateTimeOriginal`` and its sub-seconds);
files without one put the whole shoot in file-name order, with a warning.

Refused before any request: files that cannot be read or are not images (the whole
plan: a missing frame would shift every group after it), and per group, with its
reason shown in the preview: a group of one frame, a group mixing cameras, a group of
more frames than the API takes (``MAX_BRACKETS_PER_IMAGE``; the spec and the notes give
no limit, so none), and frames the automatic grouping cannot place (no EXIF exposure
and no capture time).
"""

from ._grouping import (
    DEFAULT_MAX_GAP,
    MAX_BRACKETS_PER_IMAGE,
    Group,
    Grouping,
    group_shots,
    plan_brackets,
)
from ._shots import Shot, read_shot

__all__ = [
    "Shot",
    "Group",
    "Grouping",
    "read_shot",
    "plan_brackets",
    "group_shots",
    "MAX_BRACKETS_PER_IMAGE",
    "DEFAULT_MAX_GAP",
]
