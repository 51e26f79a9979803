"""The session's state: ``OrderTracker`` (a core holding the table, the lock and the
change callbacks, with order, photo and HDR bracket operations around it), the one
fan-out for batches, and the table package. Imports no widgets and no magics."""

from ._batch import BatchResult, Failure, FanOut, fan_out, set_progress_bar_factory
from ._brackets import BracketsResult
from ._core import TableState
from ._tracker import OrderTracker, set_gallery_factory
from .table import read_orders_csv

__all__ = [
    "BatchResult",
    "BracketsResult",
    "Failure",
    "FanOut",
    "OrderTracker",
    "TableState",
    "fan_out",
    "read_orders_csv",
    "set_gallery_factory",
    "set_progress_bar_factory",
]
