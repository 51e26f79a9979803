"""Benchmarks: the toolkit against the simplest alternatives, side by side in one run.

    python benchmarks/run.py                 # full sizes (10-20 minutes on 2 busy cores)
    python benchmarks/run.py --quick         # small sizes, to check the script works
    python benchmarks/run.py --only http_batch rate_limit
    python benchmarks/run.py --output results.json

Every figure is a ratio of two timings taken in the same run on the same machine, so a
busy machine slows both sides. The sandbox runs in a SEPARATE PROCESS
(``python -m autoenhance_nb.sandbox``, HTTP/1.1 keep-alive), so the client and the
server do not share one GIL. Targets are printed next to each ratio; these are
benchmarks, not tests: nothing here fails the build.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autoenhance_nb import AutoenhanceClient, OrderTracker  # noqa: E402
from autoenhance_nb.display._render import render_table as render_html  # noqa: E402
from autoenhance_nb.tracker import table as T  # noqa: E402

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


class SandboxProcess:
    """``python -m autoenhance_nb.sandbox`` in its own process (keep-alive HTTP/1.1)."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autoenhance_nb.sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env={**os.environ, "AUTOENHANCE_SANDBOX_KEY": ""},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        self.url = match.group(1)
        # drain its banner so that it never blocks on a full pipe
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def tracker_for(url: str, **kw) -> OrderTracker:
    return OrderTracker(AutoenhanceClient(api_key="bench", base_url=url, **kw))


# -- 1. a batch of creates over HTTP: the toolkit and the alternatives ------------------------
def bare_threads(url: str, n: int, workers: int) -> None:
    """requests + threads, the least a careful user would write: a session per thread."""
    local = threading.local()

    def one(i: int) -> None:
        session = getattr(local, "s", None)
        if session is None:
            session = local.s = requests.Session()
            session.trust_env = False
        body = {"order_id": uuid.uuid4().hex, "name": f"bare {i}"}
        session.post(url + "/v3/orders/", headers=KEY, json=body).json()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))


def aiohttp_client(url: str, n: int, workers: int) -> None:
    import aiohttp

    async def main() -> None:
        gate = asyncio.Semaphore(workers)
        connector = aiohttp.TCPConnector(limit=workers)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(i: int) -> None:
                async with gate:
                    body = {"order_id": uuid.uuid4().hex, "name": f"aio {i}"}
                    async with session.post(url + "/v3/orders/", headers=KEY, json=body) as r:
                        await r.json()

            await asyncio.gather(*(one(i) for i in range(n)))

    asyncio.run(main())


def sdk_threads(url: str, n: int, workers: int) -> None:
    """The official SDK (autoenhance 1.1.0) as shipped, called from the same threads."""
    import autoenhance

    sdk = autoenhance.Autoenhance("bench", baseURL=url)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: sdk.create_order(name=f"sdk {i}"), range(n)))


def docs_loop(url: str, n: int) -> None:
    """The docs' snippet: a fresh requests.post (a new connection) per order."""
    for i in range(n):
        requests.post(url + "/v3/orders", headers=KEY, json={"name": f"loop {i}"}).json()


def toolkit_batch(url: str, n: int, workers: int | None) -> None:
    tracker = tracker_for(url)
    result = tracker.create_many([f"batch {i}" for i in range(n)], workers=workers, progress=False)
    assert result.ok, result


