"""The kiosk and the gallery in a real browser: Debian's chromium through Playwright.

One real booth runs for the module: the daemon's Booth with the folder camera over
the shared face photos, the real pipeline (OpenVINO generator), the real store and
event bus, and waitress on 127.0.0.1. Screenshots go to ``artifacts/`` at the top of
the repository (git-ignored) for people to look at.
"""

from __future__ import annotations

import time

import cv2
import pytest

from booth import PROJECT_ROOT
from webbooth import LiveBooth, decode_qr

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "artifacts"
KIOSK_SIZES = {"1920x1080": (1920, 1080), "1280x720": (1280, 720), "portrait-1080x1920": (1080, 1920)}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}


@pytest.fixture(scope="module")
def live(tmp_path_factory, photos):
    booth = LiveBooth(tmp_path_factory.mktemp("browser"), photos / "faces",
                      cycle={"countdown_s": 2, "show_result_s": 20.0})
    yield booth
    booth.close()


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


#: Records every value body[data-state] takes (Playwright's evaluate is not subject to
#: the page's CSP).
RECORD_STATES = """() => {
  window.__states = [document.body.dataset.state];
  new MutationObserver(() => {
    const s = document.body.dataset.state;
    if (window.__states[window.__states.length - 1] !== s) window.__states.push(s);
  }).observe(document.body, {attributes: true, attributeFilter: ["data-state"]});
}"""


def test_a_cycle_on_the_kiosk_ends_with_a_qr_code_that_opens_the_photo(live, browser, artifacts):
    kiosk = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors = []
    kiosk.on("pageerror", lambda exc: errors.append(str(exc)))
    kiosk.goto(f"{live.url}/kiosk")
    kiosk.wait_for_function("() => document.body.dataset.state === 'idle'")
    # The live preview arrives (folder camera frames as JPEG).
    kiosk.wait_for_function("() => { const p = document.getElementById('preview');"
                            " return !p.hidden && p.naturalWidth > 0; }", timeout=15000)
    kiosk.evaluate(RECORD_STATES)
    kiosk.screenshot(path=str(artifacts / "kiosk-idle-1920x1080.png"))

    kiosk.keyboard.press("Space")  # the kiosk's spare button: POST /api/trigger from loopback
    kiosk.wait_for_function("() => document.body.dataset.state === 'countdown'", timeout=10000)
    assert kiosk.locator("#count").inner_text() in ("1", "2")
    time.sleep(0.6)  # past the cross-fade (and the page's own double-press guard)
    kiosk.screenshot(path=str(artifacts / "kiosk-countdown-1920x1080.png"))
    ignored_before = live.booth.stats()["ignored_presses"]
    kiosk.keyboard.press("Enter")  # a second press while the photo is made: ignored, and said so
    kiosk.wait_for_selector("#toast:not([hidden])", timeout=5000)
    assert live.booth.stats()["ignored_presses"] == ignored_before + 1
    kiosk.wait_for_function("() => document.body.dataset.state === 'result'", timeout=90000)
    kiosk.wait_for_function("() => ['result-anime', 'result-original', 'result-qr'].every("
                            "id => document.getElementById(id).complete && "
                            "document.getElementById(id).naturalWidth > 0)", timeout=15000)
    time.sleep(0.8)  # let the reveal animation settle before the screenshot
    states = kiosk.evaluate("() => window.__states")
    assert states[0] == "idle" and "countdown" in states and states[-1] == "result"
    assert states.index("countdown") < states.index("result")
    assert "failsafe" not in states
    photo_id = kiosk.evaluate("() => document.body.dataset.photo")
    assert live.store.get(photo_id) is not None

    shot = kiosk.screenshot(path=str(artifacts / "kiosk-result-1920x1080.png"))
    url = decode_qr(shot)
    # The photo's own link: with the key that shows its owner the original.
    assert url == f"{live.url}/p/{photo_id}?k={live.store.get(photo_id).owner_key}"
    assert errors == []

    # The guest's phone opens the QR code's URL and sees the photo.
    phone = browser.new_context(**PHONE).new_page()
    phone.goto(url)
    anime = phone.locator(".frame-anime img")
    phone.wait_for_function("() => { const i = document.querySelector('.frame-anime img');"
                            " return i.complete && i.naturalWidth > 0; }")
    assert anime.get_attribute("src") == f"/p/{photo_id}/anime.jpg"
    size = phone.evaluate("() => { const i = document.querySelector('.frame-anime img');"
                          " return [i.naturalWidth, i.naturalHeight]; }")
    stored = cv2.imread(str(live.store.file_path(photo_id, "anime")))
    assert size == [stored.shape[1], stored.shape[0]]
    phone.screenshot(path=str(artifacts / "phone-photo.png"), full_page=True)
    # Tap targets: every button and link a guest uses is at least 44 px tall.
    for target in phone.locator("a.button, button:visible, .topbar a").all():
        box = target.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, target.inner_text()
    phone.click("button[data-show='original']")
    assert phone.locator(".frame-original img").is_visible()
    assert not phone.locator(".frame-anime img").is_visible()

    # The gallery lists the new photo first, with its thumbnail loaded.
    phone.goto(live.url + "/")
    first = phone.locator("#gallery a.tile").first
    assert first.get_attribute("href") == f"/p/{photo_id}"
    phone.wait_for_function("() => { const i = document.querySelector('#gallery img');"
                            " return i.complete && i.naturalWidth > 0; }")
    phone.screenshot(path=str(artifacts / "phone-gallery.png"), full_page=True)
    phone.context.close()
    kiosk.close()


