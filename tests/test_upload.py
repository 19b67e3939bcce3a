"""Photos sent from phones (``/upload``): the switch, the PIN, the per-client limits,
validation before decoding, EXIF orientation, metadata stripped, HEIC, the queue.

The daemon's real Booth runs (real store on disk, real event bus, real queue) with
``QuickPipeline`` — a tiny real OpenCV step — in place of the generator's second of
compute; the real model on uploads runs in ``test_upload_abuse.py`` and
``test_upload_browser.py``. Requests go through the Flask test client with a phone's
address (``REMOTE_ADDR``): the client's address is what the limits count.
"""

from __future__ import annotations

import io
import struct
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from booth.daemon.uploads import UploadGate
from booth.vision.images import load_image
from booth.web import create_app
from boothkit import QuickPipeline, make_booth, settings_for, wait_for_state

PHONE = {"REMOTE_ADDR": "192.168.4.23"}
OTHER_PHONE = {"REMOTE_ADDR": "192.168.4.99"}
JSON = {"Accept": "application/json"}


@pytest.fixture
def make(tmp_path, photos):
    made = []

    def factory(start: bool = True, pipeline=None, cycle: dict | None = None, **upload):
        settings = settings_for(tmp_path, photos / "faces", **(cycle or {}))
        settings = settings.replace("upload", **{"enabled": True, **upload})
        booth = make_booth(settings, pipeline or QuickPipeline())
        if start:
            booth.start()
        made.append(booth)
        return booth, create_app(booth)

    yield factory
    for booth in made:
        booth.stop()
        booth.camera.close()
        booth.store.close()


