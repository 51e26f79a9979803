"""%autoenhance_order and %autoenhance_login in a real IPython shell against a sandbox."""

from __future__ import annotations

import getpass
import json
import os

import pandas as pd
import pytest
from IPython.utils.capture import capture_output

import autoenhance_nb as ae
from autoenhance_nb.magic._cells import MagicError, derived_order_id, parse_batch
from autoenhance_nb.magic._magics import magics_of
from autoenhance_nb.sandbox import Sandbox

from ..helpers import (
    EVERY_OPTION,
    bomb,
    exif_with_exposure_time,
    picture,
    run,
    sample_files,
)

SENTINEL = "sk-SENTINEL-magic-77c1"


# -- loading -------------------------------------------------------------------------------
def test_load_ext_names_the_environment_and_twice_is_harmless(shell, sandbox, monkeypatch):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "test-key")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    ae.reset_session()
    shell.extension_manager.unload_extension("autoenhance_nb")
    assert "autoenhance_order" not in shell.magics_manager.magics["line"]
    with capture_output() as cap:
        shell.run_line_magic("load_ext", "autoenhance_nb")
        shell.run_line_magic("load_ext", "autoenhance_nb")
        from autoenhance_nb import load_ipython_extension

        load_ipython_extension(shell)
    lines = [ln for ln in cap.stdout.splitlines() if ln.startswith("autoenhance:")]
    assert lines == [f"autoenhance: using the SANDBOX {sandbox.url[7:]} API"]
    assert "autoenhance_order" in shell.magics_manager.magics["cell"]
    assert sum(type(c).__name__ == "AutoenhanceMagics" for c in shell.configurables) == 1
    ae.reset_session()


def test_load_ext_without_key_starts_the_built_in_sandbox(shell):
    ae.reset_session()
    shell.extension_manager.unload_extension("autoenhance_nb")
    with capture_output() as cap:
        shell.run_line_magic("load_ext", "autoenhance_nb")
    assert "using the built-in SANDBOX at http://127.0.0.1:" in cap.stdout
    assert ae.current_context().sandbox.running
    ae.reset_session()


# -- line magic -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line,name",
    [
        ('"Kitchen – 12 Rue Oberkampf"', "Kitchen – 12 Rue Oberkampf"),
        ("Garden shoot", "Garden shoot"),
        ("'Single quoted'", "Single quoted"),
        ('"O\'Brien house"', "O'Brien house"),
        ("日本語の注文 🏠", "日本語の注文 🏠"),
        ('"עברית RTL"', "עברית RTL"),
    ],
)
def test_line_magic_creates_one_order(ip, sandbox, line, name):
    result, out = run(ip, f"%autoenhance_order {line}")
    assert result.success, out
    assert [o["name"] for o in sandbox.orders] == [name]
    oid = sandbox.orders[0]["order_id"]
    assert f"Created order {oid} {name!r} (waiting)" in out
    assert "1 order in the table (waiting 1)" in out and "SANDBOX" in out
    # one summary (the line, then the bounded table); --list or -o give the frame
    assert isinstance(result.result, ae.display.Summary) and list(ae.session().df["name"]) == [name]
    assert result.result._repr_html_().count("<table") == 1


def test_line_magic_with_custom_order_id(ip, sandbox):
    result, out = run(ip, "%autoenhance_order Hall --order-id hall-2026")
    assert result.success and sandbox.orders[0]["order_id"] == "hall-2026"
    assert ae.session().df.loc[0, "source"] == "magic"


def test_result_can_go_into_a_variable(ip, sandbox):
    run(ip, "%autoenhance_order First")
    result, _ = run(ip, "df = %autoenhance_order --list")
    assert result.success
    assert list(ip.user_ns["df"]["name"]) == ["First"]
    result, _ = run(ip, "%autoenhance_order Second -o orders")
    assert list(ip.user_ns["orders"]["name"]) == ["First", "Second"]
    result, _ = run(ip, "%autoenhance_order --list --out again")
    assert len(ip.user_ns["again"]) == 2


