"""Strips and boomerangs on the kiosk in Debian's chromium, with the real booth (folder
camera over public photos, the real pipeline, the real encoder): the guest picks the mode
with the arrow keys, each strip shot appears as it lands, the boomerang loops on the
result screen (the video element reaches readyState >= 3 and its currentTime advances),
and the QR code leads a phone to a page that plays it. Screenshots go to artifacts/."""

from __future__ import annotations

import shutil
import time

import pytest

from booth import PROJECT_ROOT
from boothkit import wait_for_state
from webbooth import LiveBooth, decode_qr

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
#: The loop plays: enough data for the current frame and the next (HAVE_FUTURE_DATA or
#: more) and its clock moving.
PLAYS = """async (selector) => {
  const v = document.querySelector(selector);
  if (!v || v.readyState < 3) return null;
  const t0 = v.currentTime;
  await new Promise(r => setTimeout(r, 700));
  return {ready: v.readyState, t0: t0, t1: v.currentTime, paused: v.paused, muted: v.muted,
          loop: v.loop, h264: v.canPlayType('video/mp4; codecs="avc1.42E01E"')};
}"""


@pytest.fixture(scope="module")
def live(tmp_path_factory, photos):
    folder = tmp_path_factory.mktemp("camera")
    for name in ("18f_edwin_torres.jpg", "18f_julie_strothman.jpg", "18f_kate_glasses.jpg",
                 "18f_colin_murphy_glasses.jpg"):
        shutil.copy(photos / "faces" / name, folder)
    booth = LiveBooth(tmp_path_factory.mktemp("moments"), folder,
                      cycle={"countdown_s": 1, "show_result_s": 30.0, "strip_shots": 4,
                             "process_timeout_s": 180.0},  # a busy shared machine: no timing test
                      camera={"capture_timeout_s": 10.0})
    yield booth
    booth.close()


def screenshot(page, name: str) -> bytes:
    """A screenshot kept in artifacts/ for people to look at; its PNG bytes."""
    ARTIFACTS.mkdir(exist_ok=True)
    return page.screenshot(path=str(ARTIFACTS / name), full_page=name.startswith("phone"))


def result_screenshot(kiosk, name: str) -> bytes:
    """The result screen once its QR code has loaded and the reveal has settled."""
    kiosk.wait_for_function("() => { const q = document.getElementById('result-qr');"
                            " return q.complete && q.naturalWidth > 0; }", timeout=15000)
    time.sleep(1.0)
    return screenshot(kiosk, name)


def phone_from_qr(browser, live, kiosk_png: bytes, photo_id: str):
    """The guest's phone, opened on the URL of the QR code on the kiosk's screenshot."""
    url = decode_qr(kiosk_png)
    assert url.startswith(f"{live.url}/p/{photo_id}")
    phone = browser.new_context(**PHONE).new_page()
    phone.goto(url)
    return phone


def open_kiosk(browser, live):
    kiosk = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    kiosk.on("pageerror", lambda exc: errors.append(str(exc)))
    kiosk.goto(f"{live.url}/kiosk")
    kiosk.wait_for_function("() => document.body.dataset.state === 'idle'")
    kiosk.wait_for_selector("#mode-choice:not([hidden])", timeout=10000)
    return kiosk, errors


def choose(kiosk, mode: str) -> None:
    """Arrow down until the kiosk says ``mode`` is the current one."""
    for _ in range(4):
        if kiosk.evaluate("() => document.body.dataset.moment") == mode:
            return
        kiosk.keyboard.press("ArrowDown")
        time.sleep(0.4)
    assert kiosk.evaluate("() => document.body.dataset.moment") == mode


