"""Reliability under faults, timeouts, hostile input and restarts, with figures.

The soak and the property tests print what they measured (shown in the CI log); the
README's Reliability section quotes them. Rerun: python -m pytest tests/system/test_reliability.py -s
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import autoenhance_nb as ae
from autoenhance_nb import AutoenhanceClient, OrderForm, OrderTracker
from autoenhance_nb import errors as E
from autoenhance_nb.magic._magics import magics_of
from autoenhance_nb.rules._ids import order_id_problem
from autoenhance_nb.sandbox import Sandbox
from autoenhance_nb.tracker.table import read_orders_csv

FIGURES = Path(__file__).resolve().parents[1] / "artifacts" / "reliability.json"


def report(name: str, figures: dict, capsys=None) -> None:
    """Print a line of figures to the terminal (through pytest's capture) and keep them."""
    line = f"[reliability] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items())
    if capsys is not None:
        with capsys.disabled():
            print("\n" + line)
    else:
        print(line)
    FIGURES.parent.mkdir(exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    data[name] = figures
    FIGURES.write_text(json.dumps(data, indent=2))


def statuses(sb: Sandbox, endpoint: str | None = None) -> Counter:
    return Counter(e.status for e in sb.request_log if endpoint is None or e.endpoint == endpoint)


# -- 1. fault soak ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fault_soak_750_orders_exactly_once(monkeypatch, capsys):
    with Sandbox(error_rate=0.2, ambiguous_rate=0.1, rate_limit=50, latency=0.005, seed=2026) as sb:
        monkeypatch.setenv("AUTOENHANCE_API_KEY", "soak-key")
        monkeypatch.setenv("AUTOENHANCE_BASE_URL", sb.url)
        ae.reset_session()
        tracker = ae.session(quiet=True, max_retries=3, backoff_factor=0.05)
        seen_failures = 0
        failed_names: set = set()
        start = time.perf_counter()

        # 500 through create_many; what fails is reported, then re-run
        items: list = [f"soak python {i}" for i in range(500)]
        rounds = 0
        while items:
            rounds += 1
            result = tracker.create_many(items, workers=8, progress=False)
            seen_failures += len(result.failed)
            failed_names.update(f.item["name"] for f in result.failed)
            assert all(
                isinstance(f.error, (E.ServerError, E.RateLimitError, E.TransportError))
                for f in result.failed
            ), [f.message for f in result.failed[:3]]
            items = result.retry_items()
            assert rounds < 20

        # 200 through the cell magic; a failing cell is simply run again
        ip = InteractiveShell.instance()
        ip.extension_manager.load_extension("autoenhance_nb")
        magics_of(ip).progress = False
        cell = "\n".join(f"soak magic {i}" for i in range(200))
        runs = 0
        while True:
            runs += 1
            with capture_output() as cap:
                outcome = ip.run_cell("%%autoenhance_order\n" + cell)
            if outcome.success:
                break
            summary = re.search(
                r"created \d+ of 200(?: \(\d+ already in the table\))?, "
                r"(\d+) failed",
                cap.stdout,
            )
            seen_failures += int(summary.group(1))
            lines = cell.splitlines()
            failed_names.update(lines[int(n) - 1] for n in re.findall(r"line (\d+):", cap.stdout))
            assert isinstance(outcome.error_in_exec, UsageError) and runs < 20

        # 50 through form clicks; an error stays on screen and the user clicks again
        form = OrderForm(tracker)
        clicks = 0
        for i in range(50):
            form.name.value = f"soak form {i}"
            while True:
                clicks += 1
                form.create_button.click()
                form.wait()
                if "ae-msg-ok" in form.message.value:
                    break
                seen_failures += 1
                failed_names.add(form.name.value)
                assert form.name.value == f"soak form {i}", "the name stays for the retry"
                assert clicks < 500
        form.close()
        elapsed = time.perf_counter() - start

        server_ids = [o["order_id"] for o in sb.orders]
        server_names = Counter(o["name"] for o in sb.orders)
        table = tracker.df
        codes = statuses(sb)
        figures = {
            "server_orders": len(server_ids),
            "table_rows": len(table),
            "duplicates": len(server_ids)
            - len(set(server_ids))
            + sum(n - 1 for n in server_names.values() if n > 1),
            "lost": len(set(server_ids) ^ set(table["order_id"])),
            "failures_seen": seen_failures,
            "failed_orders_retried_to_success": len(failed_names & set(server_names)),
            "failed_orders_lost": len(failed_names - set(server_names)),
            "requests": len(sb.request_log),
            "http_503": codes[503],
            "http_502": codes[502],
            "http_429": codes[429],
            "http_409": codes[409],
            "form_clicks": clicks,
            "seconds": round(elapsed, 1),
        }
        report("fault_soak", figures, capsys)
        assert len(server_ids) == 750 and len(set(server_ids)) == 750
        assert len(table) == 750 and table["order_id"].is_unique
        assert set(server_ids) == set(table["order_id"])
        assert all(n == 1 for n in server_names.values())
        assert failed_names <= set(server_names), "every reported failure was retried to success"
        assert codes[503] and codes[502] and codes[429], "every fault actually happened"
        assert Counter(table["source"]) == {"python": 500, "magic": 200, "form": 50}
        ae.reset_session()


# -- 2. timeouts ------------------------------------------------------------------------------------
def test_timeout_is_clear_and_the_order_made_anyway_is_adopted(capsys):
    with Sandbox(latency=0.4, processing_seconds=0) as sb:
        tracker = OrderTracker(
            AutoenhanceClient(
                api_key="k", base_url=sb.url, timeout=0.15, max_retries=1, backoff_factor=0.01
            )
        )
        with pytest.raises(E.TransportError) as info:
            tracker.create("made despite the timeout")
        assert str(info.value).endswith("within 0.15 s (timeout)")
        time.sleep(1.0)  # the server finishes the requests the client gave up on
        assert [o["name"] for o in sb.orders] == ["made despite the timeout"]
        assert len(tracker) == 0
        sb.latency = 0
        order = tracker.create("made despite the timeout", order_id=info.value.order_id)
        assert order["order_id"] == info.value.order_id
        assert len(sb.orders) == 1 and len(tracker) == 1
        report(
            "timeout",
            {
                "server_orders": len(sb.orders),
                "table_rows": len(tracker),
                "posts": len(sb.requests_to("create_order")),
            },
            capsys,
        )


def test_batch_timeouts_are_reported_and_a_rerun_adopts():
    with Sandbox(latency=0.4) as sb:
        tracker = OrderTracker(
            AutoenhanceClient(api_key="k", base_url=sb.url, timeout=0.15, max_retries=0)
        )
        result = tracker.create_many([f"slow {i}" for i in range(6)], progress=False)
        assert len(result.failed) == 6
        assert all(isinstance(f.error, E.TransportError) for f in result.failed)
        time.sleep(1.0)
        sb.latency = 0
        again = tracker.create_many(result.retry_items(), progress=False)
        assert again.ok and len(sb.orders) == 6 and len(tracker) == 6


def test_form_retry_after_a_lost_answer_does_not_duplicate():
    with Sandbox(ambiguous_rate=1.0) as sb:
        tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url=sb.url, max_retries=0))
        form = OrderForm(tracker)
        form.name.value = "Lost answer"
        form.create_button.click()
        form.wait()
        assert "HTTP 502" in form.message.value and len(sb.orders) == 1
        sb.ambiguous_rate = 0
        form.create_button.click()
        form.wait()
        assert "ae-msg-ok" in form.message.value
        assert len(sb.orders) == 1 and len(tracker) == 1
        form.close()


