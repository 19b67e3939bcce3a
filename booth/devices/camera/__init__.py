"""Cameras: one small interface (:mod:`.base`), three backends and a supervisor that
never gives up; the choice of backend is made here.

* :class:`~.picamera2.Picamera2Camera` — the Pi camera (picamera2, only on a Pi).
* :class:`~.opencv.OpenCVCamera` — a USB webcam through ``cv2.VideoCapture`` (an index
  such as ``"0"`` or a device path such as ``"/dev/video0"``).
* :class:`~.folder.FolderCamera` — cycles through the photos in a folder: demo mode
  and tests.
* :class:`~.supervisor.CameraSupervisor` keeps one of them working for the booth.

:func:`backend_factory` turns the ``[camera]`` settings into a function that makes a
new backend each time the supervisor (re)opens the camera.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from booth.devices.camera.base import Camera
from booth.devices.camera.folder import FolderCamera
from booth.devices.camera.opencv import OpenCVCamera
from booth.devices.camera.picamera2 import Picamera2Camera
from booth.devices.camera.supervisor import CameraSupervisor
from booth.errors import CameraError

__all__ = ["CameraSupervisor", "backend_factory"]


def backend_factory(settings_camera, base_dir: Path) -> Callable[[], Camera]:
    """A function that makes a new backend as configured (``auto``: Pi camera, else webcam)."""
    preview = tuple(settings_camera.preview_size)
    still = tuple(settings_camera.still_size)

    def make() -> Camera:
        backend = settings_camera.backend
        if backend == "folder":
            folder = Path(settings_camera.folder).expanduser()
            return FolderCamera(folder if folder.is_absolute() else base_dir / folder, preview)
        if backend == "picamera2":
            return Picamera2Camera(preview, still)
        if backend == "opencv":
            return OpenCVCamera(settings_camera.device, preview, still)
        return AutoCamera(preview, still, settings_camera.device)

    return make


class AutoCamera:
    """``backend = "auto"``: the Pi camera if there is one, else the USB webcam."""

    def __init__(self, preview_size, still_size, device: str) -> None:
        self._choices: list[Camera] = [Picamera2Camera(preview_size, still_size),
                         OpenCVCamera(device, preview_size, still_size)]
        self._camera: Camera | None = None
        self.name = "auto"

    def open(self) -> None:
        reasons = []
        for camera in self._choices:
            try:
                camera.open()
            except CameraError as exc:
                reasons.append(str(exc))
                continue
            self._camera, self.name = camera, camera.name
            return
        raise CameraError("no camera found: " + "; ".join(reasons))

    def _opened(self) -> Camera:
        if self._camera is None:
            raise CameraError("the camera is not open")
        return self._camera

    def preview(self) -> np.ndarray | None:
        return self._opened().preview()

    def capture(self) -> np.ndarray:
        return self._opened().capture()

    def burst(self, count, fps, on_frame) -> int:
        return self._opened().burst(count, fps, on_frame)

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None
