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
from ..helpers import without_autoenhance_env

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
url, order_id, folder, ready, go = sys.argv[1:6]
client = AutoenhanceClient(api_key="k", base_url=url, backoff_factor=0.01)
tracker = OrderTracker(client)
files = sorted(Path(folder).glob("*.png"))
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.002)
r = tracker.add_images(order_id, files, workers=4, progress=False)
print(json.dumps({"done": len(r.done), "already": len(r.already),
                  "failed": [f.message for f in r.failed]}))
"""


@pytest.mark.slow  # two processes
@pytest.mark.timeout(120)
def test_two_kernels_sending_the_same_photos_at_once_send_each_one_once(tmp_path):
    photos = tmp_path / "photos"
    write_photos(photos, 40)
    # each request a little slow, so that the two runs overlap photo by photo
    with Sandbox(processing_seconds=0, latency=0.02) as sb:
        client = AutoenhanceClient(api_key="k", base_url=sb.url)
        client.create_order("Shared", order_id="shared")
        go = tmp_path / "go"
        twins = []
        for n in range(2):
            ready = tmp_path / f"ready-{n}"
            args = [sb.url, "shared", str(photos), str(ready), str(go)]
            twins.append(
                subprocess.Popen(
                    [sys.executable, "-c", TWIN, *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=without_autoenhance_env(),  # one journal: the test's
                )
            )
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in range(2)):
            assert time.monotonic() < deadline and all(t.poll() is None for t in twins)
            time.sleep(0.01)
        go.touch()
        outs = [t.communicate(timeout=90) for t in twins]
        results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
        images = client.get_order("shared")["images"]
        client.close()
    assert all(r["failed"] == [] for r in results), outs
    names = Counter(i["image_name"] for i in images)
    assert len(images) == 40 and set(names.values()) == {1}, names  # was 80: both sent all
    assert sum(r["done"] for r in results) == 40, results
    assert [r["done"] + r["already"] for r in results] == [40, 40], results
