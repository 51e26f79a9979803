"""What the operations journal costs: ``add_images`` of 200 x 10 MB photos to a sandbox
(in a separate process) with the journal and without it, side by side in one run, in
alternating passes, each pass on a fresh sandbox (the sandbox keeps uploads in memory).

    python benchmarks/journal_cost.py                # 200 x 10 MB, 2 passes each
    python benchmarks/journal_cost.py --quick        # 20 x 1 MB, to check the script

Prints each timing and the ratio journal / no journal (target <= 1.1x), of the medians
and of the best passes (on a shared machine the best pass is the least disturbed one).
Then a re-run with the journal: every photo found uploaded, nothing sent."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import SandboxProcess  # noqa: E402  (benchmarks/run.py, this script's folder)

from autoenhance_nb import AutoenhanceClient, OrderTracker  # noqa: E402


def sandbox_process() -> SandboxProcess:
    """A sandbox in its own process with nothing processing (an hour) and room for
    10 MB uploads."""
    return SandboxProcess(
        "--processing-seconds", "3600", "--max-upload-bytes", str(64 * 1024 * 1024)
    )


def write_photos(folder: Path, n: int, size: int) -> list[Path]:
    paths = []
    for i in range(n):
        path = folder / f"IMG_{i:04d}.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(size - 4))  # a JPEG by its start
        paths.append(path)
    return paths


def one_pass(paths: list[Path], journal: Path | None, rerun: bool = False) -> dict[str, float]:
    with sandbox_process() as sb:
        client = AutoenhanceClient(api_key="bench", base_url=sb.url)
        tracker = OrderTracker(client, journal=journal)
        tracker.create("Bench", order_id="bench")
        start = time.perf_counter()
        result = tracker.add_images("bench", paths, workers=4, progress=False)
        took = time.perf_counter() - start
        assert result.ok and len(result.uploaded) == len(paths), result
        out = {"upload": took}
        if rerun:
            start = time.perf_counter()
            again = OrderTracker(client, journal=journal).add_images(
                "bench", paths, workers=4, progress=False
            )
            out["rerun"] = time.perf_counter() - start
            assert len(again.already) == len(paths) and not again.uploaded, again
        client.close()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    n, size = (20, 1024 * 1024) if args.quick else (200, 10 * 1024 * 1024)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_photos(folder, n, size)
        print(f"{n} photos x {size / 2**20:g} MB, sandbox in its own process, 4 workers")
        timings: dict[str, list[float]] = {"journal": [], "none": []}
        reruns: list[float] = []
        for p in range(args.passes):
            for side in ("none", "journal") if p % 2 == 0 else ("journal", "none"):
                journal = folder / f"journal-{p}.sqlite3" if side == "journal" else None
                got = one_pass(paths, journal, rerun=side == "journal")
                timings[side].append(got["upload"])
                if "rerun" in got:
                    reruns.append(got["rerun"])
                print(f"  pass {p + 1}: {side:8s} {got['upload']:.2f} s", flush=True)
    for how, pick in (("median", statistics.median), ("best", min)):
        with_j, without = pick(timings["journal"]), pick(timings["none"])
        ratio = with_j / without
        print(
            f"add_images, {how} of {args.passes}: journal {with_j:.2f} s, none {without:.2f} s,"
            f" ratio {ratio:.3f}x (target <= 1.1x {'OK' if ratio <= 1.1 else 'MISSED'})"
        )
    print(f"re-run with the journal (all {n} found uploaded, none sent): "
          f"{statistics.median(reruns):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