def bench_http_batch(n: int, latency: float, worker_counts: list[int], loop_n: int) -> dict:
    r: dict = {"orders": n, "latency_s": latency}
    try:
        import aiohttp  # noqa: F401

        have_aiohttp = True
    except ImportError:
        have_aiohttp = False
        r["aiohttp"] = "not installed: skipped (pip install aiohttp to compare)"
    try:
        import autoenhance  # noqa: F401

        have_sdk = True
    except ImportError:
        have_sdk = False
        r["sdk"] = "not installed: skipped"
    with SandboxProcess("--latency", str(latency)) as sb:
        with timer(r, "docs_loop_sample_s"):
            docs_loop(sb.url, loop_n)
        r["docs_loop_sample_orders"] = loop_n
        r["docs_loop_estimate_s"] = r["docs_loop_sample_s"] * n / loop_n
        for w in worker_counts:
            runs = {"toolkit": lambda w=w: toolkit_batch(sb.url, n, w)}
            runs["bare_requests_threads"] = lambda w=w: bare_threads(sb.url, n, w)
            if have_aiohttp:
                runs["aiohttp"] = lambda w=w: aiohttp_client(sb.url, n, w)
            if have_sdk:
                runs["sdk_threads"] = lambda w=w: sdk_threads(sb.url, n, w)
            for name, run in runs.items():  # one after the other, same server
                with timer(r, f"{name}_w{w}_s"):
                    with warnings_off():
                        run()
            r[f"theory_w{w}_s"] = n * latency / w
            r[f"toolkit_over_theory_w{w}"] = r[f"toolkit_w{w}_s"] / r[f"theory_w{w}_s"]
            r[f"toolkit_over_bare_w{w}"] = r[f"toolkit_w{w}_s"] / r[f"bare_requests_threads_w{w}_s"]
            if have_aiohttp:
                r[f"toolkit_over_aiohttp_w{w}"] = r[f"toolkit_w{w}_s"] / r[f"aiohttp_w{w}_s"]
                r[f"aiohttp_over_theory_w{w}"] = r[f"aiohttp_w{w}_s"] / r[f"theory_w{w}_s"]
            if have_sdk:
                r[f"sdk_over_toolkit_w{w}"] = r[f"sdk_threads_w{w}_s"] / r[f"toolkit_w{w}_s"]
            r[f"speedup_vs_docs_loop_w{w}"] = r["docs_loop_estimate_s"] / r[f"toolkit_w{w}_s"]
        # the default: workers chosen from the (assumed) limit and the observed latency
        tracker = tracker_for(sb.url)
        tracker.create_many(["warm"] * 20, workers=4, progress=False)
        r["default_workers_chosen"] = tracker.orders.batch_workers(None, n)
        with timer(r, "toolkit_default_workers_s"):
            tracker.create_many([f"d{i}" for i in range(n)], progress=False)
    lo, hi = worker_counts[0], worker_counts[-1]
    r["targets"] = {
        f"toolkit_over_aiohttp_w{lo}": "<= 1.15",
        f"toolkit_over_theory_w{hi}": "<= 1.5",
        f"speedup_vs_docs_loop_w{lo}": ">= 6",
    }
    r["met"] = (
        r.get(f"toolkit_over_aiohttp_w{lo}", 0) <= 1.15
        and r[f"toolkit_over_theory_w{hi}"] <= 1.5
        and r[f"speedup_vs_docs_loop_w{lo}"] >= 6
    )
    return r


@contextmanager
def warnings_off():
    import logging
    import warnings

    level = logging.getLogger("urllib3").level
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # the SDK's "pool is full"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logging.getLogger("urllib3").setLevel(level)


# -- 2. per-call overhead ----------------------------------------------------------------------
def bench_overhead(n: int) -> dict:
    r: dict = {"orders": n}
    with SandboxProcess() as sb:
        url = sb.url + "/v3/orders/"
        session = requests.Session()
        session.trust_env = False
        tracker = tracker_for(sb.url)

        def plain():
            for _ in range(n):
                session.post(
                    url, headers=KEY, json={"order_id": uuid.uuid4().hex, "name": "plain"}
                ).json()

        def toolkit():
            tracker.create_many(["toolkit"] * n, workers=1, progress=False)

        plain_t, toolkit_t = [], []
        for _ in range(3):  # interleaved, to share the machine's ups and downs fairly
            plain_t.append(best_of(plain, 1))
            toolkit_t.append(best_of(toolkit, 1))
        r["plain_session_s"] = min(plain_t)
        r["toolkit_one_worker_s"] = min(toolkit_t)
    r["ratio"] = r["toolkit_one_worker_s"] / r["plain_session_s"]
    r["targets"] = {"ratio": "<= 1.2"}
    r["met"] = r["ratio"] <= 1.2
    return r


