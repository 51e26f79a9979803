"""The key (issue items 16-18): a key that is not one printable line is refused when set,
with an error that never contains it; verbose tracebacks (``%xmode Verbose``) never show
it; DEBUG logging never shows an upload URL's token.

Real IPython shell, real kernel, real sandbox; only public names.
"""

from __future__ import annotations

import getpass
import logging
import re

import pytest
from IPython.utils.capture import capture_output

import autoenhance_nb as ae
from autoenhance_nb import AutoenhanceClient, OrderTracker
from autoenhance_nb.magic._magics import magics_of
from autoenhance_nb.sandbox import Sandbox

from ..helpers import png_bytes, run
from ..hostile import Kernel

SENTINEL = "sk-SENTINEL-secrecy-5b1e"


@pytest.fixture
def verbose(shell):
    """The shell with %xmode Verbose and short_errors=False; restored afterwards."""
    shell.extension_manager.load_extension("autoenhance_nb")
    magics = magics_of(shell)
    saved = {k: getattr(magics, k) for k in ("short_errors", "max_retries", "progress")}
    with capture_output():
        shell.run_line_magic("xmode", "Verbose")
    magics.short_errors = False
    magics.progress = False
    yield shell
    with capture_output():
        shell.run_line_magic("xmode", "Context")
    for k, v in saved.items():
        setattr(magics, k, v)
    ae.reset_session()


def no_key(*texts: str) -> None:
    for text in texts:
        assert "SENTINEL" not in text, (
            "the key leaked: ..."
            + text[max(0, text.find("SENTINEL") - 160) : text.find("SENTINEL") + 40]
            + "..."
        )


# -- 16. a key is checked when set --------------------------------------------------------
BAD_KEYS = {
    "newline": "\n",
    "crlf": "\r\n",
    "tab": "\t",
    "space": " ",
    "nul": "\x00",
    "del": "\x7f",
    "line-separator": "\u2028",
}


@pytest.mark.parametrize("inner", list(BAD_KEYS))
def test_a_key_that_is_not_one_printable_line_is_refused_without_showing_it(sandbox, inner):
    key = f"{SENTINEL}{BAD_KEYS[inner]}sk-OTHER"
    with pytest.raises((ae.AutoenhanceError, ValueError)) as info:
        AutoenhanceClient(api_key=key, base_url=sandbox.url)
    no_key(str(info.value), repr(info.value))
    with pytest.raises((ae.AutoenhanceError, ValueError)) as info:
        ae.use_live(key, base_url=sandbox.url)
    no_key(str(info.value), repr(info.value))
    ae.reset_session()


def test_a_two_line_key_in_the_environment_leaks_nowhere(shell, sandbox, monkeypatch):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", f"{SENTINEL}\nsk-OTHER")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    ae.reset_session()
    texts = []
    result, out = run(shell, "%load_ext autoenhance_nb")
    texts.append(out)
    for code in ("%autoenhance_order Kitchen", "%%autoenhance_order\nHall\nGarden\nLoft\n"):
        result, out = run(shell, code)
        assert not result.success, out
        texts += [out, repr(result.error_in_exec)]
    try:
        form = ae.OrderForm()
        form.name.value = "Form order"
        form.create_button.click()
        form.wait()
        texts += [form.message.value]
        form.close()
    except Exception as exc:  # noqa: BLE001 - refusing to build the form is fine
        texts += [str(exc), repr(exc)]
    assert sandbox.orders == []
    no_key(*texts)
    ae.reset_session()


# -- 17. verbose tracebacks -------------------------------------------------------------------
def test_verbose_traceback_of_login_with_a_bad_base_url_hides_the_key(
    verbose, monkeypatch, sandbox
):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "test-key")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    ae.reset_session()
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": SENTINEL)
    result, out = run(verbose, "%autoenhance_login --base-url htps://api.autoenhance.ai")
    assert not result.success
    assert "Traceback" in out, "no verbose traceback shown (short_errors=False)"
    no_key(out)


def test_verbose_traceback_of_use_live_with_a_bad_base_url_hides_the_key(
    verbose, monkeypatch, sandbox
):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", "test-key")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    ae.reset_session()
    verbose.user_ns["_secret"] = lambda: SENTINEL  # the cell's text never holds the key
    result, out = run(
        verbose,
        "import autoenhance_nb\nautoenhance_nb.use_live(_secret(), base_url='api.autoenhance.ai')",
    )
    assert not result.success
    assert "Traceback" in out
    no_key(out)


def test_verbose_traceback_of_a_two_line_key_hides_it(verbose, monkeypatch, sandbox):
    monkeypatch.setenv("AUTOENHANCE_API_KEY", f"{SENTINEL}\nsk-OTHER")
    monkeypatch.setenv("AUTOENHANCE_BASE_URL", sandbox.url)
    ae.reset_session()
    result, out = run(verbose, "%autoenhance_order Kitchen")
    assert not result.success
    no_key(out)
    result, out = run(verbose, "%%autoenhance_order\nHall\nGarden\n")
    no_key(out)


@pytest.mark.slow  # a real kernel
@pytest.mark.timeout(120)
def test_verbose_traceback_of_an_interrupted_create_hides_the_key():
    with Sandbox(api_key=SENTINEL, latency=4, processing_seconds=0) as sb:
        with Kernel({"AUTOENHANCE_API_KEY": SENTINEL, "AUTOENHANCE_BASE_URL": sb.url}) as k:
            setup = k.execute(
                "%load_ext autoenhance_nb\n%xmode Verbose\n"
                "%config AutoenhanceMagics.progress = False\n"
            )
            assert setup.status == "ok", setup.text
            run_ = k.execute("%autoenhance_order Kitchen", interrupt_after=1.0, timeout=30)
            assert run_.ename == "KeyboardInterrupt", run_.text[-500:]
            assert run_.traceback, "no traceback"
            no_key(run_.text)
            run_ = k.execute("%%autoenhance_order\nHall\nGarden\n", interrupt_after=1.0, timeout=30)
            no_key(run_.text)


# -- 18. DEBUG logging never shows an upload URL's token ---------------------------------------
def test_debug_logging_never_shows_the_upload_urls_token(sandbox, caplog):
    caplog.set_level(logging.DEBUG)  # the README's logging.basicConfig(level=DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "autoenhance_nb", "requests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    client = AutoenhanceClient(api_key="test-key", base_url=sandbox.url)
    tracker = OrderTracker(client)
    tracker.create("Photos", order_id="photos-1")
    result = tracker.add_images(
        "photos-1", [("a.png", png_bytes()), ("b.png", png_bytes())], progress=False
    )
    assert result.ok, result.failed
    image = client.create_image("photos-1", "c.png")
    token = re.search(r"[?&][^=]*token[^=]*=([^&]+)", image["upload_url"])
    client.upload_image("photos-1", png_bytes(), image_name="d.png")
    messages = [r.getMessage() for r in caplog.records]
    assert any("/_uploads/" in m for m in messages), "the upload was not logged at all"
    leaks = [m for m in messages if re.search(r"/_uploads/\S*\?", m) or "token=" in m]
    assert leaks == [], leaks[:2]
    if token:
        assert not any(token.group(1) in m for m in messages)