@pytest.fixture
def face_bytes(face_photo) -> bytes:
    """The portrait as a phone's small upload: 480 px, a plain JPEG of about 40 KB whose
    picture size comes in its first few hundred bytes (the size checks below fit two)."""
    rgb = cv2.resize(load_image(face_photo), (480, 480), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok and len(data) < 80_000
    return data.tobytes()


def post(app, data: bytes, name: str = "me.jpg", env=PHONE, headers=JSON, **fields):
    form = {"photo": (io.BytesIO(data), name), **fields}
    return app.test_client().post("/upload", data=form, headers=headers, environ_base=env)


def wait_done(app, status_url: str, env=PHONE, timeout: float = 20.0) -> dict:
    client = app.test_client()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = client.get(status_url, environ_base=env).get_json()
        if status["state"] != "queued":
            return status
        time.sleep(0.05)
    raise AssertionError(f"{status_url} still queued after {timeout} s")


def stored_files(booth) -> list[str]:
    return sorted(str(p.relative_to(booth.store.root)) for p in booth.store.root.rglob("*")
                  if p.is_file() and not p.name.startswith("index.sqlite3"))


# --- the switch and the page ----------------------------------------------------------
def test_uploads_are_off_by_default_with_a_plain_404(tmp_path, photos, face_bytes):
    booth = make_booth(settings_for(tmp_path, photos / "faces"), QuickPipeline())
    try:
        assert booth.settings.upload.enabled is False
        app = create_app(booth)
        client = app.test_client()
        page = client.get("/upload", environ_base=PHONE)
        assert page.status_code == 404 and "switched off" in page.get_data(as_text=True)
        assert post(app, face_bytes).status_code == 404
        assert booth.store.count() == 0
        assert 'href="/upload"' not in client.get("/", environ_base=PHONE).get_data(as_text=True)
    finally:
        booth.store.close()


def test_the_page_lets_a_phone_take_a_selfie_or_pick_several_photos(make):
    booth, app = make()
    client = app.test_client()
    html = client.get("/upload", environ_base=PHONE).get_data(as_text=True)
    assert 'type="file" accept="image/*" capture="user"' in html  # the phone's camera
    assert 'type="file" accept="image/*" multiple' in html       # several from the library
    assert 'enctype="multipart/form-data"' in html and 'src="/static/upload.js"' in html
    assert "12 MB" in html and "GPS" in html and 'name="pin"' not in html
    assert 'href="/upload"' in client.get("/", environ_base=PHONE).get_data(as_text=True)
    assert client.get("/static/upload.js").status_code == 200
    assert client.get("/static/upload.css").status_code == 200


# --- a photo's way through ------------------------------------------------------------
def test_an_upload_is_queued_stylized_and_stored_as_upload(make, face_bytes):
    booth, app = make()
    answer = post(app, face_bytes)
    assert answer.status_code == 202, answer.get_json()
    ticket = answer.get_json()["ticket"]
    assert answer.get_json()["status"] == f"/upload/status/{ticket}"
    status = wait_done(app, answer.get_json()["status"])
    owner_key = booth.store.get(status["photo_id"]).owner_key
    assert status["state"] == "done" and status["page"] == f"/p/{status['photo_id']}?k={owner_key}"
    assert status["qr"] == f"/p/{status['photo_id']}/qr.svg?k={owner_key}"
    photo = booth.store.get(status["photo_id"])
    assert photo.source == "upload" and booth.stats()["uploads"] == 1
    client = app.test_client()
    assert client.get(status["page"], environ_base=OTHER_PHONE).status_code == 200
    assert client.get("/upload/status/" + "x" * 22, environ_base=PHONE).status_code == 404
    assert client.get("/upload/status/../../etc", environ_base=PHONE).status_code == 404


def test_without_javascript_the_form_redirects_to_a_waiting_page_then_the_photo(make, face_bytes):
    booth, app = make(start=False)  # nothing is processed yet: the waiting page shows
    answer = post(app, face_bytes, headers={"Accept": "text/html"})
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/upload/wait/")
    client = app.test_client()
    waiting = client.get(answer.headers["Location"], environ_base=PHONE)
    assert waiting.status_code == 200 and 'http-equiv="refresh"' in waiting.get_data(as_text=True)
    booth.start()
    end = time.monotonic() + 20
    while time.monotonic() < end:
        done = client.get(answer.headers["Location"], environ_base=PHONE)
        if done.status_code == 303:
            break
        time.sleep(0.05)
    assert done.status_code == 303 and done.headers["Location"].startswith("/p/")
    assert booth.store.get(done.headers["Location"][3:].split("?k=")[0]).source == "upload"


def exif_jpeg(rgb: np.ndarray, orientation: int) -> bytes:
    """A JPEG with EXIF orientation, a GPS position and the phone's make and model."""
    image = Image.fromarray(rgb)
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "SecretPhone 12"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)
    gps[3], gps[4] = "E", (2.0, 17.0, 40.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


def test_exif_orientation_is_honoured_and_nothing_served_carries_metadata(make):
    booth, app = make()
    # Landscape as the sensor saw it: left half red, right half blue. Orientation 6
    # means "turn 90° clockwise to view": upright it is portrait, red on top.
    sensor = np.zeros((300, 400, 3), np.uint8)
    sensor[:, :200] = (220, 20, 20)
    sensor[:, 200:] = (20, 20, 220)
    data = exif_jpeg(sensor, orientation=6)
    assert b"SecretPhone" in data and b"Exif" in data
    status = wait_done(app, post(app, data).get_json()["status"])
    client = app.test_client()
    base = f"/p/{status['photo_id']}"
    key = "?" + status["page"].split("?", 1)[1]  # the uploader's page carries the owner key
    original = client.get(f"{base}/original.jpg{key}", environ_base=PHONE).data
    upright = np.asarray(Image.open(io.BytesIO(original)).convert("RGB"))
    assert upright.shape[:2] == (400, 300)
    top, bottom = upright[:150].reshape(-1, 3).mean(0), upright[250:].reshape(-1, 3).mean(0)
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]
    for kind in ("original.jpg", "anime.jpg", "thumb.jpg"):
        served = client.get(f"{base}/{kind}{key}", environ_base=PHONE).data
        assert served[:2] == b"\xff\xd8"
        assert b"Exif" not in served and b"SecretPhone" not in served and b"PhoneMaker" not in served
        assert not Image.open(io.BytesIO(served)).getexif()


