"""The operations journal's file: where it lives, how it is turned off, what it keeps
of an account (never the key), many writers at once, clearing it, and ``resume()``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from autoenhance_nb import AutoenhanceClient, OrderTracker
from autoenhance_nb.tracker import Journal, journal_path
from autoenhance_nb.tracker._rows import LEASE_SECONDS, Busy, BusyGroups


def test_the_journal_lives_in_the_users_data_folder_unless_told(monkeypatch, tmp_path):
    monkeypatch.delenv("AUTOENHANCE_JOURNAL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert journal_path() == tmp_path / "data" / "autoenhance-nb" / "journal.sqlite3"
    monkeypatch.setenv("AUTOENHANCE_JOURNAL", str(tmp_path / "j.sqlite3"))
    assert journal_path() == tmp_path / "j.sqlite3"
    for off in ("off", "", "none", "0"):
        monkeypatch.setenv("AUTOENHANCE_JOURNAL", off)
        assert journal_path() is None


def test_journal_none_turns_it_off_and_a_path_chooses_the_file(client, tmp_path):
    assert OrderTracker(client, journal=None).journal is None
    tracker = OrderTracker(client, journal=tmp_path / "mine.sqlite3")
    assert tracker.journal is not None and tracker.journal.path == tmp_path / "mine.sqlite3"
    assert (tmp_path / "mine.sqlite3").exists()


def test_the_journal_keeps_a_fingerprint_of_the_key_never_the_key(sandbox, _own_journal):
    key = "sk-live-very-secret-0123456789"
    client = AutoenhanceClient(api_key=key, base_url=sandbox.url)
    tracker = OrderTracker(client)
    tracker.create_many(["Kitchen"], progress=False)
    tracker.add_images(tracker.order_ids()[0], [("a.png", _png(1))], progress=False)
    assert client.account.startswith(sandbox.url + "#") and key not in client.account
    other = AutoenhanceClient(api_key=key + "x", base_url=sandbox.url)
    assert other.account != client.account
    tracker.journal.close()
    stored = b"".join(p.read_bytes() for p in _own_journal.parent.iterdir())
    assert key.encode() not in stored and client.account.encode() in stored


def test_kernels_write_to_one_journal_at_once(tmp_path):
    path = tmp_path / "shared.sqlite3"
    Journal(path).close()
    code = textwrap.dedent(
        f"""
        import sys
        from autoenhance_nb.tracker import Journal
        j = Journal({str(path)!r})
        for i in range(200):
            j.intend_orders("acct", "nb", [(i, f"{{sys.argv[1]}}-{{i}}", "x")])
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n)]) for n in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert Journal(path).counts()["orders"] == 600


def test_clear_forgets_everything(tracker):
    tracker.create_many(["A", "B"], progress=False)
    assert tracker.journal.counts()["orders"] == 2
    tracker.journal.clear()
    assert tracker.journal.counts() == {"orders": 0, "photos": 0, "groups": 0}


def test_resume_brings_back_the_notebooks_orders_after_a_restart(client):
    first = OrderTracker(client)
    first.create_many(["Kitchen", "Hall", "Garden"], progress=False)
    garden = first.df.set_index("name").loc["Garden", "order_id"]
    client.delete_order(garden)  # gone from the server meanwhile
    fresh = OrderTracker(client)  # a new kernel: an empty table
    assert len(fresh) == 0
    assert fresh.resume() == 2
    assert sorted(fresh.df["name"]) == ["Hall", "Kitchen"]
    assert fresh.resume() == 0  # nothing left to bring back; the gone one forgotten


def _png(seed: int) -> bytes:
    from ..helpers import png_bytes

    return png_bytes(2 + seed, 2)


# -- two processes, one photo --------------------------------------------------------------
def _claim(journal, name="a.png", key=("/p/a.png", 10, 1), sha=None, since=0.0):
    return journal.intend_photo(
        "acct", "o1", "image", name=name, key=key, size=10, sha256=sha, sent="{}",
        notebook=None, since=since,
    )  # fmt: skip


