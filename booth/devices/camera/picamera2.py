"""The Raspberry Pi camera backend (libcamera through picamera2).

It runs one configuration with two streams: a small ``lores`` stream for the live
preview and the full-resolution ``main`` stream, so the still is simply the next frame
when the countdown ends — no mode switch, no "photo taken seconds after smile".
``picamera2`` is imported only inside :meth:`Picamera2Camera.open`, because it exists
only on a Pi.
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from booth.errors import CameraError


#: A burst's frame size: the boomerang is 512 px long side, the rest is for cropping.
BURST_SIZE = (960, 720)


class Picamera2Camera:
    """The Raspberry Pi camera (libcamera through picamera2; only on a Pi).

    One still configuration with a ``lores`` preview stream runs all the time, so the
    capture at the end of the countdown is the next full-resolution frame.
    """

    name = "picamera2"

    def __init__(self, preview_size: tuple[int, int] = (640, 480),
                 still_size: tuple[int, int] = (0, 0)) -> None:
        self.preview_size = preview_size
        self.still_size = still_size
        self._cam: Any = None  # a picamera2.Picamera2 once open
        self._still_config: Any = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2  # only exists on a Pi (apt: python3-picamera2)
        except ImportError:
            raise CameraError("Pi camera: picamera2 is not installed (not a Raspberry Pi?)") from None
        except Exception as exc:
            # A picamera2 that cannot load (apt's build against another numpy raises
            # "numpy.dtype size changed" as a ValueError) is an absent Pi camera: the
            # booth falls back to a webcam instead of stopping here.
            raise CameraError(f"Pi camera: picamera2 cannot load ({type(exc).__name__}: {exc}); "
                              "run ./install.sh again (it pins numpy to apt's)") from None
        try:
            if not Picamera2.global_camera_info():
                raise CameraError("Pi camera: none connected (check the ribbon cable)")
            cam = Picamera2()
            still = tuple(self.still_size) if all(self.still_size) else cam.sensor_resolution
            # The lores stream is YUV420 (the only choice on a Pi 4); a width that is a
            # multiple of 64 has no row padding, so the planes convert as they are.
            width, height = self.preview_size
            lores = (max(64, width // 64 * 64), max(2, height // 2 * 2))
            config = cam.create_still_configuration(
                main={"size": still, "format": "RGB888"},
                lores={"size": lores, "format": "YUV420"},
                buffer_count=2, queue=False)  # queue=False: never hand out an old frame
            cam.configure(config)
            cam.start()
            self._still_config = config
        except CameraError:
            raise
        except Exception as exc:
            raise CameraError(f"Pi camera: cannot start ({exc})") from None
        self._cam = cam

    def preview(self) -> np.ndarray | None:
        yuv = self._cam.capture_array("lores")
        return cv2.cvtColor(yuv, cv2.COLOR_YUV420p2RGB)

    def capture(self) -> np.ndarray:
        # picamera2's "RGB888" is B, G, R in memory order.
        return np.ascontiguousarray(self._cam.capture_array("main")[:, :, ::-1])

    def burst(self, count: int, fps: float, on_frame: Callable[[np.ndarray], object]) -> int:
        """``count`` frames from a video configuration at ``fps`` (the sensor's fast, binned
        mode), then back to the still configuration the booth keeps running."""
        video = self._cam.create_video_configuration(
            main={"size": BURST_SIZE, "format": "RGB888"}, buffer_count=4,
            controls={"FrameRate": float(fps)})
        self._cam.switch_mode(video)
        try:
            for _ in range(count):
                # picamera2's "RGB888" is B, G, R in memory order.
                on_frame(np.ascontiguousarray(self._cam.capture_array("main")[:, :, ::-1]))
        finally:
            self._cam.switch_mode(self._still_config)
        return count

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
            finally:
                self._cam.close()
                self._cam = None