def test_heic_photos_from_iphones_are_decoded(make):
    import pillow_heif

    booth, app = make()
    rgb = np.zeros((240, 320, 3), np.uint8)
    rgb[:, :, 1] = np.linspace(0, 255, 320, dtype=np.uint8)[None, :]
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(rgb)).save(buffer, quality=90)
    data = buffer.getvalue()
    assert data[4:12] == b"ftypheic"
    status = wait_done(app, post(app, data, name="IMG_0042.HEIC").get_json()["status"])
    assert status["state"] == "done"
    key = "?" + status["page"].split("?", 1)[1]  # the uploader's page carries the owner key
    original = app.test_client().get(f"/p/{status['photo_id']}/original.jpg{key}", environ_base=PHONE).data
    decoded = np.asarray(Image.open(io.BytesIO(original)).convert("RGB"))
    assert decoded.shape == (240, 320, 3)
    assert abs(int(decoded[:, -10:, 1].mean()) - 247) < 12 and decoded[:, :10, 1].mean() < 15
    # The pixel limit holds for HEIC too, read from the container before decoding.
    booth2, app2 = make(max_pixels=10_000)
    answer = post(app2, data, name="IMG_0043.HEIC")
    assert answer.status_code == 413 and "320×240 pixels is too large" in answer.get_json()["error"]


# --- refusals: 4xx, one sentence, nothing stored -----------------------------------------
def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0\0\0\0"


def jpeg_sof(width: int, height: int) -> bytes:
    return b"\xff\xd8\xff\xc0\x00\x11\x08" + struct.pack(">HH", height, width) + b"\x03" + b"\0" * 9


def webp_vp8x(width: int, height: int) -> bytes:
    chunk = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (width - 1).to_bytes(3, "little") \
        + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


REFUSALS = [
    ("empty file", b"", 400, "the file is empty"),
    ("plain text", b"hello, this is not a photo at all", 415, "not a JPEG"),
    ("GIF", b"GIF89a" + b"\0" * 64, 415, "GIF images are not supported"),
    ("zip named .jpg", b"PK\x03\x04" + b"\0" * 200, 415, "not a JPEG"),
    ("AVIF", b"\0\0\0\x1cftypavif" + b"\0" * 40, 415, "not a JPEG"),
    ("30000x30000 PNG header", png_header(30000, 30000), 413, "30000×30000 pixels is too large"),
    ("30000x30000 JPEG header", jpeg_sof(30000, 30000), 413, "30000×30000 pixels is too large"),
    ("16384x16384 WebP header", webp_vp8x(16384, 16384), 413, "16384×16384 pixels is too large"),
    ("0x0 PNG", png_header(0, 0), 400, "no pixels"),
]


