"""The sandbox over real HTTP: every endpoint, its errors, the status model, the fault
knobs, concurrency and the CLI. Bodies are validated against the shipped spec."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from autoenhance_nb.sandbox import DUPLICATE_ORDER_STATUS, Sandbox

from ..conftest import png_bytes
from ..helpers import processing_held, until

KEY = {"x-api-key": "any-key"}
ORDERS = "/v3/orders/"
ORDER = "/v3/orders/{id}"
IMAGES = "/v3/images/"
IMAGE = "/v3/images/{id}"


def post_order(sb, body=None, headers=KEY, slash=True):
    url = sb.url + ("/v3/orders/" if slash else "/v3/orders")
    return requests.post(url, json=body, headers=headers)


# -- orders -------------------------------------------------------------------------
@pytest.mark.parametrize("slash", [True, False])
def test_create_order_answers_200_with_a_waiting_order(sandbox, spec_check, slash):
    resp = post_order(sandbox, {"name": "Kitchen"}, slash=slash)
    assert resp.status_code == 200
    assert not resp.history, "answered directly, not by redirect"
    order = spec_check.check(resp, ORDERS, "POST")
    assert order["name"] == "Kitchen"
    assert order["status"] == "waiting"
    assert order["total_images"] == 0 and order["images"] == []
    assert order["is_processing"] is False
    assert order["created_at"].endswith("+00:00")


def test_create_order_without_body_generates_an_id(sandbox, spec_check):
    resp = requests.post(sandbox.url + "/v3/orders/", headers=KEY)
    order = spec_check.check(resp, ORDERS, "POST")
    assert resp.status_code == 200 and len(order["order_id"]) == 32


def test_custom_order_id_is_kept_and_a_duplicate_is_refused(sandbox, spec_check):
    first = post_order(sandbox, {"name": "A", "order_id": "shoot-1"})
    assert first.json()["order_id"] == "shoot-1"
    dup = post_order(sandbox, {"name": "B", "order_id": "shoot-1"})
    assert dup.status_code == DUPLICATE_ORDER_STATUS == 409
    body = dup.json()
    assert "already exists" in body["message"] and isinstance(body["detail"], dict)
    assert [o["name"] for o in sandbox.orders] == ["A"]


def test_retrieve_update_delete(sandbox, spec_check):
    oid = post_order(sandbox, {"name": "Old"}).json()["order_id"]
    got = requests.get(sandbox.url + f"/v3/orders/{oid}")  # no key needed (spec)
    assert spec_check.check(got, ORDER)["name"] == "Old"
    patched = requests.patch(sandbox.url + f"/v3/orders/{oid}", json={"name": "New"}, headers=KEY)
    assert patched.status_code == 200 and spec_check.check(patched, ORDER)["name"] == "New"
    assert requests.get(sandbox.url + f"/v3/orders/{oid}").json()["name"] == "New"
    gone = requests.delete(sandbox.url + f"/v3/orders/{oid}", headers=KEY)
    assert gone.status_code == 204 and gone.content == b""
    missing = requests.get(sandbox.url + f"/v3/orders/{oid}")
    assert missing.status_code == 404
    assert spec_check.check(missing, ORDER)["message"] == "Not Found"
    again = requests.delete(sandbox.url + f"/v3/orders/{oid}", headers=KEY)
    assert again.status_code == 404
    spec_check.check(again, ORDER)


def test_patch_cannot_change_the_order_id(sandbox, spec_check):
    oid = post_order(sandbox, {"name": "x"}).json()["order_id"]
    resp = requests.patch(
        sandbox.url + f"/v3/orders/{oid}", json={"order_id": "other"}, headers=KEY
    )
    assert resp.status_code == 422
    assert "order_id" in spec_check.check(resp, ORDER)["detail"]["json"]


def test_encoded_slashes_stay_inside_one_path_segment(sandbox):
    post_order(sandbox, {"name": "tricky", "order_id": "a/../b"})
    resp = requests.get(sandbox.url + "/v3/orders/a%2F..%2Fb")
    assert resp.status_code == 200 and resp.json()["order_id"] == "a/../b"
    entry = sandbox.request_log[-1]
    assert entry.endpoint == "retrieve_order" and entry.params == {"id": "a/../b"}
    assert entry.path == "/v3/orders/a%2F..%2Fb"


# -- auth -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/v3/orders/"),
        ("GET", "/v3/orders/"),
        ("PATCH", "/v3/orders/x"),
        ("DELETE", "/v3/orders/x"),
        ("POST", "/v3/images/"),
        ("DELETE", "/v3/images/x"),
        ("GET", "/v3/images/x/enhanced"),
        ("GET", "/v3/images/x/original"),
    ],
)
def test_key_is_required_where_the_spec_requires_it(sandbox, spec_check, method, path):
    for headers in ({}, {"x-api-key": ""}):
        resp = requests.request(method, sandbox.url + path, headers=headers, json={})
        assert resp.status_code == 401, (method, path, headers)
        template = path.replace("/x", "/{id}")
        body = spec_check.check(resp, template, method)
        assert body == {"detail": {}, "message": "Unauthorized"}


def test_retrieve_endpoints_need_no_key(sandbox):
    oid = post_order(sandbox, {"name": "n"}).json()["order_id"]
    assert requests.get(sandbox.url + f"/v3/orders/{oid}").status_code == 200


def test_configured_key_accepts_only_itself(spec_check):
    with Sandbox(api_key="right", processing_seconds=0) as sb:
        assert post_order(sb, {}, headers={"x-api-key": "right"}).status_code == 200
        wrong = post_order(sb, {}, headers={"x-api-key": "wrong"})
        assert wrong.status_code == 401
        spec_check.check(wrong, ORDERS, "POST")


# -- validation and malformed input -------------------------------------------------
@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": 5}, "name"),
        ({"order_id": 7}, "order_id"),
        ({"name": None}, "name"),
        ({"colour": "red"}, "colour"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "   "}, "order_id"),
        ({"order_id": "x" * 256}, "order_id"),
        ({"order_id": "a\nb"}, "order_id"),
    ],
)
def test_bad_order_fields_get_422_naming_the_field(sandbox, spec_check, body, field):
    resp = post_order(sandbox, body)
    assert resp.status_code == 422
    detail = spec_check.check(resp, ORDERS, "POST")
    assert detail["message"] == "Validation error"
    assert isinstance(detail["detail"]["json"][field], list)
    assert sandbox.orders == []


def test_non_object_json_is_a_validation_error(sandbox, spec_check):
    resp = post_order(sandbox, ["not", "an", "object"])
    assert resp.status_code == 422
    spec_check.check(resp, ORDERS, "POST")


@pytest.mark.parametrize(
    "data,ctype,status",
    [
        (b"{not json", "application/json", 400),
        (b'{"name": "x"}', "text/plain", 415),
        (b"\xff\xfe\x00", "application/json", 400),
    ],
)
def test_malformed_bodies_get_a_json_4xx(sandbox, data, ctype, status):
    resp = requests.post(
        sandbox.url + "/v3/orders/", data=data, headers={**KEY, "Content-Type": ctype}
    )
    assert resp.status_code == status
    assert set(resp.json()) == {"detail", "message"}


def test_oversized_json_body_is_refused_without_hanging(sandbox):
    big = json.dumps({"name": "x" * (1024 * 1024 + 10)})
    resp = requests.post(
        sandbox.url + "/v3/orders/",
        data=big,
        timeout=10,
        headers={**KEY, "Content-Type": "application/json"},
    )
    assert resp.status_code == 413 and "larger than" in resp.json()["message"]
    # the server is still fine afterwards
    assert post_order(sandbox, {"name": "after"}).status_code == 200


def test_unknown_paths_and_methods_get_json_errors(sandbox):
    resp = requests.get(sandbox.url + "/v3/nothing", headers=KEY)
    assert resp.status_code == 404 and resp.json()["message"] == "Not Found"
    resp = requests.put(sandbox.url + "/v3/orders/", headers=KEY)
    assert resp.status_code == 405 and resp.json()["message"] == "Method Not Allowed"


# -- listing and pagination ------------------------------------------------------------
def _walk(sb, per_page):
    seen, offset, pages = [], None, 0
    while True:
        params = {"per_page": per_page}
        if offset is not None:
            params["offset"] = offset
        resp = requests.get(sb.url + "/v3/orders/", params=params, headers=KEY)
        assert resp.status_code == 200
        body = resp.json()
        assert len(body["orders"]) <= per_page
        assert body["pagination"]["per_page"] == per_page
        seen.extend(o["order_id"] for o in body["orders"])
        pages += 1
        offset = body["pagination"]["next_offset"]
        if offset is None:
            return seen, pages


@pytest.mark.parametrize("per_page", [1, 5, 15])
def test_pagination_walks_every_order_exactly_once(sandbox, per_page):
    for i in range(100):
        post_order(sandbox, {"name": f"o{i}", "order_id": f"id-{i:03d}"})
    seen, pages = _walk(sandbox, per_page)
    assert sorted(seen) == [f"id-{i:03d}" for i in range(100)]
    assert len(set(seen)) == 100
    assert pages == -(-100 // per_page)
    assert seen[0] == "id-099", "newest first"


def test_list_defaults_and_schema(sandbox, spec_check):
    for i in range(7):
        post_order(sandbox, {"name": str(i)})
    resp = requests.get(sandbox.url + "/v3/orders", headers=KEY)
    body = spec_check.check(resp, ORDERS, "GET")
    assert len(body["orders"]) == 5 and body["pagination"]["per_page"] == 5
    assert body["pagination"]["next_offset"] is not None
    last = requests.get(
        sandbox.url + "/v3/orders",
        headers=KEY,
        params={"offset": body["pagination"]["next_offset"]},
    ).json()
    assert len(last["orders"]) == 2 and last["pagination"]["next_offset"] is None


def test_pages_stay_stable_while_orders_are_created(sandbox):
    for i in range(10):
        post_order(sandbox, {"order_id": f"old-{i}"})
    first = requests.get(sandbox.url + "/v3/orders", headers=KEY, params={"per_page": 5}).json()
    for i in range(3):
        post_order(sandbox, {"order_id": f"new-{i}"})
    rest = requests.get(
        sandbox.url + "/v3/orders",
        headers=KEY,
        params={"per_page": 5, "offset": first["pagination"]["next_offset"]},
    ).json()
    ids = [o["order_id"] for o in first["orders"] + rest["orders"]]
    assert sorted(ids) == sorted(f"old-{i}" for i in range(10))


def test_per_page_over_15_is_clamped_by_default(sandbox):
    for _ in range(20):
        post_order(sandbox, {})
    body = requests.get(sandbox.url + "/v3/orders", headers=KEY, params={"per_page": 16}).json()
    assert len(body["orders"]) == 15 and body["pagination"]["per_page"] == 15


def test_per_page_over_15_can_be_rejected(spec_check):
    with Sandbox(per_page_overflow="reject") as sb:
        resp = requests.get(sb.url + "/v3/orders", headers=KEY, params={"per_page": 16})
        assert resp.status_code == 422
        assert "per_page" in spec_check.check(resp, ORDERS, "GET")["detail"]["query"]


@pytest.mark.parametrize(
    "params,field",
    [
        ({"per_page": 0}, "per_page"),
        ({"per_page": "abc"}, "per_page"),
        ({"offset": "garbage!"}, "offset"),
    ],
)
def test_bad_list_parameters_get_422(sandbox, spec_check, params, field):
    resp = requests.get(sandbox.url + "/v3/orders", headers=KEY, params=params)
    assert resp.status_code == 422
    assert field in spec_check.check(resp, ORDERS, "GET")["detail"]["query"]


# -- images, uploads and the status model --------------------------------------------
def create_image(sb, **body):
    body.setdefault("image_name", "photo.png")
    return requests.post(sb.url + "/v3/images/", json=body, headers=KEY)


def upload(url, data, ctype="application/octet-stream"):
    return requests.put(url, data=data, headers={"Content-Type": ctype})


def test_image_create_upload_download_and_delete(sandbox, spec_check):
    oid = post_order(sandbox, {"name": "with photos"}).json()["order_id"]
    resp = create_image(sandbox, order_id=oid, enhance_type="warm", metadata={"room": 1})
    created = spec_check.check(resp, IMAGES, "POST")
    assert created["order_id"] == oid and created["status"] == "waiting"
    assert created["enhance_type"] == "warm" and created["metadata"] == {"room": 1}
    assert created["upload_url"].startswith(sandbox.url + "/_uploads/")
    data = png_bytes()
    put = upload(created["upload_url"], data)
    assert put.status_code == 200 and put.content == b""
    assert not sandbox.request_log[-1].had_api_key
    image = spec_check.check(
        requests.get(sandbox.url + f"/v3/images/{created['image_id']}"), IMAGE, "GET"
    )
    assert image["status"] == "processed"  # processing_seconds=0
    order = requests.get(sandbox.url + f"/v3/orders/{oid}").json()
    assert order["status"] == "processed" and order["total_images"] == 1
    got = {
        kind: requests.get(
            sandbox.url + f"/v3/images/{created['image_id']}/{kind}",
            headers=KEY,
            params={"quality": 80, "format": "png"},
        )
        for kind in ("original", "enhanced")
    }
    assert got["original"].status_code == 200 and got["original"].content == data
    assert got["enhanced"].status_code == 200 and got["enhanced"].content != data
    for answer in got.values():
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.content.startswith(b"\x89PNG\r\n\x1a\n")
    deleted = requests.delete(sandbox.url + f"/v3/images/{created['image_id']}", headers=KEY)
    assert deleted.status_code == 204
    assert requests.get(sandbox.url + f"/v3/images/{created['image_id']}").status_code == 404
    assert requests.get(sandbox.url + f"/v3/orders/{oid}").json()["status"] == "waiting"


def test_image_without_order_creates_one(sandbox):
    created = create_image(sandbox).json()
    order = requests.get(sandbox.url + f"/v3/orders/{created['order_id']}").json()
    assert order["total_images"] == 1 and order["status"] == "waiting"


def test_image_validation(sandbox, spec_check):
    resp = requests.post(sandbox.url + "/v3/images/", json={"order_id": "x"}, headers=KEY)
    assert resp.status_code == 422
    body = spec_check.check(resp, IMAGES, "POST")
    assert body["detail"]["json"]["image_name"] == ["Missing data for required field."]
    for bad in (
        {"rating": 9},
        {"enhance_type": "shiny"},
        {"ai_version": "9.x"},
        {"enhance": "yes"},
    ):
        resp = create_image(sandbox, **bad)
        assert resp.status_code == 422, bad
        assert set(bad) <= set(spec_check.check(resp, IMAGES, "POST")["detail"]["json"])
    assert create_image(sandbox, some_future_option=True).status_code == 200


def test_upload_url_needs_its_token_and_content_type(sandbox):
    created = create_image(sandbox).json()
    url = created["upload_url"]
    bare = url.split("?")[0]
    assert upload(bare, png_bytes()).status_code == 403
    assert upload(bare + "?token=wrong", png_bytes()).status_code == 403
    assert upload(url, png_bytes(), ctype="image/png").status_code == 403
    assert upload(url.replace(created["image_id"], "nope"), png_bytes()).status_code == 404
    assert upload(url, png_bytes()).status_code == 200


def test_oversized_upload_is_refused():
    with Sandbox(max_upload_bytes=1000, processing_seconds=0) as sb:
        url = create_image(sb).json()["upload_url"]
        resp = upload(url, b"\x89PNG\r\n\x1a\n" + b"0" * 5000)
        assert resp.status_code == 413 and "limited" in resp.json()["message"]


def test_status_moves_from_processing_to_processed():
    with Sandbox() as sb:
        created = create_image(sb).json()
        oid = created["order_id"]
        assert requests.get(sb.url + f"/v3/orders/{oid}").json()["status"] == "waiting"
        with processing_held(sb, release=0.3):
            upload(created["upload_url"], png_bytes())
            during = requests.get(sb.url + f"/v3/orders/{oid}").json()
            assert during["status"] == "processing" and during["is_processing"] is True
            early = requests.get(sb.url + f"/v3/images/{created['image_id']}/enhanced", headers=KEY)
            assert early.status_code == 404 and "not ready" in early.json()["message"]
        until(lambda: requests.get(sb.url + f"/v3/orders/{oid}").json()["status"] != "processing")
        after = requests.get(sb.url + f"/v3/orders/{oid}").json()
        assert after["status"] == "processed" and after["is_processing"] is False
        assert after["images"][0]["status"] == "processed"
        assert after["last_updated_at"] > during["last_updated_at"]


def test_a_file_that_is_not_an_image_ends_in_error(sandbox):
    created = create_image(sandbox, image_name="notes.png").json()
    upload(created["upload_url"], b"just some text, not a picture")
    image = requests.get(sandbox.url + f"/v3/images/{created['image_id']}").json()
    assert image["status"] == "error" and "not an image" in image["status_reason"]
    order = requests.get(sandbox.url + f"/v3/orders/{created['order_id']}").json()
    assert order["status"] == "error"


def test_more_than_30_creations_an_hour_with_one_name_get_429(sandbox):
    codes = [create_image(sandbox, image_name="same.jpg").status_code for _ in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429


# -- fault knobs -------------------------------------------------------------------------
def test_latency_is_added_to_every_request():
    with Sandbox(latency=0.2) as sb:
        start = time.perf_counter()
        requests.get(sb.url + "/v3/orders/none")
        assert time.perf_counter() - start >= 0.2


def test_error_rate_answers_503_before_doing_anything():
    with Sandbox(error_rate=1.0) as sb:
        resp = post_order(sb, {"name": "x"})
        assert resp.status_code == 503 and "error_rate" in resp.json()["message"]
        assert sb.orders == []


def test_ambiguous_rate_commits_but_answers_502():
    with Sandbox(ambiguous_rate=1.0) as sb:
        resp = post_order(sb, {"name": "x", "order_id": "amb"})
        assert resp.status_code == 502
        assert [o["order_id"] for o in sb.orders] == ["amb"]
        # reads are not writes: they are answered normally
        assert requests.get(sb.url + "/v3/orders/amb").status_code == 200


def _fault_pattern(seed):
    with Sandbox(error_rate=0.5, seed=seed) as sb:
        return [post_order(sb, {}).status_code for _ in range(40)]


def test_seed_makes_faults_repeat():
    a, b, c = _fault_pattern(7), _fault_pattern(7), _fault_pattern(8)
    assert a == b
    assert a != c
    assert 5 < a.count(503) < 35


def test_rate_limit_answers_429_with_retry_after():
    with Sandbox(rate_limit=2) as sb:  # a burst of 2, then 2 a second
        answers = [post_order(sb, {}) for _ in range(20)]
        limited = [r for r in answers if r.status_code == 429]
        assert len(limited) >= 10
        assert int(limited[0].headers["Retry-After"]) >= 1
        assert len(sb.orders) == 20 - len(limited)
        time.sleep(1.0)
        assert post_order(sb, {}).status_code == 200


def test_knobs_change_while_running(sandbox):
    sandbox.error_rate = 1.0
    assert post_order(sandbox, {}).status_code == 503
    sandbox.error_rate = 0.0
    assert post_order(sandbox, {}).status_code == 200


BAD_KNOBS = [
    ("error_rate", 1.5, "between 0 and 1"),
    ("error_rate", -0.1, "between 0 and 1"),
    ("ambiguous_rate", 5, "between 0 and 1"),
    ("error_rate", "0.5", "must be a number"),
    ("latency", -1, "not be negative"),
    ("rate_limit", -3, "not be negative"),
    ("processing_seconds", -0.5, "not be negative"),
    ("latency", float("nan"), "a number"),
    ("ambiguous_next", -1, "not be negative"),
    ("ambiguous_next", 1.5, "whole number"),
    ("per_page_overflow", "ignore", "'clamp' or 'reject'"),
    ("max_upload_bytes", 0, "at least 1"),
    ("max_json_bytes", True, "whole number"),
    ("upload_base_url", "ftp://x", "http(s)://"),
    ("api_key", "  ", "non-empty string"),
    ("request_timeout", 0, "greater than 0"),
    ("verbose", "yes", "True or False"),
]


@pytest.mark.parametrize("name,value,message", BAD_KNOBS)
def test_bad_knob_values_are_refused_at_init_and_at_any_later_set(name, value, message):
    if name != "ambiguous_next":  # an attribute only
        with pytest.raises(ValueError, match=re.escape(message)):
            Sandbox(**{name: value})
    sb = Sandbox()
    before = getattr(sb, name)
    with pytest.raises(ValueError, match=re.escape(message)):
        setattr(sb, name, value)
    assert getattr(sb, name) == before


def test_knobs_are_typed_properties_that_reach_the_running_app():
    sb = Sandbox(error_rate=0.25, latency=0.01, rate_limit=5)
    assert (sb.error_rate, sb.latency, sb.rate_limit) == (0.25, 0.01, 5.0)
    sb.processing_seconds = 3
    assert sb.app.settings.processing_seconds == 3.0
    sb.per_page_overflow = "reject"
    assert sb.app.settings.per_page_overflow == "reject"
    sb.ambiguous_next = 2
    assert sb.app.faults.ambiguous_next == 2
    with pytest.raises(AttributeError):
        sb.no_such_knob  # noqa: B018  (no catch-all attribute forwarding any more)


def test_bind_gives_the_url_before_serving_and_stop_undoes_it():
    sb = Sandbox().bind()
    try:
        assert sb.running and sb.url.startswith("http://127.0.0.1:")
        assert sb.bind() is sb
    finally:
        sb.stop()
    assert not sb.running


def test_request_log_records_method_path_and_status(sandbox):
    post_order(sandbox, {"order_id": "logged"})
    requests.get(sandbox.url + "/v3/orders/missing")
    log = sandbox.request_log
    assert [(e.method, e.path, e.status) for e in log] == [
        ("POST", "/v3/orders/", 200),
        ("GET", "/v3/orders/missing", 404),
    ]
    assert log[0].had_api_key and not log[1].had_api_key


# -- concurrency and lifecycle -------------------------------------------------------------
def test_fifty_concurrent_creators_lose_nothing(sandbox):
    errors = []

    def worker(n):
        with requests.Session() as s:
            for i in range(4):
                r = s.post(sandbox.url + "/v3/orders/", json={"order_id": f"w{n}-{i}"}, headers=KEY)
                if r.status_code != 200:
                    errors.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [o["order_id"] for o in sandbox.orders]
    assert errors == []
    assert len(ids) == 200 and len(set(ids)) == 200


def test_stop_cuts_off_keep_alive_clients():
    sb = Sandbox().start()
    url = sb.url
    s = requests.Session()
    assert s.get(url + "/_sandbox/health").status_code == 200
    sb.stop()
    with pytest.raises(requests.ConnectionError):
        s.get(url + "/_sandbox/health", timeout=2)
    assert not sb.running


def test_default_bind_is_loopback_only():
    with Sandbox() as sb:
        assert sb.url.startswith("http://127.0.0.1:")
        assert sb._server.server_address[0] == "127.0.0.1"


def test_cli_starts_prints_serves_and_stops_on_sigint(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autoenhance_nb.sandbox",
            "--port",
            "0",
            "--seed",
            "3",
            "--processing-seconds",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        url = lines[0].strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        assert any(f"AUTOENHANCE_BASE_URL={url}" in line for line in lines)
        assert any("AUTOENHANCE_API_KEY=" in line for line in lines)
        assert post_order(type("S", (), {"url": url}), {"name": "cli"}).status_code == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "stopped" in out and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("autoenhance-sandbox")
    assert exe, "pip install -e . installs the autoenhance-sandbox command"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "--error-rate" in out and "--ambiguous-rate" in out and "--rate-limit" in out
    for option in ("--merging-seconds", "--daily-image-limit", "--request-timeout"):
        assert option in out


def test_cli_reports_a_bad_option_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "autoenhance_nb.sandbox", "--error-rate", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "autoenhance-sandbox: error_rate must be between 0 and 1"


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--merging-seconds", "-1", "merging_seconds must not be negative"),
        ("--daily-image-limit", "-5", "daily_image_limit must not be negative"),
        ("--request-timeout", "0", "request_timeout must be greater than 0"),
    ],
)
def test_cli_checks_the_new_knobs_in_one_line(option, value, message):
    proc = subprocess.run(
        [sys.executable, "-m", "autoenhance_nb.sandbox", option, value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"autoenhance-sandbox: {message}"


# -- the docs' own snippets run unchanged but for the URL ------------------------------------
DOCS_PYTHON = """
import requests