def boxes_overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_result_screen_fits_landscape_720p_and_portrait_monitors(live, browser, artifacts):
    if live.booth.events.latest("state").data.get("state") != "result":
        assert live.booth.trigger("test")
    deadline = time.monotonic() + 90
    while live.booth.events.latest("state").data.get("state") != "result":
        assert time.monotonic() < deadline, "no result"
        time.sleep(0.2)
    for name, (width, height) in KIOSK_SIZES.items():
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(f"{live.url}/kiosk")  # a fresh page gets the current state at once
        page.wait_for_function("() => document.body.dataset.state === 'result'")
        page.wait_for_function("() => ['result-anime', 'result-qr'].every(id => "
                               "document.getElementById(id).naturalWidth > 0)")
        time.sleep(0.8)
        anime = page.locator("#result-anime").bounding_box()
        qr_box = page.locator("#result-qr").bounding_box()
        original = page.locator("#result-original").bounding_box()
        for box in (anime, qr_box, original):
            assert box["x"] >= 0 and box["y"] >= 0, name
            assert box["x"] + box["width"] <= width + 1 and box["y"] + box["height"] <= height + 1, name
        assert not boxes_overlap(anime, qr_box) and not boxes_overlap(anime, original), name
        assert anime["width"] * anime["height"] > 2 * qr_box["width"] * qr_box["height"], name
        assert qr_box["width"] >= 0.2 * min(width, height), name  # scannable from a step away
        shot = page.screenshot(path=str(artifacts / f"kiosk-result-{name}.png"))
        assert decode_qr(shot).startswith(f"{live.url}/p/"), name
        page.close()


def test_kiosk_shows_problems_in_plain_words_and_reconnects_after_a_restart(live, browser, artifacts):
    """Guests read "resting — please ask the host", never the organiser's details."""
    deadline = time.monotonic() + 90  # quiet booth: no state change republishes health meanwhile
    while not (live.booth.state == "idle" and (live.booth.events.latest("health").data.get("state")
                                               == "idle")):  # ... and has said so in a health event
        assert time.monotonic() < deadline, "the booth did not return to idle"
        time.sleep(0.2)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{live.url}/kiosk")
    page.wait_for_function("() => document.body.dataset.connected === 'yes'")
    health = dict(live.booth.health())
    health.update(ok=False, not_ready="camera",
                  camera={"ok": False, "backend": "picamera2", "message": "no camera found"},
                  disk={"ok": False, "free_mb": 12.0, "message": "12 MB free"})
    live.booth.events.publish("health", **health)
    page.wait_for_selector("#screen-resting[aria-hidden='false']")
    text = page.evaluate("() => document.body.innerText")
    assert "Camera resting" in text and "Please ask the host" in text
    assert "no camera found" not in text and "12 MB" not in text
    page.screenshot(path=str(artifacts / "kiosk-problems-1280x720.png"))

    live.booth.events.publish("state", state="process")
    page.wait_for_function("() => document.body.dataset.state === 'process'")
    time.sleep(0.5)
    page.screenshot(path=str(artifacts / "kiosk-process-1280x720.png"))

    live.restart_web()  # the stream breaks; the page must come back by itself
    live.booth.events.publish("state", state="failsafe", message="Back after a restart!",
                              until=time.time() + 5)
    page.wait_for_function("() => document.getElementById('failsafe-text').textContent === "
                           "'Back after a restart!'", timeout=20000)
    assert page.evaluate("() => document.body.dataset.state") == "failsafe"
    assert page.locator("#connection").is_hidden()
    assert page.evaluate("() => document.body.dataset.connected") == "yes"
    page.close()


def test_admin_page_shows_the_figures_and_the_qr_base_url(live, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live.url}/admin")  # the Pi's own browser is the organiser
    stats = live.booth.stats()
    assert page.locator("#stat-photos").inner_text() == str(stats["photos"])
    assert page.locator("#stat-taken").inner_text() == str(live.store.count("booth"))
    assert page.locator("#base-url").inner_text() == live.url
    page.screenshot(path=str(artifacts / "admin-1280.png"), full_page=True)
    page.close()