@pytest.mark.parametrize("what, data, code, words", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_bad_files_get_a_4xx_with_one_sentence_and_nothing_is_stored(make, what, data, code, words):
    booth, app = make()
    answer = post(app, data, name="photo.jpg")
    error = answer.get_json()["error"]
    assert answer.status_code == code, (what, error)
    assert words in error and "\n" not in error and error.endswith(".") and len(error) < 200
    assert booth.store.count() == 0 and stored_files(booth) == []


def test_damaged_photos_are_refused_after_the_cheap_checks(make, face_bytes):
    booth, app = make()
    for name, data in (("cut.jpg", face_bytes[: len(face_bytes) // 3]),
                       ("noise.jpg", face_bytes[:600] + bytes(np.random.default_rng(1).integers(
                           0, 256, 5000, dtype=np.uint8)))):
        answer = post(app, data, name=name)
        assert answer.status_code == 400, answer.get_json()
        assert answer.get_json()["error"].startswith(f"{name}: damaged or truncated JPEG file")
    assert booth.store.count() == 0 and stored_files(booth) == []


def test_too_many_bytes_two_files_or_none_are_refused_in_a_sentence(make, face_bytes):
    booth, app = make(max_bytes=200_000)
    assert len(face_bytes) < 200_000
    big = face_bytes + b"\0" * 300_000
    answer = post(app, big)
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "That photo is too large; the booth takes photos up to 0.2 MB."
    client = app.test_client()
    two = {"photo": [(io.BytesIO(face_bytes), "a.jpg"), (io.BytesIO(face_bytes), "b.jpg")]}
    answer = client.post("/upload", data=two, headers=JSON, environ_base=PHONE)
    assert answer.status_code == 400 and answer.get_json()["error"] == "Send one photo at a time."
    many = {"photo": [(io.BytesIO(b"x"), f"{i}.jpg") for i in range(20)]}
    answer = client.post("/upload", data=many, headers=JSON, environ_base=PHONE)
    assert answer.status_code == 413 and answer.get_json()["error"].startswith("That is not an upload")
    answer = client.post("/upload", data={"pin": "1" * 100_000, "photo": (io.BytesIO(face_bytes), "a.jpg")},
                         headers=JSON, environ_base=PHONE)
    assert answer.status_code == 413 and answer.get_json()["error"].startswith("That is not an upload")
    answer = client.post("/upload", data={"pin": ""}, headers=JSON, environ_base=PHONE)
    assert answer.status_code == 400 and answer.get_json()["error"] == "Choose a photo to send."
    assert booth.store.count() == 0


def test_hostile_file_names_are_not_echoed_raw(make):
    booth, app = make()
    answer = post(app, b"nope", name="../../etc/<script>alert(1)</script>\x07\x1b[2J.jpg")
    error = answer.get_json()["error"]
    assert answer.status_code == 415 and error.startswith("script>[2J.jpg: not a JPEG")
    assert "\x07" not in error and "\x1b" not in error
    page = app.test_client().post("/upload", data={"photo": (io.BytesIO(b"nope"), "<b>x</b>.jpg")},
                                  headers={"Accept": "text/html"}, environ_base=PHONE)
    assert page.status_code == 415 and "<b>x</b>" not in page.get_data(as_text=True)


# --- per-client limits -----------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_files_per_minute_per_phone_with_when_to_try_again(make):
    booth, app = make(per_minute=3)
    clock = Clock()
    app.extensions["booth_upload_gate"] = UploadGate(booth, clock=clock)
    for _ in range(3):
        assert post(app, b"not a photo").status_code == 415  # bad files count too
    refused = post(app, b"not a photo")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert refused.get_json()["error"] == "You have sent 3 photos this minute; try again in 60 s."
    clock.now += 45
    assert post(app, b"x").get_json()["error"].endswith("try again in 15 s.")
    assert post(app, b"x", env=OTHER_PHONE).status_code == 415  # another phone is not held up
    clock.now += 15
    assert post(app, b"x").status_code == 415


def test_waiting_photos_per_phone_and_for_everybody_are_limited(make, face_bytes):
    booth, app = make(start=False, queue_max=2, queue_total=3)  # nothing is processed
    assert post(app, face_bytes).status_code == 202
    assert post(app, face_bytes).status_code == 202
    busy = post(app, face_bytes)
    assert busy.status_code == 429 and int(busy.headers["Retry-After"]) >= 2
    assert busy.get_json()["error"].startswith("The booth is busy with 2 photos waiting; try again in ")
    assert post(app, face_bytes, env=OTHER_PHONE).status_code == 202
    full = post(app, face_bytes, env={"REMOTE_ADDR": "192.168.4.50"})
    assert full.status_code == 429 and "3 photos waiting" in full.get_json()["error"]
    booth.start()  # the queue drains; the phone may send again
    end = time.monotonic() + 20
    while booth.stats()["uploads"] < 3 and time.monotonic() < end:
        time.sleep(0.05)
    assert booth.stats()["uploads"] == 3
    assert post(app, face_bytes).status_code == 202


def test_the_event_pin_is_asked_checked_and_throttled(make, face_bytes):
    booth, app = make(pin="4711")
    client = app.test_client()
    assert 'name="pin"' in client.get("/upload", environ_base=PHONE).get_data(as_text=True)
    missing = post(app, face_bytes)
    assert missing.status_code == 403 and "PIN" in missing.get_json()["error"]
    assert post(app, face_bytes, pin="4711").status_code == 202
    for _ in range(4):
        assert post(app, face_bytes, pin="0000").status_code == 403
    throttled = post(app, face_bytes, pin="4711")  # five wrong: even the right one waits
    assert throttled.status_code == 429 and "wrong PINs" in throttled.get_json()["error"]
    assert post(app, face_bytes, pin="4711", env=OTHER_PHONE).status_code == 202
    # The booth itself (the organiser) needs no PIN.
    assert 'name="pin"' not in client.get("/upload").get_data(as_text=True)
    assert post(app, face_bytes, env={"REMOTE_ADDR": "127.0.0.1"}).status_code == 202


# --- the queue and the kiosk -------------------------------------------------------------
@pytest.mark.parametrize("show", [True, False])
def test_the_kiosk_shows_uploaded_results_only_when_configured(make, face_bytes, show):
    booth, app = make(show_on_kiosk=show)
    with booth.events.subscribe() as sub:
        status = wait_done(app, post(app, face_bytes).get_json()["status"])
        seen = []
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            event = sub.get(timeout=0.1)
            if event is not None:
                seen.append((event.kind, event.data.get("state"), event.data.get("source")))
    assert status["state"] == "done"
    assert (("state", "result", "upload") in seen) is show
    assert ("photo", None, "upload") in seen


def test_uploads_are_stylized_while_a_result_is_shown_and_presses_go_first(make, face_bytes):
    """A busy button must not starve the phones: uploads run while the result screen
    shows; and a press waits for one upload at most."""
    booth, app = make(cycle={"show_result_s": 30.0})
    with booth.events.subscribe() as sub:
        assert booth.trigger("button")
        result = wait_for_state(sub, "result")
    status = wait_done(app, post(app, face_bytes).get_json()["status"], timeout=5)
    assert status["state"] == "done" and booth.state == "result"  # the guest's result stays
    assert booth.store.get(result.data["photo_id"]).source == "booth"

    started = time.monotonic()
    gate_open = []

    class SlowPipeline(QuickPipeline):
        def process(self, rgb, **kwargs):
            time.sleep(0.3)
            gate_open.append(time.monotonic())
            return super().process(rgb, **kwargs)

    booth.pipeline = SlowPipeline()
    with booth.events.subscribe() as sub:
        for phone in range(3):
            post(app, face_bytes, env={"REMOTE_ADDR": f"192.168.4.{10 + phone}"})
        time.sleep(0.1)  # the first upload is being stylized
        assert booth.trigger("button")
        wait_for_state(sub, "countdown", "capture")
        pressed_to_start = time.monotonic() - started
    # The press ran after the upload in progress, before the two still waiting.
    assert len(gate_open) == 1, f"{len(gate_open)} uploads ran before the press"
    assert pressed_to_start < 2.0


def test_only_the_upload_route_reads_photo_sized_bodies(make, face_bytes):
    booth, app = make()
    padded = face_bytes + b"\0" * (300_000 - len(face_bytes))
    assert post(app, padded).status_code == 202  # a 300 kB photo is fine here...
    client = app.test_client()
    form = {"password": "x" * 300_000}
    for path in ("/admin/login", "/api/trigger"):  # ...but nowhere else
        assert client.post(path, data=form, environ_base=PHONE).status_code == 413


def test_heic_orientation_is_applied_once():
    """iPhones store the turn as HEIF transforms (and EXIF): upright, never turned twice."""
    import pillow_heif

    from booth.config import UploadSettings
    from booth.daemon.uploads import read_photo

    sensor = np.zeros((300, 400, 3), np.uint8)
    sensor[:, :200] = (220, 20, 20)
    sensor[:, 200:] = (20, 20, 220)
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90° clockwise to view
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(sensor)).save(buffer, exif=exif.tobytes(), quality=90)
    upright = read_photo(buffer.getvalue(), UploadSettings(enabled=True))
    assert upright.shape == (400, 300, 3)
    top, bottom = upright[:150].reshape(-1, 3).mean(0), upright[250:].reshape(-1, 3).mean(0)
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def test_while_the_model_is_not_loaded_phones_are_told_to_come_back(make, face_bytes, caplog):
    booth, app = make(start=False)
    booth.pipeline, booth.model_message = None, "model loading"
    with caplog.at_level("INFO", logger="booth.web.upload"):
        answer = post(app, face_bytes)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert answer.get_json()["error"] == "The booth is not ready for photos yet; try again in 30 s."
    assert "upload refused client=192.168.4.23 status=503" in caplog.text
    assert booth.store.count() == 0


# --- bounded work per upload ------------------------------------------------------------
def test_junk_behind_a_jpeg_signature_is_refused_from_its_first_bytes():
    """12 MB of FF D8 FF and zeros used to be scanned byte by byte (6 s, twice)."""
    from booth.config import UploadSettings
    from booth.vision.images import HEADER_SCAN_BYTES, header_size
    from booth.daemon.uploads import read_photo
    from booth.errors import UploadError

    junk = b"\xff\xd8\xff" + b"\0" * 11_999_000
    started = time.monotonic()
    with pytest.raises(UploadError, match=r"junk.jpg: damaged JPEG file \(no picture size in its header\)"):
        read_photo(junk, UploadSettings(enabled=True), "junk.jpg")
    assert time.monotonic() - started < 1.0  # generous: it looks at a few bytes
    # A frame header past the scan's prefix is not looked for.
    app1 = b"\xff\xe1" + (65533).to_bytes(2, "big") + b"\0" * 65531
    sof = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 300, 400) + b"\x03" + b"\0" * 9
    near = b"\xff\xd8" + app1 * 2 + sof
    far = b"\xff\xd8" + app1 * (HEADER_SCAN_BYTES // len(app1) + 1) + sof
    assert header_size(near, "JPEG") == (400, 300) and header_size(far, "JPEG") is None


def test_a_photo_whose_decode_would_exceed_the_budget_is_refused_before_decoding(make):
    import zlib

    def png(width: int, height: int) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))

    from booth.vision.images import decode_cost
    from booth.daemon.uploads import UPLOAD_LONG_SIDE

    booth, app = make(decode_mb=64)
    answer = post(app, png(5000, 4000), name="wide.png")  # 20 MP: within max_pixels, not the budget
    assert answer.status_code == 413
    needs = decode_cost("PNG", (5000, 4000), UPLOAD_LONG_SIDE) / 1e6
    assert needs > 64
    assert answer.get_json()["error"] == (f"wide.png: a 5000×4000 PNG photo needs about {needs:.0f} MB to read "
                                          "and the booth reads photos within 64 MB; send a smaller photo or a JPEG.")
    # A photo that fits is read as before.
    small = io.BytesIO()
    Image.new("RGBA", (400, 300), (200, 40, 90, 255)).save(small, "PNG")
    assert post(app, small.getvalue(), name="small.png").status_code == 202


