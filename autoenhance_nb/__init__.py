"""autoenhance_nb: a Jupyter toolkit for the Autoenhance.ai API.

    %load_ext autoenhance_nb
    %autoenhance_order "Kitchen – 12 Rue Oberkampf"

or from Python::

    import autoenhance_nb as ae
    ae.session().create("Kitchen")
    ae.session().df

Heavy parts (the sandbox server, the widgets, tqdm) load when first used.
"""

from __future__ import annotations

import logging
from typing import Any

from .client import AutoenhanceClient, validate_order_id
from .errors import (AuthenticationError, AutoenhanceError, ConflictError, NotFoundError,
                     RateLimitError, ServerError, TransportError, ValidationError)
from .session import reset_session, session, use_live
from .tracker import BatchResult, OrderTracker, read_orders_csv

__version__ = "0.1.0"

# A library logs, the application decides whether to show it.
logging.getLogger("autoenhance_nb").addHandler(logging.NullHandler())

__all__ = [
    "AutoenhanceClient", "OrderTracker", "BatchResult", "OrderForm", "Sandbox", "session",
    "use_live", "reset_session", "read_orders_csv", "validate_order_id",
    "AutoenhanceError", "AuthenticationError", "NotFoundError", "ValidationError",
    "ConflictError", "RateLimitError", "ServerError", "TransportError",
    "load_ipython_extension", "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    if name == "OrderForm":
        from .widgets import OrderForm
        return OrderForm
    if name == "Sandbox":
        from .sandbox import Sandbox
        return Sandbox
    raise AttributeError(f"module 'autoenhance_nb' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    from .magics import load_ipython_extension as load
    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .magics import unload_ipython_extension as unload
    unload(ipython)
