"""cells.py: reading a %%autoenhance_order cell (CSV quoting, comments, CRLF, hidden
line separators refused with their line numbers, stable derived ids), argument checks
and file globs. Nothing here sends a request."""

from __future__ import annotations

import os

import pytest

from autoenhance_nb.magic._cells import (
    DERIVED_PREFIX,
    MagicError,
    check_export_path,
    check_var,
    derived_order_id,
    match_files,
    parse_batch,
)


def items_of(text):
    items, problems = parse_batch(text)
    assert problems == []
    return [(n, i["name"], i["order_id"]) for n, i in items]


# -- parse_batch -------------------------------------------------------------------------------
def test_names_and_ids_with_blank_lines_and_comments():
    text = "\n# a comment\nKitchen, k-1\n\n   # indented comment\n  Hall  \n,only-id\n"
    assert items_of(text) == [
        (3, "Kitchen", "k-1"),
        (6, "Hall", derived_order_id("Hall", 0)),
        (7, None, "only-id"),
    ]


def test_csv_quoting_keeps_commas_and_quotes_in_names():
    text = '"Smith, John",s-1\n"say ""hi""",q-1\n  "spaced" , "id 2" '
    assert items_of(text) == [
        (1, "Smith, John", "s-1"),
        (2, 'say "hi"', "q-1"),
        (3, "spaced", "id 2"),
    ]


def test_a_hash_inside_a_name_is_not_a_comment():
    assert items_of("Flat #3, f-3") == [(1, "Flat #3", "f-3")]


def test_crlf_line_ends_give_the_same_items_as_lf():
    lf = "a\nb,id-b\n\n# c\nd"
    assert items_of(lf.replace("\n", "\r\n")) == items_of(lf)
    assert all("\r" not in (name or "") for _, name, _ in items_of(lf.replace("\n", "\r\n")))


def test_an_empty_second_field_means_a_derived_id():
    assert items_of("Hall,") == [(1, "Hall", derived_order_id("Hall", 0))]


def test_three_fields_are_refused_with_the_line_number():
    items, problems = parse_batch("ok\nJohn, Smith, x-1\n")
    assert [n for n, _ in items] == [1]
    assert problems == [
        (2, "expected `name` or `name,order_id` (quote a name that contains commas)")
    ]


def test_an_unclosed_quote_is_refused_not_guessed():
    items, problems = parse_batch('ok\n"Smith, John,s-1\n')
    assert [n for n, _ in items] == [1]
    assert [n for n, _ in problems] == [2]
    assert problems[0][1].startswith("cannot read the line as CSV")


@pytest.mark.parametrize(
    "sep,name",
    [
        ("\x0b", "a vertical tab"),
        ("\x0c", "a form feed"),
        ("\x85", "U+0085 (NEL)"),
        ("\u2028", "U+2028 (line separator)"),
        ("\u2029", "U+2029 (paragraph separator)"),
        ("\x1c", "U+001C"),
        ("\x1d", "U+001D"),
        ("\x1e", "U+001E"),
    ],
)
def test_a_hidden_line_separator_is_refused_with_its_line_number(sep, name):
    text = f"first\nsecond{sep}third,x-1\nfourth"
    assert len(text.splitlines()) == 4, "str.splitlines would have split it"
    items, problems = parse_batch(text)
    assert [(n, i["name"]) for n, i in items] == [(1, "first"), (3, "fourth")]
    assert problems == [
        (2, f"contains {name}, a hidden line break (pasted text?); retype the line")
    ]


def test_a_lone_cr_never_splits_a_line_into_two_orders():
    items, problems = parse_batch("a\rb\nc")
    assert [(n, i["name"]) for n, i in items] == [(2, "c")]
    assert [n for n, _ in problems] == [1] and "cannot read the line" in problems[0][1]


def test_derived_ids_are_stable_and_count_repeated_names():
    text = "Hall\nKitchen\nHall\n\nHall"
    first = items_of(text)
    assert first == items_of(text), "the same cell gives the same ids"
    ids = [oid for _, _, oid in first]
    assert ids == [
        derived_order_id("Hall", 0),
        derived_order_id("Kitchen", 0),
        derived_order_id("Hall", 1),
        derived_order_id("Hall", 2),
    ]
    assert len(set(ids)) == 4
    # a line added above another name does not change the others' ids
    assert items_of("Garden\n" + text)[1:] == [(n + 1, a, b) for n, a, b in first]


