"""A webhook's status on the desk's page, in a real browser: a sandbox (in this
process, so the test knows when it sends) reports to ``autoenhance-desk
--webhook-path``; the visit's table shows the order processed within 1 s of the
sandbox sending the event, with no auto-refresh running (only the webhook can bring
it)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import requests

from autoenhance_nb.desk import _cli as cli
from autoenhance_nb.sandbox import Sandbox

from ..helpers import WEBHOOK_AUTH, need_browser, upload_photo, without_autoenhance_env

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

HOOK = "/hooks/autoenhance"
ORDER_ID = "hooked-desk-1"


@pytest.fixture(scope="module")
def hooked_desk(tmp_path_factory):
    need_browser()
    pytest.importorskip("voila")
    base = tmp_path_factory.mktemp("hooked-desk")
    sb = Sandbox(processing_seconds=600, webhook_auth=WEBHOOK_AUTH).start()
    config = base / "desk.json"
    config.write_text(
        json.dumps(
            {"api_key": "sandbox-key-0123", "base_url": sb.url, "webhook_auth": WEBHOOK_AUTH}
        )
    )
    config.chmod(0o600)
    env = without_autoenhance_env()
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR"):
        (base / name.lower()).mkdir()
        env[name] = str(base / name.lower())
    port = cli.free_port()
    log_path = base / "desk.log"
    log = open(log_path, "w")
    command = [sys.executable, "-m", "autoenhance_nb.desk", "--port", str(port)]
    command += ["--export-dir", str(base / "exports"), "--config", str(config)]
    command += ["--webhook-path", HOOK]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=base)
    deadline = time.monotonic() + 60
    while "running at" not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sb.stop()
            pytest.fail("the desk did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.1)
    yield {"url": f"http://127.0.0.1:{port}/", "hook": f"http://127.0.0.1:{port}{HOOK}", "sb": sb}
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    log.close()
    sb.stop()
    assert "Traceback" not in log_path.read_text()


def test_a_status_sent_by_the_sandbox_reaches_the_page_within_a_second(hooked_desk, browser):
    from playwright.sync_api import expect

    sb = hooked_desk["sb"]
    requests.post(
        sb.url + "/v3/orders",
        json={"name": "Webhook order", "order_id": ORDER_ID},
        headers={"x-api-key": "k"},
        timeout=10,
    )
    for _ in range(2):
        upload_photo(sb, ORDER_ID)
    sb.webhook_url = hooked_desk["hook"]

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(hooked_desk["url"])
        row = page.locator(".ae-form .ae-table tr", has_text=ORDER_ID)
        expect(row).to_contain_text("processing", timeout=60_000)
        time.sleep(1.0)  # the visit's follower is running; no auto-refresh was asked for

        sb.processing_seconds = 0  # both photos are done: the sandbox sends the events
        deadline = time.monotonic() + 10
        while "processed" not in row.inner_text():
            assert time.monotonic() < deadline, "the webhook never reached the page"
            time.sleep(0.01)
        seen = time.time()
        sent = [s for s in sb.webhooks_sent if s.event.get("order_is_processing") is False]
        assert sent and sent[-1].status == 200
        lag = seen - sent[-1].at
        print(f"webhook to page: {lag:.3f} s")
        assert lag <= 1.0, f"{lag:.2f} s from the sandbox's event to the page"
    finally:
        page.close()
