"""The official Autoenhance Python SDK (PyPI ``autoenhance`` 1.1.0, OpenAPI-generated,
strict pydantic models), unchanged, against the sandbox: if the sandbox answers
anything the SDK cannot parse, these fail. Skipped when the SDK is not installed."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from autoenhance_nb.sandbox import Sandbox

autoenhance = pytest.importorskip("autoenhance")
from autoenhance import exceptions as sdk_errors  # noqa: E402
from autoenhance import models  # noqa: E402

OCTET = {"Content-Type": "application/octet-stream"}


def jpeg(width: int = 160, height: int = 100, lift: int = 0) -> bytes:
    picture = Image.linear_gradient("L").rotate(90).resize((width, height)).convert("RGB")
    picture = picture.point(lambda v: min(255, v + lift))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


@pytest.fixture
def sb():
    with Sandbox(api_key="sdk-key", processing_seconds=0, merging_seconds=0) as sandbox:
        yield sandbox


@pytest.fixture
def ae(sb):
    return autoenhance.Autoenhance("sdk-key", baseURL=sb.url)


def test_sdk_version_is_the_one_the_notes_describe():
    assert autoenhance.__version__ == "1.1.0" and autoenhance.__api_version__ == "2025-05-08"


def test_images_create_upload_reprocess_report_and_download(ae, sb):
    order = ae.create_order(name="SDK shoot")  # untyped in the spec: a dict
    assert order["name"] == "SDK shoot" and order["status"] == "waiting"
    created = ae.create_image(
        image_name="kitchen.jpg",
        order_id=order["order_id"],
        enhance_type="neutral",
        ai_version="4.x",
        metadata={"room": "kitchen"},
    )
    assert isinstance(created, models.ImageCreatedOut)
    assert created.status == "waiting" and created.order_id == order["order_id"]
    data = jpeg()
    put = requests.put(created.upload_url, data=data, headers=OCTET)
    assert put.status_code == 200

    image = ae.retrieve_image(id=created.image_id)
    assert isinstance(image, models.ImageOut)
    assert image.status == "processed" and image.enhance_type == "neutral"
    assert image.metadata == {"room": "kitchen"} and image.downloaded is False

    again = ae.v3_images_id_process_post(id=created.image_id, enhance_type="warm")
    assert isinstance(again, models.ImageOut)
    assert again.enhance_type == "warm" and again.ai_version == "4.x"
    assert again.additional_properties == {}  # the wrapper's body "id" is not kept

    ack = ae.report_image(
        id=created.image_id,
        categories=["COLOUR", "EXPOSURE"],
        comment="a bit warm",
        score=4,
        source="API",
    )
    assert isinstance(ack["message"], str)
    [report] = sb.reports
    assert report["categories"] == ["COLOUR", "EXPOSURE"] and report["score"] == 4

    preview = ae.download_enhanced_image(id=created.image_id)  # default: a preview
    assert size_of(preview) == (80, 50)
    assert ae.download_enhanced_image(id=created.image_id, preview=True) == preview
    assert ae.retrieve_image(id=created.image_id).downloaded is False
    full = ae.download_enhanced_image(id=created.image_id, preview=False, format="png")
    assert bytes(full[:8]) == b"\x89PNG\r\n\x1a\n" and size_of(full) == (160, 100)
    assert ae.retrieve_image(id=created.image_id).downloaded is True
    original = ae.download_original_image(id=created.image_id)
    assert bytes(original) == data
    small = ae.download_original_image(id=created.image_id, max_width=40, format="webp")
    assert size_of(small) == (40, 25)

    listed = ae.list_orders(per_page=5)
    assert isinstance(listed, models.OrdersOut)
    assert [o.order_id for o in listed.orders] == [order["order_id"]]
    assert listed.orders[0].images[0].enhance_type == "warm"
    sdk_calls = [e for e in sb.request_log if e.endpoint != "upload"]
    assert {e.api_version for e in sdk_calls} == {"2025-05-08"}


def test_sdk_errors_map_to_its_exceptions(ae, sb):
    with pytest.raises(sdk_errors.NotFoundException) as missing:
        ae.retrieve_image(id="no-such-image")
    assert missing.value.status == 404
    wrong = autoenhance.Autoenhance("wrong-key", baseURL=sb.url)
    with pytest.raises(sdk_errors.UnauthorizedException):
        wrong.create_order(name="x")
    order = ae.create_order(name="o")
    waiting = ae.create_image(image_name="w.jpg", order_id=order["order_id"])
    with pytest.raises(sdk_errors.UnprocessableEntityException):
        ae.v3_images_id_process_post(id=waiting.image_id, enhance_type="warm")


def test_brackets_create_list_and_order_process(ae, sb):
    order = ae.create_order(name="HDR")
    brackets = []
    for lift in (0, 60, 120):
        bracket = ae.v3_brackets_post(
            name=f"hall_{lift}.jpg", order_id=order["order_id"], metadata={"lift": lift}
        )
        assert isinstance(bracket, models.BrackeCreatedtOut)
        assert bracket.is_uploaded is False and bracket.metadata == {"lift": lift}
        put = requests.put(bracket.upload_url, data=jpeg(lift=lift), headers=OCTET)
        assert put.status_code == 200
        brackets.append(bracket.bracket_id)

    listed = ae.v3_orders_order_id_brackets_get(order_id=order["order_id"])
    assert isinstance(listed, models.OrderBracketsOut)
    assert [b.bracket_id for b in listed.brackets] == brackets
    assert all(b.is_uploaded for b in listed.brackets)

    started = ae.process_order(
        id=order["order_id"],
        images=[models.OrderImageIn(bracket_ids=brackets)],
        enhance_type="warm",
        sky_replacement=True,
    )
    assert isinstance(started, models.OrderHDRProcessOut)
    assert started.order_id == order["order_id"]

    done = ae.retrieve_order(id=order["order_id"])
    assert isinstance(done, models.OrderOut)
    assert done.is_merging is False and done.total_images == 1
    [image] = done.images
    assert image.image_name == "hall_0.jpg" and image.status == "processed"
    assert image.enhance_type == "warm" and image.sky_replacement is True
    merged = ae.download_original_image(id=image.image_id)
    assert size_of(merged) == (160, 100)
    enhanced = ae.download_enhanced_image(id=image.image_id, preview=False)
    assert size_of(enhanced) == (160, 100) and enhanced != merged
