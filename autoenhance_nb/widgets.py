"""``OrderForm``: an ipywidgets form to create, refresh and export orders.

Thin on purpose: each button turns a click into a call on the ``OrderTracker`` and
renders what comes back. Work runs in a background thread so the notebook never
freezes; results go to the message line (never ``print`` from a callback: JupyterLab
drops it). Tests drive it with ``.value`` and ``.click()`` and then ``wait()``.
"""

from __future__ import annotations

import base64
import html
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from . import errors as E
from .client import AutoenhanceClient
from .display import created_line, environment_badge, message_html, refreshed_line, render_table
from .errors import one_line
from .ids import order_id_problem
from .keys import ApiKey, hide_key
from .session import (
    check_key_works,
    current_context,
    current_session,
    session,
    use_live,
    use_sandbox,
)
from .table import FINISHED_STATUSES, orders
from .tracker import OrderTracker, TableState

__all__ = ["OrderForm"]

#: Files up to this size get an in-page download link (a data: URL, so it works in
#: JupyterLab, Notebook, Voila and Binder alike without knowing the server's paths).
DOWNLOAD_LINK_MAX_BYTES = 10 * 1024 * 1024

#: What the form says when the "CSV file" field names anything but a plain file name.
#: The form's own layout rules: the table's HTML widget may shrink below the table's
#: width (its box then scrolls sideways), so a narrow window never cuts the table off.
FORM_CSS = (
    "<style>"
    ".ae-form .ae-table{max-width:100%;min-width:0}"
    ".ae-form .ae-table>.widget-html-content{min-width:0;max-width:100%;flex:1 1 auto}"
    "</style>"
)

BAD_CSV_NAME = (
    "Give the CSV file a plain name such as orders.csv: no folders, '/', '\\', '..' or "
    "'~', and not starting with '.'"
)


def csv_name(text: str) -> tuple[str | None, str | None]:
    """(the file name to write inside the export folder, None) or (None, why not).

    Only a plain name is accepted: never a path, a parent folder, a home folder or a
    hidden file, so that a visitor of the notebook cannot write outside the export
    folder. ``.csv`` is added when missing."""
    name = text.strip()
    if not name:
        return None, "Give the CSV file a name first"
    if (
        any(sep in name for sep in ("/", "\\", ":", "\0"))
        or name.startswith((".", "~"))
        or not name.isprintable()
        or os.path.isabs(name)
    ):
        return None, BAD_CSV_NAME
    if not name.lower().endswith(".csv"):
        name += ".csv"
    return name, None


