"""The form's issue: a key left in the password field, exports outside the export
folder, going live and back, an empty order name, narrow windows and static notebooks.
Real sandboxes over HTTP; widgets driven with .value, .click() and wait()."""

from __future__ import annotations

import json
from pathlib import Path

import ipywidgets as w
import pytest
from IPython.core.formatters import DisplayFormatter
from ipywidgets.embed import dependency_state

import autoenhance_nb as ae
from autoenhance_nb import OrderForm
from autoenhance_nb.sandbox import Sandbox

SENTINEL = "sk-SENTINEL-issue-7c31"


@pytest.fixture(autouse=True)
def _export_folder(request, tmp_path, monkeypatch):
    """For a test with a form (conftest's), the working directory, its default export
    folder, is tmp_path/exports; autouse, so it is set before the form is made."""
    if "form" in request.fixturenames:
        (tmp_path / "exports").mkdir()
        monkeypatch.chdir(tmp_path / "exports")


def create(form, name):
    form.name.value = name
    form.create_button.click()
    form.wait()


def all_states(form) -> str:
    """Everything the widget state of the form and every child could save."""
    texts = [json.dumps(dependency_state(form), default=str)]
    todo = [form]
    while todo:
        widget = todo.pop()
        texts.append(json.dumps(widget.get_state(), default=str))
        todo.extend(getattr(widget, "children", ()))
    return "\n".join(texts)


# -- 1. a key typed but never submitted -----------------------------------------------------
def test_a_key_left_in_the_field_is_moved_out_of_the_widget_state_at_once(form, sandbox):
    form.api_key.value = SENTINEL  # typed, then the user tabs away: no click
    assert form.api_key.value == ""
    assert SENTINEL not in all_states(form)
    assert SENTINEL not in form.message.value
    assert "kept in memory" in form.message.value
    assert sandbox.request_log == []


def test_the_held_key_is_what_use_live_api_uses(tracker, monkeypatch):
    with Sandbox(api_key=SENTINEL) as live:
        form = OrderForm(tracker)
        form.api_key.value = SENTINEL
        monkeypatch.setenv("AUTOENHANCE_BASE_URL", live.url)
        assert form.go_live()
        form.wait()
        assert form.tracker.client.base_url == live.url, form.message.value
        create(form, "Live one")
        assert [o["name"] for o in live.orders] == ["Live one"]
        assert SENTINEL not in all_states(form)
        form.close()


def test_an_unusable_key_is_cleared_and_explained(form):
    form.api_key.value = "two words"
    assert form.api_key.value == ""
    assert "contains a space" in form.message.value and "two words" not in form.message.value
    assert not form.go_live()
    assert "Paste your Autoenhance API key" in form.message.value


# -- 2. exports stay in the export folder ---------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "../outside.csv",
        "..",
        "/tmp/absolute-ae.csv",
        "~/home.csv",
        "~",
        "sub/dir.csv",
        "sub\\dir.csv",
        "C:evil.csv",
        ".hidden.csv",
        "",
        "   ",
    ],
)
def test_export_refuses_anything_but_a_plain_file_name(form, tmp_path, name):
    create(form, "One")
    form.filename.value = name
    form.export_button.click()
    form.wait()
    assert "ae-msg-error" in form.message.value
    assert "\n" not in form.message.value and str(tmp_path) not in form.message.value
    assert "name" in form.message.value
    assert form.download.value == ""
    assert list((tmp_path / "exports").iterdir()) == []
    assert not (tmp_path / "outside.csv").exists()
    assert not Path("/tmp/absolute-ae.csv").exists()


def test_export_writes_a_plain_name_into_the_export_folder_and_adds_csv(form, tmp_path):
    create(form, "One")
    form.filename.value = "  my orders  "
    form.export_button.click()
    form.wait()
    assert (tmp_path / "exports" / "my orders.csv").is_file()
    assert "Exported 1 order to my orders.csv" in form.message.value
    assert str(tmp_path) not in form.message.value + form.download.value
    assert "Download my orders.csv (1 row)" in form.download.value


