"""batch.py: fan_out keeps input order, records in the workers, stops on an unreachable
API, and on Ctrl-C waits for the calls in flight and starts nothing new."""

from __future__ import annotations

import _thread
import re
import socket
import threading
import time

import pytest

from autoenhance_nb import AutoenhanceClient
from autoenhance_nb import errors as E
from autoenhance_nb.api import Cancelled
from autoenhance_nb.sandbox import Sandbox
from autoenhance_nb.tracker._batch import UNREACHABLE_AFTER, BatchResult, Failure, fan_out


def run(items, call, workers=4, **kw):
    result = BatchResult(total=len(items))
    kw.setdefault("describe", lambda item: {"item": item})
    return fan_out(items, call, workers=workers, result=result, **kw)


def refused_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def test_results_keep_input_order_whatever_order_calls_finish_in():
    items = list(range(12))
    finished = []

    def call(i):
        time.sleep((12 - i) * 0.004)  # later items finish first
        finished.append(i)
        return i * 10

    result = run(items, call, workers=4)
    assert result.done == [i * 10 for i in items]
    assert finished != items, "the calls really did finish out of order"
    assert result.ok and result.summary() == "created 12 of 12, 0 failed"


def test_record_runs_in_the_workers_as_each_call_succeeds():
    seen = []
    main = threading.current_thread()

    def record(index, value):
        seen.append((index, value, threading.current_thread()))

    result = run(["a", "b", "c"], str.upper, workers=2, record=record, thread_name="ae-test")
    assert sorted((i, v) for i, v, _ in seen) == [(0, "A"), (1, "B"), (2, "C")]
    assert all(t is not main and t.name.startswith("ae-test") for *_, t in seen)
    assert result.done == ["A", "B", "C"]


def test_failures_are_in_input_order_with_their_index_and_item():
    def call(i):
        time.sleep((10 - i) * 0.003)
        if i % 3 == 1:
            raise E.NotFoundError(f"order {i} not found", 404)
        if i == 5:
            raise ValueError("bad\nvalue")
        return i

    result = run(list(range(10)), call, describe=lambda i: {"order_id": f"o{i}"})
    assert [f.index for f in result.failed] == [1, 4, 5, 7]
    assert [f.item for f in result.failed] == [{"order_id": f"o{i}"} for i in (1, 4, 5, 7)]
    assert result.done == [0, 2, 3, 6, 8, 9]
    assert type(result.failed[0].error) is E.NotFoundError, "typed errors are kept"
    wrapped = result.failed[2]
    assert type(wrapped.error) is E.AutoenhanceError
    assert wrapped.message == "Unexpected error: ValueError: bad\\nvalue"
    assert repr(wrapped) == "Failure(#5: Unexpected error: ValueError: bad\\nvalue)"
    assert result.summary() == "created 6 of 10, 4 failed" and not result.ok
    assert result.retry_items() == [{"order_id": f"o{i}"} for i in (1, 4, 5, 7)]


def test_progress_and_on_progress_see_every_item():
    class Bar:  # the tqdm calls fan_out makes
        n = 0

        def update(self, k):
            self.n += k

        def set_postfix(self, *args, **kw):
            pass

    bar, calls = Bar(), []

    def call(i):
        if i == 2:
            raise E.ServerError("boom", 500)
        return i

    run([0, 1, 2, 3, 4], call, workers=2, progress=bar, on_progress=lambda *a: calls.append(a))
    assert bar.n == 5
    assert [c[0] for c in calls] == [1, 2, 3, 4, 5] and {c[1] for c in calls} == {5}


def test_an_empty_batch_calls_nothing():
    result = run([], lambda item: pytest.fail("called"))
    assert result.done == [] and result.failed == [] and result.stopped is None


def test_an_unreachable_api_stops_the_batch_after_the_first_three_calls():
    client = AutoenhanceClient(api_key="k", base_url=refused_url(), max_retries=0)
    attempts = []

    def call(oid):
        attempts.append(oid)
        return client.get_order(oid)

    items = [f"o{i}" for i in range(200)]
    result = run(items, call, workers=2, describe=lambda oid: {"order_id": oid})
    assert result.stopped == (
        f"the API is unreachable: {UNREACHABLE_AFTER} of {UNREACHABLE_AFTER} first "
        "requests got no answer; nothing else sent"
    )
    assert result.done == []
    assert [f.index for f in result.failed] == list(range(200)), "every item, in order"
    first = result.failed[:UNREACHABLE_AFTER]
    assert all(type(f.error) is E.TransportError and not f.error.connected for f in first)
    assert "(connection refused)" in first[0].message
    assert all(isinstance(f.error, (E.TransportError, Cancelled)) for f in result.failed)
    assert result.failed[-1].message == f"Not sent: {result.stopped}"
    assert isinstance(result.failed[-1].error, Cancelled)
    assert len(attempts) < len(items) // 2, "stopped early"
    assert result.summary().endswith(f"200 failed ({result.stopped})")
    client.close()


