"""The one request path (_http.Transport): the same retry policy for every method,
against a scriptable server (tests/hostile.py)."""

from __future__ import annotations

import time

import pytest

from autoenhance_nb import AutoenhanceClient, RateLimitError
from tests.hostile import HostileServer, order_answer, raw

CALLS = {
    "create": ("POST", r"^/v3/orders/?$", lambda c: c.create_order("Kitchen", order_id="o-1")),
    "get": ("GET", r"^/v3/orders/o-1$", lambda c: c.get_order("o-1")),
    "list": ("GET", r"^/v3/orders/?$", lambda c: list(c.list_orders())),
    "update": ("PATCH", r"^/v3/orders/o-1$", lambda c: c.update_order("o-1", name="Hall")),
    "delete": ("DELETE", r"^/v3/orders/o-1$", lambda c: c.delete_order("o-1")),
    "image": ("GET", r"^/v3/images/i-1$", lambda c: c.get_image("i-1")),
    "image-delete": ("DELETE", r"^/v3/images/i-1$", lambda c: c.delete_image("i-1")),
}


def client_for(url: str) -> AutoenhanceClient:
    return AutoenhanceClient(
        api_key="test-key", base_url=url, max_retries=2, backoff_factor=0.01, timeout=5
    )


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_long_retry_after_is_reported_at_once_for_every_method(call):
    method, path, run = CALLS[call]
    with HostileServer() as srv:
        srv.on(
            method, path, raw(429, b'{"message": "slow down"}', {"Retry-After": "50"}), times=None
        )
        started = time.monotonic()
        with pytest.raises(RateLimitError) as info:
            run(client_for(srv.url))
        assert time.monotonic() - started < 2, "waited instead of reporting"
        assert info.value.retry_after == 50
        assert len([r for r in srv.requests if r.method == method]) == 1


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_short_retry_after_is_waited_out_for_every_method(call):
    method, path, run = CALLS[call]
    with HostileServer() as srv:
        srv.on(method, path, raw(429, b"{}", {"Retry-After": "0.3"}), times=1)
        if call in ("get", "update", "create"):
            srv.on(
                method,
                path,
                order_answer("o-1", name="Kitchen" if call != "update" else "Hall"),
                times=1,
            )
        elif call == "list":
            srv.on(method, path, raw(200, b'{"orders": [], "pagination": {}}'), times=1)
        elif call == "image":
            body = b'{"image_id": "i-1", "image_name": "a.jpg", "status": "waiting"}'
            srv.on(method, path, raw(200, body), times=1)
        else:
            srv.on(method, path, raw(204), times=1)
        started = time.monotonic()
        run(client_for(srv.url))
        assert time.monotonic() - started >= 0.3, "did not wait for Retry-After"
        assert len([r for r in srv.requests if r.method == method]) == 2


def test_a_long_retry_after_does_not_hold_the_clients_later_calls():
    with HostileServer() as srv:
        srv.on("GET", r"^/v3/orders/o-1$", raw(429, b"{}", {"Retry-After": "3600"}), times=1)
        srv.on("GET", r"^/v3/orders/o-2$", order_answer("o-2", name="Hall"), times=1)
        client = AutoenhanceClient(
            api_key="k", base_url=srv.url, max_retries=2, backoff_factor=0.01, rate_limit=50
        )
        with pytest.raises(RateLimitError):
            client.get_order("o-1")
        started = time.monotonic()
        assert client.get_order("o-2")["order_id"] == "o-2"
        assert time.monotonic() - started < 2, "the next call sat out the hour"
