"""The client layer: HTTP to the Autoenhance API (or the sandbox), retries, pacing,
typed errors, the key holder. Imports no pandas, no widgets and no tracker.

``AutoenhanceClient`` builds its services (``orders``, ``images``, ``brackets``) around
one ``Transport``, set by one ``ClientOptions``; ``RetryPolicy`` decides the retries.
"""

from ._brackets import CLIENT_REF, BracketService
from ._client import AutoenhanceClient, __version__, check_base_url
from ._images import ImageService
from ._keys import ApiKey, hide_key
from ._options import ClientOptions
from ._orders import OrderService
from ._retry import RetryPolicy
from ._transport import Cancelled, Transport, cancellable, pause

__all__ = [
    "AutoenhanceClient",
    "ApiKey",
    "BracketService",
    "CLIENT_REF",
    "Cancelled",
    "ClientOptions",
    "ImageService",
    "OrderService",
    "RetryPolicy",
    "Transport",
    "__version__",
    "cancellable",
    "pause",
    "check_base_url",
    "hide_key",
]
