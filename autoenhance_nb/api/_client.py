"""``AutoenhanceClient``: configuration and one method per endpoint of the Autoenhance v3
API. HTTP itself (retries, timeouts, errors) lives in ``_http``; photo files in
``photos``. Imports no pandas and no widgets, and never puts the API key in anything.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import uuid
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any
from urllib.parse import quote, urlsplit

from .. import errors as E
from ..errors import one_line, unexpected_shape
from ..rules import validate_order_id
from ._brackets import BracketEndpoints
from ._images import ImageEndpoints
from ._keys import ApiKey, hide_key
from ._ratelimit import DOCUMENTED_RATE, RateLimiter
from ._transport import Transport

__all__ = ["AutoenhanceClient", "DEFAULT_BASE_URL", "environment_of", "check_base_url"]

DEFAULT_BASE_URL = "https://api.autoenhance.ai"
DEFAULT_TIMEOUT = 30.0
#: A 429 asking to wait longer than this (e.g. the API's hourly limit on uploads with
#: one file name) is reported at once instead of waited out.
MAX_RETRY_AFTER = 30.0
#: Listing stops after this many pages unless told otherwise (a server handing out
#: fresh page tokens forever must not hold a session).
MAX_PAGES = 2_000
#: Consecutive pages shorter than asked for that still offer a next page: a real API
#: fills every page but the last, so this many means the paging is broken.
MAX_SHORT_PAGES = 20
#: The API version whose response shapes this client is written for (the one the
#: official SDK 1.1.0 pins). Without it the account's pinned version answers, and older
#: versions shape images differently (API-NOTES section 1).
API_VERSION = "2025-05-08"

try:
    __version__ = _dist_version("autoenhance-nb")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
USER_AGENT = f"autoenhance-nb/{__version__}"

log = logging.getLogger("autoenhance_nb")


def environment_of(base_url: str) -> str:
    """ "sandbox" for an API on this machine (loopback), else "live"."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return "sandbox"
    try:
        return "sandbox" if ipaddress.ip_address(host).is_loopback else "live"
    except ValueError:
        return "live"


