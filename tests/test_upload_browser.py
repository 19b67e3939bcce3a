"""Sending photos from a phone, in a real browser: Debian's chromium through Playwright
on a phone-sized screen, against the real booth (folder camera, real pipeline with the
OpenVINO generator, real store, waitress on 127.0.0.1) with uploads switched on.

The browser runs on the booth's own machine (loopback: the organiser, so no event
PIN is asked; the PIN is tested in ``test_upload.py``). Two photos go up together; both anime results appear with their QR codes, and each
QR code (read from a screenshot, as a friend's phone would) opens that photo's page.
Screenshots go to ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re

import pytest

from test_browser import ARTIFACTS, PHONE
from webbooth import LiveBooth, decode_qr

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory, photos):
    booth = LiveBooth(tmp_path_factory.mktemp("upload-browser"), photos / "faces",
                      cycle={"countdown_s": 0, "show_result_s": 2.0},
                      upload={"enabled": True})
    yield booth
    booth.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(f"{message.text} {message.location.get('url')}")
            if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, errors
    context.close()


def test_a_phone_sends_two_photos_and_each_result_qr_opens_its_page(live, phone, photos, artifacts):
    page, errors = phone
    page.goto(f"{live.url}/upload")
    assert page.locator("#camera").get_attribute("capture") == "user"
    assert page.locator("#library").get_attribute("multiple") is not None
    chosen = [photos / "faces" / "18f_selena_juneau_vogel.jpg", photos / "groups" / sorted(
        p.name for p in (photos / "groups").iterdir())[0]]
    page.set_input_files("#library", [str(p) for p in chosen])  # sending starts at once
    done = page.locator('.item[data-state="done"]')
    done.nth(1).wait_for(timeout=90_000)
    assert done.count() == 2
    page.screenshot(path=str(artifacts / "upload-phone-results.png"), full_page=True)

    pages = []
    for i in range(2):
        item = done.nth(i)
        link = item.locator("a.button").get_attribute("href")
        assert re.fullmatch(r"/p/[A-Za-z0-9_-]{22,}\?k=[A-Za-z0-9_-]{22,}", link)  # with its owner key
        assert item.locator(".item-thumb img").evaluate("img => img.complete && img.naturalWidth > 0")
        qr = item.locator(".item-qr")
        qr.scroll_into_view_if_needed()
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
        assert decode_qr(qr.screenshot()) == f"{live.url}{link}"
        pages.append(link)
    assert len(set(pages)) == 2
    for link in pages:
        assert live.booth.store.get(link[3:].split("?")[0]).source == "upload"

    # The QR code's page, as the friend's phone opens it.
    friend = page.context.new_page()
    friend.goto(f"{live.url}{pages[0]}")
    anime = friend.locator(".frame-anime img")
    anime.wait_for()
    assert anime.evaluate("img => img.complete && img.naturalWidth > 0")
    friend.screenshot(path=str(artifacts / "upload-phone-photo-page.png"))
    assert [e for e in errors if not e.endswith("/favicon.ico")] == []  # (the booth has none)


def test_refusals_show_their_sentence_and_the_page_fits_a_phone(live, phone, tmp_path, artifacts):
    page, errors = phone
    page.goto(f"{live.url}/upload")
    # No horizontal scrolling on a 390 px wide phone, and big enough tap targets.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ("label[for=camera]", "label[for=library]"):
        box = page.locator(selector).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
    assert not page.locator("#send").is_visible()  # choosing sends: no "Send" to press
    not_a_photo = tmp_path / "holiday.jpg"
    not_a_photo.write_bytes(b"this is a text file pretending to be a photo")
    page.set_input_files("#library", str(not_a_photo))  # sent at once
    item = page.locator('.item[data-state="error"]')
    item.wait_for(timeout=20_000)
    assert item.locator(".item-msg").inner_text() == "holiday.jpg: not a JPEG, PNG, WebP or HEIC image."
    assert live.booth.store.count(source="upload") == 2  # only the first test's photos
    page.screenshot(path=str(artifacts / "upload-phone-refusal.png"), full_page=True)
    # The browser logs the 415 answer (POST /upload) as a failed resource; nothing else.
    assert [e for e in errors if not e.endswith(("/favicon.ico", "/upload"))] == []


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