def test_a_batch_whose_first_calls_get_answers_is_not_stopped_by_later_failures():
    def call(i):
        if i >= 2:
            raise E.TransportError("no answer", connected=False)
        return i

    result = run(list(range(8)), call, workers=1)
    assert result.stopped is None and result.done == [0, 1]
    assert all(type(f.error) is E.TransportError for f in result.failed)


def test_errors_with_an_answer_never_count_as_unreachable():
    def call(i):
        raise E.ServerError("down", 503)

    result = run(list(range(10)), call, workers=2)
    assert result.stopped is None and len(result.failed) == 10
    assert not any(isinstance(f.error, Cancelled) for f in result.failed)


def test_ctrl_c_mid_batch_waits_for_calls_in_flight_and_starts_nothing_new():
    with Sandbox(processing_seconds=0, latency=0.15) as sb:
        client = AutoenhanceClient(api_key="k", base_url=sb.url, max_retries=0)
        started, finished, recorded = [], [], []
        lock = threading.Lock()

        def call(i):
            with lock:
                started.append(i)
            try:
                return client.create_order(name=f"n{i}", order_id=f"o{i}")
            finally:
                with lock:
                    finished.append(i)

        def record(index, order):
            recorded.append(order["order_id"])
            if len(recorded) == 1:
                _thread.interrupt_main()  # the stop button, while others are in flight

        result = BatchResult(total=30)
        outcome = {}
        try:
            fan_out(
                list(range(30)),
                call,
                workers=3,
                result=result,
                describe=lambda i: {"order_id": f"o{i}"},
                record=record,
            )
        except KeyboardInterrupt as exc:
            outcome["message"] = str(exc)
            outcome["in_flight_at_raise"] = sorted(set(started) - set(finished))
        server_ids = sorted(o["order_id"] for o in sb.orders)
        client.close()
    message = outcome.get("message", "no KeyboardInterrupt")
    summary = re.fullmatch(
        r"Stopped: created (\d+) of 30, (\d+) failed, (\d+) not started; every answer "
        r"received is in the table \(run it again: nothing is duplicated\)",
        message,
    )
    assert summary, message
    created, failed, not_started = map(int, summary.groups())
    assert created == len(result.done) >= 1
    assert failed + not_started == len(result.failed) and created + len(result.failed) == 30
    assert all(isinstance(f.error, Cancelled) for f in result.failed), "only not sent"
    assert outcome["in_flight_at_raise"] == [], "waited for the calls in flight"
    assert server_ids == sorted(recorded), "every order the server made was recorded"
    done_indexes = [int(o["order_id"][1:]) for o in result.done]
    assert done_indexes == sorted(done_indexes), "input order"
    assert len(server_ids) < 15, "nothing new started after the stop"


def test_failure_and_result_reprs_are_one_line():
    result = BatchResult(total=2, verb="uploaded")
    result.done = ["x"]
    result.failed = [Failure(1, {"name": "y"}, E.ServerError("down"))]
    result.skipped = [("z.png", "not ready")]
    assert repr(result) == "<BatchResult uploaded 1 of 2, 1 not ready, 1 failed>"
    assert result.created == result.uploaded == result.saved == ["x"]


def test_a_failure_to_record_an_answer_is_that_items_failure_not_a_hang():
    def record(index, value):
        if index == 1:
            raise OverflowError("cannot convert float infinity to integer")

    result = BatchResult(total=3)
    started = time.monotonic()
    fan_out(
        [0, 1, 2],
        lambda i: i * 10,
        workers=2,
        result=result,
        record=record,
        describe=lambda i: {"item": i},
    )
    assert time.monotonic() - started < 5
    assert result.done == [0, 20] and [f.index for f in result.failed] == [1]
    assert "OverflowError" in result.failed[0].message


def test_a_batch_never_cancels_its_callers_context(sandbox):
    """The batch's stop lived in the caller's context while the batch ran: a stop landing
    between setting and resetting that scope left every later call of the session
    'Cancelled: not sent, the batch was stopped' (found by a SIGINT at every line). The
    workers' contexts carry the stop; the caller's never does, during or after."""
    from autoenhance_nb.api._transport import _CANCEL

    client = AutoenhanceClient(api_key="test-key", base_url=sandbox.url, backoff_factor=0.01)
    in_caller: list[object] = []
    in_workers: list[object] = []

    def call(i):
        in_workers.append(_CANCEL.get())
        return client.create_order(name=f"n{i}")

    def progress(done, total, item):
        in_caller.append(_CANCEL.get())  # on_progress runs in the caller's thread

    result = run(list(range(6)), call, workers=2, on_progress=progress)
    assert len(result.done) == 6
    assert in_workers and all(e is not None for e in in_workers)  # the batch's stop
    assert in_caller and all(e is None for e in in_caller)
    assert _CANCEL.get() is None
    client.create_order(name="after the batch")  # the session's calls still go out
    client.close()
