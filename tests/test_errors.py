"""errors.py: the mapping from an HTTP answer or a transport failure to one typed,
one-line error; one_line's escaping; unexpected_shape; with_message."""

from __future__ import annotations

import pickle
import socket
import threading

import pytest
import requests

from autoenhance_nb import errors as E

WHAT = "Creating the order"
HOST = "api.example.test"


def answer(status, body=None, headers=None, **kw):
    return E.error_from_response(status, body, headers or {}, WHAT, HOST, **kw)


# -- error_from_response -----------------------------------------------------------------
def test_409_with_an_order_id_is_a_conflict_naming_the_id():
    err = answer(409, {"message": "Conflict"}, order_id="kitchen-1")
    assert type(err) is E.ConflictError
    assert str(err) == (
        "Creating the order failed: order_id 'kitchen-1' is already used by another order "
        "(HTTP 409)"
    )
    assert err.status_code == 409 and err.order_id == "kitchen-1"


@pytest.mark.parametrize(
    "body",
    [
        {"message": "Validation error", "detail": {"json": {"order_id": ["already exists"]}}},
        {"message": "order_id must be unique", "detail": {}},
        {"message": "Bad", "detail": {"json": {"order_id": ["Duplicate value"]}}},
        {"message": "the order_id is taken"},
    ],
)
@pytest.mark.parametrize("status", [400, 422])
def test_a_400_or_422_saying_the_order_id_is_taken_is_a_conflict(status, body):
    err = answer(status, body, order_id="dup")
    assert type(err) is E.ConflictError
    assert "'dup' is already used" in str(err) and f"(HTTP {status})" in str(err)


def test_a_422_about_another_field_with_an_order_id_stays_a_validation_error():
    body = {"message": "Validation error", "detail": {"json": {"name": ["already exists"]}}}
    err = answer(422, body, order_id="mine")
    assert type(err) is E.ValidationError
    assert err.fields == {"name": ["already exists"]} and err.order_id == "mine"


def test_a_taken_order_id_without_an_order_id_argument_is_not_a_conflict():
    err = answer(409, {"message": "Conflict"})
    assert type(err) is E.AutoenhanceError
    assert str(err) == "Creating the order failed: Conflict (HTTP 409)"


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_authentication_errors_pointing_at_the_key(status):
    err = answer(status, {"message": "Unauthorized"}, order_id="o")
    assert type(err) is E.AuthenticationError
    assert str(err) == (
        "Creating the order failed: the API key was refused; check AUTOENHANCE_API_KEY "
        f"(HTTP {status})"
    )
    assert err.order_id == "o" and err.body == {"message": "Unauthorized"}


def test_404_is_not_found():
    err = answer(404, None, order_id="gone")
    assert type(err) is E.NotFoundError
    assert str(err) == "Creating the order failed: not found (HTTP 404)"
    assert err.status_code == 404 and err.order_id == "gone"


@pytest.mark.parametrize("status", [400, 422])
def test_field_errors_are_flattened_across_locations(status):
    body = {
        "message": "Validation error",
        "detail": {
            "json": {"name": ["Not a valid string.", "Too long."], "count": "Must be >= 0"},
            "query": {"page": ["Not an integer."]},
        },
    }
    err = answer(status, body)
    assert type(err) is E.ValidationError and isinstance(err, ValueError)
    assert err.fields == {
        "name": ["Not a valid string.", "Too long."],
        "count": ["Must be >= 0"],
        "page": ["Not an integer."],
    }
    assert str(err) == (
        "Creating the order failed: name: Not a valid string. Too long.; count: Must be >= 0; "
        f"page: Not an integer. (HTTP {status})"
    )


def test_a_validation_error_without_fields_uses_the_server_message():
    err = answer(400, {"message": "Bad\nrequest", "detail": "not a dict"})
    assert type(err) is E.ValidationError and err.fields == {}
    assert str(err) == "Creating the order failed: Bad\\nrequest (HTTP 400)"


def test_a_validation_error_without_any_message_says_not_valid():
    err = answer(422, None)
    assert str(err) == "Creating the order failed: the request was not valid (HTTP 422)"


def test_a_long_field_error_is_clipped_to_one_line():
    body = {"detail": {"json": {"name": ["x" * 500 + "\n" + "y" * 100]}}}
    err = answer(422, body)
    assert "\n" not in str(err) and len(str(err)) < 260 and "…" in str(err)
    assert err.fields["name"] == ["x" * 500 + "\n" + "y" * 100], "fields keep the full text"