# -- 3. secrets --------------------------------------------------------------------------------------
SENTINEL = "sk-SENTINEL-reliability-0c8e"


def test_the_key_appears_nowhere(tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    texts = []
    with Sandbox(api_key=SENTINEL, processing_seconds=0, ambiguous_rate=0.3, seed=4) as sb:
        client = AutoenhanceClient(
            api_key=SENTINEL, base_url=sb.url, max_retries=2, backoff_factor=0.01
        )
        tracker = OrderTracker(client)
        tracker.create_many([f"s{i}" for i in range(20)], progress=False)
        tracker.refresh()
        form = OrderForm(tracker)
        form.name.value = "form order"
        form.create_button.click()
        form.wait()
        form.filename.value = str(tmp_path / "orders.csv")
        form.export_button.click()
        form.wait()
        from ipywidgets.embed import dependency_state

        texts += [
            json.dumps(dependency_state(form), default=str),
            form.message.value,
            form.table.value,
            form.header.value,
            repr(form),
        ]
        texts += [
            repr(client),
            repr(tracker),
            tracker._repr_html_(),
            repr(sb),
            repr(sb.request_log),
            tracker.df.to_string(),
        ]
        for call in (
            lambda: tracker.create("x", order_id="s0-dup-" + "x" * 300),
            lambda: tracker.track("missing"),
            lambda: AutoenhanceClient(api_key=SENTINEL + "wrong", base_url=sb.url).create_order(),
        ):
            try:
                call()
            except E.AutoenhanceError as exc:
                texts += [str(exc), repr(exc), repr(exc.body)]
        sb.stop()
        try:
            client.get_order("x")
        except E.TransportError as exc:
            texts += [str(exc), repr(exc)]
        form.close()
    texts += [p.read_text(encoding="utf-8") for p in tmp_path.glob("*.csv")]
    texts.append(caplog.text)
    leaks = [t[:80] for t in texts if SENTINEL in t]
    assert leaks == []


# -- 4. hostile input ------------------------------------------------------------------------------------
TRICKS = [
    "../",
    "a/../b",
    "%2F",
    "%252F",
    "?",
    "#",
    "x?y#z",
    "..%2f..",
    "/",
    "//",
    ";",
    "&",
    "\u202eevil\u202c",
    "\u200f\u05e9\u05dc\u05d5\u05dd",
    "👨‍👩‍👧‍👦",
    "' OR 1=1 --",
    '"quoted", and, commas',
    "=cmd|' /C calc'!A0",
    "\t\r\n",
    "\x00nul",
    "x" * 10_000,
    "e\u0301",
    "ǅ",
    " leading",
    "trailing ",
    "line\u2028sep",
]
hostile_text = st.one_of(
    st.sampled_from(TRICKS),
    st.text(min_size=0, max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
)
COUNTS: Counter = Counter()


def _check_log(sb: Sandbox, order_id: str) -> None:
    for entry in sb.request_log:
        assert entry.status < 500, entry
        assert entry.endpoint in ("create_order", "retrieve_order"), entry
        if entry.endpoint == "retrieve_order":
            assert entry.params == {"id": order_id}, entry


@pytest.fixture(scope="module")
def hostile_sandbox():
    with Sandbox(processing_seconds=0) as sb:
        yield sb


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(name=hostile_text, order_id=hostile_text)
def _python_api_examples(hostile_sandbox, name, order_id):
    sb = hostile_sandbox
    sb.clear_log()
    tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url=sb.url))
    oid = f"{order_id}-{COUNTS['python']}" if order_id_problem(order_id) is None else order_id
    COUNTS["python"] += 1
    try:
        tracker.create(name=name, order_id=oid)
    except E.ValidationError as exc:
        assert order_id_problem(oid) is not None or exc.status_code == 422
        assert "\n" not in str(exc)
        COUNTS["python_refused"] += 1
        return
    got = tracker.client.get_order(oid)
    assert got["order_id"] == oid and got["name"] == name
    _check_log(sb, oid)


