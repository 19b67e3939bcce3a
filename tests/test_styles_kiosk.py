"""The guest's choice of style on the kiosk, in a real browser (Debian's chromium
through Playwright), with the daemon's real Booth and pipeline behind waitress."""

from __future__ import annotations

import time

import cv2
import pytest

from booth import PROJECT_ROOT
from booth.vision import styles
from booth.vision.images import load_image
from webbooth import LiveBooth

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "artifacts"


@pytest.fixture(scope="module")
def live(tmp_path_factory, photos, built_styles):
    # The camera gives a 380 px close-up: the stored picture is the generator's own output.
    camera = tmp_path_factory.mktemp("styles-camera")
    small = cv2.resize(load_image(photos / "faces" / "18f_edwin_torres.jpg"), (380, 380),
                       interpolation=cv2.INTER_AREA)
    assert cv2.imwrite(str(camera / "guest.jpg"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    booth = LiveBooth(tmp_path_factory.mktemp("styles-browser"), camera,
                      cycle={"countdown_s": 1, "show_result_s": 1.0},
                      generator={"sizes": [384]}, styles={"max_loaded": 2})
    yield booth
    booth.close()


def test_the_guest_changes_style_with_the_arrow_keys_and_the_photo_is_made_in_it(live, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{live.url}/kiosk")
    page.wait_for_selector("#style-choice:not([hidden])")
    assert page.locator("#style-label").inner_text() == styles.CLASSIC_LABEL
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.getElementById('style-choice').dataset.style === 'jpface'")
    assert page.locator("#style-label").inner_text() == "Anime face"
    assert live.booth.style == "jpface"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # wraps round to the last style
    page.wait_for_function("() => document.getElementById('style-choice').dataset.style === 'whitebox'")
    if styles.sample_path("whitebox").is_file():
        page.wait_for_function("() => document.getElementById('style-sample').naturalWidth > 0")
    page.screenshot(path=str(ARTIFACTS / "kiosk-style-choice-1280x720.png"))

    # A change made at the booth (style button, long press) shows up on the screen.
    live.booth.choose_style("cute")
    page.wait_for_function("() => document.getElementById('style-choice').dataset.style === 'cute'")

    before = live.booth.store.count()
    page.keyboard.press("Space")
    deadline = time.monotonic() + 120
    while live.booth.store.count() == before:
        assert time.monotonic() < deadline, live.booth.last_cycle
        time.sleep(0.2)
    photo = live.booth.store.list(limit=1)[0]
    assert photo.meta["style"] == "cute"
    assert load_image(live.booth.store.file_path(photo.id, "anime")).shape[0] == 384
    page.close()
