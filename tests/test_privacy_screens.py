"""What guests see of privacy, in Debian's chromium: the kiosk's notice and consent
question (the keyboard's tap is yes, its hold is no), the photo page's "Delete my
photo" and its confirmation, and the privacy page. Screenshots go to artifacts/.

The booth is the daemon's real Booth and web server on loopback, with the folder
camera over a public face photo and the quick pipeline (the generator is not what
these screens are about).
"""

from __future__ import annotations

import time

import pytest

from booth import PROJECT_ROOT
from boothkit import QuickPipeline, settings_for
from test_browser import PHONE
from webbooth import free_port

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "artifacts"
KIOSK = {"width": 1920, "height": 1080}


@pytest.fixture
def asking_booth(tmp_path, photos):
    from booth.daemon.booth import Booth
    from booth.devices.camera import CameraSupervisor, backend_factory
    from booth.web import create_app, serve

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(tmp_path, photos / "faces", countdown_s=1, show_result_s=60.0)
    settings = settings.replace("web", host="127.0.0.1", port=port, base_url=url)
    # A long question: a screenshot on a loaded machine takes seconds, the answer must come first.
    settings = settings.replace("privacy", consent="ask", ask_timeout_s=45.0, keep_originals_hours=24,
                                keep_results_hours=720, contact="the photo desk by the entrance")
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera).start()
    pipeline = QuickPipeline(size=(640, 512))
    booth = Booth(settings, camera=camera, pipeline=pipeline).start()
    server = serve(create_app(booth), "127.0.0.1", port, 8)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield booth, pipeline, url
    finally:
        server.close()
        booth.stop()
        camera.close()


def _wait_state(page, state: str, timeout_ms: int = 60000) -> None:
    page.wait_for_function(f"() => document.body.dataset.state === {state!r}", timeout=timeout_ms)


def test_the_kiosk_asks_a_tap_is_yes_a_hold_is_no(asking_booth, browser):
    booth, pipeline, url = asking_booth
    page = browser.new_page(viewport=KIOSK)
    page.goto(f"{url}/kiosk")
    notice = page.locator("#k-privacy")
    assert "deleted after 30 days" in notice.inner_text() and f"{url}/privacy" in notice.inner_text()
    page.screenshot(path=str(ARTIFACTS / "kiosk-privacy-idle-1920x1080.png"))
    page.keyboard.press("Space")  # the press that asks
    _wait_state(page, "consent")
    question = page.locator("#screen-consent")
    assert "May we take your photo?" in question.inner_text()
    assert question.is_visible()
    page.screenshot(path=str(ARTIFACTS / "kiosk-consent-1920x1080.png"))
    page.keyboard.down("Space")  # held: no
    _wait_state(page, "idle", timeout_ms=15000)
    page.keyboard.up("Space")
    assert booth.events.latest("state").data == {"state": "idle", "declined": "no"}  # the hold, not the timeout
    time.sleep(0.5)
    assert booth.state == "idle" and pipeline.calls == 0 and booth.store.count() == 0
    page.keyboard.press("Space")
    _wait_state(page, "consent")
    page.keyboard.press("Space")  # a tap: yes
    _wait_state(page, "result")
    assert pipeline.calls == 1 and booth.store.count() == 1
    page.close()


def test_the_guest_deletes_their_photo_and_the_kiosk_lets_go_of_it(asking_booth, browser):
    booth, pipeline, url = asking_booth
    kiosk = browser.new_page(viewport=KIOSK)
    kiosk.goto(f"{url}/kiosk")
    booth.trigger("test")
    _wait_state(kiosk, "consent")
    booth.trigger("test")
    _wait_state(kiosk, "result")
    photo_id = kiosk.evaluate("() => document.body.dataset.photo")
    key = booth.store.get(photo_id).owner_key
    phone = browser.new_context(**PHONE).new_page()
    phone.goto(f"{url}/p/{photo_id}?k={key}")
    assert "Your photos stay on this booth and are deleted after 30 days." in phone.locator("#privacy-line").inner_text()
    phone.click("#delete-mine")
    assert "Delete your photo for good?" in phone.locator("h1").inner_text()
    phone.screenshot(path=str(ARTIFACTS / "phone-delete-confirm-390x844.png"))
    phone.click("#keep")
    assert booth.store.get(photo_id) is not None and f"/p/{photo_id}" in phone.url
    phone.click("#delete-mine")
    with phone.expect_navigation():
        phone.click("#confirm-delete")
    assert "Your photo is deleted" in phone.locator("h1").inner_text()
    _wait_state(kiosk, "idle", timeout_ms=5000)  # told by the delete itself (test_privacy.py)
    assert kiosk.evaluate("() => document.body.dataset.photo") is None
    phone.screenshot(path=str(ARTIFACTS / "phone-deleted-390x844.png"))
    assert booth.store.get(photo_id) is None
    assert phone.goto(f"{url}/p/{photo_id}?k={key}").status == 404
    phone.goto(f"{url}/privacy")
    text = phone.evaluate("() => document.body.innerText")
    assert "deleted 1 day after they were taken" in text and "the photo desk by the entrance" in text
    phone.screenshot(path=str(ARTIFACTS / "phone-privacy-390x844.png"), full_page=True)
    phone.context.close()
    kiosk.close()
