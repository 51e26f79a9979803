"""``OrderForm``: an ipywidgets form to create, refresh and export orders.

Thin on purpose: each button turns a click into a call on the ``OrderTracker`` and
renders what comes back. Work runs in a background thread so the notebook never
freezes; results go to the message line (never ``print`` from a callback: JupyterLab
drops it). Tests drive it with ``.value`` and ``.click()`` and then ``wait()``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ipywidgets as w

from .._session import session
from ..api import AutoenhanceClient
from ..display import (
    FORM_CSS,
    created_line,
    environment_badge,
    html,
    message_html,
    refreshed_line,
    render_table,
)
from ..rules import order_id_problem
from ..tracker import OrderTracker
from ..tracker.table import FINISHED_STATUSES, orders
from ._exports import ExportFolder
from ._kit import (
    AutoRefresher,
    BackgroundActions,
    SafeHTML,
    close_parts,
    close_tree,
    error_message,
    weak_method,
)
from ._kit import auto_layout as _auto
from ._kit import field_layout as _field_layout
from ._kit import row as _row
from ._live import LiveControls
from ._options import EnhancementOptions, ImageActions
from ._rows import ExportRow, PhotoRow
from .gallery import add_gallery_picker

__all__ = ["OrderForm"]


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
        allow_key_entry: bool = True,
        show_environment: bool = True,
    ):
        self.tracker = tracker if tracker is not None else session()
        self._shown_client: AutoenhanceClient | None = None
        self.rows = rows
        #: False: the page around the form shows the environment (the desk's title)
        self.show_environment = show_environment
        self._actions = BackgroundActions(
            lambda: self._action_buttons, lambda text: self._say(text, "error"), self._validate
        )
        self._auto = AutoRefresher(
            self._auto_step,
            self._auto_stopped,
            auto_refresh_interval,
            auto_refresh_max_seconds,
            pace=self.tracker.events.poll_interval,
            check=self._auto_check,
        )
        self._make_fields()
        self._make_parts(export_dir, allow_key_entry)
        # the first screen leads: name, photos, preset, Create; then what came of it
        super().__init__(
            [
                self.header,
                _row(self.name, self.name_error, self.order_id, self.order_id_error),
                self.photo_row,
                _row(self.enhancement.preset),
                _row(self.create_button, self.refresh_button, self.auto_refresh),
                self.message,
                self.table,
                self.export_row,
                self.details,
                *([self.live_details] if allow_key_entry else []),
            ],
            layout=w.Layout(max_width="100%"),
        )
        self.add_class("ae-form")
        self._wire()
        self._validate()
        self._render()
        # "Gallery of" an order of the table: its photos open under the form
        self.gallery_picker = add_gallery_picker(self)

    def _make_fields(self) -> None:
        """The order's fields, the main buttons and the message line."""
        self.header = SafeHTML().add_class("ae-header")
        self.name = w.Text(
            description="Order name",
            placeholder="e.g. Kitchen – 12 Rue Oberkampf",
            style={"description_width": "140px"},
            layout=_field_layout(460),
        ).add_class("ae-name")
        self.name_error = SafeHTML().add_class("ae-name-error")
        self.order_id = w.Text(
            description="Order ID (optional)",
            placeholder="generated if empty",
            style={"description_width": "initial"},
            layout=_field_layout(360),
        ).add_class("ae-order-id")
        self.order_id_error = SafeHTML().add_class("ae-order-id-error")
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
        self.message = SafeHTML().add_class("ae-message")

    def _make_parts(self, export_dir: str | os.PathLike[str] | None, allow_key_entry: bool) -> None:
        """The form's parts: the live/sandbox switch, the table, photos, export, options."""
        self.live_box = LiveControls(self.tracker, self._say, self._run, self._render)
        self.api_key = self.live_box.api_key
        self.live_button = self.live_box.live_button
        self.sandbox_button = self.live_box.sandbox_button
        # folded away: the everyday path never needs the key
        self.live_details = w.Accordion(
            children=[self.live_box], titles=("Live API: your key",), selected_index=None
        ).add_class("ae-live-details")
        if not allow_key_entry:
            # a shared page (the desk): no key field and no live/sandbox switch, and their
            # widgets closed so that no message from a page can reach them either
            close_tree(self.live_details)
        self.table = SafeHTML(layout=w.Layout(max_width="100%")).add_class("ae-table")
        # its preset sits on the first screen, its fields in the folded section
        self.enhancement = EnhancementOptions(self.tracker, show_preset=False)
        self.photo_row = PhotoRow(self.tracker, self.enhancement, self._say, self._run)
        self.photos = self.photo_row.photos
        self.photo_target = self.photo_row.target
        self.upload_button = self.photo_row.upload_button
        self.brackets = self.photo_row.brackets
        self.export_row = ExportRow(self.tracker, export_dir, self._say, self._run)
        self.filename = self.export_row.filename
        self.export_button = self.export_row.export_button
        self.download = self.export_row.download
        self.images = ImageActions(
            self.tracker, self.enhancement, self._say, self._run, lambda: self.export_row.folder
        )
        # folded by default: the everyday path (name, photos, create) stays short
        self.details = w.Accordion(
            children=[self.enhancement, self.images],
            titles=("Enhancement options", "An image: redo, report, buy full size"),
            selected_index=None,
        ).add_class("ae-details")

    def _wire(self) -> None:
        """Buttons, fields and the tracker's changes to the form's methods."""
        self.create_button.on_click(lambda _: self.submit())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.name.observe(self._clear_name_error, names="value")
        self.order_id.observe(lambda _: self._validate(), names="value")
        self.auto_refresh.observe(self._on_auto_toggle, names="value")
        self.photo_target.observe(lambda c: self.images.show(c["new"]), names="value")
        self._unsubscribe = self.tracker.on_change(weak_method(self, "_render"))

    @property
    def _action_buttons(self) -> tuple[w.Button, ...]:
        return (
            self.create_button,
            self.refresh_button,
            self.export_button,
            self.upload_button,
            self.live_button,
            self.sandbox_button,
            *self.images.buttons,
        )

    # -- state ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._actions.busy

    @property
    def export_dir(self) -> Path:
        """The folder "Export CSV" writes into (see ``ExportRow``)."""
        return self.export_row.export_dir

    @export_dir.setter
    def export_dir(self, value: str | os.PathLike[str]) -> None:
        self.export_row.folder = ExportFolder(value)

    @property
    def auto_refresh_interval(self) -> float:
        return self._auto.interval

    @auto_refresh_interval.setter
    def auto_refresh_interval(self, value: float) -> None:
        self._auto.interval = value

    @property
    def auto_refresh_max_seconds(self) -> float:
        return self._auto.max_seconds

    @auto_refresh_max_seconds.setter
    def auto_refresh_max_seconds(self, value: float) -> None:
        self._auto.max_seconds = value

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the action in flight (if any) is done. For tests and scripts."""
        self._actions.wait(timeout)

    def close(self) -> None:
        # also called (by Widget.__del__) on a form whose __init__ failed half way
        if hasattr(self, "_auto"):
            self._auto.stop()
        if hasattr(self, "_unsubscribe"):
            self._unsubscribe()
        if hasattr(self, "photo_row"):
            self.photo_row.close()
        if hasattr(self, "gallery_picker"):
            self.gallery_picker.close()
        close_parts(self)  # every model the form made, layouts and styles included
        super().close()

    def _say(self, text: str, kind: str = "info") -> None:
        self.message.value = message_html(text, kind)

    def _validate(self) -> bool:
        problem = order_id_problem(self.order_id.value) if self.order_id.value else None
        self.order_id_error.value = (
            html('<span style="color:#b91c1c">Order ID {}</span>', problem) if problem else ""
        )
        self.create_button.disabled = bool(problem) or self.busy
        return problem is None

    def _clear_name_error(self, _change: object = None) -> None:
        if self.name_error.value and self.name.value.strip():
            self.name_error.value = ""

    def _render(self, *_: object) -> None:
        if self.tracker.client is not self._shown_client:
            # another API: the last export's link is of the old table
            if self._shown_client is not None:
                self.download.value = ""
            self._shown_client = self.tracker.client
        env = self.tracker.environment
        note = " · built-in sandbox: nothing reaches Autoenhance" if env == "sandbox" else ""
        where = html(
            " {} {}{}",
            environment_badge(env, dev_mode=self.tracker.client.dev_mode),
            self.tracker.client.host,
            note,
        )
        self.header.value = (
            html("{}<div><b>Autoenhance orders</b>{}</div>", FORM_CSS, where)
            if self.show_environment
            else FORM_CSS
        )
        self.live_box.show()
        latest = self.tracker.latest(self.rows)
        # the header (or the desk's title) shows the environment: the table need not
        self.table.value = render_table(
            self.tracker, max_rows=self.rows, latest=latest, badge=False
        )
        self.images.show(self.photo_target.value)
        self.photo_row.show_orders(list(latest["order_id"]), list(latest["name"]))

    # -- actions -------------------------------------------------------------------------
    def _run(self, button: w.Button, busy_label: str, job: Any) -> bool:
        """Run ``job`` in the background with the buttons disabled (see
        ``BackgroundActions``); False while another action is in flight."""
        return self._actions.run(button, busy_label, job)

    def submit(self) -> bool:
        """Create an order from the fields (what "Create order" does)."""
        if not self._validate() or self.busy:
            return False
        if not self.name.value.strip():
            self.name_error.value = message_html("Give the order a name first", "error")
            return False
        name = self.name.value.strip()
        order_id = self.order_id.value.strip() or None
        if self.photos.value and self.photo_row.options() is None:
            return False

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
                self.photo_row.upload_into(order["order_id"], prefix=created + "; ")
            else:
                self._say(created, "ok")

        return self._run(self.create_button, "Creating…", job)

    def upload(self) -> bool:
        """What "Upload photos" does (see ``PhotoRow.upload``)."""
        return self.photo_row.upload()

    def refresh(self) -> bool:
        """Re-fetch every order's status (what "Refresh statuses" does)."""

        def job() -> None:
            self._say(refreshed_line(self.tracker.refresh()), "ok")

        return self._run(self.refresh_button, "Refreshing…", job)

    def export(self) -> bool:
        """What "Export CSV" does (see ``ExportRow.export``)."""
        return self.export_row.export()

    def go_live(self) -> bool:
        """What "Use live API" does (see ``LiveControls.go_live``)."""
        return self.live_box.go_live()

    def go_sandbox(self) -> bool:
        """What "Back to sandbox" does (see ``LiveControls.go_sandbox``)."""
        return self.live_box.go_sandbox()

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
        data["text/html"] = html(
            '<div class="ae-form-static"><p><i>Autoenhance order form: it needs a live '
            "kernel (run the cell). The table when the notebook was saved:</i></p>{}</div>",
            render_table(self.tracker, max_rows=self.rows),
        )
        return data

    # -- auto-refresh -----------------------------------------------------------------------
    def _on_auto_toggle(self, change: dict[str, Any]) -> None:
        if change["new"]:
            if self.tracker.events.active:
                self._say(f"Auto-refresh: {self.tracker.events.describe(self._auto.interval)}")
            self._auto.start()
        else:
            self._auto.stop()

    def _auto_step(self) -> str | None:
        try:
            self.tracker.refresh()
        except Exception as exc:
            self._say(f"Auto-refresh: {error_message(exc)}", "error")
        return self._auto_check()

    def _auto_check(self) -> str | None:
        counts = self.tracker.status_counts()
        if counts.get("processing"):
            return None
        finished = sum(v for k, v in counts.items() if k in FINISHED_STATUSES)
        return f"no order is processing ({finished} of {len(self.tracker)} done)"

    def _auto_stopped(self, reason: str | None) -> None:
        if reason is not None:
            self._say(f"Auto-refresh stopped: {reason}", "info")
        self.auto_refresh.value = False

    def wait_auto_refresh(self, timeout: float = 60.0) -> None:
        self._auto.join(timeout)
