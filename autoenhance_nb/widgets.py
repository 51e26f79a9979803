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

import ipywidgets as w

from . import errors as E
from .client import AutoenhanceClient
from .display import created_line, environment_badge, message_html, refreshed_line, render_table
from .errors import one_line
from .ids import order_id_problem
from .session import current_session, session, use_live
from .table import FINISHED_STATUSES, orders
from .tracker import OrderTracker

__all__ = ["OrderForm"]

#: Files up to this size get an in-page download link (a data: URL, so it works in
#: JupyterLab, Notebook, Voila and Binder alike without knowing the server's paths).
DOWNLOAD_LINK_MAX_BYTES = 10 * 1024 * 1024


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
    ):
        self.tracker = tracker if tracker is not None else session()
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
            layout=w.Layout(width="520px"),
        ).add_class("ae-name")
        self.order_id = w.Text(
            description="Order ID (optional)",
            placeholder="generated if empty",
            style={"description_width": "140px"},
            layout=w.Layout(width="520px"),
        ).add_class("ae-order-id")
        self.order_id_error = w.HTML().add_class("ae-order-id-error")
        self.create_button = w.Button(
            description="Create order", button_style="primary", icon="plus"
        ).add_class("ae-create")
        self.refresh_button = w.Button(description="Refresh statuses", icon="refresh").add_class(
            "ae-refresh"
        )
        self.auto_refresh = w.ToggleButton(
            description="Auto-refresh",
            value=False,
            icon="clock-o",
            tooltip="Refresh every few seconds until no order is processing",
        ).add_class("ae-auto")
        self.filename = w.Text(
            value="orders.csv",
            description="CSV file",
            style={"description_width": "140px"},
            layout=w.Layout(width="360px"),
        ).add_class("ae-filename")
        self.export_button = w.Button(description="Export CSV", icon="download").add_class(
            "ae-export"
        )
        self.download = w.HTML().add_class("ae-download")
        self.photos = w.FileUpload(
            accept="image/*",
            multiple=True,
            description="Add photos",
            layout=w.Layout(width="140px"),
        ).add_class("ae-photos")
        self.photo_target = w.Dropdown(
            description="to order",
            options=[("the new order", "")],
            value="",
            style={"description_width": "60px"},
            layout=w.Layout(width="380px"),
        ).add_class("ae-photo-target")
        self.upload_button = w.Button(description="Upload photos", icon="upload").add_class(
            "ae-upload"
        )
        self.message = w.HTML().add_class("ae-message")
        self.api_key = w.Password(
            description="API key",
            placeholder="paste your key",
            continuous_update=False,
            style={"description_width": "140px"},
            layout=w.Layout(width="360px"),
        ).add_class("ae-api-key")
        self.live_button = w.Button(description="Use live API", button_style="warning").add_class(
            "ae-live"
        )
        self.live_box = w.HBox([self.api_key, self.live_button]).add_class("ae-live-box")
        self.table = w.HTML().add_class("ae-table")

        super().__init__(
            [
                self.header,
                self.name,
                w.HBox([self.order_id, self.order_id_error]),
                w.HBox([self.photos, self.photo_target, self.upload_button]),
                w.HBox([self.create_button, self.refresh_button, self.auto_refresh]),
                w.HBox([self.filename, self.export_button, self.download]),
                self.message,
                self.live_box,
                self.table,
            ]
        )
        self.add_class("ae-form")

        self.create_button.on_click(lambda _: self.submit())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.export_button.on_click(lambda _: self.export())
        self.upload_button.on_click(lambda _: self.upload())
        self.live_button.on_click(lambda _: self.go_live())
        self.order_id.observe(lambda _: self._validate(), names="value")
        self.auto_refresh.observe(self._on_auto_toggle, names="value")
        self._unsubscribe = self.tracker.on_change(_weak_render(self))
        self._validate()
        self._render()

    @property
    def _action_buttons(self) -> tuple[w.Button, ...]:
        return (self.create_button, self.refresh_button, self.export_button, self.upload_button)

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
        self._auto_stop.set()
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

    def _render(self, *_: object) -> None:
        env = self.tracker.environment
        note = " &middot; built-in sandbox: nothing reaches Autoenhance" if env == "sandbox" else ""
        self.header.value = (
            f"<div><b>Autoenhance orders</b> {environment_badge(env)} "
            f"{html.escape(self.tracker.client.host)}{note}</div>"
        )
        self.live_box.layout.display = (
            "none" if self.tracker.client.has_key and env == "live" else None
        )
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
        name = self.name.value.strip() or None
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
        filename = self.filename.value.strip()
        if not filename:
            self._say("Give the CSV file a name first", "error")
            return False

        def job() -> None:
            path = self.tracker.to_csv(os.path.expanduser(filename))
            rows = len(self.tracker)
            self.download.value = _download_link(path, rows)
            self._say(f"Exported {orders(rows)} to {path}", "ok")

        return self._run(self.export_button, "Exporting…", job)

    def go_live(self) -> bool:
        """Move the key from the password field into the client, clearing the field at
        once so the key is never saved with the notebook's widget state."""
        key = self.api_key.value
        self.api_key.value = ""
        if not key.strip():
            self._say("Paste your Autoenhance API key first", "error")
            return False
        try:
            if self.tracker is current_session():
                use_live(key)
            else:
                self.tracker.use_client(AutoenhanceClient(api_key=key.strip()))
        except (ValueError, E.AutoenhanceError) as exc:
            self._say(_message(exc), "error")
            return False
        finally:
            del key
        self._render()
        self._say(
            f"Now using the {self.tracker.environment_label} API; the key is kept in memory only",
            "ok",
        )
        return True

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
