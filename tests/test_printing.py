"""Prints: the page layout, and printing through a real CUPS (a private cupsd with a
cups-pdf queue, see tests/cupsd.py): the PDF's page size, the portrait and the QR
code in it, a stopped printer, the paper budget, and the kiosk's Print offer."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from booth import config, qr
from booth.devices import printing
from conftest import PHOTOS
from booth.vision.images import load_image
from booth.daemon.store import PhotoStore
from boothkit import QuickPipeline, make_booth, settings_for, wait_for_state
from cupsd import PrivateCups, unavailable_reason

FACES = PHOTOS / "faces"
URL = "http://10.42.0.1:8080/p/AbCdEfGhIjKlMnOpQrStUv"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _portrait() -> np.ndarray:
    rgb = load_image(sorted(FACES.glob("*.jpg"))[0])
    h, w = rgb.shape[:2]
    side = min(w, int(h * 0.8))
    return np.ascontiguousarray(rgb[:, (w - side) // 2:(w - side) // 2 + side])


def _decode_qr(rgb: np.ndarray) -> str:
    # OpenCV's ArUco-based finder: the classic one misses codes beside a busy picture
    # (on a page with a noisy portrait it failed every time, this one never).
    text, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    return text


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two images' grey levels, b resized to a's size."""
    b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64).ravel()
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64).ravel()
    return float(np.corrcoef(ga, gb)[0, 1])


# --- the layout (no printer needed) ----------------------------------------------------
@pytest.mark.parametrize("media, size", [("4x6", (1800, 1200)), ("A6", (1748, 1240)),
                                         ("square", (1200, 1200)), ("5x7", (2100, 1500))])
def test_page_is_the_paper_at_300_dpi_with_portrait_and_qr(media, size):
    anime = _portrait()
    settings = config.PrintSettings(media=media)
    page = printing.render_page(anime, anime[::2, ::2], title="Anna & Ben's Wedding",
                                date="30 November 2026", url=URL, settings=settings)
    assert (page.shape[1], page.shape[0]) == size
    assert _decode_qr(page) == URL
    # The portrait fills most of the page's height on the left and is the photo itself.
    portrait = _leftmost_block(page)
    assert portrait.shape[0] >= 0.6 * size[1]
    assert _similarity(portrait, anime) > 0.97


def _leftmost_block(page: np.ndarray) -> np.ndarray:
    """The first thing from the left on a white page, up to the next all-white column."""
    inked = (page < 245).any(axis=2)
    columns = inked.any(axis=0)
    left = int(np.argmax(columns))
    right = left + int(np.argmin(columns[left:]))
    rows = np.where(inked[:, left:right].any(axis=1))[0]
    return page[rows[0]:rows[-1] + 1, left:right]


def test_page_at_another_resolution_scales_with_dpi():
    page = printing.render_page(_portrait(), None, title="T", date="1 May 2026", url=URL,
                                settings=config.PrintSettings(dpi=150))
    assert page.shape[:2] == (600, 900)
    assert _decode_qr(page) == URL


def test_overlay_is_laid_over_the_page_and_checked_at_start(tmp_path):
    frame = np.zeros((300, 450, 4), np.uint8)
    frame[:20, :, :] = (0, 0, 255, 255)  # an opaque blue band at the top, clear elsewhere
    Image.fromarray(frame, "RGBA").save(tmp_path / "frame.png")
    settings = config.defaults().replace("print", overlay="frame.png")
    settings = config.Settings(**{**settings.__dict__, "base_dir": tmp_path})
    overlay = printing.load_overlay(settings)
    page = printing.render_page(_portrait(), None, title="T", date="d", url=URL,
                                settings=settings.print, overlay=overlay)
    assert (page[:60, :, 2] > 200).all() and (page[:60, :, 0] < 40).all()  # the band, scaled
    assert _decode_qr(page) == URL  # the clear part leaves the QR code readable

    Image.fromarray(frame[:, :, :3]).save(tmp_path / "flat.png")
    (tmp_path / "fake.png").write_bytes(b"not a png at all")
    for name, words in (("flat.png", "has no transparency"), ("missing.png", "not found"),
                        ("fake.png", "cannot read")):
        broken = config.Settings(**{**settings.replace("print", overlay=name).__dict__,
                                    "base_dir": tmp_path})
        with pytest.raises(config.ConfigError) as err:
            printing.load_overlay(broken)
        assert str(err.value).startswith("[print] overlay: ") and words in str(err.value)
        assert "\n" not in str(err.value)


