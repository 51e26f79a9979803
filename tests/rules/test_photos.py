"""Photos into orders over real HTTP: upload, statuses, watch, download, every bad
input, the key kept away from the upload host, and the magic and form front ends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import autoenhance_nb as ae
from autoenhance_nb import AutoenhanceClient, OrderForm, OrderTracker
from autoenhance_nb import errors as E
from autoenhance_nb.rules._photos import image_format
from autoenhance_nb.sandbox import Sandbox

from ..helpers import chosen_files, magic_shell, png_bytes, processing_held, run

JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(3):
        (folder / f"room-{i}.png").write_bytes(png_bytes(3 + i, 2))
    return folder


@pytest.fixture
def slow_sandbox():
    with Sandbox(processing_seconds=0.5) as sb:
        yield sb


def tracker_on(sb, **kw):
    return OrderTracker(AutoenhanceClient(api_key="k", base_url=sb.url, backoff_factor=0.01, **kw))


# -- client ----------------------------------------------------------------------------------
def test_upload_from_path_and_bytes_then_download_both_renditions(
    client, sandbox, photos, tmp_path
):
    oid = client.create_order(name="shoot")["order_id"]
    from_path = client.upload_image(oid, photos / "room-0.png", enhance_type="warm")
    from_bytes = client.upload_image(oid, png_bytes(9, 9), image_name="hall.png")
    assert from_path["image_name"] == "room-0.png" and from_path["enhance_type"] == "warm"
    assert from_bytes["image_name"] == "hall.png"
    assert {from_path["status"], from_bytes["status"]} == {"processed"}
    original = client.download_image(from_path["image_id"], tmp_path / "orig.png", "original")
    enhanced = client.download_image(
        from_path["image_id"], tmp_path / "enh.png", quality=80, format="png", preview=False
    )
    assert original.read_bytes() == (photos / "room-0.png").read_bytes()
    # the sandbox really enhances: a PNG of the same size, with other pixels
    got = enhanced.read_bytes()
    assert got.startswith(b"\x89PNG") and got != original.read_bytes()
    assert client.get_order(oid)["total_images"] == 2
    client.delete_image(from_bytes["image_id"])
    with pytest.raises(E.NotFoundError):
        client.get_image(from_bytes["image_id"])


def test_create_image_passes_options_and_the_server_validates_them(client):
    oid = client.create_order()["order_id"]
    image = client.create_image(oid, "a.jpg", sky_replacement=True, rating=4)
    assert image["sky_replacement"] is True and image["upload_url"]
    with pytest.raises(E.ValidationError, match="enhance_type"):
        client.create_image(oid, "b.jpg", enhance_type="shiny")


def test_a_retried_registration_leaves_no_phantom_image(client, sandbox):
    oid = client.create_order()["order_id"]
    sandbox.ambiguous_next = 1  # the first registration is made but its answer is lost
    image = client.upload_image(oid, png_bytes(), image_name="once.png")
    order = client.get_order(oid)
    assert order["total_images"] == 1 and order["images"][0]["image_id"] == image["image_id"]
    assert [e.status for e in sandbox.requests_to("create_image")] == [502, 200]


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda d: d / "missing.jpg", "no such file"),
        (lambda d: d, "it is a folder"),
        (lambda d: _write(d / "empty.jpg", b""), r"the file is empty \(0 bytes\)"),
        (
            lambda d: _write(d / "notes.jpg", b"just text, named like a photo"),
            "its content is not an image",
        ),
    ],
)
def test_bad_photos_are_refused_before_any_request(client, sandbox, tmp_path, make, message):
    oid = client.create_order()["order_id"]
    sandbox.clear_log()
    with pytest.raises(E.ValidationError, match=message) as info:
        client.upload_image(oid, make(tmp_path))
    assert "\n" not in str(info.value)
    assert sandbox.request_log == []


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_an_image_is_decided_by_content_not_name(client, tmp_path):
    oid = client.create_order()["order_id"]
    jpeg_named_txt = _write(tmp_path / "photo.txt", JPEG_HEAD + b"\x00" * 100)
    assert client.upload_image(oid, jpeg_named_txt)["image_name"] == "photo.txt"


def test_the_key_never_reaches_the_upload_host(tmp_path):
    seen: list[dict] = []
    with Sandbox(processing_seconds=0) as api:

        def storage(environ, start_response):  # records headers, forwards to the sandbox
            request = Request(environ)
            seen.append(dict(request.headers))
            upstream = requests.put(
                api.url + request.full_path,
                data=request.get_data(),
                headers={"Content-Type": request.content_type},
            )
            return Response(upstream.content, status=upstream.status_code)(environ, start_response)

        server = make_server("127.0.0.1", 0, storage, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            api.upload_base_url = f"http://localhost:{server.server_port}"
            client = AutoenhanceClient(api_key="sk-SENTINEL-upload", base_url=api.url)
            oid = client.create_order()["order_id"]
            image = client.upload_image(oid, png_bytes())
        finally:
            server.shutdown()
    assert image["status"] == "processed"
    assert len(seen) == 1
    headers = {k.lower(): v for k, v in seen[0].items()}
    assert "x-api-key" not in headers
    assert "sk-SENTINEL-upload" not in repr(seen)
    assert headers["content-type"] == "application/octet-stream"


def test_a_large_file_is_streamed_not_read_into_memory(tmp_path):
    big = tmp_path / "panorama.jpg"
    size = 40 * 1024 * 1024
    with open(big, "wb") as fh:
        fh.write(JPEG_HEAD)
        fh.truncate(size)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autoenhance_nb.sandbox",
            "--port",
            "0",
            "--processing-seconds",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:  # the server in another process, so only the client's memory is measured
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        client = AutoenhanceClient(api_key="k", base_url=url)
        oid = client.create_order()["order_id"]
        tracemalloc.start()
        image = client.upload_image(oid, big)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        proc.terminate()
        proc.wait(10)
    assert image["status"] == "processed"
    assert peak < size / 8, f"client peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"


def test_a_file_over_the_upload_limit_gets_a_clear_error(tmp_path):
    with Sandbox(max_upload_bytes=10_000) as sb:
        client = AutoenhanceClient(api_key="k", base_url=sb.url, max_retries=0)
        oid = client.create_order()["order_id"]
        with pytest.raises(E.AutoenhanceError, match=r"limited to 10000 bytes\. \(HTTP 413\)"):
            client.upload_image(oid, JPEG_HEAD + b"\x00" * 20_000)


# -- tracker --------------------------------------------------------------------------------------
def test_add_images_watch_and_download(slow_sandbox, photos, tmp_path):
    tracker = tracker_on(slow_sandbox)
    oid = tracker.create("Loft")["order_id"]
    with processing_held(slow_sandbox, release=0.5):  # "processing" however slow CI is
        result = tracker.add_images(oid, sorted(photos.iterdir()), progress=False)
        assert result.summary() == "uploaded 3 of 3, 0 failed"
        row = tracker.df.iloc[0]
        assert row["image_count"] == 3 and row["status"] == "processing"
        images = tracker.images_df
        assert list(images.columns) == [
            "image_id",
            "order_id",
            "image_name",
            "status",
            "status_reason",
            "downloaded",
            "options",
        ]
        assert sorted(images["image_name"]) == ["room-0.png", "room-1.png", "room-2.png"]
        early = tracker.download(oid, tmp_path / "early")
        assert early.saved == [] and len(early.skipped) == 3
    final = tracker.watch(interval=0.1, progress=False)
    assert list(final["status"]) == ["processed"]
    assert set(tracker.images_df["status"]) == {"processed"}
    done = tracker.download(oid, tmp_path / "out")
    assert sorted(p.name for p in done.saved) == ["room-0.png", "room-1.png", "room-2.png"]
    for path in done.saved:  # enhanced previews: images, not the originals' bytes
        data = path.read_bytes()
        assert image_format(data[:16]) and data != (photos / path.name).read_bytes()


def test_bad_files_in_a_batch_are_reported_and_the_rest_go_through(sandbox, photos, tmp_path):
    tracker = tracker_on(sandbox)
    oid = tracker.create("Mixed")["order_id"]
    paths = [
        photos / "room-0.png",
        tmp_path / "missing.png",
        photos,
        _write(tmp_path / "empty.png", b""),
        _write(tmp_path / "text.png", b"hello"),
        photos / "room-1.png",
    ]
    result = tracker.add_images(oid, paths, progress=False)
    assert result.summary() == "uploaded 2 of 6, 4 failed"
    assert [f.index for f in result.failed] == [1, 2, 3, 4]
    assert tracker.df.iloc[0]["image_count"] == 2


def test_the_same_file_name_over_30_times_an_hour_is_rate_limited(sandbox):
    tracker = tracker_on(sandbox)
    oid = tracker.create("Same name")["order_id"]
    # 32 different photos under one name (the same photo 32 times is sent once)
    photos = [("IMG_0001.JPG", png_bytes(2 + i, 2)) for i in range(32)]
    result = tracker.add_images(oid, photos, progress=False)
    assert len(result.uploaded) == 30 and len(result.failed) == 2
    assert all(isinstance(f.error, E.RateLimitError) for f in result.failed)
    assert "retry after 3600 s" in result.failed[0].message


def test_a_missing_order_is_a_clear_error(sandbox):
    tracker = tracker_on(sandbox)
    with pytest.raises(E.ValidationError, match="Invalid order_id"):
        tracker.add_images("", [png_bytes()], progress=False)


def test_watch_gives_up_after_its_timeout(photos):
    with Sandbox(processing_seconds=30) as sb:
        tracker = tracker_on(sb)
        oid = tracker.create("Slow")["order_id"]
        tracker.add_images(oid, [photos / "room-0.png"], progress=False)
        with pytest.raises(E.AutoenhanceError, match="Still processing after 0.3 s"):
            tracker.watch(interval=0.1, timeout=0.3, progress=False)


def test_download_names_are_safe_and_unique(sandbox, tmp_path):
    tracker = tracker_on(sandbox)
    oid = tracker.create("Names")["order_id"]
    tracker.add_images(
        oid,
        [
            ("../../etc/passwd.png", png_bytes()),
            ("a/b.png", png_bytes()),
            ("b.png", png_bytes()),
            ("con\x00trol.png", png_bytes()),
        ],
        progress=False,
    )
    result = tracker.download(oid, tmp_path / "out")
    names = sorted(p.name for p in result.saved)
    assert names == ["b (2).png", "b.png", "con_trol.png", "passwd.png"]
    assert all(p.parent == (tmp_path / "out").resolve() for p in result.saved)


# -- magic ---------------------------------------------------------------------------------------------
@pytest.fixture
def slow_ip(shell, slow_sandbox, monkeypatch):
    """A shell with the extension on the slow sandbox (watching polls every 0.1 s)."""
    with magic_shell(shell, monkeypatch, slow_sandbox.url, key="k", watch_interval=0.1) as ip:
        yield ip


def test_magic_images_watch_download(slow_ip, slow_sandbox, photos, tmp_path):
    result, out = run(
        slow_ip, f'%autoenhance_order "Loft – 5 Rue des Martyrs" --images "{photos}/*.png"'
    )
    assert result.success, out
    assert "uploaded 3 of 3, 0 failed" in out
    oid = slow_sandbox.orders[0]["order_id"]
    result, out = run(slow_ip, f'%autoenhance_order --add-images {oid} "{photos}/room-0.png"')
    assert result.success and "uploaded 0 of 1, 1 already uploaded" in out  # never twice
    more = _write(tmp_path / "room-3.png", png_bytes(9, 2))
    result, out = run(slow_ip, f'%autoenhance_order --add-images {oid} "{more}"')
    assert result.success and "uploaded 1 of 1" in out
    result, out = run(slow_ip, "%autoenhance_order --watch")
    assert result.success and "Done: no order is processing" in out
    assert list(result.result["status"]) == ["processed"]
    assert list(result.result["image_count"]) == [4]
    result, out = run(slow_ip, f"%autoenhance_order --download {oid} {tmp_path}/enhanced")
    assert result.success and f"Saved 4 images to {tmp_path}/enhanced" in out
    assert len(list((tmp_path / "enhanced").iterdir())) == 4


def test_magic_glob_that_matches_nothing_creates_nothing(slow_ip, slow_sandbox, tmp_path):
    result, out = run(slow_ip, f'%autoenhance_order Kitchen --images "{tmp_path}/*.jpg"')
    assert not result.success and "No files match" in out and "Traceback" not in out
    assert slow_sandbox.orders == []


def test_magic_bad_photos_are_reported_and_stop_the_cell(slow_ip, slow_sandbox, photos):
    _write(photos / "broken.png", b"not an image")
    result, out = run(slow_ip, f'%autoenhance_order Mixed --images "{photos}/*.png"')
    assert not result.success
    assert "uploaded 3 of 4, 1 failed" in out and "broken.png" in out
    assert "MagicError: 1 of 4 photos failed" in out
    assert slow_sandbox.orders[0]["total_images"] == 3


def test_a_photo_line_run_again_sends_no_second_order_and_no_photo_twice(ip, sandbox, photos):
    line = f'%autoenhance_order Loft --images "{photos}/*.png"'
    result, out = run(ip, line)
    assert result.success and "Created order nb-" in out and "uploaded 3 of 3" in out, out
    result, out = run(ip, line)  # was: a second order, and the three photos paid again
    assert result.success, out
    assert "made by an earlier run of this line" in out
    assert "uploaded 0 of 3, 3 already uploaded" in out
    ae.reset_session()  # a fresh kernel: only the journal remembers
    result, out = run(ip, line)
    assert result.success and "made by an earlier run of this line" in out, out
    assert "3 already uploaded" in out
    [order] = sandbox.orders
    assert order["name"] == "Loft" and order["total_images"] == 3


def test_a_photo_line_with_another_glob_name_or_notebook_makes_a_new_order(
    ip, sandbox, photos, monkeypatch
):
    first = f'%autoenhance_order Loft --images "{photos}/*.png"'
    assert run(ip, first)[0].success
    assert run(ip, f'%autoenhance_order Loft --images "{photos}/room-0.png"')[0].success
    assert run(ip, f'%autoenhance_order Attic --images "{photos}/*.png"')[0].success
    monkeypatch.setenv("JPY_SESSION_NAME", "another.ipynb")
    ae.reset_session()
    result, out = run(ip, first)
    assert result.success and "Created order" in out, out
    assert sorted(o["name"] for o in sandbox.orders) == ["Attic", "Loft", "Loft", "Loft"]
    assert sum(o["total_images"] for o in sandbox.orders) == 10


def test_a_photo_line_whose_order_was_renamed_still_finds_it(ip, sandbox, photos):
    line = f'%autoenhance_order Loft --images "{photos}/*.png"'
    assert run(ip, line)[0].success
    [order] = sandbox.orders
    renamed = requests.patch(
        f"{sandbox.url}/v3/orders/{order['order_id']}",
        json={"name": "Loft (done)"},
        headers={"x-api-key": "test-key"},
    )
    assert renamed.status_code == 200
    ae.reset_session()
    result, out = run(ip, line)
    assert result.success and "made by an earlier run of this line" in out, out
    assert [o["total_images"] for o in sandbox.orders] == [3]


def test_with_the_journal_off_a_photo_line_makes_a_new_order_each_run(
    ip, sandbox, photos, monkeypatch
):
    monkeypatch.setenv("AUTOENHANCE_JOURNAL", "off")
    ae.reset_session()
    line = f'%autoenhance_order Loft --images "{photos}/*.png"'
    for _ in range(2):  # nothing would know which photos the order holds: as before
        result, out = run(ip, line)
        assert result.success and "Created order" in out and "uploaded 3 of 3" in out, out
    assert [o["total_images"] for o in sandbox.orders] == [3, 3]


def test_a_photo_line_whose_order_was_deleted_makes_it_again(ip, sandbox, photos):
    line = f'%autoenhance_order Loft --images "{photos}/*.png"'
    assert run(ip, line)[0].success
    [order] = sandbox.orders
    gone = requests.delete(
        f"{sandbox.url}/v3/orders/{order['order_id']}", headers={"x-api-key": "test-key"}
    )
    assert gone.status_code in (200, 204)
    result, out = run(ip, line)  # was: "not found (HTTP 404)" on every run in this kernel
    assert result.success and "Created order" in out and "uploaded 3 of 3" in out, out
    assert [o["total_images"] for o in sandbox.orders] == [3]


def test_a_relative_glob_is_the_folder_it_names_not_its_text(
    ip, sandbox, photos, tmp_path, monkeypatch
):
    other = tmp_path / "elsewhere" / "shoot"
    other.mkdir(parents=True)
    (other / "attic.png").write_bytes(png_bytes(7, 7))
    monkeypatch.chdir(photos.parent)
    assert run(ip, '%autoenhance_order Loft --images "shoot/*.png"')[0].success
    monkeypatch.chdir(other.parent)  # the same text, another folder: another order
    result, out = run(ip, '%autoenhance_order Loft --images "shoot/*.png"')
    assert result.success and "Created order" in out, out
    assert sorted(o["total_images"] for o in sandbox.orders) == [1, 3]


def test_another_persons_photo_line_never_adopts_this_ones_order(
    ip, sandbox, photos, monkeypatch, tmp_path
):
    line = f'%autoenhance_order Loft --images "{photos}/*.png"'
    monkeypatch.setenv("JPY_SESSION_NAME", "shoots/loft.ipynb")
    ae.reset_session()
    assert run(ip, line)[0].success
    # another person (another journal), a notebook at the same path: the same derived id
    monkeypatch.setenv("AUTOENHANCE_JOURNAL", str(tmp_path / "someone-else.sqlite3"))
    ae.reset_session()
    result, out = run(ip, line)
    assert not result.success and "not adopted" in out and "Traceback" not in out, out
    assert [o["total_images"] for o in sandbox.orders] == [3]
    # outside any named notebook, the journal's own random identity: a separate order
    monkeypatch.delenv("JPY_SESSION_NAME")
    ae.reset_session()
    result, out = run(ip, line)
    assert result.success and "Created order" in out, out
    assert [o["total_images"] for o in sandbox.orders] == [3, 3]


# -- form ----------------------------------------------------------------------------------------------
def test_form_attaches_photos_to_the_new_order(sandbox):
    form = OrderForm(tracker_on(sandbox))
    form.name.value = "With photos"
    form.photos.value = chosen_files(("a.png", png_bytes()), ("b.png", png_bytes()))
    form.create_button.click()
    form.wait()
    assert "photos for" in form.message.value and "uploaded 2 of 2" in form.message.value
    assert sandbox.orders[0]["total_images"] == 2
    assert form.photos.value == (), "the bytes are not kept in the widget state"
    assert '<td class="ae-col-image_count">2</td>' in form.table.value
    form.close()


def test_form_uploads_into_an_order_chosen_from_the_table(sandbox):
    tracker = tracker_on(sandbox)
    first = tracker.create("Existing")["order_id"]
    form = OrderForm(tracker)
    assert first in [v for _, v in form.photo_target.options]
    form.upload_button.click()
    form.wait()
    assert "Choose photos" in form.message.value
    form.photos.value = chosen_files(("c.png", png_bytes()), ("bad.png", b"nope"))
    form.upload_button.click()
    form.wait()
    assert "Pick an order" in form.message.value
    form.photo_target.value = first
    form.upload_button.click()
    form.wait()
    assert "uploaded 1 of 2, 1 failed" in form.message.value and "bad.png" in form.message.value
    assert sandbox.orders[0]["total_images"] == 1
    form.close()


def test_a_download_cut_short_leaves_no_file(tmp_path):
    import socketserver

    class Truncating(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                b"Content-Length: 100000\r\n\r\n" + png_bytes()[:20]
            )
            self.request.close()

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Truncating) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client = AutoenhanceClient(
            api_key="k", base_url=f"http://127.0.0.1:{server.server_address[1]}", max_retries=0
        )
        target = tmp_path / "photo.png"
        target.write_bytes(b"previous")
        with pytest.raises(E.TransportError, match="dropped during the download"):
            client.download_image("img-1", target)
        server.shutdown()
    assert target.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["photo.png"]


def test_uploads_survive_flaky_storage_and_api(tmp_path):
    """PUTs are retried by urllib3, which rewinds the file; registrations retry and tidy
    up. Every photo ends up once, with its exact bytes."""
    files = []
    for i in range(12):
        path = tmp_path / f"p{i}.png"
        path.write_bytes(png_bytes(i + 1, 3))
        files.append(path)
    with Sandbox(error_rate=0.3, ambiguous_rate=0.2, processing_seconds=0, seed=9) as sb:
        # enough retries that a run of faults (the seeded sequence has runs of 9) is
        # outlasted: what is tested is that retried uploads stay correct
        tracker = tracker_on(sb, max_retries=20)
        oid = tracker.create("Flaky")["order_id"]
        result = tracker.add_images(oid, files, progress=False)
        assert result.ok, result.failed
        sb.error_rate = sb.ambiguous_rate = 0
        order = tracker.client.get_order(oid)
        assert sorted(i["image_name"] for i in order["images"]) == sorted(p.name for p in files)
        assert order["total_images"] == 12
        got = tracker.download(oid, tmp_path / "back", kind="original")
        for path in got.saved:
            assert path.read_bytes() == (tmp_path / path.name).read_bytes()
        assert any(e.status == 503 and e.endpoint == "upload" for e in sb.request_log)
