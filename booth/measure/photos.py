"""The photo sets measurements run on: booth crops of real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from booth import config
from booth.model.quantize import booth_crop
from booth.vision.face import FaceDetector
from booth.vision.images import load_image


def photo_crops(photos: Path, size: int = 512, aspect: float | None = None) -> list[np.ndarray]:
    """Booth crops (uint8 RGB) of every photo in faces/ and groups/."""
    settings = config.defaults()
    aspect = aspect or settings.face.aspect
    detector = FaceDetector.from_settings(settings)
    files = sorted((photos / "faces").glob("*.jpg")) + sorted((photos / "groups").glob("*.jpg"))
    return [booth_crop(load_image(f), size, aspect, detector) for f in files]


