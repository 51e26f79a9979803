"""OrderForm without a front end (as ipywidgets' own tests do): set .value, .click(),
then wait for the background action. Talks HTTP to a running sandbox."""

from __future__ import annotations

import base64
import json
import re
import time

import pandas as pd
import pytest
from ipywidgets.embed import dependency_state

import autoenhance_nb as ae
from autoenhance_nb import AutoenhanceClient, OrderForm, OrderTracker
from autoenhance_nb.sandbox import Sandbox
from autoenhance_nb.widgets._options import JsonField

from ..helpers import EVERY_OPTION, chosen_files, picture, processing_held, until, upload_photo

SENTINEL = "sk-SENTINEL-form-5be0"


def create(form, name, order_id=""):
    form.name.value = name
    form.order_id.value = order_id
    form.create_button.click()
    form.wait()


def test_form_has_the_fields_buttons_and_badge(form):
    assert form.name.description == "Order name"
    assert form.order_id.description == "Order ID (optional)"
    labels = [
        form.create_button.description,
        form.refresh_button.description,
        form.export_button.description,
    ]
    assert labels == ["Create order", "Refresh statuses", "Export CSV"]
    assert "SANDBOX" in form.header.value and "127.0.0.1" in form.header.value
    assert "0</b> orders" in form.table.value


def test_create_success_clears_the_fields_and_shows_the_order(form, sandbox):
    create(form, "Kitchen – 12 Rue Oberkampf", "kitchen-12")
    assert [o["order_id"] for o in sandbox.orders] == ["kitchen-12"]
    assert "Created order kitchen-12" in form.message.value and "ae-msg-ok" in form.message.value
    assert form.name.value == "" and form.order_id.value == ""
    assert "Kitchen – 12 Rue Oberkampf" in form.table.value
    assert form.tracker.df.loc[0, "source"] == "form"
    assert form.create_button.description == "Create order"
    assert not form.create_button.disabled


def test_invalid_order_id_is_shown_and_blocks_create(form, sandbox):
    form.name.value = "Hall"
    form.order_id.value = "   "
    assert "must not be empty" in form.order_id_error.value
    assert form.create_button.disabled
    form.create_button.click()
    form.wait()
    assert sandbox.request_log == []
    form.order_id.value = "x" * 256
    assert "at most 255 characters" in form.order_id_error.value
    form.order_id.value = "hall-1"
    assert form.order_id_error.value == "" and not form.create_button.disabled


def test_conflict_keeps_the_name_for_a_retry(form, sandbox):
    create(form, "First", "same-id")
    create(form, "Second", "same-id")
    assert "already used by another order" in form.message.value
    assert "ae-msg-error" in form.message.value
    assert form.name.value == "Second" and form.order_id.value == "same-id"
    form.order_id.value = "other-id"
    form.create_button.click()
    form.wait()
    assert sorted(o["order_id"] for o in sandbox.orders) == ["other-id", "same-id"]


def test_wrong_key_shows_a_clear_error():
    with Sandbox(api_key="real") as sb:
        tracker = OrderTracker(AutoenhanceClient(api_key=SENTINEL, base_url=sb.url))
        form = OrderForm(tracker)
        create(form, "x")
        assert "API key was refused" in form.message.value
        assert SENTINEL not in form.message.value and form.name.value == "x"
        form.close()


@pytest.mark.own_sandbox  # stops it
def test_server_down_shows_a_clear_error(form, sandbox):
    form.tracker.client.max_retries = 0
    sandbox.stop()
    create(form, "Nobody home")
    assert "cannot reach" in form.message.value and form.name.value == "Nobody home"
    assert not form.create_button.disabled


def test_double_click_makes_one_order(form, sandbox):
    sandbox.latency = 0.3
    form.name.value = "Once"
    form.create_button.click()
    assert form.create_button.disabled and form.create_button.description == "Creating…"
    form.create_button.click()
    form.create_button.click()
    form.wait()
    assert [o["name"] for o in sandbox.orders] == ["Once"]


def test_the_ui_is_not_blocked_while_creating(form, sandbox):
    sandbox.latency = 0.5
    form.name.value = "Slow"
    started = time.monotonic()
    form.create_button.click()
    # click() returned while the request (0.5 s) is still running in the background
    assert time.monotonic() - started < 0.4 and form.busy and not sandbox.orders
    form.wait()
    assert not form.busy and sandbox.orders


def test_refresh_and_export_with_download_link(form, sandbox, tmp_path):
    form.export_dir = tmp_path
    create(form, "=cmd|' /C calc'!A0")
    create(form, "Plain")
    form.refresh_button.click()
    form.wait()
    assert "Refreshed 2 orders" in form.message.value
    form.filename.value = "export.csv"
    form.export_button.click()
    form.wait()
    path = tmp_path / "export.csv"
    assert "Exported 2 orders to export.csv" in form.message.value
    assert str(tmp_path) not in form.message.value
    frame = pd.read_csv(path)
    assert len(frame) == 2 and frame.loc[0, "name"].startswith("'=")
    link = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', form.download.value)
    assert base64.b64decode(link.group(1)) == path.read_bytes()
    assert "(2 rows)" in form.download.value