def _as_another_process(journal, row_id, owner, at=None):
    """Make ``row_id`` look written by ``owner`` (``host:pid``), ``at`` seconds ago."""
    journal._conn.execute("UPDATE photos SET owner = ? WHERE id = ?", (owner, row_id))
    if at is not None:
        journal._conn.execute("UPDATE photos SET at = ? WHERE id = ?", (time.time() - at, row_id))


def test_a_photo_another_live_process_is_sending_is_busy_until_it_ends(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    row = _claim(journal)
    live = f"{socket.gethostname()}:{os.getppid()}"  # the test runner's parent: alive
    _as_another_process(journal, row, live)
    with pytest.raises(Busy) as busy:
        _claim(journal)
    assert busy.value.row.id == row and busy.value.row.state == "sending"
    assert _claim(journal, name="b.png") > row  # another photo: not busy
    assert _claim(journal, key=("/p/other.png", 10, 1)) > row  # same name, other file
    journal.photo_settled(row, "uploaded", "img-1", "f" * 64)
    with pytest.raises(Busy) as done:  # uploaded there after this run looked: not resent
        _claim(journal, since=time.time() - 60)
    assert done.value.row.remote_id == "img-1"
    assert _claim(journal, since=time.time() + 1) > row  # uploaded before: the ledger's
    journal.close()


def test_a_dead_or_stale_senders_photo_is_not_busy_and_an_ended_one_once_settled(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    first = _claim(journal)
    _as_another_process(journal, first, f"{socket.gethostname()}:{dead.stdout.strip()}")
    second = _claim(journal)  # its sender is gone (a killed kernel): sent here
    live = f"{socket.gethostname()}:{os.getppid()}"
    _as_another_process(journal, second, live, at=LEASE_SECONDS + 5)
    third = _claim(journal)  # alive but idle past the lease: sent here
    _as_another_process(journal, third, live)
    with pytest.raises(Busy):
        _claim(journal)
    journal.photo_ended(third)  # that sender stopped without saying how it ended:
    with pytest.raises(Busy) as ended:  # to be settled against the order first
        _claim(journal)
    assert ended.value.row.id == third and ended.value.row.owner is None
    journal.photo_settled(third, "abandoned")  # settled (its registration deleted)
    assert _claim(journal) > third
    journal.close()


def test_content_identifies_a_photo_sent_as_bytes(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    row = _claim(journal, key=None, sha="a" * 64)
    _as_another_process(journal, row, f"{socket.gethostname()}:{os.getppid()}")
    with pytest.raises(Busy):
        _claim(journal, key=None, sha="a" * 64)
    assert _claim(journal, key=None, sha="b" * 64) > row  # same name, other content
    journal.close()


def test_a_group_another_live_process_is_merging_is_busy_until_it_ends(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    group = [("key-1", "DSC_0001.jpg", ["b1", "b2", "b3"])]
    [row] = journal.intend_groups("acct", "o1", group)
    live = f"{socket.gethostname()}:{os.getppid()}"
    journal._conn.execute("UPDATE groups SET owner = ? WHERE id = ?", (live, row))
    with pytest.raises(BusyGroups) as busy:
        journal.intend_groups("acct", "o1", [*group, ("key-2", "DSC_0004.jpg", ["b4"])])
    assert busy.value.keys == {"key-1"}
    assert journal.counts()["groups"] == 1  # nothing written
    journal.groups_settled([row], "merged")  # merged there after this run looked
    with pytest.raises(BusyGroups):
        journal.intend_groups("acct", "o1", group, since=time.time() - 60)
    assert journal.intend_groups("acct", "o1", group, since=time.time() + 1)  # before: known
    [other] = journal.intend_groups("acct", "o1", [("key-3", "x", ["b9"])])
    journal._conn.execute("UPDATE groups SET owner = ? WHERE id = ?", (live, other))
    journal.groups_ended([other])  # its process call raised without an answer:
    with pytest.raises(BusyGroups):  # to be settled against the order first
        journal.intend_groups("acct", "o1", [("key-3", "x", ["b9"])])
    journal.groups_settled([other], "abandoned")
    assert journal.intend_groups("acct", "o1", [("key-3", "x", ["b9"])])
    journal.close()