api_key = "YOUR_API_KEY"

def create_order(api_key):
    url = "https://api.autoenhance.ai/v3/orders"
    headers = {
        "Content-Type": "application/json",
        "x-api-key": api_key,
    }
    payload = {
        "name": "Name of my order"
    }

    response = requests.post(url, headers=headers, json=payload)
    response_data = response.json()

    order_id = response_data.get('order_id')
    name = response_data.get('name')
    images = response_data.get('images')
    status = response_data.get('status')

    return order_id, name, images, status

print(create_order(api_key))
"""

DOCS_JS = """
const apiKey = "YOUR_API_KEY";

const createOrder = async (apiKey) => {
    const createOrderResponse = await fetch(
      "https://api.autoenhance.ai/v3/orders",
      {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "x-api-key": apiKey,
        },
        body: JSON.stringify({
          name:"Name of my order"
        }),
      }
    );

    const { order_id, name, images, status } = await createOrderResponse.json();
    console.log(JSON.stringify({ order_id, name, images, status }));
}
createOrder(apiKey);
"""

DOCS_CURL = [
    "curl",
    "-sS",
    "-X",
    "POST",
    "https://api.autoenhance.ai/v3/orders",
    "-H",
    "Content-Type: application/json",
    "-H",
    "x-api-key: YOUR_API_KEY",
    "-d",
    '{\n"name": "Name of my order"\n}',
]


def _point_at(text, url):
    return text.replace("https://api.autoenhance.ai", url)


def test_docs_python_snippet_runs_unchanged(sandbox):
    out = subprocess.run(
        [sys.executable, "-c", _point_at(DOCS_PYTHON, sandbox.url)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "'Name of my order', [], 'waiting'" in out


def test_docs_javascript_snippet_runs_unchanged(sandbox):
    node = "/usr/bin/node" if os.path.exists("/usr/bin/node") else None
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run(
        [node, "-e", _point_at(DOCS_JS, sandbox.url)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    body = json.loads(out)
    assert body["name"] == "Name of my order" and body["status"] == "waiting"


def test_docs_curl_snippet_runs_unchanged(sandbox):
    out = subprocess.run(
        [_point_at(a, sandbox.url) for a in DOCS_CURL],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert json.loads(out)["name"] == "Name of my order"


def test_an_upload_over_the_limit_gets_its_413_not_a_reset():
    with Sandbox(max_upload_bytes=1_000_000) as sb:
        url = create_image(sb).json()["upload_url"]
        resp = upload(url, b"\x89PNG\r\n\x1a\n" + b"0" * 8_000_000)
        assert resp.status_code == 413 and "limited to 1000000 bytes" in resp.json()["message"]
        assert post_order(sb, {"name": "still fine"}).status_code == 200


def test_a_stalled_body_is_cut_off_after_the_request_timeout():
    import socket

    with Sandbox(request_timeout=0.5) as sb:
        host, port = sb._server.server_address
        with socket.create_connection((host, port)) as s:
            s.sendall(
                b"POST /v3/orders/ HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na'
            )
            s.settimeout(5)
            start = time.perf_counter()
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
            assert time.perf_counter() - start < 4
        assert answer.startswith(b"HTTP/1.1 408") and b"Request Timeout" in answer
        assert sb.orders == []
        assert post_order(sb, {"name": "after"}).status_code == 200