def test_bad_print_keys_are_one_line_errors(tmp_path):
    for text, words in (('[print]\nmode = "always"\n', 'mode must be "ask", "auto" or "admin"'),
                        ('[print]\nmedia = "A4"\n', "media must be one of 4x6"),
                        ('[print]\ncopies = 3\n', "max_per_photo must be >= copies"),
                        ('[print]\noverlay = "logo.jpg"\n', "overlay must be a .png")):
        (tmp_path / "c.toml").write_text(text)
        with pytest.raises(config.ConfigError) as err:
            config.load(tmp_path / "c.toml")
        assert words in str(err.value) and "[print]" in str(err.value)


def test_printer_reasons_in_plain_words():
    assert printing.plain_reason("media-empty-error") == "The printer needs paper"
    assert printing.plain_reason("marker-supply-empty-warning") == "The printer is out of ink"
    assert printing.plain_reason("media-jam-error") == "The paper is jammed"
    assert printing.plain_reason("offline-report") == "The printer is off or not connected"
    assert printing.plain_reason("spool-area-full") == "The printer reports: spool-area-full"


def _store_with_photo(tmp_path: Path) -> tuple[config.Settings, str]:
    settings = config.defaults().replace("booth", data_dir=str(tmp_path / "data"))
    settings = settings.replace("storage", min_free_mb=0).replace("web", base_url="http://10.42.0.1:8080")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    original = load_image(sorted(FACES.glob("*.jpg"))[1])
    photo = store.save(original, _portrait(), {"size": 512, "faces": 1})
    store.close()
    return settings, photo.id


