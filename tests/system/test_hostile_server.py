"""A dead, slow or hostile server (issue items 4-9): every answer ends in a one-line
AutoenhanceError (or, for a timestamp out of range, a missing value and a warning)
within a bounded time, and the session stays usable.

Real HTTP against ``tests/hostile.py`` servers; only public names of the package.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from autoenhance_nb import (
    AutoenhanceClient,
    AutoenhanceError,
    OrderTracker,
    read_orders_csv,
)

from ..helpers import magic_shell
from ..hostile import (
    BlackHole,
    ConnectCounter,
    HostileServer,
    Kernel,
    SynDropHole,
    drip,
    endless_pages,
    gzip_bomb_bytes,
    json_answer,
    make_order,
    order_answer,
    port_of,
    raw,
    refused_url,
)

ROOT = Path(__file__).resolve().parents[2]


def client_for(url: str, timeout: float = 2.0, max_retries: int = 0) -> AutoenhanceClient:
    return AutoenhanceClient(
        api_key="test-key",
        base_url=url,
        timeout=timeout,
        max_retries=max_retries,
        backoff_factor=0.01,
    )


def one_line_error(exc: BaseException) -> None:
    assert isinstance(exc, AutoenhanceError), f"{type(exc).__name__}: {exc}"
    assert "\n" not in str(exc) and "\r" not in str(exc), repr(str(exc))


def call_with_deadline(fn, seconds: float):
    """Run ``fn`` in a daemon thread; returns (finished, result, exception, elapsed)."""
    box: dict = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            box["error"] = exc

    start = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return (not thread.is_alive(), box.get("result"), box.get("error"), time.monotonic() - start)


def healthy_create_works(
    client: AutoenhanceClient,
    tracker: OrderTracker | None = None,
    server: HostileServer | None = None,
) -> None:
    """The session is usable after the hostile answer: the next call on a healthy
    server works and lands in the table."""
    if server is not None:
        server.heal()
    if tracker is not None:
        before = len(tracker)
        order = tracker.create("after the storm", order_id=f"healthy-{os.urandom(4).hex()}")
        assert len(tracker) == before + 1 and order["order_id"] in tracker.df["order_id"].values
    else:
        order = client.create_order(name="after the storm")
        assert order["name"] == "after the storm"


@pytest.fixture
def srv():
    with HostileServer() as server:
        yield server


# -- 4. retries: max_retries means at most max_retries + 1 attempts -------------------------
@pytest.mark.parametrize("max_retries", [0, 3])
def test_a_create_at_a_refused_port_makes_max_retries_plus_one_attempts(max_retries):
    url = refused_url()
    client = client_for(url, timeout=1, max_retries=max_retries)
    with ConnectCounter(port_of(url)) as cc:
        with pytest.raises(AutoenhanceError) as info:
            client.create_order(name="Kitchen")
    one_line_error(info.value)
    assert cc.count <= max_retries + 1, (
        f"{cc.count} connection attempts for max_retries={max_retries}"
    )


def test_a_create_whose_connects_time_out_makes_max_retries_plus_one_attempts():
    with SynDropHole() as hole:
        client = client_for(hole.url, timeout=0.3, max_retries=3)
        start = time.monotonic()
        with ConnectCounter(hole.port) as cc:
            with pytest.raises(AutoenhanceError) as info:
                client.create_order(name="Kitchen")
        elapsed = time.monotonic() - start
    one_line_error(info.value)
    assert cc.count <= 4, f"{cc.count} connection attempts for max_retries=3"
    assert elapsed < 2 * 0.3 * 4 + 1, f"{elapsed:.1f} s for timeout=0.3, max_retries=3"


@pytest.mark.parametrize("call", ["create", "get"])
def test_a_black_hole_gets_max_retries_plus_one_connections(call):
    with BlackHole() as hole:
        client = client_for(hole.url, timeout=0.3, max_retries=3)
        start = time.monotonic()
        with pytest.raises(AutoenhanceError) as info:
            client.create_order(name="K") if call == "create" else client.get_order("k-1")
        elapsed = time.monotonic() - start
        time.sleep(0.1)
    one_line_error(info.value)
    assert hole.connections <= 4, f"{hole.connections} connections for max_retries=3"
    assert elapsed < 2 * 0.3 * 4 + 1


def _unreachable_text(outcome) -> str:
    finished, result, error, _ = outcome
    if error is not None:
        return f"{type(error).__name__}: {error}"
    return " | ".join(f.message for f in result.failed)


@pytest.mark.parametrize("dead", ["refused", "syn-drop"])
def test_a_batch_that_finds_the_api_unreachable_stops_early(dead):
    hole = SynDropHole() if dead == "syn-drop" else None
    url = hole.url if hole else refused_url()
    tracker = OrderTracker(client_for(url, timeout=0.3, max_retries=1))
    try:
        with ConnectCounter(port_of(url)) as cc:
            outcome = call_with_deadline(
                lambda: tracker.create_many(
                    [f"line {i}" for i in range(60)], workers=4, progress=False
                ),
                8,
            )
    finally:
        if hole:
            hole.__exit__()
    finished, result, error, elapsed = outcome
    assert finished, "create_many still running after 8 s against an unreachable API"
    assert error is None or isinstance(error, AutoenhanceError), repr(error)
    # the first requests (one per worker, each with its retries) show the API is down;
    # nothing else is sent
    assert cc.count <= 4 * 2 * 2, f"{cc.count} connection attempts for a 60-item batch"
    assert "unreachable" in _unreachable_text(outcome).lower(), _unreachable_text(outcome)[:300]


@pytest.mark.slow  # waits out the whole retry budget
@pytest.mark.timeout(120)
@pytest.mark.parametrize("dead", ["refused", "black-hole"])
def test_a_500_line_cell_against_a_dead_api_fails_within_the_retry_budget(dead):
    """DONE-WHEN: fails within 2 x timeout x (max_retries + 1) = 4 s."""
    hole = BlackHole().start() if dead == "black-hole" else None
    url = hole.url if hole else refused_url()
    try:
        with Kernel({"AUTOENHANCE_API_KEY": "test-key", "AUTOENHANCE_BASE_URL": url}) as k:
            setup = k.execute(
                "%load_ext autoenhance_nb\n"
                "%config AutoenhanceMagics.progress = False\n"
                "%config AutoenhanceMagics.timeout = 1.0\n"
                "%config AutoenhanceMagics.max_retries = 1\n"
            )
            assert setup.status == "ok", setup.text
            cell = "%%autoenhance_order\n" + "\n".join(f"Dead {i}" for i in range(500))
            run = k.execute(cell, timeout=10)
            took = run.finished - run.started
            assert run.status != "timeout", "the 500-line cell was still running after 10 s"
            assert run.status == "error", run.text[-500:]
            assert took <= 2 * 1.0 * 2 + 0.5, f"the 500-line cell took {took:.1f} s"
            assert "unreachable" in run.text.lower(), run.text[-500:]
    finally:
        if hole:
            hole.stop()


# -- 5. timeout is a deadline for the whole answer ------------------------------------------
@pytest.mark.parametrize("call", ["create", "get"])
def test_a_dripping_answer_fails_within_twice_the_timeout(srv, call):
    srv.on("POST" if call == "create" else "GET", "^/v3/orders", drip(interval=0.4))
    client = client_for(srv.url, timeout=1, max_retries=0)
    fn = (
        (lambda: client.create_order(name="drip", order_id="drip"))
        if call == "create"
        else (lambda: client.get_order("drip"))
    )
    finished, _, error, elapsed = call_with_deadline(fn, 6)
    assert finished, "still reading a body dripped one byte every 0.4 s after 6 s (timeout=1)"
    assert elapsed <= 2.0 + 0.5, f"{elapsed:.1f} s for timeout=1"
    one_line_error(error)
    healthy_create_works(client, OrderTracker(client), srv)


# -- 6. a cap on decoded bodies --------------------------------------------------------------
BOMB_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    from autoenhance_nb import AutoenhanceClient, AutoenhanceError
    url, call = sys.argv[1], sys.argv[2]
    client = AutoenhanceClient(api_key="test-key", base_url=url, timeout=20, max_retries=0,
                               backoff_factor=0.01)
    client.get_order("warm-up") if False else None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {}
    try:
        if call == "create":
            client.create_order(name="bomb", order_id="bomb")
        else:
            client.get_order("bomb")
        out["error"] = None
    except BaseException as exc:
        out["error"] = type(exc).__name__
        out["message"] = str(exc)
        out["is_autoenhance_error"] = isinstance(exc, AutoenhanceError)
    out["growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    try:
        out["after"] = client.create_order(name="after the storm")["name"]
    except BaseException as exc:
        out["after"] = f"{type(exc).__name__}: {exc}"
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("call", ["create", "get"])
def test_a_gzip_bomb_is_refused_without_inflating_it(srv, call):
    inflated = 400 * 1024 * 1024
    bomb = gzip_bomb_bytes(inflated)
    assert len(bomb) < 1024 * 1024
    srv.on(
        "POST" if call == "create" else "GET",
        "^/v3/orders",
        raw(200, bomb, {"Content-Encoding": "gzip"}),
    )
    proc = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, srv.url, call],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, proc.stderr[-2000:]
    out = json.loads(lines[0][6:])
    assert out["growth_mb"] < 200, (
        f"a {len(bomb) // 1024} KB gzip answer grew the peak "
        f"RSS by {out['growth_mb']:.0f} MB ({out})"[:300]
    )
    assert out["error"] is not None, "the bomb was accepted as an order"
    assert out["is_autoenhance_error"], out
    assert "\n" not in out["message"]
    assert out["after"] == "after the storm", out["after"]


# -- 7. wrong-shaped JSON ---------------------------------------------------------------------
SHAPES = {
    "null": None,
    "list": [],
    "string": "created",
    "empty-object": {},
    "number-id": {"order_id": 5, "name": "Kitchen"},
    "another-orders-id": {"order_id": "someone-else", "name": "Kitchen"},
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_create_answered_with_the_wrong_shape_is_a_one_line_error(srv, shape):
    body = SHAPES[shape]
    client = client_for(srv.url)
    srv.on("POST", "^/v3/orders", json_answer(body))
    with pytest.raises(AutoenhanceError) as info:
        client.create_order(name="Kitchen", order_id="kitchen-1")
    one_line_error(info.value)
    tracker = OrderTracker(client)
    srv.on("POST", "^/v3/orders", json_answer(body))
    with pytest.raises(AutoenhanceError) as info:
        tracker.create("Kitchen", order_id="kitchen-2")
    one_line_error(info.value)
    assert len(tracker) == 0 and len(tracker.df) == 0
    healthy_create_works(client, tracker, srv)


@pytest.mark.parametrize("status", [200, 400, 500])
@pytest.mark.parametrize("body", [b"[" * 200_000, b"[" * 990 + b"]" * 990])
def test_an_answer_of_deeply_nested_json_is_a_one_line_error(srv, status, body):
    # issue 22 item 10: not a RecursionError traceback, whatever the status
    client = client_for(srv.url)
    tracker = OrderTracker(client)
    answer = raw(status, body, {"Content-Type": "application/json"})
    srv.on("POST", "^/v3/orders", answer)
    with pytest.raises(AutoenhanceError) as info:
        client.create_order(name="Kitchen", order_id="kitchen-1")
    one_line_error(info.value)
    assert "Recursion" not in str(info.value)
    srv.on("GET", "^/v3/orders", answer)
    with pytest.raises(AutoenhanceError) as info:
        client.get_order("kitchen-1")
    one_line_error(info.value)
    healthy_create_works(client, tracker, srv)


@pytest.mark.parametrize("shape", ["null", "list", "string", "empty-object"])
def test_a_batch_names_the_unexpected_shape_not_a_python_error(srv, shape):
    srv.on("POST", "^/v3/orders", json_answer(SHAPES[shape]), times=None)
    tracker = OrderTracker(client_for(srv.url))
    result = tracker.create_many(["a", "b", "c"], workers=2, progress=False)
    assert len(result.failed) == 3 and len(tracker) == 0
    for failure in result.failed:
        one_line_error(failure.error)
        for raw_python in ("AttributeError", "KeyError", "TypeError", "IndexError"):
            assert raw_python not in failure.message, failure.message
    healthy_create_works(tracker.client, tracker, srv)


def test_a_get_answering_another_orders_id_adds_no_row(srv):
    client = client_for(srv.url)
    tracker = OrderTracker(client)
    tracker.create("Mine", order_id="mine")
    srv.orders["theirs"] = make_order("theirs", "Theirs")
    srv.on("GET", "^/v3/orders/mine$", order_answer(order_id="theirs", name="Theirs"))
    with pytest.raises(AutoenhanceError) as info:
        client.get_order("mine")
    one_line_error(info.value)
    srv.on("GET", "^/v3/orders/mine$", order_answer(order_id="theirs", name="Theirs"))
    try:
        tracker.refresh()
    except AutoenhanceError as exc:
        one_line_error(exc)
    assert list(tracker.df["order_id"]) == ["mine"] and len(tracker) == 1
    srv.on("GET", "^/v3/orders/mine$", order_answer(order_id="theirs", name="Theirs"))
    other = OrderTracker(client)
    with pytest.raises(AutoenhanceError):
        other.track("mine")
    assert len(other) == 0
    healthy_create_works(client, tracker, srv)


@pytest.mark.timeout(60)
def test_sync_with_endless_fresh_page_tokens_ends_with_an_error(srv):
    srv.on("GET", "^/v3/orders/?$", endless_pages(orders_per_page=1), times=None)
    tracker = OrderTracker(client_for(srv.url))
    finished, _, error, elapsed = call_with_deadline(tracker.sync, 15)
    pages = srv.pages_served
    assert finished, f"sync() still paging after 15 s ({pages} pages, every token fresh)"
    one_line_error(error)
    state_ok = len(tracker) == len(tracker.df)
    assert state_ok
    srv.heal()
    srv.stop()


@pytest.mark.timeout(60)
def test_sync_takes_a_limit(srv):
    srv.on("GET", "^/v3/orders/?$", endless_pages(orders_per_page=1), times=None)
    tracker = OrderTracker(client_for(srv.url))
    finished, _, error, elapsed = call_with_deadline(lambda: tracker.sync(limit=30), 10)
    assert finished, "sync(limit=30) still paging after 10 s"
    assert error is None or isinstance(error, AutoenhanceError), f"{type(error).__name__}: {error}"
    assert 0 < len(tracker) <= 30, len(tracker)
    assert srv.pages_served <= 31


@pytest.mark.slow  # waits for a slow page by design
@pytest.mark.timeout(60)
def test_the_table_answers_while_a_sync_waits_for_a_slow_page(srv):
    srv.on(
        "GET",
        "^/v3/orders/?$",
        endless_pages(orders_per_page=3, slow_page=2, slow_seconds=4, last_page=2),
        times=None,
    )
    tracker = OrderTracker(client_for(srv.url, timeout=10))
    tracker.create("already here", order_id="here")
    thread = threading.Thread(target=tracker.sync, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while srv.pages_served < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.pages_served == 2, "the sync never asked for the slow page"
    time.sleep(0.2)
    timings = {}
    for what, fn in (
        ("len", lambda: len(tracker)),
        ("df", lambda: tracker.df),
        ("status_counts", tracker.status_counts),
        ("html", tracker._repr_html_),
    ):
        finished, _, error, elapsed = call_with_deadline(fn, 3)
        timings[what] = round(elapsed, 2)
        assert error is None, f"{what}: {error!r}"
    thread.join(10)
    slow = {k: v for k, v in timings.items() if v > 0.5}
    assert not slow, f"the table was locked during the sync's network I/O: {timings}"


# -- 8. timestamps outside pandas' range ------------------------------------------------------
TIMESTAMPS = [
    ("created_at", "0001-01-01T00:00:00Z"),
    ("created_at", "9999-12-31T23:59:59Z"),
    ("last_updated_at", "0001-01-01T00:00:00Z"),
]


@pytest.mark.parametrize("column,value", TIMESTAMPS)
def test_a_timestamp_outside_pandas_range_is_missing_with_a_warning(
    srv, tmp_path, caplog, column, value
):
    caplog.set_level(logging.WARNING)
    client = client_for(srv.url)
    tracker = OrderTracker(client)
    tracker.create("Normal", order_id="normal-1")
    srv.on("POST", "^/v3/orders", order_answer(**{column: value}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker.create("Ancient", order_id="ancient-1")
        df = tracker.df
        html = tracker._repr_html_()
        path = tracker.to_csv(tmp_path / "orders.csv")
    row = df.set_index("order_id").loc["ancient-1"]
    assert pd.isna(row[column])
    assert not pd.isna(df.set_index("order_id").loc["normal-1", column])
    assert "ancient-1" in html
    back = read_orders_csv(path)
    assert list(back["order_id"]) == ["normal-1", "ancient-1"]
    texts = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert any("ancient-1" in t for t in texts), f"no warning names the order: {texts}"
    healthy_create_works(client, tracker, srv)
    assert len(tracker.df) == 3


# -- 9. a lone surrogate in a name ------------------------------------------------------------
def test_a_name_with_a_lone_surrogate_exports_and_reads_back(srv, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    client = client_for(srv.url)
    srv.orders["sur-1"] = make_order("sur-1", "a\ud800b")  # made by another client
    srv.orders["plain-1"] = make_order("plain-1", "Plain")
    tracker = OrderTracker(client)
    tracker.sync()
    assert sorted(tracker.df["order_id"]) == ["plain-1", "sur-1"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = tracker.to_csv(tmp_path / "orders.csv")
    texts = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert texts, "the replaced or escaped name was exported without a warning"
    path.read_bytes().decode("utf-8")  # a valid UTF-8 file
    again = OrderTracker(client)
    again.read_csv(path)
    names = dict(zip(again.df["order_id"], again.df["name"], strict=False))
    assert names == {"sur-1": "a\ud800b", "plain-1": "Plain"}
    healthy_create_works(client, tracker, srv)
    tracker.to_csv(tmp_path / "orders.csv")


# -- 8 and 9 through the magic ----------------------------------------------------------------
@pytest.fixture
def shell_at(shell, srv, monkeypatch):
    with magic_shell(shell, monkeypatch, srv.url, max_retries=0) as ip:
        yield ip


def run_cell(ip, code):
    with capture_output() as cap:
        result = ip.run_cell(code)
    return result, cap.stdout + cap.stderr


def test_list_and_export_survive_an_out_of_range_timestamp_and_a_lone_surrogate(
    srv, shell_at, tmp_path
):
    srv.orders["sur-1"] = make_order("sur-1", "a\ud800b")
    srv.on("POST", "^/v3/orders", order_answer(created_at="0001-01-01T00:00:00Z"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, out = run_cell(shell_at, "%autoenhance_order Ancient --order-id ancient-1")
        assert result.success, out[-500:]
        result, out = run_cell(shell_at, "%autoenhance_order --sync")
        assert result.success, out[-500:]
        result, out = run_cell(shell_at, "%autoenhance_order --list")
        assert result.success, out[-500:]
        target = tmp_path / "orders.csv"
        result, out = run_cell(shell_at, f'%autoenhance_order --export "{target}"')
        assert result.success, out[-500:]
    assert len(read_orders_csv(target)) == 2
