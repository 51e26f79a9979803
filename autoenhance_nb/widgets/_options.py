"""The form's "Enhancement" section (fields generated from the spec's options) and its
"Image" row (redo an image with those options, report a problem, buy the full size).

Each field is made from ``options.OPTIONS``: a dropdown for an enum (first entry: the
API's default, not sent), a checkbox for a true/false option (sent when it differs from
the default shown), a JSON box for an object. ``EnhancementOptions.options`` is the
checked dict (a one-line ``ValidationError`` otherwise)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .. import errors as E
from ..display import message_html, safe
from ..errors import one_line
from ..rules import OPTIONS, REPORT_CATEGORIES, REPORT_CATEGORY_LABELS, check_options, presets
from ._exports import ExportFolder, download_link
from ._kit import SafeHTML, auto_layout, field_layout, row

__all__ = ["EnhancementOptions", "ImageActions", "JsonField"]

DEFAULT = ""  # a dropdown's "API default" entry: the option is not sent


class EnhancementOptions(w.VBox):
    """Dropdowns and checkboxes for every option of the spec, in words a person reads
    (the spec's titles and enum labels; its descriptions as tooltips), a preset picker
    and the session's dev mode. ``show_preset=False``: the owner shows ``preset``
    elsewhere (the form's first screen)."""

    def __init__(self, tracker: Any, *, show_preset: bool = True):
        self.tracker = tracker
        self.fields: dict[str, w.Widget] = {n: _field(o) for n, o in OPTIONS.items()}
        self.preset = w.Dropdown(
            description="Options preset",
            options=[("None (the API's defaults)", DEFAULT)] + [(n, n) for n in presets],
            tooltip="A named set of enhancement options (see Enhancement options)",
            style={"description_width": "initial"},
            layout=field_layout(320),
        ).add_class("ae-preset")
        self.dev_mode = w.Checkbox(
            value=tracker.client.dev_mode,
            description="Dev mode (free, watermarked results)",
            indent=False,
            layout=auto_layout(),
        ).add_class("ae-dev-mode")
        self.problem = SafeHTML().add_class("ae-options-problem")
        kinds: dict[str, list[w.Widget]] = {"choice": [], "switch": [], "json": []}
        for field in self.fields.values():
            kind = "switch" if isinstance(field, w.Checkbox) else "choice"
            kinds["json" if isinstance(field, w.VBox) else kind].append(field)
        switches = w.GridBox(
            kinds["switch"],
            layout=w.Layout(
                grid_template_columns="repeat(auto-fill, minmax(210px, 1fr))", max_width="100%"
            ),
        )
        super().__init__(
            [
                SafeHTML(safe("<b>Enhancement</b> (for photos added here and for Redo)")),
                row(*([self.preset] if show_preset else []), self.dev_mode),
                row(*kinds["choice"]),
                switches,
                *kinds["json"],
                self.problem,
            ],
            layout=w.Layout(max_width="100%"),
        )
        self.add_class("ae-enhancement")
        self.preset.observe(self._apply_preset, names="value")
        self.dev_mode.observe(self._apply_dev_mode, names="value")

    @property
    def options(self) -> dict[str, Any]:
        """The options the fields ask for, checked; ``ValidationError`` otherwise."""
        chosen: dict[str, Any] = {}
        for name, field in self.fields.items():
            option = OPTIONS[name]
            if isinstance(field, JsonField):
                if field.text.value.strip():
                    chosen[name] = field.parsed()
            elif isinstance(field, w.Checkbox):
                if field.value != (option.default if option.has_default else False):
                    chosen[name] = field.value
            elif field.value != DEFAULT:
                chosen[name] = field.value
        try:
            checked = check_options(chosen)
        except E.ValidationError as exc:
            self.problem.value = message_html(str(exc), "error")
            raise
        self.problem.value = ""
        return checked

    def set_options(self, options: dict[str, Any]) -> None:
        """Show ``options`` in the fields (others back to their defaults)."""
        options = check_options(options)
        for name, field in self.fields.items():
            option = OPTIONS[name]
            value = options.get(name)
            if isinstance(field, JsonField):
                field.text.value = json.dumps(value) if name in options else ""
            elif isinstance(field, w.Checkbox):
                default = option.default if option.has_default else False
                field.value = bool(value) if name in options else default
            else:
                field.value = value if name in options and value is not None else DEFAULT

    def _apply_preset(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.set_options(presets[change["new"]])

    def _apply_dev_mode(self, change: dict[str, Any]) -> None:
        self.tracker.dev_mode = change["new"]


class JsonField(w.VBox):
    """A JSON box for an object option whose structure the spec does not give: its label,
    a placeholder from the spec's example, and the problem shown as one types."""

    def __init__(self, option: Any):
        self.option = option
        example = option.example if option.has_example else {"key": "value"}
        self.text = w.Textarea(
            description=option.label,
            placeholder=f"JSON, e.g. {json.dumps(example, ensure_ascii=False)}",
            tooltip=one_line(option.description, 200),
            rows=2,
            style={"description_width": "initial"},
            # in a column a flex basis would be its height: a width instead
            layout=w.Layout(width="auto", max_width="620px"),
        ).add_class("ae-json-option")
        self.problem = SafeHTML().add_class("ae-json-problem")
        super().__init__([self.text, self.problem], layout=w.Layout(max_width="100%"))
        self.text.observe(lambda _: self._check(), names="value")

    @property
    def value(self) -> str:
        """The box's text (as ``Textarea.value``)."""
        return str(self.text.value)

    @value.setter
    def value(self, text: str) -> None:
        self.text.value = text

    def parsed(self) -> Any:
        """The box's JSON; ``ValidationError`` (one line, the option's label) otherwise."""
        try:
            value = json.loads(self.text.value)
        except ValueError as exc:
            raise E.ValidationError(f"{self._what}: not valid JSON ({one_line(exc, 80)})") from None
        problem = self.option.problem(value)
        if problem:
            raise E.ValidationError(f"{self._what}: {problem}")
        return value

    @property
    def _what(self) -> str:
        return f"{self.option.label} – invalid option {self.option.name}"

    def _check(self) -> None:
        try:
            if self.text.value.strip():
                self.parsed()
        except E.ValidationError as exc:
            self.problem.value = message_html(str(exc), "error")
            return
        self.problem.value = ""


def _field(option: Any) -> w.Widget:
    tip = one_line(option.description, 200)
    if option.type == "boolean":
        default = option.default if option.has_default else False
        return w.Checkbox(
            value=default, indent=False, tooltip=tip, description=option.label, layout=auto_layout()
        )
    if option.choices or option.type == "integer":
        values = option.choices or range(int(option.minimum or 0), int(option.maximum or 0) + 1)
        entries = [("Default (the API's)", DEFAULT)] + [(option.label_of(v), v) for v in values]
        # made only here: a Layout no widget uses stays registered forever
        return w.Dropdown(
            options=entries,
            value=DEFAULT,
            tooltip=tip,
            description=option.label,
            style={"description_width": "initial"},
            layout=field_layout(320),
        )
    return JsonField(option)


class ImageActions(w.VBox):
    """Pick an image of the chosen order; Redo it with the Enhancement options, Report a
    problem, or buy its full size (into the export folder, with a link)."""

    def __init__(
        self,
        tracker: Any,
        enhancement: EnhancementOptions,
        say: Callable[[str, str], None],
        run: Callable[[w.Button, str, Callable[[], None]], bool],
        exports: Callable[[], ExportFolder],
    ):
        self.tracker, self.enhancement, self._say, self._run = tracker, enhancement, say, run
        self._exports = exports
        self.image = w.Dropdown(description="Image", options=[], layout=field_layout(380))
        self.redo_button = w.Button(description="Redo", icon="repeat", layout=auto_layout())
        self.buy_button = w.Button(
            description="Download full size (uses credits)",
            icon="shopping-cart",
            tooltip="Buys the full-size enhanced image; previews are free",
            layout=auto_layout(),
        )
        self.categories = w.SelectMultiple(
            description="Report",
            options=[(REPORT_CATEGORY_LABELS[c], c) for c in REPORT_CATEGORIES],
            rows=3,
            layout=field_layout(320),
        )
        self.comment = w.Text(description="Comment", layout=field_layout(320))
        self.score = w.Dropdown(
            description="Score", options=[("none", None)] + [(str(i), i) for i in range(6)]
        )
        self.report_button = w.Button(description="Report", icon="flag", layout=auto_layout())
        self.link = SafeHTML()
        super().__init__(
            [
                row(self.image, self.redo_button, self.buy_button, self.link),
                row(self.categories, self.comment, self.score, self.report_button),
            ]
        )
        self.add_class("ae-image-actions")
        self.redo_button.on_click(lambda _: self.redo())
        self.report_button.on_click(lambda _: self.report())
        self.buy_button.on_click(lambda _: self.buy())

    @property
    def buttons(self) -> tuple[w.Button, ...]:
        return (self.redo_button, self.report_button, self.buy_button)

    def show(self, order_id: str) -> None:
        """List the images of ``order_id`` (every tracked image when empty)."""
        images = self.tracker.images_df
        if order_id:
            images = images[images["order_id"] == order_id]
        entries = [
            (f"{one_line(n or i, 40)} · {one_line(s, 40)}", i)
            for i, n, s in zip(
                images["image_id"], images["image_name"], images["status"], strict=True
            )
        ]
        if entries != list(self.image.options):
            current = self.image.value
            self.image.options = entries
            ids = [i for _, i in entries]
            self.image.value = current if current in ids else (ids[0] if ids else None)

    def _picked(self) -> str | None:
        if not self.image.value:
            self._say("Pick an image first (upload photos into an order)", "error")
        return self.image.value or None

    def redo(self) -> bool:
        image_id = self._picked()
        if image_id is None:
            return False
        try:
            options = self.enhancement.options
        except E.ValidationError as exc:
            self._say(str(exc), "error")
            return False

        def job() -> None:
            image = self.tracker.reprocess(image_id, **options)
            self._say(f"Reprocessing {image.get('image_name') or image_id}", "ok")

        return self._run(self.redo_button, "Redoing…", job)

    def report(self) -> bool:
        image_id = self._picked()
        if image_id is None:
            return False
        args = (list(self.categories.value), self.comment.value.strip() or None, self.score.value)

        def job() -> None:
            answer = self.tracker.report(image_id, *args)
            self.categories.value, self.comment.value = (), ""
            self._say(f"Reported: {one_line(answer.get('message') or 'received', 200)}", "ok")

        return self._run(self.report_button, "Reporting…", job)

    def buy(self) -> bool:
        image_id = self._picked()
        if image_id is None:
            return False
        exports = self._exports()
        name = str(self.image.label or image_id).split(" · ")[0]

        def job() -> None:
            path = self.tracker.download_image(
                image_id, exports.target(exports.fresh_name(name)), full_size=True
            )
            self.link.value = download_link(path, path.name, "application/octet-stream")
            self._say(f"Bought the full size of {name}", "ok")

        return self._run(self.buy_button, "Buying…", job)
