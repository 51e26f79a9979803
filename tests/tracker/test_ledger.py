"""Photo uploads through the journal: a re-run in a fresh kernel (a new tracker on the
same journal) skips the photos already in the order, a changed photo under a reused
name is uploaded, and what a killed kernel left half done is settled."""

from __future__ import annotations

import os
import sqlite3

from autoenhance_nb import OrderTracker

from ..helpers import png_bytes


def _photos(folder, n):
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"IMG_{i:04d}.png"
        path.write_bytes(png_bytes(2 + i, 2))
        paths.append(path)
    return paths


def _images(client, order_id):
    return client.get_order(order_id)["images"]


def test_a_rerun_in_a_fresh_kernel_skips_the_photos_already_uploaded(client, tmp_path):
    paths = _photos(tmp_path / "shoot", 5)
    first = OrderTracker(client)
    first.create("Shoot", order_id="shoot")
    assert len(first.add_images("shoot", paths[:3], progress=False).uploaded) == 3
    fresh = OrderTracker(client)  # what a new kernel makes: nothing in memory
    result = fresh.add_images("shoot", paths, progress=False)
    assert len(result.uploaded) == 2 and len(result.already) == 3
    assert result.summary() == "uploaded 2 of 5, 3 already uploaded, 0 failed"
    assert len(_images(client, "shoot")) == 5  # was 8: every photo sent again


def test_a_different_photo_with_a_reused_name_is_uploaded(client, tmp_path):
    (path,) = _photos(tmp_path / "one", 1)
    tracker = OrderTracker(client)
    tracker.create("Shoot", order_id="shoot")
    tracker.add_images("shoot", [path], progress=False)
    (tmp_path / "elsewhere").mkdir()
    copy = tmp_path / "elsewhere" / path.name  # the same photo copied: known by its content
    copy.write_bytes(path.read_bytes())
    assert len(OrderTracker(client).add_images("shoot", [copy], progress=False).already) == 1
    path.write_bytes(png_bytes(9, 9))  # same name, same folder, another photo
    os.utime(path, ns=(1, 1))
    result = OrderTracker(client).add_images("shoot", [path], progress=False)
    assert len(result.uploaded) == 1
    assert len(_images(client, "shoot")) == 2


def test_bytes_are_known_by_their_hash_and_a_file_listed_twice_is_sent_once(client, tmp_path):
    (path,) = _photos(tmp_path / "one", 1)
    tracker = OrderTracker(client)
    tracker.create("Shoot", order_id="shoot")
    result = tracker.add_images("shoot", [path, path, ("b.png", png_bytes(7, 3))], progress=False)
    assert len(result.uploaded) == 2 and len(result.already) == 1
    again = OrderTracker(client).add_images("shoot", [("b.png", png_bytes(7, 3))], progress=False)
    assert len(again.already) == 1
    assert len(_images(client, "shoot")) == 2


def test_a_registration_a_killed_kernel_left_is_cleaned_up(client, tmp_path):
    paths = _photos(tmp_path / "shoot", 2)
    tracker = OrderTracker(client)
    tracker.create("Shoot", order_id="shoot")
    # a kernel killed between the registration and the upload: its rows, by a dead pid
    lost = client.create_image("shoot", "IMG_0000.png")
    unknown = client.create_image("shoot", "IMG_0001.png")  # answer never journaled
    db = sqlite3.connect(tracker.journal.path)
    rows = [("registered", lost["image_id"], "IMG_0000.png"), ("sending", None, "IMG_0001.png")]
    for state, remote, name in rows:
        db.execute(
            "INSERT INTO photos (account, order_id, kind, name, size, state, remote_id,"
            " owner, at) VALUES (?, 'shoot', 'image', ?, 1, ?, ?, ?, 0)",
            (client.account, name, state, remote, f"{os.uname().nodename}:999999999"),
        )
    db.commit()
    result = OrderTracker(client).add_images("shoot", paths, progress=False)
    assert len(result.uploaded) == 2
    ids = {i["image_id"] for i in _images(client, "shoot")}
    assert len(ids) == 2 and not ids & {lost["image_id"], unknown["image_id"]}


def test_without_the_journal_uploads_are_as_before(client, tmp_path):
    paths = _photos(tmp_path / "shoot", 2)
    tracker = OrderTracker(client, journal=None)
    tracker.create("Shoot", order_id="shoot")
    tracker.add_images("shoot", paths, progress=False)
    tracker.add_images("shoot", paths, progress=False)
    assert len(_images(client, "shoot")) == 4
