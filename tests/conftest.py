"""Shared fixtures: one sandbox for the session, reset for each test, with the client,
tracker, form and IPython shell built on it; the browser fixtures; a validator for the
API spec that ships with the package (never ../shared). Plain helpers live in
tests/helpers.py."""

from __future__ import annotations

import pytest
from openapi_schema_validator import OAS30Validator

from autoenhance_nb.sandbox import Sandbox

# re-exported for modules that still import them from here; new code imports .helpers
from .helpers import (  # noqa: F401
    CHROMIUM,
    CHROMIUM_ARGS,
    IN_CI,
    LAB_OVERRIDES,
    SPEC,
    UUID_HEX,
    need_browser,
    png_bytes,
    run_lab,
)


@pytest.fixture(autouse=True)
def _no_live_environment(monkeypatch):
    """Tests never pick up a developer's real key or URL from the environment."""
    monkeypatch.delenv("AUTOENHANCE_API_KEY", raising=False)
    monkeypatch.delenv("AUTOENHANCE_BASE_URL", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _session_journal(tmp_path_factory):
    """A journal for what module- and session-scoped fixtures start (a desk, a lab)
    before any test's own journal is set: never the real one in the home folder."""
    patch = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("session-journal") / "journal.sqlite3"
    patch.setenv("AUTOENHANCE_JOURNAL", str(path))
    patch.delenv("JPY_SESSION_NAME", raising=False)
    yield path
    patch.undo()


@pytest.fixture(autouse=True)
def _own_journal(monkeypatch, tmp_path_factory):
    """Each test has its own operations journal (never the real one in the home
    folder), and no notebook name leaks in from a Jupyter that runs the suite."""
    path = tmp_path_factory.mktemp("journal") / "journal.sqlite3"
    monkeypatch.setenv("AUTOENHANCE_JOURNAL", str(path))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return path


@pytest.fixture(scope="session")
def _session_sandbox():
    """The one sandbox of the test session (starting and stopping one costs ~100 ms)."""
    with Sandbox(processing_seconds=0) as sb:
        yield sb


@pytest.fixture
def sandbox(request, _session_sandbox):
    """A running, empty sandbox with processing_seconds=0: the session's, reset before
    and after the test (reset() restores the constructed knobs without restarting it).

    A test that stops, restarts or rebinds its sandbox is marked ``own_sandbox`` and gets
    a new one instead (``client``, ``tracker`` and ``form`` follow it)."""
    if request.node.get_closest_marker("own_sandbox"):
        with Sandbox(processing_seconds=0) as sb:
            yield sb
        return
    sb = _session_sandbox
    yield sb.reset()
    if not sb.running:
        sb.start()  # back on the same port for the next test; this one is wrong
        pytest.fail("a test stopped the shared sandbox: mark it @pytest.mark.own_sandbox")
    sb.reset()


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


@pytest.fixture
def hooked(sandbox, tracker):
    """The test's tracker receiving the sandbox's webhooks on a local listener (real
    HTTP both ways); the listener is yielded."""
    from .helpers import WEBHOOK_AUTH

    listener = tracker.listen(auth=WEBHOOK_AUTH)
    sandbox.webhook_auth = WEBHOOK_AUTH
    sandbox.webhook_url = listener.url
    yield listener
    sandbox.webhook_url = None
    listener.stop()


@pytest.fixture
def form(tracker):
    """An OrderForm on the test's tracker, closed afterwards."""
    from autoenhance_nb import OrderForm

    f = OrderForm(tracker)
    yield f
    f.close()


# -- IPython ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shell():
    """A real IPython shell for the module: in-memory history, no colours."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # real history, nothing on disk
    ip = InteractiveShell.instance(config=config)
    ip.run_line_magic("colors", "nocolor")
    yield ip
    InteractiveShell.clear_instance()


@pytest.fixture
def ip(shell, sandbox, monkeypatch):
    """The shell with the extension loaded and the session pointed at this test's
    sandbox (through the environment, as a user of a CLI sandbox would)."""
    from .helpers import magic_shell

    with magic_shell(shell, monkeypatch, sandbox.url) as loaded:
        yield loaded


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


# -- browsers (JupyterLab in headless Chromium) -------------------------------------------------
@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from run_lab(tmp_path_factory, LAB_OVERRIDES)


@pytest.fixture(scope="module")
def dark_lab(tmp_path_factory):
    """A second JupyterLab whose settings overrides pick the dark theme (the server reads
    overrides.json once, at start)."""
    dark = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    yield from run_lab(tmp_path_factory, {**LAB_OVERRIDES, **dark})


@pytest.fixture(scope="module")
def dark_notebook7(tmp_path_factory):
    """Notebook 7 (the classic interface, rebuilt on JupyterLab) in its dark theme."""
    pytest.importorskip("notebook", minversion="7")
    dark = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    yield from run_lab(tmp_path_factory, {**LAB_OVERRIDES, **dark}, app="notebook")


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright, for the module's tests."""
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


# -- tiers ------------------------------------------------------------------------------------
#: Tests in the desk's modules (tests/desk/) that start a real
#: desk process (Voila and its kernels): slow, as if marked in place. Better marked in their
#: module with @pytest.mark.slow; then drop them here.
_DESK_PROCESS_FIXTURES = {"desk", "fresh", "remote_desk"}  # desk/test_hosting.py's
_DESK_PROCESS_TESTS = {
    "test_desk.py": {
        "test_without_a_key_every_kernel_points_at_one_sandbox_which_stops_with_the_desk",
        "test_ctrl_c_stops_the_desk_and_its_sandbox",
        "test_with_a_key_in_the_environment_no_sandbox_starts_and_the_key_is_not_shown",
        "test_the_guards_settings_reach_the_server_and_the_token_not_the_kernels",
        "test_a_local_desk_has_no_token_unless_given",
        "test_the_config_key_reaches_voila_and_the_desk_uses_no_sandbox",
    },
    "test_hosting.py": {
        "test_a_token_from_the_config_file_is_required_and_never_printed",
    },
}


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject's addopts): one worker more than the cores, at most 4
    (``--maxprocesses``). The browser, kernel and desk tests spend most of their time
    waiting, so on 2 cores three workers finish the suite in 4.5 minutes, two in 5.6."""
    import os

    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        process = item.originalname in _DESK_PROCESS_TESTS.get(name, ()) or (
            name == "test_hosting.py"
            and _DESK_PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        if process:
            item.add_marker(pytest.mark.slow)