# -- 3. refresh over HTTP -------------------------------------------------------------------------
def bench_refresh(n: int, latency: float) -> dict:
    r: dict = {"orders": n, "latency_s": latency}
    with SandboxProcess("--latency", str(latency)) as sb:
        tracker = tracker_for(sb.url)
        tracker.create_many([f"r{i}" for i in range(n)], workers=16, progress=False)
        ids = tracker.order_ids()
        session = requests.Session()
        session.trust_env = False

        def loop():
            for oid in ids:
                session.get(f"{sb.url}/v3/orders/{oid}", headers=KEY).json()

        with timer(r, "sequential_get_loop_s"):
            loop()
        r["workers_chosen"] = tracker.orders.batch_workers(None, n)
        with timer(r, "refresh_s"):
            tracker.refresh()
    r["speedup"] = r["sequential_get_loop_s"] / r["refresh_s"]
    r["targets"] = {"speedup": ">= 6"}
    r["met"] = r["speedup"] >= 6
    return r


# -- 4. at the API's rate limit -----------------------------------------------------------------------
def bench_rate_limit(n: int, rate: float) -> dict:
    r: dict = {"orders": n, "rate_limit_per_s": rate}
    with SandboxProcess("--rate-limit", str(rate)) as sb:
        tracker = tracker_for(sb.url, rate_limit=rate, max_retries=10)
        http = tracker.client._http
        with timer(r, "seconds"):
            result = tracker.create_many([f"rl{i}" for i in range(n)], progress=False)
        r["workers_chosen"] = tracker.client.pool_maxsize
        r["requests"] = http.answered
        r["http_429"] = http.limited
        r["created"] = len(result.created)
        r["failed"] = len(result.failed)
        time.sleep(1.0)  # a fresh second of budget for the listing
        listed = [o["order_id"] for o in tracker.client.list_orders(per_page=15, limit=None)]
        r["server_orders"] = len(listed)
        r["duplicates"] = len(listed) - len(set(listed))
    r["ideal_s"] = n / rate
    r["over_ideal"] = r["seconds"] / r["ideal_s"]
    r["share_429"] = r["http_429"] / max(1, r["requests"])
    r["targets"] = {
        "over_ideal": "<= 1.15",
        "share_429": "< 0.01",
        "server_orders": "== orders, no duplicates",
    }
    r["met"] = (
        r["over_ideal"] <= 1.15
        and r["share_429"] < 0.01
        and r["created"] == r["server_orders"] == n
        and r["duplicates"] == 0
    )
    return r


# -- 5. the table at scale ------------------------------------------------------------------------------
def fake_columns(n: int) -> list[list]:
    base = 1_795_773_600_123_456_000
    return [
        [f"order-{i:07d}" for i in range(n)],
        [f"Shoot {i} – Rue Oberkampf" if i % 50 else f"=HYPERLINK({i})" for i in range(n)],
        [i % 40 for i in range(n)],
        [("waiting", "processing", "processed")[i % 3] for i in range(n)],
        [base + i * 1000 for i in range(n)],
        [base + i * 7000 if i % 10 else None for i in range(n)],
        ["bench"] * n,
    ]


def fake_answer(oid: str, i: int) -> dict:
    return {
        "order_id": oid,
        "name": f"Shoot {i} – Rue Oberkampf",
        "status": ("processing", "processed")[i % 2],
        "total_images": i % 40,
        "images": [],
        "is_processing": i % 2 == 0,
        "is_merging": False,
        "is_deleted": False,
        "created_at": "2026-11-27T10:00:00.123456+00:00",
        "last_updated_at": f"2026-11-27T10:{i % 60:02d}:00.654321+00:00",
    }


def pandas_update(frame: pd.DataFrame, answers: list[dict]) -> pd.DataFrame:
    """The vectorised pandas way to apply a refresh's answers to a table."""
    new = pd.DataFrame.from_records(
        answers, columns=["order_id", "name", "total_images", "status", "last_updated_at"]
    ).set_index("order_id")
    new = new.rename(columns={"total_images": "image_count"})
    new["last_updated_at"] = pd.to_datetime(new["last_updated_at"], utc=True, format="ISO8601")
    out = frame.set_index("order_id")
    out.update(new)
    return out.reset_index()