@pytest.mark.slow  # soak: every hostile payload
def test_hostile_input_through_the_python_api(hostile_sandbox):
    before = COUNTS["python"]
    _python_api_examples(hostile_sandbox)
    assert COUNTS["python"] - before >= 100, "hypothesis ran too few examples"
    report("hostile_input", dict(COUNTS))


@pytest.fixture(scope="module")
def hostile_shell(hostile_sandbox):
    env = {"AUTOENHANCE_API_KEY": "k", "AUTOENHANCE_BASE_URL": hostile_sandbox.url}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ae.reset_session()
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("autoenhance_nb")
    yield ip
    ae.reset_session()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(name=hostile_text.filter(lambda s: "\n" not in s and "\r" not in s), order_id=hostile_text)
def _magic_examples(hostile_shell, hostile_sandbox, name, order_id):
    sb = hostile_sandbox
    sb.clear_log()
    oid = f"{order_id}-m{COUNTS['magic']}" if order_id_problem(order_id) is None else order_id
    COUNTS["magic"] += 1
    line = f"--order-id {shlex.quote(oid)} -- {shlex.quote(name)}"
    with capture_output() as cap:
        try:
            hostile_shell.run_line_magic("autoenhance_order", line)
        except UsageError as exc:  # the one kind of error a user sees: one line
            assert "\n" not in str(exc).strip()
            COUNTS["magic_refused"] += 1
            return
    assert "Traceback" not in cap.stdout + cap.stderr
    got = ae.session().client.get_order(oid)
    assert got["order_id"] == oid and got["name"] == name
    _check_log(sb, oid)


