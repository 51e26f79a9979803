"""The sandbox's one settings source: ``SandboxSettings``.

Each field carries its type, its default and, in its metadata, its help text, the
check a value must pass and whether it is a *knob* (changeable while the sandbox runs:
every field but host, port and seed). From these fields come the CLI's options
(``__main__``), the keywords and attributes of ``Sandbox`` and what ``SandboxApp``,
its endpoints and the account read, per request. A bad value raises ValueError at
once: at construction and at any later set. Imports nothing from the client.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_JSON_BYTES = 1 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


# -- the checks ------------------------------------------------------------------------
def non_negative(name: str, value: float) -> float:
    """``value`` as a float when it is a finite number >= 0, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return float(value)


def positive(name: str, value: float) -> float:
    """``value`` as a float when it is a finite number > 0, else ValueError."""
    if non_negative(name, value) == 0:
        raise ValueError(f"{name} must be greater than 0")
    return float(value)


def fraction(name: str, value: float) -> float:
    """``value`` as a float when it is a number in [0, 1], else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be between 0 and 1")
    return float(value)


def count(name: str, value: int) -> int:
    """``value`` when it is an integer >= 0, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def positive_int(name: str, value: int) -> int:
    """``value`` when it is an integer >= 1, else ValueError."""
    if count(name, value) < 1:
        raise ValueError(f"{name} must be at least 1")
    return value


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def optional_check(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return optional_check


def _port(name: str, value: int) -> int:
    if count(name, value) > 65535:
        raise ValueError(f"{name} must be between 0 and 65535")
    return value


def _host(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {value!r}")
    return value


def _seed(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name} must be None or a whole number, not {value!r}")
    return value


def _api_key(name: str, value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{name} must be None (any key) or a non-empty string")
    return value


def _overflow(name: str, value: str) -> str:
    if value not in OVERFLOW_CHOICES:
        raise ValueError(f"{name} must be 'clamp' or 'reject'")
    return value


def _base_url(name: str, value: str | None) -> str | None:
    if value is not None and (
        not isinstance(value, str) or not value.startswith(("http://", "https://"))
    ):
        raise ValueError(f"{name} must be None or an http(s):// URL")
    return value


def _header(name: str, value: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value):
        raise ValueError(f"{name} must be an HTTP header name, not {value!r}")
    return value


def _secret(name: str, value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{name} must be None or a non-empty string")
    if value is not None and any(c in value for c in "\r\n\0"):
        raise ValueError(f"{name} must be one line")
    return value


def _flag(name: str, value: bool) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, not {value!r}")
    return value


OVERFLOW_CHOICES = ("clamp", "reject")


def _setting(
    default: Any,
    help: str,
    check: Callable[[str, Any], Any],
    *,
    knob: bool = True,
    **cli: Any,
) -> Any:
    """A settings field: ``cli`` may hold ``cli_default`` (the CLI's own default),
    ``choices`` and ``env`` (an environment variable the CLI falls back to)."""
    return dataclasses.field(
        default=default, metadata={"help": help, "check": check, "knob": knob, "cli": cli}
    )


@dataclass(kw_only=True)
class SandboxSettings:
    """Everything the sandbox can be told; see the module's docstring."""

    host: str = _setting(
        "127.0.0.1",
        "address to bind; other hosts can reach it only if you bind 0.0.0.0 on purpose",
        _host,
        knob=False,
    )
    port: int = _setting(0, "port to bind (0 = any free)", _port, knob=False, cli_default=8765)
    api_key: str | None = _setting(
        None,
        "accept only this key (default: any non-empty key)",
        _api_key,
        env="AUTOENHANCE_SANDBOX_KEY",
    )
    processing_seconds: float = _setting(
        2.0, "seconds an uploaded image stays 'processing'", non_negative
    )
    latency: float = _setting(0.0, "seconds added to every request", non_negative)
    error_rate: float = _setting(
        0.0, "fraction of requests answered 503 before doing anything", fraction
    )
    ambiguous_rate: float = _setting(
        0.0, "fraction of successful writes committed but answered 502", fraction
    )
    rate_limit: float = _setting(
        0.0,
        "requests per second before 429 with Retry-After (0 = off; the real API allows 300)",
        non_negative,
    )
    seed: int | None = _setting(None, "seed that makes the faults repeat", _seed, knob=False)
    per_page_overflow: str = _setting(
        "clamp",
        "what a per_page above 15 gets: clamped to 15, or rejected with 422",
        _overflow,
        choices=OVERFLOW_CHOICES,
    )
    upload_base_url: str | None = _setting(
        None, "where upload_url points (default: this sandbox)", _base_url
    )
    max_json_bytes: int = _setting(
        MAX_JSON_BYTES, "largest JSON body accepted; larger ones get 413", positive_int
    )
    max_upload_bytes: int = _setting(
        MAX_UPLOAD_BYTES, "largest upload accepted; larger ones get 413", positive_int
    )
    daily_image_limit: int | None = _setting(
        None,
        "images a day (UTC) that may start processing; later ones end in 'error' "
        "(default: no limit; the real API's is 500)",
        _optional(count),
    )
    merging_seconds: float = _setting(
        2.0,
        "seconds an order stays is_merging after POST /v3/orders/{id}/process",
        non_negative,
    )
    request_timeout: float = _setting(
        30.0,
        "seconds a connection may stall (mid-request or idle) before it is closed; "
        "a change applies to connections opened afterwards",
        positive,
    )
    webhook_url: str | None = _setting(
        None,
        "where to POST webhook events (image_processed for each image that finishes or "
        "fails, webhook_updated when set); default: no webhooks",
        _base_url,
    )
    webhook_auth: str | None = _setting(
        None,
        "the authentication value every webhook carries (Autoenhance's web app setting)",
        _secret,
        env="AUTOENHANCE_SANDBOX_WEBHOOK_AUTH",
    )
    webhook_header: str = _setting(
        "Authorization",
        "the header carrying webhook_auth (the real API's header name is unknown: "
        "a sandbox choice)",
        _header,
    )
    webhook_retries: int = _setting(
        5, "times a failed webhook (error, 4xx/5xx, timeout) is sent again, with backoff", count
    )
    webhook_backoff: float = _setting(
        0.25,
        "seconds before the first retry of a webhook; doubled each time (at most 10)",
        non_negative,
    )
    webhook_drop_rate: float = _setting(
        0.0, "fraction of webhook events never sent (a fault for tests)", fraction
    )
    webhook_duplicate_rate: float = _setting(
        0.0, "fraction of webhook events sent twice (a fault for tests)", fraction
    )
    webhook_reorder_rate: float = _setting(
        0.0,
        "fraction of webhook events held back and sent after the next one (a fault for tests)",
        fraction,
    )
    verbose: bool = _setting(False, "log every request to stderr (werkzeug's format)", _flag)

    def __setattr__(self, name: str, value: Any) -> None:
        spec = type(self).__dataclass_fields__.get(name)
        if spec is not None:
            value = spec.metadata["check"](name, value)
        object.__setattr__(self, name, value)

    @classmethod
    def knobs(cls) -> tuple[str, ...]:
        """The fields that may change while the sandbox runs."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata["knob"])

    def restore_knobs(self, other: SandboxSettings) -> None:
        """Set every knob back to its value in ``other``."""
        for name in self.knobs():
            setattr(self, name, getattr(other, name))
