"""The desk's webhook receiver (``_hooks``) with real processes and real HTTP:
``autoenhance-desk --webhook-path ... --webhook-auth ...`` with its own sandbox, which
sends its webhooks to it. A refused delivery (wrong or missing authentication value,
oversized body, unknown event) gets a 4xx and writes nothing to the event log; the hook
takes no desk token, and nothing else is opened by that."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from autoenhance_nb.desk import _cli as cli

from ..helpers import WEBHOOK_AUTH, without_autoenhance_env

HOOK = "/hooks/autoenhance"
TOKEN = "hooks-desk-token-0123456789"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    pytest.importorskip("voila")
    base = tmp_path_factory.mktemp("hooks")
    env = without_autoenhance_env()
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR"):
        (base / name.lower()).mkdir()
        env[name] = str(base / name.lower())
    env["TMPDIR"] = str(base)  # where the desk makes its event log's folder
    port = cli.free_port()
    log_path = base / "desk.log"
    log = open(log_path, "w")
    command = [sys.executable, "-m", "autoenhance_nb.desk", "--port", str(port)]
    command += ["--export-dir", str(base / "exports"), "--token", TOKEN]
    command += ["--webhook-path", HOOK, "--webhook-auth", WEBHOOK_AUTH]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=base)
    deadline = time.monotonic() + 60
    while "running at" not in log_path.read_text() or "Webhooks received" not in (
        log_path.read_text()
    ):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the desk did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.1)
    (events,) = base.glob("autoenhance-desk-events-*/events.sqlite")
    yield {"url": f"http://127.0.0.1:{port}", "events": events, "log": log_path, "base": base}
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    log.close()
    assert not events.parent.exists(), "the event log outlived the desk"
    assert "Traceback" not in log_path.read_text()


def _rows(path: Path) -> list[dict]:
    with sqlite3.connect(path) as db:
        return [json.loads(b) for (b,) in db.execute("SELECT body FROM events ORDER BY id")]


def _post(url: str, body, auth: str | None = WEBHOOK_AUTH, **headers) -> int:
    if auth is not None:
        headers["Authorization"] = auth
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, headers=headers, timeout=10).status_code


@pytest.mark.slow
def test_the_desk_refuses_bad_deliveries_and_relays_good_ones(desk):
    hook = desk["url"] + HOOK
    deadline = time.monotonic() + 10
    while not _rows(desk["events"]):  # its own sandbox said hello (webhook_updated)
        assert time.monotonic() < deadline, "the desk's sandbox sent no webhook_updated"
        time.sleep(0.1)
    before = _rows(desk["events"])
    assert before == [{"event": "webhook_updated"}]
    good = {
        "event": "image_processed",
        "image_id": "img-1",
        "error": False,
        "order_id": "order-1",
        "order_is_processing": False,
    }
    statuses = [
        _post(hook, good, auth=None),
        _post(hook, good, auth="wrong-" + WEBHOOK_AUTH),
        _post(hook, good, auth=None, **{"X-Other": WEBHOOK_AUTH}),
        _post(hook, {**good, "pad": "x" * 20_000}),
        _post(hook, {**good, "event": "order_deleted"}),
        _post(hook, b"{not json"),
        requests.get(hook, headers={"Authorization": WEBHOOK_AUTH}, timeout=10).status_code,
    ]
    assert statuses == [401, 401, 401, 413, 422, 400, 405]
    assert _rows(desk["events"]) == before
    assert _post(hook, good) == 200  # no desk token needed: the authentication value
    assert _rows(desk["events"]) == [*before, good]


@pytest.mark.slow
def test_the_hook_opens_nothing_else_and_keeps_the_host_check(desk):
    # the token is still needed for the page (and so for any kernel)
    page = requests.get(desk["url"] + "/", timeout=30, allow_redirects=False)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    foreign = requests.post(
        desk["url"] + HOOK,
        data=b'{"event": "webhook_updated"}',
        headers={"Authorization": WEBHOOK_AUTH, "Host": "attacker.example"},
        timeout=10,
    )
    assert foreign.status_code == 403


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--webhook-path", HOOK], "needs --webhook-auth"),
        (["--webhook-auth", WEBHOOK_AUTH], "needs --webhook-path"),
        (["--webhook-path", "hooks", "--webhook-auth", WEBHOOK_AUTH], "must be a path"),
        (["--webhook-path", "/a/../b", "--webhook-auth", WEBHOOK_AUTH], "must be a path"),
        (["--webhook-path", HOOK, "--webhook-auth", "short"], "at least 16"),
        (
            ["--webhook-path", HOOK, "--webhook-auth", WEBHOOK_AUTH, "--webhook-header", "A B"],
            "not a header name",
        ),
    ],
)
def test_bad_webhook_options_are_one_line(tmp_path, capsys, args, problem):
    code = cli.main(["--export-dir", str(tmp_path / "x"), *args])
    err = capsys.readouterr().err
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert WEBHOOK_AUTH not in err


def test_the_webhook_settings_reach_the_server_and_the_event_log_the_kernels(tmp_path):
    config = tmp_path / "desk.json"
    config.write_text(json.dumps({"api_key": "k" * 20, "webhook_auth": WEBHOOK_AUTH}))
    config.chmod(0o600)
    args = cli.build_parser().parse_args(
        ["--export-dir", str(tmp_path / "x"), "--config", str(config), "--webhook-path", HOOK]
    )
    launch = cli.prepare(args)
    try:
        server = json.loads(launch.env["AUTOENHANCE_DESK_SERVER"])
        assert server["webhook"]["auth"] == WEBHOOK_AUTH
        assert server["webhook"]["path"] == HOOK
        assert launch.env["AUTOENHANCE_DESK_EVENTS"] == server["webhook"]["events"]
        assert oct(launch.events_dir.stat().st_mode & 0o777) == "0o700"
        assert not any(
            WEBHOOK_AUTH in v for k, v in launch.env.items() if k != "AUTOENHANCE_DESK_SERVER"
        )
    finally:
        launch.events_dir.rmdir()
