"""The one request path of the client: the key holder, the pooled session, and one
``send()`` for every method: pacing, one attempt, the retry decision of ``RetryPolicy``
(``_retry``), hooks that may end a call whose answer was lost, and the statistics a
batch sizes itself by.

Each attempt has a whole-answer deadline of ``timeout`` seconds and a cap on the size
of a JSON answer. A batch can cancel the calls it started (see ``cancellable``): a
cancelled call starts no new attempt. Every setting is read from the client's
``ClientOptions`` at the attempt, so a change takes effect at once.

No pandas, no widgets; the key never enters a message, a log line or a frame local.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter

from .. import errors as E
from ._keys import ApiKey, redact_upload_tokens
from ._options import ClientOptions
from ._ratelimit import RateLimiter
from ._retry import RetryPolicy
from ._wire import error_body, mount_pool, new_session, parse_json, read_body

__all__ = ["Transport", "Cancelled", "cancellable", "pause", "OnError"]

#: How many recent answered attempts the median latency is taken over.
LATENCY_SAMPLES = 256

log = logging.getLogger("autoenhance_nb")
redact_upload_tokens()


_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "autoenhance_cancel", default=None
)


class Cancelled(E.AutoenhanceError):
    """The batch this call belonged to was stopped before the call could (re)try."""


def cancellable(event: threading.Event) -> contextvars.Context:
    """A copy of the current context in which calls stop retrying once ``event`` is set;
    run a batch's worker in it (``ctx.run(worker)``). The caller's own context is never
    changed, so a stop pressed at any moment (even between setting and resetting a
    scope) cannot leave later calls of the caller cancelled."""
    ctx = contextvars.copy_context()
    ctx.run(_CANCEL.set, event)
    return ctx


def _cancelled() -> bool:
    event = _CANCEL.get()
    return event is not None and event.is_set()


def pause(seconds: float) -> None:
    """Wait ``seconds`` in a batch's worker (or anywhere); raises ``Cancelled`` as soon
    as the batch it belongs to is stopped."""
    _sleep(seconds)
    if _cancelled():
        raise Cancelled("Stopped while waiting")


def _sleep(seconds: float) -> None:
    event = _CANCEL.get()
    if event is None:
        time.sleep(seconds)
    else:
        event.wait(seconds)


class _Rescued:
    """What an ``on_error`` hook returns to end a call with a value instead of an error."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


OnError = Callable[[E.AutoenhanceError, int], Any]


def _same(value: Any) -> Any:
    return value


#: How a setting given through the client is stored (``client.timeout = "5"`` is 5.0).
_COERCE: dict[str, Callable[[Any], Any]] = {
    "timeout": float,
    "backoff_factor": float,
    "backoff_max": float,
    "max_retry_after": float,
    "max_retries": int,
    "pool_maxsize": int,
    "dev_mode": bool,
    "rate_limit": lambda value: float(value or 0),
}


@dataclass
class _Call:
    """One call across its attempts: what to send, and what the attempts so far showed."""

    method: str
    url: str
    host: str
    what: str
    json: Any
    params: dict[str, Any] | None
    data: Callable[[], Any] | None
    headers: dict[str, str]
    with_key: bool
    stream: bool
    order_id: str | None
    on_error: OnError | None
    gone_is_done: bool
    attempts: int = 0
    #: an attempt may have done the job although its answer never arrived
    lost_answer: bool = False


