"""The session's state: ``OrderTracker`` (a core holding the table, the lock and the
change callbacks, with order, photo and HDR bracket operations around it), the one
fan-out for batches, and the table package. Imports no widgets and no magics."""

from ._batch import BatchResult, Failure, FanOut, fan_out
from ._brackets import BracketsResult
from ._core import TableState
from ._journal import Journal, journal_path
from ._recall import NOT_ADOPTED
from ._tracker import OrderTracker, set_gallery_factory
from .table import read_orders_csv

__all__ = [
    "NOT_ADOPTED",
    "BatchResult",
    "BracketsResult",
    "Failure",
    "FanOut",
    "Journal",
    "OrderTracker",
    "TableState",
    "fan_out",
    "journal_path",
    "read_orders_csv",
    "set_gallery_factory",
]
