"""The rules of the domain, with no HTTP and no state: order and image ids, the
enhancement options read from the spec, what a photo may be and how a local file is
named. The HDR grouping (which needs pandas) is the public module ``rules.brackets``,
not imported here, so the client layer stays free of pandas."""

from ._ids import MAX_ID_LENGTH, order_id_problem, validate_image_id, validate_order_id
from ._options import (
    OPTIONS,
    REPORT_CATEGORIES,
    REPORT_CATEGORY_LABELS,
    SessionOptions,
    check_download_query,
    check_options,
    check_report,
    image_options,
    merge_options,
    parse_assignment,
    presets,
)
from ._photos import ImageSource, image_format, image_link, safe_filename, stream_to_file

__all__ = [
    "MAX_ID_LENGTH",
    "OPTIONS",
    "REPORT_CATEGORIES",
    "REPORT_CATEGORY_LABELS",
    "ImageSource",
    "SessionOptions",
    "check_download_query",
    "check_options",
    "check_report",
    "image_format",
    "image_link",
    "image_options",
    "merge_options",
    "order_id_problem",
    "parse_assignment",
    "presets",
    "safe_filename",
    "stream_to_file",
    "validate_image_id",
    "validate_order_id",
]
