"""The sandbox's one settings source: ``SandboxSettings``' fields are the CLI's options,
``Sandbox``'s keywords and its attributes; and the sandbox imports nothing else of the
package."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

import autoenhance_nb.sandbox
from autoenhance_nb.sandbox import Sandbox, SandboxSettings
from autoenhance_nb.sandbox.__main__ import build_parser, settings_from

FIELDS = {f.name for f in dataclasses.fields(SandboxSettings)}


def test_cli_flags_constructor_keywords_and_settings_fields_are_one_set():
    actions = [a for a in build_parser()._actions if a.dest != "help"]
    flags = {option for a in actions for option in a.option_strings}
    keywords = set(inspect.signature(Sandbox).parameters)
    assert {a.dest for a in actions} == keywords == FIELDS
    assert flags == {"--" + name.replace("_", "-") for name in FIELDS}


def test_every_keyword_is_taken_and_read_back_as_an_attribute():
    values = {
        "host": "127.0.0.1",
        "port": 0,
        "api_key": "k",
        "processing_seconds": 1.5,
        "latency": 0.01,
        "error_rate": 0.1,
        "ambiguous_rate": 0.2,
        "rate_limit": 7,
        "seed": 4,
        "per_page_overflow": "reject",
        "upload_base_url": "http://uploads.example",
        "max_json_bytes": 1000,
        "max_upload_bytes": 2000,
        "daily_image_limit": 3,
        "merging_seconds": 0.5,
        "request_timeout": 9,
        "webhook_url": "http://127.0.0.1:1/hook",
        "webhook_auth": "hook-auth",
        "webhook_header": "X-Hook-Auth",
        "webhook_retries": 2,
        "webhook_backoff": 0.5,
        "webhook_drop_rate": 0.1,
        "webhook_duplicate_rate": 0.2,
        "webhook_reorder_rate": 0.3,
        "verbose": True,
    }
    assert set(values) == FIELDS, "a new setting belongs in this test too"
    sb = Sandbox(**values)
    for name, value in values.items():
        assert getattr(sb, name) == value == getattr(sb.app.settings, name)
    assert Sandbox.from_settings(sb.settings).settings == sb.settings


def test_knobs_change_and_host_port_seed_are_fixed():
    sb = Sandbox()
    assert set(SandboxSettings.knobs()) == FIELDS - {"host", "port", "seed"}
    for name in ("host", "port", "seed"):
        with pytest.raises(AttributeError, match="fixed"):
            setattr(sb, name, getattr(sb, name))
    sb.merging_seconds = 4
    assert sb.app.settings.merging_seconds == 4.0


def test_cli_defaults_are_the_settings_defaults_but_the_port():
    parsed = settings_from(build_parser().parse_args([]))
    defaults = dataclasses.asdict(SandboxSettings())
    assert parsed.pop("port") == 8765 and defaults.pop("port") == 0
    assert parsed == defaults


def test_cli_options_reach_the_settings(monkeypatch):
    monkeypatch.setenv("AUTOENHANCE_SANDBOX_KEY", "from-env")
    argv = ["--max-json-bytes", "10", "--upload-base-url", "http://u.example", "--verbose"]
    settings = SandboxSettings(**settings_from(build_parser().parse_args(argv)))
    assert (settings.max_json_bytes, settings.upload_base_url) == (10, "http://u.example")
    assert settings.verbose is True and settings.api_key == "from-env"


def test_the_settings_check_every_set():
    settings = SandboxSettings()
    with pytest.raises(ValueError, match="between 0 and 1"):
        settings.error_rate = 2
    with pytest.raises(ValueError, match="between 0 and 65535"):
        SandboxSettings(port=70000)
    assert settings.error_rate == 0.0


def _imports(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, anywhere in it (functions and TYPE_CHECKING blocks
    included), as an absolute name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module or "")
    return names


def test_the_sandbox_imports_nothing_else_of_the_package():
    root = Path(autoenhance_nb.sandbox.__file__).parent
    outside = {}
    for path in root.rglob("*.py"):
        package = ".".join(("autoenhance_nb", *path.relative_to(root.parent).parent.parts))
        for name in _imports(path, package):
            if name.split(".")[0] == "autoenhance_nb" and not (
                name == "autoenhance_nb.sandbox" or name.startswith("autoenhance_nb.sandbox.")
            ):
                outside[str(path.relative_to(root))] = name
    assert len(list(root.rglob("*.py"))) > 15
    assert outside == {}


def test_the_docs_table_names_every_setting():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "sandbox.md").read_text(encoding="utf-8")
    assert [name for name in sorted(FIELDS) if f"| `{name}`" not in docs] == []