def test_bad_out_variable_is_a_usage_error(ip):
    result, out = run(ip, "%autoenhance_order --list -o 'not valid'")
    assert isinstance(result.error_in_exec, Exception)
    assert "needs a Python variable name" in out


# -- cell magic --------------------------------------------------------------------------------
CELL = """Kitchen – 12 Rue Oberkampf
"Hall, first floor",hall-1

# a comment line
Garden
Garden
"""


def test_cell_magic_creates_a_batch(ip, sandbox):
    result, out = run(ip, "%%autoenhance_order -o week\n" + CELL)
    assert result.success, out
    names = sorted(o["name"] for o in sandbox.orders)
    assert names == sorted(["Kitchen – 12 Rue Oberkampf", "Hall, first floor", "Garden", "Garden"])
    assert "created 4 of 4, 0 failed" in out
    assert len(ip.user_ns["week"]) == 4
    ids = {o["name"]: o["order_id"] for o in sandbox.orders}
    assert ids["Hall, first floor"] == "hall-1"
    notebook = ae.session().notebook  # the derived ids belong to this notebook
    assert notebook
    assert ids["Kitchen – 12 Rue Oberkampf"] == derived_order_id(
        "Kitchen – 12 Rue Oberkampf", 0, notebook
    )


def test_fifty_line_cell(ip, sandbox):
    body = "\n".join(f"Shoot {i:02d}" for i in range(50))
    result, out = run(ip, "%%autoenhance_order\n" + body)
    assert result.success and "created 50 of 50, 0 failed" in out
    assert len(sandbox.orders) == 50 and len(ae.session()) == 50


def test_cell_failures_name_their_lines_and_stop_the_cell(ip, sandbox):
    ae.session().create("someone else's", order_id="taken")
    body = "ok one\nbad," + "x" * 256 + "\nclash,taken\ntoo,many,fields\nok two\n"
    result, out = run(ip, "%%autoenhance_order\n" + body)
    assert isinstance(result.error_in_exec, Exception), "the cell fails"
    assert "created 2 of 5, 3 failed" in out
    assert "line 2: Invalid order_id" in out
    assert "line 3: Creating order 'clash' failed: order_id 'taken' is already used" in out
    assert "line 4: expected `name` or `name,order_id`" in out
    assert "MagicError: 3 of 5 lines failed" in out and "Traceback" not in out


def test_rerunning_a_fixed_cell_never_duplicates(ip, sandbox):
    sandbox.ambiguous_rate = 1.0  # every create is made but its answer is lost
    magics_of(ip).max_retries = 0
    body = "\n".join(f"Room {i}" for i in range(10))
    result, out = run(ip, "%%autoenhance_order\n" + body)
    assert not result.success and "created 0 of 10, 10 failed" in out
    assert len(sandbox.orders) == 10
    sandbox.ambiguous_rate = 0.0
    result, out = run(ip, "%%autoenhance_order\n" + body)
    assert result.success and "created 10 of 10, 0 failed" in out
    result, out = run(ip, "%%autoenhance_order\n" + body + "\nRoom 10")
    assert result.success and "created 1 of 11 (10 already in the table), 0 failed" in out
    assert len(sandbox.orders) == 11 and len(ae.session()) == 11


def test_rerun_after_a_kernel_restart_adopts_instead_of_duplicating(ip, sandbox):
    body = "A\nB\nC"
    run(ip, "%%autoenhance_order\n" + body)
    ae.session().use_client(ae.session().client)  # an empty table, as after a restart
    result, out = run(ip, "%%autoenhance_order\n" + body)
    assert result.success and "created 3 of 3" in out
    assert len(sandbox.orders) == 3


def test_parse_batch_rules():
    items, problems = parse_batch('a\n\n# c\n"x, y",id-1\n , id-2\nb,c,d\n  a  \n')
    assert [(n, i["name"]) for n, i in items] == [(1, "a"), (4, "x, y"), (5, None), (7, "a")]
    assert items[1][1]["order_id"] == "id-1" and items[2][1]["order_id"] == "id-2"
    assert items[0][1]["order_id"] != items[3][1]["order_id"], "second 'a' is a new order"
    assert [n for n, _ in problems] == [6]


