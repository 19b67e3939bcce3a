"""Shared test fixtures: the real photos beside the project and the built model files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from booth import PROJECT_ROOT

#: Debian's chromium (the test set-up installs it; never a downloaded browser).
CHROMIUM = "/usr/bin/chromium"
#: No network on the CI machine: without these chromium floods it with refused connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

#: ../shared/photos (faces/, groups/, scenes/); BOOTH_PHOTOS overrides it.
PHOTOS = Path(os.environ.get("BOOTH_PHOTOS") or PROJECT_ROOT.parent / "shared" / "photos")


@pytest.fixture(scope="session")
def photos() -> Path:
    """The shared photo set. The test set-up (CI, the README's test command) provides it."""
    if not (PHOTOS / "faces").is_dir():
        pytest.fail(f"photo set not found at {PHOTOS}: set BOOTH_PHOTOS to the shared photos folder")
    return PHOTOS


@pytest.fixture(scope="session")
def face_photo(photos: Path) -> Path:
    return photos / "faces" / "face_01.jpg"


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
