"""The sandbox's in-memory account: one API account's orders, images, brackets and
reports, guarded by one lock, and the status model that moves them on as time passes.

The parts, one private module each: ``_records`` (the dataclasses and exceptions),
``_store`` (the stores, the lock and the status model), ``_orders``, ``_images`` and
``_brackets`` (the calls on them, each given the store) and ``_account`` (``Account``,
which holds the store and one calls object per resource). Shares no code with the
client on purpose, so that each can check the other.
"""

from ._account import Account
from ._brackets import Brackets
from ._images import Images
from ._orders import Orders, decode_offset, encode_offset
from ._records import (
    LATEST_AI_VERSION,
    READ_ONLY_IMAGE_FIELDS,
    Bracket,
    Conflict,
    Image,
    Merge,
    NameRateLimited,
    Order,
    Rejected,
    Report,
    Snapshot,
    iso,
    sniff_image_type,
    writable,
)
from ._store import Store

__all__ = [
    "LATEST_AI_VERSION",
    "READ_ONLY_IMAGE_FIELDS",
    "Account",
    "Bracket",
    "Brackets",
    "Conflict",
    "Image",
    "Images",
    "Merge",
    "NameRateLimited",
    "Order",
    "Orders",
    "Rejected",
    "Report",
    "Snapshot",
    "Store",
    "decode_offset",
    "encode_offset",
    "iso",
    "sniff_image_type",
    "writable",
]