def test_export_failure_is_shown(form, tmp_path):
    form.export_dir = tmp_path / "missing"
    form.filename.value = "x.csv"
    form.export_button.click()
    form.wait()
    assert "No such folder" in form.message.value and str(tmp_path) not in form.message.value


def test_table_shows_the_latest_rows_and_counts(form):
    form.tracker.create_many([f"n{i}" for i in range(60)], progress=False)
    assert "Showing the latest 50 of 60 orders" in form.table.value
    assert "waiting</span> 60" in form.table.value


def test_form_and_magic_share_one_table(sandbox, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("AUTOENHANCE_API_KEY", "test-key")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    ae.reset_session()
    ip = InteractiveShell.instance()
    try:
        ip.extension_manager.load_extension("autoenhance_nb")
        form = OrderForm()
        assert form.tracker is ae.session()
        ip.run_line_magic("autoenhance_order", "From the magic")
        assert "From the magic" in form.table.value
        create(form, "From the form")
        listed = ip.run_line_magic("autoenhance_order", "--list")
        assert list(listed["name"]) == ["From the magic", "From the form"]
        form.close()
    finally:
        ae.reset_session()


def test_auto_refresh_stops_by_itself_when_nothing_is_processing():
    with Sandbox() as sb:
        tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url=sb.url))
        form = OrderForm(tracker, auto_refresh_interval=0.1)
        oid = tracker.create("With a photo")["order_id"]
        with processing_held(sb):
            upload_photo(sb, oid)
            tracker.refresh()
            assert tracker.status_counts() == {"processing": 1}
            sb.clear_log()
            form.auto_refresh.value = True
            until(lambda: len(sb.requests_to("retrieve_order")) >= 3)  # polls while processing
            assert form.auto_refresh.value is True
        form.wait_auto_refresh(10)  # processed now: it stops by itself
        assert form.auto_refresh.value is False
        assert tracker.status_counts() == {"processed": 1}
        assert "Auto-refresh stopped" in form.message.value
        form.close()


def test_auto_refresh_with_a_webhook_receiver_polls_only_as_a_safety_net_and_says_so(
    sandbox, tracker, hooked
):
    sandbox.processing_seconds = 0.6
    form = OrderForm(tracker, auto_refresh_interval=0.1)
    oid = tracker.create("With a photo")["order_id"]
    upload_photo(sandbox, oid)
    tracker.refresh()
    sandbox.clear_log()
    form.auto_refresh.value = True
    assert "safety net" in form.message.value
    form.wait_auto_refresh(10)
    assert form.auto_refresh.value is False
    assert tracker.status_counts() == {"processed": 1}
    assert "Auto-refresh stopped" in form.message.value
    # the first refresh, and the one read the webhook asked for; no polling every 0.1 s
    assert len(sandbox.requests_to("retrieve_order")) <= 2
    form.close()


def test_going_live_moves_the_key_and_clears_the_field(sandbox, monkeypatch):
    with Sandbox(api_key=SENTINEL) as live:
        tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url=sandbox.url))
        form = OrderForm(tracker)
        assert form.api_key.layout.display is None
        form.api_key.value = SENTINEL
        assert form.api_key.value == ""
        monkeypatch.setenv("AUTOENHANCE_BASE_URL", live.url)
        assert form.go_live()
        form.wait()
        state = json.dumps(dependency_state(form), default=str)
        assert "ae-api-key" in state and SENTINEL not in state
        create(form, "Live one")
        assert [o["name"] for o in live.orders] == ["Live one"]
        assert SENTINEL not in form.message.value + form.header.value + form.table.value
        form.close()


def test_going_live_with_an_empty_field_says_so(form):
    form.api_key.value = "  "
    assert not form.go_live()
    assert "Paste your Autoenhance API key" in form.message.value


# -- the Enhancement section and the Image row ---------------------------------------------
def _photo(name="room.png"):
    return chosen_files((name, picture()))


def test_every_option_from_the_form_reaches_the_sandbox_unchanged(form, sandbox):
    assert set(form.enhancement.fields) == set(EVERY_OPTION)
    for name, value in EVERY_OPTION.items():
        field = form.enhancement.fields[name]
        field.value = json.dumps(value) if isinstance(field, JsonField) else value
    form.photos.value = _photo()
    create(form, "Opts")
    assert "uploaded 1 of 1" in form.message.value, form.message.value
    stored = sandbox.orders[0]["images"][0]
    assert {k: stored[k] for k in EVERY_OPTION} == EVERY_OPTION


