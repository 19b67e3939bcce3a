"""The screens as guests and organisers meet them, in Debian's chromium (Playwright).

One real booth for the module, started the way `booth run` starts it: the daemon's
Booth with the model still loading, the folder camera over a folder that has no
photo yet (the camera is down), the real store and event bus, waitress on 127.0.0.1,
and a Wi-Fi network configured with characters the Wi-Fi QR format must escape.
The kiosk test walks it through loading → camera down → ready → countdown → result;
the phone tests then use its photos. Screenshots go to ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import time

import cv2
import numpy as np
import pytest

from booth import PROJECT_ROOT
from test_browser import PHONE, RECORD_STATES, boxes_overlap
from webbooth import free_port

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "artifacts"
KIOSK = {"width": 1920, "height": 1080}
#: Every character the Wi-Fi QR format gives a meaning to, in both fields.
SSID = 'Anime;Booth "2":go,\\'
PASSWORD = "pa:ss;w,o\\rd\"99"


class ScreensBooth:
    """The daemon's Booth as `booth run` starts it (model loading) and its web server."""

    def __init__(self, tmp_path, face_photo) -> None:
        from booth import config
        from booth.devices.camera import CameraSupervisor, backend_factory
        from booth.daemon.booth import Booth
        from booth.daemon.making import MODEL_LOADING
        from booth.daemon.store import PhotoStore
        from booth.web import create_app, serve

        self.face_photo = face_photo
        self.camera_folder = tmp_path / "camera"
        self.camera_folder.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = config.defaults().replace("booth", data_dir=str(tmp_path / "data"))
        settings = settings.replace("camera", backend="folder", folder=str(self.camera_folder),
                                    retry_initial_s=0.2, retry_max_s=0.5)
        settings = settings.replace("storage", min_free_mb=0)
        settings = settings.replace("web", host="127.0.0.1", port=self.port, base_url=self.url)
        settings = settings.replace("cycle", countdown_s=3, show_result_s=60.0)
        settings = settings.replace("upload", enabled=True)
        self.settings = settings.replace("network", ssid=SSID, password=PASSWORD)
        self.camera = CameraSupervisor(backend_factory(self.settings.camera, self.settings.base_dir),
                                       self.settings.camera).start()
        self.store = PhotoStore(tmp_path / "data" / "photos", self.settings.storage)
        self.booth = Booth(self.settings, camera=self.camera, pipeline=None, store=self.store,
                           model_message=MODEL_LOADING).start()
        self.server = serve(create_app(self.booth), "127.0.0.1", self.port, 8)

    def load_model(self) -> None:
        from booth.daemon.making import load_pipeline

        pipeline, message = load_pipeline(self.settings)
        if pipeline is None:
            raise RuntimeError(f"the real pipeline did not load: {message}")
        self.booth.pipeline, self.booth.model_message = pipeline, message

    def plug_camera_in(self) -> None:
        shutil.copy(self.face_photo, self.camera_folder / "guest.jpg")

    def close(self) -> None:
        self.server.close()
        self.booth.stop()
        self.camera.close()
        self.store.close()


