"""``Sandbox.reset()`` over real HTTP: a running sandbox comes back to a new one's state
(data, log, faults, knobs) without a restart, so tests may share one."""

from __future__ import annotations

import requests

from autoenhance_nb.sandbox import Sandbox

from ..conftest import png_bytes

KEY = {"x-api-key": "any-key"}


def _fill(s: requests.Session, url: str) -> dict:
    """An order with an uploaded, reported image and an uploaded bracket."""
    assert s.post(url + "/v3/orders/", json={"order_id": "kept"}, headers=KEY).ok
    image = s.post(
        url + "/v3/images/", json={"image_name": "a.png", "order_id": "kept"}, headers=KEY
    ).json()
    put = s.put(
        image["upload_url"],
        data=png_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 200
    report = {"categories": ["COLOUR"]}
    assert s.post(f"{url}/v3/images/{image['image_id']}/report", json=report, headers=KEY).ok
    assert s.get(f"{url}/v3/images/{image['image_id']}/enhanced", headers=KEY).ok
    bracket = s.post(
        url + "/v3/brackets/", json={"order_id": "kept", "name": "b1.png"}, headers=KEY
    ).json()
    assert s.put(
        bracket["upload_url"],
        data=png_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    ).ok
    return image


def test_reset_empties_the_running_sandbox_without_a_restart():
    with Sandbox(processing_seconds=0, merging_seconds=0) as sb, requests.Session() as s:
        url = sb.url
        image = _fill(s, url)
        assert sb.orders and sb.reports and sb.request_log
        sb.processing_seconds = 5
        sb.error_rate = 0.5
        sb.latency = 0.01
        sb.ambiguous_next = 2
        sb.api_key = "only-this"

        assert sb.reset() is sb

        assert sb.running and sb.url == url
        assert (sb.processing_seconds, sb.error_rate, sb.latency) == (0.0, 0.0, 0.0)
        assert sb.ambiguous_next == 0 and sb.api_key is None
        assert sb.orders == [] and sb.reports == [] and sb.request_log == []
        assert sb.connections_opened == 0
        # the same kept-alive connection goes on: the server was not restarted
        listed = s.get(url + "/v3/orders/", headers=KEY)
        assert listed.status_code == 200 and listed.json()["orders"] == []
        assert s.get(url + "/v3/orders/kept").status_code == 404
        assert s.get(f"{url}/v3/images/{image['image_id']}").status_code == 404
        assert s.get(url + "/v3/orders/kept/brackets").status_code == 404
        # the old id is free again, and a write is answered (no lost answer pending)
        again = s.post(url + "/v3/orders/", json={"order_id": "kept"}, headers=KEY)
        assert again.status_code == 200
        assert [(e.method, e.status) for e in sb.request_log] == [
            ("GET", 200),
            ("GET", 404),
            ("GET", 404),
            ("GET", 404),
            ("POST", 200),
        ]
        assert sb.connections_opened == 0  # counted from the reset: none opened since


def test_reset_counts_connections_from_one_again():
    with Sandbox() as sb:
        for _ in range(2):
            requests.get(sb.url + "/_sandbox/health")
        assert sb.connections_opened == 2
        sb.reset()
        requests.get(sb.url + "/_sandbox/health")
        assert sb.connections_opened == 1
        assert [e.connection for e in sb.request_log] == [1]


def test_reset_fills_the_rate_limit_bucket():
    with Sandbox(rate_limit=2) as sb, requests.Session() as s:
        codes = [s.post(sb.url + "/v3/orders/", headers=KEY).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        sb.reset()
        codes = [s.post(sb.url + "/v3/orders/", headers=KEY).status_code for _ in range(2)]
        assert codes == [200, 200]


def test_reset_restarts_the_seeded_faults():
    with Sandbox(seed=11, error_rate=0.5) as sb, requests.Session() as s:

        def statuses():
            return [s.get(sb.url + "/v3/orders/", headers=KEY).status_code for _ in range(20)]

        first = statuses()
        assert {200, 503} <= set(first)
        sb.reset()
        assert statuses() == first


def test_reset_restores_knobs_set_before_start_to_the_constructed_ones():
    sb = Sandbox(processing_seconds=1, daily_image_limit=4)
    sb.processing_seconds = 3
    sb.daily_image_limit = None
    sb.reset()
    assert (sb.processing_seconds, sb.daily_image_limit) == (1.0, 4)