def test_form_options_are_checked_before_any_request(form, sandbox):
    form.enhancement.fields["metadata"].value = "{not json"
    form.photos.value = _photo()
    form.name.value = "Bad"
    assert form.submit() is False
    assert "metadata: not valid JSON" in form.message.value
    assert sandbox.orders == []
    form.enhancement.fields["metadata"].value = ""
    form.enhancement.preset.value = "exterior"
    assert form.enhancement.fields["sky_replacement"].value is True
    assert form.enhancement.options == {"sky_replacement": True, "cloud_type": "LOW_CLOUD"}
    form.enhancement.dev_mode.value = True
    assert form.tracker.client.dev_mode and "dev mode" in form.header.value.lower()
    form.enhancement.dev_mode.value = False


def test_image_row_redoes_reports_and_buys(form, sandbox, tmp_path):
    form.export_dir = tmp_path
    form.photos.value = _photo()
    create(form, "Row")
    form.photo_target.value = sandbox.orders[0]["order_id"]
    image_id = sandbox.orders[0]["images"][0]["image_id"]
    assert form.images.image.value == image_id
    form.enhancement.fields["enhance_type"].value = "modern"
    form.images.redo_button.click()
    form.wait()
    assert sandbox.orders[0]["images"][0]["enhance_type"] == "modern", form.message.value
    form.images.report_button.click()  # no category: refused before any request
    form.wait()
    assert "non-empty" in form.message.value and sandbox.reports == []
    form.images.categories.value = ("SKY_REPLACEMENT",)
    form.images.comment.value = "too blue"
    form.images.score.value = 1
    form.images.report_button.click()
    form.wait()
    assert "Reported" in form.message.value
    assert [(r["categories"], r["comment"], r["score"]) for r in sandbox.reports] == [
        (["SKY_REPLACEMENT"], "too blue", 1)
    ]
    assert "uses credits" in form.images.buy_button.description
    form.images.buy_button.click()
    form.wait()
    assert sandbox.orders[0]["images"][0]["downloaded"] is True, form.message.value
    assert (tmp_path / "room.png").exists() and "download" in form.images.link.value


# -- plain words (issue 25) --------------------------------------------------------------
def test_the_hdr_brackets_choice_shows_no_until_changed(form):
    mode = form.brackets.mode
    assert mode.index == 0 and mode.label == "No" and not form.brackets.enabled


def test_every_option_reads_as_words_with_its_description_as_tooltip(form):
    from autoenhance_nb.rules import OPTIONS

    for name, field in form.enhancement.fields.items():
        option = OPTIONS[name]
        shown = field.text if isinstance(field, JsonField) else field
        assert shown.description == option.title and "_" not in shown.description, name
        assert shown.tooltip == option.description[:200], name
        assert shown.style.description_width in ("", "initial"), name  # never cut
    style = form.enhancement.fields["enhance_type"]
    assert [label for label, _ in style.options][:3] == [
        "Default (the API's)",
        "Property (AI before 4.0)",
        "Property, US (AI before 4.0)",
    ]
    clouds = form.enhancement.fields["cloud_type"]
    assert "Low clouds" in clouds.label or ("Low clouds", "LOW_CLOUD") in clouds.options
    assert form.enhancement.fields["sky_replacement"].description == "Sky replacement"


def test_a_json_box_has_a_real_placeholder_and_says_its_problem_as_one_types(form):
    box = form.enhancement.fields["metadata"]
    example = box.text.placeholder.removeprefix("JSON, e.g. ")
    assert json.loads(example) == {"listing": "A-1042", "agent": "Ana Costa"}
    box.value = "[1, 2]"
    assert "Your own data" in box.problem.value and "JSON object" in box.problem.value
    box.value = '{"listing": "A-1"}'
    assert box.problem.value == ""
    assert form.enhancement.options == {"metadata": {"listing": "A-1"}}


def _position(form, part):
    """Where ``part`` sits among the form's rows (a row holding it counts as it)."""
    for i, child in enumerate(form.children):
        if child is part or part in getattr(child, "children", ()):
            return i
    raise AssertionError(f"{part!r} is not on the form")


def test_the_first_screen_leads_name_photos_preset_create(form):
    order = [form.name, form.photo_row, form.enhancement.preset, form.create_button]
    positions = [_position(form, part) for part in order]
    assert positions == sorted(positions) and positions[-1] - positions[0] == 3
    assert _position(form, form.create_button) < _position(form, form.details)
    # the key and "Use live API" are folded away under the table
    assert form.live_box not in form.children
    assert form.live_details.children == (form.live_box,)
    assert form.live_details.selected_index is None
    assert _position(form, form.live_details) > _position(form, form.table)


def test_one_environment_badge_on_the_form(form):
    create(form, "Badge")
    assert (form.header.value + form.table.value).count("ae-env") == 1
    assert "ae-env" in form.header.value  # the header's, the table has none


def test_the_gallery_picker_follows_the_newest_order(form):
    create(form, "First", "first-1")
    picker = form.gallery_picker
    assert picker.order.value == "first-1"
    create(form, "Second", "second-1")
    assert picker.order.value == "second-1"
    picker.order.value = "first-1"  # a person's pick stays while no order is new
    form.refresh()
    form.wait()
    assert picker.order.value == "first-1"