def test_cell_magic_refuses_names_on_its_first_line(ip):
    result, out = run(ip, "%%autoenhance_order Kitchen\nHall")
    assert not result.success and "names in the cell body" in out


# -- table operations ----------------------------------------------------------------------------
def test_refresh_sync_and_export(ip, sandbox, tmp_path, client):
    run(ip, "%autoenhance_order One")
    client.create_order(name="made elsewhere")
    result, out = run(ip, "%autoenhance_order --refresh")
    assert result.success and "Refreshed 1 order" in out and "Refreshed 1 orders" not in out
    result, out = run(ip, "%autoenhance_order --sync")
    assert result.success and "Synced 2 orders" in out and len(result.result) == 2
    target = tmp_path / "out dir" / "orders.csv"
    target.parent.mkdir()
    result, out = run(ip, f'%autoenhance_order --export "{target}"')
    assert result.success and f"Exported 2 orders to {target}" in out
    assert "<table" not in result.result._repr_html_()  # its line and the status, no rows
    assert len(pd.read_csv(target)) == 2


def test_export_to_a_missing_folder_is_a_short_error(ip, tmp_path):
    result, out = run(ip, f"%autoenhance_order --export {tmp_path}/nope/orders.csv")
    assert not result.success
    assert "MagicError" in out and "no such folder" in out
    assert "Traceback" not in out


def test_unknown_flags_are_usage_errors(ip, sandbox):
    result, out = run(ip, "%autoenhance_order Kitchen --colour red")
    assert not result.success and "unrecognized arguments: --colour red" in out
    assert sandbox.orders == []


def test_help_shows_usage_and_examples(ip):
    result, doc = run(ip, "%autoenhance_order?")
    assert result.success
    assert "%autoenhance_order [--order-id ORDER_ID] [--images GLOB]" in doc
    for flag in (
        "--order-id",
        "--list",
        "--refresh",
        "--sync",
        "--export",
        "--out",
        "--images",
        "--add-images",
        "--watch",
        "--download",
    ):
        assert flag in doc
    assert "Examples::" in doc and "%%autoenhance_order -o week" in doc


# -- configuration ------------------------------------------------------------------------------------
def test_config_lists_and_sets_traits(ip):
    with capture_output() as cap:
        ip.run_line_magic("config", "AutoenhanceMagics")
    for trait in ("short_errors", "workers", "timeout", "max_retries", "base_url"):
        assert trait in cap.stdout
    ip.run_line_magic("config", "AutoenhanceMagics.timeout = 0.2")
    assert ae.session().client.timeout == 0.2
    ip.run_line_magic("config", "AutoenhanceMagics.workers = 3")
    assert magics_of(ip).workers == 3


def test_timeout_setting_takes_effect(ip, sandbox):
    sandbox.latency = 0.5
    ip.run_line_magic("config", "AutoenhanceMagics.timeout = 0.1")
    ip.run_line_magic("config", "AutoenhanceMagics.max_retries = 0")
    result, out = run(ip, "%autoenhance_order Slow")
    assert not result.success and "within 0.1 s (timeout)" in out


def test_short_errors_false_shows_the_traceback(ip, sandbox):
    sandbox.error_rate = 1.0
    ip.run_line_magic("config", "AutoenhanceMagics.short_errors = False")
    result, out = run(ip, "%autoenhance_order Kitchen")
    assert type(result.error_in_exec).__name__ == "ServerError"
    assert "Traceback" in out


# -- errors stop the cell, briefly -----------------------------------------------------------------------
def test_server_outage_is_a_short_error_that_stops_the_cell(ip, sandbox):
    sandbox.error_rate = 1.0
    result, out = run(ip, "%autoenhance_order Kitchen\nafter = 1")
    assert not result.success and "after" not in ip.user_ns
    assert "MagicError: Creating order" in out and "server error (HTTP 503)" in out
    assert "Traceback" not in out and len(out.strip().splitlines()) <= 2


