"""``python -m autoenhance_nb.sandbox`` (``autoenhance-sandbox``): run the Autoenhance
v3 sandbox in the foreground. Its options are ``SandboxSettings``' fields, one
``--dashed-name`` each, with the field's type, default and help."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import types
import typing
from typing import Any

from . import DEFAULT_KEY, Sandbox, SandboxSettings


def _base_type(annotation: Any) -> Any:
    """``int`` for ``int | None``; the annotation itself otherwise."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _add_option(parser: argparse.ArgumentParser, field: dataclasses.Field[Any], kind: Any) -> None:
    cli: dict[str, Any] = dict(field.metadata["cli"])
    default = cli.pop("cli_default", field.default)
    env = cli.pop("env", None)
    flag = "--" + field.name.replace("_", "-")
    help_text: str = field.metadata["help"]
    if kind is bool:
        parser.add_argument(flag, action="store_true", default=default, help=help_text)
        return
    if env:
        help_text += f"; prefer the {env} environment variable: arguments show in ps"
    if "default" not in help_text:
        help_text += f" (default: {default})"
    parser.add_argument(flag, type=kind, default=default, help=help_text, **cli)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's parser: one option per ``SandboxSettings`` field."""
    parser = argparse.ArgumentParser(
        prog="autoenhance-sandbox",
        description="Run a local, stateful emulator of the Autoenhance v3 API.",
    )
    hints = typing.get_type_hints(SandboxSettings)
    for field in dataclasses.fields(SandboxSettings):
        _add_option(parser, field, _base_type(hints[field.name]))
    return parser


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options as ``Sandbox`` keywords; an option left empty falls back to
    its environment variable (``--api-key``: ``AUTOENHANCE_SANDBOX_KEY``)."""
    values = {}
    for field in dataclasses.fields(SandboxSettings):
        value = getattr(args, field.name)
        env = field.metadata["cli"].get("env")
        if env:
            value = value or os.environ.get(env) or None
        values[field.name] = value
    return values


def main(argv: list[str] | None = None) -> int:
    settings = settings_from(build_parser().parse_args(argv))
    try:
        sandbox = Sandbox(**settings)
        sandbox.bind()
    except (ValueError, OSError) as exc:
        print(f"autoenhance-sandbox: {exc}", file=sys.stderr)
        return 2

    def _stop(signum: int, frame: Any) -> None:  # SIGTERM behaves like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    key_hint = "<the key you configured>" if settings["api_key"] else DEFAULT_KEY
    print(f"Autoenhance sandbox listening on {sandbox.url}")
    print("Point a client at it with:")
    print(f"  export AUTOENHANCE_BASE_URL={sandbox.url}")
    print(f"  export AUTOENHANCE_API_KEY={key_hint}")
    if settings["webhook_url"]:
        print(f"Sending webhooks to {settings['webhook_url']}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    print("Sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
