"""Watching photos until processed: webhooks against polling, side by side in one run.

    python benchmarks/webhooks.py [--orders 20] [--photos 10] [--processing 6]
                                  [--interval 0.25] [--soak 20]

For each mode a fresh sandbox (in this process, so the script can read its request log
and each image's exact finish time) gets ``orders x photos`` photos; then
``tracker.watch(interval)`` runs until every order is done, by polling alone or with
``tracker.listen()`` receiving the sandbox's webhooks. Printed per mode: the API calls
made while watching, and the time from each photo's (and order's) finish on the server
to its status in the table (median and 95th percentile), then the ratios.

Polling costs one GET per order per round, so about ``orders x (processing / interval
+ 1)`` calls; with webhooks, one refresh to start and one read per order when its last
event arrives, about ``2 x orders`` whatever the processing time. The defaults (6 s of
processing polled every 0.25 s: 24 rounds) scale down a real order (about 1-2 minutes
of processing, ``watch``'s 5 s or the widgets' 3 s polling).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autoenhance_nb import AutoenhanceClient, OrderTracker  # noqa: E402
from autoenhance_nb.sandbox import Sandbox  # noqa: E402

AUTH = "benchmark-webhook-auth-0123456789"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
    b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


class Seen:
    """When each photo and order first showed a finished status in the table."""

    def __init__(self, tracker: OrderTracker):
        self.tracker = tracker
        self.photos: dict[str, float] = {}
        self.orders: dict[str, float] = {}
        self._lock = threading.Lock()
        tracker.on_change(lambda _t: self.look())

    def look(self) -> None:
        now = time.time()
        core = self.tracker._core  # read in place: building images_df on every change
        with self._lock, core.lock:  # would time this observer, not the toolkit
            for image_id, row in core.state.images.items():
                if row[3] in ("processed", "error"):
                    self.photos.setdefault(image_id, now)
            for oid in core.order_ids():
                row = core.row(oid)
                if row and row["status"] in ("processed", "error"):
                    self.orders.setdefault(oid, now)


def run(mode: str, args: argparse.Namespace) -> dict[str, float]:
    with Sandbox(processing_seconds=3600, webhook_auth=AUTH) as sb:
        tracker = OrderTracker(AutoenhanceClient(api_key="bench", base_url=sb.url))
        listener = tracker.listen(auth=AUTH) if mode == "webhooks" else None
        sb.webhook_url = listener.url if listener else None
        for n in range(args.orders):
            order = tracker.create(f"Order {n}")
            photos = [(f"o{n}-p{i}.png", PNG) for i in range(args.photos)]
            tracker.add_images(order["order_id"], photos, progress=False)
        store = sb.app.account.store
        first = min(i.upload_started for i in store.images.values())
        # every photo finishes `processing` seconds from now, give or take its upload
        sb.processing_seconds = args.processing + (time.time() - first)
        seen = Seen(tracker)
        sb.clear_log()
        tracker.watch(interval=args.interval, timeout=600, progress=False)
        tracker.events.idle()
        calls = len(sb.request_log)
        finished = {
            i.image_id: i.upload_started + sb.processing_seconds for i in store.images.values()
        }
        by_order: dict[str, float] = {}
        for image in store.images.values():
            done = finished[image.image_id]
            by_order[image.order_id] = max(by_order.get(image.order_id, 0.0), done)
        if listener:
            listener.stop()
    photo_lag = [seen.photos[i] - t for i, t in finished.items() if i in seen.photos]
    order_lag = [seen.orders[o] - t for o, t in by_order.items() if o in seen.orders]
    return {
        "calls": calls,
        "photo_median": statistics.median(photo_lag),
        "photo_p95": _p95(photo_lag),
        "order_median": statistics.median(order_lag),
        "order_p95": _p95(order_lag),
    }


def soak(runs: int) -> None:
    """The fault check of the test suite, ``runs`` times with other seeds: 20% of the
    events dropped, duplicated and reordered; the table must end as the server's."""
    equal = 0
    for seed in range(runs):
        faults = {f"webhook_{k}_rate": 0.2 for k in ("drop", "duplicate", "reorder")}
        with Sandbox(processing_seconds=0.5, seed=seed, webhook_auth=AUTH, **faults) as sb:
            tracker = OrderTracker(AutoenhanceClient(api_key="bench", base_url=sb.url))
            tracker.events.safety_interval = 0.5
            with tracker.listen(auth=AUTH) as listener:
                sb.webhook_url = listener.url
                for n in range(8):
                    order = tracker.create(f"Order {n}")
                    photos = [(f"p{i}.png", PNG) for i in range(4)]
                    tracker.add_images(order["order_id"], photos, progress=False)
                tracker.watch(interval=0.05, timeout=120, progress=False)
                time.sleep(0.8)  # late events (held back, retried) arrive too
                tracker.events.idle()
                server = {
                    o["order_id"]: (
                        o["status"],
                        sorted((i["image_id"], i["status"]) for i in o["images"]),
                    )
                    for o in sb.orders
                }
                images = tracker.images_df
                mine = {
                    oid: (
                        tracker.row(oid)["status"],
                        sorted(
                            zip(
                                images[images["order_id"] == oid]["image_id"],
                                images[images["order_id"] == oid]["status"],
                                strict=True,
                            )
                        ),
                    )
                    for oid in tracker.order_ids()
                }
                equal += mine == server
    print(f"soak: {equal} of {runs} runs ended with the table equal to the server's state")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--photos", type=int, default=10, help="photos per order")
    parser.add_argument("--processing", type=float, default=6.0, help="seconds per photo")
    parser.add_argument("--interval", type=float, default=0.25, help="watch's polling")
    parser.add_argument("--soak", type=int, default=0, help="then the fault check N times")
    args = parser.parse_args()
    total = args.orders * args.photos
    print(
        f"{total} photos in {args.orders} orders, {args.processing:g} s of processing, "
        f"polling every {args.interval:g} s"
    )
    results = {mode: run(mode, args) for mode in ("polling", "webhooks")}
    print(
        f"{'':>10} {'API calls':>10} {'photo median':>13} {'photo p95':>10} {'order median':>13} {'order p95':>10}"
    )
    for mode, r in results.items():
        print(
            f"{mode:>10} {r['calls']:>10} {r['photo_median']:>12.3f}s {r['photo_p95']:>9.3f}s "
            f"{r['order_median']:>12.3f}s {r['order_p95']:>9.3f}s"
        )
    polling, hooks = results["polling"], results["webhooks"]
    print(
        f"webhooks / polling: API calls {hooks['calls'] / polling['calls']:.3f}x (target <= 0.10), "
        f"photo median {hooks['photo_median'] / polling['photo_median']:.2f}x, "
        f"order median {hooks['order_median'] / polling['order_median']:.2f}x"
    )
    if args.soak:
        soak(args.soak)


if __name__ == "__main__":
    main()