def test_wrong_key_is_a_short_error(shell, monkeypatch):
    with Sandbox(api_key="the-real-one") as sb:
        monkeypatch.setenv("AUTOENHANCE_API_KEY", SENTINEL)
        monkeypatch.setenv("AUTOENHANCE_BASE_URL", sb.url)
        ae.reset_session()
        shell.extension_manager.load_extension("autoenhance_nb")
        result, out = run(shell, "%autoenhance_order Kitchen")
        assert not result.success
        assert "the API key was refused" in out and "Traceback" not in out
        assert SENTINEL not in out
    ae.reset_session()


# -- login and the key's secrecy ----------------------------------------------------------------------------
def test_login_prompts_and_the_key_is_nowhere(shell, monkeypatch):
    monkeypatch.delenv("AUTOENHANCE_API_KEY", raising=False)
    ae.reset_session()
    with Sandbox(api_key=SENTINEL) as live:
        monkeypatch.setattr(getpass, "getpass", lambda prompt="": SENTINEL)
        shell.extension_manager.load_extension("autoenhance_nb")
        outputs = []
        for code in (
            f"%autoenhance_login --base-url {live.url}",
            "%autoenhance_order Live order",
            "%autoenhance_order --list",
            "repr(__import__('autoenhance_nb').session())",
        ):
            result, out = run(shell, code)
            assert result.success, out
            outputs.append(out)
            outputs.append(repr(result.result))
        assert [o["name"] for o in live.orders] == ["Live order"]
        assert "now using the SANDBOX" in outputs[0] or "now using the LIVE" in outputs[0]
        history = [line for _, _, line in shell.history_manager.get_range()]
        haystacks = (
            outputs + history + [repr(shell.user_ns.get("In")), repr(shell.user_ns.get("Out"))]
        )
        assert all(SENTINEL not in h for h in haystacks)
        assert SENTINEL not in ae.session().df.to_csv()
    ae.reset_session()


def test_login_with_an_empty_key_keeps_the_session(shell, monkeypatch, sandbox):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "test-key")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    ae.reset_session()
    shell.extension_manager.load_extension("autoenhance_nb")
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "   ")
    result, out = run(shell, "%autoenhance_login")
    assert not result.success and "no API key was given; the session stays" in out
    ae.reset_session()


def test_the_key_is_not_a_magic_argument(ip):
    result, out = run(ip, "%autoenhance_login --api-key abc")
    assert not result.success and "takes no arguments" in out
    assert os.environ.get("AUTOENHANCE_API_KEY") == "test-key"


@pytest.mark.parametrize(
    "line",
    [
        f"%autoenhance_login {SENTINEL}",
        f"%autoenhance_login '{SENTINEL}'",
        f"%autoenhance_login --api-key {SENTINEL}",
        f"%autoenhance_login --api-key={SENTINEL}",
        f"%autoenhance_login --base-url {SENTINEL}",
        f"%autoenhance_login --base-url=https://api.autoenhance.ai {SENTINEL}",
        f"%autoenhance_login --base-url https://{SENTINEL}@api.autoenhance.ai/",
        f"%autoenhance_order Kitchen --api-key={SENTINEL}",
        f"%autoenhance_order --key {SENTINEL}",
        f"%autoenhance_order --score {SENTINEL}",
        f"%autoenhance_order --max-width={SENTINEL}",
    ],
)
def test_a_key_typed_on_a_magic_line_is_never_repeated(ip, sandbox, monkeypatch, line):
    asked = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": asked.append(prompt) or "")
    result, out = run(ip, line)
    assert not result.success
    error = result.error_in_exec or result.error_before_exec
    assert error is not None and SENTINEL not in str(error) and SENTINEL not in repr(error)
    assert SENTINEL not in out and "Traceback" not in out, out
    assert len(out.strip().splitlines()) == 1, out
    assert asked == [] and sandbox.request_log == []  # no prompt, nothing sent
    if line.startswith("%autoenhance_login"):
        assert "%autoenhance_login" in out and "hidden prompt" in out, out


