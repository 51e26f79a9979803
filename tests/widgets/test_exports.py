"""exports.py: visitors name only plain files inside the one export folder; paths are
hidden from them; small files get an in-page download link."""

from __future__ import annotations

import base64
import os
import re

import markupsafe
import pytest

from autoenhance_nb.widgets._exports import (
    BAD_NAME,
    DOWNLOAD_LINK_MAX_BYTES,
    ExportFolder,
    download_link,
    plain_name,
)


# -- plain_name ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,suffix,name",
    [
        ("orders", ".csv", "orders.csv"),
        ("orders.csv", ".csv", "orders.csv"),
        ("Orders.CSV", ".csv", "Orders.CSV"),
        ("  orders  ", ".csv", "orders.csv"),
        ("my orders 2024", ".csv", "my orders 2024.csv"),
        ("Küche 🏠", ".csv", "Küche 🏠.csv"),
        ("a..b", ".csv", "a..b.csv"),
        ("photo", ".png", "photo.png"),
        ("notes.txt", "", "notes.txt"),
        ("orders.csv.bak", ".csv", "orders.csv.bak.csv"),
    ],
)
def test_plain_name_accepts_a_plain_file_name(text, suffix, name):
    assert plain_name(text, suffix) == (name, None)


@pytest.mark.parametrize(
    "text",
    [
        "../orders.csv",
        "..",
        ".",
        ".hidden.csv",
        "sub/orders.csv",
        "/etc/passwd",
        "sub\\orders.csv",
        "~/orders.csv",
        "~root",
        "C:orders.csv",
        "nul\0.csv",
        "tab\there.csv",
        "bidi\u202e.csv",
        "line\nbreak.csv",
    ],
)
def test_plain_name_refuses_paths_and_hidden_or_odd_names(text):
    assert plain_name(text) == (None, BAD_NAME)


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_plain_name_asks_for_a_name_when_empty(text):
    assert plain_name(text) == (None, "Give the file a name first")


# -- ExportFolder ----------------------------------------------------------------------------
def test_target_is_the_name_inside_the_folder(tmp_path):
    folder = ExportFolder(tmp_path)
    assert folder.target("orders.csv") == tmp_path.resolve() / "orders.csv"
    (tmp_path / "orders.csv").write_text("old")
    assert folder.target("orders.csv") == tmp_path.resolve() / "orders.csv", "may overwrite"


def test_the_default_folder_is_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ExportFolder().target("a.csv") == tmp_path.resolve() / "a.csv"


def test_target_refuses_a_symlink_out_of_the_folder(tmp_path):
    inside, outside = tmp_path / "exports", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (inside / "orders.csv").symlink_to(outside / "orders.csv")
    (inside / "dangling.csv").symlink_to(tmp_path / "missing" / "x.csv")
    (inside / "link-dir").symlink_to(outside, target_is_directory=True)
    folder = ExportFolder(inside)
    for name in ("orders.csv", "dangling.csv", "link-dir"):
        with pytest.raises(PermissionError, match=f"^{name} points outside the export folder$"):
            folder.target(name)
    assert list(outside.iterdir()) == []


def test_target_refuses_even_a_symlink_that_stays_inside(tmp_path):
    (tmp_path / "real.csv").write_text("x")
    (tmp_path / "alias.csv").symlink_to(tmp_path / "real.csv")
    with pytest.raises(PermissionError):
        ExportFolder(tmp_path).target("alias.csv")


def test_target_refuses_a_name_that_climbs_out(tmp_path):
    (tmp_path / "exports").mkdir()
    folder = ExportFolder(tmp_path / "exports")
    for name in ("../orders.csv", "sub/../../orders.csv", "/tmp/orders.csv"):
        with pytest.raises(PermissionError):
            folder.target(name)


def test_a_folder_reached_through_a_symlink_still_works(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real, target_is_directory=True)
    assert ExportFolder(tmp_path / "via").target("a.csv") == real.resolve() / "a.csv"


def test_hide_replaces_the_folders_path_both_as_given_and_resolved(tmp_path):
    real = tmp_path / "real-exports"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    folder = ExportFolder(link)
    text = f"[Errno 13] Permission denied: '{link}/a.csv' (really '{real.resolve()}/a.csv')"
    hidden = folder.hide(text)
    assert hidden == (
        "[Errno 13] Permission denied: 'the export folder/a.csv' (really 'the export folder/a.csv')"
    )
    assert str(tmp_path) not in hidden


def test_hide_leaves_other_text_alone(tmp_path):
    assert ExportFolder(tmp_path).hide("Saved 3 orders") == "Saved 3 orders"


# -- download_link ---------------------------------------------------------------------------
def test_a_small_file_gets_a_data_url_with_its_exact_bytes(tmp_path):
    path = tmp_path / "orders.csv"
    content = "order_id,name\r\nß,🏠\r\n".encode()
    path.write_bytes(content)
    link = download_link(path, "orders.csv")
    match = re.fullmatch(
        r'<a class="ae-download-link" download="orders\.csv" '
        r'href="data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]*)">Download orders\.csv</a>',
        link,
    )
    assert match, link
    assert base64.b64decode(match.group(1)) == content


def test_the_link_escapes_the_label_and_file_name(tmp_path):
    path = tmp_path / 'a"b<c>.csv'
    path.write_bytes(b"x")
    link = download_link(path, "<script>alert(1)</script>", mime="image/png")
    assert "<script>" not in link and "&lt;script&gt;" in link
    assert f'download="{markupsafe.escape(path.name)}"' in link and 'download="a"' not in link
    assert 'href="data:image/png;base64,' in link


def test_a_file_at_the_limit_still_gets_a_link(tmp_path):
    path = tmp_path / "limit.csv"
    with open(path, "wb") as fh:
        fh.truncate(DOWNLOAD_LINK_MAX_BYTES)
    assert download_link(path, "limit.csv").startswith('<a class="ae-download-link"')


def test_a_big_file_gets_a_note_instead_of_a_link(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "wb") as fh:
        fh.truncate(DOWNLOAD_LINK_MAX_BYTES * 3 + 1)  # sparse: nothing is written
    note = download_link(path, "big <1>.csv")
    assert note == "<span>big &lt;1&gt;.csv is 30 MB: open it from the file browser</span>"
    assert os.path.getsize(path) > DOWNLOAD_LINK_MAX_BYTES


def test_hide_replaces_the_longer_path_first(tmp_path):
    inner = tmp_path / "exports"
    inner.mkdir()
    link = tmp_path / "exp"  # a shorter path that is the start of the real one's text
    link.symlink_to(inner)
    folder = ExportFolder(link)
    text = f"cannot write {inner}/x.csv or {link}/y.csv"
    assert folder.hide(text) == "cannot write the export folder/x.csv or the export folder/y.csv"