def test_the_notebook_author_chooses_the_export_folder(tracker, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    form = OrderForm(tracker, export_dir=tmp_path / "chosen")
    (tmp_path / "chosen").mkdir()
    form.filename.value = "here"
    form.export_button.click()
    form.wait()
    assert (tmp_path / "chosen" / "here.csv").is_file() and "to here.csv" in form.message.value
    assert not (tmp_path / "here.csv").exists()
    form.close()


def test_a_symlink_out_of_the_export_folder_is_refused(form, tmp_path):
    (tmp_path / "exports" / "link.csv").symlink_to(tmp_path / "target.csv")
    form.filename.value = "link.csv"
    form.export_button.click()
    form.wait()
    assert not (tmp_path / "target.csv").exists()
    assert "ae-msg-error" in form.message.value and str(tmp_path) not in form.message.value


def test_a_failed_export_clears_the_old_link_and_hides_the_server_path(form, tmp_path):
    create(form, "One")
    form.export_button.click()
    form.wait()
    assert "Download orders.csv" in form.download.value
    form.export_dir = tmp_path / "gone"
    form.export_button.click()
    form.wait()
    assert "Could not export orders.csv" in form.message.value
    assert "No such folder" in form.message.value
    assert str(tmp_path) not in form.message.value
    assert form.download.value == ""


# -- 3. going live and back -------------------------------------------------------------------
def test_a_wrong_key_leaves_a_plain_tracker_as_it_was(form, sandbox, monkeypatch):
    with Sandbox(api_key="the-right-key") as live:
        create(form, "Kept")
        before = form.tracker.client
        monkeypatch.setenv("AUTOENHANCE_BASE_URL", live.url)
        form.api_key.value = SENTINEL
        form.live_button.click()
        form.wait()
    assert form.tracker.client is before and len(form.tracker) == 1
    assert "AuthenticationError" in form.message.value or "refused" in form.message.value
    assert "\n" not in form.message.value and SENTINEL not in form.message.value
    assert form.sandbox_button.layout.display == "none"
    assert form.api_key.layout.display is None


def test_live_and_back_with_a_plain_tracker(form, monkeypatch):
    create(form, "Sandbox order")
    form.export_button.click()
    form.wait()
    assert form.download.value
    sandbox_client = form.tracker.client
    with Sandbox(api_key=SENTINEL) as live:
        monkeypatch.setenv("AUTOENHANCE_BASE_URL", live.url)
        form.api_key.value = SENTINEL
        form.live_button.click()
        form.wait()
        assert form.tracker.client.base_url == live.url
        assert form.download.value == "", "the stale link of the old table is gone"
        assert form.sandbox_button.layout.display is None
        assert form.api_key.layout.display == "none" and form.live_button.layout.display == "none"
        form.sandbox_button.click()
        form.wait()
    assert form.tracker.client is sandbox_client
    assert list(form.tracker.df["name"]) == ["Sandbox order"]
    assert form.sandbox_button.layout.display == "none"
    assert form.api_key.layout.display is None


def test_live_and_back_with_the_session(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    ae.reset_session()
    try:
        tracker = ae.session(quiet=True)
        form = OrderForm()
        assert form.tracker is tracker and tracker.environment == "sandbox"
        create(form, "Sandbox order")
        form.export_button.click()
        form.wait()
        with Sandbox(api_key=SENTINEL) as live:
            monkeypatch.setenv("AUTOENHANCE_BASE_URL", live.url)
            form.api_key.value = "sk-wrong"
            form.live_button.click()
            form.wait()
            assert "refused" in form.message.value or "Authentication" in form.message.value
            assert "\n" not in form.message.value
            assert tracker.environment == "sandbox" and len(tracker) == 1
            assert form.download.value, "nothing switched, the link stays"
            form.api_key.value = SENTINEL
            form.live_button.click()
            form.wait()
            assert tracker.client.base_url == live.url and len(tracker) == 0
            assert form.download.value == ""
            assert form.sandbox_button.layout.display is None
            create(form, "Live order")
            assert [o["name"] for o in live.orders] == ["Live order"]
            form.sandbox_button.click()
            form.wait()
        assert tracker.environment == "sandbox"
        assert list(tracker.df["name"]) == ["Sandbox order"]
        assert form.sandbox_button.layout.display == "none"
        form.close()
    finally:
        ae.reset_session()


# -- 4. an empty order name -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_refused_next_to_the_field(form, sandbox, name):
    form.name.value = name
    form.create_button.click()
    form.wait()
    assert sandbox.request_log == [] and len(form.tracker) == 0
    assert "name" in form.name_error.value and "ae-msg-error" in form.name_error.value
    form.name.value = "Now named"
    assert form.name_error.value == ""
    form.create_button.click()
    form.wait()
    assert [o["name"] for o in sandbox.orders] == ["Now named"]


# -- 5. narrow windows ------------------------------------------------------------------------
def test_rows_wrap_and_buttons_have_no_fixed_width(form):
    rows = [c for c in form.children if isinstance(c, w.HBox)]
    assert len(rows) >= 4  # name, preset, buttons, export (the key's row is folded)
    for row in rows:
        assert row.layout.flex_flow == "row wrap"
        for child in row.children:
            if isinstance(child, w.Button | w.ToggleButton):
                assert child.layout.width == "auto", child.description
            assert not (child.layout.width or "").endswith("px"), child


# -- 6. saved and static notebooks --------------------------------------------------------------
def test_the_form_shows_something_useful_without_a_kernel(form):
    create(form, "Static <one>")
    data, _meta = DisplayFormatter().format(form)
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == form.model_id
    text = data["text/plain"]
    assert text.startswith("Autoenhance order form (needs a live kernel): 1 order")
    assert "\n" not in text and len(text) < 200
    page = data["text/html"]
    assert "needs a live kernel" in page
    assert "Static &lt;one&gt;" in page and "autoenhance-orders" in page
