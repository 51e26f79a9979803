"""HTTP client for the Autoenhance v3 API: one pooled session, typed errors, retries,
exactly-once order creation.

Owns HTTP only: it imports no pandas and no widgets, and never logs or formats the
API key into anything.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import errors as E
from ._files import atomic_write
from .errors import one_line

__all__ = ["AutoenhanceClient", "validate_order_id", "DEFAULT_BASE_URL", "environment_of",
           "ImageSource", "image_format"]

DEFAULT_BASE_URL = "https://api.autoenhance.ai"
DEFAULT_TIMEOUT = 30.0
MAX_ORDER_ID_LENGTH = 255
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: A 429 asking to wait longer than this (e.g. the API's hourly limit on uploads with
#: one file name) is reported at once instead of waited out.
MAX_RETRY_AFTER = 30.0
DOWNLOAD_KINDS = ("enhanced", "original", "preview", "watermark")
#: First bytes of the formats a photo can come in; decides "is this an image" by
#: content, not by file name. (The sandbox has its own list: they share no code.)
IMAGE_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"),
                    (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"II*\x00", "TIFF"),
                    (b"MM\x00*", "TIFF"))
USER_AGENT = "autoenhance-nb/0.1.0"
#: The API version whose response shapes this client is written for (the one the
#: official SDK 1.1.0 pins). Without it the account's pinned version answers, and older
#: versions shape images differently (API-NOTES section 1).
API_VERSION = "2025-05-08"

log = logging.getLogger("autoenhance_nb")


def validate_order_id(order_id: Any, field: str = "order_id") -> str:
    """Return ``order_id`` unchanged when it can be a valid id, else raise
    ``ValidationError``. The one rule every front end uses (the form shows its message
    next to the field); image ids follow it too."""
    problem = order_id_problem(order_id)
    if problem:
        raise E.ValidationError(f"Invalid {field}: {problem}", fields={field: [problem]})
    return order_id


def order_id_problem(order_id: Any) -> str | None:
    """The reason ``order_id`` cannot be valid, or None."""
    if not isinstance(order_id, str):
        return f"must be a string, not {type(order_id).__name__}"
    if not order_id.strip():
        return "must not be empty or only whitespace"
    if len(order_id) > MAX_ORDER_ID_LENGTH:
        return f"must be at most {MAX_ORDER_ID_LENGTH} characters (got {len(order_id)})"
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in order_id):
        return "must not contain control characters"
    if order_id in (".", ".."):
        # A dot segment would be normalised away by URL handling and reach another path.
        return "must not be '.' or '..'"
    return None


def environment_of(base_url: str) -> str:
    """"sandbox" for an API on this machine (loopback), else "live"."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return "sandbox"
    try:
        return "sandbox" if ipaddress.ip_address(host).is_loopback else "live"
    except ValueError:
        return "live"


class _ApiKey(requests.auth.AuthBase):
    """Adds ``x-api-key`` to a request. Its repr, str and pickling never show the key."""

    __slots__ = ("_key",)

    def __init__(self, key: str):
        self._key = key

    def __call__(self, request):
        request.headers["x-api-key"] = self._key
        return request

    def __repr__(self) -> str:
        return "<API key hidden>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("an API key is not pickled")


class _Session(requests.Session):
    """requests strips ``Authorization`` on a cross-host redirect but forwards custom
    headers; strip ``x-api-key`` the same way."""

    def rebuild_auth(self, prepared_request, response):  # noqa: D401
        super().rebuild_auth(prepared_request, response)
        if "x-api-key" in prepared_request.headers and self.should_strip_auth(
                response.request.url, prepared_request.url):
            del prepared_request.headers["x-api-key"]