def test_no_request_waits_for_the_decoder_and_one_upload_per_client(make, face_bytes, monkeypatch):
    import threading

    from booth.daemon import uploads

    booth, app = make()
    decoding, release = threading.Event(), threading.Event()
    real_read = uploads.read_photo

    def slow_read(*args, **kwargs):
        decoding.set()
        release.wait(30)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(uploads, "read_photo", slow_read)
    first: list = []
    sender = threading.Thread(target=lambda: first.append(post(app, face_bytes)))
    sender.start()
    try:
        assert decoding.wait(10)
        started = time.monotonic()
        again = post(app, face_bytes)  # the same phone, while its first photo is read
        other = post(app, face_bytes, env=OTHER_PHONE)  # another phone: the decoder is busy
        elapsed = time.monotonic() - started
    finally:
        release.set()
        sender.join(30)
    assert again.status_code == 429 and again.headers["Retry-After"] == "3"
    assert again.get_json()["error"] == "Your previous photo is still being sent; try again in 3 s."
    assert other.status_code == 429 and other.headers["Retry-After"] == "3"
    assert other.get_json()["error"] == "The booth is busy reading another photo; try again in 3 s."
    assert elapsed < 2.0  # answered at once, not after a wait for the decoder
    assert first[0].status_code == 202
    assert post(app, face_bytes, env=OTHER_PHONE).status_code == 202  # free again


def test_a_photo_of_several_megabytes_is_taken_whatever_its_bytes(make):
    """Noise is full of line-break bytes: the multipart decoder once refused such
    photos as too large (a 64 KiB read plus a possible boundary over a 64 KiB limit)."""
    booth, app = make()
    noise = np.random.default_rng(3).integers(0, 256, (900, 1200, 3), dtype=np.uint8)
    data = io.BytesIO()
    Image.fromarray(noise).save(data, "PNG")
    assert len(data.getvalue()) > 3_000_000
    answer = post(app, data.getvalue(), name="noise.png")
    assert answer.status_code == 202, answer.get_json()
