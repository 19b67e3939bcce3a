"""Accessibility, checked by a real engine: axe-core in Debian's chromium reports no
violation of any impact on every page guests and the organiser see — the kiosk in each
of its states, the gallery, a photo's page, its delete page, upload, the privacy page,
the captive portal's welcome, a 404, and the admin's login and panel.

The kiosk and the organiser's pages come from loopback (the booth's own screen is the
organiser); the guests' pages from a phone's address in a network namespace
(:mod:`netns`), so the login page and the guest's views are what a phone gets. Each
page's count is printed (``pytest -s``): those are the figures the README quotes.
"""

from __future__ import annotations

import concurrent.futures
import time

import pytest

import netns
from axekit import LANGUAGES, context_for, report, violations
from booth.config import Settings
from booth.devices.printing import PrintService
from booth.vision.images import load_image, thumbnail
from webbooth import ScriptedBooth, free_port

pytestmark = pytest.mark.browser

KIOSK = {"width": 1920, "height": 1080}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
PASSWORD = "correct horse battery"


def accessible_booth_settings(tmp_path, port: int) -> Settings:
    """Every screen on: the consent question, the privacy notice, uploads, a password."""
    url = f"http://127.0.0.1:{port}"
    settings = Settings().replace("booth", data_dir=str(tmp_path / "data"))
    settings = settings.replace("storage", min_free_mb=0)
    settings = settings.replace("web", host="127.0.0.1", port=port, base_url=url, admin_password=PASSWORD)
    settings = settings.replace("privacy", consent="ask", ask_timeout_s=45.0, keep_originals_hours=24,
                                keep_results_hours=720, contact="the photo desk by the entrance")
    settings = settings.replace("print", enabled=True, mode="ask")
    return settings.replace("upload", enabled=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory, photos):
    """A scripted booth (real store and events, no camera) served by waitress on loopback,
    with one photo."""
    from booth.web import create_app, serve

    port = free_port()
    settings = accessible_booth_settings(tmp_path_factory.mktemp("access"), port)
    booth = ScriptedBooth(settings, thumbnail(load_image(photos / "faces" / "18f_edwin_torres.jpg"), 640))
    booth.prints = PrintService(settings, booth.store, booth.events)  # not started: no printer needed
    photo_id = booth.add_photo()
    server = serve(create_app(booth), "127.0.0.1", port, 8)
    yield booth, f"http://127.0.0.1:{port}", photo_id
    server.close()
    booth.close()


def assert_no_violations(results: dict[str, list[dict]]) -> None:
    text = "\n".join(report(name, found) for name, found in results.items())
    print("\n" + text)
    assert not any(results.values()), text


def settle(page, selector: str) -> None:
    """Wait for ``selector`` to be shown and for the screen's cross-fade to end (axe
    judges contrast on what is painted)."""
    page.wait_for_selector(selector, state="visible")
    page.wait_for_timeout(600)