class AutoenhanceClient:
    """Talks to the Autoenhance v3 API (or the sandbox).

        client = AutoenhanceClient()               # key and URL from the environment
        order = client.create_order(name="Kitchen")
        client.get_order(order["order_id"])["status"]   # 'waiting'

    api_key: the argument, else ``AUTOENHANCE_API_KEY``.
    base_url: the argument, else ``AUTOENHANCE_BASE_URL``, else the live API.
    timeout: seconds per attempt (connect and read).
    max_retries: extra attempts after a 429, 5xx, timeout or dropped connection.
    api_version: sent as ``x-api-version`` on API calls (None: the account's default).
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, max_retries: int = 3,
                 backoff_factor: float = 0.25, backoff_max: float = 8.0,
                 pool_maxsize: int = 32, environment: str | None = None,
                 api_version: str | None = API_VERSION):
        key = api_key if api_key is not None else os.environ.get("AUTOENHANCE_API_KEY")
        self._auth = _ApiKey(key.strip()) if key and key.strip() else None
        url = base_url or os.environ.get("AUTOENHANCE_BASE_URL") or DEFAULT_BASE_URL
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {one_line(url)!r}")
        self.base_url = url.rstrip("/")
        self.environment = environment or environment_of(self.base_url)
        self.timeout = timeout
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self._session = _Session()
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.api_version = api_version
        self._pool_maxsize = pool_maxsize
        self.max_retries = max_retries  # mounts the adapter

    @property
    def max_retries(self) -> int:
        return self._max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        """Changing it (``%config AutoenhanceMagics.max_retries``) takes effect at once."""
        self._max_retries = value
        # Idempotent methods retry inside urllib3 (backoff with jitter, Retry-After).
        # POST does not: create_order runs its own loop so that it can check for the
        # order its lost attempt may have made.
        retry = Retry(total=value, connect=value, read=value, status=value, other=0,
                      backoff_factor=self.backoff_factor, backoff_max=self.backoff_max,
                      backoff_jitter=self.backoff_factor, status_forcelist=RETRY_STATUSES,
                      allowed_methods=frozenset({"GET", "PATCH", "DELETE", "PUT", "HEAD"}),
                      respect_retry_after_header=True, raise_on_status=False,
                      raise_on_redirect=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4,
                              pool_maxsize=self._pool_maxsize)
        old = self._session.adapters.get("http://")
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if old is not None:
            old.close()

    # -- identity (never the key) ------------------------------------------------
    @property
    def has_key(self) -> bool:
        return self._auth is not None

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def __repr__(self) -> str:
        key = "key set" if self.has_key else "no key"
        return f"<AutoenhanceClient {self.environment} {self.base_url} ({key})>"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "AutoenhanceClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- orders ------------------------------------------------------------------
    def create_order(self, name: str | None = None, order_id: str | None = None, *,
                     adopt_existing: bool = False) -> dict:
        """Create an order and return it.

        Without ``order_id`` the client picks a uuid4 hex, so the create can be retried
        safely: after a timeout, dropped connection, 429 or 5xx it tries again, and if
        the retry finds the id taken by an order with the same name, that order is the
        one the lost attempt made and is returned. One call never makes two orders.
        ``adopt_existing=True`` treats a taken id that way from the first attempt
        (used when re-running a batch whose earlier run may have created it).
        """
        if name is not None and not isinstance(name, str):
            raise E.ValidationError(f"Invalid name: must be a string, not {type(name).__name__}",
                                    fields={"name": ["must be a string"]})
        if order_id is None:
            order_id = uuid.uuid4().hex
        else:
            validate_order_id(order_id)
        body: dict[str, Any] = {"order_id": order_id}
        if name is not None:
            body["name"] = name
        what = f"Creating order {one_line(order_id)!r}"
        try:
            return self._create_loop(body, name, order_id, what, adopt_existing)
        except E.AutoenhanceError as exc:
            if exc.order_id is None:
                exc.order_id = order_id
            raise

    def _create_loop(self, body: dict, name: str | None, order_id: str, what: str,
                     adopt_existing: bool) -> dict:
        self._need_key(what)

        def on_error(error: E.AutoenhanceError, attempt: int) -> dict | None:
            if isinstance(error, E.ConflictError):
                if attempt > 0 or adopt_existing:
                    mine = self._find_own_order(order_id, name, what)
                    if mine is not None:
                        return mine
                raise error
            return None

        return self._post_retrying("/v3/orders/", what, body, order_id=order_id,
                                   on_error=on_error)[0]

    def _post_retrying(self, path: str, what: str, body: dict, *, order_id: str | None = None,
                       on_error=None) -> tuple[dict, int]:
        """POST with the client's own retry loop (POST is not retried by urllib3: a lost
        answer may hide a change that was made). Retries after a lost connection, a 5xx
        or a 429 that asks for at most MAX_RETRY_AFTER seconds. ``on_error(error,
        attempt)`` may return a result instead, or raise. Returns (answer, attempts
        before the successful one)."""
        attempt = 0
        while True:
            try:
                resp = self._send("POST", path, what, json=body, raise_for_status=False)
            except E.TransportError as exc:
                last: E.AutoenhanceError = exc
                retry_after = None
            else:
                if resp.status_code < 300:
                    return self._json(resp, what), attempt
                last = self._error(resp, what, order_id=order_id)
                if on_error is not None:
                    rescued = on_error(last, attempt)
                    if rescued is not None:
                        return rescued, attempt
                retry_after = getattr(last, "retry_after", None)
                if resp.status_code not in RETRY_STATUSES or (
                        retry_after is not None and retry_after > MAX_RETRY_AFTER):
                    raise last
            attempt += 1
            if attempt > self.max_retries:
                raise last
            time.sleep(self._backoff(attempt, retry_after))

    def _find_own_order(self, order_id: str, name: str | None, what: str) -> dict | None:
        try:
            existing = self.get_order(order_id)
        except E.NotFoundError:
            return None
        if name is None or existing.get("name") == name:
            log.info("%s: found the order an earlier attempt created", what)
            return existing
        return None

    def get_order(self, order_id: str) -> dict:
        what = f"Fetching order {one_line(validate_order_id(order_id))!r}"
        return self._json(self._send("GET", self._order_path(order_id), what), what)

    def list_orders(self, per_page: int = 15) -> Iterator[dict]:
        """Every order of the account, following ``pagination.next_offset``."""
        if not isinstance(per_page, int) or not 1 <= per_page <= 15:
            raise E.ValidationError("Invalid per_page: must be an integer from 1 to 15",
                                    fields={"per_page": ["must be 1 to 15"]})
        what = "Listing orders"
        self._need_key(what)
        offset: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"per_page": per_page}
            if offset is not None:
                params["offset"] = offset
            page = self._json(self._send("GET", "/v3/orders/", what, params=params), what)
            yield from page.get("orders") or []
            offset = (page.get("pagination") or {}).get("next_offset")
            if offset is None or offset == "":
                return
            offset = str(offset)
            if offset in seen:  # a server handing back a token twice would loop forever
                raise E.ServerError(f"{what} failed: the API repeated a page token")
            seen.add(offset)

    def update_order(self, order_id: str, *, name: str) -> dict:
        what = f"Renaming order {one_line(validate_order_id(order_id))!r}"
        if not isinstance(name, str):
            raise E.ValidationError("Invalid name: must be a string",
                                    fields={"name": ["must be a string"]})
        self._need_key(what)
        resp = self._send("PATCH", self._order_path(order_id), what, json={"name": name})
        return self._json(resp, what)

    def delete_order(self, order_id: str) -> None:
        what = f"Deleting order {one_line(validate_order_id(order_id))!r}"
        self._need_key(what)
        resp = self._send("DELETE", self._order_path(order_id), what, raise_for_status=False)
        if resp.status_code == 404 and _was_retried(resp):
            return  # an earlier attempt deleted it; its answer was lost
        self._check(resp, what)

    # -- images ------------------------------------------------------------------
    def create_image(self, order_id: str, image_name: str, **options: Any) -> dict:
        """Register an image in an order; returns the API's answer with ``upload_url``.
        ``options`` are the enhancement settings of the API's ``ImageIn`` (enhance_type,
        sky_replacement, ...), passed through and validated by the server.

        Registration is retried after a 429, 5xx or lost connection; if a retry succeeds,
        registrations that the lost attempts may have left (same name, never uploaded)
        are deleted, so the order does not count phantom images."""
        validate_order_id(order_id)
        if not isinstance(image_name, str) or not image_name.strip():
            raise E.ValidationError("Invalid image_name: must be a non-empty string",
                                    fields={"image_name": ["must be a non-empty string"]})
        what = f"Registering image {one_line(image_name)!r} in order {one_line(order_id)!r}"
        self._need_key(what)
        body = {**options, "order_id": order_id, "image_name": image_name}
        image, retried = self._post_retrying("/v3/images/", what, body)
        if image.get("upload_url") is None and image.get("s3PutObjectUrl"):
            image["upload_url"] = image["s3PutObjectUrl"]  # older API versions
        if retried:
            self._drop_phantom_images(order_id, image_name, image.get("image_id"))
        return image

    def _drop_phantom_images(self, order_id: str, image_name: str, keep: str | None) -> None:
        try:
            order = self.get_order(order_id)
            for image in order.get("images") or []:
                if (image.get("image_name") == image_name and image.get("image_id") != keep
                        and image.get("status") in (None, "waiting")):
                    self.delete_image(image["image_id"])
        except E.AutoenhanceError as exc:  # best effort: the upload itself succeeded
            log.info("could not tidy up after a retried image registration: %s", exc)

    def upload_image(self, order_id: str, source: str | os.PathLike | bytes,
                     image_name: str | None = None, **options: Any) -> dict:
        """Register an image and PUT its bytes to the returned ``upload_url`` (raw body,
        ``Content-Type: application/octet-stream``, no API key: the URL belongs to a
        storage host). A file is streamed from disk, never read whole. Returns the image
        as the API reports it after the upload.

        Refused before any request, with a clear message: a missing path, a folder, an
        empty file, and content that is not an image (decided by its first bytes)."""
        photo = ImageSource(source, image_name)
        image = self.create_image(order_id, photo.name, **options)
        url = image.get("upload_url")
        what = f"Uploading {one_line(photo.name)!r}"
        if not url:
            raise E.ServerError(f"{what} failed: the API gave no upload URL")
        with photo.open() as body:
            resp = self._send("PUT", url, what, data=body, with_key=False,
                              raise_for_status=False,
                              headers={"Content-Type": "application/octet-stream",
                                       "Content-Length": str(photo.size)})
        if resp.status_code >= 300:
            if resp.status_code in (401, 403):
                raise E.AutoenhanceError(
                    f"{what} failed: the storage host refused the upload URL "
                    f"(HTTP {resp.status_code})", resp.status_code)
            raise self._error(resp, what)
        fresh = self.get_image(image["image_id"])
        fresh.setdefault("order_id", order_id)
        return fresh

    def get_image(self, image_id: str) -> dict:
        what = f"Fetching image {one_line(validate_order_id(image_id, 'image_id'))!r}"
        return self._json(self._send("GET", self._image_path(image_id), what), what)

    def delete_image(self, image_id: str) -> None:
        what = f"Deleting image {one_line(validate_order_id(image_id, 'image_id'))!r}"
        self._need_key(what)
        resp = self._send("DELETE", self._image_path(image_id), what, raise_for_status=False)
        if resp.status_code == 404 and _was_retried(resp):
            return
        self._check(resp, what)

    def download_image(self, image_id: str, path: str | os.PathLike, kind: str = "enhanced",
                       **query: Any) -> Path:
        """Stream an image's ``enhanced`` (default), ``original``, ``preview`` or
        ``watermark`` rendition to ``path`` (written atomically); ``query`` takes the
        API's download options (quality, format, preview, watermark, max_width, scale).
        Returns the absolute path."""
        if kind not in DOWNLOAD_KINDS:
            raise E.ValidationError(f"Invalid kind: {kind!r}; use one of "
                                    f"{', '.join(DOWNLOAD_KINDS)}", fields={"kind": [kind]})
        what = f"Downloading the {kind} image {one_line(validate_order_id(image_id, 'image_id'))!r}"
        if kind in ("enhanced", "original"):
            self._need_key(what)
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in query.items()}
        resp = self._send("GET", self._image_path(image_id) + "/" + kind, what, params=params,
                          stream=True)
        try:
            if resp.headers.get("Content-Type", "").startswith("application/json"):
                # Older API versions answer with JSON naming the file's URL.
                link = _image_link(self._json(resp, what))
                if link is None:
                    raise E.ServerError(f"{what} failed: the API answered JSON without an "
                                        f"image URL")
                resp.close()
                resp = self._send("GET", link, what, stream=True)
            return _stream_to_file(resp, Path(path), what)
        finally:
            resp.close()

    # -- plumbing ----------------------------------------------------------------
    @staticmethod
    def _image_path(image_id: str) -> str:
        return "/v3/images/" + quote(image_id, safe="")

    @staticmethod
    def _order_path(order_id: str) -> str:
        # One path segment, everything reserved percent-encoded: "a/../b", "x?y#z" and
        # "%2F" stay inside the segment.
        return "/v3/orders/" + quote(order_id, safe="")

    def _need_key(self, what: str) -> None:
        if self._auth is None:
            raise E.MissingApiKeyError(
                f"{what} needs an API key: set AUTOENHANCE_API_KEY (or use the sandbox)")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(float(retry_after), 60.0)
        base = min(self.backoff_max, self.backoff_factor * (2 ** (attempt - 1)))
        return base + random.uniform(0, self.backoff_factor)

    def _send(self, method: str, path: str, what: str, *, json: Any = None,
              params: dict | None = None, data: Any = None, headers: dict | None = None,
              with_key: bool = True, stream: bool = False,
              raise_for_status: bool = True) -> requests.Response:
        """One request. ``path`` is relative to the base URL, or an absolute URL (an
        upload URL, which gets no API key: it belongs to a storage host)."""
        absolute = path.startswith(("http://", "https://"))
        url = path if absolute else self.base_url + path
        host = urlsplit(url).netloc if absolute else self.host
        # The key goes in through an auth object at the last moment, so that no frame
        # of ours (shown by a verbose traceback) holds it in a local variable.
        auth = self._auth if with_key and not absolute else None
        if not absolute and self.api_version:
            headers = {**(headers or {}), "x-api-version": self.api_version}
        kwargs: dict[str, Any] = {"headers": headers, "params": params, "auth": auth,
                                  "timeout": self.timeout, "stream": stream}
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        try:
            resp = self._session.request(method, url, **kwargs)
        except requests.exceptions.Timeout:
            raise E.TransportError(
                f"{what} failed: no answer from {host} within {self.timeout:g} s "
                f"(timeout)") from None
        except requests.exceptions.RetryError as exc:
            raise E.TransportError(f"{what} failed: {host} kept failing "
                                   f"({_reason(exc)})") from None
        except requests.exceptions.ConnectionError as exc:
            if _timed_out(exc):
                raise E.TransportError(
                    f"{what} failed: no answer from {host} within {self.timeout:g} s "
                    f"(timeout)") from None
            raise E.TransportError(f"{what} failed: cannot reach {host} "
                                   f"({_reason(exc)})") from None
        except requests.exceptions.RequestException as exc:
            raise E.TransportError(f"{what} failed: {_reason(exc)}") from None
        # never the query string: an upload URL's token lives there
        log.debug("%s %s -> %s", method, urlsplit(url).path, resp.status_code)
        if raise_for_status:
            self._check(resp, what)
        return resp

    def _check(self, resp: requests.Response, what: str) -> None:
        if resp.status_code >= 400:
            raise self._error(resp, what)

    def _json(self, resp: requests.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise E.ServerError(f"{what} failed: the API answered HTTP {resp.status_code} "
                                f"with a body that is not JSON", resp.status_code) from None

    def _error(self, resp: requests.Response, what: str, *,
               order_id: str | None = None) -> E.AutoenhanceError:
        status = resp.status_code
        try:
            body = resp.json()
        except ValueError:
            body = None
        server_msg = body.get("message") if isinstance(body, dict) else None
        detail = body.get("detail") if isinstance(body, dict) else None
        suffix = f"(HTTP {status})"
        if _is_duplicate(status, detail, server_msg):
            return E.ConflictError(
                f"{what} failed: order_id {one_line(order_id)!r} is already used by another "
                f"order {suffix}", status, body, order_id=order_id)
        if status in (401, 403):
            return E.AuthenticationError(
                f"{what} failed: the API key was refused; check AUTOENHANCE_API_KEY {suffix}",
                status, body)
        if status == 404:
            return E.NotFoundError(f"{what} failed: not found {suffix}", status, body)
        if status in (400, 422):
            fields = _field_errors(detail)
            if fields:
                text = "; ".join(f"{f}: {' '.join(map(str, m))}" for f, m in fields.items())
            else:
                text = server_msg or "the request was not valid"
            return E.ValidationError(f"{what} failed: {one_line(text, 200)} {suffix}",
                                     status, body, fields=fields)
        if status == 429:
            retry_after = _retry_after(resp)
            hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return E.RateLimitError(f"{what} failed: rate limited by {self.host}{hint} "
                                    f"{suffix}", status, body, retry_after=retry_after)
        if status >= 500:
            return E.ServerError(f"{what} failed: {self.host} had a server error "
                                 f"{suffix}", status, body)
        text = one_line(server_msg or resp.reason or "unexpected answer")
        return E.AutoenhanceError(f"{what} failed: {text} {suffix}", status, body)


def image_format(head: bytes) -> str | None:
    """The image format that ``head`` (a file's first 16 bytes or more) starts, or None."""
    for magic, fmt in IMAGE_SIGNATURES:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"avif"):
        return "HEIC"
    return None


