"""Plain helpers shared by the test modules (fixtures live in conftest.py): images and
files, a notebook-like cell runner, the spec, and what the browser tests need to find
and start Chromium and JupyterLab. Test modules import from here, never from each
other."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import time
import zlib
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
UUID_HEX = re.compile(r"^[0-9a-f]{32}$")


def _load_spec() -> dict:
    text = resources.files("autoenhance_nb").joinpath("spec/autoenhance-v3.openapi.json")
    return json.loads(text.read_text(encoding="utf-8"))


#: The API spec that ships with the package (never ../shared).
SPEC = _load_spec()


# -- images and files -----------------------------------------------------------------------
def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG built without any imaging library."""

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


def picture(width: int = 64, height: int = 48) -> bytes:
    """A PNG with a gradient (so enhanced renditions differ), made with Pillow."""
    from PIL import Image

    image = Image.new("RGB", (width, height))
    image.putdata([(x * 4 % 256, y * 5 % 256, 90) for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


#: One allowed, non-default value for every option the spec lists.
EVERY_OPTION = {
    "ai_version": "4.7",
    "cloud_type": "HIGH_CLOUD",
    "enhance": False,
    "enhance_type": "modern",
    "finetune_settings": {"strength": 0.5, "zones": ["sky"]},
    "lens_correction": False,
    "metadata": {"shoot": "loft", "n": 3},
    "privacy": True,
    "rating": 4,
    "sky_replacement": True,
    "threesixty": True,
    "upscale": True,
    "vertical_correction": False,
    "window_pull": True,
}


def chosen_files(*named: tuple[str, bytes]) -> tuple[dict, ...]:
    """What a FileUpload widget's value holds for these (name, bytes) files."""
    return tuple(
        {
            "name": n,
            "type": "image/png",
            "size": len(b),
            "content": memoryview(b),
            "last_modified": datetime.now(timezone.utc),
        }
        for n, b in named
    )


def upload_photo(sb, order_id):
    """Register and upload one photo to ``order_id`` straight over HTTP."""
    import requests

    created = requests.post(
        sb.url + "/v3/images/",
        headers={"x-api-key": "k"},
        json={"image_name": "p.png", "order_id": order_id},
    ).json()
    requests.put(
        created["upload_url"],
        data=png_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )


# -- bracketed shoots -------------------------------------------------------------------------
#: The sample HDR shoot (and its generator, make_brackets.py).
SAMPLES = ROOT / "notebooks" / "data" / "brackets"


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("DSC_*.jpg"))


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_file(
    path: Path, side: int, *, exif: bytes | None = None, idat: bytes | None = None
) -> Path:
    """A solid-colour RGB PNG of ``side`` x ``side`` written row by row with zlib (no
    Pillow image in memory), its ``exif`` in an eXIf chunk placed after the pixel data
    (Pillow reads the chunks before it on open; those after only once it decodes)."""
    if idat is None:
        row = b"\x00" + b"\x80\x90\xa0" * side
        packer = zlib.compressobj(1)
        idat = b"".join([*(packer.compress(row) for _ in range(side)), packer.flush()])
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    parts = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", idat)]
    if exif is not None:
        parts.append(_chunk(b"eXIf", exif))
    path.write_bytes(b"".join([*parts, _chunk(b"IEND", b"")]))
    return path


def bomb(path: Path) -> Path:
    """A PNG declaring 50000 x 50000 pixels (a decompression bomb), 60 bytes long."""
    return png_file(path, 50000, idat=zlib.compress(b"\x00" * 64))


def exif_with_exposure_time(taken: datetime, seconds: float) -> bytes:
    """EXIF whose ExposureTime is a DOUBLE (Pillow writes a float as type 12)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0132] = taken.strftime("%Y:%m:%d %H:%M:%S")
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    ifd[0x829A] = seconds
    return exif.tobytes()


# -- IPython ----------------------------------------------------------------------------------
def without_autoenhance_env() -> dict[str, str]:
    """The environment without the toolkit's settings (key, URL, ...) for a subprocess,
    except the test's own operations journal (``conftest._own_journal``): a subprocess
    never writes to the real journal in the home folder."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AUTOENHANCE_") or k == "AUTOENHANCE_JOURNAL"
    }


