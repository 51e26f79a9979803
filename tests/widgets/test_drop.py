"""The drop zone's kernel side: the page's messages (a batch naming the files, then each
file's bytes in chunks) become ``value`` in ``FileUpload``'s shape; bad messages are
ignored with a one-line note; the bytes never enter the widget state."""

from __future__ import annotations

import json

from autoenhance_nb.widgets._drop import DropZone


def _send(zone: DropZone, content: dict, *buffers: bytes) -> None:
    """What ipywidgets does with a custom message from the page."""
    zone._handle_custom_msg(content, [memoryview(b) for b in buffers])


def _announce(zone: DropZone, batch: str, *files: tuple[str, bytes], skipped=()) -> None:
    meta = [
        {"name": n, "type": "image/jpeg", "size": len(b), "last_modified": 1_700_000_000_000}
        for n, b in files
    ]
    _send(zone, {"kind": "batch", "batch": batch, "files": meta, "skipped": list(skipped)})


def test_files_arrive_in_chunks_and_count():
    zone = DropZone()
    counts = []
    zone.observe(lambda c: counts.append(c["new"]), names="count")
    a, b = b"\xff\xd8" + b"a" * 10, b"\xff\xd8" + b"b" * 5
    _announce(zone, "1", ("a.jpg", a), ("b.jpg", b))
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 0}, a[:4])
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 4}, a[4:])
    assert zone.value == () and zone.count == 0  # b has not come yet
    _send(zone, {"kind": "chunk", "batch": "1", "file": 1, "offset": 0}, b)
    assert [f["name"] for f in zone.value] == ["a.jpg", "b.jpg"]
    assert [bytes(f["content"]) for f in zone.value] == [a, b]
    first = zone.value[0]
    assert first["type"] == "image/jpeg" and first["size"] == len(a)
    assert first["last_modified"].year == 2023
    assert zone.count == 2 and counts == [2] and zone.note == ""
    # a second drop adds to the first; an empty file is a file too
    _announce(zone, "2", ("c.jpg", b""))
    assert zone.count == 3 and zone.value[-1]["name"] == "c.jpg"
    # "Clear" from the page
    _send(zone, {"kind": "clear"})
    assert zone.value == () and zone.count == 0
    zone.close()


def test_bad_messages_are_ignored_or_refused_with_a_one_line_note():
    zone = DropZone()
    said = _told(zone)
    notes = []
    zone.observe(lambda c: c["new"] and notes.append(c["new"]), names="note")
    data = b"x" * 8
    ignored = [  # nothing the page waits for: a note, and nothing else
        ({"kind": "nonsense"}, ()),
        ("not a dict", ()),
        ({"kind": "batch", "files": []}, ()),  # no id
        ({"kind": "chunk", "batch": "never", "file": 0, "offset": 0}, (data,)),
    ]
    for content, buffers in ignored:
        _send(zone, content, *buffers)
    assert said == [] and len(notes) == 4
    assert all("\n" not in n and n.startswith("Ignored ") for n in notes), notes
    assert "unknown kind 'nonsense'" in notes[0]
    # a batch the page waits on is refused (the page stops), with the reason
    refused = [
        {"kind": "batch", "batch": "b1", "files": [{"name": "", "size": 1}]},
        {"kind": "batch", "batch": "b2", "files": [{"name": "x.jpg", "size": -1}]},
        {"kind": "batch", "batch": "b3", "files": [{"name": "x.jpg", "size": 1}] * 2001},
    ]
    for content in refused:
        _send(zone, content)
    assert [m["kind"] for m in said] == ["refused"] * 3
    assert [m["batch"] for m in said] == ["b1", "b2", "b3"]
    assert "at most 2000 photos at once" in said[2]["reason"]
    # out of order, too long, no buffer: the batch ends (the page would wait forever for
    # bytes the kernel threw away); its later pieces are let go without a note each
    for n, bad in enumerate(
        [
            ({"offset": 3}, (data,)),
            ({"offset": 0}, (data + b"!",)),
            ({"offset": 0}, ()),
        ]
    ):
        batch = f"p{n}"
        _announce(zone, batch, ("<img src=x onerror=alert(1)>.jpg", data))
        extra, buffers = bad
        before = len(notes)
        _send(zone, {"kind": "chunk", "batch": batch, "file": 0, **extra}, *buffers)
        assert said[-1]["kind"] == "refused" and "came out of order" in said[-1]["reason"]
        _send(zone, {"kind": "chunk", "batch": batch, "file": 0, "offset": 0}, data)
        assert len(notes) == before + 1 and zone.value == ()
    # a wrong index is a piece nobody announced; the same file sent again arrives
    _announce(zone, "ok", ("<img src=x onerror=alert(1)>.jpg", data))
    _send(zone, {"kind": "chunk", "batch": "ok", "file": 5, "offset": 0}, data)
    assert notes[-1].startswith("Ignored a piece of a file that was not announced")
    _send(zone, {"kind": "chunk", "batch": "ok", "file": 0, "offset": 0}, data)
    assert zone.count == 1 and bytes(zone.value[0]["content"]) == data
    assert all("\n" not in n for n in notes), notes
    zone.close()


def test_files_that_are_not_photos_are_named_in_the_note():
    zone = DropZone()
    _announce(zone, "1", ("a.jpg", b"1"), skipped=["notes.txt", "plan.pdf"])
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 0}, b"1")
    assert zone.count == 1
    assert zone.note == "Left out 2 file(s) that are not photos: notes.txt, plan.pdf"
    zone.close()


