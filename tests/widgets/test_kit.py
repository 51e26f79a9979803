"""widget_kit.py: one background action at a time with its buttons disabled and
relabelled, errors shown not lost; an auto-refresh that stops by itself."""

from __future__ import annotations

import threading
import time

import ipywidgets as w
import pytest

from autoenhance_nb import errors as E
from autoenhance_nb.widgets._kit import (
    AutoRefresher,
    BackgroundActions,
    error_message,
    field_layout,
    row,
    weak_method,
)


@pytest.fixture
def kit():
    """Two buttons, their BackgroundActions, and the errors and after-calls it made."""
    buttons = [w.Button(description="Create"), w.Button(description="Refresh")]
    errors, afters = [], []
    actions = BackgroundActions(
        lambda: buttons, errors.append, after=lambda: afters.append(1), name="ae-kit-test"
    )
    return buttons, actions, errors, afters


# -- BackgroundActions ------------------------------------------------------------------------
def test_an_action_runs_in_the_background_with_buttons_disabled_and_relabelled(kit):
    buttons, actions, errors, afters = kit
    release, seen = threading.Event(), {}

    def job():
        seen["thread"] = threading.current_thread().name
        release.wait(10)

    assert actions.run(buttons[0], "Creating…", job) is True
    assert actions.busy
    assert [b.description for b in buttons] == ["Creating…", "Refresh"]
    assert [b.disabled for b in buttons] == [True, True]
    release.set()
    actions.wait()
    assert not actions.busy and seen["thread"] == "ae-kit-test"
    assert [b.description for b in buttons] == ["Create", "Refresh"]
    assert [b.disabled for b in buttons] == [False, False]
    assert errors == [] and afters == [1]


def test_only_one_action_runs_at_a_time(kit):
    buttons, actions, errors, afters = kit
    release, ran = threading.Event(), []
    assert actions.run(buttons[0], "Creating…", lambda: release.wait(10))
    assert actions.run(buttons[1], "Refreshing…", lambda: ran.append("second")) is False
    assert buttons[1].description == "Refresh", "the refused one is not relabelled"
    release.set()
    actions.wait()
    assert ran == [] and afters == [1]
    assert actions.run(buttons[1], "Refreshing…", lambda: ran.append("third"))
    actions.wait()
    assert ran == ["third"]


def test_an_error_goes_to_on_error_as_one_line_and_the_buttons_come_back(kit):
    buttons, actions, errors, afters = kit

    def job():
        raise ValueError("bad\nthing")

    actions.run(buttons[1], "Refreshing…", job)
    actions.wait()
    assert errors == ["ValueError: bad\\nthing"]
    assert [b.disabled for b in buttons] == [False, False]
    assert buttons[1].description == "Refresh" and afters == [1] and not actions.busy


def test_a_toolkit_error_is_shown_as_its_message(kit):
    buttons, actions, errors, _ = kit

    def job():
        raise E.NotFoundError("Fetching order 'x' failed: not found (HTTP 404)", 404)

    actions.run(buttons[0], "…", job)
    actions.wait()
    assert errors == ["Fetching order 'x' failed: not found (HTTP 404)"]


def test_wait_times_out_while_the_action_runs(kit):
    buttons, actions, _, _ = kit
    release = threading.Event()
    actions.run(buttons[0], "…", lambda: release.wait(10))
    with pytest.raises(TimeoutError, match="still running"):
        actions.wait(timeout=0.05)
    release.set()
    actions.wait()


def test_no_action_ever_runs_with_its_buttons_enabled():
    buttons = [w.Button(description="A"), w.Button(description="B")]
    release, state = threading.Event(), {"calls": 0}

    def buttons_of():
        # the finishing worker asks for the buttons while it re-enables them: a click
        # landing at that moment must not start an action whose buttons end up enabled
        state["calls"] += 1
        if state["calls"] == 2:
            state["started"] = actions.run(buttons[1], "B…", lambda: release.wait(10))
        return buttons

    actions = BackgroundActions(buttons_of, lambda msg: None)
    actions.run(buttons[0], "A…", lambda: None)
    actions.wait()
    try:
        assert state.get("started") is False  # refused while the first was finishing
        assert not actions.busy and [b.disabled for b in buttons] == [False, False]
        assert actions.run(buttons[1], "B…", lambda: release.wait(10))  # then it can run
        assert actions.busy and [b.disabled for b in buttons] == [True, True]
    finally:
        release.set()
        actions.wait()


