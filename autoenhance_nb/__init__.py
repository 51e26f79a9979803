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

from .batch import BatchResult, Failure
from .client import AutoenhanceClient
from .client import __version__ as __version__
from .errors import (
    AuthenticationError,
    AutoenhanceError,
    ConflictError,
    MissingApiKeyError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from .ids import validate_order_id
from .session import current_context, reset_session, session, use_live, use_sandbox
from .table import read_orders_csv
from .tracker import OrderTracker

# A library logs, the application decides whether to show it.
logging.getLogger("autoenhance_nb").addHandler(logging.NullHandler())

__all__ = [
    "AutoenhanceClient",
    "OrderTracker",
    "BatchResult",
    "Failure",
    "OrderForm",
    "OrderGallery",
    "Sandbox",
    "session",
    "current_context",
    "use_live",
    "use_sandbox",
    "reset_session",
    "read_orders_csv",
    "validate_order_id",
    "MissingApiKeyError",
    "AutoenhanceError",
    "AuthenticationError",
    "NotFoundError",
    "ValidationError",
    "ConflictError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "load_ipython_extension",
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    if name == "OrderForm":
        from .widgets import OrderForm

        return OrderForm
    if name == "OrderGallery":
        from .gallery import OrderGallery

        return OrderGallery
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
