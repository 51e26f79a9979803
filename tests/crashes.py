"""Killing real kernels mid-work (SIGKILL: no cleanup, no finally) and re-running the
same cell in a fresh kernel, against a sandbox running in this process: the scenarios
of issue #24, shared by ``tests/system/test_exactly_once.py`` (a few kills each) and
``benchmarks/soak_exactly_once.py`` (20 each). Each scenario returns what the server
holds afterwards, for the caller to check."""

from __future__ import annotations

import glob
import importlib.util
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from autoenhance_nb import AutoenhanceClient
from autoenhance_nb.sandbox import Sandbox

from .helpers import SAMPLES, png_bytes
from .hostile import Kernel

SETUP = "%load_ext autoenhance_nb\n%config AutoenhanceMagics.progress = False\n"

_spec = importlib.util.spec_from_file_location("make_brackets", SAMPLES / "make_brackets.py")
assert _spec is not None and _spec.loader is not None
make_brackets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_brackets)


class Crashable:
    """One kernel manager whose kernel is killed (SIGKILL) and started again, with the
    same environment (so the same journal and the same notebook identity)."""

    def __init__(self, sb: Sandbox, journal: Path, notebook: str = "shoots/kitchen.ipynb"):
        self.kernel = Kernel(
            {
                "AUTOENHANCE_API_KEY": "sandbox",
                "AUTOENHANCE_BASE_URL": sb.url,
                "AUTOENHANCE_JOURNAL": str(journal),
                "JPY_SESSION_NAME": notebook,
            }
        )
        self._setup()

    def _setup(self) -> None:
        run = self.kernel.execute(SETUP, timeout=60)
        assert run.status == "ok", run.text

    def close(self) -> None:
        self.kernel.close()

    def __enter__(self) -> Crashable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, code: str, timeout: float = 120.0) -> Any:
        return self.kernel.execute(code, timeout=timeout)

    def kill_during(self, code: str, ready: Callable[[], bool], timeout: float = 60.0) -> float:
        """Start ``code``, SIGKILL the kernel as soon as ``ready()`` (polled every few
        ms) is true, and start a fresh kernel. Returns when it was killed (seconds
        after the start)."""
        self.kernel.kc.execute(code, store_history=False)
        start = time.monotonic()
        while time.monotonic() - start < timeout and not ready():
            time.sleep(0.005)
        killed = time.monotonic() - start
        self.kernel.km.signal_kernel(signal.SIGKILL)
        self.kernel.km.restart_kernel(now=True)
        self.kernel.kc.wait_for_ready(timeout=60)
        self._setup()
        return killed


def api(sb: Sandbox) -> AutoenhanceClient:
    return AutoenhanceClient(api_key="sandbox", base_url=sb.url, backoff_factor=0.01)


