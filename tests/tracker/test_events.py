"""Webhook events into the tracker (``_events``, ``_listener``, ``_eventlog``), over real
HTTP: the sandbox sends, ``tracker.listen`` receives. Refused deliveries change nothing;
duplicates, reordering and losses leave the table equal to the server's state; an order
the table does not hold is ignored; watching with a receiver polls only as a safety net."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from autoenhance_nb import AutoenhanceClient, OrderTracker
from autoenhance_nb.sandbox import Sandbox
from autoenhance_nb.tracker import EventLog, WebhookEvent

from ..helpers import WEBHOOK_AUTH, png_bytes, server_state, table_state


def _photos(n: int) -> list[tuple[str, bytes]]:
    return [(f"p{i}.png", png_bytes()) for i in range(n)]


def _post(url: str, body, auth: str | None = WEBHOOK_AUTH, **headers) -> requests.Response:
    if auth is not None:
        headers["Authorization"] = auth
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, headers=headers, timeout=10)


def _event(order_id: str, image_id: str, **fields) -> dict:
    return {
        "event": "image_processed",
        "image_id": image_id,
        "error": False,
        "order_id": order_id,
        "order_is_processing": False,
        **fields,
    }


def test_refused_deliveries_get_a_4xx_and_change_nothing(sandbox, tracker):
    sandbox.processing_seconds = 600
    order = tracker.create("Kitchen")
    tracker.add_images(order["order_id"], _photos(1), progress=False)
    image_id = tracker.images_df["image_id"][0]
    before = table_state(tracker)
    listener = tracker.listen(auth=WEBHOOK_AUTH)
    sandbox.clear_log()
    good = _event(order["order_id"], image_id)
    big = {**good, "padding": "x" * 17_000}
    try:
        answers = {
            "no auth": _post(listener.url, good, auth=None),
            "wrong auth": _post(listener.url, good, auth=WEBHOOK_AUTH + "x"),
            "auth in another header": _post(listener.url, good, auth=None, X_Auth=WEBHOOK_AUTH),
            "oversized": _post(listener.url, big),
            "oversized, wrong auth": _post(listener.url, big, auth="nope"),
            "unknown event": _post(listener.url, {**good, "event": "order_deleted"}),
            "not JSON": _post(listener.url, b"image_processed"),
            "a list": _post(listener.url, [good]),
            "error not a bool": _post(listener.url, {**good, "error": "false"}),
            "no image id": _post(listener.url, {**good, "image_id": None}),
            "another path": _post(listener.url.rsplit("/", 1)[0] + "/other", good),
            "a GET": requests.get(listener.url, headers={"Authorization": WEBHOOK_AUTH}),
        }
        statuses = {what: answer.status_code for what, answer in answers.items()}
        assert statuses == {
            "no auth": 401,
            "wrong auth": 401,
            "auth in another header": 401,
            "oversized": 413,
            "oversized, wrong auth": 401,
            "unknown event": 422,
            "not JSON": 400,
            "a list": 400,
            "error not a bool": 422,
            "no image id": 422,
            "another path": 404,
            "a GET": 405,
        }
        assert table_state(tracker) == before
        assert tracker.events.counts == {"applied": 0, "ignored": 0, "fetched": 0, "failed": 0}
        assert sandbox.request_log == []
        assert listener.refused == 10 and listener.received == 0
        # the same event, delivered properly, is applied
        assert _post(listener.url, good).status_code == 200
        assert tracker.events.idle()
        assert tracker.events.counts["applied"] == 1
    finally:
        listener.stop()


def test_an_event_for_an_order_the_table_does_not_hold_is_ignored(sandbox, tracker, hooked):
    tracker.create("Tracked")
    other = requests.post(
        sandbox.url + "/v3/orders", json={"name": "not ours"}, headers={"x-api-key": "k"}
    ).json()
    sandbox.clear_log()
    before = table_state(tracker)
    answer = _post(hooked.url, _event(other["order_id"], "some-image"))
    assert answer.status_code == 200  # accepted (the sender must not retry), not applied
    assert tracker.events.idle()
    assert tracker.events.counts["ignored"] == 1
    assert table_state(tracker) == before and other["order_id"] not in tracker
    assert sandbox.request_log == []


def test_duplicated_and_reordered_events_change_nothing_more(sandbox, tracker, hooked):
    sandbox.processing_seconds = 600
    order = tracker.create("Hall")
    tracker.add_images(order["order_id"], _photos(3), progress=False)
    ids = list(tracker.images_df["image_id"])
    sandbox.processing_seconds = 0  # done: the sender announces each image
    deadline = time.monotonic() + 10
    while table_state(tracker) != server_state(sandbox):
        assert time.monotonic() < deadline, "the events did not bring the table up to date"
        time.sleep(0.02)
    assert tracker.events.idle()
    settled = table_state(tracker)
    # every event again, twice, newest first: the table stays as it is
    events = [_event(order["order_id"], i, order_is_processing=n < 2) for n, i in enumerate(ids)]
    for event in [*reversed(events), *events]:
        assert _post(hooked.url, event).status_code == 200
    assert tracker.events.idle()
    assert table_state(tracker) == settled == server_state(sandbox)


def test_an_image_event_moves_the_photo_at_once_and_the_order_when_it_is_done(
    sandbox, tracker, hooked
):
    sandbox.processing_seconds = 600
    order = tracker.create("Garden")
    tracker.add_images(order["order_id"], _photos(2), progress=False)
    first, second = tracker.images_df["image_id"]
    sandbox.clear_log()
    seen = []
    tracker.on_change(lambda t: seen.append(t.images_df.set_index("image_id")["status"][first]))
    _post(hooked.url, _event(order["order_id"], first, order_is_processing=True))
    assert tracker.events.idle() and sandbox.request_log == []
    assert seen and seen[-1] == "processed"  # no request: the event said it
    assert tracker.row(order["order_id"])["status"] == "processing"
    _post(hooked.url, _event(order["order_id"], second))  # the order is done: read it once
    assert tracker.events.idle()
    assert [e.endpoint for e in sandbox.request_log] == ["retrieve_order"]


def test_under_20_percent_lost_duplicated_and_reordered_events_the_table_ends_as_the_server(
    tmp_path,
):
    faults = {
        "webhook_drop_rate": 0.2,
        "webhook_duplicate_rate": 0.2,
        "webhook_reorder_rate": 0.2,
    }
    with Sandbox(processing_seconds=0.6, seed=26, webhook_auth=WEBHOOK_AUTH, **faults) as sb:
        tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url=sb.url))
        tracker.events.safety_interval = 0.5  # the safety net, scaled down for the test
        with tracker.listen(auth=WEBHOOK_AUTH) as listener:
            sb.webhook_url = listener.url
            for n in range(8):
                order = tracker.create(f"Order {n}")
                tracker.add_images(order["order_id"], _photos(4), progress=False)
            tracker.watch(interval=0.05, timeout=60, progress=False)
            assert tracker.events.idle()
            time.sleep(0.8)  # late (held back, retried) events arrive too
            assert tracker.events.idle()
            assert table_state(tracker) == server_state(sb)
        sent = [s.event["image_id"] for s in sb.webhooks_sent if "image_id" in s.event]
        assert len(set(sent)) < 32, "no event was dropped"
        assert len(sent) > len(set(sent)), "no event was duplicated"


@pytest.mark.slow
def test_watching_200_photos_by_webhook_costs_at_most_a_tenth_of_polling():
    calls = {}
    for mode in ("polling", "webhooks"):
        with Sandbox(processing_seconds=600, webhook_auth=WEBHOOK_AUTH) as sb:
            tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url=sb.url))
            listener = tracker.listen(auth=WEBHOOK_AUTH) if mode == "webhooks" else None
            sb.webhook_url = listener.url if listener else None
            for n in range(20):
                order = tracker.create(f"Order {n}")
                tracker.add_images(order["order_id"], _photos(10), progress=False)
            sb.processing_seconds = 3.0 + (time.time() - min(_started(sb)))
            sb.clear_log()
            tracker.watch(interval=0.1, timeout=60, progress=False)
            tracker.events.idle()
            calls[mode] = len(sb.request_log)
            assert table_state(tracker) == server_state(sb)
            if listener:
                listener.stop()
    assert calls["webhooks"] <= 0.10 * calls["polling"], calls


def _started(sb) -> list[float]:
    return [i.upload_started for i in sb.app.account.store.images.values()]


def test_the_event_log_relays_events_to_a_follower(sandbox, tracker, tmp_path):
    sandbox.processing_seconds = 600
    order = tracker.create("Desk order")
    tracker.add_images(order["order_id"], _photos(1), progress=False)
    image_id = tracker.images_df["image_id"][0]
    log = EventLog(tmp_path / "events.sqlite")
    log.append(WebhookEvent("image_processed", "old", order["order_id"], False, True))
    follower = tracker.follow(tmp_path / "events.sqlite")
    try:
        assert tracker.events.active
        sandbox.processing_seconds = 0
        log.append(WebhookEvent("image_processed", image_id, order["order_id"], False, False))
        deadline = time.monotonic() + 5
        while tracker.row(order["order_id"])["status"] != "processed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert follower.position == 2  # the event before it started was not applied
        assert tracker.events.counts["applied"] == 1
    finally:
        follower.stop()
    assert not tracker.events.active


def test_a_listener_says_where_it_is_never_its_auth_and_needs_auth_beyond_this_machine(
    tracker,
):
    with tracker.listen(auth=WEBHOOK_AUTH) as listener:
        text = repr(listener)
        assert listener.url in text and "auth required" in text
        assert WEBHOOK_AUTH not in text
    assert "stopped" in repr(listener) and not tracker.events.active
    with pytest.raises(ValueError, match="needs auth"):
        tracker.listen(host="0.0.0.0")
    with pytest.raises(ValueError, match="auth"):
        tracker.listen(auth="  ")


def test_watch_with_a_receiver_waits_for_events_and_says_polling_is_a_safety_net(
    sandbox, tracker, hooked, caplog
):
    sandbox.processing_seconds = 0.5
    order = tracker.create("Attic")
    tracker.add_images(order["order_id"], _photos(2), progress=False)
    sandbox.clear_log()
    with caplog.at_level("INFO", logger="autoenhance_nb"):
        tracker.watch(interval=0.05, progress=False)
    assert tracker.status_counts() == {"processed": 1}
    assert "live by webhook; checking every 60 s as a safety net" in caplog.text
    # one refresh to start, one read when the event says the order is done
    assert len(sandbox.requests_to("retrieve_order")) == 2


def test_a_receiver_stopping_mid_watch_brings_the_usual_polling_back(sandbox, tracker):
    sandbox.processing_seconds = 0.8
    order = tracker.create("Cellar")
    tracker.add_images(order["order_id"], _photos(1), progress=False)
    listener = tracker.listen(auth=WEBHOOK_AUTH)  # the sandbox sends it nothing
    threading.Timer(0.2, listener.stop).start()
    started = time.monotonic()
    tracker.watch(interval=0.05, timeout=30, progress=False)
    assert time.monotonic() - started < 5  # not the 60 s safety net
    assert tracker.status_counts() == {"processed": 1}
