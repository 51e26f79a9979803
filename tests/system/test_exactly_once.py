"""Exactly once across kernels (issue #24): a kernel killed (SIGKILL) mid
``add_images``, mid ``add_brackets`` and mid a cell magic, then the same cell run in a
fresh kernel, leaves exactly one image per photo, one merged image per group and one
order per line; and two notebooks running identical cells make separate orders.

A few kills each here; ``benchmarks/soak_exactly_once.py`` runs 20 of each."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter

import pytest

from autoenhance_nb import AutoenhanceClient
from autoenhance_nb.sandbox import Sandbox

from ..crashes import (
    Crashable,
    brackets_scenario,
    line_scenario,
    magic_scenario,
    photos_scenario,
    write_photos,
    write_shoot,
)
from ..helpers import until, without_autoenhance_env

KILLS = 2
SHOW_IDS = "import autoenhance_nb as ae\nprint(sorted(ae.session().order_ids()))"


@pytest.fixture(scope="module")
def crash_site(tmp_path_factory):
    """One sandbox and one kernel manager for the module (killed and restarted by each
    scenario), with a journal of their own."""
    folder = tmp_path_factory.mktemp("crashes")
    with Sandbox(processing_seconds=0, merging_seconds=0.2, latency=0.01) as sb:
        with Crashable(sb, folder / "journal.sqlite3") as crash:
            yield sb, crash, folder


@pytest.mark.slow  # real kernels, killed
@pytest.mark.timeout(240)
def test_a_killed_add_images_rerun_uploads_each_photo_once(crash_site):
    sb, crash, folder = crash_site
    photos = folder / "photos"
    write_photos(photos, 60)
    rng = random.Random(24)
    for _ in range(KILLS):
        got = photos_scenario(sb, crash, photos, rng)
        assert got["ok"], got["output"]
        assert got["images"] == 60, got  # was 60 + the uploads before the kill
        assert set(got["names"].values()) == {1} and got["waiting"] == 0, got


@pytest.mark.slow  # real kernels, killed
@pytest.mark.timeout(240)
def test_a_killed_add_brackets_rerun_merges_each_group_once(crash_site):
    sb, crash, folder = crash_site
    shoot = folder / "shoot"
    write_shoot(shoot)
    rng = random.Random(25)
    for _ in range(KILLS):
        got = brackets_scenario(sb, crash, shoot, rng)
        assert got["ok"], got["output"]
        assert got["images"] == 4 and set(got["names"].values()) == {1}, got


@pytest.mark.slow  # real kernels, killed
@pytest.mark.timeout(240)
def test_a_killed_cell_magic_rerun_makes_each_order_once(crash_site):
    sb, crash, _ = crash_site
    rng = random.Random(26)
    for _ in range(KILLS):
        got = magic_scenario(sb, crash, rng)
        assert got["ok"], got["output"]
        assert got["orders"] == got["lines"] == 100, got


@pytest.mark.slow  # real kernels, killed
@pytest.mark.timeout(240)
def test_a_killed_line_magic_with_images_rerun_makes_one_order_and_sends_each_photo_once(
    crash_site,
):
    sb, crash, folder = crash_site
    rng = random.Random(27)
    for _ in range(KILLS):
        got = line_scenario(sb, crash, folder / "lines", rng)
        assert got["ok"], got["output"]
        assert got["orders"] == 1, got  # was 2: the re-run made a second order
        assert got["images"] == 60 and set(got["names"].values()) == {1}, got
        assert got["waiting"] == 0, got


@pytest.mark.slow  # two real kernels
@pytest.mark.timeout(120)
def test_two_notebooks_running_identical_cells_make_separate_orders(tmp_path):
    cell = "%%autoenhance_order\nKitchen\nHall\n"
    journal = tmp_path / "journal.sqlite3"  # one person, two notebooks
    with Sandbox(processing_seconds=0) as sb:
        with Crashable(sb, journal, "a.ipynb") as a, Crashable(sb, journal, "b.ipynb") as b:
            first, second = a.run(cell), b.run(cell)
            assert first.status == "ok" and second.status == "ok", second.text
            assert "created 2 of 2, 0 failed" in second.text
            ids_a = a.run(SHOW_IDS).stdout.strip()
            ids_b = b.run(SHOW_IDS).stdout.strip()
        orders = sb.orders
    assert len(orders) == 4, orders  # was 2: the second notebook adopted the first's
    assert ids_a != ids_b and not set(eval(ids_a)) & set(eval(ids_b))


TWIN = """
import json, os, sys, time
from pathlib import Path
from autoenhance_nb import AutoenhanceClient, OrderTracker
url, order_id, folder, pattern, ready, go, what = sys.argv[1:8]
client = AutoenhanceClient(api_key="k", base_url=url, backoff_factor=0.01)
tracker = OrderTracker(client)
files = sorted(Path(folder).glob(pattern))
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.002)
if what == "photos":
    r = tracker.add_images(order_id, files, workers=4, progress=False)
    out = {"done": len(r.done), "already": len(r.already), "failed": [f.message for f in r.failed]}
