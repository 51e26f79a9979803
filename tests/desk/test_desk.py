"""The order desk without a browser: the command's arguments, the warning for a non-local
address, the message when Voila is missing, the one sandbox process started and stopped,
the key only from the server (environment or a private config file), the export folder,
and the page's widgets in a kernel-less session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from autoenhance_nb.desk import ENV_EXPORT_DIR, ENV_SYNC_LIMIT, Desk, gallery_class
from autoenhance_nb.desk import _cli as cli
from autoenhance_nb.desk import _settings as settings

from ..helpers import without_autoenhance_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)

FAKE_VOILA = textwrap.dedent(
    """
    import dataclasses, json, os, signal, sys, time


    class Voila:  # what _server.py (the desk's Voila) subclasses and launches
        @classmethod
        def launch_instance(cls, argv=None):
            out = os.environ["FAKE_VOILA_OUT"]
            keep = {k: v for k, v in os.environ.items() if k.startswith("AUTOENHANCE_")}
            guard = dataclasses.asdict(sys.modules["__main__"].GUARD)
            record = {"argv": list(argv), "env": keep, "pid": os.getpid(), "guard": guard}
            with open(out + ".tmp", "w") as f:
                json.dump(record, f)
            os.replace(out + ".tmp", out)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while True:
                time.sleep(0.1)
    """
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a desk run whose ``voila`` is a stand-in that records its
    arguments, its environment and the guards' settings (so these tests need no server)."""
    fake = tmp_path / "fake"
    (fake / "voila").mkdir(parents=True, exist_ok=True)
    (fake / "voila" / "__init__.py").write_text("")
    (fake / "voila" / "app.py").write_text(FAKE_VOILA)
    env = without_autoenhance_env()
    env["PYTHONPATH"] = os.pathsep.join([str(fake), str(ROOT)])
    env["FAKE_VOILA_OUT"] = str(tmp_path / "voila.json")
    env.update(extra)
    return env


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_desk_left_running():
    """A failed assertion must not leave a desk (and its sandbox) running."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _start_desk(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoenhance_nb.desk", "--port", "18999", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _STARTED.append(proc)
    out = tmp_path / "voila.json"
    deadline = time.monotonic() + 30
    while not out.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the desk did not start Voila:\n" + proc.communicate()[1])
        time.sleep(0.05)
    return proc, json.loads(out.read_text())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie of a finished child still answers: look at its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


# -- arguments ----------------------------------------------------------------------------
def test_defaults_bind_to_this_machine_and_use_a_light_theme():
    args = settings.build_parser().parse_args([])
    assert (args.port, args.ip, args.theme, args.open) == (8866, "127.0.0.1", "light", False)
    assert args.export_dir == "autoenhance-desk-exports" and args.config is None
    assert (args.cull_after, args.max_kernels, args.allowed_host, args.token) == (60, 10, [], None)
    command = cli.voila_command(args)
    assert command[1:3] == ["-m", "autoenhance_nb.desk._server"]  # Voila with the guards
    assert str(cli.NOTEBOOK) in command and cli.NOTEBOOK.exists()
    for flag in (
        "--port=8866",
        "--Voila.ip=127.0.0.1",
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--theme=light",
        "--no-browser",
    ):
        assert flag in command


def test_dark_theme_open_and_port_are_passed_to_voila():
    args = settings.build_parser().parse_args(["--theme", "dark", "--open", "--port", "9001"])
    command = cli.voila_command(args)
    assert "--theme=dark" in command and "--port=9001" in command
    assert "--no-browser" not in command


def test_an_unknown_theme_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        settings.build_parser().parse_args(["--theme", "blue"])
    assert info.value.code == 2
    assert "invalid choice: 'blue'" in capsys.readouterr().err


@pytest.mark.parametrize("ip", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_addresses_are_local(ip):
    assert settings.is_local(ip)


def test_a_non_local_ip_warns_that_the_token_link_spends_credits(tmp_path, capsys):
    code = cli.main(["--ip", "0.0.0.0", "--config", str(tmp_path / "missing.json")])
    err = capsys.readouterr().err
    assert code == 2  # the missing config stops it before anything starts
    assert "WARNING: listening on 0.0.0.0" in err
    assert "anyone with the token link" in err and "credits" in err and "TLS" in err


def test_a_local_ip_gives_no_warning(tmp_path, capsys):
    cli.main(["--config", str(tmp_path / "missing.json")])
    assert "WARNING" not in capsys.readouterr().err


# -- Voila missing ------------------------------------------------------------------------
def test_without_voila_the_command_says_what_to_install():
    code = (
        "import sys; sys.modules['voila'] = None\n"
        "from autoenhance_nb.desk import main\n"
        "sys.exit(main([]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode != 0
    assert 'pip install "autoenhance-nb[desk]"' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_voila_is_found_when_installed():
    pytest.importorskip("voila")
    assert cli.voila_installed()


# -- the sandbox process --------------------------------------------------------------------
def test_start_sandbox_runs_one_process_and_stop_ends_it():
    proc, url = cli.start_sandbox(0.5)
    try:
        answer = requests.get(f"{url}/v3/orders/", headers={"x-api-key": "sandbox"}, timeout=5)
        assert answer.status_code == 200
    finally:
        cli.stop(proc)
    assert proc.returncode is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v3/orders/", timeout=2)


def test_without_a_key_every_kernel_points_at_one_sandbox_which_stops_with_the_desk(tmp_path):
    proc, seen = _start_desk(tmp_path, "--sync-limit", "30")
    env = seen["env"]
    assert env["AUTOENHANCE_API_KEY"] == "sandbox"
    url = env["AUTOENHANCE_BASE_URL"]
    assert url.startswith("http://127.0.0.1:")
    # Voila starts beside the sandbox; the sandbox is up within seconds
    deadline = time.monotonic() + 30
    while True:
        try:
            assert requests.get(f"{url}/v3/orders/", headers={"x-api-key": "k"}, timeout=5).ok
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.1)
    assert env[ENV_EXPORT_DIR] == str(tmp_path / "autoenhance-desk-exports")
    assert (tmp_path / "autoenhance-desk-exports").is_dir()
    assert env[ENV_SYNC_LIMIT] == "30"
    assert "--strip_sources=True" in seen["argv"] and "--show_tracebacks=False" in seen["argv"]

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "SANDBOX at " + url in err and "Desk stopped." in err
    assert "Traceback" not in out + err
    assert _gone(seen["pid"])
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v3/orders/", timeout=2)


def test_ctrl_c_stops_the_desk_and_its_sandbox(tmp_path):
    proc, seen = _start_desk(tmp_path)
    url = seen["env"]["AUTOENHANCE_BASE_URL"]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "Desk stopped." in err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v3/orders/", timeout=2)


def test_with_a_key_in_the_environment_no_sandbox_starts_and_the_key_is_not_shown(tmp_path):
    key = "sk-desk-env-7f3a"
    proc, seen = _start_desk(tmp_path, AUTOENHANCE_API_KEY=key)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert seen["env"]["AUTOENHANCE_API_KEY"] == key
    assert "AUTOENHANCE_BASE_URL" not in seen["env"]
    assert "SANDBOX" not in err and key not in out + err


def test_the_guards_settings_reach_the_server_and_the_token_not_the_kernels(tmp_path):
    proc, seen = _start_desk(
        tmp_path,
        *("--ip", "0.0.0.0", "--allowed-host", "Desk.Example:443", "--allowed-host", "[::1]"),
        *("--max-kernels", "4", "--cull-after", "30"),
    )
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    guard = seen["guard"]
    token = guard.pop("token")
    assert guard == {
        "hosts": ["desk.example", "::1"],
        "local": False,
        "max_kernels": 4,
        "cull_after": 30.0,
        "webhook": None,  # no --webhook-path
    }
    assert len(token) >= 40 and f"/?token={token} using SANDBOX" in err
    # read and removed before Voila starts: its kernels inherit no token; not on argv
    assert "AUTOENHANCE_DESK_SERVER" not in seen["env"]
    assert token not in " ".join(seen["argv"]) and token not in json.dumps(seen["env"])


def test_a_local_desk_has_no_token_unless_given(tmp_path):
    proc, seen = _start_desk(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert seen["guard"]["token"] == "" and seen["guard"]["local"] is True
    assert "Autoenhance desk on http://127.0.0.1:18999/ using" in err


# -- the key from a config file ------------------------------------------------------------
def test_a_private_json_config_gives_the_key_and_url(tmp_path):
    path = tmp_path / "desk.json"
    path.write_text(json.dumps({"api_key": "sk-json-1", "base_url": "http://127.0.0.1:1"}))
    path.chmod(0o600)
    assert settings.read_config(str(path)) == {
        "api_key": "sk-json-1",
        "base_url": "http://127.0.0.1:1",
    }


def test_a_private_ini_config_gives_the_key(tmp_path):
    path = tmp_path / "desk.ini"
    path.write_text("[autoenhance]\napi_key = sk-ini-1\n")
    path.chmod(0o600)
    assert settings.read_config(str(path)) == {"api_key": "sk-ini-1"}


def test_a_config_others_can_read_is_refused_without_showing_the_key(tmp_path, capsys):
    path = tmp_path / "desk.json"
    path.write_text(json.dumps({"api_key": "sk-open-1"}))
    path.chmod(0o644)
    assert cli.main(["--config", str(path), "--export-dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "chmod 600" in err and "sk-open-1" not in err


@pytest.mark.parametrize(
    "text, problem",
    [
        ("{}", "has no api_key"),
        ('{"api_key": "two words"}', "cannot be used"),
        ("[other]\napi_key = x\n", "no [autoenhance] section"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_bad_config_is_one_line(tmp_path, text, problem):
    path = tmp_path / "desk.cfg"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(settings.DeskError, match=problem.replace("[", r"\[")) as info:
        settings.read_config(str(path))
    assert "\n" not in str(info.value) and "two words" not in str(info.value)


def test_the_config_key_reaches_voila_and_the_desk_uses_no_sandbox(tmp_path):
    path = tmp_path / "desk.json"
    path.write_text(json.dumps({"api_key": "sk-config-9"}))
    path.chmod(0o600)
    proc, seen = _start_desk(tmp_path, "--config", str(path), AUTOENHANCE_BASE_URL="http://x")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert seen["env"]["AUTOENHANCE_API_KEY"] == "sk-config-9"
    assert "AUTOENHANCE_BASE_URL" not in seen["env"]  # the config file's, or the default
    assert "sk-config-9" not in out + err + " ".join(seen["argv"])


# -- the export folder ------------------------------------------------------------------------
def test_export_dir_is_made_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = settings.export_folder("out/desk")
    assert path == tmp_path / "out" / "desk" and path.is_dir() and path.is_absolute()


def test_an_export_dir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    assert cli.main(["--export-dir", str(tmp_path / "taken")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


# -- the page in a kernel-less session ----------------------------------------------------------
@pytest.fixture
def desk(tracker, tmp_path):
    d = Desk(tracker, export_dir=tmp_path / "exports", sync_limit=40)
    yield d
    d.close()


def test_the_page_starts_from_the_accounts_newest_orders_newest_last(client, tracker, tmp_path):
    for i in range(50):
        client.create_order(name=f"old {i:02d}", order_id=f"old-{i:02d}")
    d = Desk(tracker, export_dir=tmp_path, sync_limit=40)
    try:
        d.load().join(30)
        assert len(tracker) == 40
        assert list(tracker.df["order_id"])[-1] == "old-49"  # the newest at the end
        assert "old-10" in list(tracker.df["order_id"]) and "old-09" not in tracker
        assert "Loaded the account&#39;s 40 newest orders" in d.status.value
        assert "SANDBOX" in d.title.value
        # orders another visitor made since: the reload button adds them
        client.create_order(name="made elsewhere", order_id="elsewhere-1")
        d.reload_button.click()
        d.wait_loaded()
        assert list(tracker.df["order_id"])[-1] == "elsewhere-1" and len(tracker) == 41
        assert not d.reload_button.disabled
    finally:
        d.close()


def test_the_page_has_no_key_field_and_no_live_switch(desk):
    def descendants(widget):
        for child in getattr(widget, "children", ()):
            yield child
            yield from descendants(child)

    everything = list(descendants(desk))
    assert desk.form.api_key not in everything
    assert desk.form.live_button not in everything and desk.form.sandbox_button not in everything
    assert desk.form.api_key.comm is None  # closed: no page can send it a key


def test_the_pages_export_refuses_paths_and_writes_only_into_its_folder(desk, tmp_path):
    for bad in ("../escape.csv", "/tmp/escape.csv", "sub/x.csv", "..", "~x.csv"):
        desk.form.filename.value = bad
        assert desk.form.export() is False
        assert "plain name" in desk.form.message.value
    desk.form.filename.value = "fine"
    assert desk.form.export()
    desk.form.wait()
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["fine.csv"]
    assert not list(tmp_path.glob("escape*")) and not Path("/tmp/escape.csv").exists()


def test_an_unreachable_api_is_one_line_on_the_page(tmp_path):
    from autoenhance_nb import AutoenhanceClient, OrderTracker

    tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url="http://127.0.0.1:9", timeout=2))
    d = Desk(tracker, export_dir=tmp_path, sync_limit=10)
    try:
        d.load().join(60)
        text = d.status.value
        assert "Could not load the account&#39;s orders" in text and "Traceback" not in text
    finally:
        d.close()


def test_show_desk_reads_its_settings_from_the_environment(monkeypatch, tmp_path, sandbox):
    from autoenhance_nb import reset_session
    from autoenhance_nb.desk import show_desk

    monkeypatch.setenv("AUTOENHANCE_API_KEY", "sandbox")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    monkeypatch.setenv(ENV_EXPORT_DIR, str(tmp_path / "desk-exports"))
    monkeypatch.setenv(ENV_SYNC_LIMIT, "5")
    reset_session()
    try:
        d = show_desk()
        assert d is not None and d.sync_limit == 5
        assert d.form.export_dir == tmp_path / "desk-exports"
        assert (tmp_path / "desk-exports").is_dir()
        d.wait_loaded()
        assert d.tracker.environment == "sandbox"
        d.close()
    finally:
        reset_session()


def test_the_gallery_of_a_chosen_order_when_it_exists(desk, tracker):
    if gallery_class() is None:
        assert desk.gallery_order not in desk.children and desk.form_gallery is None
        pytest.skip(
            "autoenhance_nb.widgets.gallery._gallery is not there: the desk shows no gallery"
        )
    tracker.create("Gallery order", order_id="gal-1")
    desk.show_gallery("gal-1")
    shown = desk.gallery
    assert shown is not None and shown.order_id == "gal-1"
    assert shown.exports.path == desk.export_dir  # buys go into the desk's folder only
    if desk.form_gallery is not None:  # the form's own picker: the desk adds no second one
        assert desk.gallery_order not in desk.children
    else:
        assert "gal-1" in dict(desk.gallery_order.options).values()
        desk.show_gallery("")
        assert desk.gallery is None and desk.gallery_box.children == ()


def test_one_environment_badge_on_the_first_screen(desk, tracker):
    tracker.create("Badge order", order_id="badge-1")
    shown = desk.title.value + desk.form.header.value + desk.form.table.value
    assert shown.count("ae-env") == 1 and "ae-env" in desk.title.value