#: The kiosk's states as the daemon publishes them: (name, events to publish, what then shows).
def kiosk_states(photo_id: str) -> list[tuple[str, list[tuple[str, dict]], str]]:
    ready = {"not_ready": None, "ok": True}
    strip = {"mode": "strip", "shots": 3}
    modes = {"current": "photo", "strip_shots": 3, "modes": [{"name": "photo", "label": "Photo"},
             {"name": "strip", "label": "Strip"}, {"name": "boomerang", "label": "Boomerang"}]}
    styles = {"current": "hayao", "styles": [{"name": "hayao", "label": "Hayao", "role": "scene"},
                                             {"name": "cute", "label": "Cute", "role": "face"}]}
    return [
        ("idle", [("health", ready), ("state", {"state": "idle"})], "#screen-idle"),
        ("idle, mode choice", [("mode", modes)], "#mode-choice"),
        ("idle, style choice", [("style", styles)], "#style-choice"),
        ("idle, busy toast", [("press_ignored", {"reason": "camera"})], "#toast"),
        ("warming", [("health", {"not_ready": "warming", "ok": False})], "#screen-warming"),
        ("resting", [("health", {"not_ready": "camera", "ok": False})], "#screen-resting"),
        ("consent", [("health", ready), ("state", {"state": "consent", "until": time.time() + 60})],
         "#screen-consent"),
        ("countdown", [("state", {"state": "countdown", "seconds_left": 3})], "#screen-countdown"),
        ("strip countdown", [("state", {"state": "countdown", "seconds_left": 3, "shot": 1, **strip})],
         "#shot-count"),
        ("strip shot", [("state", {"state": "shot", "shot": 2, "taken": 1, **strip})], "#screen-shot"),
        ("burst", [("state", {"state": "burst", "mode": "boomerang"})], "#screen-burst"),
        ("capture", [("state", {"state": "capture"})], "#screen-capture"),
        ("process", [("state", {"state": "process", "mode": "photo"})], "#screen-process"),
        ("result", [("state", {"state": "result", "photo_id": photo_id, "until": time.time() + 600})],
         "#screen-result"),
        ("result, print offer", [("print_offer", {"photo_id": photo_id, "until": time.time() + 600,
                                                   "budget_left": None})], "#print-button"),
        ("result, printing", [("print", {"state": "queued", "job": {
            "photo_id": photo_id, "source": "guest", "state": "printing", "message": ""}})], "#print-text"),
        ("failsafe", [("state", {"state": "failsafe", "message": "Something went wrong. Please try again.",
                                 "until": time.time() + 600})], "#screen-failsafe"),
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_axe_finds_nothing_on_the_kiosk_in_any_state(served, browser, lang):
    booth, url, photo_id = served
    booth.settings = booth.settings.replace("booth", language=lang)  # the kiosk's own language
    context = context_for(browser, lang, viewport=KIOSK)
    page = context.new_page()
    page.goto(f"{url}/kiosk")
    page.wait_for_function("() => document.body.dataset.connected === 'yes'")
    results = {}
    for name, events, shown in kiosk_states(photo_id):
        for kind, data in events:
            booth.events.publish(kind, **data)
        settle(page, shown)
        results[f"kiosk {name}"] = violations(page)
    context.close()
    assert_no_violations(results)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_axe_finds_nothing_on_the_organisers_pages(served, browser, lang):
    booth, url, photo_id = served
    key = booth.store.get(photo_id).owner_key
    context = context_for(browser, lang, **PHONE)
    page = context.new_page()
    results = {}
    for name, path in [("gallery", "/"), ("photo page", f"/p/{photo_id}?k={key}"),
                       ("photo delete", f"/p/{photo_id}/delete?k={key}"), ("upload", "/upload"),
                       ("privacy", "/privacy"), ("welcome", "/welcome"), ("404", "/no-such-page"),
                       ("admin panel", "/admin"), ("admin delete", f"/admin/delete/{photo_id}"),
                       ("photo gone", "/p/" + "A" * 22)]:
        page.goto(url + path)
        page.wait_for_timeout(300)
        results[name] = violations(page)
    context.close()
    assert_no_violations(results)


GUEST_PORT = 8097


def in_namespace_browser(pid: int, work):
    """``work(browser)`` run by a chromium that a thread of its own starts inside the
    network namespace of process ``pid`` (Playwright's sync API wants a thread without
    the session browser's event loop, and a thread's namespace is its own)."""
    from playwright.sync_api import sync_playwright
    from conftest import CHROMIUM, CHROMIUM_ARGS

    def run():
        with netns.inside(pid), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                return work(browser)
            finally:
                browser.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_axe_finds_nothing_on_a_phones_pages(tmp_path, photos, lang):
    """A phone on the Wi-Fi: chromium runs inside the booth's network namespace and
    opens the pages from a guest's address."""
    with netns.scripted_booth_served(tmp_path, GUEST_PORT, photos / "faces" / "18f_edwin_torres.jpg",
                                     PASSWORD, guests=2) as (process, photo_id, key):
        url = f"http://{netns.BOOTH_ADDRESS}:{GUEST_PORT}"

        def check(browser) -> dict[str, list[dict]]:
            context = context_for(browser, lang, **PHONE)
            page = context.new_page()
            results = {}
            page.goto(f"{url}/admin/login")
            assert page.locator("input[type=password]").count() == 1  # a guest: the login form
            for name, path in [("admin login", "/admin/login"), ("guest gallery", "/"),
                               ("guest photo page", f"/p/{photo_id}"),
                               ("owner's photo page", f"/p/{photo_id}?k={key}"),
                               ("owner's delete", f"/p/{photo_id}/delete?k={key}"),
                               ("guest 404", "/no-such-page")]:
                page.goto(url + path)
                page.wait_for_timeout(300)
                results[name] = violations(page)
            context.close()
            return results

        results = in_namespace_browser(process.pid, check)
    assert_no_violations(results)