def write_photos(folder: Path, n: int) -> list[Path]:
    """``n`` small, different PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"IMG_{i:04d}.png"
        path.write_bytes(png_bytes(2 + i % 7, 2 + i // 7))
        paths.append(path)
    return paths


def photos_scenario(
    sb: Sandbox, crash: Crashable, folder: Path, rng: random.Random, n: int = 60
) -> dict[str, Any]:
    """``add_images`` of ``n`` photos killed after a random number of uploads, then
    the same cell in a fresh kernel."""
    client = api(sb)
    order_id = f"photos-{uuid.uuid4().hex[:8]}"
    client.create_order("Photos", order_id=order_id)
    files = sorted(glob.glob(str(folder / "*.png")))
    cell = (
        "import autoenhance_nb as ae\n"
        f"r = ae.session(quiet=True).add_images({order_id!r}, {files!r}, progress=False)\n"
        "print(r.summary())"
    )
    kill_at = rng.randint(1, n - 1)

    def uploaded() -> bool:
        images = client.get_order(order_id).get("images") or []
        return sum(i.get("status") != "waiting" for i in images) >= kill_at

    crash.kill_during(cell, uploaded)
    at_kill = len(client.get_order(order_id).get("images") or [])
    again = crash.run(cell)
    images = client.get_order(order_id).get("images") or []
    client.close()
    return {
        "ok": again.status == "ok",
        "output": again.text[-400:],
        "kill_at": kill_at,
        "images_at_kill": at_kill,
        "images": len(images),
        "names": Counter(i["image_name"] for i in images),
        "waiting": sum(i.get("status") == "waiting" for i in images),
    }


def write_shoot(folder: Path, views: int = 4, start_day: int = 0) -> list[Path]:
    """A bracketed shoot: ``views`` views of 3 exposures, ``DSC_0001.jpg``..."""
    start = make_brackets.START + timedelta(days=start_day)
    return make_brackets.write_shoot(folder, [((-2, 0, 2), 10)] * views, start=start)


def brackets_scenario(
    sb: Sandbox, crash: Crashable, folder: Path, rng: random.Random
) -> dict[str, Any]:
    """``add_brackets`` of a 12-file shoot killed after a random number of bracket
    uploads (or once the merge started), then the same cell in a fresh kernel."""
    client = api(sb)
    order_id = f"hdr-{uuid.uuid4().hex[:8]}"
    client.create_order("HDR", order_id=order_id)
    files = [str(p) for p in sorted(folder.glob("DSC_*.jpg"))]
    cell = (
        "import autoenhance_nb as ae\n"
        f"r = ae.session(quiet=True).add_brackets({order_id!r}, {files!r}, progress=False)\n"
        "print(r.summary())"
    )
    kill_at = rng.randint(1, len(files))

    def progressed() -> bool:
        if kill_at == len(files):  # after the process call
            return bool(client.get_order(order_id).get("is_merging"))
        return sum(b["is_uploaded"] for b in client.list_brackets(order_id)) >= kill_at

    crash.kill_during(cell, progressed)
    again = crash.run(cell)
    deadline = time.monotonic() + 10
    order = client.get_order(order_id)
    while (order.get("is_merging") or len(order.get("images") or []) < 4) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
        order = client.get_order(order_id)
    uploaded = [b for b in client.list_brackets(order_id) if b["is_uploaded"]]
    client.close()
    return {
        "ok": again.status == "ok",
        "output": again.text[-400:],
        "kill_at": kill_at,
        "images": len(order.get("images") or []),
        "names": Counter(i["image_name"] for i in order.get("images") or []),
        "brackets_uploaded": len(uploaded),
    }


def magic_scenario(
    sb: Sandbox, crash: Crashable, rng: random.Random, lines: int = 100
) -> dict[str, Any]:
    """A ``lines``-line cell magic killed after a random number of creates, then the
    same cell in a fresh kernel."""
    prefix = f"Shoot {uuid.uuid4().hex[:6]}"
    cell = "%%autoenhance_order\n" + "\n".join(f"{prefix} {i:03d}" for i in range(lines))
    kill_at = rng.randint(1, lines - 1)

    def made() -> int:
        return sum(str(o.get("name", "")).startswith(prefix) for o in sb.orders)

    crash.kill_during(cell, lambda: made() >= kill_at)
    again = crash.run(cell)
    names = Counter(o["name"] for o in sb.orders if str(o.get("name", "")).startswith(prefix))
    return {
        "ok": again.status == "ok",
        "output": again.text[-400:],
        "kill_at": kill_at,
        "orders": sum(names.values()),
        "lines": len(names),
    }


def line_scenario(
    sb: Sandbox, crash: Crashable, folder: Path, rng: random.Random, n: int = 60
) -> dict[str, Any]:
    """``%autoenhance_order NAME --images GLOB`` (a new order and its ``n`` photos, new
    files in a folder of their own under ``folder``) killed after a random number of
    uploads, then the same line in a fresh kernel. (New file names each run: the API
    refuses an image name sent more than 30 times an hour, and a soak runs 20.)"""
    tag = uuid.uuid4().hex[:6]
    name = f"Loft {tag}"
    shoot = folder / tag
    for path in write_photos(shoot, n):
        path.rename(path.with_name(f"{tag}_{path.name}"))
    line = f'%autoenhance_order "{name}" --images "{shoot}/*.png"'
    kill_at = rng.randint(1, n - 1)

    def mine() -> list[dict[str, Any]]:
        return [o for o in sb.orders if o.get("name") == name]

    def uploaded() -> bool:
        return sum(len(o.get("images") or []) for o in mine()) >= kill_at

    crash.kill_during(line, uploaded)
    again = crash.run(line)
    orders = mine()
    images = [i for o in orders for i in o.get("images") or []]
    return {
        "ok": again.status == "ok",
        "output": again.text[-400:],
        "kill_at": kill_at,
        "orders": len(orders),
        "images": len(images),
        "names": Counter(i["image_name"] for i in images),
        "waiting": sum(i.get("status") == "waiting" for i in images),
    }
