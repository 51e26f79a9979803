"""session.py: the process-wide session. Without a key it runs the built-in sandbox and
says so; with one it never falls back; use_live checks the key first and keeps the
sandbox's table aside for use_sandbox; reset_session stops the sandbox."""

from __future__ import annotations

import socket
import time

import pytest

import autoenhance_nb as ae
from autoenhance_nb import errors as E
from autoenhance_nb._session import current_context, current_session, reset_session
from autoenhance_nb.sandbox import Sandbox

REAL_KEY = "sk-real-session-key"


@pytest.fixture(autouse=True)
def fresh_session():
    reset_session()
    yield
    reset_session()


@pytest.fixture
def live():
    """A stand-in for the live API that accepts only REAL_KEY."""
    with Sandbox(api_key=REAL_KEY, processing_seconds=0) as sb:
        yield sb


def test_nothing_is_started_until_the_session_is_used():
    assert current_context() is None and current_session() is None


def test_session_without_key_runs_the_sandbox_and_says_so(capsys):
    tracker = ae.session()
    out = capsys.readouterr().out
    sandbox = current_context().sandbox
    assert out == (
        f"autoenhance: no AUTOENHANCE_API_KEY set, so this session uses the built-in "
        f"SANDBOX at {sandbox.url} (nothing reaches Autoenhance)\n"
    )
    assert tracker.environment == "sandbox" and sandbox.running
    assert tracker.client.base_url == sandbox.url
    assert ae.session() is tracker and current_session() is tracker
    assert capsys.readouterr().out == "", "said once"
    tracker.create("in the sandbox")
    assert [o["name"] for o in sandbox.orders] == ["in the sandbox"]


def test_a_quiet_session_says_nothing(capsys):
    ae.session(quiet=True)
    assert capsys.readouterr().out == ""


def test_session_with_a_key_never_falls_back_to_the_sandbox(monkeypatch, capsys):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "sk-live-example")
    tracker = ae.session()
    out = capsys.readouterr().out
    assert "LIVE" in out and "api.autoenhance.ai" in out and "sk-live" not in out
    assert tracker.environment == "live" and current_context().sandbox is None


def test_a_key_with_an_unreachable_base_url_fails_instead_of_falling_back(monkeypatch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "sk-live-example")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", f"http://127.0.0.1:{port}")
    tracker = ae.session(quiet=True, max_retries=0)
    with pytest.raises(E.TransportError) as info:
        tracker.create("x")
    assert info.value.connected is False
    assert current_context().sandbox is None and tracker.client.base_url.endswith(str(port))


def test_use_live_verifies_the_key_and_a_wrong_key_changes_nothing(live):
    tracker = ae.session(quiet=True)
    tracker.create("sandbox order")
    client_before = tracker.client
    with pytest.raises(E.AuthenticationError) as info:
        ae.use_live("sk-wrong-key", base_url=live.url)
    assert "sk-wrong-key" not in str(info.value) and "sk-wrong-key" not in repr(info.value)
    assert ae.session() is tracker and tracker.client is client_before
    assert tracker.environment == "sandbox" and list(tracker.df["name"]) == ["sandbox order"]
    assert current_context().parked == {}
    assert live.orders == []


def test_use_live_with_the_right_key_switches_the_same_tracker(live):
    tracker = ae.session(quiet=True)
    assert ae.use_live(REAL_KEY, base_url=live.url) is tracker
    assert len(tracker) == 0 and tracker.client.base_url == live.url
    tracker.create("live order")
    assert [o["name"] for o in live.orders] == ["live order"]
    assert REAL_KEY not in repr(tracker.client)


@pytest.mark.parametrize("key", [None, "", "two\nlines", "has space"])
def test_use_live_refuses_a_missing_or_malformed_key_before_any_request(key, live):
    tracker = ae.session(quiet=True)
    with pytest.raises(E.ValidationError, match="An API key is needed to use the live API: "):
        ae.use_live(key, base_url=live.url)
    assert tracker.environment == "sandbox"


def test_use_live_without_verify_sends_nothing(live):
    tracker = ae.session(quiet=True)
    ae.use_live("sk-not-checked", base_url=live.url, verify=False)
    assert tracker.client.base_url == live.url
    with pytest.raises(E.AuthenticationError):
        tracker.create("refused now")


def test_use_live_against_an_unreachable_api_changes_nothing():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tracker = ae.session(quiet=True)
    before = tracker.client
    with pytest.raises(E.TransportError):
        ae.use_live(REAL_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0)
    assert tracker.client is before


def test_use_live_keeps_the_sandbox_table_aside_and_use_sandbox_brings_it_back(live):
    tracker = ae.session(quiet=True)
    tracker.create("sandbox order")
    own = current_context().sandbox
    ae.use_live(REAL_KEY, base_url=live.url)
    assert len(tracker) == 0 and "sandbox" in current_context().parked
    tracker.create("now live")
    assert ae.use_sandbox() is tracker
    assert list(tracker.df["name"]) == ["sandbox order"] and own.running
    assert tracker.client.base_url == own.url and tracker.environment == "sandbox"
    assert current_context().parked == {}
    assert [o["name"] for o in live.orders] == ["now live"], "live orders stay on the account"


def test_use_sandbox_while_on_the_sandbox_changes_nothing():
    tracker = ae.session(quiet=True)
    tracker.create("kept")
    client = tracker.client
    assert ae.use_sandbox() is tracker
    assert tracker.client is client and list(tracker.df["name"]) == ["kept"]


def test_use_sandbox_in_a_session_started_with_a_key_starts_a_sandbox(monkeypatch):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "sk-live-example")
    tracker = ae.session(quiet=True)
    assert current_context().sandbox is None
    assert ae.use_sandbox() is tracker
    sandbox = current_context().sandbox
    assert sandbox.running and tracker.client.base_url == sandbox.url
    assert tracker.environment == "sandbox" and len(tracker) == 0
    tracker.create("fresh")
    assert len(sandbox.orders) == 1


def test_reset_session_stops_the_sandbox_and_forgets_the_session():
    tracker = ae.session(quiet=True)
    sandbox = current_context().sandbox
    assert sandbox.running
    reset_session()
    assert not sandbox.running
    assert current_context() is None and current_session() is None
    again = ae.session(quiet=True)
    assert again is not tracker and current_context().sandbox is not sandbox


def test_reset_session_without_a_session_is_harmless():
    reset_session()
    reset_session()
    assert current_context() is None


def test_client_options_apply_to_the_sessions_client():
    tracker = ae.session(quiet=True, timeout=7, max_retries=1)
    assert tracker.client.timeout == 7 and tracker.client.max_retries == 1


def test_a_new_session_resumes_the_journals_orders_in_the_background(sandbox, monkeypatch):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "test-key")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    ae.session(quiet=True).create_many(["Kitchen", "Hall"], progress=False)
    reset_session()  # a crashed kernel; a fresh one starts its session
    tracker = ae.session(quiet=True)
    deadline = time.monotonic() + 10
    while len(tracker) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(tracker.df["name"]) == ["Hall", "Kitchen"]
    assert set(tracker.df["source"]) == {"resume"}