def test_a_typed_id_does_not_count_as_an_occurrence():
    ids = [oid for _, _, oid in items_of("Hall,typed\nHall")]
    assert ids == ["typed", derived_order_id("Hall", 0)]


def test_derived_order_id_shape():
    oid = derived_order_id("Kitchen – 🏠", 0)
    assert oid.startswith(DERIVED_PREFIX) and len(oid) == len(DERIVED_PREFIX) + 29
    assert oid == "nb-" + oid[3:] and all(c in "0123456789abcdef" for c in oid[3:])
    assert derived_order_id(None, 0) == derived_order_id("", 0)
    assert derived_order_id("a", 0) != derived_order_id("a", 1) != derived_order_id("b", 0)
    assert derived_order_id("a\x1f1", 0) != derived_order_id("a", 10)


# -- argument checks --------------------------------------------------------------------------
def test_check_export_path_accepts_a_file_in_an_existing_folder(tmp_path):
    check_export_path(None)
    check_export_path(str(tmp_path / "orders.csv"))
    (tmp_path / "exists.csv").write_text("x")
    check_export_path(str(tmp_path / "exists.csv"))


@pytest.mark.parametrize("path", ["", "   "])
def test_check_export_path_refuses_an_empty_name(path):
    with pytest.raises(MagicError, match=r"^--export needs a file name, e.g. --export orders.csv$"):
        check_export_path(path)


def test_check_export_path_refuses_a_folder(tmp_path):
    with pytest.raises(MagicError, match="is a folder; give a file name") as info:
        check_export_path(str(tmp_path))
    assert os.path.join(str(tmp_path), "orders.csv") in str(info.value)
    with pytest.raises(MagicError, match="is a folder"):
        check_export_path(str(tmp_path / "not-yet") + "/")


def test_check_export_path_refuses_a_missing_folder(tmp_path):
    with pytest.raises(MagicError, match=r"no such folder '.*missing'$"):
        check_export_path(str(tmp_path / "missing" / "orders.csv"))


def test_check_export_path_escapes_what_it_shows():
    with pytest.raises(MagicError) as info:
        check_export_path("/no/such\n\u202edir/orders.csv")
    assert "\n" not in str(info.value) and "\u202e" not in str(info.value)


@pytest.mark.parametrize("var", [None, "orders", "_x1", "résumé"])
def test_check_var_accepts_identifiers(var):
    check_var(var)


@pytest.mark.parametrize("var", ["", "1x", "my-var", "a b", "x\n"])
def test_check_var_refuses_what_is_not_a_variable_name(var):
    with pytest.raises(MagicError, match=r"^-o/--out needs a Python variable name, not '") as info:
        check_var(var)
    assert "\n" not in str(info.value)


def test_a_magic_error_renders_as_one_line():
    err = MagicError("No files match 'x'")
    assert err._render_traceback_() == ["MagicError: No files match 'x'"]


# -- globs ----------------------------------------------------------------------------------
def test_match_files_sorts_and_recurses(tmp_path):
    for rel in ("b.png", "a.png", "sub/c.png", "sub/deep/d.png", "e.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert match_files(str(tmp_path / "*.png")) == [
        str(tmp_path / "a.png"),
        str(tmp_path / "b.png"),
    ]
    deep = match_files(str(tmp_path / "**" / "*.png"))
    assert deep == sorted(deep) and len(deep) == 4


def test_match_files_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "shot.png").write_bytes(b"x")
    assert match_files("~/*.png") == [str(tmp_path / "shot.png")]


def test_a_glob_matching_nothing_is_a_usage_error(tmp_path):
    with pytest.raises(MagicError, match=r"^No files match '.*nothing-\*\.png'$"):
        match_files(str(tmp_path / "nothing-*.png"))


def test_a_long_glob_matching_nothing_still_names_its_file_pattern(tmp_path):
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 6)
    with pytest.raises(MagicError, match=r"^No files match '.{20,}….*/nothing-\*\.png'$"):
        match_files(str(deep / "nothing-*.png"))
