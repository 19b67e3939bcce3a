"""The folder camera: cycles through the photos in a folder (demo mode and tests)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from booth.errors import CameraError, ImageError
from booth.vision.images import PHOTO_SUFFIXES, load_image, resize_long_side


#: Demo bursts: the frames' long side, and how far the push-in zooms over the burst.
BURST_LONG_SIDE = 800
BURST_ZOOM = 0.25


class FolderCamera:
    """A "camera" that returns the photos of a folder in turn (demo mode, tests).

    The preview shows the photo the next capture will return, downscaled.
    """

    name = "folder"

    def __init__(self, folder: str | Path, preview_size: tuple[int, int] = (640, 480)) -> None:
        self.folder = Path(folder)
        self.preview_long_side = max(preview_size) or 640
        self._files: list[Path] = []
        self._next = 0
        self._preview: np.ndarray | None = None

    def open(self) -> None:
        if not self.folder.is_dir():
            raise CameraError(f"folder camera: {self.folder} is not a folder")
        self._files = sorted(p for p in self.folder.iterdir()
                             if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
        if not self._files:
            raise CameraError(f"folder camera: no JPEG/PNG/WebP photos in {self.folder}")
        self._preview = None

    def _load(self, path: Path) -> np.ndarray:
        try:
            return load_image(path)
        except ImageError as exc:
            raise CameraError(f"folder camera: {exc}") from None

    def preview(self) -> np.ndarray | None:
        if not self._files:
            return None
        if self._preview is None:
            self._preview = resize_long_side(self._load(self._files[self._next]), self.preview_long_side)
        return self._preview

    def capture(self) -> np.ndarray:
        if not self._files:
            raise CameraError("folder camera: not open")
        path = self._files[self._next]
        self._next = (self._next + 1) % len(self._files)
        self._preview = None
        return self._load(path)

    def burst(self, count: int, fps: float, on_frame: Callable[[np.ndarray], object]) -> int:
        """The next photo as a short frame sequence (demo mode's boomerang): a slow push-in
        towards its middle with a little drift, paced like a camera at ``fps``."""
        still = resize_long_side(self.capture(), BURST_LONG_SIDE * 5 // 4)
        h, w = still.shape[:2]
        started = time.monotonic()
        for index in range(count):
            step = index / max(1, count - 1)
            zoom = 1.0 + BURST_ZOOM * step
            crop_w, crop_h = round(w / zoom), round(h / zoom)
            left = round((w - crop_w) * (0.5 + 0.15 * step))
            top = round((h - crop_h) * 0.5)
            frame = cv2.resize(still[top:top + crop_h, left:left + crop_w],
                               (round(w * 0.8), round(h * 0.8)), interpolation=cv2.INTER_AREA)
            delay = started + index / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            on_frame(frame)
        return count

    def close(self) -> None:
        self._files = []
