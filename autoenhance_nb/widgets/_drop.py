"""``DropZone``: photos dropped on the page (files, or a shoot's folder of brackets) or
chosen with a click, received in the kernel.

ipywidgets' ``FileUpload`` keeps its file input out of the page, so nothing accepts a
drop; this widget draws its own zone (``_drop.js`` and ``_drop.css``, shipped in the
package and loaded by anywidget: no CDN). The page reads each file in chunks of at most
2 MiB and sends one comm message per chunk (a 15 MB photo never meets the server's
10 MiB websocket message limit). It sends no byte before the kernel takes the drop, and
waits for the kernel's acknowledgement once 8 MiB are unanswered, so a whole shoot never
piles gigabytes into the page's socket or the kernel's queue. A drop that would hold
more than ``max_bytes`` in the kernel is refused in one line, before any byte is sent.
``value`` has the shape of ``FileUpload.value`` (``name``, ``type``, ``size``,
``content``, ``last_modified``) and is never synced: the photos' bytes stay in the
kernel, out of the widget state and the saved notebook; the page sees only ``count``."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..errors import one_line

__all__ = ["DropZone"]

HERE = Path(__file__).resolve().parent
#: How many files one drop may announce (a shoot is a few hundred).
MAX_FILES = 2000
#: The largest file accepted, in bytes (a raw frame is well under this).
MAX_SIZE = 200 * 1024 * 1024
#: The most photo bytes held in the kernel at once, over all drops (``max_bytes``).
MAX_HELD = 2 * 1024**3
#: Seconds without a piece after which a drop still arriving is given up (its page was
#: closed or re-rendered mid-send): it no longer counts against ``max_bytes``.
STALE_SECONDS = 60.0
#: What a refused drop's line suggests, in a notebook.
BIGGER = (
    'Drop fewer, or send them from their folder: %autoenhance_order --add-images ID "dir/*.jpg"'
)


@dataclass
class _Batch:
    """One drop (or one choice in the dialog) on its way: what was announced, what came."""

    files: list[dict[str, Any]]
    parts: list[bytearray] = field(default_factory=list)
    received: int = 0
    touched: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.parts = [bytearray() for _ in self.files]

    def done(self) -> bool:
        return all(len(p) == f["size"] for p, f in zip(self.parts, self.files, strict=True))

    def value(self) -> list[dict[str, Any]]:
        return [
            dict(meta, content=memoryview(part))  # the batch is let go: no copy
            for meta, part in zip(self.files, self.parts, strict=True)
        ]


def _meta(item: Any) -> dict[str, Any] | None:
    """A file as announced by the page, checked; None when it is not one."""
    if not isinstance(item, dict):
        return None
    name, size, kind = item.get("name"), item.get("size"), item.get("type", "")
    if not isinstance(name, str) or not name or not isinstance(kind, str):
        return None
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
        return None
    stamp = item.get("last_modified")
    when = None
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        try:
            when = datetime.fromtimestamp(stamp / 1000, timezone.utc)
        except (OverflowError, OSError, ValueError):
            when = None
    return {"name": name, "type": kind, "size": size, "last_modified": when}


class DropZone(anywidget.AnyWidget):
    """A zone that reads "Drop photos here or click to choose (n)": a real button (Tab
    reaches it, Enter or a click opens the file dialog, several files at once), a drop
    of files or folders (walked to the bottom, sorted by path), and "Clear"."""

    _esm = HERE / "_drop.js"
    _css = HERE / "_drop.css"
    #: The chosen photos, as ``FileUpload.value`` holds them. Kept in the kernel only.
    value = traitlets.Tuple()
    #: How many photos are chosen: what the page shows as "(n)".
    count = traitlets.Int(0).tag(sync=True)
    #: The zone's hover text.
    hint = traitlets.Unicode("").tag(sync=True)
    #: The last problem with what the page sent, in one line ("" when none).
    note = traitlets.Unicode("")
    #: The most photo bytes held at once (chosen, and arriving); a drop past it is
    #: refused before its bytes are sent.
    max_bytes = traitlets.Int(MAX_HELD)
    #: What the line refusing a drop suggests instead (the desk has its own words).
    bigger = traitlets.Unicode(BIGGER)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._batches: dict[str, _Batch] = {}
        #: refused, cleared or complete: pieces still in flight for them are let go
        self._ended: deque[str] = deque(maxlen=1000)
        self.on_msg(self._receive)

    @traitlets.observe("value")
    def _count(self, change: dict[str, Any]) -> None:
        self.count = len(change["new"])

    def clear(self) -> None:
        """Forget the chosen photos (and any drop still arriving: the page stops it)."""
        for batch in list(self._batches):
            self._stop(batch, "")
        self.value = ()

    def held(self) -> int:
        """The photo bytes the kernel holds, or will once the drops arriving arrive."""
        chosen = sum(int(f.get("size") or 0) for f in self.value)
        return chosen + sum(sum(f["size"] for f in b.files) for b in self._batches.values())

    def _stop(self, batch: str, reason: str) -> None:
        """The page stops sending ``batch`` (its pieces in flight are let go)."""
        self._batches.pop(batch, None)
        self._ended.append(batch)
        self.send({"kind": "refused", "batch": batch, "reason": reason})

    def _refuse(self, batch: str, reason: str) -> None:
        """Stop ``batch`` and say why, in one line."""
        self._stop(batch, one_line(reason, 200))
        self._tell(reason)

    def _receive(self, _: Any, content: Any, buffers: list[Any] | None) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "clear":
            self.clear()
        elif kind == "batch":
            self._begin(content)
        elif kind == "chunk":
            self._chunk(content, list(buffers or ()))
        else:
            self._ignore(f"a message of unknown kind {kind!r}")

    def _tell(self, text: str) -> None:
        self.note = ""  # the same note again is news too
        self.note = one_line(text, 200)

    def _ignore(self, what: str) -> None:
        self._tell(f"Ignored {what} from the drop zone")

    def _begin(self, content: dict[str, Any]) -> None:
        batch, files = content.get("batch"), content.get("files")
        if not isinstance(batch, str):
            self._ignore("a batch without an id")
            return
        if not isinstance(files, list) or len(files) > MAX_FILES:
            self._refuse(batch, f"Not taken: at most {MAX_FILES} photos at once. {self.bigger}")
            return
        metas = [_meta(item) for item in files]
        checked = [m for m in metas if m is not None]
        skipped = [s for s in content.get("skipped") or () if isinstance(s, str)]
        if len(checked) < len(metas):
            bad = len(metas) - len(checked)
            self._refuse(batch, f"Not taken: {bad} file(s) without a name or a size up to 200 MB")
            return
        self._let_go_of_stale()
        total, held = sum(m["size"] for m in checked), self.held()
        if total + held > self.max_bytes:
            chosen = f" ({_size(held)} chosen already)" if held else ""
            self._refuse(
                batch,
                f"Not taken: {_size(total)} of photos; the kernel holds at most "
                f"{_size(self.max_bytes)} at once{chosen}. {self.bigger}",
            )
            return
        if skipped:
            names = ", ".join(skipped[:3]) + ("…" if len(skipped) > 3 else "")
            self._tell(f"Left out {len(skipped)} file(s) that are not photos: {names}")
        self._batches[batch] = _Batch(checked)
        self.send({"kind": "ack", "batch": batch, "received": 0})  # taken: send the bytes
        self._finish(batch)

    def _let_go_of_stale(self) -> None:
        now = time.monotonic()
        for batch, arriving in list(self._batches.items()):
            if now - arriving.touched > STALE_SECONDS:
                self._stop(batch, "")

    def _chunk(self, content: dict[str, Any], buffers: list[Any]) -> None:
        batch_id = str(content.get("batch"))
        batch = self._batches.get(batch_id)
        index, offset = content.get("file"), content.get("offset")
        if batch is None and batch_id in self._ended:
            return  # in flight when its drop ended (refused, cleared, or complete)
        if batch is None or not isinstance(index, int) or not 0 <= index < len(batch.files):
            self._ignore("a piece of a file that was not announced")
            return
        part, size = batch.parts[index], batch.files[index]["size"]
        piece = bytes(buffers[0]) if len(buffers) == 1 else None
        if piece is None or offset != len(part) or len(part) + len(piece) > size:
            name = batch.files[index]["name"]
            self._refuse(batch_id, f"Not taken: a piece of {name!r} came out of order")
            return
        part.extend(piece)
        batch.received += len(piece)
        batch.touched = time.monotonic()
        self.send({"kind": "ack", "batch": batch_id, "received": batch.received})
        self._finish(batch_id)

    def _finish(self, batch: str) -> None:
        """Once every file of ``batch`` has all its bytes, add them to ``value``."""
        arrived = self._batches[batch]
        if arrived.done():
            del self._batches[batch]
            self._ended.append(batch)  # an empty last file's piece may still come
            if arrived.files:
                self.value = (*self.value, *arrived.value())


def _size(n: int) -> str:
    """Bytes in words: "740 MB", "2.1 GB", "12 kB", "9 bytes"."""
    if n >= 1000**3:
        return f"{n / 1000**3:.1f} GB"
    if n >= 1000**2:
        return f"{n / 1000**2:.0f} MB"
    return f"{n / 1000:.0f} kB" if n >= 1000 else f"{n} bytes"
