"""The ipywidgets front ends: the order form and its parts (the photo drop zone among
them), the gallery (``gallery/``), the widget kit (background actions, the
auto-refresh, ``SafeHTML``, closing a tree of models) and the export folder."""

from ._drop import DropZone
from ._exports import ExportFolder, download_link
from ._form import OrderForm
from ._kit import (
    AutoRefresher,
    BackgroundActions,
    SafeHTML,
    auto_layout,
    close_parts,
    close_tree,
    error_message,
    field_layout,
    row,
    weak_method,
)
from ._options import EnhancementOptions

__all__ = [
    "AutoRefresher",
    "BackgroundActions",
    "DropZone",
    "EnhancementOptions",
    "ExportFolder",
    "OrderForm",
    "SafeHTML",
    "auto_layout",
    "close_parts",
    "close_tree",
    "download_link",
    "error_message",
    "field_layout",
    "row",
    "weak_method",
]
