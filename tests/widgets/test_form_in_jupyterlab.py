"""The quickstart in real JupyterLab, driven by headless Chromium through Playwright:
run all cells, fill in the form, click Create, see the orders in the table, switch on
auto-refresh, export and download the CSV, leave a key in the key field (it never
reaches the saved widget state), shrink the window to 700 px (no button label cut),
and read the table's header in the dark theme. In CI a missing browser is a failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from ..helpers import ARTIFACTS, CUT_JS, kept_on_failure, run_all_cells

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "images" / "form.png"
SENTINEL = "sk-SENTINEL-browser-91d4"


def test_quickstart_form_in_jupyterlab(lab, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    with kept_on_failure(page, "failure.png", lab["log"], "lab.log"):
        page.goto(f"{lab['url']}/lab/tree/quickstart.ipynb?token={lab['token']}")
        expect(page.locator("#jp-main-statusbar span[title^='Change kernel']")).to_have_text(
            re.compile(r"^Python 3.*\| Idle$")
        )
        run_all_cells(page)
        # the last cell's line means every cell ran
        expect(page.get_by_text("Quickstart finished:").first).to_be_visible()

        form = page.locator(".ae-form").first
        form.scroll_into_view_if_needed()
        expect(form.locator(".ae-header")).to_contain_text("SANDBOX")
        names = ["Browser order one", "Browser order – two", "Browser order 3 🏠"]
        for name in names:
            form.locator(".ae-name input").fill(name)
            form.locator("button.ae-create").click()
            expect(form.locator(".ae-message")).to_contain_text(f"'{name}' (waiting)")
            expect(form.locator(".ae-name input")).to_have_value("")
        table = form.locator(".ae-table")
        for name in names:
            expect(table).to_contain_text(name)
        expect(table).to_contain_text("7 orders")  # 4 from the magics + 3 from the form

        # an invalid id is flagged next to the field and blocks Create
        form.locator(".ae-order-id input").fill("   ")
        form.locator(".ae-order-id input").press("Tab")
        expect(form.locator(".ae-order-id-error")).to_contain_text("must not be empty")
        expect(form.locator("button.ae-create")).to_be_disabled()
        form.locator(".ae-order-id input").fill("")
        form.locator(".ae-order-id input").press("Tab")
        expect(form.locator("button.ae-create")).to_be_enabled()

        # photos dropped on the zone reach the kernel (it counts them); Clear forgets them
        zone = form.locator(".ae-photos .ae-drop-zone")
        dropped = page.evaluate_handle(
            """() => { const d = new DataTransfer();
                for (const n of ['b.jpg', 'a.jpg']) d.items.add(
                    new File([new Uint8Array([255, 216, 255, 224])], n, {type: 'image/jpeg'}));
                return d; }"""
        )
        zone.dispatch_event("dragover", {"dataTransfer": dropped})
        zone.dispatch_event("drop", {"dataTransfer": dropped})
        expect(form.locator(".ae-photos")).to_contain_text("(2)")
        form.locator(".ae-photos button.ae-drop-clear").click()
        expect(form.locator(".ae-photos")).to_contain_text("(0)")

        # a photo through the form's upload control goes into the new order
        form.locator(".ae-name input").fill("Browser order with a photo")
        with page.expect_file_chooser() as chooser:
            form.locator(".ae-photos .ae-drop-zone").click()
        chooser.value.set_files(str(ROOT / "notebooks" / "data" / "photos" / "kitchen.png"))
        expect(form.locator(".ae-photos")).to_contain_text("(1)")
        form.locator("button.ae-create").click()
        expect(form.locator(".ae-message")).to_contain_text("uploaded 1 of 1, 0 failed")
        photo_row = table.locator("tr", has_text="Browser order with a photo")
        expect(photo_row).to_contain_text("processing")
        expect(photo_row.locator("td").nth(1)).to_have_text("1")  # Photos

        # auto-refresh watches it finish, then switches itself off
        form.locator("button.ae-auto").click()
        expect(form.locator(".ae-message")).to_contain_text("Auto-refresh stopped")
        expect(photo_row).to_contain_text("processed")

        form.locator(".ae-filename input").fill("browser_orders.csv")
        form.locator(".ae-filename input").press("Tab")
        form.locator("button.ae-export").click()
        expect(form.locator(".ae-message")).to_contain_text("Exported 8 orders to")
        on_disk = lab["root"] / "browser_orders.csv"
        frame = pd.read_csv(on_disk)
        assert len(frame) == 8 and set(names) <= set(frame["name"])
        assert frame.set_index("name").loc["Browser order with a photo", "image_count"] == 1
        with page.expect_download() as info:
            form.locator("a.ae-download-link").click()
        downloaded = Path(info.value.path()).read_bytes()
        assert downloaded == on_disk.read_bytes()

        ARTIFACTS.mkdir(exist_ok=True)
        form.screenshot(path=str(ARTIFACTS / "form.png"))
        if os.environ.get("AUTOENHANCE_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ARTIFACTS / "form.png", SCREENSHOT)

        # a key typed and left (tab away, no click) goes to the kernel and leaves the page
        form.get_by_text("Live API: your key").click()  # folded away by default
        key_field = form.locator(".ae-api-key input")
        key_field.fill(SENTINEL)
        key_field.press("Tab")
        expect(form.locator(".ae-message")).to_contain_text("kept in memory")
        expect(key_field).to_have_value("")
        saved = lab["root"] / "quickstart.ipynb"
        before = saved.stat().st_mtime_ns
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 30
        notebook = None
        while notebook is None and time.monotonic() < deadline:
            time.sleep(0.2)
            if saved.stat().st_mtime_ns == before:
                continue
            try:  # the server may still be writing the file
                notebook = json.loads(saved.read_text(encoding="utf-8"))
            except ValueError:
                notebook = None
        assert notebook is not None, "the notebook was not saved"
        widget_state = json.dumps(notebook["metadata"]["widgets"])
        assert "ae-api-key" in widget_state, "the widget state was not saved"
        assert SENTINEL not in saved.read_text(encoding="utf-8")

        # a narrow window: rows wrap, no button label is cut, the table scrolls sideways
        page.set_viewport_size({"width": 700, "height": 1000})
        form.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        cut = form.locator("button").evaluate_all(
            "bs => bs.filter(b => b.offsetParent && b.scrollWidth > b.clientWidth)"
            ".map(b => b.textContent.trim())"
        )
        assert cut == [], f"button labels cut at 700 px: {cut}"
        sizes = form.locator(".autoenhance-scroll").evaluate(
            "e => [e.scrollWidth, e.clientWidth, getComputedStyle(e).overflowX,"
            " e.getBoundingClientRect().right, e.closest('.jp-OutputArea').getBoundingClientRect().right]"
        )
        scroll_width, client_width, overflow, right, area_right = sizes
        assert overflow == "auto" and (scroll_width > client_width or scroll_width <= client_width)
        assert right <= area_right + 1, f"the table sticks out of the output area: {sizes}"
        form.screenshot(path=str(ARTIFACTS / "form-700px.png"))


def _rgba(text: str) -> tuple[float, float, float, float]:
    parts = [float(x) for x in re.findall(r"[\d.]+", text)]
    return parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0


def _contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio; a translucent foreground is blended over the background."""
    *bg, _ = _rgba(background)
    *fg, alpha = _rgba(foreground)
    fg = [alpha * f + (1 - alpha) * b for f, b in zip(fg, bg, strict=True)]

    def luminance(rgb: list[float]) -> float:
        def lin(c: float) -> float:
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (lin(c) for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_table_header_is_readable_in_the_dark_theme(dark_lab, browser):
    """The magic's table in JupyterLab Dark at 1400 px with the file browser open: its
    header readable, the table at the left of its output, nothing cut or scrolling."""
    from playwright.sync_api import expect

    lab = dark_lab
    (lab["root"] / "dark.ipynb").write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "metadata": {},
                        "outputs": [],
                        "source": "%load_ext autoenhance_nb\n"
                        "%autoenhance_order 'Penthouse with terrace – 118 Boulevard Richard-Lenoir'",
                    }
                ],
                "metadata": {
                    "kernelspec": {
                        "name": "python3",
                        "display_name": "Python 3",
                        "language": "python",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    with kept_on_failure(page, "failure-dark.png"):
        page.goto(f"{lab['url']}/lab/tree/dark.ipynb?token={lab['token']}")
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
        expect(page.locator("#jp-main-statusbar span[title^='Change kernel']")).to_have_text(
            re.compile(r"^Python 3.*\| Idle$")
        )
        if not page.locator(".jp-FileBrowser").is_visible():
            page.locator(".jp-SideBar.jp-mod-left li[data-id='filebrowser']").click()
        expect(page.locator(".jp-FileBrowser")).to_be_visible()
        page.locator(".jp-Cell").first.click()
        page.keyboard.press("Shift+Enter")
        header = page.locator(".autoenhance-orders th").first
        expect(header).to_be_visible()
        colour, background = header.evaluate(
            """th => {
                let e = th, bg = 'rgba(0, 0, 0, 0)';
                while (e) {
                    bg = getComputedStyle(e).backgroundColor;
                    if (bg !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(bg)) break;
                    e = e.parentElement;
                }
                return [getComputedStyle(th).color, bg];
            }"""
        )
        ratio = _contrast(colour, background)
        assert ratio >= 4.5, f"header {colour} on {background}: contrast {ratio:.2f}"
        output = page.locator(".jp-OutputArea-output", has=page.locator(".autoenhance-orders"))
        left = header.bounding_box()["x"] - output.first.bounding_box()["x"]
        assert left < 24, f"the table is not at the left of its output ({left:.0f} px in)"
        assert output.first.evaluate(CUT_JS) == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "lab-dark-1400.png"))
