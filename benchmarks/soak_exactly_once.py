"""Soak: a real kernel killed (SIGKILL) at a random moment, then the same cell run in a
fresh kernel, N times each for ``add_images`` of 60 photos, ``add_brackets`` of a
12-file shoot, a line magic's ``--images`` of 60 photos and a 100-line cell magic
(issue #24). Every run must end with exactly one image per photo, one merged image per
group, one order per line.

    python benchmarks/soak_exactly_once.py              # 20 of each (~5 minutes)
    python benchmarks/soak_exactly_once.py --runs 3     # a quick look

The test suite runs the same scenarios twice each (tests/system/test_exactly_once.py).
Prints one line per run and a summary; exits 1 when any run was wrong."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autoenhance_nb.sandbox import Sandbox  # noqa: E402
from tests.crashes import (  # noqa: E402
    Crashable,
    brackets_scenario,
    line_scenario,
    magic_scenario,
    photos_scenario,
    write_photos,
    write_shoot,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    wrong = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photos, shoot = folder / "photos", folder / "shoot"
        write_photos(photos, 60)
        write_shoot(shoot)
        with Sandbox(processing_seconds=0, merging_seconds=0.2, latency=0.01) as sb:
            with Crashable(sb, folder / "journal.sqlite3") as crash:
                checks = {
                    "add_images, 60 photos": (
                        lambda: photos_scenario(sb, crash, photos, rng),
                        lambda g: (
                            g["images"] == 60
                            and set(g["names"].values()) == {1}
                            and g["waiting"] == 0
                        ),
                        lambda g: (
                            f"killed after {g['kill_at']:2d} uploads "
                            f"({g['images_at_kill']} registered); images after re-run {g['images']}"
                        ),
                    ),
                    "add_brackets, 12 files": (
                        lambda: brackets_scenario(sb, crash, shoot, rng),
                        lambda g: g["images"] == 4 and set(g["names"].values()) == {1},
                        lambda g: (
                            f"killed after {g['kill_at']:2d} brackets"
                            f"{' (merging)' if g['kill_at'] == 12 else ''}; merged images "
                            f"{g['images']}, brackets uploaded {g['brackets_uploaded']}"
                        ),
                    ),
                    "line magic --images, 60 photos": (
                        lambda: line_scenario(sb, crash, folder / "lines", rng),
                        lambda g: (
                            g["orders"] == 1
                            and g["images"] == 60
                            and set(g["names"].values()) == {1}
                            and g["waiting"] == 0
                        ),
                        lambda g: (
                            f"killed after {g['kill_at']:2d} uploads; orders after re-run "
                            f"{g['orders']}, images {g['images']}"
                        ),
                    ),
                    "cell magic, 100 lines": (
                        lambda: magic_scenario(sb, crash, rng),
                        lambda g: g["orders"] == g["lines"] == 100,
                        lambda g: (
                            f"killed after {g['kill_at']:2d} orders; orders after "
                            f"re-run {g['orders']} for {g['lines']} lines"
                        ),
                    ),
                }
                for title, (scenario, good, describe) in checks.items():
                    start, bad = time.monotonic(), 0
                    for n in range(args.runs):
                        got = scenario()
                        ok = got["ok"] and good(got)
                        bad += not ok
                        print(f"{title} #{n + 1:2d}: {describe(got)} {'ok' if ok else 'WRONG'}")
                        if not ok:
                            print("   ", got.get("output", ""))
                    took = time.monotonic() - start
                    print(f"== {title}: {args.runs - bad} of {args.runs} exact ({took:.0f} s)\n")
                    wrong += bad
    print("every run exact" if not wrong else f"{wrong} runs WRONG")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
