"""The form's "go live and back" controls: the API key field (whose value is moved
out of the widget state the moment it arrives), "Use live API" (the key checked with one
request first) and "Back to sandbox"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .._session import check_key_works, current_context, current_session, use_live, use_sandbox
from ..api import ApiKey, AutoenhanceClient, hide_key
from ..tracker import OrderTracker, TableState
from ._kit import auto_layout, field_layout

__all__ = ["LiveControls"]


class LiveControls(w.HBox):
    """A row of the form: API key, Use live API, Back to sandbox."""

    def __init__(
        self,
        tracker: OrderTracker,
        say: Callable[..., None],
        run: Callable[[w.Button, str, Callable[[], None]], bool],
        after_switch: Callable[[], None],
    ):
        self._tracker = tracker
        self._say = say
        self._run = run
        self._after_switch = after_switch
        self._held_key: ApiKey | None = None
        self._parked: tuple[AutoenhanceClient, TableState] | None = None
        self.api_key = w.Password(
            description="API key",
            placeholder="paste your key",
            continuous_update=False,
            style={"description_width": "140px"},
            layout=field_layout(360),
        ).add_class("ae-api-key")
        self.live_button = w.Button(
            description="Use live API", button_style="warning", layout=auto_layout()
        ).add_class("ae-live")
        self.sandbox_button = w.Button(
            description="Back to sandbox",
            icon="undo",
            tooltip="Go back to the built-in sandbox and its table",
            layout=auto_layout(),
        ).add_class("ae-sandbox")
        super().__init__(
            [self.api_key, self.live_button, self.sandbox_button],
            layout=w.Layout(flex_flow="row wrap", max_width="100%"),
        )
        self.add_class("ae-live-box")
        self.live_button.on_click(lambda _: self.go_live())
        self.sandbox_button.on_click(lambda _: self.go_sandbox())
        self.api_key.observe(self._take_key, names="value")

    def show(self) -> None:
        """Show the key field and "Use live API" on the sandbox, "Back" when live."""
        live = self._is_live()
        for part in (self.api_key, self.live_button):
            part.layout.display = "none" if live else None
        self.sandbox_button.layout.display = None if live else "none"

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

    def _is_live(self) -> bool:
        """Whether the form is past the sandbox: the live API, or an API it switched to
        (what "Back to sandbox" would undo)."""
        if self._tracker.environment == "live":
            return True
        if self._tracker is current_session():
            ctx = current_context()
            return ctx is not None and "sandbox" in ctx.parked
        return self._parked is not None

    def go_live(self) -> bool:
        """Switch to the live API with the key taken from the password field (what "Use
        live API" does). The key is checked with one request first: a refused key
        leaves the table and the API as they were. Runs in the background; ``wait()``."""
        key, self._held_key = self._held_key, None
        if key is None:
            self._say("Paste your Autoenhance API key first", "error")
            return False
        tracker = self._tracker

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
            self._after_switch()
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
        tracker = self._tracker

        def job() -> None:
            if tracker is current_session():
                use_sandbox()
            elif self._parked is not None:
                parked, self._parked = self._parked, None
                tracker.use_client(*parked)
            self._after_switch()
            self._say(f"Back to the {tracker.environment_label} API", "ok")

        return self._run(self.sandbox_button, "Switching…", job)