class Transport:
    """HTTP for one API: base URL, key, session and the retry loop, set by ``options``.

    ``adapter``: a requests adapter that sends every request (a scripted one in tests,
    as httpx's ``MockTransport``); default: a connection pool."""

    def __init__(
        self,
        base_url: str,
        auth: ApiKey | None,
        options: ClientOptions,
        *,
        user_agent: str,
        adapter: BaseAdapter | None = None,
    ):
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc
        self.auth = auth
        self.options = options
        self.retry = RetryPolicy(options)
        self.limiter: RateLimiter | None = None  # paces every attempt, if set
        # What batches size themselves by and progress bars show: attempts answered, 429s
        # met, and the durations of recent answered attempts (for the median latency).
        self.answered = 0
        self.limited = 0
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._stats_lock = threading.Lock()
        self._adapter = adapter
        self.session = new_session(base_url, options, user_agent, adapter)
        self.set_option("rate_limit", options.rate_limit)

    # -- settings ----------------------------------------------------------------------
    def set_option(self, name: str, value: Any) -> None:
        """Change one of ``options``; it holds from the next attempt on."""
        if name not in ClientOptions.names():
            raise AttributeError(f"no client option {name!r}")
        value = _COERCE.get(name, _same)(value)
        setattr(self.options, name, value)
        if name == "pool_maxsize" and self._adapter is None:
            mount_pool(self.session, value)
        elif name == "rate_limit":
            self.limiter = RateLimiter(value) if value else None

    def need_key(self, what: str, order_id: str | None = None) -> None:
        """A ``MissingApiKeyError`` for ``what`` unless a key is set."""
        if self.auth is None:
            raise E.MissingApiKeyError(
                f"{what} needs an API key: set AUTOENHANCE_API_KEY (or use the sandbox)",
                order_id=order_id,
            )

    def close(self) -> None:
        self.session.close()

    # -- statistics --------------------------------------------------------------------
    def latency(self) -> float | None:
        """The median duration (seconds, request sent to body read) of the recent
        answered attempts, or None before any answer."""
        with self._stats_lock:
            samples = sorted(self._latencies)
        return samples[len(samples) // 2] if samples else None

    def _note(self, resp: requests.Response, seconds: float) -> None:
        with self._stats_lock:
            self.answered += 1
            if resp.status_code == 429:
                self.limited += 1
            else:
                self._latencies.append(seconds)
        if self.limiter is not None:
            if resp.status_code == 429:
                self.limiter.on_limited(
                    E.parse_retry_after(resp.headers.get("Retry-After")),
                    cap=self.options.max_retry_after,
                )
            else:
                self.limiter.on_answer()

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
        ``data`` makes a fresh body for each attempt. ``on_error(error, attempt)`` sees
        every failed attempt and ends the call with its value unless that is None.
        Returns the response (body read, unless ``stream``), a rescued value, or None
        (``gone_is_done``)."""
        absolute = path.startswith(("http://", "https://"))
        url = path if absolute else self.base_url + path
        send_headers = dict(headers or {})
        if not absolute and self.options.api_version:
            send_headers["x-api-version"] = self.options.api_version
        call = _Call(
            method,
            url,
            urlsplit(url).netloc,
            what,
            json,
            params,
            data,
            send_headers,
            with_key and not absolute,
            stream,
            order_id,
            on_error,
            gone_is_done,
        )
        return self._run(call)

    def _run(self, call: _Call) -> requests.Response | _Rescued | None:
        """Attempts until one succeeds, a hook ends the call, or the policy gives up."""
        while True:
            if _cancelled():
                raise Cancelled(
                    f"{call.what}: not sent, the batch was stopped", order_id=call.order_id
                )
            try:
                resp = self._attempt(call)
            except E.TransportError as exc:
                exc.order_id = call.order_id
                error: E.AutoenhanceError = exc
            else:
                if resp.status_code < 400:
                    return resp
                if resp.status_code == 404 and call.gone_is_done and call.lost_answer:
                    resp.close()
                    return None  # an earlier attempt did it; its answer was lost
                error = self._error(resp, call)
            # a lost answer may hide a change: the hook looks before any retry
            hook = call.on_error
            rescued = hook(error, call.attempts) if hook is not None else None
            if rescued is not None:
                return _Rescued(rescued)
            self._wait_to_retry(call, error)

    def _wait_to_retry(self, call: _Call, error: E.AutoenhanceError) -> None:
        """Raise ``error`` unless the policy retries it; else wait before the next try."""
        call.lost_answer = call.lost_answer or self.retry.may_have_happened(error)
        call.attempts += 1
        if not self.retry.should_retry(error, call.attempts):
            raise error
        delay = self.retry.sleep_time(call.attempts, error)
        log.debug(
            "%s: attempt %d failed (%s); retrying in %.2f s", call.what, call.attempts, error, delay
        )
        _sleep(delay)

    # -- one attempt -------------------------------------------------------------------
    def _attempt(self, call: _Call) -> requests.Response:
        if self.limiter is not None:
            self.limiter.acquire(_sleep)
            if _cancelled():  # stopped while waiting for its turn: send nothing
                raise Cancelled(f"{call.what}: not sent, the batch was stopped")
        timeout = self.options.timeout
        headers = call.headers
        if self.options.dev_mode:
            headers = {"x-dev-mode": "true", **headers}
        kwargs: dict[str, Any] = {
            "headers": headers,
            "params": call.params,
            "stream": True,
            "timeout": timeout,
            "allow_redirects": True,
        }
        if call.json is not None:
            kwargs["json"] = call.json
        data = call.data() if call.data is not None else None
        if data is not None:
            kwargs["data"] = data
        started = time.monotonic()
        try:
            # The key goes in through the auth object at the last moment, so that no
            # frame of ours holds it in a local variable.
            resp = self.session.request(
                call.method, call.url, auth=self.auth if call.with_key else None, **kwargs
            )
        except requests.exceptions.RequestException as exc:
            raise E.transport_error(exc, call.what, call.host, timeout) from None
        finally:
            if data is not None and hasattr(data, "close"):
                data.close()
        # never the query string: an upload URL's token lives there
        log.debug("%s %s -> %s", call.method, urlsplit(call.url).path, resp.status_code)
        if not call.stream or resp.status_code >= 300:
            deadline = started + timeout
            read_body(resp, call.what, call.host, deadline, timeout, self.options.max_json_bytes)
        self._note(resp, time.monotonic() - started)
        return resp

    def _error(self, resp: requests.Response, call: _Call) -> E.AutoenhanceError:
        return E.error_from_response(
            resp.status_code,
            error_body(resp),
            resp.headers,
            call.what,
            call.host,
            order_id=call.order_id,
            reason=resp.reason,
        )