def test_a_decompression_bomb_in_brackets_stops_the_magic_in_one_line(ip, sandbox, tmp_path):
    import shutil

    for path in sample_files()[:3]:
        shutil.copy(path, tmp_path)
    bomb(tmp_path / "bomb.jpg.png")
    for extra in ("", " --dry-run"):
        line = f'%autoenhance_order Loft --brackets auto "{tmp_path}/*"{extra}'
        result, out = run(ip, line)
        assert not result.success and isinstance(result.error_in_exec, MagicError), out
        assert "'bomb.jpg.png'" in out and "decompression bomb" in out, out
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
        assert str(tmp_path) not in str(result.error_in_exec)
    assert sandbox.orders == [] and sandbox.request_log == []


def test_an_insane_exif_exposure_time_still_gives_a_dry_run(ip, sandbox, tmp_path):
    from datetime import datetime

    from PIL import Image

    for i, seconds in enumerate((1 / 250, 1e-310, 1 / 15)):
        exif = exif_with_exposure_time(datetime(2026, 3, 14, 10, 0, i), seconds)
        Image.new("RGB", (16, 8), (i * 60,) * 3).save(tmp_path / f"IMG_{i}.jpg", exif=exif)
    result, out = run(ip, f'%autoenhance_order Loft --brackets auto "{tmp_path}/*.jpg" --dry-run')
    assert result.success and "Dry run: nothing was sent" in out, out
    assert "warning: 1 of 3 files have an EXIF exposure" in out and "IMG_1.jpg" in out, out
    assert sandbox.orders == []


