"""The client layer: HTTP to the Autoenhance API (or the sandbox), retries, pacing,
typed errors, the key holder. Imports no pandas, no widgets and no tracker."""

from ._brackets import CLIENT_REF
from ._client import AutoenhanceClient, __version__, check_base_url
from ._keys import ApiKey, hide_key
from ._transport import Cancelled, cancel_scope

__all__ = [
    "AutoenhanceClient",
    "ApiKey",
    "CLIENT_REF",
    "Cancelled",
    "__version__",
    "cancel_scope",
    "check_base_url",
    "hide_key",
]
