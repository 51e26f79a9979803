"""AutoenhanceClient over real HTTP against the sandbox: every method, every error
type, retries, exactly-once creation, hostile ids and the key's secrecy."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from autoenhance_nb import AutoenhanceClient
from autoenhance_nb import errors as E
from autoenhance_nb.api._client import DEFAULT_BASE_URL
from autoenhance_nb.rules import validate_order_id
from autoenhance_nb.sandbox import Sandbox

from ..helpers import UUID_HEX, png_bytes


def make_client(sb, **kw):
    kw.setdefault("api_key", "test-key")
    kw.setdefault("backoff_factor", 0.01)
    return AutoenhanceClient(base_url=sb.url, **kw)


# -- configuration --------------------------------------------------------------------
def test_key_and_url_come_from_the_environment(monkeypatch, sandbox):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "from-env")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url + "/")
    client = AutoenhanceClient()
    assert client.base_url == sandbox.url and client.has_key
    assert client.environment == "sandbox"
    assert client.create_order(name="env")["name"] == "env"


def test_defaults_point_at_the_live_api():
    client = AutoenhanceClient(api_key="k")
    assert client.base_url == DEFAULT_BASE_URL and client.environment == "live"


def test_missing_key_is_a_clear_error_and_sends_nothing(sandbox):
    client = AutoenhanceClient(base_url=sandbox.url)
    with pytest.raises(E.MissingApiKeyError, match="needs an API key: set AUTOENHANCE_API_KEY"):
        client.create_order(name="x")
    with pytest.raises(E.MissingApiKeyError):
        list(client.list_orders())
    assert sandbox.request_log == []


def test_bad_base_url_is_refused():
    with pytest.raises(ValueError, match="http"):
        AutoenhanceClient(api_key="k", base_url="ftp://example.com")


# -- methods ------------------------------------------------------------------------------
def test_create_get_update_delete(client, sandbox):
    order = client.create_order(name="Kitchen")
    assert UUID_HEX.match(order["order_id"]), "the client chose a uuid4 hex"
    assert order["status"] == "waiting"
    assert client.get_order(order["order_id"])["name"] == "Kitchen"
    assert client.update_order(order["order_id"], name="Hall")["name"] == "Hall"
    assert client.delete_order(order["order_id"]) is None
    with pytest.raises(E.NotFoundError, match=r"not found \(HTTP 404\)"):
        client.get_order(order["order_id"])


def test_unknown_fields_are_kept(client):
    order = client.create_order(name="x")
    assert {"is_merging", "is_deleted", "last_updated_at"} <= set(order)


@pytest.mark.parametrize("per_page", [1, 7, 15])
def test_list_orders_follows_every_page(client, per_page):
    for i in range(23):
        client.create_order(order_id=f"list-{i}")
    ids = [o["order_id"] for o in client.list_orders(per_page=per_page)]
    assert sorted(ids) == sorted(f"list-{i}" for i in range(23))


def test_list_orders_rejects_a_bad_page_size(client):
    with pytest.raises(E.ValidationError, match="per_page"):
        list(client.list_orders(per_page=16))


# -- ids in URLs -------------------------------------------------------------------------
HOSTILE_IDS = [
    "a/../b",
    "x?y#z",
    "%2F",
    "../orders",
    "a b",
    "ünï/cødé",
    "?",
    "#",
    "..%2F..",
    "a%2e%2e",
    "\u202eevil",
    "emoji-🏠",
]


@pytest.mark.parametrize("order_id", HOSTILE_IDS)
def test_hostile_ids_stay_one_path_segment(client, sandbox, order_id):
    created = client.create_order(name="hostile", order_id=order_id)
    assert created["order_id"] == order_id
    sandbox.clear_log()
    assert client.get_order(order_id)["order_id"] == order_id
    client.update_order(order_id, name="renamed")
    client.delete_order(order_id)
    endpoints = [(e.endpoint, e.params) for e in sandbox.request_log]
    assert endpoints == [
        ("retrieve_order", {"id": order_id}),
        ("update_order", {"id": order_id}),
        ("delete_order", {"id": order_id}),
    ]


@pytest.mark.parametrize(
    "bad", ["", "   ", "a\x00b", "tab\there", "x" * 256, ".", "..", "del\x7f", 42, None]
)
def test_impossible_ids_are_refused_before_any_request(client, sandbox, bad):
    with pytest.raises(E.ValidationError, match="Invalid order_id"):
        client.get_order(bad)
    if bad is not None:
        with pytest.raises(E.ValidationError, match="Invalid order_id"):
            client.create_order(name="x", order_id=bad)
    assert sandbox.request_log == []


def test_validate_order_id_accepts_255_characters():
    assert validate_order_id("x" * 255) == "x" * 255


# -- error types ------------------------------------------------------------------------------
def test_wrong_key_is_an_authentication_error():
    with Sandbox(api_key="right") as sb:
        client = make_client(sb, api_key="wrong")
        with pytest.raises(E.AuthenticationError) as info:
            client.create_order(name="x")
        assert info.value.status_code == 401
        assert "API key was refused" in str(info.value) and "\n" not in str(info.value)


def test_validation_error_names_fields(client):
    with pytest.raises(E.ValidationError) as info:
        client._http.call("POST", "/v3/orders/", "Creating an order", json={"colour": "red"})
    assert info.value.fields == {"colour": ["Unknown field."]}
    assert "colour: Unknown field." in str(info.value) and "(HTTP 422)" in str(info.value)


def test_duplicate_order_id_is_a_conflict(client):
    client.create_order(name="first", order_id="dup")
    with pytest.raises(E.ConflictError) as info:
        client.create_order(name="second", order_id="dup")
    assert info.value.order_id == "dup"
    assert "already used by another order" in str(info.value)


def test_rate_limit_error_carries_retry_after():
    with Sandbox(rate_limit=1) as sb:
        client = make_client(sb, max_retries=0)
        client.create_order()
        with pytest.raises(E.RateLimitError) as info:
            client.create_order()
        assert info.value.retry_after >= 1 and info.value.status_code == 429
        with pytest.raises(E.RateLimitError):
            client.get_order("nope")


def test_server_errors_after_retries():
    with Sandbox(error_rate=1.0) as sb:
        client = make_client(sb, max_retries=2)
        with pytest.raises(E.ServerError, match=r"server error \(HTTP 503\)"):
            client.get_order("x")
        assert len(sb.request_log) == 3, "one try and two retries"
        with pytest.raises(E.ServerError):
            client.create_order(name="x")
        assert sb.orders == []


def test_connection_refused_is_a_transport_error():
    sb = Sandbox().start()
    client = make_client(sb, max_retries=1)
    sb.stop()
    with pytest.raises(E.TransportError, match="cannot reach"):
        client.create_order(name="x")
    with pytest.raises(E.TransportError):
        client.get_order("x")


def test_timeout_is_a_transport_error():
    with Sandbox(latency=0.5) as sb:
        client = make_client(sb, timeout=0.1, max_retries=0)
        with pytest.raises(E.TransportError, match=r"within 0.1 s \(timeout\)"):
            client.get_order("x")


def test_errors_are_one_line_even_for_hostile_ids(client):
    with pytest.raises(E.NotFoundError) as info:
        client.get_order("line1\u2028line2 \u202e")
    text = str(info.value)
    assert "\n" not in text and "\u202e" not in text


# -- retries and exactly-once -------------------------------------------------------------------
def test_reads_retry_through_flaky_errors():
    with Sandbox(error_rate=0.5, seed=11) as sb:
        client = make_client(sb, max_retries=8)
        sb.error_rate = 0
        oid = client.create_order(name="x")["order_id"]
        sb.error_rate = 0.5
        for _ in range(10):
            assert client.get_order(oid)["order_id"] == oid
        assert any(e.status == 503 for e in sb.request_log)


def test_create_retries_after_ambiguous_failure_without_duplicating():
    with Sandbox(ambiguous_rate=1.0) as sb:
        client = make_client(sb)
        order = client.create_order(name="once")
        assert order["name"] == "once"
        assert len(sb.orders) == 1
        posts = [e.status for e in sb.requests_to("create_order")]
        assert posts == [502, 409], "first answer lost, retry found it taken"


def test_a_taken_id_with_another_name_is_still_a_conflict(client):
    client.create_order(name="A", order_id="taken")
    with pytest.raises(E.ConflictError):
        client.create_order(name="B", order_id="taken", adopt_existing=True)
    assert client.create_order(name="A", order_id="taken", adopt_existing=True)["name"] == "A"


@pytest.mark.slow  # soak: 200 creates under faults
def test_two_hundred_creates_under_faults_make_exactly_two_hundred_orders():
    with Sandbox(ambiguous_rate=0.3, error_rate=0.2, seed=5) as sb:
        client = make_client(sb, max_retries=10)
        made = [client.create_order(name=f"order {i}") for i in range(200)]
        ids = [o["order_id"] for o in sb.orders]
        assert len(ids) == 200 and len(set(ids)) == 200
        assert {o["order_id"] for o in made} == set(ids)
        assert any(e.status == 502 for e in sb.request_log)


def test_delete_after_an_ambiguous_answer_succeeds(client, sandbox):
    oid = client.create_order(name="x")["order_id"]
    sandbox.ambiguous_rate = 1.0
    client.delete_order(oid)  # 502 (deleted), then 404 on the retry: done
    assert sandbox.orders == []
    sandbox.ambiguous_rate = 0
    with pytest.raises(E.NotFoundError):
        client.delete_order(oid)


# -- the key's secrecy -----------------------------------------------------------------------------
SENTINEL = "sk-SENTINEL-3f9a1c"


def test_key_never_appears_in_reprs_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    with Sandbox(api_key="the-right-one") as sb:
        client = make_client(sb, api_key=SENTINEL, max_retries=0)
        texts = [repr(client), str(client)]
        for call in (
            lambda: client.create_order(name="x"),
            lambda: client.get_order("none"),
            lambda: list(client.list_orders()),
        ):
            with pytest.raises(E.AutoenhanceError) as info:
                call()
            texts += [str(info.value), repr(info.value), repr(info.value.body)]
        sb.stop()
        with pytest.raises(E.TransportError) as info:
            client.get_order("x")
        texts += [str(info.value), repr(info.value)]
    texts.append(caplog.text)
    assert all(SENTINEL not in t for t in texts)


class _Redirector:
    def __init__(self, target):
        self.target = target
        self.seen_keys = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.seen_keys.append(request.headers.get("x-api-key"))
        return Response(status=302, headers={"Location": self.target + request.path})(
            environ, start_response
        )


def test_key_is_not_forwarded_on_a_cross_host_redirect():
    with Sandbox() as other:
        target = other.url.replace("127.0.0.1", "localhost")
        app = _Redirector(target)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            client = AutoenhanceClient(
                api_key=SENTINEL, base_url=f"http://127.0.0.1:{server.server_port}"
            )
            with pytest.raises(E.NotFoundError):
                client.get_order("abc")
        finally:
            server.shutdown()
        assert app.seen_keys == [SENTINEL]
        assert [e.endpoint for e in other.request_log] == ["retrieve_order"]
        assert other.request_log[0].had_api_key is False


def test_key_is_hidden_from_vars_pickle_and_verbose_tracebacks():
    import pickle
    import traceback

    with Sandbox(api_key="the-real-one") as sb:
        client = make_client(sb, api_key=SENTINEL, max_retries=0)
        assert SENTINEL not in repr(vars(client)) and SENTINEL not in str(vars(client))
        with pytest.raises(TypeError, match="not pickled"):
            pickle.dumps(client._http.auth)
        try:
            client.create_order(name="x")
        except E.AuthenticationError as exc:
            frames = traceback.TracebackException.from_exception(exc, capture_locals=True)
            text = "".join(frames.format())
        assert "AuthenticationError" in text and SENTINEL not in text


def test_api_version_is_pinned_on_api_calls_only(client, sandbox):
    oid = client.create_order()["order_id"]
    client.upload_image(oid, png_bytes())
    by_endpoint = {e.endpoint: e.api_version for e in sandbox.request_log}
    assert by_endpoint["create_order"] == "2025-05-08"
    assert by_endpoint["create_image"] == "2025-05-08"
    assert by_endpoint["upload"] is None, "the storage host gets no API headers"


def test_changing_max_retries_takes_effect_for_reads():
    with Sandbox(error_rate=1.0) as sb:
        client = make_client(sb, max_retries=3)
        client.max_retries = 0
        with pytest.raises(E.ServerError):
            client.get_order("x")
        assert len(sb.request_log) == 1, "no retry after max_retries was set to 0"


def test_a_long_retry_after_is_reported_at_once_not_waited_out():
    with Sandbox(rate_limit=0.02) as sb:  # asks for 50 s between requests
        client = make_client(sb, max_retries=3)
        start = time.perf_counter()
        with pytest.raises(E.RateLimitError) as info:
            client.create_order(name="x")
        assert info.value.retry_after > 30 and time.perf_counter() - start < 5
        assert len(sb.request_log) == 1
