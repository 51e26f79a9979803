"""Sandbox fidelity for images (issue 15, item 5): server-owned fields, the upload's
signed Content-Type, real download renditions (format, quality, size, preview,
watermark, x-dev-mode, buying), an enhanced picture that follows the options,
reprocessing, reports, the daily image limit and ai_version "latest". Real HTTP;
every JSON answer is checked against the shipped spec."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import requests
from PIL import Image, ImageChops, ImageStat

from autoenhance_nb.sandbox import Sandbox

from ..conftest import png_bytes
from ..helpers import processing_held

KEY = {"x-api-key": "k"}
IMAGES = "/v3/images/"
IMAGE = "/v3/images/{id}"
PROCESS = "/v3/images/{id}/process"
REPORT = "/v3/images/{id}/report"
OCTET = {"Content-Type": "application/octet-stream"}


def photo(width: int = 240, height: int = 160, fmt: str = "JPEG") -> bytes:
    """A grey scene with some structure: a horizontal gradient and a dark block."""
    picture = Image.linear_gradient("L").rotate(90).resize((width, height)).convert("RGB")
    picture.paste((60, 60, 60), (width // 4, height // 2, width // 2, height - 10))
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def channel_means(data: bytes, box: tuple[int, int, int, int] | None = None) -> list[float]:
    picture = opened(data).convert("RGB")
    if box is not None:
        picture = picture.crop(box)
    return ImageStat.Stat(picture).mean


def mean_difference(a: bytes, b: bytes) -> float:
    """Mean absolute grey-level difference of two pictures (b resized to a)."""
    pa, pb = opened(a).convert("L"), opened(b).convert("L")
    return ImageStat.Stat(ImageChops.difference(pa, pb.resize(pa.size))).mean[0]


def new_image(sb, spec_check, data: bytes | None = None, **body) -> dict:
    body.setdefault("image_name", "room.jpg")
    resp = requests.post(sb.url + IMAGES, json=body, headers=KEY)
    assert resp.status_code == 200, resp.text
    created = spec_check.check(resp, IMAGES, "POST")
    if data is not None:
        ctype = body.get("contentType") or body.get("content_type") or OCTET["Content-Type"]
        put = requests.put(created["upload_url"], data=data, headers={"Content-Type": ctype})
        assert put.status_code == 200, put.text
    return created


def get_image(sb, spec_check, image_id: str) -> dict:
    return spec_check.check(requests.get(sb.url + f"/v3/images/{image_id}"), IMAGE, "GET")


def download(sb, image_id: str, kind: str = "enhanced", headers=None, **params):
    resp = requests.get(
        sb.url + f"/v3/images/{image_id}/{kind}", params=params, headers={**KEY, **(headers or {})}
    )
    assert resp.status_code == 200, resp.text
    return resp


# -- server-owned fields ------------------------------------------------------------
def test_read_only_fields_sent_on_create_are_ignored(sandbox, spec_check):
    sent = {
        "image_id": "mine",
        "status": "processed",
        "status_reason": "none",
        "date_added": 1,
        "downloaded": True,
        "user_id": "someone-else",
        "upload_url": "http://elsewhere/",
        "metadata": {"room": "hall"},
    }
    created = new_image(sandbox, spec_check, **sent)
    assert created["image_id"] != "mine" and len(created["image_id"]) == 36
    assert created["status"] == "waiting" and created["status_reason"] is None
    assert created["downloaded"] is False and created["user_id"] == "sandbox-user"
    assert created["date_added"] > 1_600_000_000_000  # now, in milliseconds
    assert created["upload_url"].startswith(sandbox.url + "/_uploads/")
    assert created["metadata"] == {"room": "hall"}
    again = get_image(sandbox, spec_check, created["image_id"])
    assert again["image_id"] == created["image_id"] and again["status"] == "waiting"
    missing = requests.get(sandbox.url + "/v3/images/mine")
    assert missing.status_code == 404
    spec_check.check(missing, IMAGE, "GET")


# -- the upload's signed Content-Type ---------------------------------------------------
@pytest.mark.parametrize("key", ["contentType", "content_type"])
def test_the_upload_must_carry_the_content_type_the_image_was_created_with(
    sandbox, spec_check, key
):
    created = new_image(sandbox, spec_check, **{key: "image/jpeg"})
    assert key not in created  # an upload setting, not an image option
    url = created["upload_url"]
    wrong = requests.put(url, data=photo(), headers=OCTET)
    assert wrong.status_code == 403
    assert wrong.json() == {
        "detail": {},
        "message": "SignatureDoesNotMatch: the upload URL was signed for Content-Type image/jpeg.",
    }
    assert get_image(sandbox, spec_check, created["image_id"])["status"] == "waiting"
    right = requests.put(url, data=photo(), headers={"Content-Type": "image/jpeg"})
    assert right.status_code == 200
    assert get_image(sandbox, spec_check, created["image_id"])["status"] == "processed"


def test_without_a_content_type_the_upload_is_octet_stream(sandbox, spec_check):
    created = new_image(sandbox, spec_check)
    refused = requests.put(
        created["upload_url"], data=photo(), headers={"Content-Type": "image/jpeg"}
    )
    assert refused.status_code == 403 and "application/octet-stream" in refused.json()["message"]
    assert requests.put(created["upload_url"], data=photo(), headers=OCTET).status_code == 200


def test_a_content_type_that_is_not_a_media_type_is_a_validation_error(sandbox, spec_check):
    resp = requests.post(
        sandbox.url + IMAGES, json={"image_name": "a.jpg", "contentType": 5}, headers=KEY
    )
    assert resp.status_code == 422
    assert "contentType" in spec_check.check(resp, IMAGES, "POST")["detail"]["json"]


# -- download renditions -------------------------------------------------------------
def test_the_original_is_the_upload_and_converts_and_resizes_on_request(sandbox, spec_check):
    data = photo()
    image_id = new_image(sandbox, spec_check, data)["image_id"]
    plain = download(sandbox, image_id, "original")
    assert plain.content == data and plain.headers["Content-Type"] == "image/jpeg"
    as_png = download(sandbox, image_id, "original", format="png")
    assert as_png.headers["Content-Type"] == "image/png"
    assert opened(as_png.content).format == "PNG" and opened(as_png.content).size == (240, 160)
    as_webp = download(sandbox, image_id, "original", format="webp")
    assert as_webp.headers["Content-Type"] == "image/webp"
    assert opened(as_webp.content).format == "WEBP"
    assert opened(download(sandbox, image_id, "original", max_width=60).content).size == (60, 40)
    assert opened(download(sandbox, image_id, "original", scale=0.25).content).size == (60, 40)
    low = download(sandbox, image_id, "original", quality=5, scale=1).content
    high = download(sandbox, image_id, "original", quality=90, scale=1).content
    assert len(low) < len(high) / 2
    assert get_image(sandbox, spec_check, image_id)["downloaded"] is False


def test_enhanced_is_a_watermarked_preview_by_default_and_preview_false_buys_it(
    sandbox, spec_check
):
    data = photo()
    image_id = new_image(sandbox, spec_check, data)["image_id"]
    preview = download(sandbox, image_id)
    assert preview.headers["Content-Type"] == "image/jpeg"
    assert opened(preview.content).size == (120, 80)  # half the width
    assert preview.headers["X-Sandbox-Rendition"] == "enhanced; preview; watermark"
    assert get_image(sandbox, spec_check, image_id)["downloaded"] is False
    full = download(sandbox, image_id, preview="false", format="png")
    assert opened(full.content).size == (240, 160)
    assert full.headers["X-Sandbox-Rendition"] == "enhanced"
    assert get_image(sandbox, spec_check, image_id)["downloaded"] is True
    small = download(sandbox, image_id, preview="false", max_width=100)
    assert opened(small.content).size == (100, 67)


def test_dev_mode_watermarks_and_never_buys(sandbox, spec_check):
    data = photo()
    image_id = new_image(sandbox, spec_check, data)["image_id"]
    dev = download(sandbox, image_id, headers={"x-dev-mode": "true"}, preview="false", format="png")
    assert opened(dev.content).size == (240, 160)
    assert "watermark" in dev.headers["X-Sandbox-Rendition"]
    assert get_image(sandbox, spec_check, image_id)["downloaded"] is False
    bought = download(sandbox, image_id, preview="false", format="png")
    assert mean_difference(dev.content, bought.content) > 3  # the stripes show
    assert get_image(sandbox, spec_check, image_id)["downloaded"] is True


@pytest.mark.parametrize(
    "params,field",
    [
        ({"format": "avif"}, "format"),
        ({"format": "gif"}, "format"),
        ({"quality": 0}, "quality"),
        ({"quality": 91}, "quality"),
        ({"scale": 2}, "scale"),
        ({"scale": "nan"}, "scale"),
        ({"max_width": 0}, "max_width"),
        ({"preview": "maybe"}, "preview"),
        ({"watermark": "2"}, "watermark"),
    ],
)
def test_bad_download_parameters_get_422(sandbox, spec_check, params, field):
    image_id = new_image(sandbox, spec_check, photo())["image_id"]
    for kind in ("enhanced", "original"):
        resp = requests.get(
            sandbox.url + f"/v3/images/{image_id}/{kind}", params=params, headers=KEY
        )
        assert resp.status_code == 422
        body = spec_check.check(resp, f"/v3/images/{{id}}/{kind}", "GET")
        assert field in body["detail"]["query"]


def test_legacy_preview_and_watermark_endpoints_draw_renditions(sandbox, spec_check):
    image_id = new_image(sandbox, spec_check, photo())["image_id"]
    preview = requests.get(sandbox.url + f"/v3/images/{image_id}/preview")
    assert preview.status_code == 200 and opened(preview.content).size == (120, 80)
    marked = requests.get(sandbox.url + f"/v3/images/{image_id}/watermark")
    assert marked.status_code == 200 and opened(marked.content).size == (240, 160)
    assert get_image(sandbox, spec_check, image_id)["downloaded"] is False


# -- the enhanced picture follows the options ------------------------------------------
def full_enhanced(sb, spec_check, data: bytes, **options) -> bytes:
    image_id = new_image(sb, spec_check, data, **options)["image_id"]
    return download(sb, image_id, preview="false", format="png").content


def test_the_enhanced_picture_differs_from_the_original_deterministically(sandbox, spec_check):
    data = photo(fmt="PNG")
    first = full_enhanced(sandbox, spec_check, data, image_name="a.png")
    second = full_enhanced(sandbox, spec_check, data, image_name="b.png")
    assert first == second  # same bytes, same options: same picture
    assert mean_difference(first, data) > 3
    plain = full_enhanced(sandbox, spec_check, data, image_name="c.png", enhance=False)
    assert mean_difference(plain, data) < 1  # enhance=false leaves the tones alone


def test_warm_is_warmer_than_neutral_and_modern_cooler(sandbox, spec_check):
    data = photo()

    def warmth(enhance_type: str) -> float:
        r, _, b = channel_means(
            full_enhanced(
                sandbox,
                spec_check,
                data,
                image_name=f"{enhance_type}.jpg",
                enhance_type=enhance_type,
            )
        )
        return r - b

    warm, neutral, modern = warmth("warm"), warmth("neutral"), warmth("modern")
    assert warm > neutral + 10
    assert modern < neutral - 5


def test_sky_replacement_makes_the_top_bluer_and_cloud_type_changes_it(sandbox, spec_check):
    data = photo()
    top = (0, 0, 240, 30)
    without = channel_means(full_enhanced(sandbox, spec_check, data, image_name="a.jpg"), top)
    clear = channel_means(
        full_enhanced(sandbox, spec_check, data, image_name="b.jpg", sky_replacement=True), top
    )
    cloudy = channel_means(
        full_enhanced(
            sandbox,
            spec_check,
            data,
            image_name="c.jpg",
            sky_replacement=True,
            cloud_type="LOW_CLOUD",
        ),
        top,
    )
    assert clear[2] - clear[0] > without[2] - without[0] + 40
    assert cloudy != clear
    bottom = (0, 130, 240, 160)
    assert (
        abs(
            channel_means(
                full_enhanced(sandbox, spec_check, data, image_name="d.jpg", sky_replacement=True),
                bottom,
            )[2]
            - channel_means(full_enhanced(sandbox, spec_check, data, image_name="e.jpg"), bottom)[2]
        )
        < 2
    )  # the ground is untouched


def test_upscale_doubles_the_full_size(sandbox, spec_check):
    big = full_enhanced(sandbox, spec_check, photo(), image_name="a.jpg", upscale=True)
    assert opened(big).size == (480, 320)


@pytest.mark.parametrize(
    "data,sniffed",
    [
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 200, "image/heic"),  # Pillow cannot read HEIC
        (png_bytes(40, 30)[:60], "image/png"),  # a PNG cut short
        (png_bytes(3, 2), "image/png"),  # the project's tiny test PNG
    ],
)
def test_pictures_pillow_cannot_decode_still_download(sandbox, spec_check, data, sniffed):
    image_id = new_image(sandbox, spec_check, data, image_name="odd")["image_id"]
    assert get_image(sandbox, spec_check, image_id)["status"] == "processed"
    original = download(sandbox, image_id, "original")
    assert original.content == data and original.headers["Content-Type"] == sniffed
    for params in ({}, {"preview": "false"}, {"format": "png", "max_width": 10}):
        enhanced = download(sandbox, image_id, **params)
        assert opened(enhanced.content).size[0] >= 1  # a real picture, never a 500
    converted = download(sandbox, image_id, "original", format="webp")
    assert converted.status_code == 200


# -- reprocessing ------------------------------------------------------------------------
def test_reprocess_goes_back_through_processing_with_the_new_options(spec_check):
    with Sandbox(processing_seconds=0) as sb:
        created = new_image(sb, spec_check, photo(), enhance_type="neutral", rating=2)
        image_id = created["image_id"]
        assert get_image(sb, spec_check, image_id)["status"] == "processed"
        before = download(sb, image_id, preview="false", format="png").content
        with processing_held(sb):
            resp = requests.post(
                sb.url + f"/v3/images/{image_id}/process",
                json={"enhance_type": "warm", "upscale": True, "image_name": "again.jpg"},
                headers=KEY,
            )
            assert resp.status_code == 200
            image = spec_check.check(resp, PROCESS, "POST")
            assert image["status"] == "processing" and image["enhance_type"] == "warm"
            assert image["upscale"] is True and image["rating"] == 2  # others kept
            assert image["image_name"] == "again.jpg"
            early = requests.get(sb.url + f"/v3/images/{image_id}/enhanced", headers=KEY)
            assert early.status_code == 404 and "not ready" in early.json()["message"]
            order = requests.get(sb.url + f"/v3/orders/{created['order_id']}").json()
            assert order["status"] == "processing" and order["is_processing"] is True
        assert get_image(sb, spec_check, image_id)["status"] == "processed"
        after = download(sb, image_id, preview="false", format="png").content
        assert opened(after).size == (480, 320)
        r0, _, b0 = channel_means(before)
        r1, _, b1 = channel_means(after)
        assert r1 - b1 > r0 - b0 + 10


def test_reprocess_errors(sandbox, spec_check):
    waiting = new_image(sandbox, spec_check)["image_id"]
    done = new_image(sandbox, spec_check, photo(), image_name="b.jpg")["image_id"]
    cases = [
        (waiting, {}, KEY, 422),
        ("nope", {}, KEY, 404),
        (done, {"enhance_type": "shiny"}, KEY, 422),
        (done, {"order_id": "another"}, KEY, 422),
        (done, {}, {}, 401),
    ]
    for image_id, body, headers, status in cases:
        resp = requests.post(
            sandbox.url + f"/v3/images/{image_id}/process", json=body, headers=headers
        )
        assert resp.status_code == status, (image_id, body)
        spec_check.check(resp, PROCESS, "POST")
    assert get_image(sandbox, spec_check, done)["status"] == "processed"


# -- reports -------------------------------------------------------------------------------
def test_a_report_is_validated_recorded_and_acknowledged(sandbox, spec_check):
    created = new_image(sandbox, spec_check, photo())
    resp = requests.post(
        sandbox.url + f"/v3/images/{created['image_id']}/report",
        json={
            "categories": ["COLOUR", "SKY_REPLACEMENT"],
            "comment": "too blue",
            "score": 2,
            "source": "API",
        },
        headers=KEY,
    )
    assert resp.status_code == 200
    body = spec_check.check(resp, REPORT, "POST")
    assert isinstance(body["message"], str) and body["message"]
    [report] = sandbox.reports
    assert report["image_id"] == created["image_id"]
    assert report["order_id"] == created["order_id"]
    assert report["categories"] == ["COLOUR", "SKY_REPLACEMENT"]
    assert (report["comment"], report["score"], report["source"]) == ("too blue", 2, "API")
    minimal = requests.post(
        sandbox.url + f"/v3/images/{created['image_id']}/report",
        json={"categories": ["NO_COMPLAINTS"]},
        headers=KEY,
    )
    assert minimal.status_code == 200 and len(sandbox.reports) == 2


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "categories"),
        ({"categories": "COLOUR"}, "categories"),
        ({"categories": ["BLUE"]}, "categories"),
        ({"categories": ["COLOUR"], "score": 6}, "score"),
        ({"categories": ["COLOUR"], "score": True}, "score"),
        ({"categories": ["COLOUR"], "source": "EMAIL"}, "source"),
        ({"categories": ["COLOUR"], "comment": 3}, "comment"),
        ({"categories": ["COLOUR"], "mood": "sad"}, "mood"),
    ],
)
def test_bad_reports_get_422_naming_the_field(sandbox, spec_check, body, field):
    image_id = new_image(sandbox, spec_check, photo())["image_id"]
    resp = requests.post(sandbox.url + f"/v3/images/{image_id}/report", json=body, headers=KEY)
    assert resp.status_code == 422
    assert field in spec_check.check(resp, REPORT, "POST")["detail"]["json"]
    assert sandbox.reports == []


def test_report_needs_a_key_and_an_existing_image(sandbox, spec_check):
    image_id = new_image(sandbox, spec_check, photo())["image_id"]
    body = {"categories": ["OTHER"]}
    no_key = requests.post(sandbox.url + f"/v3/images/{image_id}/report", json=body)
    assert no_key.status_code == 401
    spec_check.check(no_key, REPORT, "POST")
    missing = requests.post(sandbox.url + "/v3/images/nope/report", json=body, headers=KEY)
    assert missing.status_code == 404
    spec_check.check(missing, REPORT, "POST")
    assert sandbox.reports == []


# -- the daily image limit -------------------------------------------------------------
def test_the_daily_image_limit_puts_further_images_in_error(spec_check):
    with Sandbox(processing_seconds=0, daily_image_limit=2) as sb:
        ids = [
            new_image(sb, spec_check, photo(), image_name=f"{i}.jpg")["image_id"] for i in range(3)
        ]
        statuses = [get_image(sb, spec_check, i) for i in ids]
        assert [s["status"] for s in statuses] == ["processed", "processed", "error"]
        assert "daily limit of 2 images" in statuses[2]["status_reason"]
        order = requests.get(sb.url + f"/v3/orders/{statuses[2]['order_id']}").json()
        assert order["status"] == "error"
        # reprocessing is an enhancement too
        again = requests.post(sb.url + f"/v3/images/{ids[0]}/process", json={}, headers=KEY)
        assert again.status_code == 200 and again.json()["status"] == "error"
        sb.daily_image_limit = None  # off: the default
        assert sb.daily_image_limit is None
        fine = new_image(sb, spec_check, photo(), image_name="later.jpg")["image_id"]
        assert get_image(sb, spec_check, fine)["status"] == "processed"


# -- options in, options out ------------------------------------------------------------------
def test_ai_version_latest_is_accepted_and_answered_as_a_spec_version(sandbox, spec_check):
    created = new_image(sandbox, spec_check, photo(), ai_version="latest")
    assert created["ai_version"] == "5.x"
    assert get_image(sandbox, spec_check, created["image_id"])["ai_version"] == "5.x"


def test_the_image_answers_with_the_options_it_was_created_and_reprocessed_with(
    sandbox, spec_check
):
    options = {
        "ai_version": "4.x",
        "enhance_type": "modern",
        "sky_replacement": True,
        "cloud_type": "HIGH_CLOUD",
        "upscale": False,
        "privacy": True,
        "window_pull": None,
        "lens_correction": False,
        "vertical_correction": False,
        "rating": 4,
        "metadata": {"shoot": 7},
        "finetune_settings": {"brightness": "LOW"},
    }
    created = new_image(sandbox, spec_check, photo(), **options)
    for answer in (created, get_image(sandbox, spec_check, created["image_id"])):
        assert {k: answer[k] for k in options} == options
    resp = requests.post(
        sandbox.url + f"/v3/images/{created['image_id']}/process",
        json={"enhance_type": "warm", "cloud_type": None},
        headers=KEY,
    )
    reprocessed = spec_check.check(resp, PROCESS, "POST")
    expected = {**options, "enhance_type": "warm", "cloud_type": None}
    assert {k: reprocessed[k] for k in options} == expected
    order = requests.get(sandbox.url + f"/v3/orders/{created['order_id']}").json()
    assert {k: order["images"][0][k] for k in options} == expected


def test_importing_the_sandbox_does_not_import_pillow():
    code = "import sys, autoenhance_nb.sandbox; print('PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