class ImageSource:
    """A photo to upload: a path (streamed from disk) or bytes. Checks it up front."""

    def __init__(self, source: str | os.PathLike | bytes, name: str | None = None):
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.data: bytes | None = bytes(source)
            self.path: Path | None = None
            self.name = name or "photo"
            self.size = len(self.data)
            head = self.data[:16]
        elif isinstance(source, (str, os.PathLike)):
            self.data = None
            self.path = Path(source).expanduser()
            self.name = name or self.path.name
            shown = one_line(str(source))
            if not self.path.exists():
                raise _bad_photo(f"Cannot upload {shown!r}: no such file")
            if self.path.is_dir():
                raise _bad_photo(f"Cannot upload {shown!r}: it is a folder, not a file")
            self.size = self.path.stat().st_size
            with open(self.path, "rb") as fh:
                head = fh.read(16)
        else:
            raise _bad_photo(f"Cannot upload a {type(source).__name__}: give a path or bytes")
        shown = one_line(self.name)
        if self.size == 0:
            raise _bad_photo(f"Cannot upload {shown!r}: the file is empty (0 bytes)")
        if image_format(head) is None:
            raise _bad_photo(f"Cannot upload {shown!r}: its content is not an image "
                             f"(JPEG, PNG, WebP, HEIC, TIFF or GIF)")

    def open(self):
        import io

        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data)


