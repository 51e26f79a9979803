"""``ClientOptions``: every setting of how the client talks to the API, in one place.

The client's keyword arguments, the session's ``session(**options)`` and the magic's
traits all become one of these; the transport reads it on every attempt, so a change
(``client.timeout = 5``) takes effect at once. Where the API is and the key are not
options: they are the client's own arguments (the key never sits in a plain object).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ClientOptions", "API_VERSION", "DEFAULT_TIMEOUT", "MAX_RETRY_AFTER", "MAX_JSON_BYTES"]

DEFAULT_TIMEOUT = 30.0
#: A 429 asking to wait longer than this (e.g. the API's hourly limit on uploads with
#: one file name) is reported at once instead of waited out.
MAX_RETRY_AFTER = 30.0
#: The API version whose response shapes this client is written for (the one the
#: official SDK 1.1.0 pins). Without it the account's pinned version answers, and older
#: versions shape images differently (API-NOTES section 1).
API_VERSION = "2025-05-08"
MAX_JSON_BYTES = 32 * 1024 * 1024


@dataclass
class ClientOptions:
    """How a client talks to the API.

        options = ClientOptions(timeout=10, max_retries=5)
        AutoenhanceClient(options=options)           # or AutoenhanceClient(timeout=10, ...)
        autoenhance_nb.session(options=options)

    timeout: seconds for each attempt's whole answer.
    max_retries: extra attempts after a 429, 5xx, timeout or dropped connection.
    backoff_factor, backoff_max: exponential backoff between attempts (seconds), with
        up to ``backoff_factor`` of random jitter on top.
    max_retry_after: a 429 asking to wait longer is reported at once (RateLimitError).
    pool_maxsize: connections kept open to one host (a batch raises it to its threads).
    api_version: sent as ``x-api-version`` on API calls (None: the account's default).
    proxies: e.g. ``{"https": "http://proxy:3128"}``; default: read once from the
        environment (HTTPS_PROXY, NO_PROXY, ...) when the client is built.
    tls_verify: True, False or a CA bundle path; default: ``REQUESTS_CA_BUNDLE`` or
        ``CURL_CA_BUNDLE`` if set, else the system's certificates.
    rate_limit: requests a second for all of one client's calls together (a token
        bucket that also slows down on 429s); default: the API's documented 300/s for
        the live API, none for a sandbox; ``0`` turns it off.
    dev_mode: send ``x-dev-mode: true``: the API's free, watermarked test processing.
    max_json_bytes: the largest JSON answer read (decoded).
    """

    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = 3
    backoff_factor: float = 0.25
    backoff_max: float = 8.0
    max_retry_after: float = MAX_RETRY_AFTER
    pool_maxsize: int = 32
    api_version: str | None = API_VERSION
    # not in the repr: a proxy URL can carry a user name and password
    proxies: Mapping[str, str] | None = field(default=None, repr=False)
    tls_verify: bool | str | None = None
    rate_limit: float | None = None
    dev_mode: bool = False
    max_json_bytes: int = MAX_JSON_BYTES

    @classmethod
    def build(cls, options: ClientOptions | None = None, /, **changes: Any) -> ClientOptions:
        """A new ``ClientOptions``: ``options`` (or the defaults) with ``changes``; an
        unknown name is a TypeError that lists the known ones."""
        unknown = sorted(set(changes) - set(cls.names()))
        if unknown:
            raise TypeError(
                f"unknown client option {unknown[0]!r}; the options are: {', '.join(cls.names())}"
            )
        built = dataclasses.replace(options or cls(), **changes)
        if built.proxies is not None:
            built.proxies = dict(built.proxies)  # a copy: one client's change stays its own
        return built

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))
