"""The session's state: ``OrderTracker`` (the table, change callbacks, CSV) and its
operations (orders, photos, HDR brackets), the one fan-out for batches, and the table
package. Imports no widgets and no magics."""

from ._batch import BatchResult, Failure, fan_out
from ._brackets import BracketsResult
from ._photos import set_gallery_factory
from ._tracker import OrderTracker, TableState
from .table import read_orders_csv

__all__ = [
    "BatchResult",
    "BracketsResult",
    "Failure",
    "OrderTracker",
    "TableState",
    "fan_out",
    "read_orders_csv",
    "set_gallery_factory",
]
