"""``AutoenhanceClient``: the key, the URL, one ``ClientOptions`` and one ``Transport``,
with the services built around that transport (``client.orders``, ``client.images``,
``client.brackets``) and the client's own methods as thin delegates to them. HTTP
itself (retries, timeouts, errors) lives in ``_transport``; photo files in ``rules``.
Imports no pandas and no widgets, and never puts the API key in anything.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

from requests.adapters import BaseAdapter

from .. import errors as E
from ..errors import one_line
from ._brackets import BracketService
from ._images import ImageService
from ._keys import ApiKey, hide_key
from ._options import ClientOptions
from ._orders import MAX_PAGES, OrderService
from ._ratelimit import DOCUMENTED_RATE
from ._transport import Transport

__all__ = ["AutoenhanceClient", "DEFAULT_BASE_URL", "environment_of", "check_base_url"]

DEFAULT_BASE_URL = "https://api.autoenhance.ai"

try:
    __version__ = _dist_version("autoenhance-nb")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
USER_AGENT = f"autoenhance-nb/{__version__}"


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


T = TypeVar("T")


class _Setting(Generic[T]):
    """A ``ClientOptions`` field read and set through the client: ``client.timeout = 5``
    holds from the next attempt on (``%config AutoenhanceMagics.timeout`` does this)."""

    def __init__(self, *, settable: bool = True):
        self.settable = settable
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, client: None, owner: type) -> _Setting[T]: ...
    @overload
    def __get__(self, client: AutoenhanceClient, owner: type) -> T: ...
    def __get__(self, client: AutoenhanceClient | None, owner: type) -> _Setting[T] | T:
        if client is None:
            return self
        value: T = getattr(client.options, self.name)
        return value

    def __set__(self, client: AutoenhanceClient, value: T) -> None:
        if not self.settable:
            raise AttributeError(f"{self.name} is set when the client is built")
        client._http.set_option(self.name, value)


class AutoenhanceClient:
    """Talks to the Autoenhance v3 API (or the sandbox).

        client = AutoenhanceClient()               # key and URL from the environment
        order = client.orders.create(name="Kitchen")    # or client.create_order(...)
        client.orders.get(order["order_id"])["status"]  # 'waiting'

    api_key: the argument, else ``AUTOENHANCE_API_KEY`` (checked at once: one line,
        printable, no spaces; the error never shows it).
    base_url: the argument, else ``AUTOENHANCE_BASE_URL``, else the live API.
    environment: "live" or "sandbox" (default: "sandbox" for a loopback URL).
    options: a ``ClientOptions``; keyword arguments (``timeout=``, ``max_retries=``,
        ``rate_limit=``, ``dev_mode=``, ... every field of ``ClientOptions``) change it.
    transport: a requests adapter that sends every request instead of the connection
        pool (as httpx's ``Client(transport=...)``): a scripted one in tests.

    The services: ``client.orders``, ``client.images``, ``client.brackets``.
    """

    timeout = _Setting[float]()
    max_retries = _Setting[int]()
    backoff_factor = _Setting[float]()
    backoff_max = _Setting[float]()
    max_retry_after = _Setting[float]()
    pool_maxsize = _Setting[int]()
    #: Requests a second this client allows itself (0: no limit).
    rate_limit = _Setting[float]()
    #: Whether calls ask for the API's free, watermarked test processing.
    dev_mode = _Setting[bool]()
    api_version = _Setting["str | None"](settable=False)

    def __init__(
        self,
        api_key: str | ApiKey | None = None,
        base_url: str | None = None,
        *,
        environment: str | None = None,
        options: ClientOptions | None = None,
        transport: BaseAdapter | None = None,
        **settings: Any,
    ):
        # The key is wrapped first, rebinding the argument, so that no frame shown by
        # a verbose traceback (a bad URL below, a failed request later) holds it plainly.
        api_key, problem = _auth(api_key)
        if problem is not None:
            raise E.ValidationError(problem, fields={"api_key": [problem]}) from None
        url = check_base_url(base_url or os.environ.get("AUTOENHANCE_BASE_URL") or DEFAULT_BASE_URL)
        self.environment = environment or environment_of(url)
        own = ClientOptions.build(options, **settings)  # a copy: changes stay this client's
        if own.rate_limit is None:
            own.rate_limit = DOCUMENTED_RATE if self.environment == "live" else 0.0
        self._http = Transport(url, api_key, own, user_agent=USER_AGENT, adapter=transport)
        self.orders = OrderService(self._http)
        self.images = ImageService(self._http, self.orders)
        self.brackets = BracketService(self._http, self.orders)

    @property
    def options(self) -> ClientOptions:
        """This client's settings (change them through the client's attributes)."""
        return self._http.options

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def host(self) -> str:
        return self._http.host

    @property
    def account(self) -> str:
        """Who the calls are made for, as the operations journal records it: the base
        URL and a fingerprint of the key (never the key): ``https://api...#1f2e...``."""
        auth = self._http.auth
        return f"{self.base_url}#{auth.fingerprint() if auth is not None else 'no-key'}"

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

    # -- the services' methods under their earlier names -------------------------------
    def create_order(
        self, name: str | None = None, order_id: str | None = None, *, adopt_existing: bool = False
    ) -> dict[str, Any]:
        """Create an order, exactly once under retries (``client.orders.create``)."""
        return self.orders.create(name, order_id, adopt_existing=adopt_existing)

    def get_order(self, order_id: str) -> dict[str, Any]:
        """``client.orders.get``."""
        return self.orders.get(order_id)

    def list_orders(
        self, per_page: int = 15, *, limit: int | None = None, max_pages: int = MAX_PAGES
    ) -> Iterator[dict[str, Any]]:
        """The account's orders, newest first (``client.orders.list``)."""
        return self.orders.list(per_page, limit=limit, max_pages=max_pages)

    def update_order(self, order_id: str, *, name: str) -> dict[str, Any]:
        """``client.orders.update``."""
        return self.orders.update(order_id, name=name)

    def delete_order(self, order_id: str) -> None:
        """``client.orders.delete``."""
        self.orders.delete(order_id)

    def create_image(
        self, order_id: str, image_name: str, *, content_type: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """Register an image, exactly once under retries (``client.images.create``)."""
        return self.images.create(order_id, image_name, content_type=content_type, **options)

    def upload_image(
        self,
        order_id: str,
        source: str | os.PathLike[str] | bytes,
        image_name: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Register an image and upload its bytes (``client.images.upload``)."""
        return self.images.upload(order_id, source, image_name, **options)

    def get_image(self, image_id: str) -> dict[str, Any]:
        """``client.images.get``."""
        return self.images.get(image_id)

    def delete_image(self, image_id: str) -> None:
        """``client.images.delete``."""
        self.images.delete(image_id)

    def reprocess_image(self, image_id: str, **options: Any) -> dict[str, Any]:
        """Enhance an uploaded image again (``client.images.reprocess``)."""
        return self.images.reprocess(image_id, **options)

    def report_image(
        self,
        image_id: str,
        categories: str | list[str],
        comment: str | None = None,
        score: int | None = None,
    ) -> dict[str, Any]:
        """Report a problem with an enhanced image (``client.images.report``)."""
        return self.images.report(image_id, categories, comment, score)

    def download_image(
        self,
        image_id: str,
        path: str | os.PathLike[str],
        kind: str = "enhanced",
        *,
        full_size: bool = False,
        **query: Any,
    ) -> Path:
        """Stream a rendition of an image to ``path`` (``client.images.download``)."""
        return self.images.download(image_id, path, kind, full_size=full_size, **query)

    def create_bracket(
        self, order_id: str, name: str, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Register one bracket (``client.brackets.create``)."""
        return self.brackets.create(order_id, name, metadata)

    def upload_bracket(
        self,
        order_id: str,
        source: str | os.PathLike[str] | bytes,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Register a bracket and upload its bytes (``client.brackets.upload``)."""
        return self.brackets.upload(order_id, source, name, metadata)

    def list_brackets(self, order_id: str) -> list[dict[str, Any]]:
        """``client.brackets.list``."""
        return self.brackets.list(order_id)

    def process_order(
        self,
        order_id: str,
        *,
        brackets_per_image: int | None = None,
        groups: Sequence[Sequence[str]] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Group the order's brackets into images and enhance them
        (``client.brackets.process``)."""
        return self.brackets.process(
            order_id, brackets_per_image=brackets_per_image, groups=groups, **options
        )


def _auth(api_key: Any) -> tuple[ApiKey | None, str | None]:
    """The key holder for the argument, else the environment (None without a key), and
    the reason the key is unusable, if it is."""
    if api_key is None:
        api_key = os.environ.get("AUTOENHANCE_API_KEY")
    if api_key is None or (isinstance(api_key, str) and not api_key.strip()):
        return None, None
    return hide_key(api_key)
