"""The folder camera: cycles through the photos in a folder (demo mode and tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from booth.errors import CameraError, ImageError
from booth.vision.images import PHOTO_SUFFIXES, load_image, resize_long_side


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

    def close(self) -> None:
        self._files = []