def test_the_bytes_and_names_stay_out_of_the_widget_state():
    zone = DropZone()
    _announce(zone, "1", ("secret-name.jpg", b"PHOTO-BYTES"))
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 0}, b"PHOTO-BYTES")
    assert zone.count == 1
    state = zone.get_state()
    assert "value" not in state and state["count"] == 1
    text = json.dumps({k: v for k, v in state.items() if k != "layout"})
    assert "PHOTO-BYTES" not in text and "secret-name" not in text
    # the page's script and style come from the package (no CDN, no remote import)
    assert "createElement" in state["_esm"] and "innerHTML" not in state["_esm"]
    assert "import " not in state["_esm"] and "http" not in state["_esm"] + state["_css"]
    zone.close()


def test_the_form_counts_dropped_photos_and_clears_them(tracker, tmp_path):
    from autoenhance_nb import OrderForm

    form = OrderForm(tracker, export_dir=tmp_path)
    _announce(form.photos, "1", ("a.png", b"1"), ("b.png", b"2"))
    for i, data in enumerate((b"1", b"2")):
        _send(form.photos, {"kind": "chunk", "batch": "1", "file": i, "offset": 0}, data)
    assert form.photos.count == 2 and len(form.photos.value) == 2
    # a note naming a file with markup in its name: text in the form's message line
    _announce(form.photos, "2", ("<img src=x onerror=alert(1)>.png", b"12"))
    _send(form.photos, {"kind": "chunk", "batch": "2", "file": 0, "offset": 1}, b"2")
    assert "a piece of &#39;&lt;img src=x onerror=alert(1)&gt;.png&#39; came out of order" in (
        form.message.value
    )
    assert "<img" not in form.message.value
    form.photos.clear()
    assert form.photos.count == 0
    form.close()


def _told(zone: DropZone) -> list[dict]:
    """What the kernel tells the page (anywidget's custom messages), recorded."""
    said: list[dict] = []
    zone.send = lambda content, buffers=None: said.append(content)  # type: ignore[method-assign]
    return said


def test_the_kernel_takes_a_drop_then_acknowledges_each_piece():
    zone = DropZone()
    said = _told(zone)
    data = b"\xff\xd8" + b"a" * 10
    _announce(zone, "1", ("a.jpg", data))
    assert said == [{"kind": "ack", "batch": "1", "received": 0}]  # taken: send the bytes
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 0}, data[:5])
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 5}, data[5:])
    assert [m["received"] for m in said] == [0, 5, 12]  # the page's window moves on
    assert zone.count == 1
    zone.close()


def test_a_drop_past_what_the_kernel_may_hold_is_refused_before_its_bytes():
    zone = DropZone(max_bytes=20)
    said = _told(zone)
    notes = []
    zone.observe(lambda c: c["new"] and notes.append(c["new"]), names="note")
    _announce(zone, "1", ("a.jpg", b"\xff\xd8" + b"a" * 10))  # 12 bytes: taken
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 0}, b"\xff\xd8" + b"a" * 10)
    _announce(zone, "2", ("b.jpg", b"b" * 9))  # 12 + 9 > 20: refused
    refused = said[-1]
    assert refused["kind"] == "refused" and refused["batch"] == "2"
    assert refused["reason"].startswith(
        "Not taken: 9 bytes of photos; the kernel holds at most 20 bytes at once"
    )
    assert notes == [refused["reason"]] and "\n" not in notes[0]
    assert "--add-images" in notes[0] and "chosen already" in notes[0]
    # pieces already in flight for it are let go without a note each
    _send(zone, {"kind": "chunk", "batch": "2", "file": 0, "offset": 0}, b"b" * 9)
    assert len(notes) == 1 and zone.count == 1
    # a piece of a batch nobody announced is still worth a note
    _send(zone, {"kind": "chunk", "batch": "zzz", "file": 0, "offset": 0}, b"x")
    assert len(notes) == 2
    zone.close()


def test_clear_stops_a_drop_still_arriving():
    zone = DropZone()
    said = _told(zone)
    _announce(zone, "1", ("a.jpg", b"\xff\xd8" + b"a" * 10))
    _send(zone, {"kind": "clear"})
    assert said[-1] == {"kind": "refused", "batch": "1", "reason": ""}
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 0}, b"\xff\xd8")
    assert zone.count == 0 and zone.note == ""
    zone.close()


def test_a_drop_whose_page_went_away_stops_counting_after_a_minute():
    zone = DropZone(max_bytes=20)
    said = _told(zone)
    _announce(zone, "1", ("a.jpg", b"a" * 12))  # its view closed before any piece
    _announce(zone, "2", ("b.jpg", b"b" * 12))
    assert said[-1]["kind"] == "refused" and "(12 bytes chosen already)" in said[-1]["reason"]
    zone._batches["1"].touched -= 61  # a minute without a piece
    _announce(zone, "3", ("c.jpg", b"c" * 12))
    assert said[-2:] == [
        {"kind": "refused", "batch": "1", "reason": ""},  # let go
        {"kind": "ack", "batch": "3", "received": 0},  # taken
    ]
    zone.close()


def test_an_empty_last_file_completes_the_drop_without_a_note():
    zone = DropZone()
    _told(zone)
    _announce(zone, "1", ("a.jpg", b"\xff\xd8abc"), ("empty.jpg", b""))
    _send(zone, {"kind": "chunk", "batch": "1", "file": 0, "offset": 0}, b"\xff\xd8abc")
    assert zone.count == 2
    _send(zone, {"kind": "chunk", "batch": "1", "file": 1, "offset": 0}, b"")  # the page's
    assert zone.note == "" and zone.count == 2  # was "Ignored a piece ... not announced"
    zone.close()
