"""The sandbox's in-memory account: one API account's orders, images, brackets and
reports, guarded by one lock, and the status model that moves them on as time passes.

The parts, one private module each: ``_records`` (the dataclasses and exceptions),
``_status`` (the stores and the status model), ``_images``, ``_brackets`` and
``_account`` (the calls on them). Shares no code with the client on purpose, so that
each can check the other.
"""

from ._account import Account, decode_offset, encode_offset
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

__all__ = [
    "LATEST_AI_VERSION",
    "READ_ONLY_IMAGE_FIELDS",
    "Account",
    "Bracket",
    "Conflict",
    "Image",
    "Merge",
    "NameRateLimited",
    "Order",
    "Rejected",
    "Report",
    "Snapshot",
    "decode_offset",
    "encode_offset",
    "iso",
    "sniff_image_type",
    "writable",
]
