"""``Account``: one API account's data, as the real API would hold it, made of a
``Store`` (the records, the lock, the status model) and the calls on it, one object
per resource: ``orders``, ``images`` and ``brackets``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .._settings import SandboxSettings
from ._brackets import Brackets
from ._images import Images
from ._orders import Orders
from ._store import Store


class Account:
    """``Account(settings, same_name_per_hour=30, clock=time.time)``: the processing
    and merging times and the daily limit are read from ``settings`` as they change."""

    def __init__(
        self,
        settings: SandboxSettings,
        *,
        same_name_per_hour: int = 30,
        clock: Callable[[], float] = time.time,
    ):
        self.store = Store(settings, same_name_per_hour, clock)
        self.orders = Orders(self.store)
        self.images = Images(self.store)
        self.brackets = Brackets(self.store)

    def clear(self) -> None:
        """Forget every order, image, bracket and report (and the hourly name counts
        and the day's image count)."""
        self.store.clear()