# -- AutoRefresher ------------------------------------------------------------------------------
def test_the_refresher_stops_when_a_step_returns_a_message():
    steps, stops = [], []

    def step():
        steps.append(threading.current_thread().name)
        return "all done" if len(steps) == 3 else None

    r = AutoRefresher(step, stops.append, interval=0.01, max_seconds=30, name="ae-refresh-test")
    r.start()
    r.join(10)
    assert len(steps) == 3 and set(steps) == {"ae-refresh-test"}
    assert stops == ["all done"] and not r.running


def test_stop_ends_the_refresher_and_on_stop_gets_none():
    stops, steps = [], []
    r = AutoRefresher(lambda: steps.append(1), stops.append, interval=0.01, max_seconds=30)
    assert not r.running
    r.start()
    assert r.running
    while not steps:
        time.sleep(0.005)
    r.stop()
    r.join(10)
    assert stops == [None] and not r.running
    n = len(steps)
    time.sleep(0.05)
    assert len(steps) == n, "no step after stop"


def test_stop_interrupts_a_long_interval_at_once():
    stops = []
    r = AutoRefresher(lambda: None, stops.append, interval=60, max_seconds=600)
    r.start()
    time.sleep(0.02)
    started = time.monotonic()
    r.stop()
    r.join(10)
    assert stops == [None] and time.monotonic() - started < 2


def test_the_refresher_stops_after_max_seconds():
    stops, steps = [], []
    r = AutoRefresher(lambda: steps.append(1), stops.append, interval=0.01, max_seconds=0.1)
    began = time.monotonic()
    r.start()
    r.join(10)
    assert stops == ["stopped after its time limit"] and not r.running
    assert 0.1 <= time.monotonic() - began < 5 and len(steps) >= 2


def test_starting_a_running_refresher_again_starts_no_second_thread():
    stops, steps = [], []
    r = AutoRefresher(lambda: steps.append(1), stops.append, interval=0.01, max_seconds=30)
    r.start()
    first = r._thread
    r.start()
    assert r._thread is first
    r.stop()
    r.join(10)
    assert stops == [None], "on_stop once"
    r.start()  # and it can run again after stopping
    assert r.running and r._thread is not first
    r.stop()
    r.join(10)
    assert stops == [None, None]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_step_that_raises_still_ends_with_on_stop():
    stops = []

    def step():
        raise RuntimeError("network went away")

    r = AutoRefresher(step, stops.append, interval=0.01, max_seconds=30)
    r.start()
    r.join(10)
    assert len(stops) == 1 and not r.running


# -- small parts ------------------------------------------------------------------------------------
def test_error_message_is_one_line():
    assert error_message(E.ServerError("down (HTTP 503)")) == "down (HTTP 503)"
    assert error_message(KeyError("x\ny")) == "KeyError: 'x\\ny'"
    long = error_message(RuntimeError("z" * 1000))
    assert len(long) == 300 and long.endswith("…")


def test_weak_method_does_not_keep_its_object_alive():
    import gc

    class Thing:
        calls = 0

        def poke(self):
            Thing.calls += 1

    thing = Thing()
    call = weak_method(thing, "poke")
    call("ignored", "args")
    assert Thing.calls == 1
    del thing
    gc.collect()
    call()
    assert Thing.calls == 1


def test_layouts_wrap_and_shrink():
    r = row(w.Button(), w.Button())
    assert r.layout.flex_flow == "row wrap" and r.layout.max_width == "100%"
    f = field_layout(520)
    assert f.flex == "0 1 520px" and f.min_width == "0" and f.max_width == "100%"