@pytest.mark.parametrize(
    "header,expected",
    [
        ("7", 7.0),
        ("0.5", 0.5),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("NaN", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        (None, None),
    ],
)
def test_429_parses_retry_after_and_ignores_garbage(header, expected):
    headers = {} if header is None else {"Retry-After": header}
    err = answer(429, {"message": "Too Many Requests"}, headers, order_id="o")
    assert type(err) is E.RateLimitError and err.order_id == "o"
    assert err.retry_after == expected
    if expected is None:
        assert str(err) == f"Creating the order failed: rate limited by {HOST} (HTTP 429)"
    else:
        assert f"; retry after {expected:g} s (HTTP 429)" in str(err)


def test_parse_retry_after_never_returns_nan_or_negative():
    for value in ("nan", "-nan", "-0.001", "-1e9", "1e-9"):
        got = E.parse_retry_after(value)
        assert got is None or (got == got and got >= 0), (value, got)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_a_server_error_naming_the_host(status):
    err = answer(status, {"message": "boom\x1b[31m"})
    assert type(err) is E.ServerError
    assert str(err) == f"Creating the order failed: {HOST} had a server error (HTTP {status})"


@pytest.mark.parametrize(
    "status,body,reason,text",
    [
        (418, {"message": "I'm a teapot"}, None, "I'm a teapot"),
        (410, None, "Gone", "Gone"),
        (405, None, None, "unexpected answer"),
        (413, {"message": "too\nbig\u202e"}, None, "too\\nbig\\u202e"),
    ],
)
def test_other_statuses_are_a_base_error_with_the_servers_words(status, body, reason, text):
    err = answer(status, body, reason=reason, order_id="x")
    assert type(err) is E.AutoenhanceError
    assert str(err) == f"Creating the order failed: {text} (HTTP {status})"
    assert err.order_id == "x"


def test_repr_shows_type_status_and_message_only():
    err = answer(404, {"secret": "body"})
    assert (
        repr(err)
        == "NotFoundError('Creating the order failed: not found (HTTP 404)', status_code=404)"
    )
    assert repr(E.TransportError("no answer")) == "TransportError('no answer')"


# -- one_line ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "char,shown",
    [
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\x00", "\\x00"),
        ("\x1b", "\\x1b"),
        ("\x7f", "\\x7f"),
        ("\x85", "\\x85"),
        ("\u202e", "\\u202e"),
        ("\u202a", "\\u202a"),
        ("\u2066", "\\u2066"),
        ("\u2069", "\\u2069"),
        ("\u200b", "\\u200b"),
        ("\u200d", "\\u200d"),
        ("\u200e", "\\u200e"),
        ("\u061c", "\\u061c"),
        ("\ufeff", "\\ufeff"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
        ("\ud800", "\\ud800"),
        ("\udfff", "\\udfff"),
    ],
)
def test_one_line_shows_hidden_characters_escaped(char, shown):
    out = E.one_line(f"a{char}b")
    assert out == f"a{shown}b"
    assert out.isprintable() and out.encode("utf-8")


def test_one_line_keeps_ordinary_unicode():
    assert E.one_line("Küche – 🏠 東京") == "Küche – 🏠 東京"


def test_one_line_clips_long_text_to_the_limit():
    assert E.one_line("x" * 80) == "x" * 80
    out = E.one_line("x" * 81)
    assert out == "x" * 79 + "…" and len(out) == 80
    assert E.one_line("abcdef", limit=4) == "abc…"


def test_one_line_clips_after_escaping():
    out = E.one_line("\n" * 100, limit=10)
    assert len(out) == 10 and out.endswith("…") and "\n" not in out


def test_one_line_takes_any_object():
    assert E.one_line(None) == "None" and E.one_line(42) == "42"
    assert E.one_line(ValueError("bad\nvalue")) == "bad\\nvalue"


# -- unexpected_shape -------------------------------------------------------------------
@pytest.mark.parametrize(
    "value,kind",
    [
        (None, "null"),
        ([1, 2], "a list"),
        ("text", "a string"),
        (3, "int"),
        (True, "bool"),
        ({"b": 1, "a": 2}, "an object with keys ['a', 'b']"),
    ],
)
def test_unexpected_shape_names_what_came(value, kind):
    err = E.unexpected_shape("Listing orders", value, "an object")
    assert type(err) is E.ServerError and err.status_code is None
    assert (
        str(err) == f"Listing orders failed: the API answered {kind} where an object was expected"
    )


def test_unexpected_shape_escapes_and_clips_hostile_keys():
    value = {f"k\n{i}\u202e" + "z" * 30: i for i in range(20)}
    message = str(E.unexpected_shape("Getting the order", value, "an order"))
    assert "\n" not in message and "\u202e" not in message and "…" in message
    assert message.endswith("where an order was expected")


# -- transport_error, with real failures ---------------------------------------------------
def _fail(url, timeout):
    with pytest.raises(requests.RequestException) as info:
        requests.get(url, timeout=timeout)
    return info.value


def test_a_refused_port_is_unreachable_connection_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    exc = _fail(f"http://127.0.0.1:{port}/v3/orders/", 2)
    err = E.transport_error(exc, "Listing orders", f"127.0.0.1:{port}", 2)
    assert type(err) is E.TransportError
    assert str(err) == f"Listing orders failed: cannot reach 127.0.0.1:{port} (connection refused)"
    assert err.connected is False and err.status_code is None


def test_a_server_that_never_answers_is_a_read_timeout_after_connecting():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)  # the kernel completes the handshake; nobody ever answers
        port = s.getsockname()[1]
        exc = _fail(f"http://127.0.0.1:{port}/v3/orders/", (2, 0.2))
    assert isinstance(exc, requests.exceptions.ReadTimeout)
    err = E.transport_error(exc, "Listing orders", "h", 0.2)
    assert str(err) == "Listing orders failed: no answer from h within 0.2 s (timeout)"
    assert err.connected is True


