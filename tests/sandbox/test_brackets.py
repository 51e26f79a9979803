"""HDR brackets in the sandbox (issue 16, item 5): create, upload, list, process an order
(explicit groups, N per image, automatic), merging as a state, a real merge of the
brackets' pictures, validation, faults and the request log. Real HTTP; every JSON
answer is checked against the shipped spec."""

from __future__ import annotations

import io
import time

import pytest
import requests
from PIL import Image, ImageStat

from autoenhance_nb.sandbox import Sandbox

from ..helpers import HELD, until

KEY = {"x-api-key": "k"}
OCTET = {"Content-Type": "application/octet-stream"}
BRACKETS = "/v3/brackets/"
ORDER_BRACKETS = "/v3/orders/{order_id}/brackets"
PROCESS = "/v3/orders/{id}/process"
ORDER = "/v3/orders/{id}"


def exposure(level: int, scene: int = 0, size: tuple[int, int] = (90, 60)) -> bytes:
    """One bracket: a scene (0: a block on the left, 1: a block at the bottom right)
    drawn at an exposure ``level`` (the background's grey)."""
    picture = Image.new("RGB", size, (level, level, level))
    w, h = size
    box = (5, 5, w // 3, h - 5) if scene == 0 else (w // 2, h // 2, w - 5, h - 5)
    picture.paste((level // 3, level // 3, level // 3), box)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def mean_grey(data: bytes) -> float:
    picture = Image.open(io.BytesIO(data)).convert("L")
    return ImageStat.Stat(picture).mean[0]


def new_order(sb, spec_check, order_id: str = "hdr") -> str:
    resp = requests.post(sb.url + "/v3/orders/", json={"order_id": order_id}, headers=KEY)
    assert resp.status_code == 200
    return resp.json()["order_id"]


def new_bracket(sb, spec_check, order_id: str, name: str, data: bytes | None, **extra) -> dict:
    resp = requests.post(
        sb.url + BRACKETS, json={"order_id": order_id, "name": name, **extra}, headers=KEY
    )
    assert resp.status_code == 200, resp.text
    bracket = spec_check.check(resp, BRACKETS, "POST")
    if data is not None:
        put = requests.put(bracket["upload_url"], data=data, headers=OCTET)
        assert put.status_code == 200 and put.content == b""
    return bracket


def process(sb, order_id: str, body: dict | None = None, headers=KEY):
    return requests.post(sb.url + f"/v3/orders/{order_id}/process", json=body, headers=headers)


def order(sb, spec_check, order_id: str) -> dict:
    return spec_check.check(requests.get(sb.url + f"/v3/orders/{order_id}"), ORDER, "GET")


@pytest.fixture
def hdr():
    with Sandbox(processing_seconds=0, merging_seconds=0) as sb:
        yield sb


# -- create, upload, list ------------------------------------------------------------------
def test_brackets_are_created_uploaded_and_listed(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    first = new_bracket(hdr, spec_check, oid, "DSC_001.png", None, metadata={"ev": -2})
    assert first["order_id"] == oid and first["name"] == "DSC_001.png"
    assert first["is_uploaded"] is False and first["metadata"] == {"ev": -2}
    assert first["upload_url"].startswith(hdr.url + "/_uploads/brackets/")
    second = new_bracket(hdr, spec_check, oid, "DSC_002.png", exposure(200))
    listed = requests.get(hdr.url + f"/v3/orders/{oid}/brackets")  # no key: spec
    body = spec_check.check(listed, ORDER_BRACKETS, "GET")
    assert [(b["bracket_id"], b["is_uploaded"]) for b in body["brackets"]] == [
        (first["bracket_id"], False),
        (second["bracket_id"], True),
    ]
    assert body["brackets"][0]["metadata"] == {"ev": -2}
    assert "upload_url" not in body["brackets"][0]
    put = requests.put(first["upload_url"], data=exposure(40), headers=OCTET)
    assert put.status_code == 200
    again = requests.get(hdr.url + f"/v3/orders/{oid}/brackets").json()["brackets"]
    assert [b["is_uploaded"] for b in again] == [True, True]
    # brackets are not images: the order has none until it is processed
    assert order(hdr, spec_check, oid)["total_images"] == 0


def test_bracket_upload_url_is_pre_signed(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    url = new_bracket(hdr, spec_check, oid, "a.png", None)["upload_url"]
    bare, _, _ = url.partition("?")
    assert requests.put(bare, data=exposure(90), headers=OCTET).status_code == 403
    assert requests.put(bare + "?token=x", data=exposure(90), headers=OCTET).status_code == 403
    wrong_type = requests.put(url, data=exposure(90), headers={"Content-Type": "image/png"})
    assert wrong_type.status_code == 403 and "SignatureDoesNotMatch" in wrong_type.json()["message"]
    other = url.replace("/brackets/", "/brackets/nope-")
    assert requests.put(other, data=exposure(90), headers=OCTET).status_code == 404
    listed = requests.get(hdr.url + f"/v3/orders/{oid}/brackets").json()["brackets"]
    assert listed[0]["is_uploaded"] is False


# -- processing: merging, then images ---------------------------------------------------------
def test_processing_merges_for_a_while_then_each_group_becomes_a_processed_image(spec_check):
    # merges take 1.5 s, a margin for the read right after; processing waits until told
    with Sandbox(processing_seconds=HELD, merging_seconds=1.5) as sb:
        oid = new_order(sb, spec_check)
        levels = [(40, 120, 220), (60, 100, 200)]
        groups = []
        for g, group_levels in enumerate(levels):
            groups.append(
                [
                    new_bracket(sb, spec_check, oid, f"room{g}_{lvl}.png", exposure(lvl))[
                        "bracket_id"
                    ]
                    for lvl in group_levels
                ]
            )
        resp = process(
            sb,
            oid,
            {"images": [{"bracket_ids": ids} for ids in groups], "enhance_type": "warm"},
        )
        assert resp.status_code == 200
        started = spec_check.check(resp, PROCESS, "POST")
        assert started["is_merging"] is True and started["images"] == []
        assert started["status"] == "processing" and started["total_images"] == 0
        during = order(sb, spec_check, oid)
        assert during["is_merging"] is True and during["images"] == []
        until(lambda: not order(sb, spec_check, oid)["is_merging"])
        merged = order(sb, spec_check, oid)
        assert merged["is_merging"] is False and merged["total_images"] == 2
        assert [i["image_name"] for i in merged["images"]] == ["room0_40.png", "room1_60.png"]
        assert {i["status"] for i in merged["images"]} == {"processing"}
        assert {i["enhance_type"] for i in merged["images"]} == {"warm"}
        assert merged["status"] == "processing" and merged["is_processing"] is True
        sb.processing_seconds = 0
        done = order(sb, spec_check, oid)
        assert done["status"] == "processed" and done["is_processing"] is False
        for image, group_levels in zip(done["images"], levels, strict=True):
            original = requests.get(
                sb.url + f"/v3/images/{image['image_id']}/original", headers=KEY
            )
            assert original.status_code == 200
            blended = sum(mean_grey(exposure(lvl)) for lvl in group_levels) / 3
            assert mean_grey(original.content) == pytest.approx(blended, abs=2)
            enhanced = requests.get(
                sb.url + f"/v3/images/{image['image_id']}/enhanced",
                params={"preview": "false", "format": "png"},
                headers=KEY,
            )
            assert enhanced.status_code == 200 and enhanced.content != original.content
        listed = requests.get(sb.url + f"/v3/orders/{oid}/brackets").json()["brackets"]
        assert len(listed) == 6 and all(b["is_uploaded"] for b in listed)


def test_the_merged_original_is_a_blend_of_its_brackets(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    ids = [
        new_bracket(hdr, spec_check, oid, f"{lvl}.png", exposure(lvl))["bracket_id"]
        for lvl in (30, 230)
    ]
    assert process(hdr, oid, {"images": [{"bracket_ids": ids}]}).status_code == 200
    [image] = order(hdr, spec_check, oid)["images"]
    original = requests.get(hdr.url + f"/v3/images/{image['image_id']}/original", headers=KEY)
    assert original.headers["Content-Type"] == "image/png"
    merged = Image.open(io.BytesIO(original.content)).convert("L")
    assert merged.size == (90, 60)
    background = merged.getpixel((80, 55))
    assert background == pytest.approx((30 + 230) / 2, abs=2)  # neither bracket alone
    block = merged.getpixel((10, 10))
    assert block == pytest.approx((30 // 3 + 230 // 3) / 2, abs=2)


def test_every_n_brackets_make_one_image_and_used_brackets_are_not_taken_again(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    for i in range(5):
        new_bracket(hdr, spec_check, oid, f"b{i}.png", exposure(40 + 40 * i))
    resp = process(hdr, oid, {"number_of_brackets_per_image": 2})
    assert resp.status_code == 200
    spec_check.check(resp, PROCESS, "POST")
    images = order(hdr, spec_check, oid)["images"]
    assert [i["image_name"] for i in images] == ["b0.png", "b2.png", "b4.png"]  # 2, 2, 1
    nothing_left = process(hdr, oid, {"number_of_brackets_per_image": 2})
    assert nothing_left.status_code == 422
    body = spec_check.check(nothing_left, PROCESS, "POST")
    assert "no uploaded brackets" in body["detail"]["json"]["_schema"][0]


def test_automatic_grouping_puts_the_exposures_of_one_scene_together(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    for scene in (0, 1):
        for lvl in (50, 130, 210):
            new_bracket(hdr, spec_check, oid, f"s{scene}_{lvl}.png", exposure(lvl, scene))
    resp = process(hdr, oid, {"sky_replacement": True})  # no grouping given: automatic
    assert resp.status_code == 200
    images = order(hdr, spec_check, oid)["images"]
    assert [i["image_name"] for i in images] == ["s0_50.png", "s1_50.png"]
    assert all(i["sky_replacement"] is True for i in images)


def test_a_group_of_one_bracket_is_an_image(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    only = new_bracket(hdr, spec_check, oid, "single.png", exposure(100))["bracket_id"]
    assert process(hdr, oid, {"images": [{"bracket_ids": [only]}]}).status_code == 200
    [image] = order(hdr, spec_check, oid)["images"]
    assert image["image_name"] == "single.png" and image["status"] == "processed"


def test_docs_sample_keys_on_process_are_ignored(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    new_bracket(hdr, spec_check, oid, "a.png", exposure(100))
    resp = process(hdr, oid, {"image_name": "x", "contentType": "image/jpeg", "hdr": True})
    assert resp.status_code == 200
    spec_check.check(resp, PROCESS, "POST")


def test_deleting_the_order_deletes_its_brackets(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    new_bracket(hdr, spec_check, oid, "a.png", exposure(100))
    assert requests.delete(hdr.url + f"/v3/orders/{oid}", headers=KEY).status_code == 204
    gone = requests.get(hdr.url + f"/v3/orders/{oid}/brackets")
    assert gone.status_code == 404
    spec_check.check(gone, ORDER_BRACKETS, "GET")


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body,field",
    [
        ({"order_id": "hdr"}, "name"),
        ({"name": "a.png"}, "order_id"),
        ({"name": 5, "order_id": "hdr"}, "name"),
        ({"name": "a.png", "order_id": "hdr", "metadata": []}, "metadata"),
        ({"name": "a.png", "order_id": "hdr", "colour": "red"}, "colour"),
    ],
)
def test_bad_bracket_bodies_get_422(hdr, spec_check, body, field):
    new_order(hdr, spec_check)
    resp = requests.post(hdr.url + BRACKETS, json=body, headers=KEY)
    assert resp.status_code == 422
    assert field in spec_check.check(resp, BRACKETS, "POST")["detail"]["json"]


def test_bracket_create_needs_a_key_and_an_existing_order(hdr, spec_check):
    body = {"name": "a.png", "order_id": "nowhere"}
    no_key = requests.post(hdr.url + BRACKETS, json=body)
    assert no_key.status_code == 401
    spec_check.check(no_key, BRACKETS, "POST")
    missing = requests.post(hdr.url + BRACKETS, json=body, headers=KEY)
    assert missing.status_code == 404
    spec_check.check(missing, BRACKETS, "POST")
    empty = requests.post(hdr.url + BRACKETS, headers=KEY)
    assert empty.status_code == 422
    spec_check.check(empty, BRACKETS, "POST")


def test_process_refuses_brackets_it_cannot_merge(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    other = new_order(hdr, spec_check, "other")
    up = new_bracket(hdr, spec_check, oid, "up.png", exposure(100))["bracket_id"]
    up2 = new_bracket(hdr, spec_check, oid, "up2.png", exposure(150))["bracket_id"]
    waiting = new_bracket(hdr, spec_check, oid, "waiting.png", None)["bracket_id"]
    foreign = new_bracket(hdr, spec_check, other, "foreign.png", exposure(90))["bracket_id"]
    cases = [
        ({"images": [{"bracket_ids": [up, "nope"]}]}, "images", "does not exist"),
        ({"images": [{"bracket_ids": [up, foreign]}]}, "images", "another order"),
        ({"images": [{"bracket_ids": [up, waiting]}]}, "images", "not been uploaded"),
        ({"images": [{"bracket_ids": [up]}, {"bracket_ids": [up]}]}, "images", "more than one"),
        ({"images": [{"bracket_ids": []}]}, "images", "must not be empty"),
        ({"images": [{"ids": [up]}]}, "images", "bracket_ids"),
        ({"images": {"bracket_ids": [up]}}, "images", "Not a valid list"),
        (
            {"images": [{"bracket_ids": [up]}], "number_of_brackets_per_image": 2},
            "images",
            "not both",
        ),
        ({"number_of_brackets_per_image": -1}, "number_of_brackets_per_image", "greater"),
        ({"number_of_brackets_per_image": "3"}, "number_of_brackets_per_image", "integer"),
        ({"enhance_type": "shiny", "images": [{"bracket_ids": [up]}]}, "enhance_type", "one of"),
    ]
    for body, field, words in cases:
        resp = process(hdr, oid, body)
        assert resp.status_code == 422, body
        detail = spec_check.check(resp, PROCESS, "POST")["detail"]["json"]
        assert words in " ".join(detail[field]), (body, detail)
    assert order(hdr, spec_check, oid)["images"] == []  # nothing was started
    assert process(hdr, oid, {"images": [{"bracket_ids": [up, up2]}]}).status_code == 200


def test_process_needs_a_key_and_an_existing_order(hdr, spec_check):
    no_key = process(hdr, "hdr", {}, headers={})
    assert no_key.status_code == 401
    spec_check.check(no_key, PROCESS, "POST")
    missing = process(hdr, "nowhere", {})
    assert missing.status_code == 404
    spec_check.check(missing, PROCESS, "POST")
    listed = requests.get(hdr.url + "/v3/orders/nowhere/brackets")
    assert listed.status_code == 404
    spec_check.check(listed, ORDER_BRACKETS, "GET")


# -- faults, latency and the request log -----------------------------------------------------
def test_faults_apply_to_bracket_endpoints_and_the_log_records_them(hdr, spec_check):
    oid = new_order(hdr, spec_check)
    hdr.error_rate = 1.0
    assert (
        requests.post(
            hdr.url + BRACKETS, json={"order_id": oid, "name": "a"}, headers=KEY
        ).status_code
        == 503
    )
    assert requests.get(hdr.url + f"/v3/orders/{oid}/brackets").status_code == 503
    assert process(hdr, oid, {}).status_code == 503
    hdr.error_rate = 0.0
    assert requests.get(hdr.url + f"/v3/orders/{oid}/brackets").json()["brackets"] == []
    hdr.ambiguous_next = 1  # committed, answer lost
    lost = requests.post(hdr.url + BRACKETS, json={"order_id": oid, "name": "a.png"}, headers=KEY)
    assert lost.status_code == 502
    [kept] = requests.get(hdr.url + f"/v3/orders/{oid}/brackets").json()["brackets"]
    assert kept["name"] == "a.png"
    hdr.latency = 0.2
    start = time.perf_counter()
    requests.get(hdr.url + f"/v3/orders/{oid}/brackets")
    assert time.perf_counter() - start >= 0.2
    hdr.latency = 0.0
    hdr.clear_log()
    bracket = new_bracket(hdr, spec_check, oid, "b.png", exposure(60))
    process(hdr, oid, {"images": [{"bracket_ids": [bracket["bracket_id"]]}]})
    requests.get(hdr.url + f"/v3/orders/{oid}/brackets")
    log = [(e.method, e.endpoint, e.status, e.had_api_key) for e in hdr.request_log]
    assert log == [
        ("POST", "create_bracket", 200, True),
        ("PUT", "upload_bracket", 200, False),
        ("POST", "process_order", 200, True),
        ("GET", "order_brackets", 200, False),
    ]
    assert hdr.request_log[2].params == {"id": oid}


def test_merging_seconds_is_a_validated_knob():
    with pytest.raises(ValueError, match="merging_seconds must not be negative"):
        Sandbox(merging_seconds=-1)
    sb = Sandbox()
    assert sb.merging_seconds == 2.0
    with pytest.raises(ValueError):
        sb.merging_seconds = "soon"
    sb.merging_seconds = 0.5
    assert sb.app.settings.merging_seconds == 0.5