class OrderForm(w.VBox):
    """A form over an ``OrderTracker`` (the session's by default).

    from autoenhance_nb import OrderForm
    OrderForm()            # as a cell's last expression, or display(OrderForm())
    """

    def __init__(
        self,
        tracker: OrderTracker | None = None,
        *,
        auto_refresh_interval: float = 3.0,
        auto_refresh_max_seconds: float = 1800.0,
        rows: int = 50,
        export_dir: str | os.PathLike[str] | None = None,
    ):
        self.tracker = tracker if tracker is not None else session()
        #: The folder the "Export CSV" button writes into (the notebook author's choice;
        #: the visitor only names a file in it). Default: the kernel's working folder,
        #: which is the notebook's folder in JupyterLab.
        self.export_dir = Path(export_dir) if export_dir is not None else Path.cwd()
        self._held_key: ApiKey | None = None
        self._parked: tuple[AutoenhanceClient, TableState] | None = None
        self._shown_client: AutoenhanceClient | None = None
        self.auto_refresh_interval = auto_refresh_interval
        self.auto_refresh_max_seconds = auto_refresh_max_seconds
        self.rows = rows
        self._busy = threading.Lock()
        self._worker: threading.Thread | None = None
        self._auto_stop = threading.Event()
        self._auto_thread: threading.Thread | None = None

        self.header = w.HTML().add_class("ae-header")
        self.name = w.Text(
            description="Order name",
            placeholder="e.g. Kitchen – 12 Rue Oberkampf",
            style={"description_width": "140px"},
            layout=_field_layout(520),
        ).add_class("ae-name")
        self.name_error = w.HTML().add_class("ae-name-error")
        self.order_id = w.Text(
            description="Order ID (optional)",
            placeholder="generated if empty",
            style={"description_width": "140px"},
            layout=_field_layout(520),
        ).add_class("ae-order-id")
        self.order_id_error = w.HTML().add_class("ae-order-id-error")
        self.create_button = w.Button(
            description="Create order", button_style="primary", icon="plus", layout=_auto()
        ).add_class("ae-create")
        self.refresh_button = w.Button(
            description="Refresh statuses", icon="refresh", layout=_auto()
        ).add_class("ae-refresh")
        self.auto_refresh = w.ToggleButton(
            description="Auto-refresh",
            value=False,
            icon="clock-o",
            tooltip="Refresh every few seconds until no order is processing",
            layout=_auto(),
        ).add_class("ae-auto")
        self.filename = w.Text(
            value="orders.csv",
            description="CSV file",
            placeholder="orders.csv",
            tooltip="A file name; the file goes into the notebook's export folder",
            style={"description_width": "140px"},
            layout=_field_layout(360),
        ).add_class("ae-filename")
        self.export_button = w.Button(
            description="Export CSV", icon="download", layout=_auto()
        ).add_class("ae-export")
        self.download = w.HTML().add_class("ae-download")
        self.photos = w.FileUpload(
            accept="image/*", multiple=True, description="Add photos", layout=_auto()
        ).add_class("ae-photos")
        self.photo_target = w.Dropdown(
            description="to order",
            options=[("the new order", "")],
            value="",
            style={"description_width": "60px"},
            layout=_field_layout(380),
        ).add_class("ae-photo-target")
        self.upload_button = w.Button(
            description="Upload photos", icon="upload", layout=_auto()
        ).add_class("ae-upload")
        self.message = w.HTML().add_class("ae-message")
        self.api_key = w.Password(
            description="API key",
            placeholder="paste your key",
            continuous_update=False,
            style={"description_width": "140px"},
            layout=_field_layout(360),
        ).add_class("ae-api-key")
        self.live_button = w.Button(
            description="Use live API", button_style="warning", layout=_auto()
        ).add_class("ae-live")
        self.sandbox_button = w.Button(
            description="Back to sandbox",
            icon="undo",
            tooltip="Go back to the built-in sandbox and its table",
            layout=_auto(),
        ).add_class("ae-sandbox")
        self.live_box = _row(self.api_key, self.live_button, self.sandbox_button).add_class(
            "ae-live-box"
        )
        self.table = w.HTML(layout=w.Layout(max_width="100%")).add_class("ae-table")

        super().__init__(
            [
                self.header,
                _row(self.name, self.name_error),
                _row(self.order_id, self.order_id_error),
                _row(self.photos, self.photo_target, self.upload_button),
                _row(self.create_button, self.refresh_button, self.auto_refresh),
                _row(self.filename, self.export_button, self.download),
                self.message,
                self.live_box,
                self.table,
            ],
            layout=w.Layout(max_width="100%"),
        )
        self.add_class("ae-form")

        self.create_button.on_click(lambda _: self.submit())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.export_button.on_click(lambda _: self.export())
        self.upload_button.on_click(lambda _: self.upload())
        self.live_button.on_click(lambda _: self.go_live())
        self.sandbox_button.on_click(lambda _: self.go_sandbox())
        self.api_key.observe(self._take_key, names="value")
        self.name.observe(self._clear_name_error, names="value")
        self.order_id.observe(lambda _: self._validate(), names="value")
        self.auto_refresh.observe(self._on_auto_toggle, names="value")
        self._unsubscribe = self.tracker.on_change(_weak_render(self))
        self._validate()
        self._render()

    @property
    def _action_buttons(self) -> tuple[w.Button, ...]:
        return (
            self.create_button,
            self.refresh_button,
            self.export_button,
            self.upload_button,
            self.live_button,
            self.sandbox_button,
        )

    # -- state ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._busy.locked()

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the action in flight (if any) is done. For tests and scripts."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            if worker.is_alive():
                raise TimeoutError("the form's action is still running")

    def close(self) -> None:
        # also called (by Widget.__del__) on a form whose __init__ failed half way
        if hasattr(self, "_auto_stop"):
            self._auto_stop.set()
        if hasattr(self, "_unsubscribe"):
            self._unsubscribe()
        super().close()

    def _say(self, text: str, kind: str = "info") -> None:
        self.message.value = message_html(text, kind)

    def _validate(self) -> bool:
        problem = order_id_problem(self.order_id.value) if self.order_id.value else None
        self.order_id_error.value = (
            f'<span style="color:#b91c1c">Order ID {html.escape(problem)}</span>' if problem else ""
        )
        self.create_button.disabled = bool(problem) or self.busy
        return problem is None

    def _take_key(self, change: dict[str, Any]) -> None:
        """Move a key out of the password field the moment it arrives (typed and the
        field left, or set from Python) into this kernel's memory only, and clear the
        field, so the key is never in the widget state a saved notebook keeps."""
        if not change["new"]:
            return
        held, problem = hide_key(change["new"])
        del change  # no frame of a verbose traceback keeps the plain key
        self.api_key.value = ""
        self._held_key = held
        if held is None:
            self._say(f"That API key cannot be used: {problem}", "error")
        else:
            self.api_key.placeholder = "key held in memory: click Use live API"
            self._say("API key kept in memory only (not in the notebook): click Use live API")

    def _clear_name_error(self, _change: object = None) -> None:
        if self.name_error.value and self.name.value.strip():
            self.name_error.value = ""

    def _is_live(self) -> bool:
        """Whether the form is past the sandbox: the live API, or an API it switched to
        (what "Back to sandbox" would undo)."""
        if self.tracker.environment == "live":
            return True
        if self.tracker is current_session():
            ctx = current_context()
            return ctx is not None and "sandbox" in ctx.parked
        return self._parked is not None

    def _render(self, *_: object) -> None:
        if self.tracker.client is not self._shown_client:
            # another API: the last export's link is of the old table
            if self._shown_client is not None:
                self.download.value = ""
            self._shown_client = self.tracker.client
        env = self.tracker.environment
        note = " &middot; built-in sandbox: nothing reaches Autoenhance" if env == "sandbox" else ""
        self.header.value = FORM_CSS + (
            f"<div><b>Autoenhance orders</b> {environment_badge(env)} "
            f"{html.escape(self.tracker.client.host)}{note}</div>"
        )
        live = self._is_live()
        for part in (self.api_key, self.live_button):
            part.layout.display = "none" if live else None
        self.sandbox_button.layout.display = None if live else "none"
        latest = self.tracker.latest(self.rows)
        self.table.value = render_table(self.tracker, max_rows=self.rows, latest=latest)
        options = [("the new order", "")] + [
            (f"{one_line(n or '(no name)', 40)} · {one_line(o, 24)}", o)
            for o, n in zip(
                reversed(list(latest["order_id"])), reversed(list(latest["name"])), strict=False
            )
        ]
        if options != list(self.photo_target.options):
            current = self.photo_target.value
            with self.photo_target.hold_trait_notifications():
                self.photo_target.options = options
                self.photo_target.value = current if current in dict(options).values() else ""

    # -- actions -------------------------------------------------------------------------
    def _run(self, label_button: w.Button, busy_label: str, job: Callable[[], None]) -> bool:
        """Run ``job`` in a background thread with ``label_button`` disabled and relabelled;
        refuse (return False) while another action is in flight."""
        if not self._busy.acquire(blocking=False):
            return False
        original = label_button.description
        label_button.description = busy_label
        for b in self._action_buttons:
            b.disabled = True

        def work() -> None:
            try:
                job()
            except Exception as exc:  # shown in the message line, never lost in a thread
                self._say(_message(exc), "error")
            finally:
                label_button.description = original
                self._busy.release()
                for b in self._action_buttons:
                    b.disabled = False
                self._validate()

        self._worker = threading.Thread(target=work, name="autoenhance-form", daemon=True)
        self._worker.start()
        return True

    def submit(self) -> bool:
        """Create an order from the fields (what "Create order" does)."""
        if not self._validate() or self.busy:
            return False
        if not self.name.value.strip():
            self.name_error.value = message_html("Give the order a name first", "error")
            return False
        name = self.name.value.strip()
        order_id = self.order_id.value.strip() or None

        def job() -> None:
            self._say("Creating…")
            # resume: after a lost answer the same id is resent, so a retry finds the
            # order the lost attempt made instead of duplicating it
            order = self.tracker.create(name=name, order_id=order_id, source="form", resume=True)
            self.name.value = ""
            self.order_id.value = ""
            created = created_line(order)
            if self.photos.value and not self.photo_target.value:
                self._say(created + "; uploading its photos…")
                self._upload_into(order["order_id"], prefix=created + "; ")
            else:
                self._say(created, "ok")

        return self._run(self.create_button, "Creating…", job)

    def upload(self) -> bool:
        """Upload the chosen photos into the order picked in "to order" (what "Upload
        photos" does); with "the new order" picked, they go in with the next Create."""
        if not self.photos.value:
            self._say("Choose photos with “Add photos” first", "error")
            return False
        order_id = self.photo_target.value
        if not order_id:
            self._say(
                "Pick an order in “to order”, or fill in the form and click Create "
                "order: the photos go into the new order",
                "error",
            )
            return False
        return self._run(self.upload_button, "Uploading…", lambda: self._upload_into(order_id))

    def _upload_into(self, order_id: str, prefix: str = "") -> None:
        files = [(f["name"], bytes(f["content"])) for f in self.photos.value]

        def progress(done: int, total: int, name: str) -> None:
            self._say(f"{prefix}uploading photos: {done} of {total} done")

        result = self.tracker.add_images(order_id, files, progress=False, on_progress=progress)
        # the photos' bytes would otherwise be saved in the notebook with the widget state
        self.photos.value = ()
        text = f"{prefix}photos for {order_id}: {result.summary()}"
        if result.failed:
            text += " – " + "; ".join(f"{f.item['source']}: {f.message}" for f in result.failed[:3])
        self._say(text, "error" if result.failed else "ok")

    def refresh(self) -> bool:
        """Re-fetch every order's status (what "Refresh statuses" does)."""

        def job() -> None:
            self._say(refreshed_line(self.tracker.refresh()), "ok")

        return self._run(self.refresh_button, "Refreshing…", job)

    def export(self) -> bool:
        """Write the table to the CSV file named in the field, then offer a download link."""
        filename, problem = csv_name(self.filename.value)
        if filename is None:
            self.download.value = ""
            self._say(problem or BAD_CSV_NAME, "error")
            return False
        folder = self.export_dir

        def job() -> None:
            self.download.value = ""
            try:
                target = folder.resolve() / filename
                if target.is_symlink() or target.resolve().parent != folder.resolve():
                    raise PermissionError(f"{filename} points outside the export folder")
                path = self.tracker.to_csv(target)
            except Exception as exc:
                # the kernel's paths are the server's business, not the visitor's
                text = _message(exc)
                for shown in {str(folder), str(folder.resolve())}:
                    text = text.replace(shown, "the export folder")
                self._say(f"Could not export {filename}: {text}", "error")
                return
            rows = len(self.tracker)
            self.download.value = _download_link(path, rows)
            self._say(f"Exported {orders(rows)} to {filename}", "ok")

        return self._run(self.export_button, "Exporting…", job)

    def go_live(self) -> bool:
        """Switch to the live API with the key taken from the password field (what "Use
        live API" does). The key is checked with one request first: a refused key
        leaves the table and the API as they were. Runs in the background; ``wait()``."""
        key, self._held_key = self._held_key, None
        if key is None:
            self._say("Paste your Autoenhance API key first", "error")
            return False
        tracker = self.tracker

        def job() -> None:
            self._say("Checking the key…")
            if tracker is current_session():
                use_live(key)
            else:
                client = AutoenhanceClient(api_key=key)
                check_key_works(client)
                old_client = tracker.client
                old_state = tracker.use_client(client)
                if self._parked is None:  # the first API is the one to go back to
                    self._parked = (old_client, old_state)
            self.api_key.placeholder = "paste your key"
            self._render()
            self._say(
                f"Now using the {tracker.environment_label} API; the key is kept in memory only",
                "ok",
            )

        if not self._run(self.live_button, "Checking key…", job):
            self._held_key = key  # busy: keep it for the next click
            return False
        return True

    def go_sandbox(self) -> bool:
        """Go back to the sandbox and its table (what "Back to sandbox" does)."""
        tracker = self.tracker

        def job() -> None:
            if tracker is current_session():
                use_sandbox()
            elif self._parked is not None:
                parked, self._parked = self._parked, None
                tracker.use_client(*parked)
            self._render()
            self._say(f"Back to the {tracker.environment_label} API", "ok")

        return self._run(self.sandbox_button, "Switching…", job)

    # -- static views ---------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        """The live widget view, plus what a saved or static notebook shows without a
        kernel (nbconvert, GitHub): one text line, and the table as HTML."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        n = len(self.tracker)
        data["text/plain"] = (
            f"Autoenhance order form (needs a live kernel): {orders(n)} in the table "
            f"[{self.tracker.environment_label}]"
        )
        data["text/html"] = (
            '<div class="ae-form-static"><p><i>Autoenhance order form: it needs a live '
            "kernel (run the cell). The table when the notebook was saved:</i></p>"
            + render_table(self.tracker, max_rows=self.rows)
            + "</div>"
        )
        return data

    # -- auto-refresh -----------------------------------------------------------------------
    def _on_auto_toggle(self, change) -> None:
        if change["new"]:
            self._auto_stop.clear()
            self._auto_thread = threading.Thread(
                target=self._auto_loop, daemon=True, name="autoenhance-auto-refresh"
            )
            self._auto_thread.start()
        else:
            self._auto_stop.set()

    def _auto_loop(self) -> None:
        import time

        deadline = time.monotonic() + self.auto_refresh_max_seconds
        while not self._auto_stop.is_set():
            try:
                self.tracker.refresh()
            except Exception as exc:
                self._say(f"Auto-refresh: {_message(exc)}", "error")
            counts = self.tracker.status_counts()
            if not counts.get("processing"):
                finished = sum(v for k, v in counts.items() if k in FINISHED_STATUSES)
                self._say(
                    f"Auto-refresh stopped: no order is processing "
                    f"({finished} of {len(self.tracker)} done)",
                    "info",
                )
                break
            if time.monotonic() > deadline:
                self._say("Auto-refresh stopped after its time limit", "info")
                break
            self._auto_stop.wait(self.auto_refresh_interval)
        self._auto_stop.set()
        self.auto_refresh.value = False

    def wait_auto_refresh(self, timeout: float = 60.0) -> None:
        thread = self._auto_thread
        if thread is not None:
            thread.join(timeout)