@pytest.fixture(scope="module")
def screens(tmp_path_factory, face_photo):
    booth = ScreensBooth(tmp_path_factory.mktemp("screens"), face_photo)
    yield booth
    booth.close()


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def decode_all_qr(png: bytes) -> list[str]:
    """The texts of every QR code in a screenshot (OpenCV's multi-code detector)."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    detector = cv2.QRCodeDetector()
    found: set[str] = set()
    for scale in (1.0, 0.5, 0.75):
        sized = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale,
                                                       interpolation=cv2.INTER_AREA)
        ok, texts, _, _ = detector.detectAndDecodeMulti(sized)
        if ok:
            found.update(t for t in texts if t)
    return sorted(found)


def parse_wifi(text: str) -> dict[str, str]:
    """The fields of a ``WIFI:T:…;S:…;P:…;;`` code, unescaped (as a phone reads it)."""
    assert text.startswith("WIFI:") and text.endswith(";;"), text
    fields, key, value, escaped = {}, None, "", False
    for char in text[len("WIFI:"):]:
        if escaped:
            value, escaped = value + char, False
        elif char == "\\":
            escaped = True
        elif key is None and char == ":":
            key, value = value, ""
        elif char == ";":
            if key is not None:
                fields[key] = value
            key, value = None, ""
        else:
            value += char
    return fields


def wifi_codes(png: bytes) -> list[dict[str, str]]:
    return [parse_wifi(t) for t in decode_all_qr(png) if t.startswith("WIFI:")]


def face_box(page, detector) -> dict:
    """The guest's face on the kiosk screen: found by the real face detector on a
    screenshot taken with every overlay hidden (just the live preview)."""
    overlays = "document.querySelectorAll('.screen, .k-title, .side-backdrop, .toast')"
    page.evaluate(f"() => {overlays}.forEach(e => e.style.setProperty('visibility', 'hidden', 'important'))")
    png = page.screenshot()
    page.evaluate(f"() => {overlays}.forEach(e => e.style.removeProperty('visibility'))")
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    faces = detector.detect(rgb)
    assert faces, "no face found in the live preview"
    x0, y0, x1, y1 = (float(v) for v in faces[0].box)
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def visible_text(page) -> str:
    return page.evaluate("() => document.body.innerText")


def assert_no_organiser_details(text: str) -> None:
    for leak in ("/tmp", "folder camera", "JPEG/PNG", "retrying", "Error", "Traceback", "model not"):
        assert leak not in text, f"the kiosk shows {leak!r}: {text!r}"


def test_the_kiosk_shows_the_booths_real_state_and_keeps_the_face_clear(screens, browser, artifacts):
    page = browser.new_page(viewport=KIOSK)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{screens.url}/kiosk")
    page.evaluate(RECORD_STATES)

    # 1. The model is loading: "warming up", and a press gets a word, not a countdown.
    page.wait_for_function("() => document.body.dataset.mode === 'warming'", timeout=10000)
    time.sleep(0.5)
    assert page.locator("#screen-warming").is_visible()
    assert "Warming up" in page.locator("#screen-warming").inner_text()
    assert not page.locator("#cta").is_visible()
    page.screenshot(path=str(artifacts / "kiosk-loading-1920x1080.png"))
    page.keyboard.press("Space")
    page.wait_for_selector("#toast:not([hidden])", timeout=5000)
    assert "warming up" in page.locator("#toast").inner_text()
    assert_no_organiser_details(visible_text(page))
    refused = page.request.post(f"{screens.url}/api/trigger")  # a script on the Pi is told why
    assert refused.status == 409 and "warming up" in refused.json()["reason"]

    # 2. The model is warm, the camera is down: "camera resting — please ask the host".
    screens.load_model()
    page.wait_for_function("() => document.body.dataset.mode === 'resting'", timeout=10000)
    time.sleep(2.6)  # the earlier toast has gone
    assert page.locator("#screen-resting").is_visible()
    resting = page.locator("#screen-resting").inner_text()
    assert "Camera resting" in resting and "Please ask the host" in resting
    assert not page.locator("#cta").is_visible()
    page.keyboard.press("Space")
    page.wait_for_selector("#toast:not([hidden])", timeout=5000)
    assert "camera is resting — please ask the host" in page.locator("#toast").inner_text()
    time.sleep(0.4)  # the toast has faded in
    page.screenshot(path=str(artifacts / "kiosk-camera-down-1920x1080.png"))
    assert_no_organiser_details(visible_text(page))
    assert "countdown" not in page.evaluate("() => window.__states")  # no press started a photo
    assert screens.store.count() == 0

    # 3. The camera is back: the invitation, the Wi-Fi, the keyboard hint (no GPIO here).
    screens.plug_camera_in()
    page.wait_for_function("() => document.body.dataset.mode === 'ready'", timeout=15000)
    page.wait_for_function("() => { const p = document.getElementById('preview');"
                           " return !p.hidden && p.naturalWidth > 0; }", timeout=15000)
    time.sleep(0.8)
    assert page.locator("#cta").is_visible() and page.locator(".kbd-hint").is_visible()
    assert not page.locator("#toast").is_visible()  # the press made while resting is old news
    shot = page.screenshot(path=str(artifacts / "kiosk-idle-1920x1080.png"))
    assert wifi_codes(shot) == [{"T": "WPA", "S": SSID, "P": PASSWORD}]
    assert SSID in page.locator("#wifi-idle").inner_text()
    detector = screens.booth.pipeline.detector
    face = face_box(page, detector)
    for target in ("#cta", ".cta-sub >> nth=0", ".kbd-hint", "#wifi-idle"):
        assert not boxes_overlap(face, page.locator(target).bounding_box()), target

    # 4. The countdown stays clear of the face while the guest poses.
    page.keyboard.press("Space")
    page.wait_for_function("() => document.body.dataset.state === 'countdown'", timeout=10000)
    time.sleep(0.6)
    page.screenshot(path=str(artifacts / "kiosk-countdown-1920x1080.png"))
    count = page.locator("#count").bounding_box()
    assert count["height"] >= 0.3 * KIOSK["height"]  # still a big number
    face = face_box(page, detector)
    for target in ("#count", ".count-sub"):
        assert not boxes_overlap(face, page.locator(target).bounding_box()), target

    # 5. The result: a QR code of at least 40% of the screen's height, and the Wi-Fi.
    page.wait_for_function("() => document.body.dataset.state === 'result'", timeout=90000)
    page.wait_for_function("() => ['result-anime', 'result-original', 'result-qr'].every("
                           "id => document.getElementById(id).naturalWidth > 0)", timeout=15000)
    time.sleep(0.8)
    qr_box = page.locator("#result-qr").bounding_box()
    assert qr_box["height"] >= 0.4 * KIOSK["height"], qr_box
    anime = page.locator("#result-anime").bounding_box()
    for box in (qr_box, anime, page.locator("#wifi-result").bounding_box()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= KIOSK["width"] + 1
        assert box["y"] >= 0 and box["y"] + box["height"] <= KIOSK["height"] + 1
    assert not boxes_overlap(anime, qr_box)
    shot = page.screenshot(path=str(artifacts / "kiosk-result-1920x1080.png"))
    photo_id = page.evaluate("() => document.body.dataset.photo")
    codes = decode_all_qr(shot)
    # The photo's own link, with the owner's key that opens the original too.
    assert any(code.startswith(f"{screens.url}/p/{photo_id}?k=") for code in codes)
    assert wifi_codes(shot) == [{"T": "WPA", "S": SSID, "P": PASSWORD}]
    assert errors == []
    page.close()


def test_keyboard_hints_only_without_a_real_gpio_button(screens, browser):
    real = dict(screens.booth.health()["gpio"], real=True)
    page = browser.new_page(viewport=KIOSK)
    page.goto(f"{screens.url}/kiosk")
    page.wait_for_function("() => document.body.dataset.connected === 'yes'")
    assert page.evaluate("() => document.body.dataset.keyboard") == "yes"
    screens.booth.events.publish("health", **dict(screens.booth.health(), gpio=real))
    page.wait_for_function("() => document.body.dataset.keyboard === 'no'")
    assert page.locator(".kbd-hint").count() == 1 and not page.locator(".kbd-hint").is_visible()
    page.close()


def wait_for_a_photo(screens) -> str:
    """The newest photo's id; makes one (a real cycle) if the store has none."""
    if screens.store.count() == 0:
        if screens.booth.pipeline is None:
            screens.load_model()
        screens.plug_camera_in()
        deadline = time.monotonic() + 90
        while not screens.booth.trigger("test"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        while screens.store.count() == 0:
            assert time.monotonic() < deadline, "no photo"
            time.sleep(0.2)
    return screens.store.list(limit=1)[0].id


def fits_width(page, width: int) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width


def test_the_photo_page_puts_share_first_and_aligns_side_by_side(screens, browser, artifacts):
    photo_id = wait_for_a_photo(screens)
    # A phone whose browser can share (Android Chrome, iOS Safari).
    context = browser.new_context(**PHONE)
    context.add_init_script("navigator.share = () => Promise.resolve();"
                            " navigator.canShare = () => false;")
    page = context.new_page()
    page.goto(f"{screens.url}/p/{photo_id}")
    page.wait_for_function("() => document.querySelector('.frame-anime img').naturalWidth > 0")
    first = page.locator("#actions > :visible").first
    assert first.get_attribute("id") == "share"
    share, download = page.locator("#share").bounding_box(), page.locator("#download-anime").bounding_box()
    assert share["y"] < download["y"]  # Share on its own row, above
    assert "ghost" not in (page.locator("#share").get_attribute("class") or "")
    assert "ghost" in page.locator("#download-anime").get_attribute("class")
    assert abs(page.locator("#download-anime").bounding_box()["y"] - page.locator(
        "#actions a.ghost >> nth=1").bounding_box()["y"]) <= 1  # both downloads on one row
    assert page.evaluate("() => { const b = document.querySelector('.brand');"
                         " return b.scrollWidth <= b.clientWidth; }")  # the title whole
    page.screenshot(path=str(artifacts / "phone-photo-390x844.png"), full_page=True)
    fits_width(page, 390)

    page.click("button[data-show='both']")
    page.wait_for_function("() => document.querySelector('.frame-original img').naturalWidth > 0")
    anime = page.locator(".frame-anime img").bounding_box()
    original = page.locator(".frame-original img").bounding_box()
    assert abs(anime["y"] - original["y"]) <= 1 and abs(anime["height"] - original["height"]) <= 1
    assert original["x"] > anime["x"]
    page.screenshot(path=str(artifacts / "phone-photo-both-390x844.png"))
    context.close()

    # A browser that cannot share: Download anime is the main action, Share is not offered.
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{screens.url}/p/{photo_id}")
    assert page.evaluate("() => typeof navigator.share") == "undefined"
    assert not page.locator("#share").is_visible()
    first = page.locator("#actions > :visible").first
    assert first.get_attribute("id") == "download-anime"
    assert "ghost" not in page.locator("#download-anime").get_attribute("class")
    context.close()


def test_a_deleted_photos_link_gets_a_friendly_page(screens, browser, artifacts):
    photo_id = wait_for_a_photo(screens)
    page = browser.new_context(**PHONE).new_page()
    # The organiser deletes it: a confirmation first, nothing gone yet.
    page.goto(f"{screens.url}/admin")
    page.locator(f"a[href='/admin/delete/{photo_id}']").click()
    assert "Delete this photo for good?" in page.locator("h1").inner_text()
    assert screens.store.get(photo_id) is not None
    page.click("#keep")
    assert page.url.rstrip("/").endswith("/admin") and screens.store.get(photo_id) is not None
    page.locator(f"a[href='/admin/delete/{photo_id}']").click()
    with page.expect_navigation():
        page.click("#confirm-delete")
    assert "Photo deleted." in visible_text(page)
    assert screens.store.get(photo_id) is None
    # A guest scans the deleted photo's QR code.
    response = page.goto(f"{screens.url}/p/{photo_id}")
    assert response.status in (404, 410)
    text = visible_text(page)
    assert "This photo is not here any more" in text
    assert "If you entered the URL manually" not in text and "Not Found" not in text
    page.screenshot(path=str(artifacts / "phone-deleted-photo-390x844.png"))
    page.context.close()


def test_the_admin_page_puts_health_first_in_words_and_counts_from_the_store(screens, browser, artifacts):
    wait_for_a_photo(screens)
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{screens.url}/admin")
    health = page.locator("#health").bounding_box()
    stats = page.locator(".cards").bounding_box()
    assert health["y"] < stats["y"]  # health first
    assert page.locator("#verdict").inner_text() == "Ready for guests."
    health_text = page.locator("#health").inner_text()
    assert "Camera: Working" in health_text and re.search(r"Disk: \d+\.\d GB free", health_text)
    assert "MB" not in visible_text(page)
    # Statistics from the store: what a restarted booth (fresh counters) still knows.
    assert page.locator("#stat-taken").inner_text() == str(screens.store.count("booth"))
    assert page.locator("#stat-photos").inner_text() == str(screens.store.count())
    # After a restart (a new Booth over the same store: fresh counters), the same figures.
    from booth.daemon.booth import Booth
    from booth.web import create_app

    restarted = Booth(screens.settings, camera=screens.camera, pipeline=None, store=screens.store)
    assert restarted.stats()["cycles"] == 0 and screens.store.count("booth") > 0
    html = create_app(restarted).test_client().get("/admin").get_data(as_text=True)
    assert f'id="stat-taken">{screens.store.count("booth")}<' in html
    fits_width(page, 390)
    address = page.locator("#base-url").bounding_box()
    assert address["x"] + address["width"] <= 390
    page.screenshot(path=str(artifacts / "admin-390x844.png"), full_page=True)

    # A broken camera reads as words at the top, not a thin red bar.
    from booth.errors import CameraError

    screens.camera_folder.joinpath("guest.jpg").unlink()  # the camera's only photo: unplugged
    with pytest.raises(CameraError):
        screens.camera.capture()
    page.reload()
    assert page.locator("#verdict").inner_text() == "Needs attention: camera."
    health_text = page.locator("#health").inner_text()
    assert "Camera: Not working" in health_text
    assert str(screens.camera_folder) in health_text  # the organiser's details are here
    fits_width(page, 390)  # ... and the long path wraps
    page.screenshot(path=str(artifacts / "admin-camera-down-390x844.png"), full_page=True)
    page.context.close()


def test_the_gallery_and_upload_pages_fit_a_phone_and_show_new_results_on_top(screens, browser,
                                                                              photos, artifacts):
    wait_for_a_photo(screens)
    for width in (360, 390):
        page = browser.new_context(**dict(PHONE, viewport={"width": width, "height": 844})).new_page()
        for path in ("/", "/upload"):
            page.goto(screens.url + path)
            topbar = page.locator(".topbar").bounding_box()
            assert topbar["height"] <= 64, (width, path, topbar)  # one row
            fits_width(page, width)
            if width >= 390:  # the event's title whole, not cut
                assert page.evaluate("() => { const b = document.querySelector('.brand');"
                                     " return b.scrollWidth <= b.clientWidth; }"), path
        page.context.close()

    page = browser.new_context(**PHONE).new_page()
    page.goto(screens.url + "/")
    page.screenshot(path=str(artifacts / "phone-gallery-390x844.png"), full_page=True)
    page.goto(screens.url + "/upload")
    assert not page.locator("#send").is_visible()  # choosing sends: no button that says otherwise
    page.set_input_files("#library", str(photos / "faces" / "18f_selena_juneau_vogel.jpg"))
    page.locator('.item[data-state="done"]').first.wait_for(timeout=90_000)
    page.set_input_files("#library", str(photos / "faces" / "18f_sarayu_srinivasan.jpg"))
    page.locator('.item[data-state="done"]').nth(1).wait_for(timeout=90_000)
    names = page.locator(".item-name").all_inner_texts()
    assert names == ["18f_sarayu_srinivasan.jpg", "18f_selena_juneau_vogel.jpg"]  # the newest on top
    assert "Choose or take a photo first" not in visible_text(page)
    first = page.locator(".item").first.bounding_box()
    assert first["y"] < page.locator(".fine").bounding_box()["y"]  # results above the fine print
    page.screenshot(path=str(artifacts / "phone-upload-390x844.png"), full_page=True)
    page.context.close()