def _bad_photo(message: str) -> E.ValidationError:
    return E.ValidationError(message, fields={"image": [message]})


def _image_link(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("url", "image_url", "enhanced_url", "download_url"):
            value = body.get(key)
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                return value
    return None


def _stream_to_file(resp: requests.Response, path: Path, what: str) -> Path:
    """Write a streamed body to ``path`` atomically."""
    target = path.expanduser().resolve()
    try:
        with atomic_write(target, "wb") as fh:
            for chunk in resp.iter_content(chunk_size=1024 * 1024):
                fh.write(chunk)
    except requests.exceptions.RequestException as exc:
        raise E.TransportError(f"{what} failed: the connection dropped during the "
                               f"download ({_reason(exc)})") from None
    return target


def _is_duplicate(status: int, detail: Any, message: Any) -> bool:
    if status == 409:
        return True
    if status in (400, 422):
        text = (json.dumps(detail) if detail else "") + str(message or "")
        lowered = text.lower()
        return "order_id" in lowered and any(w in lowered for w in
                                             ("exist", "unique", "duplicate", "taken"))
    return False


def _field_errors(detail: Any) -> dict[str, list[str]]:
    """Flatten APIFlask's ``{"json": {"field": ["msg"]}}`` into ``{"field": ["msg"]}``."""
    fields: dict[str, list[str]] = {}
    if not isinstance(detail, dict):
        return fields
    for location in detail.values():
        if isinstance(location, dict):
            for field, messages in location.items():
                if isinstance(messages, list):
                    fields[str(field)] = [str(m) for m in messages]
                else:
                    fields[str(field)] = [str(messages)]
    return fields


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _was_retried(resp: requests.Response) -> bool:
    retries = getattr(resp.raw, "retries", None)
    return bool(retries is not None and retries.history)


def _timed_out(exc: BaseException) -> bool:
    """urllib3 wraps a read timeout that exhausted its retries in MaxRetryError, which
    requests re-raises as ConnectionError."""
    from urllib3.exceptions import NewConnectionError, TimeoutError as Urllib3Timeout

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # NewConnectionError subclasses ConnectTimeoutError for old callers; it is a refusal.
    return isinstance(reason, Urllib3Timeout) and not isinstance(reason, NewConnectionError)


def _reason(exc: BaseException) -> str:
    """A short cause for a transport failure, without URLs' query strings."""
    text = str(exc)
    for marker in ("Connection refused", "Connection reset", "Connection aborted",
                   "RemoteDisconnected", "Name or service not known", "timed out",
                   "Max retries exceeded", "too many 5", "too many 429"):
        if marker.lower() in text.lower():
            return marker.lower()
    return one_line(type(exc).__name__)
