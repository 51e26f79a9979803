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

from ._session import current_context, reset_session, session, use_live, use_sandbox
from .api import AutoenhanceClient
from .api import __version__ as __version__
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
from .rules import _options as options
from .rules import brackets, validate_order_id
from .tracker import (
    BatchResult,
    Failure,
    OrderTracker,
    set_gallery_factory,
    set_progress_bar_factory,
)
from .tracker.table import read_orders_csv


def _open_gallery(order_id: str, tracker: OrderTracker, **kwargs: Any) -> Any:
    from .widgets.gallery import OrderGallery  # lazily: widgets load when first used

    return OrderGallery(order_id, tracker, **kwargs)


def _progress_bar(total: int, description: str, unit: str) -> Any:
    from .widgets._progress import progress_bar  # lazily, as tqdm and widgets

    return progress_bar(total, description, unit)


# The package is where the layers meet: ``tracker.gallery(...)`` opens the widget made
# here, and the tracker's progress bars are the widgets' (the tracker itself imports no
# widgets and no IPython).
set_gallery_factory(_open_gallery)
set_progress_bar_factory(_progress_bar)

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
    "brackets",
    "options",
    "load_ipython_extension",
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    if name == "OrderForm":
        from .widgets import OrderForm

        return OrderForm
    if name == "OrderGallery":
        from .widgets.gallery import OrderGallery

        return OrderGallery
    if name == "Sandbox":
        from .sandbox import Sandbox

        return Sandbox
    raise AttributeError(f"module 'autoenhance_nb' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    from .magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .magic import unload_ipython_extension as unload

    unload(ipython)