@contextlib.contextmanager
def magic_shell(shell, monkeypatch, url: str, key: str = "test-key", **settings):
    """``shell`` (the ``shell`` fixture's real IPython) with the extension loaded and the
    session pointed at ``url`` through the environment, as a user's would be; the
    magics' ``settings`` (progress off and max_retries 1 unless given) for the block,
    restored after it. The ``ip`` fixture is this on the test's sandbox."""
    import autoenhance_nb as ae
    from autoenhance_nb.magic._magics import magics_of

    monkeypatch.setenv("AUTOENHANCE_API_KEY", key)
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", url)
    ae.reset_session()
    shell.extension_manager.load_extension("autoenhance_nb")
    magics = magics_of(shell)
    settings = {"progress": False, "max_retries": 1, **settings}
    saved = {k: getattr(magics, k) for k in {*settings, "short_errors", "workers", "timeout"}}
    for name, value in settings.items():
        setattr(magics, name, value)
    try:
        yield shell
    finally:
        for name, value in saved.items():
            setattr(magics, name, value)
        ae.reset_session()


def run(ip, code):
    """Run a cell like a notebook does; returns (result, captured output)."""
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        result = ip.run_cell(code)
    return result, cap.stdout + cap.stderr


# -- browsers ---------------------------------------------------------------------------------
CHROMIUM = os.environ.get("AUTOENHANCE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # saved notebooks carry the widget state, as a user who turned it on would have
    "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
}


def need_browser():
    """Skip (fail in CI) when Chromium or Playwright is missing."""
    problem = None
    if not Path(CHROMIUM).exists():
        problem = (
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set AUTOENHANCE_CHROMIUM)"
        )
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[test]')"
    if problem:
        if IN_CI:
            pytest.fail(f"browser test cannot run in CI: {problem}")
        pytest.skip(problem)


@contextlib.contextmanager
def kept_on_failure(page, screenshot: str, log=None, log_name: str | None = None):
    """Run a browser test's steps; if one fails, keep the page's screenshot (and the
    server's ``log`` as ``log_name``) in tests/artifacts. The page is closed either way."""
    try:
        yield
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
        if log is not None:
            shutil.copy(log, ARTIFACTS / (log_name or Path(log).name))
        raise
    finally:
        page.close()


def accept_kernel_dialogs(page) -> None:
    """Whenever JupyterLab or Notebook 7 asks "Select Kernel" (on a loaded machine its
    kernel list can come after the notebook, even with a session made beforehand),
    accept its default (Python 3) before the test's next action or assertion."""
    if getattr(page, "_ae_kernel_dialogs", False):
        return
    dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    page.add_locator_handler(
        dialog, lambda found: found.locator("button.jp-mod-accept").click(), no_wait_after=True
    )
    page._ae_kernel_dialogs = True


