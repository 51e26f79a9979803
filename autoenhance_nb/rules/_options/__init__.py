"""The enhancement options of an image, described by the spec (one source of truth).

``OPTIONS`` is read at import from the package's ``spec/autoenhance-v3.openapi.json``
(schema ``ImageIn``): each option's type, allowed values, nullability, default and
range. Every front end checks options here BEFORE any request:

    check_options({"enhance_type": "warn"})
    # ValidationError: Invalid option enhance_type='warn': use one of property,
    #   property_usa, warm, neutral, modern (did you mean 'warm'?)

Options the spec does not know are passed through with an ``UnknownOptionWarning``
(the API adds options over time), as long as they are plain JSON of a sane size.
Presets are named option sets: ``presets["exterior"]``, ``define_preset(name, **opts)``.
"""

# Besides ``__all__``, the spec's tables, the limits and the helpers stay reachable as
# ``autoenhance_nb.options.X`` (the names marked ``as``).
from ._checks import NAME as NAME
from ._checks import UnknownOptionWarning, check_download_query, check_options, check_report
from ._presets import Presets as Presets
from ._presets import SessionOptions as SessionOptions
from ._presets import define_preset, merge_options, presets
from ._spec import DOWNLOAD_FORMATS, OPTIONS, REPORT_CATEGORIES, Option
from ._spec import DOWNLOAD_PARAMS as DOWNLOAD_PARAMS
from ._spec import LEGACY_OPTIONS as LEGACY_OPTIONS
from ._spec import NOT_OPTIONS as NOT_OPTIONS
from ._spec import READ_ONLY as READ_ONLY
from ._spec import REPORT_CATEGORY_LABELS as REPORT_CATEGORY_LABELS
from ._spec import REPORT_SCORE as REPORT_SCORE
from ._spec import SPEC_FILE as SPEC_FILE
from ._spec import image_options as image_options
from ._spec import load_spec as load_spec
from ._text import parse_assignment, parse_option
from ._values import MAX_DEPTH as MAX_DEPTH
from ._values import MAX_ITEMS as MAX_ITEMS
from ._values import MAX_JSON as MAX_JSON
from ._values import MAX_TEXT as MAX_TEXT
from ._values import did_you_mean as did_you_mean
from ._values import json_problem as json_problem

__all__ = [
    "Option",
    "OPTIONS",
    "REPORT_CATEGORIES",
    "DOWNLOAD_FORMATS",
    "UnknownOptionWarning",
    "check_options",
    "check_download_query",
    "check_report",
    "merge_options",
    "presets",
    "define_preset",
    "parse_option",
    "parse_assignment",
]