@pytest.mark.slow  # soak: every hostile payload through the magic
def test_hostile_input_through_the_magic(hostile_shell, hostile_sandbox):
    before = COUNTS["magic"]
    _magic_examples(hostile_shell, hostile_sandbox)
    assert COUNTS["magic"] - before >= 40, "hypothesis ran too few examples"
    report("hostile_input", dict(COUNTS))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(name=hostile_text, order_id=hostile_text)
def _form_examples(hostile_sandbox, name, order_id):
    sb = hostile_sandbox
    sb.clear_log()
    tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url=sb.url))
    form = OrderForm(tracker)
    COUNTS["form"] += 1
    oid = order_id.strip()
    if oid and order_id_problem(oid) is None:
        oid = f"{oid}-f{COUNTS['form']}"
    form.name.value = name
    form.order_id.value = oid
    form.create_button.click()
    form.wait()
    if "ae-msg-ok" not in form.message.value:
        COUNTS["form_refused"] += 1
        refused_here = "ae-msg-error" in form.message.value + form.name_error.value
        assert form.create_button.disabled or refused_here
        assert "Traceback" not in form.message.value
        form.close()
        return
    created = tracker.df.iloc[-1]
    got = tracker.client.get_order(created["order_id"])
    assert got["name"] == (name.strip() or "")  # the form trims its fields
    if oid:
        assert got["order_id"] == oid
    _check_log(sb, got["order_id"])
    form.close()


def test_hostile_input_through_the_form(hostile_sandbox):
    before = COUNTS["form"]
    _form_examples(hostile_sandbox)
    assert COUNTS["form"] - before >= 30, "hypothesis ran too few examples"
    report("hostile_input", dict(COUNTS))


