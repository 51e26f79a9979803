"""What one HTTP exchange needs below the retry loop: the pooled ``requests`` session
(proxies and CA read once, ``x-api-key`` stripped on a cross-host redirect, an
injectable adapter), reading a whole answer by a deadline and within a size cap, and
parsing its JSON. No retries here, no key in any message.
"""

from __future__ import annotations

import json as _json
import os
import time
from typing import Any

import requests
import requests.utils
import urllib3.exceptions as u3
from requests.adapters import BaseAdapter, HTTPAdapter

from .. import errors as E
from ._options import ClientOptions

__all__ = ["Session", "error_body", "mount_pool", "new_session", "parse_json", "read_body"]


class Session(requests.Session):
    """requests strips ``Authorization`` on a cross-host redirect but forwards custom
    headers; strip ``x-api-key`` the same way."""

    def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
        super().rebuild_auth(prepared_request, response)
        if "x-api-key" in prepared_request.headers and self.should_strip_auth(
            response.request.url, prepared_request.url
        ):
            del prepared_request.headers["x-api-key"]


def new_session(
    base_url: str, options: ClientOptions, user_agent: str, adapter: BaseAdapter | None
) -> Session:
    """A session for ``base_url``: proxies and CA settings read once, here, not on every
    request (requests' trust_env re-reads them per request: a measurable cost); every
    request sent by ``adapter`` if given, else by a pool of ``options.pool_maxsize``."""
    session = Session()
    session.trust_env = False
    proxies = options.proxies
    session.proxies.update(
        dict(proxies) if proxies is not None else requests.utils.get_environ_proxies(base_url)
    )
    verify = options.tls_verify if options.tls_verify is not None else _ca_bundle_from_env()
    if verify is not None:
        session.verify = verify
    session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
    if adapter is not None:
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    else:
        mount_pool(session, options.pool_maxsize)
    return session


def mount_pool(session: requests.Session, size: int) -> None:
    """Send every request through a fresh pool of ``size`` connections per host
    (urllib3 retries nothing of its own: the retry policy is ours)."""
    adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=size, pool_block=False)
    old = session.adapters.get("http://")
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if old is not None:
        old.close()


def _ca_bundle_from_env() -> str | None:
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


def error_body(resp: requests.Response) -> Any:
    """An error answer's JSON, or None when it has none (or is nested too deeply)."""
    try:
        return _json.loads(resp.content) if resp.content else None
    except (ValueError, RecursionError):
        return None
