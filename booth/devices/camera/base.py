"""The interface every camera backend implements (all frames are H×W×3 uint8 RGB)::

    camera.open()            # raises booth.errors.CameraError if it cannot start
    camera.preview()         # a small live frame for the kiosk, or None
    camera.capture()         # the full-resolution still, taken *now*
    camera.close()

A backend reports every failure as :class:`booth.errors.CameraError` with a one-line
reason, so the supervisor can show it and retry.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Camera(Protocol):
    name: str

    def open(self) -> None: ...
    def preview(self) -> np.ndarray | None: ...
    def capture(self) -> np.ndarray: ...
    def close(self) -> None: ...
