"""The order desk in a real browser: ``autoenhance-desk`` on a free port (its own sandbox
process), headless Chromium on the Voila page. Create an order from the page with the
sample photos and a preset, watch them process, open the gallery and buy one full size
(when the gallery exists), export the CSV and download it through the page's link; a
file name with ``..`` or ``/`` is refused and nothing lands outside the export folder;
a second visit sees the same orders; no code on the page, no traceback in the log.

The desk runs as a team would host it: with a token (the page is opened with
``?token=``, its websocket then rides on the login cookie) and a short ``--cull-after``,
so the test also shows that an open page, idle longer than that, keeps its kernel."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from autoenhance_nb.desk import gallery_class

from ..helpers import (
    ARTIFACTS,
    CUT_JS,
    free_port,
    kept_on_failure,
    need_browser,
    without_autoenhance_env,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = sorted((ROOT / "notebooks" / "data" / "photos").glob("*.png"))
SCREENSHOT = ROOT / "docs" / "images" / "desk.png"
ORDER_ID = "desk-e2e-1"
ORDER_NAME = "Desk order – Rue Oberkampf"
TOKEN = "browser-desk-token-5f2a91"
CULL = 4  # --cull-after: far less than the test takes


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    need_browser()
    pytest.importorskip("voila")
    base = tmp_path_factory.mktemp("desk")
    exports = base / "exports"
    env = without_autoenhance_env()
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR"):
        (base / name.lower()).mkdir()
        env[name] = str(base / name.lower())
    command = shutil.which("autoenhance-desk")
    prefix = [command] if command else [sys.executable, "-m", "autoenhance_nb.desk"]
    port = free_port()
    log_path = base / "desk.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [
            *prefix,
            "--port",
            str(port),
            "--export-dir",
            str(exports),
            "--sandbox-processing-seconds",
            "1",
            "--token",
            TOKEN,
            "--cull-after",
            str(CULL),
            "--max-drop-mb",
            "20",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=base,
    )
    url = f"http://127.0.0.1:{port}/?token={TOKEN}"
    deadline = time.monotonic() + 60
    while "Voil" not in log_path.read_text() or "running at" not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the desk did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)
    sandbox_url = re.search(r"SANDBOX at (http://\S+)", log_path.read_text()).group(1)
    yield {"url": url, "base": base, "exports": exports, "log": log_path, "sandbox": sandbox_url}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _open(browser, url):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1200, "height": 1000}, accept_downloads=True)
    page.goto(url)
    expect(page.locator(".ae-desk")).to_be_visible()
    return page


def test_the_desk_in_a_browser(desk, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    page = _open(browser, desk["url"])
    with kept_on_failure(page, "failure-desk.png", desk["log"], "desk.log"):
        title = page.locator(".ae-desk-title")
        expect(title).to_contain_text("SANDBOX")
        # no code and no startup noise on the page, no key field, no live switch
        text = page.locator("body").inner_text()
        for noise in ("show_desk", "import ", "%load_ext", "autoenhance: no AUTOENHANCE"):
            assert noise not in text
        assert page.locator(".jp-InputArea, .CodeMirror, .cm-editor").count() == 0
        assert page.locator(".ae-api-key, button.ae-live, button.ae-sandbox").count() == 0

        form = page.locator(".ae-form")
        form.locator(".ae-name input").fill(ORDER_NAME)
        form.locator(".ae-order-id input").fill(ORDER_ID)
        preset = form.locator(".ae-preset select")
        if not preset.is_visible():  # the Enhancement section may start folded
            form.get_by_text("Enhancement options").first.click()
        preset.select_option(label="warm")
        # the drop zone's hover text says what it does (FileUpload's said "null")
        expect(form.locator(".ae-photos .ae-drop-zone")).to_have_attribute(
            "title", re.compile("^Choose photos on this computer, or drop")
        )
        with page.expect_file_chooser() as chooser:
            form.locator(".ae-photos .ae-drop-zone").click()
        chooser.value.set_files([str(p) for p in PHOTOS])
        expect(form.locator(".ae-photos")).to_contain_text(f"({len(PHOTOS)})")
        form.locator("button.ae-create").click()
        expect(form.locator(".ae-message")).to_contain_text(
            f"uploaded {len(PHOTOS)} of {len(PHOTOS)}, 0 failed"
        )
        # the preset reached the API with every photo
        order = requests.get(
            f"{desk['sandbox']}/v3/orders/{ORDER_ID}", headers={"x-api-key": "k"}, timeout=10
        ).json()
        assert [i.get("enhance_type") for i in order["images"]] == ["warm"] * len(PHOTOS)

        row = form.locator(".ae-table tr", has_text=ORDER_ID)
        form.locator("button.ae-auto").click()
        expect(form.locator(".ae-message")).to_contain_text("Auto-refresh stopped")
        expect(row).to_contain_text("processed")

        bought = None
        if gallery_class() is not None:
            label = f"{ORDER_NAME} · {ORDER_ID}"
            if page.locator(".ae-desk-order").count():  # the desk's own picker
                page.locator(".ae-desk-order select").select_option(label=label)
            else:  # the form's "Gallery of" picker
                picker = form.locator(".ae-gallery-picker")
                picker.locator(".ae-gallery-order select").select_option(label=label)
                picker.locator("button.ae-show-gallery").click()
            gallery = page.locator(".ae-desk .ae-gallery")
            expect(gallery.locator(".ae-card")).to_have_count(len(PHOTOS))
            card = gallery.locator(".ae-card").first
            # before and after, over each other; the keyboard moves the line
            card.locator("button.ae-compare-button").click()
            compare = gallery.locator(".ae-compare")
            expect(compare.locator(".ae-compare-frame img")).to_have_count(2)
            clip = compare.locator(".ae-compare-clip")
            assert "inset(0 0 0 50%)" in clip.inner_html()
            handle = compare.locator(".ae-compare-slider .noUi-handle")
            handle.focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            expect(handle).to_have_attribute("aria-valuenow", "53.0")
            page.wait_for_function(
                "e => e.innerHTML.includes('inset(0 0 0 53%)')", arg=clip.element_handle()
            )
            box = compare.locator(".ae-compare-frame").bounding_box()
            assert box["width"] > 2 * card.bounding_box()["width"]  # wider than a card
            page.locator(".ae-desk").screenshot(path=str(ARTIFACTS / "desk-compare.png"))
            card.locator("button.ae-buy").click()
            expect(card.locator(".ae-card-link a")).to_be_visible()
            with page.expect_download() as info:
                card.locator(".ae-card-link a").click()
            bought = Path(info.value.path()).read_bytes()
            assert bought[:4] == b"\x89PNG" or bought[:2] == b"\xff\xd8"

        # a name with .. or / is refused, and nothing is written
        for bad in ("../escape.csv", "sub/escape.csv", "/tmp/escape.csv"):
            form.locator(".ae-filename input").fill(bad)
            form.locator(".ae-filename input").press("Tab")
            form.locator("button.ae-export").click()
            expect(form.locator(".ae-message")).to_contain_text("plain name")
        form.locator(".ae-filename input").fill("desk_orders.csv")
        form.locator(".ae-filename input").press("Tab")
        form.locator("button.ae-export").click()
        expect(form.locator(".ae-message")).to_contain_text("Exported 1 order to desk_orders.csv")
        on_disk = desk["exports"] / "desk_orders.csv"
        assert pd.read_csv(on_disk)["order_id"].tolist() == [ORDER_ID]
        with page.expect_download() as info:
            form.locator(".ae-download a.ae-download-link").click()
        assert Path(info.value.path()).read_bytes() == on_disk.read_bytes()

        written = sorted(p.relative_to(desk["base"]) for p in desk["base"].rglob("*"))
        outside = [
            p
            for p in written
            if p.parts[0] not in ("exports", "desk.log") and not p.parts[0].startswith("jupyter_")
        ]
        assert outside == [], f"written outside the export folder: {outside}"
        assert not Path("/tmp/escape.csv").exists()
        names = sorted(p.name for p in desk["exports"].iterdir())
        assert "desk_orders.csv" in names and len(names) == (2 if bought else 1)

        # a second visit (a new kernel) starts from the same sandbox orders
        other = _open(browser, desk["url"])
        with kept_on_failure(other, "failure-desk-second-visit.png"):
            status = other.locator(".ae-desk-status")
            expect(status).to_contain_text("Loaded the account's 1 newest")
            expect(other.locator(".ae-form .ae-table")).to_contain_text(ORDER_ID)
            expect(other.locator(".ae-form .ae-table")).to_contain_text("processed")

        # an open page idle for longer than --cull-after keeps its kernel: it still answers
        time.sleep(CULL + 3)
        status = page.locator(".ae-desk-status")
        assert "Loaded the account's 1 newest" not in status.inner_text()  # yet
        page.locator("button.ae-desk-reload").click()
        expect(status).to_contain_text("Loaded the account's 1 newest")

        ARTIFACTS.mkdir(exist_ok=True)
        # Voila scrolls inside its own box: a tall window shows the whole desk
        page.set_viewport_size({"width": 1200, "height": 2400})
        page.locator(".ae-desk").screenshot(path=str(ARTIFACTS / "desk.png"))
        if os.environ.get("AUTOENHANCE_UPDATE_SCREENSHOTS") == "1":
            shutil.copy(ARTIFACTS / "desk.png", SCREENSHOT)
        log = desk["log"].read_text()
        assert "Traceback" not in log, log[-3000:]


HOSTILE = (
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(2)>',
    "</style></div><script>alert(3)</script>",
    "' onmouseover='alert(4)",
)
INJECTED = """root => [
    ...[...root.querySelectorAll('script, svg, iframe, object, embed')].map(e => e.tagName),
    ...[...root.querySelectorAll('img')]
        .filter(i => !i.classList.contains('ae-thumb')).map(i => 'img ' + i.src),
    ...[...root.querySelectorAll('*')].flatMap(e => [...e.attributes])
        .filter(a => a.name.startsWith('on')).map(a => a.name),
]"""


def _jpeg(colour: tuple[int, int, int]) -> list[int]:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "JPEG")
    return list(out.getvalue())


#: A DataTransfer holding files made in the page: [[name, bytes or a size, type], ...].
FILES_JS = """files => { const d = new DataTransfer();
    for (const [name, data, type] of files) d.items.add(new File(
        [new Uint8Array(data)], name, {type}));
    return d; }"""


def _drop(page, zone, files) -> None:
    """Drag ``files`` ([name, bytes or a size, type]) over the zone and drop them."""
    data = page.evaluate_handle(FILES_JS, files)
    zone.dispatch_event("dragenter", {"dataTransfer": data})
    zone.dispatch_event("dragover", {"dataTransfer": data})
    zone.dispatch_event("drop", {"dataTransfer": data})


#: The package's drop script, imported in the page: a fake tree of folder entries
#: (Playwright cannot drop a real folder) is walked, in batches as Chromium reads them.
WALK_JS = """async src => {
    const m = await import(URL.createObjectURL(new Blob([src], {type: 'text/javascript'})));
    const file = path => ({isFile: true, isDirectory: false, fullPath: path,
        file: ok => ok(new File(['x'], path.split('/').pop(), {type: ''}))});
    const dir = (path, children, per) => ({isFile: false, isDirectory: true, fullPath: path,
        createReader: () => { let i = 0; return {readEntries: ok => {
            const batch = children.slice(i, i + per); i += per; setTimeout(() => ok(batch)); }}; }});
    const shoot = dir('/shoot', [file('/shoot/IMG_0003.CR2'), file('/shoot/IMG_0001.CR2'),
        dir('/shoot/sky', [file('/shoot/sky/IMG_0002.jpg')], 1), file('/shoot/notes.txt'),
        file('/shoot/IMG_0010.CR2')], 2);
    const drop = {files: [], items: [{kind: 'file', webkitGetAsEntry: () => shoot},
        {kind: 'string', webkitGetAsEntry: () => null}]};
    const found = await m.dropped(drop);
    // a kernel as _drop.py answers: it takes a batch (or refuses it), then acknowledges
    // each piece 50 ms later; what goes unanswered is measured
    const kernel = (refuse) => {
        const sent = [], heard = [];
        let got = 0, out = 0, most = 0;
        const tell = (msg) => setTimeout(() => heard.forEach(h => h(msg)), 5);
        return {sent, most: () => most, on: (name, h) => name === 'msg:custom' && heard.push(h),
            send: (content, _, buffers) => {
                sent.push([content.kind, content.file ?? null, content.offset ?? null,
                    buffers ? buffers[0].byteLength : 0, (content.files || []).map(f => f.name),
                    content.skipped || []]);
                if (content.kind === 'batch') tell(refuse
                    ? {kind: 'refused', batch: content.batch, reason: refuse}
                    : {kind: 'ack', batch: content.batch, received: 0});
                if (content.kind === 'chunk') {
                    out += buffers[0].byteLength; most = Math.max(most, out - got);
                    const received = out;
                    setTimeout(() => { got = received;
                        heard.forEach(h => h({kind: 'ack', batch: content.batch, received})); }, 50);
                }
            }};
    };
    const model = kernel(null);
    const progress = [];
    const outcome = await m.send(model, [...found,
        new File([new Uint8Array(5 * 1024 * 1024)], 'big.dng', {type: ''})],
        (done, total) => progress.push([done, total]));
    const flood = kernel(null);
    await m.send(flood, [new File([new Uint8Array(20 * 1024 * 1024)], 'huge.dng', {type: ''})]);
    const refusing = kernel('Not taken: too much');
    const refused = await m.send(refusing, [new File(['x'], 'a.jpg', {type: 'image/jpeg'})]);
    // a kernel that never answers, and the view closed meanwhile: the send ends
    const silent = {sent: [], on: () => {}, send: (c) => silent.sent.push(c.kind)};
    const waiting = m.send(silent, [new File(['x'], 'a.jpg', {type: 'image/jpeg'})]);
    setTimeout(() => m.close(silent), 50);
    const closed = [await waiting, silent.sent];
    return [found.map(f => f.name), m.CHUNK, model.sent, outcome, progress.at(-1),
            [m.WINDOW, flood.most(), flood.sent.length], [refused, refusing.sent.length],
            closed];
}"""


def test_hostile_strings_stay_text_on_the_desk(desk, browser):
    """Another client on the account names orders, ids and photos with markup and puts
    markup in an image's options (``finetune_settings`` is free JSON): a visitor's desk
    shows it all as text, in the table, the pickers and the gallery (with a card's Redo
    panel open); a visitor typing markup into the desk's own fields gets text too. No
    dialog opens and no element or handler is injected (this was stored XSS: a card's
    options line ran in every visitor's page)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    headers = {"x-api-key": "k", "content-type": "application/json"}
    api = desk["sandbox"]
    made = []
    for i, text in enumerate(HOSTILE):
        body = {"name": f"{text} name", "order_id": f"{text} #{i}"}
        answer = requests.post(f"{api}/v3/orders/", json=body, headers=headers, timeout=10)
        assert answer.status_code in (200, 201), answer.text
        made.append(answer.json()["order_id"])
    for text in HOSTILE:
        body = {
            "order_id": made[0],
            "image_name": f"{text}.png",
            "finetune_settings": {"sky": text, "deep": {"x": [text]}},
            "metadata": {"note": text},
        }
        answer = requests.post(f"{api}/v3/images/", json=body, headers=headers, timeout=10)
        assert answer.status_code in (200, 201), answer.text
    page = _open(browser, desk["url"])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with kept_on_failure(page, "failure-hostile-desk.png", desk["log"], "desk-hostile.log"):
        desk_root = page.locator(".ae-desk")
        expect(desk_root.locator(".ae-form .ae-table")).to_contain_text("onerror=alert(1)")
        picker = page.locator(".ae-gallery-picker")
        choice = picker.locator(".ae-gallery-order select")
        labels = [t.replace("\xa0", " ") for t in choice.locator("option").all_inner_texts()]
        first = [i for i, label in enumerate(labels) if label.startswith(HOSTILE[0] + " name")]
        assert first, labels
        first = first[0]
        choice.select_option(index=first)
        picker.locator("button.ae-show-gallery").click()
        gallery = page.locator(".ae-desk .ae-gallery")
        expect(gallery.locator(".ae-card")).to_have_count(len(HOSTILE))
        gallery.locator(".ae-card").first.locator("button.ae-redo").click()
        expect(gallery.locator(".ae-redo-panel").first).to_be_visible()
        # a visitor types markup into the desk's own fields
        form = page.locator(".ae-form")
        form.locator(".ae-name input").fill(HOSTILE[0] + " typed")
        form.locator(".ae-order-id input").fill(made[1])  # taken: an error line
        form.locator("button.ae-create").click()
        expect(form.locator(".ae-message")).to_contain_text("onerror=alert(1)")

        # the drop zone: Tab reaches it (a focus ring shows), Enter opens the dialog
        zone = form.locator(".ae-photos .ae-drop-zone")
        form.locator(".ae-photo-target select").focus()
        page.keyboard.press("Shift+Tab")
        assert zone.evaluate("z => z === document.activeElement")
        assert zone.evaluate("z => getComputedStyle(z).outlineStyle") == "solid"
        with page.expect_file_chooser() as chooser:
            zone.press("Enter")  # on the zone itself: a re-render may move the focus
        assert chooser.value.is_multiple()
        # a 12 MB file crosses the server's 10 MiB websocket limit in chunks; Clear
        _drop(page, zone, [["big.jpg", 12_000_000, "image/jpeg"]])
        expect(form.locator(".ae-photos")).to_contain_text("(1)")
        # more than the desk's --max-drop-mb (20) at once: refused in one line, nothing kept
        _drop(page, zone, [["more.jpg", 12_000_000, "image/jpeg"]])
        expect(form.locator(".ae-message")).to_contain_text(
            "Not taken: 12 MB of photos; the kernel holds at most 20 MB at once (12 MB chosen "
            "already). Drop fewer photos at once: the shoot in parts."
        )
        expect(form.locator(".ae-photos")).to_contain_text("(1)")
        form.locator(".ae-photos button.ae-drop-clear").click()
        expect(form.locator(".ae-photos")).to_contain_text("(0)")
        # two photos dropped (one named with markup) go into the new order, sorted
        names = [HOSTILE[0] + ".jpg", "b.jpg"]
        _drop(
            page,
            zone,
            [
                [names[1], _jpeg((200, 40, 40)), "image/jpeg"],
                [names[0], _jpeg((40, 40, 200)), "image/jpeg"],
            ],
        )
        expect(form.locator(".ae-photos")).to_contain_text("(2)")
        form.locator(".ae-order-id input").fill("dropped-1")
        form.locator(".ae-order-id input").press("Tab")
        form.locator("button.ae-create").click()
        expect(form.locator(".ae-message")).to_contain_text("uploaded 2 of 2, 0 failed")
        expect(form.locator(".ae-photos")).to_contain_text("(0)")
        order = requests.get(f"{api}/v3/orders/dropped-1", headers=headers, timeout=10).json()
        assert len(order["images"]) == 2, order
        # a folder dropped: walked to the bottom, sorted by path, not-photos left out;
        # a big file goes in 2 MiB chunks
        found, chunk, sent, outcome, progress, flood, refused, closed = page.evaluate(
            WALK_JS, (ROOT / "autoenhance_nb" / "widgets" / "_drop.js").read_text()
        )
        assert found == [
            "IMG_0001.CR2",
            "IMG_0003.CR2",
            "IMG_0010.CR2",
            "notes.txt",
            "IMG_0002.jpg",
        ]
        assert chunk == 2 * 1024 * 1024
        assert sent[0][4] == [n for n in found if n != "notes.txt"] + ["big.dng"]
        assert sent[0][5] == ["notes.txt"]
        assert [m[:4] for m in sent[-3:]] == [
            ["chunk", 4, 0, chunk],
            ["chunk", 4, chunk, chunk],
            ["chunk", 4, 2 * chunk, chunk // 2],
        ]
        assert outcome == {"sent": 5, "refused": None} and progress == [5 * 1024**2 + 4] * 2
        # 20 MiB to a kernel answering every piece late: never more than the window
        # unanswered (was all of it), every piece sent
        window, most, pieces = flood
        assert window == 4 * chunk and window <= most < window + chunk and pieces == 1 + 10
        # a refused drop: the reason comes back, and no byte was sent
        assert refused == [{"sent": 0, "refused": "Not taken: too much"}, 1]
        assert closed == [{"sent": 0, "refused": ""}, ["batch"]]  # never waits forever
        page.wait_for_timeout(1000)  # any injected handler has had its chance

        assert desk_root.evaluate(INJECTED) == [] and dialogs == []
        text = desk_root.inner_text()
        assert text.count("onerror=alert(1)") >= 4 and "alert(3)" in text
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hostile-desk.png"), full_page=True)
        log = desk["log"].read_text()
        assert "Traceback" not in log, log[-3000:]


WIDTHS = (600, 700, 1024, 1400)
#: The API's names: never a visible label on the desk.
API_NAMES = ("enhance_type", "ai_version", "cloud_type", "finetune_settings", "image_count")


def _note_away(url: str, away: list[str]) -> None:
    if not url.startswith(("http://127.0.0.1", "data:", "blob:")):
        away.append(url)


def test_the_first_screen_fits_every_width_offline_in_both_themes(desk, browser):
    """One load per theme, resized between checks: the first screen leads (name,
    photos, preset, Create), shows one environment badge and "No" HDR brackets, no API
    name as a label, nothing cut without a tooltip and no sideways scroll at 600, 700,
    1024 and 1400 px; no request leaves 127.0.0.1; nothing is logged per visit."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    headers = {"x-api-key": "k", "content-type": "application/json"}
    long_name = "Penthouse with terrace – 118 Boulevard Richard-Lenoir, 5th floor"
    requests.post(
        f"{desk['sandbox']}/v3/orders/", json={"name": long_name}, headers=headers, timeout=10
    ).raise_for_status()
    before = desk["log"].read_text()
    for theme in ("light", "dark"):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        away: list[str] = []
        page.on("request", lambda r, away=away: _note_away(r.url, away))
        try:
            page.goto(f"{desk['url']}&theme={theme}")
            root = page.locator(".ae-desk")
            expect(root.locator(".ae-form .ae-table")).to_contain_text(long_name)
            form = root.locator(".ae-form")
            tops = [
                form.locator(s).first.bounding_box()["y"]
                for s in (".ae-name", ".ae-photos", ".ae-preset", "button.ae-create")
            ]
            assert tops == sorted(tops), tops
            assert root.locator(".ae-env:visible").count() == 1
            brackets = form.locator(".ae-brackets select")
            assert brackets.evaluate("s => s.options[s.selectedIndex]?.text") == "No"
            text = root.inner_text()
            assert not [n for n in API_NAMES if n in text]
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 1000})
                page.wait_for_timeout(300)  # the layout settles
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"desk-{theme}-{width}.png"))
                problems = root.evaluate(CUT_JS)
                assert problems == [], (theme, width, problems)
            # the folded options, opened at the narrowest width: words, none cut
            page.set_viewport_size({"width": WIDTHS[0], "height": 1400})
            form.get_by_text("Enhancement options").first.click()
            options = form.locator(".ae-enhancement")
            expect(options).to_contain_text("Sky replacement")
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"desk-{theme}-options.png"), full_page=True)
            assert not [n for n in API_NAMES if n in options.inner_text()]
            assert root.evaluate(CUT_JS) == []
            assert away == []
        finally:
            page.close()
    visits = desk["log"].read_text()[len(before) :]
    assert "WARNING" not in visits and "not trusted" not in visits, visits