else:
    r = tracker.add_brackets(order_id, files, progress=False)
    out = {"groups": len(r.groups), "already": len(r.already_merged), "ok": r.ok,
           "uploaded": len(r.uploads.done) if r.uploads else 0}
print(json.dumps(out))
"""


def _twins(sb, tmp_path, folder, pattern, what):
    """Two processes (two kernels, as far as the journal can tell: one journal, two
    pids) doing the same to order "shared" at the same moment; their results."""
    go = tmp_path / "go"
    twins = []
    for n in range(2):
        args = [sb.url, "shared", str(folder), pattern, str(tmp_path / f"ready-{n}"), str(go)]
        twins.append(
            subprocess.Popen(
                [sys.executable, "-c", TWIN, *args, what],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=without_autoenhance_env(),  # one journal: the test's
            )
        )
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in range(2)):
            ended = [t.communicate() for t in twins if t.poll() is not None]
            assert not ended and time.monotonic() < deadline, ended
            time.sleep(0.01)
        go.touch()
        outs = [t.communicate(timeout=90) for t in twins]
    finally:
        for t in twins:  # never left waiting for a "go" that will not come
            if t.poll() is None:
                t.kill()
                t.wait()
    assert all(t.returncode == 0 for t in twins), outs
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs], outs


@pytest.mark.slow  # two processes
@pytest.mark.timeout(120)
def test_two_kernels_sending_the_same_photos_at_once_send_each_one_once(tmp_path):
    photos = tmp_path / "photos"
    write_photos(photos, 40)
    # each request a little slow, so that the two runs overlap photo by photo
    with Sandbox(processing_seconds=0, latency=0.02) as sb:
        client = AutoenhanceClient(api_key="k", base_url=sb.url)
        client.create_order("Shared", order_id="shared")
        results, outs = _twins(sb, tmp_path, photos, "*.png", "photos")
        images = client.get_order("shared")["images"]
        client.close()
    assert all(r["failed"] == [] for r in results), outs
    names = Counter(i["image_name"] for i in images)
    assert len(images) == 40 and set(names.values()) == {1}, names  # was 80: both sent all
    assert sum(r["done"] for r in results) == 40, results
    assert [r["done"] + r["already"] for r in results] == [40, 40], results


@pytest.mark.slow  # two processes
@pytest.mark.timeout(120)
def test_two_kernels_merging_the_same_shoot_at_once_merge_each_group_once(tmp_path):
    shoot = tmp_path / "shoot"
    write_shoot(shoot)
    with Sandbox(processing_seconds=0, merging_seconds=0.5, latency=0.02) as sb:
        client = AutoenhanceClient(api_key="k", base_url=sb.url)
        client.create_order("Shared", order_id="shared")
        results, outs = _twins(sb, tmp_path, shoot, "*.jpg", "brackets")
        until(lambda: not client.get_order("shared")["is_merging"])
        order = client.get_order("shared")
        brackets = client.list_brackets("shared")
        client.close()
    assert all(r["ok"] for r in results), outs
    names = Counter(i["image_name"] for i in order["images"])
    assert len(names) == 4 and set(names.values()) == {1}, names  # was 8: both merged all
    assert len(brackets) == 12, brackets  # each shot uploaded once
    assert sorted(r["groups"] + r["already"] for r in results) == [4, 4], results
