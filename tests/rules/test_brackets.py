"""HDR shoots (issue 16): grouping a shoot from its EXIF before anything is sent, the
tracker's add_brackets end to end against a running sandbox (real HTTP), dry runs that
send nothing, and the magic's handler and the form's control, driven directly."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from PIL import Image

from autoenhance_nb import errors as E
from autoenhance_nb.magic._brackets import run_brackets
from autoenhance_nb.magic._cells import MagicError
from autoenhance_nb.rules.brackets import plan_brackets
from autoenhance_nb.sandbox import Sandbox
from autoenhance_nb.widgets._brackets import BracketsChoice

from ..helpers import SAMPLES, bomb, exif_with_exposure_time, png_file, run, sample_files

_spec = importlib.util.spec_from_file_location("make_brackets", SAMPLES / "make_brackets.py")
assert _spec is not None and _spec.loader is not None
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)

EXPECTED = [
    ["DSC_0001.jpg", "DSC_0002.jpg", "DSC_0003.jpg"],
    ["DSC_0004.jpg", "DSC_0005.jpg", "DSC_0006.jpg"],
    ["DSC_0007.jpg", "DSC_0008.jpg", "DSC_0009.jpg", "DSC_0010.jpg", "DSC_0011.jpg"],
]


@pytest.fixture
def hdr():
    with Sandbox(processing_seconds=0.2, merging_seconds=0.3) as sb:
        yield sb


@pytest.fixture
def hdr_tracker(hdr):
    from autoenhance_nb import AutoenhanceClient, OrderTracker

    client = AutoenhanceClient(api_key="k", base_url=hdr.url, backoff_factor=0.01)
    yield OrderTracker(client)
    client.close()


# -- grouping, no HTTP ---------------------------------------------------------------------
def test_the_sample_shoot_has_12_small_files_of_4_views():
    files = sample_files()
    assert len(files) == 12 and all(f.stat().st_size < 8000 for f in files)


def test_sample_shoot_groups_into_three_views_from_exif_and_refuses_the_single_frame():
    grouping = plan_brackets(sample_files())
    assert [[s.name for s in g.shots] for g in grouping.accepted] == EXPECTED
    (single,) = grouping.refused
    assert [s.name for s in single.shots] == ["DSC_0012.jpg"]
    assert "single frame" in (single.problem or "") and "2 or more" in (single.problem or "")
    df = grouping.df
    assert list(df["brackets"]) == [3, 3, 5, 1]
    assert list(df["exposures"])[2] == "-4 EV, -2 EV, +0 EV, +2 EV, +4 EV"
    assert df["camera"].iloc[0] == "SONY ILCE-7M4" and df["captured"].iloc[0].startswith("2026")
    assert df["status"].iloc[3].startswith("refused: ")
    assert grouping.warnings == []


def test_the_5_bracket_view_one_second_after_the_last_is_told_apart_by_its_exposures():
    # views 2 and 3 are 1 s apart (under the 2 s gap): only the exposure sequence says
    grouping = plan_brackets(sample_files(), max_gap=60)
    assert [len(g.shots) for g in grouping.groups] == [3, 3, 5, 1]


def test_files_out_of_name_order_are_grouped_in_capture_order(tmp_path):
    for i, path in enumerate(reversed(sample_files())):
        shutil.copy(path, tmp_path / f"IMG_{i:02d}.jpg")  # names now run backwards
    grouping = plan_brackets(str(tmp_path / "*.jpg"))
    assert [len(g.shots) for g in grouping.groups] == [3, 3, 5, 1]


def test_per_image_groups_consecutive_files_and_refuses_mixed_cameras(tmp_path):
    a = make.write_shoot(tmp_path, [((-2, 0, 2), 0)], prefix="A")
    b = make.write_shoot(tmp_path, [((-2, 0, 2), 5)], prefix="B", camera=("Canon", "R5"))
    grouping = plan_brackets([*a, *b[:1]], per_image=2)
    assert [len(g.shots) for g in grouping.groups] == [2, 2]
    assert "mixes cameras" in (grouping.groups[1].problem or "")
    assert grouping.groups[0].ok


def test_files_without_exif_fall_back_to_name_order_with_a_warning(tmp_path):
    for i in range(4):
        Image.new("RGB", (20, 10), (i * 40,) * 3).save(tmp_path / f"plain_{i}.png")
    grouping = plan_brackets(str(tmp_path / "*.png"), per_image=2)
    assert [[s.name for s in g.shots] for g in grouping.groups] == [
        ["plain_0.png", "plain_1.png"],
        ["plain_2.png", "plain_3.png"],
    ]
    assert "file-name order" in grouping.warnings[0]
    auto = plan_brackets(str(tmp_path / "*.png"))
    assert not auto.accepted and "per_image=N" in (auto.groups[0].problem or "")


def test_unreadable_and_non_image_files_refuse_the_whole_plan_in_one_line(tmp_path):
    files = [shutil.copy(p, tmp_path) for p in sample_files()[:3]]
    (tmp_path / "notes.jpg").write_bytes(b"not a picture at all")
    (tmp_path / "cut.jpg").write_bytes(sample_files()[0].read_bytes()[:200])
    with pytest.raises(E.ValidationError) as info:
        plan_brackets([*files, tmp_path / "notes.jpg", tmp_path / "cut.jpg"])
    message = str(info.value)
    assert "\n" not in message and "nothing sent" in message
    assert "notes.jpg" in message and "cut.jpg" in message


def test_a_bad_per_image_is_refused():
    for bad in (1, 0, -3, "three", True):
        with pytest.raises(E.ValidationError):
            plan_brackets(sample_files(), per_image=bad)


# -- the tracker, against a running sandbox -------------------------------------------------
def test_dry_run_sends_nothing(hdr, hdr_tracker):
    hdr_tracker.create("Loft", order_id="loft")
    hdr.clear_log()
    result = hdr_tracker.add_brackets("loft", sample_files(), dry_run=True)
    assert result.dry_run and len(result.grouping.accepted) == 3
    assert hdr.request_log == []


def test_twelve_brackets_become_three_merged_processed_images(hdr, hdr_tracker, tmp_path):
    hdr_tracker.create("Loft", order_id="loft")
    result = hdr_tracker.add_brackets(
        "loft", sample_files(), options={"enhance_type": "warm"}, progress=False
    )
    assert result.ok and result.uploads is not None and len(result.uploads.done) == 11
    assert [len(g) for g in result.groups] == [3, 3, 5]
    assert result.order is not None and result.order["is_merging"] is True
    assert hdr_tracker.row("loft")["status"] == "processing"  # merging counts as processing
    hdr_tracker.watch(interval=0.1, timeout=30, progress=False)
    merged = hdr_tracker.merged_images("loft")
    assert sorted(merged["image_name"]) == ["DSC_0001.jpg", "DSC_0004.jpg", "DSC_0007.jpg"]
    assert set(merged["status"]) == {"processed"}
    assert sorted(merged["brackets"]) == [3, 3, 5]
    order = hdr_tracker.client.get_order("loft")
    assert {i["enhance_type"] for i in order["images"]} == {"warm"}
    uploaded = [b for b in hdr_tracker.client.list_brackets("loft") if b["is_uploaded"]]
    assert len(uploaded) == 11
    # a merged original really is a blend of its brackets
    first = next(i for i in order["images"] if i["image_name"] == "DSC_0001.jpg")
    path = hdr_tracker.client.download_image(first["image_id"], tmp_path / "m.jpg", "original")
    assert Image.open(path).size == (96, 64)


def test_running_it_again_sends_nothing_twice(hdr, hdr_tracker):
    hdr_tracker.create("Loft", order_id="loft")
    hdr_tracker.add_brackets("loft", sample_files(), progress=False)
    time.sleep(0.4)
    again = hdr_tracker.add_brackets("loft", sample_files(), progress=False)
    assert len(again.already_merged) == 3 and again.uploads is not None
    assert again.uploads.total == 0 and again.groups == []
    hdr_tracker.watch(interval=0.1, timeout=30, progress=False)
    assert len(hdr_tracker.client.get_order("loft")["images"]) == 3


def test_an_unknown_order_uploads_nothing(hdr, hdr_tracker):
    hdr.clear_log()
    with pytest.raises(E.NotFoundError):
        hdr_tracker.add_brackets("nope", sample_files(), progress=False)
    assert [e.method for e in hdr.request_log] == ["GET"]


# -- the magic's handler and the form's control, driven directly ------------------------------
def test_magic_handler_dry_run_prints_the_grouping_and_sends_nothing(hdr, hdr_tracker, capsys):
    hdr.clear_log()
    result = run_brackets(hdr_tracker, None, "auto", str(SAMPLES / "*.jpg"), dry_run=True)
    out = capsys.readouterr().out
    assert "12 files in 4 groups" in out and "DSC_0007.jpg" in out and "nothing was sent" in out
    assert result.dry_run and hdr.request_log == []


def test_magic_handler_uploads_and_merges(hdr, hdr_tracker, capsys):
    hdr_tracker.create("Loft", order_id="loft")
    run_brackets(hdr_tracker, "loft", "auto", str(SAMPLES / "*.jpg"), progress=False)
    assert "3 images merging" in capsys.readouterr().out
    hdr_tracker.watch(interval=0.1, timeout=30, progress=False)
    assert sorted(hdr_tracker.merged_images("loft")["brackets"]) == [3, 3, 5]


def test_magic_handler_refuses_bad_arguments_before_any_request(hdr, hdr_tracker):
    hdr.clear_log()
    with pytest.raises(MagicError, match="'auto' or a number"):
        run_brackets(hdr_tracker, "loft", "one", str(SAMPLES / "*.jpg"))
    with pytest.raises(MagicError, match="No files match"):
        run_brackets(hdr_tracker, "loft", "3", str(SAMPLES / "*.tiff"))
    assert hdr.request_log == []


def test_form_control_previews_then_uploads(hdr, hdr_tracker):
    hdr_tracker.create("Loft", order_id="loft")
    hdr.clear_log()
    choice = BracketsChoice(hdr_tracker)
    uploads = [{"name": p.name, "content": memoryview(p.read_bytes())} for p in sample_files()]
    assert choice.preview(uploads) is None and choice.table.value == ""  # "no": not HDR
    choice.mode.value = "auto"
    assert choice.grouping is not None and len(choice.grouping.accepted) == 3
    assert "Nothing uploaded yet" in choice.table.value and "DSC_0012.jpg" in choice.table.value
    assert hdr.request_log == []  # the preview sends nothing
    choice.mode.value = 5
    assert "5 per image" in choice.table.value
    choice.mode.value = "auto"
    result = choice.add_to("loft")
    assert result.ok and [len(g) for g in result.groups] == [3, 3, 5]
    choice.close()


def test_form_control_shows_why_files_cannot_be_grouped(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"text")
    choice = BracketsChoice()
    choice.mode.value = "auto"
    assert choice.preview([tmp_path / "a.jpg"]) is None
    assert "not an image" in choice.table.value


def test_the_form_uploads_brackets_into_a_new_order(hdr, hdr_tracker, tmp_path):
    from autoenhance_nb import OrderForm

    form = OrderForm(hdr_tracker, export_dir=tmp_path)
    form.brackets.mode.value = "auto"
    form.photos.value = [
        {
            "name": p.name,
            "content": memoryview(p.read_bytes()),
            "type": "image/jpeg",
            "size": p.stat().st_size,
            "last_modified": datetime.now(timezone.utc),
        }
        for p in sample_files()
    ]
    assert "Nothing uploaded yet" in form.brackets.table.value  # the grouping, shown first
    assert hdr.request_log == []
    form.name.value = "Loft"
    assert form.submit()
    form.wait(120)
    assert "photos for" in form.message.value, form.message.value
    order_id = hdr_tracker.df["order_id"].iloc[-1]
    brackets = hdr_tracker.client.list_brackets(order_id)
    assert len(brackets) == 11 and all(b.get("is_uploaded") for b in brackets)
    assert form.photos.value == ()  # the bytes are not kept in the widget state
    form.close()


def test_the_magic_groups_uploads_and_merges_a_shoot(ip, sandbox):
    import autoenhance_nb as ae

    sandbox.merging_seconds = 0.2
    pattern = str(SAMPLES / "*.jpg")
    dry, out = run(ip, f'%autoenhance_order Loft --brackets auto "{pattern}" --dry-run')
    assert dry.success and "Dry run: nothing was sent" in out
    assert sandbox.requests_to("create_order") == []
    done, out = run(ip, f'%autoenhance_order Loft --order-id loft-m --brackets auto "{pattern}"')
    assert done.success, out
    assert "Brackets for loft-m" in out
    brackets = ae.session().client.list_brackets("loft-m")
    assert len(brackets) == 11 and all(b.get("is_uploaded") for b in brackets)
    bad, out = run(ip, f'%autoenhance_order --brackets auto "{pattern}"')
    assert not bad.success and "goes with a new order's name" in out


def test_a_bracket_line_run_again_makes_no_second_order_and_merges_nothing_twice(ip, sandbox):
    import autoenhance_nb as ae

    sandbox.merging_seconds = 0
    line = f'%autoenhance_order Loft --brackets auto "{SAMPLES / "*.jpg"}"'
    first, out = run(ip, line)
    assert first.success and "Created order nb-" in out, out
    ae.reset_session()  # a fresh kernel: only the journal remembers
    again, out = run(ip, line)  # was: a second order, 11 brackets and 3 merges paid again
    assert again.success and "made by an earlier run of this line" in out, out
    [order] = sandbox.orders
    assert order["name"] == "Loft" and len(order["images"]) == 3
    assert len(ae.session().client.list_brackets(order["order_id"])) == 11


# -- issue 22: EXIF read without decoding pixels, bombs, insane exposure values -------------
@pytest.fixture(scope="session")
def huge_png(tmp_path_factory):
    """13000 x 13000 pixels (507 MB decoded) in about 2 MB, with its EXIF after IDAT."""
    exif = make.exif_bytes(datetime(2026, 3, 14, 10, 0, 0), -2)
    return png_file(tmp_path_factory.mktemp("huge") / "huge.png", 13000, exif=exif)


RSS_SCRIPT = """
import json, resource, sys
import PIL.Image, PIL.PngImagePlugin
from autoenhance_nb.rules.brackets import read_shot
unit = 1024 * 1024 if sys.platform == "darwin" else 1024
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
shot = read_shot(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mb": (after - before) / unit, "exposure": shot.describe()}))
"""


@pytest.mark.slow  # writes a 13000 px PNG and reads it in a subprocess
def test_reading_the_exif_of_a_13000_px_png_decodes_no_pixels(huge_png):
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", RSS_SCRIPT, str(huge_png)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-1500:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["growth_mb"] < 100, f"reading the EXIF grew the peak RSS by {out['growth_mb']} MB"
    assert out["exposure"] == "-2 EV"  # the eXIf chunk after the pixel data was read


def test_an_exif_chunk_after_the_pixel_data_is_read_and_grouped(tmp_path):
    files = []
    for i, ev in enumerate((-2, 0, 2)):
        exif = make.exif_bytes(datetime(2026, 3, 14, 10, 0, i), ev)
        files.append(png_file(tmp_path / f"HDR_{i}.png", 64, exif=exif))
    grouping = plan_brackets(files)
    assert [len(g.shots) for g in grouping.accepted] == [3]
    assert list(grouping.df["exposures"]) == ["-2 EV, +0 EV, +2 EV"]
    assert grouping.df["camera"].iloc[0] == "SONY ILCE-7M4" and grouping.warnings == []


def test_a_decompression_bomb_is_a_one_line_error_naming_the_file(tmp_path):
    files = [shutil.copy(p, tmp_path) for p in sample_files()[:3]]
    with pytest.raises(E.ValidationError) as info:
        plan_brackets([*files, bomb(tmp_path / "bomb.png")])
    message = str(info.value)
    assert "\n" not in message and "nothing sent" in message
    assert "'bomb.png'" in message and "pixels" in message
    assert str(tmp_path) not in message


def test_a_decompression_bomb_uploads_nothing(hdr, hdr_tracker, tmp_path):
    hdr_tracker.create("Loft", order_id="loft")
    files = [shutil.copy(p, tmp_path) for p in sample_files()[:3]]
    hdr.clear_log()
    with pytest.raises(E.ValidationError, match="'bomb.png'"):
        hdr_tracker.add_brackets("loft", [*files, bomb(tmp_path / "bomb.png")], progress=False)
    assert hdr.request_log == []


@pytest.mark.parametrize("bad", [1e-310, 1e300, float("inf"), float("nan"), -0.5, 0.0])
def test_an_insane_exposure_time_is_treated_as_missing_with_a_warning(tmp_path, bad):
    files = []
    for i, seconds in enumerate((1 / 250, bad, 1 / 15)):
        path = tmp_path / f"IMG_{i}.jpg"
        exif = exif_with_exposure_time(datetime(2026, 3, 14, 10, 0, i), seconds)
        Image.new("RGB", (16, 8), (i * 60,) * 3).save(path, exif=exif)
        files.append(path)
    with Image.open(files[1]) as check:  # the file really carries the value
        stored = check.getexif().get_ifd(0x8769)[0x829A]
        assert stored == bad or (bad != bad and stored != stored)
    grouping = plan_brackets(files)
    assert grouping.groups[0].shots[1].exposure_time is None
    assert list(grouping.df["exposures"]) == ["1/250 s, ?, 1/15 s"]
    (warning,) = grouping.warnings
    assert "IMG_1.jpg" in warning and "exposure" in warning and "IMG_0" not in warning
