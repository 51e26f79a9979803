"""Shared fixtures: a running sandbox per test, and a validator for the API spec
that ships with the package (never ../shared)."""

from __future__ import annotations

import json
import os
import re
from importlib import resources

import pytest
from openapi_schema_validator import OAS30Validator

from autoenhance_nb.sandbox import Sandbox

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _no_live_environment(monkeypatch):
    """Tests never pick up a developer's real key or URL from the environment."""
    monkeypatch.delenv("AUTOENHANCE_API_KEY", raising=False)
    monkeypatch.delenv("AUTOENHANCE_BASE_URL", raising=False)


@pytest.fixture
def sandbox():
    with Sandbox(processing_seconds=0) as sb:
        yield sb


@pytest.fixture
def client(sandbox):
    from autoenhance_nb import AutoenhanceClient

    c = AutoenhanceClient(api_key="test-key", base_url=sandbox.url, backoff_factor=0.01)
    yield c
    c.close()


@pytest.fixture
def tracker(client):
    from autoenhance_nb import OrderTracker

    return OrderTracker(client)


def _load_spec() -> dict:
    text = resources.files("autoenhance_nb").joinpath("spec/autoenhance-v3.openapi.json")
    return json.loads(text.read_text(encoding="utf-8"))


SPEC = _load_spec()


class SpecChecker:
    """Validates a response body against the schema the spec declares for
    (path template, method, status)."""

    def __init__(self, spec: dict):
        self.spec = spec

    def schema_for(self, path: str, method: str, status: int) -> dict:
        op = self.spec["paths"][path][method.lower()]
        responses = op["responses"]
        response = responses.get(str(status))
        assert response is not None, f"{method} {path} does not declare {status}"
        if "$ref" in response:
            response = self.spec["components"]["responses"][response["$ref"].split("/")[-1]]
        content = response.get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            return {}
        if "x-probable-shape" in schema:
            schema = {"$ref": schema["x-probable-shape"]}
        return schema

    def check(self, response, path: str, method: str | None = None) -> dict:
        method = method or response.request.method
        schema = self.schema_for(path, method, response.status_code)
        if not schema:
            return {}
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.json()
        OAS30Validator({**schema, "components": self.spec["components"]}).validate(body)
        if schema.get("$ref", "").endswith(("/HTTPError", "/ValidationError")):
            # The spec's error schemas list no required keys; the APIFlask shape has both.
            assert isinstance(body["message"], str) and body["message"]
            assert isinstance(body["detail"], dict)
        return body


@pytest.fixture(scope="session")
def spec_check() -> SpecChecker:
    return SpecChecker(SPEC)


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG built without any imaging library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


UUID_HEX = re.compile(r"^[0-9a-f]{32}$")
