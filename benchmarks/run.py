"""Benchmarks: the toolkit against the simplest alternative, side by side in one run.

    python benchmarks/run.py                 # full sizes (a few minutes on 2 cores)
    python benchmarks/run.py --quick         # small sizes, to check the script works
    python benchmarks/run.py --output results.json

Every figure is a ratio of two timings taken in the same run on the same machine, so a
busy machine slows both sides. Targets are printed next to each ratio; these are
benchmarks, not tests: nothing here fails the build.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autoenhance_nb import AutoenhanceClient, OrderTracker  # noqa: E402
from autoenhance_nb.display import render_table as render_html  # noqa: E402
from autoenhance_nb.sandbox import Sandbox  # noqa: E402

KEY = {"x-api-key": "bench", "Content-Type": "application/json"}


@contextmanager
def timer(out: dict, name: str):
    gc.collect()
    start = time.perf_counter()
    yield
    out[name] = time.perf_counter() - start


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def tracker_for(sb: Sandbox, **kw) -> OrderTracker:
    return OrderTracker(AutoenhanceClient(api_key="bench", base_url=sb.url, **kw))


# -- 1. batch creation ---------------------------------------------------------------------
def bench_batch(n: int, latency: float, workers: int) -> dict:
    r: dict = {"orders": n, "latency_s": latency, "workers": workers}
    with Sandbox(latency=latency) as sb:
        url = sb.url + "/v3/orders"

        def docs_loop():  # the docs' snippet: a fresh requests.post (new connection) each time
            for i in range(n):
                requests.post(url, headers=KEY, json={"name": f"loop {i}"}).json()

        with timer(r, "docs_loop_s"):
            docs_loop()
        tracker = tracker_for(sb)
        with timer(r, "create_many_s"):
            result = tracker.create_many(
                [f"batch {i}" for i in range(n)], workers=workers, progress=False
            )
        assert result.ok and len(sb.orders) == 2 * n
    r["ideal_s"] = n * latency / workers
    r["speedup_vs_docs_loop"] = r["docs_loop_s"] / r["create_many_s"]
    r["ratio_to_ideal"] = r["create_many_s"] / r["ideal_s"]
    r["targets"] = {"speedup_vs_docs_loop": ">= 6", "ratio_to_ideal": "<= 1.3"}
    r["met"] = r["speedup_vs_docs_loop"] >= 6 and r["ratio_to_ideal"] <= 1.3
    return r


# -- 2. per-call overhead ----------------------------------------------------------------------
def bench_overhead(n: int) -> dict:
    r: dict = {"orders": n}
    with Sandbox() as sb:
        url = sb.url + "/v3/orders/"
        session = requests.Session()
        tracker = tracker_for(sb)

        def plain():
            for _ in range(n):
                session.post(
                    url, headers=KEY, json={"order_id": uuid.uuid4().hex, "name": "plain"}
                ).json()

        def toolkit():
            tracker.create_many(["toolkit"] * n, workers=1, progress=False)

        # interleave to share the machine's ups and downs fairly
        plain_t, toolkit_t = [], []
        for _ in range(3):
            plain_t.append(best_of(plain, 1))
            toolkit_t.append(best_of(toolkit, 1))
        r["plain_session_s"] = min(plain_t)
        r["toolkit_one_worker_s"] = min(toolkit_t)
    r["ratio"] = r["toolkit_one_worker_s"] / r["plain_session_s"]
    r["targets"] = {"ratio": "<= 1.2"}
    r["met"] = r["ratio"] <= 1.2
    return r


# -- 3. refresh ------------------------------------------------------------------------------------
def bench_refresh(n: int, latency: float, workers: int) -> dict:
    r: dict = {"orders": n, "latency_s": latency, "workers": workers}
    with Sandbox() as sb:
        tracker = tracker_for(sb)
        tracker.create_many([f"r{i}" for i in range(n)], workers=16, progress=False)
        ids = tracker.order_ids()
        sb.latency = latency
        session = requests.Session()

        def loop():
            for oid in ids:
                session.get(f"{sb.url}/v3/orders/{oid}").json()

        with timer(r, "sequential_get_loop_s"):
            loop()
        with timer(r, "refresh_s"):
            tracker.refresh(workers=workers)
    r["speedup"] = r["sequential_get_loop_s"] / r["refresh_s"]
    r["targets"] = {"speedup": ">= 6"}
    r["met"] = r["speedup"] >= 6
    return r


# -- 4. the rate limit ------------------------------------------------------------------------------
def bench_rate_limit(n: int, workers: int) -> dict:
    r: dict = {"orders": n, "rate_limit_per_s": 300, "workers": workers}
    with Sandbox(rate_limit=300) as sb:
        tracker = tracker_for(sb, max_retries=10)
        with timer(r, "seconds"):
            result = tracker.create_many(
                [f"rl{i}" for i in range(n)], workers=workers, progress=False
            )
        ids = [o["order_id"] for o in sb.orders]
        r["created"] = len(result.created)
        r["failed"] = len(result.failed)
        r["server_orders"] = len(ids)
        r["duplicates"] = len(ids) - len(set(ids))
        r["http_429"] = sum(1 for e in sb.request_log if e.status == 429)
        r["requests"] = len(sb.request_log)
    r["floor_s"] = max(0.0, (n - 300) / 300)  # a 300-request burst, then 300 a second
    r["targets"] = {"every order once": "created == server_orders == orders"}
    r["met"] = r["created"] == r["server_orders"] == n and r["duplicates"] == 0
    return r


# -- 5. table scale ----------------------------------------------------------------------------------
def fake_order(i: int) -> dict:
    return {
        "order_id": f"order-{i:07d}",
        "name": f"Shoot {i} – Rue Oberkampf",
        "status": ("waiting", "processing", "processed")[i % 3],
        "total_images": i % 40,
        "images": [],
        "is_processing": i % 3 == 1,
        "is_merging": False,
        "is_deleted": False,
        "created_at": "2026-11-27T10:00:00.123456+00:00",
        "last_updated_at": "2026-11-27T10:05:00.654321+00:00",
    }


def bench_table(n: int, chunk: int, tmp: Path) -> dict:
    r: dict = {"orders": n, "chunk": chunk}
    orders = [fake_order(i) for i in range(n)]
    tracker = OrderTracker(AutoenhanceClient(api_key="bench", base_url="http://127.0.0.1:9"))
    chunks = []
    for start in range(0, n, chunk):
        t0 = time.perf_counter()
        for order in orders[start : start + chunk]:
            tracker.record(order, "bench")
        chunks.append(time.perf_counter() - t0)
    r["record_first_chunk_s"] = chunks[0]
    r["record_last_chunk_s"] = chunks[-1]
    r["record_last_over_first"] = chunks[-1] / chunks[0]

    records = [
        {
            k: o[k]
            for k in ("order_id", "name", "total_images", "status", "created_at", "last_updated_at")
        }
        | {"source": "bench"}
        for o in orders
    ]
    r["from_records_s"] = best_of(lambda: pd.DataFrame.from_records(records))
    r["df_s"] = best_of(lambda: tracker.df)
    r["df_over_from_records"] = r["df_s"] / r["from_records_s"]

    small = OrderTracker(tracker.client)
    for order in orders[:100]:
        small.record(order, "bench")
    r["render_100_rows_s"] = best_of(lambda: render_html(small), 5)
    r["render_all_rows_s"] = best_of(lambda: render_html(tracker), 5)
    r["render_all_over_100"] = r["render_all_rows_s"] / r["render_100_rows_s"]

    frame = tracker.df
    r["pandas_to_csv_s"] = best_of(lambda: frame.to_csv(tmp / "pandas.csv", index=False))
    r["toolkit_to_csv_s"] = best_of(lambda: tracker.to_csv(tmp / "toolkit.csv"))
    r["to_csv_ratio"] = r["toolkit_to_csv_s"] / r["pandas_to_csv_s"]
    r["targets"] = {
        "record_last_over_first": "<= 1.5",
        "df_over_from_records": "<= 2",
        "render_all_over_100": "~1 (bounded rows)",
        "to_csv_ratio": "<= 1.5",
    }
    r["met"] = (
        r["record_last_over_first"] <= 1.5
        and r["df_over_from_records"] <= 2
        and r["render_all_over_100"] <= 1.5
        and r["to_csv_ratio"] <= 1.5
    )
    return r


# -- 6. import cost --------------------------------------------------------------------------------------
def _time_in_fresh_python(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time; t=time.perf_counter()\n" + code + "\nprint(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "AUTOENHANCE_API_KEY": ""},
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def bench_imports(repeat: int) -> dict:
    r: dict = {}
    r["import_pandas_s"] = _time_in_fresh_python("import pandas", repeat)
    r["import_ipywidgets_s"] = _time_in_fresh_python("import ipywidgets", repeat)
    r["import_pandas_and_requests_s"] = _time_in_fresh_python("import pandas, requests", repeat)
    r["import_autoenhance_nb_s"] = _time_in_fresh_python("import autoenhance_nb", repeat)
    r["load_ext_s"] = _time_in_fresh_python(
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "t=time.perf_counter()\n"
        "import io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    ip.run_line_magic('load_ext', 'autoenhance_nb')",
        repeat,
    )
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, autoenhance_nb; print(' '.join(m for m in "
            "('werkzeug', 'tqdm', 'ipywidgets', 'IPython', 'autoenhance_nb.sandbox') "
            "if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    r["heavy_modules_loaded_by_import"] = loaded
    r["import_over_pandas_and_requests"] = (
        r["import_autoenhance_nb_s"] / r["import_pandas_and_requests_s"]
    )
    r["targets"] = {
        "heavy_modules_loaded_by_import": "none of werkzeug, tqdm, ipywidgets, IPython, the sandbox"
    }
    r["met"] = not loaded
    return r


SIZES = {
    "full": dict(
        batch=300,
        batch_latency=0.05,
        overhead=1000,
        refresh=1000,
        refresh_latency=0.02,
        rate=1000,
        table=100_000,
        chunk=10_000,
        imports=5,
    ),
    "quick": dict(
        batch=24,
        batch_latency=0.02,
        overhead=50,
        refresh=40,
        refresh_latency=0.01,
        rate=330,
        table=2_000,
        chunk=500,
        imports=1,
    ),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results.json"))
    p.add_argument("--only", nargs="*", help="run only these sections")
    args = p.parse_args(argv)
    s = SIZES["quick" if args.quick else "full"]
    tmp = Path(args.output).resolve().parent / ".bench-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    sections = {
        "batch_creation": lambda: bench_batch(s["batch"], s["batch_latency"], 8),
        "per_call_overhead": lambda: bench_overhead(s["overhead"]),
        "refresh": lambda: bench_refresh(s["refresh"], s["refresh_latency"], 8),
        "rate_limit": lambda: bench_rate_limit(s["rate"], 32),
        "table_scale": lambda: bench_table(s["table"], s["chunk"], tmp),
        "imports": lambda: bench_imports(s["imports"]),
    }
    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "pandas": pd.__version__,
            "quick": args.quick,
        }
    }
    for name, run in sections.items():
        if args.only and name not in args.only:
            continue
        print(f"running {name}…", file=sys.stderr, flush=True)
        results[name] = run()
        print_section(name, results[name])
    for leftover in tmp.iterdir():
        leftover.unlink()
    tmp.rmdir()
    Path(args.output).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.output}")
    return 0


def print_section(name: str, r: dict) -> None:
    print(f"\n== {name} " + ("(targets met)" if r.get("met") else "(TARGET MISSED)"))
    for key, value in r.items():
        if key in ("met", "targets"):
            continue
        if isinstance(value, float):
            value = f"{value:.4f}" if value < 10 else f"{value:.1f}"
        target = r.get("targets", {}).get(key)
        print(f"  {key:34} {value}" + (f"   target {target}" if target else ""))


if __name__ == "__main__":
    sys.exit(main())