def test_strip_on_the_kiosk_shows_each_shot_as_it_lands(live, browser):
    kiosk, errors = open_kiosk(browser, live)
    choose(kiosk, "strip")
    assert kiosk.locator("#mode-list [aria-current='true']").inner_text() == "Photo strip"
    screenshot(kiosk, "kiosk-mode-strip.png")
    kiosk.keyboard.press("Space")
    kiosk.wait_for_function("() => document.body.dataset.state === 'countdown'", timeout=10000)
    assert kiosk.locator("#shot-count").inner_text() == "Shot 1 of 4"
    # After the second shot: two drawn shots in the row, the third countdown running.
    kiosk.wait_for_function("() => document.querySelectorAll('#shots li.taken img').length >= 2 && "
                            "[...document.querySelectorAll('#shots li.taken img')].slice(0, 2)"
                            ".every(i => i.complete && i.naturalWidth > 0)", timeout=60000)
    screenshot(kiosk, "kiosk-strip-shots.png")
    kiosk.wait_for_function("() => document.body.dataset.state === 'result'", timeout=90000)
    photo_id = kiosk.evaluate("() => document.body.dataset.photo")
    shown = kiosk.evaluate("() => [...document.querySelectorAll('#shots li')].map(li => li.className)")
    assert shown == ["taken"] * 4
    kiosk.wait_for_function("() => { const i = document.getElementById('result-anime');"
                            " return i.complete && i.naturalWidth === 1080; }", timeout=15000)
    shot = result_screenshot(kiosk, "kiosk-strip-result.png")
    assert errors == []
    phone = phone_from_qr(browser, live, shot, photo_id)
    assert phone.locator("h1").inner_text() == "Your anime photo strip"
    strip = phone.locator("a", has_text="Download the strip")
    response = phone.request.get(f"{live.url}{strip.get_attribute('href')}")
    assert response.ok and response.headers["content-type"] == "image/jpeg"
    screenshot(phone, "phone-strip.png")


def test_boomerang_loops_on_the_kiosk_and_on_the_phone(live, browser):
    kiosk, errors = open_kiosk(browser, live)
    choose(kiosk, "boomerang")
    kiosk.keyboard.press("Space")
    kiosk.wait_for_function("() => document.body.dataset.state === 'burst'", timeout=90000)
    screenshot(kiosk, "kiosk-boomerang-burst.png")
    kiosk.wait_for_function("() => document.body.dataset.state === 'result'", timeout=90000)
    photo_id = kiosk.evaluate("() => document.body.dataset.photo")
    assert live.store.get(photo_id).meta["mode"] == "boomerang"
    # Debian's chromium plays H.264 (checked here: the WebP fallback would show instead).
    assert kiosk.evaluate("() => document.body.dataset.clip") == "mp4"
    kiosk.wait_for_function("() => { const v = document.getElementById('result-clip');"
                            " return v && v.readyState >= 3; }", timeout=15000)
    playing = kiosk.evaluate(PLAYS, "#result-clip")
    assert playing["ready"] >= 3 and playing["h264"] == "probably"
    assert playing["t1"] != playing["t0"] and not playing["paused"] and playing["muted"] and playing["loop"]
    shot = result_screenshot(kiosk, "kiosk-boomerang-result.png")
    assert errors == []
    phone = phone_from_qr(browser, live, shot, photo_id)
    assert phone.locator("h1").inner_text() == "Your anime boomerang"
    phone.wait_for_function("() => { const v = document.getElementById('clip');"
                            " return v && v.readyState >= 3; }", timeout=15000)
    playing = phone.evaluate(PLAYS, "#clip")
    assert playing["t1"] != playing["t0"] and playing["muted"] and playing["loop"]
    download = phone.locator("#download-anime").get_attribute("href")
    response = phone.request.get(f"{live.url}{download}")
    assert response.ok and response.headers["content-type"] == "video/mp4"
    assert "attachment" in response.headers["content-disposition"]
    screenshot(phone, "phone-boomerang.png")


def test_a_browser_without_h264_gets_the_animated_webp(live, browser):
    """Simulated by a page that says it cannot play H.264: the WebP loops in its place."""
    photo = next((p for p in live.store.list(limit=50) if p.meta.get("mode") == "boomerang"), None)
    if photo is None:  # run on its own: make one
        live.booth.choose_mode("boomerang")
        with live.booth.events.subscribe() as sub:
            assert live.booth.trigger("test")
            event = wait_for_state(sub, "result", "failsafe", timeout=180)
        photo = live.store.get(event.data["photo_id"])
    page = browser.new_page()
    page.add_init_script("HTMLMediaElement.prototype.canPlayType = () => '';")
    page.goto(f"{live.url}/p/{photo.id}")
    page.wait_for_function("() => { const i = document.querySelector('img.clip');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=15000)
    assert page.locator("img.clip").get_attribute("src") == f"/p/{photo.id}/boomerang.webp"
    assert page.locator("video").count() == 0
