"""Shared test fixtures: the real photos beside the project and the built model files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from booth import PROJECT_ROOT

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
