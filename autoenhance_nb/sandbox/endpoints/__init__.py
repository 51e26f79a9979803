"""The sandbox's endpoints, one private module per resource: ``_orders``, ``_images``,
``_downloads`` and ``_brackets``, on what they share in ``_base`` (the API's error
shapes, body readers, pre-signed upload URLs); ``_validation`` checks request bodies in
marshmallow's words.
"""

from ._base import REASONS, ApiError, Endpoints, Invalid, Route, json_response
from ._brackets import BracketEndpoints
from ._downloads import RENDER_CACHE_SIZE, DownloadEndpoints
from ._images import ImageEndpoints
from ._orders import (
    DUPLICATE_ORDER_MESSAGE,
    DUPLICATE_ORDER_STATUS,
    MAX_ORDER_ID_LENGTH,
    OrderEndpoints,
)

__all__ = [
    "DUPLICATE_ORDER_MESSAGE",
    "DUPLICATE_ORDER_STATUS",
    "MAX_ORDER_ID_LENGTH",
    "REASONS",
    "RENDER_CACHE_SIZE",
    "ApiError",
    "BracketEndpoints",
    "DownloadEndpoints",
    "Endpoints",
    "ImageEndpoints",
    "Invalid",
    "OrderEndpoints",
    "Route",
    "json_response",
]
