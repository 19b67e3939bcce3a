"""The interface every camera backend implements (all frames are H×W×3 uint8 RGB)::

    camera.open()            # raises booth.errors.CameraError if it cannot start
    camera.preview()         # a small live frame for the kiosk, or None
    camera.capture()         # the full-resolution still, taken *now*
    camera.burst(count, fps, on_frame)   # a boomerang's burst from the video stream
    camera.close()

A backend reports every failure as :class:`booth.errors.CameraError` with a one-line
reason, so the supervisor can show it and retry.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np


class Camera(Protocol):
    name: str

    def open(self) -> None: ...
    def preview(self) -> np.ndarray | None: ...
    def capture(self) -> np.ndarray: ...
    def burst(self, count: int, fps: float, on_frame: Callable[[np.ndarray], object]) -> int: ...
    def close(self) -> None: ...
