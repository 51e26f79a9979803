"""The gallery's cost on an order of 200 photos (the sandbox in its own process, so
its rendering is not counted in this process's time and memory):

- time until the first page's 24 cards show both thumbnails, bytes fetched then (the
  page plus the next one, fetched ahead), and the Python heap's peak (tracemalloc);
- the same after visiting every page (the LRU cache keeps memory bounded);
- against downloading the whole order's thumbnails (before and after) at once.

    python benchmarks/gallery.py [--photos 200] [--page-size 24]
"""

from __future__ import annotations

import argparse
import gc
import io
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import requests
from PIL import Image

from autoenhance_nb import AutoenhanceClient, OrderTracker
from autoenhance_nb.widgets.gallery._cache import THUMB_QUERY
from autoenhance_nb.widgets.gallery._gallery import OrderGallery


def start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autoenhance_nb.sandbox",
            "--port",
            str(port),
            "--processing-seconds",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(url + "/_sandbox/health", timeout=1).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def photo(i: int) -> bytes:
    out = io.BytesIO()
    picture = Image.new("RGB", (1200, 800), ((i * 37) % 256, (i * 91) % 256, 140))
    for y in range(0, 800, 40):  # some detail, so JPEG sizes are realistic-ish
        picture.paste(((i * 13 + y) % 256, 60, (y * 3) % 256), (0, y, 1200, y + 8))
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def first_page_shown(gallery: OrderGallery) -> bool:
    return all(
        "<img" in c.original.value and "<img" in c.enhanced.value for c in gallery.cards.values()
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=24)
    args = parser.parse_args()
    proc, url = start_sandbox()
    try:
        run(args, url)
    finally:
        proc.terminate()
        proc.wait(10)


def run(args: argparse.Namespace, url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tracker = OrderTracker(AutoenhanceClient(api_key="bench", base_url=url))
        order_id = tracker.create("Gallery benchmark")["order_id"]
        up = tracker.add_images(
            order_id,
            [(f"photo-{i:03d}.jpg", photo(i)) for i in range(args.photos)],
            workers=8,
            progress=False,
        )
        tracker.refresh()
        print(f"order of {args.photos} photos: {up.summary()}")

        tracemalloc.start()
        start = time.perf_counter()
        gallery = OrderGallery(order_id, tracker, page_size=args.page_size, export_dir=tmp)
        while not first_page_shown(gallery):
            time.sleep(0.005)
        first = time.perf_counter() - start
        fetched_first = gallery.thumbs.bytes_fetched
        gallery.wait()
        _, peak_first = tracemalloc.get_traced_memory()
        fetched_ahead, fetches_ahead = gallery.thumbs.bytes_fetched, gallery.thumbs.fetches
        for page in range(1, gallery.pages):
            gallery.show_page(page)
            gallery.wait()
        gc.collect()
        now_all, peak_all = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        cache = gallery.thumbs.cache
        print(
            f"gallery, first page ({args.page_size} cards): shown in {first:.2f} s; "
            f"{fetched_first / 1e3:.0f} kB fetched by then, {fetched_ahead / 1e3:.0f} kB in "
            f"{fetches_ahead} thumbnails with the next page ahead; "
            f"peak {peak_first / 1e6:.1f} MB"
        )
        print(
            f"gallery, all {gallery.pages} pages visited: {gallery.thumbs.fetches} thumbnails, "
            f"{gallery.thumbs.bytes_fetched / 1e3:.0f} kB fetched; cache {cache.size / 1e3:.0f} "
            f"kB of at most {cache.max_bytes / 1e6:.0f} MB; peak {peak_all / 1e6:.1f} MB, "
            f"{now_all / 1e6:.1f} MB held after the last page"
        )
        gallery.close()

        tracemalloc.start()
        start = time.perf_counter()
        for kind in ("original", "enhanced"):
            tracker.download(order_id, Path(tmp) / kind, kind, workers=4, **THUMB_QUERY)
        whole = time.perf_counter() - start
        _, peak_whole = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        print(
            f"whole order's thumbnails (original and enhanced preview) downloaded: "
            f"{whole:.2f} s, {2 * args.photos} files, {size / 1e3:.0f} kB; "
            f"peak {peak_whole / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
