"""The tracker's composition against a running sandbox: one core shared by the order,
photo and bracket operations, ``OrderTracker``'s delegates keeping the operations'
signatures, change callbacks, switching APIs, the gallery factory, and ``FanOut``."""

from __future__ import annotations

import inspect
import threading
import time

import pytest

from autoenhance_nb import AutoenhanceClient, OrderTracker
from autoenhance_nb.sandbox import Sandbox
from autoenhance_nb.tracker import BatchResult, FanOut, set_gallery_factory
from autoenhance_nb.tracker._brackets import Brackets
from autoenhance_nb.tracker._orders import Orders
from autoenhance_nb.tracker._photos import Photos
from autoenhance_nb.tracker._tracker import _gallery_factory as registered_factory


@pytest.mark.parametrize("operations", [Orders, Photos, Brackets])
def test_every_operation_has_a_tracker_delegate_with_the_same_signature(operations):
    public = [n for n, f in vars(operations).items() if inspect.isfunction(f)]
    delegated = [n for n in public if not n.startswith("_") and hasattr(OrderTracker, n)]
    assert delegated, operations
    for name in delegated:
        ours = inspect.signature(getattr(OrderTracker, name))
        theirs = inspect.signature(getattr(operations, name))
        assert ours == theirs, name


def test_the_operations_share_one_table(tracker, sandbox):
    order = tracker.orders.create("Hall")
    assert order["order_id"] in tracker
    assert tracker.photos.core is tracker.orders.core is tracker.brackets.core
    assert tracker.brackets.merged_images().empty
    assert tracker.status_counts() == {"waiting": 1}


def test_switching_api_switches_every_operation(tracker, sandbox):
    tracker.create("Old")
    first = tracker.client
    with Sandbox(processing_seconds=0) as other:
        second = AutoenhanceClient(api_key="k", base_url=other.url, backoff_factor=0.01)
        try:
            old = tracker.use_client(second)
            assert len(tracker) == 0 and tracker.client is second
            tracker.orders.create("New")
            assert [o.get("name") for o in other.orders] == ["New"]
            assert len(sandbox.orders) == 1  # nothing more went to the first API
            tracker.use_client(first, old)
            assert tracker.client is first and tracker.orders.core.client is first
            assert list(tracker.df["name"]) == ["Old"]
        finally:
            second.close()


def test_change_callbacks_get_the_tracker_and_can_unsubscribe(tracker):
    seen: list[object] = []
    remove = tracker.on_change(seen.append)
    tracker.on_change(lambda t: 1 / 0)  # a broken display does not break recording
    tracker.create("One")
    assert seen == [tracker]
    remove()
    remove()  # twice is harmless
    tracker.create("Two")
    assert seen == [tracker] and len(tracker) == 2


def test_session_settings_live_on_the_core(tracker):
    tracker.default_options = {"enhance_type": "warm"}
    assert dict(tracker.default_options) == {"enhance_type": "warm"}
    assert tracker.photos.core.default_options is tracker.default_options
    changes: list[object] = []
    tracker.on_change(changes.append)
    tracker.dev_mode = True
    assert tracker.client.dev_mode and changes == [tracker]


def test_the_gallery_goes_through_the_registered_factory(tracker):
    calls = []
    try:
        set_gallery_factory(lambda order_id, owner, **kw: calls.append((order_id, owner, kw)))
        tracker.gallery("abc", columns=2)
        set_gallery_factory(None)
        with pytest.raises(RuntimeError, match="widgets"):
            tracker.gallery("abc")
    finally:
        set_gallery_factory(registered_factory)
    assert calls == [("abc", tracker, {"columns": 2})]


def test_fan_out_keeps_input_order_and_records_in_the_workers():
    recorded: dict[int, str] = {}
    threads: set[str] = set()

    def call(i: int) -> int:
        time.sleep(0.02 * (5 - i))  # the first items finish last
        if i == 3:
            raise ValueError("three")
        return i * 10

    def record(index: int, value: int) -> None:
        threads.add(threading.current_thread().name)
        recorded[index] = value

    result = BatchResult(total=5)
    batch = FanOut(
        list(range(5)),
        call,
        workers=5,
        result=result,
        describe=lambda i: {"item": i},
        record=record,
        thread_name="composition",
    )
    assert batch.run() is result
    assert result.done == [0, 10, 20, 40]
    assert [(f.index, f.item) for f in result.failed] == [(3, {"item": 3})]
    assert "Unexpected error: ValueError: three" in result.failed[0].message
    assert recorded == {0: 0, 1: 10, 2: 20, 4: 40}
    assert threads and all(t.startswith("composition_") for t in threads)