# -- enhancement options, downloads, reprocess, report -------------------------------------
def _shoot(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    (folder / "room.png").write_bytes(picture())
    return folder


def test_every_option_from_the_magic_reaches_the_sandbox_unchanged(ip, sandbox, tmp_path):
    folder = _shoot(tmp_path)
    flags = " ".join(
        f"--option '{k}={json.dumps(v) if isinstance(v, (dict, bool)) else v}'"
        for k, v in EVERY_OPTION.items()
    )
    result, out = run(ip, f'%autoenhance_order Opts --images "{folder}/*.png" {flags}')
    assert result.success, out
    stored = sandbox.orders[0]["images"][0]
    assert {k: stored[k] for k in EVERY_OPTION} == EVERY_OPTION


def test_bad_options_stop_the_magic_before_any_request(ip, sandbox, tmp_path):
    folder = _shoot(tmp_path)
    sandbox.clear_log()
    for flags, message in [
        ("--option enhance_type=warn", "did you mean 'warm'"),
        ("--option sky_replacement=maybe", "sky_replacement='maybe': must be true or false"),
        ("--option privacy", "write KEY=VALUE"),
        ("--option 'metadata={bad'", "not valid JSON"),
        ("--preset exteror", "did you mean 'exterior'"),
    ]:
        result, out = run(ip, f'%autoenhance_order Bad --images "{folder}/*.png" {flags}')
        assert not result.success and message in out and "Traceback" not in out, out
    result, out = run(ip, "%autoenhance_order --list --option enhance_type=warm")
    assert not result.success and "go with --images" in out
    assert sandbox.orders == [] and sandbox.request_log == []


def test_config_defaults_preset_and_dev_mode(ip, sandbox, tmp_path):
    folder = _shoot(tmp_path)
    from traitlets import TraitError

    with pytest.raises(TraitError, match="enhance_type='shiny': use one of"):
        magics_of(ip).default_options = {"enhance_type": "shiny"}
    run(ip, "%config AutoenhanceMagics.default_options = {'enhance_type': 'shiny'}")
    assert magics_of(ip).default_options == {}
    run(ip, "%config AutoenhanceMagics.default_options = {'enhance_type': 'warm', 'rating': 1}")
    run(ip, "%config AutoenhanceMagics.dev_mode = True")
    try:
        assert ae.session().client.dev_mode and "dev mode" in ae.session().environment_label
        line = f'%autoenhance_order P --images "{folder}/*.png" --preset exterior --option rating=5'
        result, out = run(ip, line)
        assert result.success, out
        stored = sandbox.orders[0]["images"][0]
        assert (stored["enhance_type"], stored["sky_replacement"], stored["rating"]) == (
            "warm",
            True,
            5,
        )
    finally:
        magics_of(ip).default_options = {}
        magics_of(ip).dev_mode = False


def test_download_previews_or_full_size_reprocess_and_report(ip, sandbox, tmp_path):
    folder = _shoot(tmp_path)
    run(ip, f'%autoenhance_order Loft --order-id loft-1 --images "{folder}/*.png"')
    image_id = sandbox.orders[0]["images"][0]["image_id"]
    result, out = run(ip, f"%autoenhance_order --download loft-1 {tmp_path}/p --format png")
    assert result.success and "(previews)" in out, out
    assert (tmp_path / "p" / "room.png").read_bytes().startswith(b"\x89PNG")
    assert sandbox.orders[0]["images"][0]["downloaded"] is False
    result, out = run(ip, f"%autoenhance_order --download loft-1 {tmp_path}/f --full-size")
    assert result.success and "(full size, bought)" in out, out
    assert sandbox.orders[0]["images"][0]["downloaded"] is True
    result, out = run(ip, f"%autoenhance_order --download loft-1 {tmp_path}/a --format avif")
    assert not result.success and "use one of png, jpeg, webp" in out
    line = f"%autoenhance_order --reprocess {image_id} --option enhance_type=neutral"
    result, out = run(ip, line)
    assert result.success and f"Reprocessing image {image_id}" in out, out
    assert sandbox.orders[0]["images"][0]["enhance_type"] == "neutral"
    sandbox.clear_log()
    result, out = run(ip, f"%autoenhance_order --report {image_id} --category SKY")
    assert not result.success and "category='SKY'" in out and sandbox.request_log == []
    line = (
        f"%autoenhance_order --report {image_id} --category SKY_REPLACEMENT --category COLOUR "
        f'--score 2 "sky too blue"'
    )
    result, out = run(ip, line)
    assert result.success and f"Reported image {image_id}" in out, out
    (report,) = sandbox.reports
    assert report["categories"] == ["SKY_REPLACEMENT", "COLOUR"]
    assert (report["comment"], report["score"]) == ("sky too blue", 2)


# -- derived ids belong to their notebook (issue #24) ------------------------------------------
def test_two_notebooks_with_identical_cells_make_separate_orders(ip, sandbox, monkeypatch):
    cell = "%%autoenhance_order\nKitchen\nHall\n"
    monkeypatch.setitem(ip.user_ns, "__session__", "shoots/a.ipynb")
    assert run(ip, cell)[0].success
    ae.reset_session()  # the other notebook's kernel
    ip.user_ns["__session__"] = "shoots/b.ipynb"
    result, out = run(ip, cell)
    assert result.success and "created 2 of 2, 0 failed" in out
    assert len(sandbox.orders) == 4  # was 2: the second adopted the first's orders
    ae.reset_session()  # the first notebook again, in a fresh kernel: its own orders
    ip.user_ns["__session__"] = "shoots/a.ipynb"
    assert run(ip, cell)[0].success
    assert len(sandbox.orders) == 4


def test_an_order_under_a_derived_id_the_journal_did_not_make_is_not_adopted(ip, sandbox):
    ae.session().create("Kitchen")  # starts the session: its notebook identity
    taken = derived_order_id("Kitchen", 0, ae.session().notebook)
    ae.session().client.create_order("Kitchen", order_id=taken)  # e.g. a cleared journal
    ae.session().journal.clear()
    result, out = run(ip, "%%autoenhance_order\nKitchen\n")
    assert not result.success
    assert "not adopted" in out and taken in out
    assert sum(o["order_id"] == taken for o in sandbox.orders) == 1