# -- 5. CSV ------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(names=st.lists(hostile_text, min_size=1, max_size=8))
def test_csv_round_trip_property(tmp_path_factory, names):
    tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url="http://127.0.0.1:9"))
    for i, name in enumerate(names):
        tracker.record(
            {
                "order_id": f"{name[:20]}#{i}",
                "name": name,
                "status": "waiting",
                "total_images": i,
                "created_at": "2026-11-27T10:00:00.123456+00:00",
                "last_updated_at": None,
            }
        )
    path = tracker.to_csv(tmp_path_factory.mktemp("csv") / "o.csv")
    pd.testing.assert_frame_equal(read_orders_csv(path), tracker.df)
    with open(path, newline="", encoding="utf-8") as fh:
        for row in list(csv.reader(fh))[1:]:
            assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_an_export_that_fails_mid_write_keeps_the_old_file(tracker, tmp_path, monkeypatch):
    tracker.create_many([f"o{i}" for i in range(50)], progress=False)
    path = tracker.to_csv(tmp_path / "orders.csv")
    before = path.read_bytes()
    tracker.create("one more")
    real = pd.DataFrame.to_csv

    def half_then_full_disk(self, buf, **kw):
        text = real(self, None, **kw)
        buf.write(text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        tracker.to_csv(path)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["orders.csv"]


# -- 6. recovery after a kernel restart ---------------------------------------------------------------------
RESTART_SCRIPT = """
import os, sys
from autoenhance_nb import AutoenhanceClient, OrderTracker
t = OrderTracker(AutoenhanceClient())
t.create_many([f"before restart {i}" for i in range(30)], progress=False)
t.to_csv(sys.argv[1])
print(len(t))
"""


def test_sync_or_csv_rebuilds_the_table_in_a_new_process(tmp_path, capsys):
    with Sandbox(processing_seconds=0) as sb:
        env = {**os.environ, "AUTOENHANCE_API_KEY": "k", "AUTOENHANCE_BASE_URL": sb.url}
        csv_path = tmp_path / "orders.csv"
        out = subprocess.run(
            [sys.executable, "-c", RESTART_SCRIPT, str(csv_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert out.strip() == "30"
        before = read_orders_csv(csv_path)
        client = AutoenhanceClient(api_key="k", base_url=sb.url)
        synced = OrderTracker(client)
        synced.sync()
        cols = ["order_id", "name", "image_count", "status", "created_at", "last_updated_at"]
        key = "order_id"
        pd.testing.assert_frame_equal(
            synced.df[cols].sort_values(key).reset_index(drop=True),
            before[cols].sort_values(key).reset_index(drop=True),
        )
        from_csv = OrderTracker(client)
        from_csv.read_csv(csv_path)
        from_csv.refresh()
        pd.testing.assert_frame_equal(from_csv.df, before)
        report(
            "recovery",
            {
                "orders_before": len(before),
                "after_sync": len(synced),
                "after_csv_and_refresh": len(from_csv),
            },
            capsys,
        )


# -- 7. sandbox hardening under load ---------------------------------------------------------------------------
@pytest.mark.slow  # soak: 50 clients, 1300 requests
def test_sandbox_stays_correct_under_50_mixed_clients(capsys):
    with Sandbox(processing_seconds=0) as sb:
        errors: list = []

        def client_work(n: int) -> None:
            s = requests.Session()
            h = {"x-api-key": "k"}
            try:
                for i in range(5):
                    oid = f"c{n}-{i}"
                    assert s.post(sb.url + "/v3/orders", json={"order_id": oid}, headers=h).ok
                    assert s.get(sb.url + f"/v3/orders/{oid}").json()["order_id"] == oid
                    assert s.patch(
                        sb.url + f"/v3/orders/{oid}", json={"name": f"n{n}"}, headers=h
                    ).ok
                    assert s.get(sb.url + "/v3/orders", params={"per_page": 15}, headers=h).ok
                    bad = s.post(
                        sb.url + "/v3/orders",
                        data=b"{oops",
                        headers={**h, "Content-Type": "application/json"},
                    )
                    assert bad.status_code == 400
                assert s.delete(sb.url + f"/v3/orders/c{n}-0", headers=h).status_code == 204
            except AssertionError as exc:  # pragma: no cover - reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=client_work, args=(n,)) for n in range(50)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        codes = statuses(sb)
        report(
            "sandbox_50_clients",
            {
                "requests": len(sb.request_log),
                "orders": len(sb.orders),
                "5xx": sum(v for k, v in codes.items() if k >= 500),
                "seconds": round(elapsed, 2),
            },
            capsys,
        )
        assert errors == []
        assert len(sb.orders) == 200
        assert all(o["name"].startswith("n") for o in sb.orders)
        assert not any(k >= 500 for k in codes)