def check_base_url(url: Any) -> str:
    """``url`` without a trailing slash, if it is an http(s) URL; else a ValueError."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise E.ValidationError(
            f"base_url must be an http(s) URL such as "
            f"https://api.autoenhance.ai, got {one_line(url)!r}",
            fields={"base_url": ["must be an http(s) URL"]},
        )
    return url.rstrip("/")


class AutoenhanceClient(ImageEndpoints, BracketEndpoints):
    """Talks to the Autoenhance v3 API (or the sandbox).

        client = AutoenhanceClient()               # key and URL from the environment
        order = client.create_order(name="Kitchen")
        client.get_order(order["order_id"])["status"]   # 'waiting'

    api_key: the argument, else ``AUTOENHANCE_API_KEY`` (checked at once: one line,
        printable, no spaces; the error never shows it).
    base_url: the argument, else ``AUTOENHANCE_BASE_URL``, else the live API.
    timeout: seconds for each attempt's whole answer.
    max_retries: extra attempts after a 429, 5xx, timeout or dropped connection.
    max_retry_after: a 429 asking to wait longer is reported at once (RateLimitError).
    api_version: sent as ``x-api-version`` on API calls (None: the account's default).
    proxies: e.g. ``{"https": "http://proxy:3128"}``; default: read once from the
        environment (HTTPS_PROXY, NO_PROXY, ...) when the client is built.
    rate_limit: requests a second for all of this client's calls together (a token
        bucket that also slows down on 429s); default: the API's documented 300/s for
        the live API, none for a sandbox; ``0`` turns it off.
    dev_mode: send ``x-dev-mode: true``: the API's free, watermarked test processing.
    """

    def __init__(
        self,
        api_key: str | ApiKey | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff_factor: float = 0.25,
        backoff_max: float = 8.0,
        pool_maxsize: int = 32,
        environment: str | None = None,
        api_version: str | None = API_VERSION,
        max_retry_after: float = MAX_RETRY_AFTER,
        proxies: Mapping[str, str] | None = None,
        rate_limit: float | None = None,
        dev_mode: bool = False,
    ):
        # The key is wrapped first, rebinding the argument, so that no frame shown by
        # a verbose traceback (a bad URL below, a failed request later) holds it plainly.
        api_key, problem = _auth(api_key)
        if problem is not None:
            raise E.ValidationError(problem, fields={"api_key": [problem]}) from None
        url = check_base_url(base_url or os.environ.get("AUTOENHANCE_BASE_URL") or DEFAULT_BASE_URL)
        auth = api_key
        self.environment = environment or environment_of(url)
        self._http = Transport(
            url,
            auth,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            pool_maxsize=pool_maxsize,
            api_version=api_version,
            user_agent=USER_AGENT,
            proxies=proxies,
        )
        if rate_limit is None:
            rate_limit = DOCUMENTED_RATE if self.environment == "live" else 0
        self.rate_limit = rate_limit
        self.dev_mode = dev_mode

    # -- settings that take effect at once (``%config AutoenhanceMagics...``) -------------
    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def host(self) -> str:
        return self._http.host

    @property
    def timeout(self) -> float:
        return self._http.timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        self._http.timeout = float(value)

    @property
    def max_retries(self) -> int:
        return self._http.max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self._http.max_retries = int(value)

    @property
    def api_version(self) -> str | None:
        return self._http.api_version

    @property
    def pool_maxsize(self) -> int:
        return self._http.pool_maxsize

    @pool_maxsize.setter
    def pool_maxsize(self, value: int) -> None:
        self._http.pool_maxsize = value

    @property
    def rate_limit(self) -> float:
        """Requests a second this client allows itself (0: no limit)."""
        limiter = self._http.limiter
        return limiter.max_rate if limiter is not None else 0.0

    @rate_limit.setter
    def rate_limit(self, value: float) -> None:
        self._http.limiter = RateLimiter(value) if value else None

    @property
    def dev_mode(self) -> bool:
        """Whether calls ask for the API's free, watermarked test processing."""
        return self._http.session.headers.get("x-dev-mode") == "true"

    @dev_mode.setter
    def dev_mode(self, value: bool) -> None:
        if value:
            self._http.session.headers["x-dev-mode"] = "true"
        else:
            self._http.session.headers.pop("x-dev-mode", None)

    @property
    def has_key(self) -> bool:
        return self._http.auth is not None

    def __repr__(self) -> str:
        key = "key set" if self.has_key else "no key"
        dev = ", dev mode" if self.dev_mode else ""
        return f"<AutoenhanceClient {self.environment} {self.base_url} ({key}{dev})>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AutoenhanceClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- orders ------------------------------------------------------------------------
    def create_order(
        self, name: str | None = None, order_id: str | None = None, *, adopt_existing: bool = False
    ) -> dict[str, Any]:
        """Create an order and return it.

        Without ``order_id`` the client picks a uuid4 hex, so the create can be retried
        safely: after a timeout, dropped connection, 429 or 5xx it tries again, and if
        the retry finds the id taken by an order with the same name, that order is the
        one the lost attempt made and is returned. One call never makes two orders.
        ``adopt_existing=True`` treats a taken id that way from the first attempt
        (used when re-running a batch whose earlier run may have created it).
        """
        if name is not None and not isinstance(name, str):
            raise E.ValidationError(
                f"Invalid name: must be a string, not {type(name).__name__}",
                fields={"name": ["must be a string"]},
            )
        order_id = uuid.uuid4().hex if order_id is None else validate_order_id(order_id)
        body: dict[str, Any] = {"order_id": order_id}
        if name is not None:
            body["name"] = name
        what = (
            f"Creating order {one_line(name)!r}"
            if name
            else f"Creating order {one_line(order_id)!r}"
        )
        self._need_key(what, order_id)

        def on_error(error: E.AutoenhanceError, attempt: int) -> dict[str, Any] | None:
            if isinstance(error, E.ConflictError) and (attempt > 0 or adopt_existing):
                return self._find_own_order(order_id, name, what)
            return None

        order = self._http.call(
            "POST", "/v3/orders/", what, json=body, order_id=order_id, on_error=on_error
        )
        return self._order(order, what, order_id)

    def _find_own_order(self, order_id: str, name: str | None, what: str) -> dict[str, Any] | None:
        try:
            existing = self.get_order(order_id)
        except E.NotFoundError:
            return None
        if name is None or existing.get("name") == name:
            log.info("%s: found the order an earlier attempt created", what)
            return existing
        return None

    def get_order(self, order_id: str) -> dict[str, Any]:
        what = f"Fetching order {one_line(validate_order_id(order_id))!r}"
        order = self._http.call("GET", self._order_path(order_id), what, order_id=order_id)
        return self._order(order, what, order_id)

    def list_orders(
        self, per_page: int = 15, *, limit: int | None = None, max_pages: int = MAX_PAGES
    ) -> Iterator[dict[str, Any]]:
        """The account's orders, newest first, following ``pagination.next_offset``;
        at most ``limit`` orders (None: all) and ``max_pages`` pages. A repeated page
        token or a page of the wrong shape ends with a ``ServerError``."""
        if not isinstance(per_page, int) or not 1 <= per_page <= 15:
            raise E.ValidationError(
                "Invalid per_page: must be an integer from 1 to 15",
                fields={"per_page": ["must be 1 to 15"]},
            )
        what = "Listing orders"
        self._need_key(what)
        offset: str | None = None
        seen: set[str] = set()
        given = 0
        short = 0
        for _ in range(max_pages):
            params: dict[str, Any] = {"per_page": per_page}
            if offset is not None:
                params["offset"] = offset
            page = self._http.call("GET", "/v3/orders/", what, params=params)
            if not isinstance(page, dict) or not isinstance(page.get("orders", []), list):
                raise unexpected_shape(what, page, "a page of orders")
            batch = page.get("orders") or []
            short = short + 1 if len(batch) < per_page else 0
            for order in batch:
                if not isinstance(order, dict) or not isinstance(order.get("order_id"), str):
                    raise unexpected_shape(what, order, "an order")
                yield order
                given += 1
                if limit is not None and given >= limit:
                    return
            pagination = page.get("pagination")
            offset = pagination.get("next_offset") if isinstance(pagination, dict) else None
            if offset is None or offset == "":
                return
            offset = str(offset)
            if offset in seen:  # a server handing back a token twice would loop forever
                raise E.ServerError(f"{what} failed: the API repeated a page token")
            seen.add(offset)
            if short >= MAX_SHORT_PAGES:
                raise E.ServerError(
                    f"{what} stopped: the API kept offering more pages with fewer orders "
                    f"than asked ({short} pages in a row)"
                )
        raise E.ServerError(
            f"{what} stopped after {max_pages} pages: the API kept "
            f"offering more (pass limit= or max_pages=)"
        )

    def update_order(self, order_id: str, *, name: str) -> dict[str, Any]:
        what = f"Renaming order {one_line(validate_order_id(order_id))!r}"
        if not isinstance(name, str):
            raise E.ValidationError(
                "Invalid name: must be a string", fields={"name": ["must be a string"]}
            )
        self._need_key(what, order_id)
        order = self._http.call(
            "PATCH", self._order_path(order_id), what, json={"name": name}, order_id=order_id
        )
        return self._order(order, what, order_id)

    def delete_order(self, order_id: str) -> None:
        what = f"Deleting order {one_line(validate_order_id(order_id))!r}"
        self._need_key(what, order_id)
        self._http.call(
            "DELETE", self._order_path(order_id), what, order_id=order_id, gone_is_done=True
        )

    # -- plumbing ------------------------------------------------------------------------
    @staticmethod
    def _order_path(order_id: str) -> str:
        # One path segment, everything reserved percent-encoded: "a/../b", "x?y#z" and
        # "%2F" stay inside the segment.
        return "/v3/orders/" + quote(order_id, safe="")

    def _need_key(self, what: str, order_id: str | None = None) -> None:
        if not self.has_key:
            raise E.MissingApiKeyError(
                f"{what} needs an API key: set AUTOENHANCE_API_KEY (or use the sandbox)",
                order_id=order_id,
            )

    @staticmethod
    def _order(value: Any, what: str, order_id: str) -> dict[str, Any]:
        """An order answer, checked: an object whose order_id is the one asked for."""
        if not isinstance(value, dict) or not isinstance(value.get("order_id"), str):
            raise unexpected_shape(what, value, "an order")
        if value["order_id"] != order_id:
            raise E.ServerError(
                f"{what} failed: the API answered with another order "
                f"({one_line(value['order_id'])!r})",
                order_id=order_id,
            )
        return value


def _auth(api_key: Any) -> tuple[ApiKey | None, str | None]:
    """The key holder for the argument, else the environment (None without a key), and
    the reason the key is unusable, if it is."""
    if api_key is None:
        api_key = os.environ.get("AUTOENHANCE_API_KEY")
    if api_key is None or (isinstance(api_key, str) and not api_key.strip()):
        return None, None
    return hide_key(api_key)