def _booth_command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "booth", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_print_layout_command_renders_a_stored_photo(tmp_path):
    settings, photo_id = _store_with_photo(tmp_path)
    (tmp_path / "c.toml").write_text('[booth]\ndata_dir = "data"\nevent_title = "Fair 2026"\n'
                                     '[web]\nbase_url = "http://10.42.0.1:8080"\n')
    done = _booth_command("print-layout", photo_id, "--config", str(tmp_path / "c.toml"),
                          "--out", str(tmp_path / "page.png"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = load_image(tmp_path / "page.png")
    assert page.shape[:2] == (1200, 1800)
    assert _decode_qr(page) == f"http://10.42.0.1:8080/p/{photo_id}"

    done = _booth_command("print-layout", "NoSuchPhotoIdNoSuchPhoto", "--config",
                          str(tmp_path / "c.toml"), "--out", str(tmp_path / "x.png"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("booth print-layout: NoSuchPhotoIdNoSuchPhoto: no such photo")
    assert len(done.stderr.strip().splitlines()) == 1


def test_print_layout_beside_the_running_booth_leaves_its_store_alone(tmp_path, photos):
    """The docs suggest print-layout during print set-up, while the booth runs: it
    must not take a photo being saved that instant for a crash's leftover."""
    settings = config.defaults().replace("booth", data_dir=str(tmp_path / "data"))
    live = PhotoStore(settings.data_dir / "photos", settings.replace("storage", min_free_mb=0).storage)
    face = load_image(photos / "faces" / "18f_edwin_torres.jpg")
    photo = live.save(face, face, {"size": 512, "faces": 1})
    being_saved = live.root / "BeingSavedBeingSaved0000"  # files written, row not yet
    being_saved.mkdir()
    (being_saved / "original.jpg").write_bytes(b"\xff\xd8\xff being written")
    try:
        (tmp_path / "c.toml").write_text('[booth]\ndata_dir = "data"\n')
        done = _booth_command("print-layout", photo.id, "--config", str(tmp_path / "c.toml"),
                              "--out", str(tmp_path / "page.png"), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (being_saved / "original.jpg").is_file()
        assert live.file_path(photo.id, "anime").is_file() and live.count() == 1
    finally:
        live.close()


# --- a real CUPS ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cups():
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no private cupsd: {reason}")
    with PrivateCups() as server:
        old = os.environ.get("CUPS_SERVER")
        os.environ["CUPS_SERVER"] = str(server.socket)  # the booth's lp/lpstat find it so
        try:
            yield server
        finally:
            if old is None:
                os.environ.pop("CUPS_SERVER", None)
            else:
                os.environ["CUPS_SERVER"] = old


def _print_settings(tmp_path: Path, cups: PrivateCups, **keys) -> config.Settings:
    settings = settings_for(tmp_path, FACES, show_result_s=3.0)
    settings = settings.replace("web", base_url="http://10.42.0.1:8080")
    return settings.replace("print", enabled=True, printer=cups.queue, **keys)


def _wait_for_job(booth, predicate, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in booth.prints.recent_jobs():
            if predicate(job):
                return job
        time.sleep(0.1)
    raise AssertionError(f"no such print job within {timeout} s: {booth.prints.recent_jobs()}")


def _pdf_page(pdf: Path, tmp_path: Path) -> tuple[str, np.ndarray]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-singlefile", str(pdf), str(tmp_path / "printed")],
                   check=True, timeout=60)
    return info, load_image(tmp_path / "printed.png")


def test_a_booth_photo_comes_out_of_cups_as_the_layout(cups, tmp_path):
    settings = _print_settings(tmp_path, cups, mode="auto")
    booth = make_booth(settings, QuickPipeline(size=(640, 512))).start()
    try:
        with booth.events.subscribe() as sub:
            assert booth.trigger("test")
            photo_id = wait_for_state(sub, "result").data["photo_id"]
        job = _wait_for_job(booth, lambda j: j["photo_id"] == photo_id and j["state"] == "done")
        assert job["cups_id"].startswith(cups.queue + "-") and job["source"] == "auto"
        info, printed = _pdf_page(cups.wait_for_pdf(f"booth-{job['id']}"), tmp_path)
        expected = printing.render_photo(booth.store, settings, photo_id)
        anime = load_image(booth.store.file_path(photo_id, "anime"))
    finally:
        booth.stop()
    # 4x6 in paper (CUPS stands the landscape page upright to fit the paper).
    assert "Pages:           1" in info and "288 x 432 pts" in info
    assert printed.shape[:2] == (1800, 1200)
    upright = np.ascontiguousarray(np.rot90(printed, 1 if _similarity(np.rot90(printed, 1), expected)
                                            > _similarity(np.rot90(printed, -1), expected) else -1))
    assert _decode_qr(upright) == qr.photo_url(settings, photo_id)
    assert _similarity(upright, expected) > 0.97  # the page the booth laid out, portrait and all
    portrait = _leftmost_block(upright)
    assert portrait.shape[0] > 0.6 * upright.shape[0] and _similarity(portrait, anime) > 0.95
    ARTIFACTS.mkdir(exist_ok=True)
    Image.fromarray(upright).save(ARTIFACTS / "printed-page-quick.png")  # for people to look at
    assert booth.stats()["prints"]["printed"] == 1


@pytest.fixture
def stopped_printer(cups):
    cups.run("cupsdisable", cups.queue)
    yield cups
    cups.run("cupsenable", cups.queue)
    cups.run("cancel", "-a", cups.queue, check=False)


def _cups_jobs(cups: PrivateCups, which: str) -> set[str]:
    out = cups.run("lpstat", "-W", which, "-o", cups.queue).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_a_stopped_printer_holds_the_job_and_the_booth_keeps_taking_photos(stopped_printer, tmp_path):
    cups = stopped_printer
    settings = _print_settings(tmp_path, cups, mode="ask", ask_timeout_s=1.0)
    booth = make_booth(settings, QuickPipeline(size=(400, 320))).start()
    try:
        with booth.events.subscribe() as sub:
            assert booth.trigger("test")
            first = wait_for_state(sub, "result").data["photo_id"]
            assert booth.trigger("button")  # while Print is offered, the button prints
            job = _wait_for_job(booth, lambda j: j["photo_id"] == first and j["state"] == "held")
            assert job["source"] == "guest" and "The printer is paused" in job["message"]
            health = booth.health()
            assert health["ok"] and not health["printer"]["ok"]
            assert health["printer"]["state"] == "paused"
            # The booth goes on taking photos while the job waits.
            taken = []
            for _ in range(2):
                time.sleep(1.1)  # each new photo's Print offer ends unused
                assert booth.trigger("button")
                taken.append(wait_for_state(sub, "result").data["photo_id"])
            assert first not in taken and len(set(taken)) == 2
            assert booth.prints.recent_jobs()[-1]["state"] == "held"
            assert len(booth.prints.recent_jobs()) == 1
        cups.run("cupsenable", cups.queue)
        job = _wait_for_job(booth, lambda j: j["photo_id"] == first and j["state"] == "done")
        cups.wait_for_pdf(f"booth-{job['id']}")
    finally:
        booth.stop()


def test_ask_mode_prints_nothing_once_the_offer_has_timed_out(cups, tmp_path):
    before = _cups_jobs(cups, "all")
    settings = _print_settings(tmp_path, cups, mode="ask", ask_timeout_s=1.0)
    booth = make_booth(settings, QuickPipeline()).start()
    try:
        with booth.events.subscribe() as sub:
            assert booth.trigger("test")
            first = wait_for_state(sub, "result").data["photo_id"]
            offer = next(e for e in iter(lambda: sub.get(timeout=5), None) if e.kind == "print_offer")
            assert offer.data["photo_id"] == first
            time.sleep(1.3)
            assert booth.trigger("button")  # too late to print: a new photo instead
            second = wait_for_state(sub, "result").data["photo_id"]
        assert second != first
        time.sleep(1.5)  # the print thread would have sent a job by now
        assert booth.prints.recent_jobs() == []
        assert booth.stats()["prints"]["printed"] == 0
    finally:
        booth.stop()
    assert _cups_jobs(cups, "all") == before


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_admin_prints_within_the_budget_cancels_and_previews(stopped_printer, tmp_path):
    from booth.daemon.events import EventBus
    from booth.devices.printing import PrintService
    from booth.web import create_app

    cups = stopped_printer
    settings = _print_settings(tmp_path, cups, mode="admin", max_total=2, max_per_photo=1)
    settings = settings.replace("web", admin_password="correct horse battery")
    booth = make_booth(settings, QuickPipeline()).start()
    try:
        picture = load_image(sorted(FACES.glob("*.jpg"))[2])
        ids = [booth.store.save(picture, _portrait(), {"size": 512, "faces": 1}).id for _ in range(3)]
        client = create_app(booth).test_client()
        loopback = {"REMOTE_ADDR": "127.0.0.1"}
        page = client.get("/admin", environ_base=loopback).get_data(as_text=True)
        assert 'id="print-panel"' in page and "no limit" not in page
        token = _csrf(page)

        def post(url, who=loopback, **form):
            return client.post(url, data=form, environ_base=who, follow_redirects=True)

        assert post(f"/admin/print/{ids[0]}").status_code == 400  # no CSRF token
        phone = {"REMOTE_ADDR": "192.168.4.23"}
        assert post(f"/admin/print/{ids[0]}", who=phone, csrf=token).status_code == 403
        assert client.post(f"/admin/print/{ids[0]}", data={"csrf": token}, environ_base=loopback,
                           headers={"Origin": "http://evil.example"}).status_code == 403
        assert "Sent to the printer." in post(f"/admin/print/{ids[0]}", csrf=token).get_data(as_text=True)
        again = post(f"/admin/print/{ids[0]}", csrf=token).get_data(as_text=True)
        assert "This photo has had its 1 print already." in again
        assert "Sent to the printer." in post(f"/admin/print/{ids[1]}", csrf=token).get_data(as_text=True)
        spent = post(f"/admin/print/{ids[2]}", csrf=token).get_data(as_text=True)
        assert "The paper budget for this event is used up." in spent
        assert booth.prints.budget_left() == 0

        held = _wait_for_job(booth, lambda j: j["photo_id"] == ids[1] and j["state"] == "held")
        assert held["cups_id"] in _cups_jobs(cups, "not-completed")
        page = client.get("/admin", environ_base=loopback).get_data(as_text=True)
        assert "The printer is paused" in page and "0 of 2" in page
        assert f"/admin/print/preview/{ids[2]}.jpg" in page
        metrics = client.get("/metrics", environ_base=loopback).get_data(as_text=True)
        assert "booth_print_budget_remaining 0" in metrics and "booth_printer_ok 0" in metrics
        healthz = client.get("/healthz", environ_base=loopback)
        assert healthz.get_json()["printer"]["state"] == "paused"

        assert "Print cancelled." in post(f"/admin/print/cancel/{held['id']}", csrf=token).get_data(as_text=True)
        assert held["cups_id"] not in _cups_jobs(cups, "not-completed")
        assert booth.prints.budget_left() == 1  # a cancelled print used no paper
        assert "Sent to the printer." in post(f"/admin/print/{ids[2]}", csrf=token).get_data(as_text=True)

        preview = client.get(f"/admin/print/preview/{ids[2]}.jpg", environ_base=loopback)
        assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(preview.data, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (1200, 1800)
        assert _decode_qr(image[:, :, ::-1].copy()) == qr.photo_url(settings, ids[2])
        assert client.get(f"/admin/print/preview/{ids[2]}.jpg", environ_base=phone).status_code == 403

        # The budget survives a restart (the job list is on disk).
        again = PrintService(settings, booth.store, EventBus())
        assert again.budget_left() == 0
    finally:
        booth.stop()


@pytest.mark.browser
def test_kiosk_offers_print_and_says_when_the_printer_holds_it(stopped_printer, browser, tmp_path):
    """The demo booth (real generator) on the kiosk in chromium: Print is offered, Enter
    prints, the stopped printer is said in plain words, and once it runs again the page
    comes out of CUPS with the anime portrait and the photo's QR code."""
    from webbooth import LiveBooth

    cups = stopped_printer
    live = LiveBooth(tmp_path, FACES, cycle={"countdown_s": 1, "show_result_s": 30.0},
                     print={"enabled": True, "printer": cups.queue, "mode": "ask",
                            "ask_timeout_s": 20.0})
    try:
        kiosk = browser.new_page(viewport={"width": 1920, "height": 1080})
        errors = []
        kiosk.on("pageerror", lambda exc: errors.append(str(exc)))
        kiosk.goto(f"{live.url}/kiosk")
        kiosk.wait_for_function("() => document.body.dataset.state === 'idle'")
        kiosk.keyboard.press("Space")
        kiosk.wait_for_function("() => document.body.dataset.state === 'result'", timeout=90000)
        kiosk.wait_for_selector("#print-button:not([hidden])", timeout=10000)
        assert "Press the button again" in kiosk.locator("#print-text").inner_text()
        time.sleep(0.8)
        kiosk.screenshot(path=str(ARTIFACTS / "kiosk-print-offer-1920x1080.png"))
        photo_id = kiosk.evaluate("() => document.body.dataset.photo")

        kiosk.keyboard.press("Enter")
        kiosk.wait_for_function("() => document.getElementById('print-text').textContent"
                                ".includes('The printer is paused')", timeout=15000)
        assert kiosk.locator("#print-text").inner_text() == "The printer is paused — please ask the host."
        assert kiosk.locator("#print-button").is_hidden()
        kiosk.screenshot(path=str(ARTIFACTS / "kiosk-print-held-1920x1080.png"))
        assert live.booth.state == "result"  # the guest's photo stays; nothing else changed

        cups.run("cupsenable", cups.queue)
        kiosk.wait_for_function("() => document.getElementById('print-text').textContent"
                                ".includes('Your print is ready')", timeout=60000)
        assert errors == []
        job = live.booth.prints.recent_jobs()[0]
        assert job["photo_id"] == photo_id and job["state"] == "done"
        info, printed = _pdf_page(cups.wait_for_pdf(f"booth-{job['id']}"), tmp_path)
        expected = printing.render_photo(live.store, live.settings, photo_id)
        anime = load_image(live.store.file_path(photo_id, "anime"))

        # The organiser's page: the printer, the paper, the job and the page's preview.
        admin = browser.new_page(viewport={"width": 1280, "height": 1400})
        admin.goto(f"{live.url}/admin")
        admin.wait_for_function("() => { const i = document.getElementById('print-preview');"
                                " return i.complete && i.naturalWidth === 1800; }", timeout=20000)
        assert admin.locator("#print-jobs tr[data-state='done']").count() == 1
        assert "no limit set" in admin.locator("#print-budget").inner_text()
        admin.locator("#print-panel").screenshot(path=str(ARTIFACTS / "admin-prints.png"))
    finally:
        live.close()
    assert "288 x 432 pts" in info
    upright = np.ascontiguousarray(np.rot90(printed, 1 if _similarity(np.rot90(printed, 1), expected)
                                            > _similarity(np.rot90(printed, -1), expected) else -1))
    assert _similarity(upright, expected) > 0.97
    assert _decode_qr(upright) == f"{live.url}/p/{photo_id}"
    assert _similarity(_leftmost_block(upright), anime) > 0.95  # the anime portrait, large
    Image.fromarray(upright).save(ARTIFACTS / "printed-page.png")  # for people to look at


def test_without_cups_the_printer_is_reported_missing_and_jobs_fail_in_words(tmp_path, monkeypatch):
    """No CUPS at all (no lp on PATH): the booth still runs; the state and the job say why."""
    from booth.daemon.events import EventBus
    from booth.devices.printing import Cups, PrintService

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    status = Cups("Selphy").printer_status()
    assert status["state"] == "missing" and not status["ok"]
    assert "lp" in status["message"] and "apt install cups" in status["message"]
    settings, photo_id = _store_with_photo(tmp_path)
    settings = settings.replace("print", enabled=True, printer="Selphy", mode="admin")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    service = PrintService(settings, store, EventBus()).start()
    try:
        job = service.request(photo_id, "admin")
        deadline = time.monotonic() + 20
        while service.jobs[job.id].state == "queued" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.jobs[job.id].state == "failed"
        assert "install CUPS" in service.jobs[job.id].message
        assert service.budget_left() is None and service.counters()["failed"] == 1
    finally:
        service.stop()
        store.close()


def test_a_print_asked_for_while_cups_is_down_waits_and_prints_once_it_is_back(cups, tmp_path):
    """cupsd restarting (an update, a crash) is no reason to lose a guest's print."""
    from booth.daemon.events import EventBus
    from booth.devices.printing import WAITING_FOR_CUPS, PrintService

    settings, photo_id = _store_with_photo(tmp_path)
    settings = settings.replace("print", enabled=True, printer=cups.queue, mode="admin")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    service = PrintService(settings, store, EventBus()).start()
    try:
        cups.stop_scheduler()
        try:
            job = service.request(photo_id, "admin")
            deadline = time.monotonic() + 30
            while service.jobs[job.id].message != WAITING_FOR_CUPS:
                assert service.jobs[job.id].state == "queued", service.jobs[job.id]
                assert time.monotonic() < deadline, service.jobs[job.id]
                time.sleep(0.1)
            time.sleep(2 * printing.CUPS_RETRY_S)  # tried again meanwhile: still waiting
            assert service.jobs[job.id].state == "queued", service.jobs[job.id]
        finally:
            cups.start_scheduler()
        deadline = time.monotonic() + 60
        while service.jobs[job.id].state != "done" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.jobs[job.id].state == "done", service.jobs[job.id]
        cups.wait_for_pdf(f"booth-{job.id}")
    finally:
        service.stop()
        store.close()


def test_print_offers_follow_the_mode_and_the_paper_left(tmp_path):
    """ask: an offer for ask_timeout_s, none once the paper is used up; admin: never."""
    from booth.daemon.events import EventBus
    from booth.devices.printing import PrintService

    settings, photo_id = _store_with_photo(tmp_path)
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    try:
        for mode, max_total, offered in (("admin", 0, False), ("ask", 0, True), ("ask", 1, False)):
            options = dict(enabled=True, printer="Nowhere", mode=mode, max_total=max_total)
            bus = EventBus()
            service = PrintService(settings.replace("print", **options), store, bus)  # not started
            if max_total:
                service.request(photo_id, "admin")  # uses the one sheet there is
            with bus.subscribe() as sub:
                service.photo_shown(photo_id)
                kinds = [e.kind for e in iter(lambda: sub.get(timeout=0.2), None)]
            assert ("print_offer" in kinds) == offered, (mode, max_total, kinds)
            assert service.accept_offer() == offered
            assert len(service.recent_jobs()) == (1 if offered or max_total else 0)
            (settings.data_dir / "prints" / "jobs.json").unlink(missing_ok=True)
    finally:
        store.close()


def test_a_print_asked_for_before_a_restart_is_sent_after_it(cups, tmp_path):
    from booth.daemon.events import EventBus
    from booth.devices.printing import PrintService

    settings, photo_id = _store_with_photo(tmp_path)
    settings = settings.replace("print", enabled=True, printer=cups.queue, mode="admin")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    try:
        before = PrintService(settings, store, EventBus())  # never started: the booth stopped
        job = before.request(photo_id, "admin")
        after = PrintService(settings, store, EventBus()).start()
        try:
            deadline = time.monotonic() + 60
            while after.jobs[job.id].state != "done" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert after.jobs[job.id].state == "done", after.jobs[job.id]
        finally:
            after.stop()
        cups.wait_for_pdf(f"booth-{job.id}")
    finally:
        store.close()


def test_config_check_and_booth_run_refuse_a_bad_overlay_in_one_line(tmp_path):
    Image.new("RGB", (60, 40), "red").save(tmp_path / "logo.png")
    (tmp_path / "c.toml").write_text('[booth]\ndata_dir = "data"\n'
                                     '[print]\nenabled = true\noverlay = "logo.png"\n')
    for args in (("config", "check", str(tmp_path / "c.toml")),
                 ("run", "--config", str(tmp_path / "c.toml"), "--port", "0", "--demo", str(FACES))):
        done = _booth_command(*args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.endswith(f"[print] overlay: {tmp_path / 'logo.png'} has no transparency; "
                             "save it as a PNG with an alpha channel"), done.stderr


def test_doctor_reports_the_printer_in_plain_words(cups, tmp_path):
    from booth.cli.doctor import check_printer

    settings = _print_settings(tmp_path, cups)
    ready = check_printer(settings)
    assert (ready.status, ready.message) == ("PASS", f"{cups.queue} (4x6, mode ask): idle")
    cups.run("cupsdisable", cups.queue)
    try:
        paused = check_printer(settings)
    finally:
        cups.run("cupsenable", cups.queue)
    assert paused.status == "WARN" and paused.message.endswith("The printer is paused")
    assert paused.fix == f"sudo cupsenable {cups.queue} once the printer is ready"
    missing = check_printer(settings.replace("print", printer="NoSuchPrinter"))
    assert missing.status == "FAIL" and "NoSuchPrinter" in missing.message
    assert "lpstat -p" in missing.fix


# --- every error path ends the job; the job list survives; CUPS down is one line -----------
def _service_beside_a_store(tmp_path: Path, photos: Path, **print_keys):
    from booth.daemon.events import EventBus
    from booth.devices.printing import PrintService

    settings = config.defaults().replace("booth", data_dir=str(tmp_path / "data"))
    settings = settings.replace("storage", min_free_mb=0).replace("web", base_url="http://10.42.0.1:8080")
    settings = settings.replace("print", enabled=True, printer="Nowhere", mode="admin", **print_keys)
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    face = load_image(photos / "faces" / "18f_edwin_torres.jpg")
    ids = [store.save(face, face, {"size": 512, "faces": 1}).id for _ in range(2)]
    return PrintService(settings, store, EventBus()), store, ids


def _wait_until_final(service, job_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while service.jobs[job_id].state in printing.ACTIVE_STATES and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_photo_deleted_while_its_page_renders_fails_the_job_and_frees_its_paper(tmp_path, photos):
    service, store, (half_gone, gone) = _service_beside_a_store(tmp_path, photos, max_total=2,
                                                                max_per_photo=1)
    try:
        first, second = service.request(half_gone, "admin"), service.request(gone, "admin")
        assert service.budget_left() == 0
        # The delete caught half-way: the files are gone, the row not yet (ImageError);
        # and one deleted before the print thread started.
        for kind in ("anime", "original", "thumb"):
            store.file_path(half_gone, kind).unlink()
        store.delete(gone)
        service.start()
        _wait_until_final(service, first.id)
        _wait_until_final(service, second.id)
        assert service.jobs[first.id].state == "failed" and "no such file" in service.jobs[first.id].message
        # A photo deleted while the print thread was not running is cancelled when it starts.
        assert (service.jobs[second.id].state, service.jobs[second.id].message) == (
            "canceled", "the photo was deleted")
        assert service.budget_left() == 2
        assert not list(service.folder.glob("*.pdf"))
    finally:
        service.stop()
        store.close()


def test_the_job_list_is_synced_with_its_folder(tmp_path, photos, monkeypatch):
    service, store, (photo_id, _) = _service_beside_a_store(tmp_path, photos)
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    try:
        service.request(photo_id, "admin")
        assert str(service.folder.resolve()) in synced  # the new jobs.json's name is on disk
    finally:
        store.close()


def test_cups_down_with_a_job_active_is_one_warning_not_one_a_second(tmp_path, photos, monkeypatch,
                                                                    caplog):
    service, store, (photo_id, _) = _service_beside_a_store(tmp_path, photos)
    job = printing.PrintJob(id="a1b2c3", photo_id=photo_id, copies=1, source="admin",
                            created=time.time(), cups_id="Nowhere-7")  # sent before CUPS stopped
    service.jobs[job.id] = job  # the print thread is not running yet
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no lpstat answers
    caplog.set_level(logging.INFO, logger="booth")
    service.start()
    try:
        time.sleep(printing.POLL_S * 4.5)
    finally:
        service.stop()
        store.close()
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and "cannot ask CUPS" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert service.jobs[job.id].state == "queued"  # CUPS may come back: the job is kept


def test_a_repeated_warning_is_one_line_then_a_summary_then_its_end():
    from booth.ratelimit import RepeatedWarning

    now = [0.0]
    logger = logging.getLogger("booth.test-repeats")
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)
    try:
        repeated = RepeatedWarning(logger, summary_s=600, clock=lambda: now[0])
        for second in range(1200):  # twenty minutes of a retry every second
            now[0] = float(second)
            repeated.warning("cups down")
        repeated.over()
        repeated.warning("cups down")  # a new outage is told again
    finally:
        logger.removeHandler(handler)
    assert records == ["cups down", "cups down (again 600 times in the last 600 s)",
                       "cups down (again 599 times, then it stopped)", "cups down"]


def test_a_cancel_while_the_job_is_being_sent_cancels_it_in_cups_too(stopped_printer, tmp_path, photos):
    """The organiser cancels as the print thread hands the page to CUPS: the job ends
    cancelled in the booth and in CUPS, and its paper is back in the budget."""
    cups = stopped_printer

    class PausingCups(printing.Cups):  # the real lp, held at the moment of sending
        sending, go = threading.Event(), threading.Event()

        def submit(self, path, **kwargs):
            self.sending.set()
            self.go.wait(10)
            return super().submit(path, **kwargs)

    service, store, (photo_id, _) = _service_beside_a_store(tmp_path, photos, max_total=3)
    service.cups = PausingCups(cups.queue)
    waiting_before = _cups_jobs(cups, "not-completed")
    try:
        job = service.request(photo_id, "admin")
        service.start()
        assert PausingCups.sending.wait(30)
        assert service.cancel(job.id) is True
        PausingCups.go.set()
        time.sleep(printing.POLL_S * 2.5)  # the send ends, and the job list is refreshed
        assert service.jobs[job.id].state == "canceled" and service.budget_left() == 3
        assert _cups_jobs(cups, "not-completed") == waiting_before  # nothing will print
        assert not list(service.folder.glob("*.pdf"))
    finally:
        service.stop()
        store.close()


#: A writer SIGKILLed while its new job list is written but not yet synced or renamed.
_STALLED_JOB_LIST_WRITER = """
import os, sys, time
from pathlib import Path
from booth import files
def stall(fd):
    print("ready", flush=True)
    time.sleep(60)
os.fsync = stall
files.write_atomic(Path(sys.argv[1]), b"[]")
"""


def test_a_job_list_cut_mid_write_leaves_the_old_list_and_no_temporary_file(tmp_path):
    from booth.daemon.events import EventBus
    from booth.devices.printing import PrintService
    from killkit import sigkill_while_writing

    settings, photo_id = _store_with_photo(tmp_path)
    settings = settings.replace("print", enabled=True, printer="Selphy", mode="admin")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    try:
        job = PrintService(settings, store, EventBus()).request(photo_id, "admin")
        folder = settings.data_dir / "prints"
        for _ in sigkill_while_writing(_STALLED_JOB_LIST_WRITER, str(folder / "jobs.json"), delays=[0]):
            pass
        assert len(list(folder.iterdir())) == 2  # the list and the cut write's temporary file
        after = PrintService(settings, store, EventBus())
        assert [p.name for p in folder.iterdir()] == ["jobs.json"]
        assert job.id in after.jobs
    finally:
        store.close()
