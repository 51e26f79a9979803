"""The one request path of the client: the key holder, the pooled session, and one
``send()`` with one retry policy for every method.

Retries: after a dropped or refused connection, a timeout, a 5xx, or a 429 whose
``Retry-After`` is at most ``max_retry_after`` (a longer one is reported at once as a
``RateLimitError``). Backoff is exponential with jitter. ``max_retries`` means what it
says: one call makes at most ``max_retries + 1`` attempts (urllib3 retries nothing of
its own). Each attempt has a whole-answer deadline of ``timeout`` seconds and a cap on
the size of a JSON answer. A batch can cancel the calls it started (see ``cancel_scope``):
a cancelled call starts no new attempt.

No pandas, no widgets; the key never enters a message, a log line or a frame local.
"""

from __future__ import annotations

import contextvars
import json as _json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth
import urllib3.exceptions as u3
from requests.adapters import HTTPAdapter

from .. import errors as E
from ._keys import ApiKey, redact_upload_tokens
from ._ratelimit import RateLimiter

__all__ = ["Transport", "Cancelled", "cancel_scope", "RETRY_STATUSES"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses after which a write may have happened although no success was seen.
AMBIGUOUS_STATUSES = frozenset({500, 502, 503, 504})
MAX_JSON_BYTES = 32 * 1024 * 1024
#: How many recent answered attempts the median latency is taken over.
LATENCY_SAMPLES = 256

log = logging.getLogger("autoenhance_nb")
redact_upload_tokens()


_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "autoenhance_cancel", default=None
)


class Cancelled(E.AutoenhanceError):
    """The batch this call belonged to was stopped before the call could (re)try."""


@contextmanager
def cancel_scope(event: threading.Event) -> Iterator[None]:
    """Calls made inside (in this context) stop retrying once ``event`` is set."""
    token = _CANCEL.set(event)
    try:
        yield
    finally:
        _CANCEL.reset(token)


def _cancelled() -> bool:
    event = _CANCEL.get()
    return event is not None and event.is_set()


def _sleep(seconds: float) -> None:
    event = _CANCEL.get()
    if event is None:
        time.sleep(seconds)
    else:
        event.wait(seconds)


class _Session(requests.Session):
    """requests strips ``Authorization`` on a cross-host redirect but forwards custom
    headers; strip ``x-api-key`` the same way."""

    def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
        super().rebuild_auth(prepared_request, response)
        if "x-api-key" in prepared_request.headers and self.should_strip_auth(
            response.request.url, prepared_request.url
        ):
            del prepared_request.headers["x-api-key"]


