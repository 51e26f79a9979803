"""Input that silently did the wrong thing (issue items 10-15): refused with a message
before any request, or done right; never a duplicate order on re-run.

The magics run in a real IPython shell against a sandbox; only public names.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import autoenhance_nb as ae
from autoenhance_nb import AutoenhanceError
from autoenhance_nb.sandbox import Sandbox

from ..helpers import run


def posts(sb: Sandbox) -> int:
    return len(sb.requests_to("create_order"))


# -- 10. create_many with a string or a DataFrame ---------------------------------------------
def test_create_many_refuses_a_single_string_before_any_request(tracker, sandbox):
    with pytest.raises(AutoenhanceError) as info:
        tracker.create_many("Kitchen – 12 Rue Oberkampf", progress=False)
    assert "\n" not in str(info.value)
    assert sandbox.request_log == [] and sandbox.orders == [] and len(tracker) == 0


def test_create_many_takes_a_dataframe_as_rows(tracker, sandbox):
    frame = pd.DataFrame(
        {"name": ["Kitchen", "Hall", "Garden"], "order_id": ["df-kitchen", "df-hall", "df-garden"]}
    )
    result = tracker.create_many(frame, progress=False)
    assert result.ok, result.failed
    got = {o["order_id"]: o["name"] for o in sandbox.orders}
    assert got == {"df-kitchen": "Kitchen", "df-hall": "Hall", "df-garden": "Garden"}


def test_create_many_takes_a_dataframe_with_only_names(tracker, sandbox):
    result = tracker.create_many(pd.DataFrame({"name": ["Loft", "Attic"]}), progress=False)
    assert result.ok, result.failed
    assert sorted(o["name"] for o in sandbox.orders) == ["Attic", "Loft"]


# -- 11. only \n and \r\n end a cell line -------------------------------------------------------
SEPARATORS = {
    "U+2028": "\u2028",
    "U+2029": "\u2029",
    "VT": "\x0b",
    "FF": "\x0c",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
    "NEL": "\x85",
    "CR": "\r",
}


@pytest.mark.parametrize("sep", list(SEPARATORS))
def test_a_pasted_line_separator_never_makes_two_orders(ip, sandbox, sep):
    char = SEPARATORS[sep]
    result, out = run(ip, f"%%autoenhance_order\nKitchen{char}Hall\nGarden\n")
    names = [o["name"] for o in sandbox.orders]
    assert not ({"Kitchen", "Hall"} <= set(names)), f"one line became two orders: {names}"
    assert len(names) <= 2, names
    if not result.success:
        assert "Traceback" not in out


# -- 12. the line magic never duplicates on re-run; arguments are checked first -------------
def test_rerunning_a_line_whose_answer_was_lost_makes_one_order(ip, sandbox):
    ip.run_line_magic("config", "AutoenhanceMagics.max_retries = 0")
    sandbox.ambiguous_next = 1  # committed, answered 502
    result, out = run(ip, "%autoenhance_order Kitchen")
    assert not result.success and len(sandbox.orders) == 1, out
    result, out = run(ip, "%autoenhance_order Kitchen")
    assert result.success, out
    assert [o["name"] for o in sandbox.orders] == ["Kitchen"], "the re-run made a second order"
    assert len(ae.session()) == 1


@pytest.mark.parametrize(
    "bad,good",
    [
        ("-o 1st", "-o first"),
        ("--out 'not valid'", "--out valid"),
        ("--export {tmp}/no/such/dir/o.csv", "--export {tmp}/o.csv"),
    ],
)
def test_every_argument_is_checked_before_the_create(ip, sandbox, tmp_path, bad, good):
    result, out = run(ip, "%autoenhance_order Kitchen " + bad.format(tmp=tmp_path))
    assert not result.success, out
    assert posts(sandbox) == 0, "the order was created before the bad argument was seen"
    result, out = run(ip, "%autoenhance_order Kitchen " + good.format(tmp=tmp_path))
    assert result.success, out
    assert [o["name"] for o in sandbox.orders] == ["Kitchen"]


# -- 13. a renamed order is still the cell's own --------------------------------------------
@pytest.mark.parametrize("after", ["refresh", "restart"])
def test_a_cell_recognises_its_own_renamed_order(ip, sandbox, after):
    cell = "%%autoenhance_order\nKitchen\nHall\n"
    result, out = run(ip, cell)
    assert result.success, out
    kitchen = next(o["order_id"] for o in sandbox.orders if o["name"] == "Kitchen")
    ae.session().client.update_order(kitchen, name="Kitchen (renamed)")
    if after == "refresh":
        run(ip, "%autoenhance_order --refresh")
    else:
        ae.session().use_client(ae.session().client)  # an empty table, as after a restart
    result, out = run(ip, cell)
    assert result.success, out
    assert "already used by another order" not in out
    assert len(sandbox.orders) == 2, [o["name"] for o in sandbox.orders]


# -- 14. ids are printed escaped --------------------------------------------------------------
@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\u2028"], ids=["RLO", "ZWSP", "LSEP"])
def test_an_id_with_invisible_or_bidi_characters_is_printed_escaped(ip, sandbox, char):
    oid = f"ab{char}cd"
    texts = []
    # run_line_magic: the line reaches the magic as typed (a cell would be split at
    # U+2028 by IPython's own input handling), and the returned table is not displayed
    for line in (f"Kitchen --order-id '{oid}'", f"--add-images '{oid}' '/no/such/*.jpg'"):
        with capture_output() as cap:
            try:
                ip.run_line_magic("autoenhance_order", line)
            except Exception as exc:  # noqa: BLE001 - its message is printed output too
                texts.append(str(exc))
        texts.append(cap.stdout + cap.stderr)
    assert [o["order_id"] for o in sandbox.orders] in ([oid], [])
    for text in texts:
        for raw in ("\u202e", "\u200b", "\u2028"):
            assert raw not in text, f"raw U+{ord(raw):04X} printed: {text[:200]!r}"


# -- 15. --export to a folder or to nothing ------------------------------------------------------
@pytest.mark.parametrize("target", ["{tmp}/newdir/", "''", "{tmp}/"])
def test_export_to_a_folder_or_an_empty_path_is_a_usage_error(ip, tmp_path, target):
    run(ip, "%autoenhance_order Kitchen")
    before = sorted(os.listdir(tmp_path))
    result, out = run(ip, "%autoenhance_order --export " + target.format(tmp=tmp_path))
    assert not result.success, f"--export {target} succeeded: {out[-200:]}"
    assert isinstance(result.error_in_exec, UsageError) or "UsageError" in out
    assert sorted(os.listdir(tmp_path)) == before, "something was written"
