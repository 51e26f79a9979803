"""The client's bracket endpoints (issue 16) against a running sandbox, real HTTP:
checks before any request, no key sent to the storage host, exactly once under lost
answers, and a 60-bracket shoot under the sandbox's fault knobs."""

from __future__ import annotations

import importlib.util
import time
from collections import Counter
from pathlib import Path

import pytest

from autoenhance_nb import AutoenhanceClient, OrderTracker
from autoenhance_nb import errors as E
from autoenhance_nb.rules.brackets import plan_brackets
from autoenhance_nb.sandbox import Sandbox

SAMPLES = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "brackets"
_spec = importlib.util.spec_from_file_location("make_brackets", SAMPLES / "make_brackets.py")
assert _spec is not None and _spec.loader is not None
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)
FILES = sorted(SAMPLES.glob("DSC_*.jpg"))


@pytest.fixture
def hdr():
    with Sandbox(processing_seconds=0, merging_seconds=0.2) as sb:
        yield sb


@pytest.fixture
def api(hdr):
    client = AutoenhanceClient(api_key="k", base_url=hdr.url, backoff_factor=0.01)
    client.create_order("HDR", order_id="hdr")
    hdr.clear_log()
    yield client
    client.close()


def test_upload_list_and_process_explicit_groups(hdr, api):
    brackets = [api.upload_bracket("hdr", f, metadata={"n": i}) for i, f in enumerate(FILES[:5])]
    assert all(b["is_uploaded"] and b["order_id"] == "hdr" for b in brackets)
    assert brackets[0]["name"] == "DSC_0001.jpg" and brackets[0]["metadata"]["n"] == 0
    listed = api.list_brackets("hdr")
    assert [b["bracket_id"] for b in listed] == [b["bracket_id"] for b in brackets]
    assert all(b["is_uploaded"] for b in listed)
    puts = [e for e in hdr.request_log if e.method == "PUT"]
    assert len(puts) == 5 and not any(e.had_api_key for e in puts)  # storage host: no key
    ids = [b["bracket_id"] for b in brackets]
    order = api.process_order("hdr", groups=[ids[:3], ids[3:]], sky_replacement=True)
    assert order["is_merging"] is True and order["status"] == "processing"
    time.sleep(0.4)
    images = api.get_order("hdr")["images"]
    assert sorted(i["image_name"] for i in images) == ["DSC_0001.jpg", "DSC_0004.jpg"]
    assert all(i["sky_replacement"] is True for i in images)


def test_process_every_n_brackets(hdr, api):
    for f in FILES[:6]:
        api.upload_bracket("hdr", f)
    api.process_order("hdr", brackets_per_image=3)
    time.sleep(0.4)
    assert len(api.get_order("hdr")["images"]) == 2


def test_bad_input_is_refused_before_any_request(hdr, api, tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"hello")
    bad = [
        lambda: api.upload_bracket("hdr", tmp_path / "x.jpg"),
        lambda: api.upload_bracket("hdr", tmp_path / "missing.jpg"),
        lambda: api.create_bracket("", "a.jpg"),
        lambda: api.create_bracket("hdr", " "),
        lambda: api.create_bracket("hdr", "a.jpg", metadata=["no"]),  # type: ignore[arg-type]
        lambda: api.process_order("hdr", groups=[["a"], []]),
        lambda: api.process_order("hdr", groups=[["a", "b"], ["b"]]),
        lambda: api.process_order("hdr", groups=[["a"]], brackets_per_image=3),
        lambda: api.process_order("hdr", brackets_per_image=0),
        lambda: api.process_order("hdr", number_of_brackets_per_image=3),
    ]
    for call in bad:
        with pytest.raises(E.ValidationError) as info:
            call()
        assert "\n" not in str(info.value)
    assert hdr.request_log == []


def test_an_unknown_order_is_not_found(api):
    with pytest.raises(E.NotFoundError):
        api.create_bracket("nope", "a.jpg")
    with pytest.raises(E.NotFoundError):
        api.list_brackets("nope")


def test_a_lost_registration_answer_leaves_no_usable_duplicate(hdr, api):
    hdr.ambiguous_next = 1  # the first registration is committed, its answer lost
    bracket = api.upload_bracket("hdr", FILES[0])
    listed = api.list_brackets("hdr")
    assert len(listed) == 2  # the lost attempt's registration: no bytes, same client_ref
    (uploaded,) = [b for b in listed if b["is_uploaded"]]
    assert uploaded["bracket_id"] == bracket["bracket_id"]
    refs = {b["metadata"]["client_ref"] for b in listed}
    assert len(refs) == 1


def test_a_lost_process_answer_is_not_sent_twice(hdr, api):
    ids = [api.upload_bracket("hdr", f)["bracket_id"] for f in FILES[:3]]
    hdr.clear_log()
    hdr.ambiguous_next = 1
    order = api.process_order("hdr", groups=[ids])
    assert order["is_merging"] is True
    posts = [e for e in hdr.request_log if e.method == "POST"]
    assert [e.status for e in posts] == [502]  # never resent
    time.sleep(0.4)
    assert len(api.get_order("hdr")["images"]) == 1


@pytest.mark.slow  # soak: sixty brackets under faults
def test_a_sixty_bracket_shoot_under_faults_ends_exactly_right(tmp_path):
    views = [((-2, 0, 2), 10), ((-4, -2, 0, 2, 4), 1)] * 6 + [((-2, 0, 2), 10)] * 4
    files = make.write_shoot(tmp_path, views)
    assert len(files) == 60
    expected = plan_brackets(files)
    assert [len(g.shots) for g in expected.groups] == [len(v[0]) for v in views]
    with Sandbox(
        processing_seconds=0,
        merging_seconds=0.2,
        error_rate=0.2,
        ambiguous_rate=0.1,
        rate_limit=40,
        seed=16,
    ) as sb:
        client = AutoenhanceClient(
            api_key="k", base_url=sb.url, backoff_factor=0.01, max_retries=10
        )
        tracker = OrderTracker(client)
        tracker.create("Big shoot", order_id="big")
        result = tracker.add_brackets("big", files, workers=6, progress=False)
        assert result.ok, result.uploads.failed if result.uploads else None
        sb.error_rate = sb.ambiguous_rate = 0
        tracker.watch(interval=0.1, timeout=60, progress=False)
        log = sb.request_log
        brackets = client.list_brackets("big")
        order = client.get_order("big")
    uploaded = Counter(b["name"] for b in brackets if b["is_uploaded"])
    names = Counter(i["image_name"] for i in order["images"])
    duplicates = sum(n - 1 for n in uploaded.values()) + sum(n - 1 for n in names.values())
    statuses = Counter(e.status for e in log)
    print(
        f"\n60-bracket shoot under faults: requests={len(log)} "
        f"5xx={sum(n for s, n in statuses.items() if s >= 500)} 429={statuses[429]} "
        f"duplicates={duplicates} ignored_registrations={result.ignored} "
        f"images={len(order['images'])}"
    )
    assert sorted(uploaded) == sorted(f.name for f in files) and duplicates == 0
    assert sorted(names) == sorted(g.name for g in expected.groups)
    assert all(i["status"] == "processed" for i in order["images"])
    assert statuses[503] and statuses[502] and statuses[429]  # the faults did happen
    merged = tracker.merged_images("big")
    assert sorted(merged["brackets"]) == sorted(len(g.shots) for g in expected.groups)
