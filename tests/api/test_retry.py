"""The retry decision (``api.RetryPolicy``) on its own, and the client's retry loop
driven through an injected transport with scripted answers (no socket): which
failures are tried again, how long it waits, and what a lost answer means for a
create or a delete. The real-socket versions live in test_http.py and
test_hostile_server.py."""

from __future__ import annotations

import io
import json
import threading

import pytest
import requests
import urllib3
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from autoenhance_nb import errors as E
from autoenhance_nb.api import (
    AutoenhanceClient,
    Cancelled,
    ClientOptions,
    RetryPolicy,
    cancellable,
)


class ScriptedTransport(BaseAdapter):
    """Answers each request with the next scripted answer: ``(status, body, headers)``
    or an exception to raise (as a connection failure would)."""

    def __init__(self, *answers):
        super().__init__()
        self.answers = list(answers)
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        status, body, *rest = answer
        headers = rest[0] if rest else {}
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        resp = requests.Response()
        resp.status_code = status
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
        resp.raw = urllib3.HTTPResponse(
            body=io.BytesIO(body), headers=resp.headers, status=status, preload_content=False
        )
        resp.url = request.url
        resp.request = request
        resp.reason = "scripted"
        return resp

    def close(self):
        pass

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]


def scripted(*answers, **settings) -> tuple[AutoenhanceClient, ScriptedTransport]:
    transport = ScriptedTransport(*answers)
    settings.setdefault("backoff_factor", 0.0)  # no waiting between scripted attempts
    client = AutoenhanceClient(
        api_key="test-key", base_url="https://api.example.test", transport=transport, **settings
    )
    return client, transport


def order(order_id: str = "o-1", name: str = "Kitchen") -> tuple[int, dict]:
    return 200, {"order_id": order_id, "name": name, "status": "waiting", "images": []}


def dropped() -> requests.ConnectionError:
    """A connection made and then lost: the request may have arrived."""
    return requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted."))


def refused() -> requests.ConnectionError:
    """No connection at all: the request never left."""
    return requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None, "/", urllib3.exceptions.NewConnectionError(None, "refused")
        )
    )


# -- the policy alone -------------------------------------------------------------------
def http_error(status: int, retry_after: str | None = None) -> E.AutoenhanceError:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return E.error_from_response(status, None, headers, "Fetching order 'o-1'", "api")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_policy_retries_a_429_or_5xx_until_max_retries(status):
    policy = RetryPolicy(ClientOptions(max_retries=2))
    error = http_error(status)
    assert policy.should_retry(error, 1) and policy.should_retry(error, 2)
    assert not policy.should_retry(error, 3)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_policy_never_retries_other_statuses(status):
    assert not RetryPolicy(ClientOptions(max_retries=5)).should_retry(http_error(status), 1)


def test_policy_retries_dropped_and_refused_connections():
    policy = RetryPolicy(ClientOptions(max_retries=1))
    for error in (E.TransportError("x"), E.TransportError("x", connected=False)):
        assert policy.should_retry(error, 1) and not policy.should_retry(error, 2)


def test_policy_reports_a_429_asking_to_wait_longer_than_max_retry_after_at_once():
    policy = RetryPolicy(ClientOptions(max_retry_after=30))
    assert policy.should_retry(http_error(429, "30"), 1)
    assert not policy.should_retry(http_error(429, "31"), 1)


def test_policy_reads_max_retries_when_it_decides():
    options = ClientOptions(max_retries=3)
    policy = RetryPolicy(options)
    options.max_retries = 0
    assert not policy.should_retry(http_error(503), 1)


def test_sleep_time_is_exponential_capped_and_jittered():
    options = ClientOptions(backoff_factor=0.5, backoff_max=3.0)
    policy = RetryPolicy(options, jitter=lambda low, high: high)
    assert [policy.sleep_time(n) for n in (1, 2, 3, 4, 5)] == [1.0, 1.5, 2.5, 3.5, 3.5]
    assert RetryPolicy(options, jitter=lambda low, high: low).sleep_time(2) == 1.0


def test_sleep_time_honours_a_429s_retry_after_up_to_the_cap():
    policy = RetryPolicy(ClientOptions(max_retry_after=10), jitter=lambda low, high: 99)
    assert policy.sleep_time(1, http_error(429, "2.5")) == 2.5
    assert policy.sleep_time(1, http_error(429, "60")) == 10
    assert policy.sleep_time(1, http_error(503)) == 99 + 0.25  # a 5xx's is not used