class StubClient(AutoenhanceClient):
    """HTTP stubbed (for the bookkeeping benchmark only): each GET answers at once."""

    def get_order(self, order_id):  # type: ignore[override]
        return fake_answer(order_id, len(order_id))


def bench_table(n: int, tmp: Path, magic_rows: int, memory: bool) -> dict:
    r: dict = {"rows": n}
    if memory:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if memory else 0
    cols = fake_columns(n)
    tracker = OrderTracker(StubClient(api_key="bench", base_url="http://127.0.0.1:9"))
    tracker._core.state.store.extend([list(c) for c in cols])
    del cols
    if memory:
        gc.collect()
        r["table_mb"] = (tracemalloc.get_traced_memory()[0] - before) / 2**20
        tracemalloc.stop()

    records = [
        dict(zip(T.COLUMNS, row, strict=True))
        for row in zip(*tracker._core.state.store.cols, strict=True)
    ]
    r["from_records_s"] = best_of(lambda: pd.DataFrame.from_records(records), 2)
    records.clear()
    r["df_s"] = best_of(lambda: tracker.df, 2)
    r["df_over_from_records"] = r["df_s"] / r["from_records_s"]
    r["render_table_s"] = best_of(lambda: render_html(tracker), 3)

    frame = tracker.df
    opts = {"date_format": T.CSV_DATE_FORMAT, "lineterminator": "\r\n"}
    pandas_csv, toolkit_csv = [], []
    for _ in range(2):  # interleaved
        pandas_csv.append(best_of(lambda: frame.to_csv(tmp / "p.csv", index=False, **opts), 1))
        toolkit_csv.append(best_of(lambda: tracker.to_csv(tmp / "t.csv"), 1))
    r["pandas_to_csv_same_options_s"] = min(pandas_csv)
    r["toolkit_to_csv_s"] = min(toolkit_csv)
    r["to_csv_ratio"] = r["toolkit_to_csv_s"] / r["pandas_to_csv_same_options_s"]
    r["pd_read_csv_s"] = best_of(lambda: pd.read_csv(tmp / "t.csv"), 2)
    r["tracker_read_csv_s"] = best_of(
        lambda: OrderTracker(tracker.client).read_csv(tmp / "t.csv"), 2
    )
    r["read_csv_ratio"] = r["tracker_read_csv_s"] / r["pd_read_csv_s"]
    frame = pd.DataFrame()

    # refresh bookkeeping: the same answers recorded by the tracker and by pandas
    ids = tracker.order_ids()
    answers = [fake_answer(oid, i) for i, oid in enumerate(ids)]
    frame = tracker.df
    r["pandas_update_s"] = best_of(lambda: pandas_update(frame, answers), 1)
    frame = pd.DataFrame()

    def record_all():
        for start in range(0, len(answers), 2048):
            tracker._core.record_answers(answers[start : start + 2048], "python")

    r["toolkit_record_answers_s"] = best_of(record_all, 1)
    r["bookkeeping_ratio"] = r["toolkit_record_answers_s"] / r["pandas_update_s"]
    answers.clear()
    gc.collect()
    with timer(r, "refresh_stubbed_http_s"):
        tracker.refresh(workers=8)
    if memory:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracker.refresh(workers=8)
        current, peak = tracemalloc.get_traced_memory()
        r["refresh_peak_over_table_mb"] = (peak - base) / 2**20
        r["refresh_table_growth_mb"] = (current - base) / 2**20
        # what the refresh held beyond the table it leaves (the values it replaced were
        # allocated before tracing restarted, so the growth above is the new values)
        r["refresh_transient_mb"] = (peak - current) / 2**20
        tracemalloc.stop()
    r["refresh_per_order_us"] = 1e6 * r["refresh_stubbed_http_s"] / n
    r["refresh_over_pandas_update"] = r["refresh_stubbed_http_s"] / r["pandas_update_s"]
    tracker.check()
    r.update(bench_magic(magic_rows))
    r["targets"] = {
        "df_over_from_records": "<= 1.0",
        "to_csv_ratio": "<= 1.0",
        "read_csv_ratio": "<= 2",
        "bookkeeping_ratio": "<= 2",
        "refresh_transient_mb": "<= 200",
        "magic_over_create": "<= 2",
    }
    r["met"] = (
        r["df_over_from_records"] <= 1.0
        and r["to_csv_ratio"] <= 1.0
        and r["read_csv_ratio"] <= 2
        and r["bookkeeping_ratio"] <= 2
        and r.get("refresh_transient_mb", 0) <= 200
        and r["magic_over_create"] <= 2
    )
    return r


