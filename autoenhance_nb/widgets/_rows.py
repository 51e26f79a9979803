"""Two rows of the order form, each a small widget with its own action: adding photos
(or HDR brackets) to an order, and exporting the table to a CSV file in the export
folder. The form (``widgets.OrderForm``) composes them and runs their actions."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..errors import AutoenhanceError, one_line
from ..tracker import OrderTracker
from ..tracker.table import orders
from ._brackets import BracketsChoice
from ._drop import DropZone
from ._exports import BAD_NAME, ExportFolder, download_link, plain_name
from ._kit import SafeHTML, auto_layout, error_message, field_layout
from ._options import EnhancementOptions

__all__ = ["PhotoRow", "ExportRow"]

Say = Callable[..., None]
Run = Callable[[w.Button, str, Callable[[], None]], bool]


class PhotoRow(w.VBox):
    """The photos (a drop zone), "to order", "Upload photos", and HDR brackets or not."""

    def __init__(self, tracker: OrderTracker, enhancement: EnhancementOptions, say: Say, run: Run):
        self._tracker = tracker
        self._enhancement = enhancement
        self._say = say
        self._run = run
        # ipywidgets' FileUpload keeps its file input out of the page (nothing accepts a
        # drop): the drop zone takes files, folders and clicks, and keeps the bytes here
        self.photos = DropZone(
            hint="Choose photos on this computer, or drop photos or a shoot's folder here",
            layout=w.Layout(flex="1 1 300px", max_width="100%"),
        ).add_class("ae-photos")
        self.photos.observe(lambda c: c["new"] and self._say(c["new"], "error"), names="note")
        self.target = w.Dropdown(
            description="to order",
            options=[("the new order", "")],
            value="",
            style={"description_width": "60px"},
            layout=field_layout(380),
        ).add_class("ae-photo-target")
        self.upload_button = w.Button(
            description="Upload photos", icon="upload", layout=auto_layout()
        ).add_class("ae-upload")
        self.brackets = BracketsChoice(tracker).add_class("ae-brackets")
        self.photos.observe(lambda _: self.brackets.preview(self.photos.value), names="value")
        self.upload_button.on_click(lambda _: self.upload())
        super().__init__(
            [
                w.HBox(
                    [self.photos, self.target, self.upload_button],
                    layout=w.Layout(flex_flow="row wrap", max_width="100%"),
                ),
                self.brackets,
            ],
            layout=w.Layout(max_width="100%"),
        )

    def show_orders(self, order_ids: list[str], names: list[str]) -> None:
        """Offer the table's latest orders as upload targets (newest first)."""
        options = [("the new order", "")] + [
            (f"{one_line(n or '(no name)', 40)} · {one_line(o, 24)}", o)
            for o, n in zip(reversed(order_ids), reversed(names), strict=False)
        ]
        if options != list(self.target.options):
            current = self.target.value
            with self.target.hold_trait_notifications():
                self.target.options = options
                self.target.value = current if current in dict(options).values() else ""

    def options(self) -> dict[str, Any] | None:
        """The Enhancement section's options, or None (the problem said) when refused."""
        try:
            return self._enhancement.options
        except AutoenhanceError as exc:
            self._say(str(exc), "error")
            return None

    def upload(self) -> bool:
        """Upload the chosen photos into the order picked in "to order" (what "Upload
        photos" does); with "the new order" picked, they go in with the next Create."""
        if not self.photos.value:
            self._say("Choose photos first: drop them on the zone, or click it", "error")
            return False
        order_id = self.target.value
        if not order_id:
            self._say(
                "Pick an order in “to order”, or fill in the form and click Create "
                "order: the photos go into the new order",
                "error",
            )
            return False
        if self.options() is None:
            return False
        return self._run(self.upload_button, "Uploading…", lambda: self.upload_into(order_id))

    def upload_into(self, order_id: str, prefix: str = "") -> None:
        """Upload the chosen photos (or brackets) now, in the calling thread."""
        options = self._enhancement.options
        if self.brackets.enabled:
            result: Any = self.brackets.add_to(order_id, self.photos.value, options=options)
        else:
            files = [(f["name"], bytes(f["content"])) for f in self.photos.value]

            def progress(done: int, total: int, name: str) -> None:
                self._say(f"{prefix}uploading photos: {done} of {total} done")

            result = self._tracker.add_images(
                order_id, files, progress=False, on_progress=progress, **options
            )
        # the photos' bytes would otherwise be saved in the notebook with the widget state
        self.photos.value = ()
        failed = list(getattr(result, "failed", []))
        text = f"{prefix}photos for {order_id}: {result.summary()}"
        if failed:
            text += " – " + "; ".join(
                f"{f.item.get('source', '')}: {f.message}" for f in failed[:3]
            )
        self._say(text, "error" if failed else "ok")

    def close(self) -> None:
        self.brackets.close()
        super().close()


class ExportRow(w.HBox):
    """ "CSV file", "Export CSV" and the download link of the last export."""

    def __init__(
        self, tracker: OrderTracker, export_dir: str | os.PathLike[str] | None, say: Say, run: Run
    ):
        self._tracker = tracker
        self._say = say
        self._run = run
        #: The folder "Export CSV" writes into (the notebook author's choice; the visitor
        #: only names a file in it). Default: the kernel's working folder, which is the
        #: notebook's folder in JupyterLab.
        self.folder = ExportFolder(export_dir)
        self.filename = w.Text(
            value="orders.csv",
            description="CSV file",
            placeholder="orders.csv",
            tooltip="A file name; the file goes into the notebook's export folder",
            style={"description_width": "140px"},
            layout=field_layout(360),
        ).add_class("ae-filename")
        self.export_button = w.Button(
            description="Export CSV", icon="download", layout=auto_layout()
        ).add_class("ae-export")
        self.download = SafeHTML().add_class("ae-download")
        self.export_button.on_click(lambda _: self.export())
        super().__init__(
            [self.filename, self.export_button, self.download],
            layout=w.Layout(flex_flow="row wrap", max_width="100%"),
        )

    @property
    def export_dir(self) -> Path:
        return self.folder.path

    def export(self) -> bool:
        """Write the table to the CSV file named in the field (a plain name inside the
        export folder), then offer a download link."""
        filename, problem = plain_name(self.filename.value)
        if filename is None:
            self.download.value = ""
            self._say(problem or BAD_NAME, "error")
            return False
        folder = self.folder

        def job() -> None:
            self.download.value = ""
            try:
                path = self._tracker.to_csv(folder.target(filename))
            except Exception as exc:
                self._say(
                    f"Could not export {filename}: {folder.hide(error_message(exc))}", "error"
                )
                return
            rows = len(self._tracker)
            noun = "row" if rows == 1 else "rows"
            self.download.value = download_link(path, f"{path.name} ({rows} {noun})")
            self._say(f"Exported {orders(rows)} to {filename}", "ok")

        return self._run(self.export_button, "Exporting…", job)
