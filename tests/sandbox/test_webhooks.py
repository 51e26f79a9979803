"""The sandbox's webhooks (``_webhooks``): what it sends, when, to whom, with which
header; retries; the seeded faults; stopping. A real HTTP receiver records them."""

from __future__ import annotations

import time

import pytest
import requests

from autoenhance_nb.sandbox import Sandbox

from ..helpers import WebhookRecorder, png_bytes

AUTH = "sandbox-webhook-auth-0123"


@pytest.fixture
def recorder():
    r = WebhookRecorder()
    yield r
    r.stop()


def _photos(sb, order_id: str, n: int, data: bytes | None = None) -> list[str]:
    ids = []
    for i in range(n):
        created = requests.post(
            sb.url + "/v3/images/",
            headers={"x-api-key": "k"},
            json={"image_name": f"p{i}.png", "order_id": order_id},
        ).json()
        requests.put(
            created["upload_url"],
            data=png_bytes() if data is None else data,
            headers={"Content-Type": "application/octet-stream"},
        )
        ids.append(created["image_id"])
    return ids


def _hook(sb, recorder, **faults) -> None:
    sb.webhook_auth = AUTH
    for name, value in faults.items():
        setattr(sb, name, value)
    sb.webhook_url = recorder.url


def test_each_image_is_announced_when_its_time_is_up_without_anyone_reading(sandbox, recorder):
    sandbox.processing_seconds = 0.4
    _hook(sandbox, recorder)
    recorder.wait_for(1, "webhook_updated")
    started = time.monotonic()
    ids = _photos(sandbox, "hooked", 2)
    sandbox.clear_log()
    events = recorder.wait_for(2)
    arrived = recorder.posts[-1][0] - started
    assert 0.35 <= arrived < 1.5, arrived  # sent when processing ended, by the sender
    assert sandbox.request_log == []  # nobody asked the API
    assert sorted(e["image_id"] for e in events) == sorted(ids)
    assert {e["order_id"] for e in events} == {"hooked"}
    assert all(e["error"] is False for e in events)
    assert events[-1]["order_is_processing"] is False
    headers = recorder.posts[-1][1]
    assert headers["Authorization"] == AUTH
    assert headers["Content-Type"] == "application/json"


def test_a_failed_image_is_announced_with_error_and_the_header_name_is_a_setting(sandbox, recorder):
    sandbox.webhook_header = "X-Webhook-Auth"
    _hook(sandbox, recorder)
    _photos(sandbox, "broken", 1, data=b"not a picture")
    (event,) = recorder.wait_for(1)
    assert event["error"] is True and event["order_is_processing"] is False
    assert recorder.posts[-1][1]["X-Webhook-Auth"] == AUTH
    assert "Authorization" not in recorder.posts[-1][1]


def test_a_failing_receiver_gets_the_event_again_with_backoff(sandbox, recorder):
    recorder.fail_next = 3  # webhook_updated is sent first: it takes these
    _hook(sandbox, recorder, webhook_backoff=0.05)
    recorder.wait_for(1, "webhook_updated")
    deadline = time.monotonic() + 5
    while len(sandbox.webhooks_sent) < 4:  # the answer reaches the sender after the receiver
        assert time.monotonic() < deadline
        time.sleep(0.01)
    attempts = [s.attempt for s in sandbox.webhooks_sent]
    assert attempts == [0, 1, 2, 3]
    assert [s.status for s in sandbox.webhooks_sent] == [500, 500, 500, 200]


def test_a_receiver_that_keeps_failing_is_given_up_after_the_retries(sandbox, recorder):
    recorder.fail_next = 100
    _hook(sandbox, recorder, webhook_backoff=0.01, webhook_retries=2)
    deadline = time.monotonic() + 5
    while len(sandbox.webhooks_sent) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert len(sandbox.webhooks_sent) == 3 and sandbox.webhooks_pending == 0


def test_the_faults_drop_duplicate_and_reorder_as_seeded(recorder):
    counts = {}
    for fault in ("webhook_duplicate_rate", "webhook_drop_rate"):
        with Sandbox(processing_seconds=0, seed=7) as sb:
            _hook(sb, recorder)
            recorder.wait_for(1, "webhook_updated")
            setattr(sb, fault, 1.0)
            recorder.posts.clear()
            _photos(sb, fault, 3)
            if fault == "webhook_duplicate_rate":
                recorder.wait_for(6)
            time.sleep(0.25)  # nothing more comes
            counts[fault] = len(recorder.events())
    assert counts == {"webhook_drop_rate": 0, "webhook_duplicate_rate": 6}

    with Sandbox(processing_seconds=0, seed=7) as sb:
        _hook(sb, recorder)
        recorder.wait_for(1, "webhook_updated")
        recorder.posts.clear()
        sb.webhook_reorder_rate = 1.0  # each event held back until the next overtakes it
        ids = _photos(sb, "reordered", 4)
        sent = [e["image_id"] for e in recorder.wait_for(4)]
    assert sorted(sent) == sorted(ids) and sent != ids


def test_stop_ends_the_sender_and_reset_forgets_the_queue(recorder):
    sb = Sandbox(processing_seconds=0, webhook_url=recorder.url).start()
    recorder.wait_for(1, "webhook_updated")
    thread = sb.app.webhooks._thread
    assert thread is not None and thread.is_alive()
    sb.stop()
    assert not thread.is_alive()
    sb.start()
    sb.webhook_url = "http://127.0.0.1:9/nothing-listens"  # refused: retried for a while
    _photos(sb, "queued", 1)
    sb.reset()
    assert sb.webhooks_pending == 0 and sb.webhooks_sent == []
    assert sb.webhook_url == recorder.url  # the knobs as constructed
    sb.stop()


@pytest.mark.parametrize(
    "name, value",
    [
        ("webhook_url", "ftp://example"),
        ("webhook_auth", ""),
        ("webhook_auth", "two\nlines"),
        ("webhook_header", "Bad Header"),
        ("webhook_drop_rate", 1.5),
        ("webhook_retries", -1),
    ],
)
def test_bad_webhook_settings_are_refused(name, value):
    with pytest.raises(ValueError, match=name):
        Sandbox(**{name: value})


def test_the_cli_has_the_webhook_options_and_takes_the_auth_from_the_environment(monkeypatch):
    from autoenhance_nb.sandbox.__main__ import build_parser, settings_from

    monkeypatch.setenv("AUTOENHANCE_SANDBOX_WEBHOOK_AUTH", AUTH)
    args = build_parser().parse_args(
        ["--webhook-url", "http://127.0.0.1:1/h", "--webhook-header", "X-Auth"]
    )
    values = settings_from(args)
    assert values["webhook_url"] == "http://127.0.0.1:1/h"
    assert values["webhook_auth"] == AUTH and values["webhook_header"] == "X-Auth"
