"""Named option sets (``presets["exterior"]``, ``define_preset(name, **opts)``), a
session's default options, and the merge of option layers."""

from __future__ import annotations

import re
from collections import UserDict
from collections.abc import Mapping
from typing import Any

from ...errors import ValidationError, one_line
from ._checks import check_options
from ._values import did_you_mean

__all__ = ["Presets", "presets", "define_preset", "SessionOptions", "merge_options"]


class Presets(UserDict[str, dict[str, Any]]):
    """Named option sets; each checked when defined (``presets["mine"] = {...}``)."""

    def __setitem__(self, name: str, options: Mapping[str, Any]) -> None:
        if not isinstance(name, str) or not re.fullmatch(r"[\w.-]{1,40}", name):
            raise ValidationError(
                f"Invalid preset name {one_line(repr(name), 40)}: use 1-40 letters, "
                f"digits, '_', '.' or '-'"
            )
        super().__setitem__(name, check_options(options, f"option in preset {name!r}"))

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self.data:
            hint = did_you_mean(name, self.data) if isinstance(name, str) else ""
            raise ValidationError(
                f"Unknown preset {one_line(repr(name), 40)}: use one of "
                f"{', '.join(self.data)}{hint}",
                fields={"preset": ["unknown"]},
            )
        return dict(self.data[name])


#: Built-in presets: every value is one the spec lists.
presets = Presets(
    {
        "standard": {
            "enhance_type": "neutral",
            "lens_correction": True,
            "vertical_correction": True,
        },
        "warm": {"enhance_type": "warm"},
        "exterior": {"sky_replacement": True, "cloud_type": "LOW_CLOUD"},
        "interior": {"enhance_type": "neutral", "window_pull": True},
        "privacy": {"privacy": True},
        "panorama": {"threesixty": True},
    }
)


class SessionOptions(UserDict[str, Any]):
    """Options every photo of a session gets unless a call says otherwise
    (``tracker.default_options``); each checked when set."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, check_options({name: value})[name])


def define_preset(name: str, **options: Any) -> dict[str, Any]:
    """Add (or replace) a named preset; returns its options."""
    presets[name] = options
    return presets[name]


def merge_options(
    *layers: Mapping[str, Any] | None, preset: str | None = None, what: str = "option"
) -> dict[str, Any]:
    """``layers`` merged left to right (session defaults first, the call's own last),
    with ``preset`` just below the last layer (the call's own); checked."""
    merged: dict[str, Any] = {}
    ordered = list(layers)
    if preset is not None:
        ordered.insert(max(len(ordered) - 1, 0), presets[preset])
    for layer in ordered:
        merged.update(check_options(layer, what) if layer else {})
    return check_options(merged, what) if merged else {}
