"""The session's state: ``OrderTracker`` (a core holding the table, the lock and the
change callbacks, with order, photo and HDR bracket operations around it), the one
fan-out for batches, the table package, and webhook events into the table (``Events``,
``WebhookListener``, ``EventLog``, ``EventFollower``). Imports no widgets and no magics."""

from ._batch import BatchResult, Failure, FanOut, fan_out, set_progress_bar_factory
from ._brackets import BracketsResult
from ._core import TableState
from ._eventlog import EventLog
from ._events import Events, Refused, WebhookEvent, receive
from ._journal import Journal, journal_path
from ._listener import EventFollower, WebhookListener
from ._recall import NOT_ADOPTED
from ._tracker import OrderTracker, set_gallery_factory
from .table import read_orders_csv

__all__ = [
    "NOT_ADOPTED",
    "BatchResult",
    "BracketsResult",
    "EventFollower",
    "EventLog",
    "Events",
    "Failure",
    "FanOut",
    "Journal",
    "OrderTracker",
    "Refused",
    "TableState",
    "WebhookEvent",
    "WebhookListener",
    "fan_out",
    "journal_path",
    "read_orders_csv",
    "receive",
    "set_gallery_factory",
    "set_progress_bar_factory",
]