def run_all_cells(page, tries: int = 3) -> None:
    """Run > Run All Cells in JupyterLab or Notebook 7, once the command is enabled, and
    again (at most ``tries`` times) while no cell has started: on a busy machine the
    first click can land before the notebook's kernel is wired and run nothing."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = "() => [...document.querySelectorAll('.jp-InputPrompt')].some(p => /\\[[*0-9]/.test(p.textContent))"
    accept_kernel_dialogs(page)
    for attempt in range(tries):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        item = page.locator("li.lm-Menu-item[data-command='runmenu:run-all']")
        page.locator(
            "li.lm-Menu-item[data-command='runmenu:run-all']:not(.lm-mod-disabled)"
        ).wait_for()
        item.click()
        try:
            page.wait_for_function(started, timeout=20_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_lab(tmp_path_factory, overrides, app="jupyterlab"):
    """Start JupyterLab (or ``app="notebook"``: Notebook 7, built on the same server and
    settings) on a copy of notebooks/ with these settings overrides; yield its url,
    token, root and log path; stop it afterwards."""
    import requests

    need_browser()
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(ROOT / "notebooks", root)
    settings = base / "settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(overrides))
    env = without_autoenhance_env()
    for name in (
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_RUNTIME_DIR",
        "JUPYTERLAB_SETTINGS_DIR",
        "JUPYTERLAB_WORKSPACES_DIR",
    ):
        path = base / name.lower()
        path.mkdir()
        env[name] = str(path)
    port, token = free_port(), secrets.token_hex(16)
    log = open(base / "lab.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            app,
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            f"--LabServerApp.app_settings_dir={settings}",
            *(
                ["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
                * (app == "jupyterlab")
            ),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/status?token={token}", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail(f"{app} did not start:\n" + (base / "lab.log").read_text()[-3000:])
    yield {"url": url, "token": token, "root": root, "log": base / "lab.log"}
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


# -- webhooks ---------------------------------------------------------------------------------
class WebhookRecorder:
    """A real HTTP receiver (stdlib) that records each POST: (time.monotonic(), headers,
    JSON body). ``fail_next``: answer that many POSTs 500 first. ``stop()`` ends it."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        recorder = self
        self.posts: list[tuple[float, dict, dict]] = []
        self.fail_next = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder._lock:
                    failing = recorder.fail_next > 0
                    recorder.fail_next -= failing
                    if not failing:
                        recorder.posts.append(
                            (time.monotonic(), dict(self.headers), json.loads(body))
                        )
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def events(self, kind: str = "image_processed") -> list[dict]:
        with self._lock:
            return [body for _, _, body in self.posts if body.get("event") == kind]

    def wait_for(self, count: int, kind: str = "image_processed", timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        while len(self.events(kind)) < count:
            assert time.monotonic() < deadline, f"{len(self.events(kind))} of {count} events"
            time.sleep(0.01)
        return self.events(kind)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


#: Long enough that nothing finishes inside a test, however loaded the machine.
HELD = 3600.0


@contextlib.contextmanager
def processing_held(sb, release: float = 0.0):
    """Inside the block, images the sandbox ``sb`` processes stay 'processing' however
    slow the machine (not HDR merges: their end is fixed when they start); after it,
    processing takes ``release`` seconds from each image's start. The sandbox reads the knob whenever a
    status is asked for, so this moves images on without sleeping and without racing a
    loaded CI machine (0.3 s margins did: one flaky failure in a green run)."""
    sb.processing_seconds = HELD
    try:
        yield sb
    finally:
        sb.processing_seconds = release


def until(check, timeout: float = 15.0, interval: float = 0.05):
    """Call ``check`` until it returns something true, and return that; fail the test
    with the last value when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: last got {value!r}")
        time.sleep(interval)


#: The authentication value the tests' webhooks carry.
WEBHOOK_AUTH = "test-webhook-auth-0123456789"


def server_state(sb) -> dict[str, tuple[str, dict[str, str]]]:
    """Each order of the sandbox: (its status, {image_id: status})."""
    return {
        o["order_id"]: (o["status"], {i["image_id"]: i["status"] for i in o["images"]})
        for o in sb.orders
    }


def table_state(tracker) -> dict[str, tuple[str, dict[str, str]]]:
    """The tracker's table in the shape of ``server_state``."""
    images = tracker.images_df
    out = {}
    for oid in tracker.order_ids():
        mine = images[images["order_id"] == oid]
        out[oid] = (
            tracker.row(oid)["status"],
            dict(zip(mine["image_id"], mine["status"], strict=True)),
        )
    return out


#: Elements whose text is cut (wider than their box) without a tooltip to read it all,
#: and boxes that scroll sideways, under ``root``.
CUT_JS = """root => {
    const cut = [];
    for (const e of root.querySelectorAll('label, button, th, td, option, .widget-html-content *')) {
        const style = getComputedStyle(e);
        if (style.display === 'none' || !e.offsetParent) continue;
        if (e.scrollWidth > e.clientWidth + 1 && !e.closest('[title]') && e.tagName !== 'OPTION')
            cut.push(e.tagName + ' ' + e.textContent.trim().slice(0, 40));
    }
    const wide = [root, ...root.querySelectorAll('.autoenhance-scroll, .widget-box')]
        .filter(e => e.scrollWidth > e.clientWidth + 1)
        .map(e => 'scrolls: ' + e.className.slice(0, 60));
    return [...cut, ...wide];
}"""
