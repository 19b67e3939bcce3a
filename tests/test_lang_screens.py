"""The kiosk and the phone in other languages, in Debian's chromium (Playwright).

A real booth per language (``[booth] language``): the daemon's Booth with the real
pipeline, the folder camera over the public portraits, waitress on 127.0.0.1. The
kiosk takes a photo by its keyboard; the phone opens the result's QR code with its own
language (Playwright's locale is the browser's Accept-Language). Arabic is right to
left: the kiosk's side panel moves to the left, while the QR code (decoded from the
screenshot) and the photos stay unmirrored. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import time

import pytest

from test_browser import PHONE, ARTIFACTS
from webbooth import LiveBooth, decode_qr

pytestmark = pytest.mark.browser

KIOSK = {"width": 1920, "height": 1080}
#: Per kiosk language: the invitation, and the phone's language with its page title.
CASES = {
    "ja": {"cta": "ボタンを押して！", "result": "じゃーん！", "phone": "de-DE", "lang": "de",
           "title": "Dein Anime-Porträt", "dir": "ltr"},
    "ar": {"cta": "اضغط الزر!", "result": "تادا!", "phone": "ar", "lang": "ar",
           "title": "صورتك بأسلوب الأنمي", "dir": "rtl"},
}


@pytest.fixture(params=sorted(CASES), ids=lambda language: f"kiosk-{language}")
def live(request, tmp_path_factory, photos):
    booth = LiveBooth(tmp_path_factory.mktemp(f"lang-{request.param}"), photos / "faces",
                      booth={"language": request.param},
                      cycle={"countdown_s": 2, "show_result_s": 30.0})
    yield request.param, booth
    booth.close()


def test_kiosk_and_phone_speak_their_languages(live, browser):
    language, booth = live
    case = CASES[language]
    ARTIFACTS.mkdir(exist_ok=True)
    kiosk = browser.new_page(viewport=KIOSK, locale="en-US")  # the kiosk ignores the browser's
    errors = []
    kiosk.on("pageerror", lambda exc: errors.append(str(exc)))
    kiosk.goto(f"{booth.url}/kiosk")
    kiosk.wait_for_function("() => { const p = document.getElementById('preview');"
                            " return !p.hidden && p.naturalWidth > 0; }", timeout=20000)
    time.sleep(0.8)
    html = kiosk.locator("html")
    assert html.get_attribute("lang") == language and html.get_attribute("dir") == case["dir"]
    assert kiosk.locator("#cta").inner_text() == case["cta"]
    side = kiosk.locator(".side-backdrop").bounding_box()
    # Right to left, the side panel (and the words in it) mirror to the left edge.
    assert (side["x"] < KIOSK["width"] / 2) == (case["dir"] == "rtl")
    kiosk.screenshot(path=str(ARTIFACTS / f"lang-kiosk-idle-{language}.png"))

    kiosk.keyboard.press("Space")
    kiosk.wait_for_function("() => document.body.dataset.state === 'result'", timeout=90000)
    kiosk.wait_for_function("() => ['result-anime', 'result-qr'].every(id =>"
                            " document.getElementById(id).complete &&"
                            " document.getElementById(id).naturalWidth > 0)", timeout=15000)
    time.sleep(0.8)
    assert case["result"] in kiosk.locator("#screen-result").inner_text()
    shot = kiosk.screenshot(path=str(ARTIFACTS / f"lang-kiosk-result-{language}.png"))
    url = decode_qr(shot)  # the QR code reads: never mirrored
    photo_id = kiosk.evaluate("() => document.body.dataset.photo")
    assert url.startswith(f"{booth.url}/p/{photo_id}")
    assert errors == []

    phone = browser.new_context(**PHONE, locale=case["phone"]).new_page()
    phone.goto(url)
    phone.wait_for_function("() => { const i = document.querySelector('.frame-anime img');"
                            " return i.complete && i.naturalWidth > 0; }")
    page_html = phone.locator("html")
    assert page_html.get_attribute("lang") == case["lang"]
    assert page_html.get_attribute("dir") == case["dir"]
    assert phone.locator("h1").inner_text() == case["title"]
    assert phone.locator(".languages a[aria-current='true']").count() == 1
    phone.screenshot(path=str(ARTIFACTS / f"lang-phone-photo-{case['lang']}.png"), full_page=True)
    phone.context.close()
    kiosk.close()