class _Rescued:
    """What an ``on_error`` hook returns to end a call with a value instead of an error."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


OnError = Callable[[E.AutoenhanceError, int], Any]


class Transport:
    """HTTP for one API: base URL, key, pool, timeouts and the retry policy."""

    def __init__(
        self,
        base_url: str,
        auth: ApiKey | None,
        *,
        timeout: float,
        max_retries: int,
        backoff_factor: float,
        backoff_max: float,
        max_retry_after: float,
        pool_maxsize: int,
        api_version: str | None,
        user_agent: str,
        proxies: Mapping[str, str] | None = None,
        max_json_bytes: int = MAX_JSON_BYTES,
    ):
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc
        self.auth = auth
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.api_version = api_version
        self.max_json_bytes = max_json_bytes
        self.limiter: RateLimiter | None = None  # paces every attempt, if set
        # What batches size themselves by and progress bars show: attempts answered, 429s
        # met, and the durations of recent answered attempts (for the median latency).
        self.answered = 0
        self.limited = 0
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._stats_lock = threading.Lock()
        self.session = _Session()
        # Proxy and CA settings are read from the environment once, here, not on every
        # request (requests' trust_env re-reads them per request: a measurable cost).
        self.session.trust_env = False
        self.session.proxies.update(
            dict(proxies) if proxies is not None else requests.utils.get_environ_proxies(base_url)
        )
        ca_bundle = _ca_bundle_from_env()
        if ca_bundle:
            self.session.verify = ca_bundle
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self.pool_maxsize = pool_maxsize

    @property
    def pool_maxsize(self) -> int:
        return self._pool_maxsize

    @pool_maxsize.setter
    def pool_maxsize(self, value: int) -> None:
        self._pool_maxsize = int(value)
        adapter = HTTPAdapter(
            max_retries=0, pool_connections=4, pool_maxsize=self._pool_maxsize, pool_block=False
        )
        old = self.session.adapters.get("http://")
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if old is not None:
            old.close()

    def close(self) -> None:
        self.session.close()

    def latency(self) -> float | None:
        """The median duration (seconds, request sent to body read) of the recent
        answered attempts, or None before any answer."""
        with self._stats_lock:
            samples = sorted(self._latencies)
        return samples[len(samples) // 2] if samples else None

    def _note(self, status: int, seconds: float) -> None:
        with self._stats_lock:
            self.answered += 1
            if status == 429:
                self.limited += 1
            else:
                self._latencies.append(seconds)

    # -- the public entry points -------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        order_id: str | None = None,
        on_error: OnError | None = None,
        gone_is_done: bool = False,
    ) -> Any:
        """An API call answered with JSON (or nothing); returns the parsed body.
        ``gone_is_done``: a 404 after an attempt whose answer was lost means that
        attempt did the job (a DELETE)."""
        outcome = self.send(
            method,
            path,
            what,
            json=json,
            params=params,
            order_id=order_id,
            on_error=on_error,
            gone_is_done=gone_is_done,
        )
        if isinstance(outcome, _Rescued):
            return outcome.value
        if outcome is None:
            return None
        return parse_json(outcome, what)

    def stream(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        """``send`` for a body to be read by the caller (a download)."""
        resp = self.send(method, path, what, stream=True, **kwargs)
        if not isinstance(resp, requests.Response):
            raise E.AutoenhanceError(f"{what} failed: no answer to stream")
        return resp

    def send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        data: Callable[[], Any] | None = None,
        headers: dict[str, str] | None = None,
        with_key: bool = True,
        stream: bool = False,
        order_id: str | None = None,
        on_error: OnError | None = None,
        gone_is_done: bool = False,
    ) -> requests.Response | _Rescued | None:
        """One call with the retry policy. ``path`` is relative to the base URL, or an
        absolute URL (an upload URL: it gets no key, it belongs to a storage host).
        ``data`` makes a fresh body for each attempt. Returns the response (body read,
        unless ``stream``), a rescued value, or None (``gone_is_done``)."""
        absolute = path.startswith(("http://", "https://"))
        url = path if absolute else self.base_url + path
        host = urlsplit(url).netloc
        send_headers = dict(headers or {})
        if not absolute and self.api_version:
            send_headers["x-api-version"] = self.api_version
        attempt = 0
        lost_answer = False
        while True:
            if _cancelled():
                raise Cancelled(f"{what}: not sent, the batch was stopped", order_id=order_id)
            retry_after: float | None = None
            try:
                resp = self._attempt(
                    method,
                    url,
                    host,
                    what,
                    json=json,
                    params=params,
                    data=data() if data is not None else None,
                    headers=send_headers,
                    with_key=with_key and not absolute,
                    stream=stream,
                )
            except E.TransportError as exc:
                exc.order_id = order_id
                error: E.AutoenhanceError = exc
                lost_answer = lost_answer or exc.connected
                if on_error is not None:  # a lost answer may hide a change: let it look
                    rescued = on_error(error, attempt)
                    if rescued is not None:
                        return _Rescued(rescued)
            else:
                status = resp.status_code
                if self.limiter is not None:
                    if status == 429:
                        self.limiter.on_limited(
                            E.parse_retry_after(resp.headers.get("Retry-After")),
                            cap=self.max_retry_after,
                        )
                    else:
                        self.limiter.on_answer()
                if status < 400:
                    return resp
                if status == 404 and gone_is_done and lost_answer:
                    resp.close()
                    return None  # an earlier attempt did it; its answer was lost
                error = self._error(resp, what, host, order_id)
                if on_error is not None:
                    rescued = on_error(error, attempt)
                    if rescued is not None:
                        return _Rescued(rescued)
                if status not in RETRY_STATUSES:
                    raise error
                if isinstance(error, E.RateLimitError):
                    retry_after = error.retry_after
                    if retry_after is not None and retry_after > self.max_retry_after:
                        raise error  # reported at once: waiting that long is the user's call
                lost_answer = lost_answer or status in AMBIGUOUS_STATUSES
            attempt += 1
            if attempt > self.max_retries:
                raise error
            delay = self.backoff(attempt, retry_after)
            log.debug("%s: attempt %d failed (%s); retrying in %.2f s", what, attempt, error, delay)
            _sleep(delay)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): the server's
        ``Retry-After`` when given, else exponential backoff with full jitter on top."""
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after)
        base = min(self.backoff_max, self.backoff_factor * (2 ** (attempt - 1)))
        return base + random.uniform(0, self.backoff_factor)

    # -- one attempt -------------------------------------------------------------------
    def _attempt(
        self,
        method: str,
        url: str,
        host: str,
        what: str,
        *,
        json: Any,
        params: dict[str, Any] | None,
        data: Any,
        headers: dict[str, str],
        with_key: bool,
        stream: bool,
    ) -> requests.Response:
        if self.limiter is not None:
            self.limiter.acquire(_sleep)
            if _cancelled():  # stopped while waiting for its turn: send nothing
                raise Cancelled(f"{what}: not sent, the batch was stopped")
        kwargs: dict[str, Any] = {
            "headers": headers,
            "params": params,
            "stream": True,
            "timeout": self.timeout,
            "allow_redirects": True,
        }
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        started = time.monotonic()
        try:
            # The key goes in through the auth object at the last moment, so that no
            # frame of ours holds it in a local variable.
            resp = self.session.request(method, url, auth=self.auth if with_key else None, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise E.transport_error(exc, what, host, self.timeout) from None
        finally:
            if data is not None and hasattr(data, "close"):
                data.close()
        # never the query string: an upload URL's token lives there
        log.debug("%s %s -> %s", method, urlsplit(url).path, resp.status_code)
        if not stream or resp.status_code >= 300:
            self._read_body(resp, what, host, started)
        self._note(resp.status_code, time.monotonic() - started)
        return resp

    def _read_body(self, resp: requests.Response, what: str, host: str, started: float) -> None:
        read_body(resp, what, host, started + self.timeout, self.timeout, self.max_json_bytes)

    def _error(
        self, resp: requests.Response, what: str, host: str, order_id: str | None
    ) -> E.AutoenhanceError:
        try:
            body = _json.loads(resp.content) if resp.content else None
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
            body = None
        return E.error_from_response(
            resp.status_code, body, resp.headers, what, host, order_id=order_id, reason=resp.reason
        )


def _ca_bundle_from_env() -> str | None:
    import os

    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def read_body(
    resp: requests.Response, what: str, host: str, deadline: float, timeout: float, max_bytes: int
) -> None:
    """Read a whole answer body into ``resp`` by ``deadline`` and within ``max_bytes``
    (decoded), or raise a one-line error; the connection goes back to the pool."""
    chunks: list[bytes] = []
    size = 0
    raw = resp.raw
    try:
        while True:
            chunk = raw.read1(65536, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                resp.close()
                raise E.ServerError(
                    f"{what} failed: the answer from {host} is larger than "
                    f"{max_bytes // (1024 * 1024)} MB",
                    resp.status_code,
                )
            chunks.append(chunk)
            if time.monotonic() > deadline:
                resp.close()
                raise E.TransportError(
                    f"{what} failed: {host} did not finish its answer within "
                    f"{timeout:g} s (timeout)"
                )
    except (u3.HTTPError, OSError) as exc:
        resp.close()
        raise E.TransportError(
            f"{what} failed: the connection to {host} dropped during the answer "
            f"({E.failure_kind(exc)})"
        ) from None
    resp._content = b"".join(chunks)
    resp._content_consumed = True  # type: ignore[attr-defined]
    raw.release_conn()


def parse_json(resp: requests.Response, what: str) -> Any:
    """The answer's JSON (None for an empty body), or a one-line ServerError."""
    if not resp.content:
        return None
    try:
        return _json.loads(resp.content)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to read
        raise E.ServerError(
            f"{what} failed: the API answered HTTP {resp.status_code} with a body that is not "
            f"JSON (or nested too deeply to read)",
            resp.status_code,
        ) from None