def test_an_unknown_host_name_is_unreachable():
    exc = _fail("http://nonexistent.invalid/v3/orders/", 5)
    err = E.transport_error(exc, "Listing orders", "nonexistent.invalid", 5)
    assert str(err) == "Listing orders failed: cannot reach nonexistent.invalid (unknown host name)"
    assert err.connected is False


def test_a_server_that_hangs_up_is_a_dropped_connection():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]

        def hang_up():
            conn, _ = s.accept()
            conn.recv(65536)
            conn.close()

        t = threading.Thread(target=hang_up, daemon=True)
        t.start()
        exc = _fail(f"http://127.0.0.1:{port}/", 2)
        t.join(5)
    err = E.transport_error(exc, "Getting the order", "h", 2)
    assert (
        str(err)
        == "Getting the order failed: the connection to h dropped (the server closed the connection)"
    )
    assert err.connected is True


def test_a_request_that_cannot_be_built_names_the_exception_type():
    exc = _fail("http://[::1", 2)
    err = E.transport_error(exc, "Listing orders", "h", 2)
    assert str(err) == "Listing orders failed: the request could not be built (InvalidURL)"
    assert err.connected is False


def test_transport_messages_never_carry_the_url_or_query():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    exc = _fail(f"http://127.0.0.1:{port}/upload?token=SECRET-TOKEN", 2)
    assert "SECRET-TOKEN" in str(exc), "requests' own message has it"
    err = E.transport_error(exc, "Uploading", "h", 2)
    assert "SECRET-TOKEN" not in str(err) and "\n" not in str(err)


# -- with_message -----------------------------------------------------------------------
def test_with_message_keeps_type_status_body_order_id_and_retry_after():
    err = answer(429, {"message": "slow"}, {"Retry-After": "4"}, order_id="o-1")
    clone = err.with_message("Batch stopped: rate limited")
    assert type(clone) is E.RateLimitError and clone is not err
    assert str(clone) == clone.message == "Batch stopped: rate limited"
    assert clone.args == ("Batch stopped: rate limited",)
    assert clone.retry_after == 4.0 and clone.body == {"message": "slow"}
    assert clone.status_code == 429 and clone.order_id == "o-1"
    assert (
        str(err) == f"Creating the order failed: rate limited by {HOST}; retry after 4 s (HTTP 429)"
    )


def test_with_message_keeps_validation_fields_and_transport_connected():
    v = answer(422, {"detail": {"json": {"name": ["bad"]}}}).with_message("other")
    assert type(v) is E.ValidationError and v.fields == {"name": ["bad"]}
    t = E.TransportError("x", connected=False, order_id="o").with_message("y")
    assert type(t) is E.TransportError and t.connected is False and t.order_id == "o"
    assert str(t) == "y"


def test_errors_survive_pickling_with_their_message():
    err = answer(404, None, order_id="o")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is E.NotFoundError and str(back) == str(err)


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity"])
def test_an_infinite_retry_after_is_no_retry_after(value):
    assert E.parse_retry_after(value) is None


def test_one_line_can_clip_in_the_middle_keeping_a_paths_file_name():
    path = "/" + "deep/" * 30 + "IMG_0001-*.jpg"
    out = E.one_line(path, middle=True)
    assert len(out) == 80
    assert out.startswith("/deep/") and out.endswith("/IMG_0001-*.jpg") and "…" in out
    assert E.one_line("short", middle=True) == "short"
