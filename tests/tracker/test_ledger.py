"""Photo uploads through the journal: a re-run in a fresh kernel (a new tracker on the
same journal) skips the photos already in the order, a changed photo under a reused
name is uploaded, and what a killed kernel left half done is settled."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from autoenhance_nb import OrderTracker
from autoenhance_nb.api import Cancelled, cancellable
from autoenhance_nb.rules import ImageSource
from autoenhance_nb.tracker._ledger import Ledger

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


# -- another kernel sending the same photo at the same moment ------------------------------
def _another_kernels_row(tracker, path, state, remote_id, owner):
    """A row as another kernel writes it while it sends ``path`` (now, by ``owner``)."""
    st = path.stat()
    db = sqlite3.connect(tracker.journal.path)
    cur = db.execute(
        "INSERT INTO photos (account, order_id, kind, name, path, size, mtime_ns, state,"
        " remote_id, owner, at) VALUES (?, 'shoot', 'image', ?, ?, ?, ?, ?, ?, ?, ?)",
        (tracker.client.account, path.name, str(path.resolve()), st.st_size, st.st_mtime_ns,
         state, remote_id, owner, time.time()),
    )  # fmt: skip
    db.commit()
    return db, cur.lastrowid


def _dies_while_waited_for(tracker, db, row, paths):
    """add_images in a thread; once it waits, the other kernel's process is gone."""
    box = {}
    worker = threading.Thread(
        target=lambda: box.update(r=tracker.add_images("shoot", paths, progress=False))
    )
    worker.start()
    time.sleep(0.5)
    assert worker.is_alive(), "it did not wait for the other kernel"
    db.execute("UPDATE photos SET owner = ? WHERE id = ?", (DEAD, row))
    db.commit()
    worker.join(10)
    assert not worker.is_alive()
    return box["r"]


LIVE = f"{os.uname().nodename}:{os.getppid()}"
DEAD = f"{os.uname().nodename}:999999999"


def test_a_photo_another_kernel_uploaded_then_died_is_not_sent_again(client, tmp_path):
    (path,) = _photos(tmp_path / "shoot", 1)
    tracker = OrderTracker(client)
    tracker.create("Shoot", order_id="shoot")
    theirs = client.upload_image("shoot", path)  # its bytes arrived, its outcome unwritten
    db, row = _another_kernels_row(tracker, path, "registered", theirs["image_id"], LIVE)
    result = _dies_while_waited_for(tracker, db, row, [path])
    assert result.summary() == "uploaded 0 of 1, 1 already uploaded, 0 failed"
    assert [i["image_id"] for i in _images(client, "shoot")] == [theirs["image_id"]]  # was 2
    assert tracker.row("shoot")["image_count"] == 1


def test_a_registration_another_kernel_left_without_bytes_is_replaced(client, tmp_path):
    (path,) = _photos(tmp_path / "shoot", 1)
    tracker = OrderTracker(client)
    tracker.create("Shoot", order_id="shoot")
    phantom = client.create_image("shoot", path.name)  # registered; the bytes never came
    db, row = _another_kernels_row(tracker, path, "registered", phantom["image_id"], LIVE)
    result = _dies_while_waited_for(tracker, db, row, [path])
    assert result.summary() == "uploaded 1 of 1, 0 failed"
    images = _images(client, "shoot")
    assert len(images) == 1 and images[0]["image_id"] != phantom["image_id"]


def test_the_stop_button_ends_the_wait_for_another_kernel(client, tmp_path):
    (path,) = _photos(tmp_path / "shoot", 1)
    tracker = OrderTracker(client)
    tracker.create("Shoot", order_id="shoot")
    _another_kernels_row(tracker, path, "sending", None, LIVE)
    ledger = Ledger(tracker.journal, client, "shoot", "image", None)
    photo = ImageSource(path)
    key, sha = ledger.identify(photo)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        cancellable(stop).run(ledger.claim, photo, key, sha, {})
    assert time.monotonic() - started < 3
    assert [r.state for r in tracker.journal.photos(client.account, "shoot", "image")] == [
        "sending"  # only the other kernel's: nothing claimed here
    ]


def test_a_send_another_kernel_ended_without_its_outcome_is_settled_before_sending(
    client, tmp_path
):
    (path,) = _photos(tmp_path / "shoot", 1)
    tracker = OrderTracker(client)
    tracker.create("Shoot", order_id="shoot")
    ledger = Ledger(tracker.journal, client, "shoot", "image", None)
    ledger.settle_images(client.get_order("shoot"))  # this run looked: nothing yet
    theirs = client.upload_image("shoot", path)  # then another kernel's send: a timeout
    db, row = _another_kernels_row(tracker, path, "registered", theirs["image_id"], None)
    photo = ImageSource(path)
    key, sha = ledger.identify(photo)
    assert ledger.claim(photo, key, sha, {}) == theirs["image_id"]  # was: sent again
    states = {r.id: r.state for r in tracker.journal.photos(client.account, "shoot", "image")}
    assert states[row] == "uploaded"
    assert len(_images(client, "shoot")) == 1
