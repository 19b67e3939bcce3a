"""Shared test fixtures: the public test photos and the built model files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from booth import PROJECT_ROOT
from booth.measure.photos import FETCH_HINT, photo_set
from booth.model import weights

#: Debian's chromium (the test set-up installs it; never a downloaded browser).
CHROMIUM = "/usr/bin/chromium"
#: No network on the CI machine: without these chromium floods it with refused connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

#: The public test photos (faces/, groups/, scenes/, hires/) the install fetched into
#: weights/photos/: anyone can fetch them, so anyone can run the tests.
PHOTOS = photo_set()


@pytest.fixture(scope="session")
def photos() -> Path:
    """The public photo set. The README's test command (./install.sh --test) fetches it."""
    if not (PHOTOS / "faces").is_dir():
        pytest.fail(f"the public test photos are not in {PHOTOS}: {FETCH_HINT}", pytrace=False)
    return PHOTOS


@pytest.fixture(scope="session")
def face_photo(photos: Path) -> Path:
    """A close, frontal, well-lit portrait: one face, 800x800."""
    return photos / "faces" / "18f_selena_juneau_vogel.jpg"


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium driven by Playwright, one for the whole run (every context
    a test opens gets a fresh, temporary profile)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (./install.sh --test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


#: The styles beside the classic generator.
NEW_STYLES = ["jpface", "cute", "hayao3", "shinkai", "whitebox"]


def offline_mirror() -> Path:
    """An offline mirror of the model files: $BOOTH_WEIGHTS_MIRROR, else ../shared/weights,
    else the weights folder this checkout's install filled (the same files under the same
    names, each sha256-checked): a fresh clone with nothing beside it has that one."""
    given = os.environ.get("BOOTH_WEIGHTS_MIRROR")
    if given:
        return Path(given)
    shared = PROJECT_ROOT.parent / "shared" / "weights"
    return shared if shared.is_dir() else weights.WEIGHTS_DIR


MIRROR = offline_mirror()


@pytest.fixture(scope="session")
def built_styles() -> list[str]:
    """Every style fetched and built (a no-op when install.sh built them; otherwise one
    working size and a few calibration crops, so the tests never skip a style)."""
    from booth.model import style_build
    from booth.vision import styles

    styles.fetch(NEW_STYLES, MIRROR if MIRROR.is_dir() else None, report=lambda line: None)
    for name in NEW_STYLES:
        style_build.build_style(name, if_needed=True, samples=8, sizes=[384], report=lambda line: None)
    style_build.write_samples(report=lambda line: None)
    return NEW_STYLES