def _auto() -> w.Layout:
    """A button's layout: as wide as its label, never squeezed (rows wrap instead)."""
    return w.Layout(width="auto", flex="0 0 auto")


def _field_layout(max_px: int) -> w.Layout:
    """A field that grows to ``max_px`` and shrinks with a narrow window."""
    return w.Layout(width="auto", flex=f"0 1 {max_px}px", max_width="100%", min_width="0")


def _row(*children: w.Widget) -> w.HBox:
    """A row that wraps onto more lines in a narrow window instead of cutting labels."""
    return w.HBox(list(children), layout=w.Layout(flex_flow="row wrap", max_width="100%"))


def _weak_render(form: OrderForm) -> Callable[[OrderTracker], None]:
    """Re-render on tracker changes without keeping a closed form alive."""
    ref = weakref.ref(form)

    def render(_tracker: OrderTracker) -> None:
        target = ref()
        if target is not None:
            target._render()

    return render


def _message(exc: BaseException) -> str:
    if isinstance(exc, E.AutoenhanceError):
        return str(exc)
    return one_line(f"{type(exc).__name__}: {exc}", 300)


def _download_link(path: Path, rows: int) -> str:
    size = path.stat().st_size
    label = f"{html.escape(path.name)} ({rows} rows)"
    if size > DOWNLOAD_LINK_MAX_BYTES:
        return f"<span>{label} is {size // (1024 * 1024)} MB: open it from the file browser</span>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<a class="ae-download-link" download="{html.escape(path.name)}" '
        f'href="data:text/csv;charset=utf-8;base64,{data}">Download {label}</a>'
    )
