"""The client-side rate limiter, with a fake clock, and a client paced by it over HTTP."""

from __future__ import annotations

import time

from autoenhance_nb import AutoenhanceClient
from autoenhance_nb.api._ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate():
    clock = Clock()
    limiter = RateLimiter(10, burst=2, clock=clock)
    assert [limiter.reserve() for _ in range(2)] == [0.0, 0.0]
    assert abs(limiter.reserve() - 0.1) < 1e-9  # the third waits one token's time
    clock.now += 1.0
    assert limiter.reserve() == 0.0


def test_a_429_halves_the_rate_and_holds_everyone_for_retry_after():
    clock = Clock()
    limiter = RateLimiter(100, burst=5, clock=clock)
    limiter.on_limited(2.0)
    assert limiter.rate == 50 and limiter.limited == 1
    assert limiter.reserve() >= 2.0
    clock.now += 60  # good answers for a minute: back to the full rate
    limiter.on_answer()
    assert limiter.rate == 100


def test_the_rate_never_drops_below_its_floor():
    clock = Clock()
    limiter = RateLimiter(4, min_rate=1, clock=clock)
    for _ in range(10):  # 429s a few seconds apart: halved each time, down to the floor
        limiter.on_limited(None)
        clock.now += 2
    assert limiter.rate == 1


def test_a_client_is_paced_by_its_rate_limit(sandbox):
    client = AutoenhanceClient(api_key="k", base_url=sandbox.url, rate_limit=20)
    assert client.rate_limit == 20
    started = time.monotonic()
    for i in range(12):  # a burst of 2 (rate/10), then 20/s
        client.create_order(f"paced {i}")
    assert time.monotonic() - started >= 0.45
    assert len(sandbox.orders) == 12


def test_live_clients_default_to_the_documented_limit_and_sandboxes_to_none(sandbox):
    assert AutoenhanceClient(api_key="k", base_url="https://api.example.com").rate_limit == 300
    assert AutoenhanceClient(api_key="k", base_url=sandbox.url).rate_limit == 0


def test_dev_mode_is_sent_and_shown(sandbox):
    client = AutoenhanceClient(api_key="k", base_url=sandbox.url, dev_mode=True)
    assert "dev mode" in repr(client)
    from autoenhance_nb import OrderTracker

    tracker = OrderTracker(client)
    tracker.create("dev")
    assert "dev mode" in tracker.environment_label and "dev mode" in tracker._repr_html_()


def test_a_burst_of_429s_halves_the_rate_once():
    clock = Clock()
    limiter = RateLimiter(300, clock=clock)
    for _ in range(8):  # eight answers of one burst
        limiter.on_limited(None)
    assert limiter.rate == 150
    clock.now += 1.5
    limiter.on_limited(None)
    assert limiter.rate < 150


def test_a_retry_after_over_the_cap_does_not_pause_everyone():
    clock = Clock()
    limiter = RateLimiter(100, burst=5, clock=clock)
    limiter.on_limited(3600, cap=30)
    assert limiter.reserve() < 1
