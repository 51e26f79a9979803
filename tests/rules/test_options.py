"""Enhancement options from the spec: checked before any request, reaching the sandbox
unchanged; previews or full size; reprocess and report (client and tracker)."""

from __future__ import annotations

import io
import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from autoenhance_nb import errors as E
from autoenhance_nb import options as O

from ..helpers import EVERY_OPTION, SPEC, picture


def test_the_options_are_the_specs():
    spec = SPEC["components"]["schemas"]["ImageIn"]["properties"]
    assert set(O.OPTIONS) == set(spec) - {"image_name", "order_id"} == set(EVERY_OPTION)
    assert O.OPTIONS["enhance_type"].choices == tuple(spec["enhance_type"]["enum"])
    assert O.OPTIONS["cloud_type"].nullable and O.OPTIONS["lens_correction"].default is True
    assert O.DOWNLOAD_FORMATS == ("png", "jpeg", "webp")  # no avif: the spec lists none
    assert "SKY_REPLACEMENT" in O.REPORT_CATEGORIES


@pytest.mark.parametrize(
    "options,message",
    [
        (
            {"enhance_type": "warn"},
            "enhance_type='warn': use one of property, .*did you mean 'warm'",
        ),
        ({"cloud_type": "clear"}, "did you mean 'CLEAR'"),
        ({"sky_replacement": "yes"}, "sky_replacement='yes': must be true or false"),
        ({"rating": 9}, "rating=9: must be a number from 0 to 5"),
        ({"rating": True}, "must be a whole number"),
        ({"metadata": {"a": float("nan")}}, "NaN"),
        ({"finetune_settings": [1]}, "must be a JSON object"),
        ({"status": "processed"}, "status: set by the API"),
        ({"order_id": "x"}, "an argument of the call"),
        ({"x" * 100: 1}, "not an option name"),
        ({"new_thing": "z" * 5000}, "too long"),
        ({"new_thing": object()}, "not JSON"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_request(client, sandbox, options, message):
    with pytest.raises(E.ValidationError, match=message) as caught:
        client.reprocess_image("img-1", **options)
    assert "\n" not in str(caught.value)
    if "order_id" not in options:
        with pytest.raises(E.ValidationError, match=message):
            client.create_image("o-1", "a.png", **options)
    assert sandbox.request_log == []


def test_unknown_options_pass_with_a_warning(client, sandbox):
    oid = client.create_order()["order_id"]
    with pytest.warns(O.UnknownOptionWarning, match="did you mean 'enhance_type'"):
        image = client.create_image(oid, "a.png", enhance_typ="warm", tripod_hide=True)
    assert image["tripod_hide"] is True and image["enhance_typ"] == "warm"


def test_every_option_reaches_the_sandbox_unchanged_from_python(tracker, sandbox):
    oid = tracker.create("all")["order_id"]
    result = tracker.add_images(oid, [("a.png", picture())], progress=False, **EVERY_OPTION)
    assert result.summary().startswith("uploaded 1 of 1")
    stored = sandbox.orders[0]["images"][0]
    assert {k: stored[k] for k in EVERY_OPTION} == EVERY_OPTION


def test_defaults_preset_and_call_layer_in_that_order(tracker, sandbox):
    oid = tracker.create("layers")["order_id"]
    tracker.default_options["enhance_type"] = "warm"
    tracker.default_options["privacy"] = True
    with pytest.raises(E.ValidationError, match="upscale"):
        tracker.default_options["upscale"] = "big"
    O.define_preset("mine", privacy=False, upscale=True)
    tracker.add_images(oid, [("a.png", picture())], progress=False, preset="mine", rating=2)
    stored = sandbox.orders[0]["images"][0]
    assert (stored["enhance_type"], stored["privacy"], stored["upscale"]) == ("warm", False, True)
    with pytest.raises(E.ValidationError, match="Unknown preset 'exteror'.*'exterior'"):
        tracker.add_images(oid, [("b.png", picture())], progress=False, preset="exteror")
    with pytest.raises(E.ValidationError, match="preset 'bad'"):
        O.define_preset("bad", enhance_type="shiny")
    assert "bad" not in O.presets
    for name in O.presets:  # built-ins hold only values the spec lists
        O.check_options(O.presets[name])


def test_parse_option_values():
    assert O.parse_assignment("ai_version=4.0") == ("ai_version", "4.0")
    assert O.parse_assignment("cloud_type=null") == ("cloud_type", None)
    assert O.parse_assignment("privacy=TRUE") == ("privacy", True)
    assert O.parse_assignment("rating=3") == ("rating", 3)
    assert O.parse_assignment('metadata={"a": [1]}') == ("metadata", {"a": [1]})
    with pytest.raises(E.ValidationError, match="KEY=VALUE"):
        O.parse_assignment("privacy")
    with pytest.raises(E.ValidationError, match="not valid JSON"):
        O.parse_assignment("metadata={oops")


# -- hostile input: refused with one line, no request ------------------------------------
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
HOSTILE = st.one_of(
    st.dictionaries(st.sampled_from(sorted(O.OPTIONS)), JUNK, min_size=1).filter(
        lambda d: any(O.OPTIONS[k].problem(v) for k, v in d.items())
    ),
    st.dictionaries(st.sampled_from(O.READ_ONLY), JUNK, min_size=1),
    st.builds(lambda n: {"x": "é" * n}, st.integers(2001, 50_000)),
    st.builds(
        lambda d: {"nested": d},
        st.recursive(JUNK, lambda i: st.lists(i, min_size=1, max_size=1), max_leaves=3).map(
            lambda v: [[[[[[[v]]]]]]]
        ),
    ),
    st.dictionaries(
        st.text(max_size=3).filter(lambda s: not O.NAME.fullmatch(s)), JUNK, min_size=1
    ),
)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(options=HOSTILE)
def test_hostile_options_are_refused_without_a_request(sandbox_for_hypothesis, options):
    client = sandbox_for_hypothesis
    with pytest.raises(E.ValidationError) as caught, warnings.catch_warnings():
        warnings.simplefilter("error")
        client.create_image("o-1", "a.png", **options)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 500
    if "image_id" not in options:
        with pytest.raises(E.ValidationError):
            client.reprocess_image("img-1", **options)
    assert client.sandbox.request_log == []


@pytest.fixture(scope="module")
def sandbox_for_hypothesis():
    from autoenhance_nb import AutoenhanceClient
    from autoenhance_nb.sandbox import Sandbox

    with Sandbox(processing_seconds=0) as sb:
        c = AutoenhanceClient(api_key="k", base_url=sb.url)
        c.sandbox = sb  # type: ignore[attr-defined]
        yield c
        c.close()


# -- downloads, reprocess, report ------------------------------------------------------------
@pytest.fixture
def processed(tracker):
    oid = tracker.create("shoot")["order_id"]
    tracker.add_images(oid, [("room.png", picture())], progress=False, enhance_type="warm")
    image_id = tracker.client.get_order(oid)["images"][0]["image_id"]
    return oid, image_id


def test_a_png_preview_has_the_signature_and_the_asked_size(tracker, sandbox, processed, tmp_path):
    _, image_id = processed
    path = tracker.download_image(image_id, tmp_path / "p.png", format="png", max_width=24)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(data)).size == (24, 18)
    (entry,) = sandbox.requests_to("download_enhanced")
    assert sandbox.orders[0]["images"][0]["downloaded"] is False  # a preview is free


def test_full_size_is_explicit_and_recorded(tracker, sandbox, processed, tmp_path):
    oid, image_id = processed
    got = tracker.download(oid, tmp_path / "out", full_size=True, format="jpeg")
    assert [p.name for p in got.saved] == ["room.jpeg"]
    assert Image.open(got.saved[0]).size == (64, 48)
    assert sandbox.orders[0]["images"][0]["downloaded"] is True
    with pytest.raises(E.ValidationError, match="format='avif': use one of png, jpeg, webp"):
        tracker.download(oid, tmp_path / "x", format="avif")
    with pytest.raises(E.ValidationError, match="max_width=0"):
        tracker.download_image(image_id, tmp_path / "y.png", max_width=0)


def test_images_df_shows_options_and_what_was_bought(tracker, processed, tmp_path):
    oid, image_id = processed
    tracker.download_image(image_id, tmp_path / "f.png", full_size=True)
    row = tracker.images_df.iloc[0]
    assert row["downloaded"] == "true" and json.loads(row["options"])["enhance_type"] == "warm"


def test_enhanced_bytes_differ_from_the_original_and_follow_enhance_type(
    tracker, processed, tmp_path
):
    _, image_id = processed
    original = tracker.download_image(image_id, tmp_path / "o.png", "original").read_bytes()
    warm = tracker.download_image(image_id, tmp_path / "w.png", format="png").read_bytes()
    tracker.reprocess(image_id, enhance_type="neutral")
    neutral = tracker.download_image(image_id, tmp_path / "n.png", format="png").read_bytes()
    assert len({original, warm, neutral}) == 3


def test_reprocess_sends_the_options_and_checks_them_first(tracker, sandbox, processed):
    _, image_id = processed
    sandbox.clear_log()
    with pytest.raises(E.ValidationError, match="did you mean 'neutral'"):
        tracker.reprocess(image_id, enhance_type="nutral")
    assert sandbox.request_log == []
    image = tracker.reprocess(image_id, preset="exterior", ai_version="5.0")
    stored = sandbox.orders[0]["images"][0]
    assert (stored["sky_replacement"], stored["cloud_type"], stored["ai_version"]) == (
        True,
        "LOW_CLOUD",
        "5.0",
    )
    assert stored["enhance_type"] == "warm"  # not given: kept
    assert image["image_id"] == image_id


def test_report_is_checked_then_stored(tracker, sandbox, processed):
    _, image_id = processed
    sandbox.clear_log()
    for bad, message in [
        ((["SKY"],), "category='SKY': use one of"),
        (([],), "non-empty"),
        ((["COLOUR"], None, 6), "score=6"),
        ((["COLOUR"], 5), "comment: must be text"),
    ]:
        with pytest.raises(E.ValidationError, match=message):
            tracker.report(image_id, *bad)
    assert sandbox.request_log == []
    answer = tracker.report(image_id, ["SKY_REPLACEMENT", "COLOUR"], "sky too blue", 2)
    assert answer["message"]
    (report,) = sandbox.reports
    assert report["categories"] == ["SKY_REPLACEMENT", "COLOUR"]
    assert (report["comment"], report["score"], report["image_id"]) == ("sky too blue", 2, image_id)


def test_dev_mode_on_the_session_sends_the_header(tracker, sandbox, processed, tmp_path):
    _, image_id = processed
    tracker.dev_mode = True
    assert "dev mode" in tracker.environment_label
    tracker.download_image(image_id, tmp_path / "d.png", full_size=True)
    assert sandbox.orders[0]["images"][0]["downloaded"] is False  # dev mode never buys


def test_every_option_has_a_title_for_people_and_enum_labels_from_the_spec():
    from autoenhance_nb.rules import OPTIONS

    for name, option in OPTIONS.items():
        assert option.title and "_" not in option.title and option.label == option.title, name
    assert OPTIONS["sky_replacement"].label == "Sky replacement"
    assert OPTIONS["enhance_type"].label == "Enhancement style"
    assert OPTIONS["cloud_type"].label_of("LOW_CLOUD") == "Low clouds"
    assert OPTIONS["rating"].label_of(5) == "5 (best)"
    assert OPTIONS["ai_version"].label_of("4.7") == "4.7"  # no label: the value itself


def test_a_value_without_a_label_reads_as_itself_even_a_dict():
    from autoenhance_nb.rules import OPTIONS

    assert OPTIONS["finetune_settings"].label_of({"sky": [1]}) == "{'sky': [1]}"
    assert OPTIONS["rating"].label_of(True) == "True"  # not the label of 1