def bench_magic(rows: int) -> dict:
    """A single-order line magic in a session whose table holds ``rows`` orders, against
    ``tracker.create`` on the same tracker (the magic returns the tracker: a bounded
    view, not the whole DataFrame)."""
    r: dict = {"magic_table_rows": rows}
    with SandboxProcess() as sb:
        os.environ["AUTOENHANCE_BASE_URL"] = sb.url
        os.environ["AUTOENHANCE_API_KEY"] = "bench"
        from IPython.core.interactiveshell import InteractiveShell

        import autoenhance_nb as ae

        ae.reset_session()
        ip = InteractiveShell.instance()
        with contextlib.redirect_stdout(io.StringIO()):
            ip.run_line_magic("load_ext", "autoenhance_nb")
        tracker = ae.session()
        tracker._core.state.store.extend(fake_columns(rows))
        count = [0]

        def magic():
            count[0] += 1
            with contextlib.redirect_stdout(io.StringIO()):
                shown[0] = ip.run_line_magic("autoenhance_order", f'"magic {count[0]}"')

        def render():
            if hasattr(shown[0], "_repr_html_"):
                shown[0]._repr_html_()  # what the notebook then does with it

        shown: list = [None]

        def create():
            count[0] += 1
            tracker.create(f"create {count[0]}")

        magic_t, create_t, render_t = [], [], []
        for _ in range(7):
            magic_t.append(best_of(magic, 1))
            render_t.append(best_of(render, 1))
            create_t.append(best_of(create, 1))
        r["magic_s"] = statistics.median(magic_t)
        r["magic_view_render_s"] = statistics.median(render_t)
        r["create_s"] = statistics.median(create_t)
        r["magic_returns"] = type(shown[0]).__name__
        ae.reset_session()
    r["magic_over_create"] = r["magic_s"] / r["create_s"]
    r["magic_and_render_over_create"] = (r["magic_s"] + r["magic_view_render_s"]) / r["create_s"]
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
        http=2000,
        http_latency=0.05,
        http_workers=[32, 64],
        docs_loop=100,
        overhead=1000,
        refresh=1000,
        refresh_latency=0.02,
        rate=3000,
        table=1_000_000,
        magic_rows=100_000,
        memory=True,
        imports=5,
    ),
    "quick": dict(
        http=60,
        http_latency=0.01,
        http_workers=[8],
        docs_loop=6,
        overhead=30,
        refresh=40,
        refresh_latency=0.005,
        rate=330,
        table=2_000,
        magic_rows=500,
        memory=False,
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
        "http_batch": lambda: bench_http_batch(
            s["http"], s["http_latency"], s["http_workers"], s["docs_loop"]
        ),
        "per_call_overhead": lambda: bench_overhead(s["overhead"]),
        "refresh": lambda: bench_refresh(s["refresh"], s["refresh_latency"]),
        "rate_limit": lambda: bench_rate_limit(s["rate"], 300.0),
        "table_scale": lambda: bench_table(s["table"], tmp, s["magic_rows"], s["memory"]),
        "imports": lambda: bench_imports(s["imports"]),
    }
    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "pandas": pd.__version__,
            "requests": requests.__version__,
            "quick": args.quick,
        }
    }
    try:
        for name, run in sections.items():
            if args.only and name not in args.only:
                continue
            print(f"running {name}…", file=sys.stderr, flush=True)
            results[name] = run()
            print_section(name, results[name])
    finally:
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
