"""The USB webcam backend, through ``cv2.VideoCapture``."""

from __future__ import annotations

import time
from typing import Callable

import cv2
import numpy as np

from booth.errors import CameraError
from booth.vision.images import resize_long_side


#: Long side of a burst's frames (the boomerang is 512 px; the rest is for cropping).
BURST_LONG_SIDE = 800


class OpenCVCamera:
    """A USB webcam through OpenCV (``device``: an index like ``"0"`` or a path)."""

    name = "opencv"

    def __init__(self, device: str = "0", preview_size: tuple[int, int] = (640, 480),
                 still_size: tuple[int, int] = (0, 0)) -> None:
        self.device = device
        self.preview_size = preview_size
        self.still_size = still_size
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        source: int | str = int(self.device) if self.device.isdigit() else self.device
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"webcam {self.device!r} not found (is it plugged in?)")
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # no stale frames: the still is taken now
        if self.still_size[0] and self.still_size[1]:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.still_size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.still_size[1])
        self._cap = cap
        self._read()  # a camera that opens but gives no frames is not working

    def _opened(self) -> cv2.VideoCapture:
        if self._cap is None:
            raise CameraError("webcam: not open")
        return self._cap

    def _read(self) -> np.ndarray:
        ok, bgr = self._opened().read()
        if not ok or bgr is None or bgr.size == 0:
            raise CameraError(f"webcam {self.device!r} returned no picture")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def preview(self) -> np.ndarray | None:
        return resize_long_side(self._read(), max(self.preview_size) or 640)

    def capture(self) -> np.ndarray:
        self._opened().grab()  # drop the frame buffered before the countdown ended
        return self._read()

    def burst(self, count: int, fps: float, on_frame: Callable[[np.ndarray], object]) -> int:
        """``count`` frames of the webcam's stream at about ``fps`` (frames the webcam
        delivers faster are skipped: the clip keeps its real pace)."""
        self._opened().grab()  # the buffered frame is from before the countdown ended
        started = time.monotonic()
        taken = 0
        while taken < count:
            frame = self._read()
            if time.monotonic() >= started + taken / fps:
                on_frame(resize_long_side(frame, BURST_LONG_SIDE))
                taken += 1
        return taken

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