def test_what_may_have_happened_unseen():
    may = RetryPolicy.may_have_happened
    assert may(E.TransportError("dropped")) and may(http_error(500)) and may(http_error(504))
    assert not may(E.TransportError("refused", connected=False))
    assert not may(http_error(429)) and not may(http_error(422))


# -- the loop, through a scripted transport ---------------------------------------------
def test_a_5xx_is_retried_until_an_answer_comes():
    client, transport = scripted((503, {}), (502, {}), order())
    assert client.get_order("o-1")["order_id"] == "o-1"
    assert transport.methods() == ["GET", "GET", "GET"]


def test_max_retries_bounds_the_attempts_of_one_call():
    client, transport = scripted((503, {}), (503, {}), order(), max_retries=1)
    with pytest.raises(E.ServerError, match="HTTP 503"):
        client.get_order("o-1")
    assert len(transport.requests) == 2


def test_a_changed_max_retries_holds_for_the_next_call():
    client, transport = scripted((503, {}), order())
    client.max_retries = 0
    with pytest.raises(E.ServerError):
        client.get_order("o-1")
    assert len(transport.requests) == 1


def test_a_404_is_not_retried():
    client, transport = scripted((404, {"message": "no such order"}))
    with pytest.raises(E.NotFoundError):
        client.get_order("o-1")
    assert len(transport.requests) == 1


def test_a_long_retry_after_is_reported_at_once():
    client, transport = scripted((429, {}, {"Retry-After": "3600"}), order())
    with pytest.raises(E.RateLimitError) as info:
        client.get_order("o-1")
    assert info.value.retry_after == 3600 and len(transport.requests) == 1


def test_dropped_and_refused_connections_are_retried():
    client, transport = scripted(dropped(), refused(), order())
    assert client.get_order("o-1")["order_id"] == "o-1"
    assert len(transport.requests) == 3


def test_connection_failures_end_in_one_transport_error():
    client, transport = scripted(refused(), refused(), max_retries=1)
    with pytest.raises(E.TransportError, match="connection refused") as info:
        client.get_order("o-1")
    assert info.value.connected is False and info.value.order_id == "o-1"


def test_a_create_whose_answer_was_lost_returns_the_order_it_made():
    """The POST arrived but its answer dropped; the retry finds the id taken by an order
    with the same name, which is the one the lost attempt made: no second order."""
    client, transport = scripted(dropped(), (409, {"message": "exists"}), order(name="Hall"))
    made = client.orders.create("Hall", order_id="o-1")
    assert made["order_id"] == "o-1" and made["name"] == "Hall"
    assert transport.methods() == ["POST", "POST", "GET"]


def test_a_taken_id_on_the_first_attempt_is_a_conflict():
    client, transport = scripted((409, {"message": "exists"}))
    with pytest.raises(E.ConflictError):
        client.create_order("Hall", order_id="o-1")
    assert transport.methods() == ["POST"]


def test_a_delete_whose_answer_was_lost_is_done_when_the_order_is_gone():
    client, transport = scripted((502, {}), (404, {}))
    assert client.orders.delete("o-1") is None
    assert transport.methods() == ["DELETE", "DELETE"]


def test_a_404_on_the_first_delete_attempt_is_not_found():
    client, _ = scripted((404, {}))
    with pytest.raises(E.NotFoundError):
        client.delete_order("o-1")


def test_a_cancelled_call_sends_nothing():
    client, transport = scripted(order())
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        cancellable(stop).run(client.get_order, "o-1")
    assert transport.requests == []


def test_a_429_slows_the_clients_pacing_and_is_counted():
    client, transport = scripted((429, {}, {"Retry-After": "0"}), order(), rate_limit=1000)
    assert client.get_order("o-1")["order_id"] == "o-1"
    http = client._http
    assert (http.answered, http.limited) == (2, 1)
    assert http.limiter is not None and http.limiter.rate < 1000


def test_settings_changed_on_the_client_reach_the_next_request():
    client, transport = scripted(order(), order())
    client.get_order("o-1")
    client.dev_mode = True
    client.get_order("o-1")
    first, second = transport.requests
    assert "x-dev-mode" not in first.headers and second.headers["x-dev-mode"] == "true"
    assert first.headers["x-api-version"] == client.api_version
    assert second.headers["x-api-key"] == "test-key"
