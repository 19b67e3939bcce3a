"""Every phone page by keyboard alone, with the focus always in sight; the kiosk's
motion off for guests who asked their system for less.

A scripted booth (real store, events and print queue, no camera) is served by waitress
on loopback; Debian's chromium tabs through the pages and triggers each action with
Enter or Space: the picture switch, Share, Download, another style, Delete with its
confirmation, the upload's file choice, consent and Send, and the organiser's Print. The
share sheet is a phone's, absent from a desktop browser: ``navigator.share`` is stood
in for at that edge.
"""

from __future__ import annotations

import re
import time

import pytest

from axekit import LANGUAGES, context_for
from booth.config import contrast
from booth.devices.printing import PrintService
from booth.vision.images import load_image, thumbnail
from test_access import PHONE, accessible_booth_settings
from webbooth import ScriptedBooth, free_port

pytestmark = pytest.mark.browser

#: The phone's share sheet: records what the page shares.
SHARE_SHEET = """
navigator.share = (data) => { window.__shared = {files: (data.files || []).length, url: data.url}; return Promise.resolve(); };
navigator.canShare = () => true;
"""


class RestylingBooth(ScriptedBooth):
    """The scripted booth with a second style a phone may ask for (it records the asks)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.restyles: list[tuple[str, str]] = []

    def style_choice(self) -> dict:
        return {"current": "hayao", "styles": [{"name": "hayao", "label": "Hayao", "role": "scene"},
                                               {"name": "cute", "label": "Cute", "role": "face"}]}

    def styles_available(self) -> list[str]:
        return ["hayao", "cute"]

    def submit_restyle(self, photo_id: str, style: str, client: str) -> str:
        self.restyles.append((photo_id, style))
        return "t1"

    def restyle_status(self, ticket: str) -> dict | None:
        """What the real queue answers for a re-rendering still waiting its turn."""
        if ticket != "t1" or not self.restyles:
            return None
        photo_id, style = self.restyles[-1]
        return {"state": "queued", "photo_id": photo_id, "style": style, "ahead": 1, "message": ""}


@pytest.fixture
def served(tmp_path, photos):
    from booth.web import create_app, serve

    port = free_port()
    settings = accessible_booth_settings(tmp_path, port)
    booth = RestylingBooth(settings, thumbnail(load_image(photos / "faces" / "18f_edwin_torres.jpg"), 640))
    booth.prints = PrintService(settings, booth.store, booth.events)  # not started: requests only queue
    server = serve(create_app(booth), "127.0.0.1", port, 8)
    yield booth, f"http://127.0.0.1:{port}"
    server.close()
    booth.close()


def rgb(css: str) -> str:
    """"rgb(r, g, b)" (or rgba) as "#rrggbb"."""
    r, g, b = (int(float(x)) for x in re.findall(r"[\d.]+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


#: What shows where the focus is: the element's outline, or, for a file input kept out of
#: sight, its label's; and the page's background behind it.
FOCUS_RING = """() => {
  const el = document.activeElement;
  const shown = el.matches("input[type=file]") && el.labels.length ? el.labels[0] : el;
  const style = getComputedStyle(shown);
  return {tag: el.tagName + (el.id ? "#" + el.id : ""), visible: el.matches(":focus-visible"),
          style: style.outlineStyle, width: parseFloat(style.outlineWidth), colour: style.outlineColor,
          background: getComputedStyle(document.body).backgroundColor};
}"""


def assert_focus_in_sight(page) -> None:
    """The focused element draws a ring at least 2 px wide whose colour stands out
    from the page's background by WCAG's 3:1 for focus indicators."""
    ring = page.evaluate(FOCUS_RING)
    assert ring["visible"] and ring["style"] not in ("none", "hidden") and ring["width"] >= 2, ring
    assert contrast(rgb(ring["colour"]), rgb(ring["background"])) >= 3, ring


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus, checking the ring at every stop."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        assert_focus_in_sight(page)
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never got the focus in {limit} presses of Tab")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_photo_page_by_keyboard_alone(served, browser, lang):
    booth, url = served
    photo_id = booth.add_photo()
    key = booth.store.get(photo_id).owner_key
    context = context_for(browser, lang, accept_downloads=True, **PHONE)
    context.add_init_script(SHARE_SHEET)
    page = context.new_page()
    page.goto(f"{url}/p/{photo_id}?k={key}")

    tab_to(page, "button[data-show=original]")
    page.keyboard.press("Space")
    assert page.get_attribute("button[data-show=original]", "aria-pressed") == "true"
    assert page.locator(".frame-original img").is_visible()
    assert page.get_attribute(".frame-original img", "alt")

    tab_to(page, "#share")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__shared !== undefined")
    assert page.evaluate("() => window.__shared.files") == 1  # the picture itself

    tab_to(page, "#download-anime")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.endswith(".jpg")

    tab_to(page, "button[name=style][value=cute]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#restyle-progress:not([hidden])")
    assert booth.restyles == [(photo_id, "cute")]

    tab_to(page, "#delete-mine")
    page.keyboard.press("Enter")
    page.wait_for_selector("#confirm-delete")
    tab_to(page, "#confirm-delete")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert booth.store.get(photo_id) is None
    for img in page.locator("img").all():
        assert img.get_attribute("alt") is not None
    context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_upload_by_keyboard_alone(served, browser, lang, photos):
    booth, url = served
    context = context_for(browser, lang, **PHONE)
    page = context.new_page()
    page.goto(f"{url}/upload")
    tab_to(page, "#library")  # the photo first: the page then asks for what is missing
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(photos / "faces" / "18f_edwin_torres.jpg"))
    page.wait_for_function("() => document.activeElement.id === 'consent'")
    assert_focus_in_sight(page)
    page.keyboard.press("Space")
    assert page.is_checked("#consent")
    tab_to(page, "#send")
    page.keyboard.press("Enter")
    # The photo went to the booth with the consent: the scripted booth's own refusal comes back.
    page.wait_for_function("() => /takes no uploads/.test(document.getElementById('uploads').innerText)")
    context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_organisers_print_by_keyboard_alone(served, browser, lang):
    booth, url = served
    photo_id = booth.add_photo()
    context = context_for(browser, lang, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/admin")
    tab_to(page, f"form[action$='/admin/print/{photo_id}'] button", limit=200)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Sent to the printer." in page.inner_text("main")
    assert [job.photo_id for job in booth.prints.jobs.values()] == [photo_id]
    context.close()


#: Elements that move on the kiosk, and the state in which they do.
MOVING = {"#cta": "idle", "#count": "countdown", ".screen-countdown": "countdown", "#result-bar": "result"}


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_the_kiosk_stands_still_for_guests_who_asked_for_less_motion(served, browser, motion):
    booth, url = served
    photo_id = booth.add_photo()
    page = browser.new_page(viewport={"width": 1920, "height": 1080}, reduced_motion=motion)
    page.goto(f"{url}/kiosk")
    page.wait_for_function("() => document.body.dataset.connected === 'yes'")
    moving = {}
    for selector, state in MOVING.items():
        data = {"state": state}
        if state == "countdown":
            data["seconds_left"] = 3
        if state == "result":
            data.update(photo_id=photo_id, until=time.time() + 60)
        booth.events.publish("state", **data)
        page.wait_for_function(f"() => document.body.dataset.state === {state!r}")
        moving[selector] = page.evaluate("""(s) => { const st = getComputedStyle(document.querySelector(s));
            return {animation: st.animationName, transition: st.transitionDuration}; }""", selector)
    page.close()
    still = {s: m for s, m in moving.items() if m["animation"] == "none" and set(m["transition"].split(", ")) == {"0s"}}
    if motion == "reduce":
        assert still == moving, moving
    else:  # the same elements do move for everyone else: the check above can fail
        assert not still, moving
