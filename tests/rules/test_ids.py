"""ids.py: the one rule for order and image ids."""

from __future__ import annotations

import pytest

from autoenhance_nb import errors as E
from autoenhance_nb.rules._ids import (
    MAX_ID_LENGTH,
    order_id_problem,
    validate_image_id,
    validate_order_id,
)


@pytest.mark.parametrize(
    "order_id",
    [
        "kitchen-1",
        "a",
        "x" * MAX_ID_LENGTH,
        " padded ",
        "with space",
        "Küche–🏠",
        "a/b",
        "...",
        ".hidden",
        "\u202eevil",  # bidi characters are allowed, and shown escaped wherever printed
    ],
)
def test_a_valid_order_id_is_returned_unchanged(order_id):
    assert order_id_problem(order_id) is None
    assert validate_order_id(order_id) is order_id


@pytest.mark.parametrize(
    "order_id,problem",
    [
        (None, "must be a string, not NoneType"),
        (12, "must be a string, not int"),
        (b"bytes", "must be a string, not bytes"),
        ("", "must not be empty or only whitespace"),
        ("  \t ", "must not be empty or only whitespace"),
        ("x" * (MAX_ID_LENGTH + 1), f"must be at most {MAX_ID_LENGTH} characters (got 256)"),
        ("a\nb", "must not contain control characters"),
        ("a\x00", "must not contain control characters"),
        ("a\x7f", "must not contain control characters"),
        ("a\x85", "must not contain control characters"),
        ("a\x9f", "must not contain control characters"),
        ("a\ud800", "must not contain lone surrogates"),
        (".", "must not be '.' or '..'"),
        ("..", "must not be '.' or '..'"),
    ],
)
def test_an_invalid_order_id_is_refused_with_its_reason(order_id, problem):
    assert order_id_problem(order_id) == problem
    with pytest.raises(E.ValidationError) as info:
        validate_order_id(order_id)
    assert str(info.value) == f"Invalid order_id: {problem}"
    assert info.value.fields == {"order_id": [problem]}
    assert info.value.status_code is None, "refused before any request"


def test_the_length_limit_counts_characters_not_bytes():
    assert order_id_problem("é" * MAX_ID_LENGTH) is None
    assert order_id_problem("🏠" * MAX_ID_LENGTH) is None


def test_image_ids_follow_the_same_rule_under_their_own_field_name():
    assert validate_image_id("img-1") == "img-1"
    with pytest.raises(E.ValidationError) as info:
        validate_image_id("..")
    assert str(info.value) == "Invalid image_id: must not be '.' or '..'"
    assert info.value.fields == {"image_id": ["must not be '.' or '..'"]}


def test_the_field_name_can_be_given():
    with pytest.raises(E.ValidationError, match=r"^Invalid parent_id: must not be empty"):
        validate_order_id("", "parent_id")
