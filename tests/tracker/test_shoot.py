"""HDR shoots through the journal: brackets and merged groups are known by their
content, so a second shoot whose files reuse the first one's names is uploaded and
merged, while the same shoot run again in a fresh kernel sends nothing twice."""

from __future__ import annotations

import time

import pytest

from autoenhance_nb import AutoenhanceClient, OrderTracker
from autoenhance_nb.sandbox import Sandbox

from ..crashes import write_shoot


@pytest.fixture
def hdr():
    with Sandbox(processing_seconds=0, merging_seconds=0.05) as sb:
        client = AutoenhanceClient(api_key="k", base_url=sb.url, backoff_factor=0.01)
        client.create_order("HDR", order_id="hdr")
        yield client
        client.close()


def _merged(client):
    deadline = time.monotonic() + 10
    order = client.get_order("hdr")
    while order.get("is_merging") and time.monotonic() < deadline:
        time.sleep(0.02)
        order = client.get_order("hdr")
    return order["images"]


def test_a_second_shoot_reusing_file_names_is_uploaded_and_merged(hdr, tmp_path):
    first = write_shoot(tmp_path / "monday", views=2)
    second = write_shoot(tmp_path / "tuesday", views=2, start_day=1)  # counter restarted
    assert [p.name for p in first] == [p.name for p in second]
    tracker = OrderTracker(hdr)
    assert tracker.add_brackets("hdr", first, progress=False).ok
    _merged(hdr)
    result = OrderTracker(hdr).add_brackets("hdr", second, progress=False)
    assert result.ok and not result.already_merged and result.reused == 0
    assert len(result.groups) == 2
    assert len(_merged(hdr)) == 4  # was 2: the second shoot skipped as "already merged"


def test_the_same_shoot_run_again_in_a_fresh_kernel_sends_nothing(hdr, tmp_path):
    files = write_shoot(tmp_path / "shoot", views=2)
    OrderTracker(hdr).add_brackets("hdr", files, progress=False)
    _merged(hdr)
    again = OrderTracker(hdr).add_brackets("hdr", files, progress=False)
    assert len(again.already_merged) == 2 and again.uploads.total == 0
    assert len(_merged(hdr)) == 2
    brackets = hdr.list_brackets("hdr")
    assert len(brackets) == 6 and all(len(b["metadata"]["sha256"]) == 64 for b in brackets)
