"""keys.py: a key is checked when it is set, and never shown by a repr, a str, a
pickle, vars(), a header repr or an error message."""

from __future__ import annotations

import copy
import pickle

import pytest
import requests

from autoenhance_nb import errors as E
from autoenhance_nb.api._keys import ApiKey, check_key, hide_key
from autoenhance_nb.sandbox import Sandbox

KEY = "sk-SENTINEL-keys-5f3a"


def test_check_key_accepts_a_normal_key_and_strips_it():
    assert check_key(KEY) == KEY
    assert check_key(f"  {KEY}\n") == KEY, "a trailing newline from a file is harmless"


@pytest.mark.parametrize(
    "bad,problem",
    [
        ("", "it is empty"),
        ("   \t\n", "it is empty"),
        (f"{KEY}\n{KEY}", "it contains a line break"),
        (f"{KEY}\r{KEY}", "it contains a line break"),
        (f"{KEY} {KEY}", "it contains a space"),
        (f"{KEY}\t{KEY}", "it contains a space"),
        (f"{KEY}\u00a0{KEY}", "it contains a space"),
        (f"{KEY}\x00{KEY}", "not printable ASCII"),
        (f"{KEY}\x1b{KEY}", "not printable ASCII"),
        (f"{KEY}é", "not printable ASCII"),
        (f"{KEY}\u200b", "not printable ASCII"),
        (f"{KEY}\ud800", "not printable ASCII"),
    ],
)
def test_check_key_refuses_a_key_that_cannot_be_a_header_without_showing_it(bad, problem):
    with pytest.raises(E.ValidationError) as info:
        check_key(bad)
    err = info.value
    assert isinstance(err, ValueError)
    assert problem in str(err) and str(err).startswith("The API key is not valid: ")
    assert err.fields == {"api_key": [str(err).removeprefix("The API key is not valid: ")]}
    for shown in (str(err), repr(err), repr(err.fields)):
        assert KEY not in shown and "SENTINEL" not in shown
    assert "\n" not in str(err)


@pytest.mark.parametrize("bad", [None, 123, b"sk-bytes", ["sk"]])
def test_check_key_refuses_a_non_string_naming_only_its_type(bad):
    with pytest.raises(E.ValidationError, match=r"must be a string, not \w+$") as info:
        check_key(bad)
    assert "sk" not in str(info.value)


def test_api_key_repr_str_and_format_hide_it():
    key = ApiKey(KEY)
    for shown in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert KEY not in shown and shown.count("<API key hidden>") == 1


def test_api_key_refuses_to_be_pickled_or_deep_copied():
    key = ApiKey(KEY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="not pickled") as info:
            pickle.dumps(key, protocol=protocol)
        assert KEY not in str(info.value)
    with pytest.raises(TypeError):
        copy.deepcopy(key)


def test_vars_and_dir_of_an_api_key_do_not_show_it():
    key = ApiKey(KEY)
    assert KEY not in repr(vars(key)) and KEY not in repr(dir(key))


def test_api_key_checks_the_key_when_set():
    with pytest.raises(E.ValidationError, match="line break"):
        ApiKey(f"{KEY}\n{KEY}")


def test_the_header_value_is_the_key_but_its_repr_is_hidden():
    prepared = requests.Request("GET", "http://127.0.0.1/", auth=ApiKey(KEY)).prepare()
    value = prepared.headers["x-api-key"]
    assert value == KEY and isinstance(value, str)
    assert repr(value) == "'<API key hidden>'"
    assert KEY not in repr(prepared.headers) and KEY not in repr(dict(prepared.headers))


def test_the_key_reaches_the_server_in_the_header():
    with Sandbox(api_key=KEY) as sb:
        good = requests.get(sb.url + "/v3/orders/", auth=ApiKey(KEY), timeout=10)
        wrong = requests.get(sb.url + "/v3/orders/", auth=ApiKey("sk-other"), timeout=10)
    assert good.status_code == 200 and wrong.status_code == 401


@pytest.mark.parametrize(
    "value,reason",
    [
        (None, "no API key was given"),
        ("", "no API key was given"),
        ("  \n", "no API key was given"),
        (f"{KEY}\n{KEY}", "The API key is not valid: it contains a line break"),
        (f"{KEY} x", "The API key is not valid: it contains a space"),
        (42, "The API key must be a string, not int"),
        (object(), "The API key must be a string, not object"),
    ],
)
def test_hide_key_never_raises_and_gives_the_reason(value, reason):
    holder, problem = hide_key(value)
    assert holder is None and problem is not None
    assert problem.startswith(reason) and KEY not in problem


def test_hide_key_wraps_a_good_key_and_passes_a_holder_through():
    holder, problem = hide_key(f" {KEY} ")
    assert isinstance(holder, ApiKey) and problem is None
    assert KEY not in repr(holder)
    again, problem = hide_key(holder)
    assert again is holder and problem is None
