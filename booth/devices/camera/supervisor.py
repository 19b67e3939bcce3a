"""Cameras: one small interface, three backends, and a supervisor that never gives up.

A backend is anything with these four methods (all frames are H×W×3 uint8 RGB)::

    camera.open()            # raises CameraError if it cannot start
    camera.preview()         # a small live frame for the kiosk, or None
    camera.capture()         # the full-resolution still, taken *now*
    camera.close()

* :class:`Picamera2Camera` — the Pi camera. It runs one configuration with two
  streams: a small ``lores`` stream for the live preview and the full-resolution
  ``main`` stream, so the still is simply the next frame when the countdown ends —
  no mode switch, no "photo taken seconds after smile". ``picamera2`` is imported
  here only, inside :meth:`Picamera2Camera.open`, because it exists only on a Pi.
* :class:`OpenCVCamera` — a USB webcam through ``cv2.VideoCapture`` (an index such
  as ``"0"`` or a device path such as ``"/dev/video0"``).
* :class:`FolderCamera` — cycles through the photos in a folder: demo mode and tests.

:class:`CameraSupervisor` wraps a backend for the booth: it opens it in the
background and retries with a growing back-off while it is missing or failing, runs
every camera call with a deadline (a hung camera is reported, abandoned and
reopened), keeps the latest preview frame as JPEG for the kiosk, and reports
``status()`` for ``/healthz`` and the screen. The booth starts without a camera and
says so instead of refusing to start.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from booth.vision.images import encode_jpeg, load_image, resize_long_side
from booth.errors import ImageError
from booth.daemon.worker import CallTimeout, Worker
from booth.errors import CameraError

log = logging.getLogger(__name__)

#: File types the folder camera picks up.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class Camera(Protocol):
    name: str

    def open(self) -> None: ...
    def preview(self) -> np.ndarray | None: ...
    def capture(self) -> np.ndarray: ...
    def close(self) -> None: ...


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


class OpenCVCamera:
    """A USB webcam through OpenCV (``device``: an index like ``"0"`` or a path)."""

    name = "opencv"

    def __init__(self, device: str = "0", preview_size: tuple[int, int] = (640, 480),
                 still_size: tuple[int, int] = (0, 0)) -> None:
        self.device = device
        self.preview_size = preview_size
        self.still_size = still_size
        self._cap = None

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

    def _read(self) -> np.ndarray:
        if self._cap is None:
            raise CameraError("webcam: not open")
        ok, bgr = self._cap.read()
        if not ok or bgr is None or bgr.size == 0:
            raise CameraError(f"webcam {self.device!r} returned no picture")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def preview(self) -> np.ndarray | None:
        return resize_long_side(self._read(), max(self.preview_size) or 640)

    def capture(self) -> np.ndarray:
        self._cap.grab()  # drop the frame buffered before the countdown ended
        return self._read()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


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
        self._cam = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2  # only exists on a Pi (apt: python3-picamera2)
        except ImportError:
            raise CameraError("Pi camera: picamera2 is not installed (not a Raspberry Pi?)") from None
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

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
            finally:
                self._cam.close()
                self._cam = None


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
        self._choices = [Picamera2Camera(preview_size, still_size),
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

    def preview(self) -> np.ndarray | None:
        return self._camera.preview()

    def capture(self) -> np.ndarray:
        return self._camera.capture()

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None


class CameraSupervisor:
    """Keeps a camera working for the booth: open, retry, deadlines, preview, status.

    ``start()`` runs a background thread that (re)opens the camera with back-off
    (``retry_initial_s`` doubling up to ``retry_max_s``) and refreshes the preview
    (``preview_fps``). ``capture()`` is called by the booth at the end of the
    countdown. Any camera call slower than ``capture_timeout_s`` counts as a hung
    camera: it is abandoned and reopened later.
    """

    def __init__(self, factory: Callable[[], Camera], settings_camera, *,
                 preview_fps: float = 8.0, jpeg_quality: int = 75) -> None:
        self.factory = factory
        self.settings = settings_camera
        self.preview_fps = preview_fps
        self.jpeg_quality = jpeg_quality
        self._worker = Worker("camera")
        self._camera: Camera | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_s = settings_camera.retry_initial_s
        self._next_try = 0.0
        self._preview_jpeg: bytes | None = None
        # The latest preview frame itself (RGB, mirrored as shown) for the anime mirror,
        # numbered so a reader can wait for a newer one.
        self._frame_ready = threading.Condition()
        self._preview_frame: np.ndarray | None = None
        self._preview_seq = 0
        self.preview_enabled = True
        self._capture_wanted = False
        self.backend_name = settings_camera.backend
        self.message = "starting"
        self.failures = 0

    # --- status --------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self._camera is not None

    def status(self) -> dict:
        return {"ok": self.ok, "backend": self.backend_name, "message": self.message}

    def preview_jpeg(self) -> bytes | None:
        return self._preview_jpeg

    def next_preview_frame(self, after_seq: int, timeout: float) -> tuple[int, np.ndarray] | None:
        """(number, RGB frame) of the first preview frame numbered above ``after_seq``,
        waiting up to ``timeout`` seconds for it; None if none came."""
        with self._frame_ready:
            if self._preview_seq <= after_seq or self._preview_frame is None:
                self._frame_ready.wait(timeout)
            if self._preview_seq <= after_seq or self._preview_frame is None:
                return None
            return self._preview_seq, self._preview_frame

    # --- opening and failing -------------------------------------------------------
    def _call(self, fn, *args):
        return self._worker.call(fn, *args, timeout=self.settings.capture_timeout_s)

    def try_open(self) -> bool:
        """Open the camera if it is closed and its back-off has passed; True if open."""
        with self._lock:
            if self._camera is not None:
                return True
            if time.monotonic() < self._next_try:
                return False
            camera = self.factory()
            try:
                self._call(camera.open)
            except (CameraError, CallTimeout, Exception) as exc:
                self._failed(camera, exc, opening=True)
                return False
            self._camera = camera
            self.backend_name = camera.name
            self._retry_s = self.settings.retry_initial_s
            self.message = f"{camera.name} camera ready"
            log.info("camera: %s", self.message)
            return True

    def _failed(self, camera: Camera | None, exc: BaseException, *, opening: bool = False) -> None:
        """Drop a failing camera and schedule the next attempt (lock held)."""
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, CallTimeout):
            reason = f"the camera hung (no answer in {self.settings.capture_timeout_s:g} s)"
        self.message = f"{reason}; retrying in {self._retry_s:g} s"
        log.warning("camera: %s", self.message)
        self._camera = None
        self._preview_jpeg = None
        self.failures += 1
        self._next_try = time.monotonic() + self._retry_s
        self._retry_s = min(self._retry_s * 2, self.settings.retry_max_s)
        if camera is not None:  # close off the booth's path: a hung close must not block us
            threading.Thread(target=_close_quietly, args=(camera,), daemon=True,
                             name="camera-close").start()

    # --- frames --------------------------------------------------------------------
    def capture(self) -> np.ndarray:
        """The full-resolution still, now; raises CameraError (missing, failing or hung)."""
        if not self.try_open():
            raise CameraError(f"no camera: {self.message}")
        self._capture_wanted = True  # the preview loop steps aside: the still comes first
        with self._lock:
            self._capture_wanted = False
            camera = self._camera
            if camera is None:
                raise CameraError(f"no camera: {self.message}")
            try:
                frame = self._call(camera.capture)
                if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 \
                        or frame.size == 0 or frame.dtype != np.uint8:
                    raise CameraError("the camera returned no picture")
            except Exception as exc:
                self._failed(camera, exc)
                self._wake.set()
                raise CameraError(self.message.split("; retrying")[0]) from None
            return frame

    def refresh_preview(self) -> None:
        """Grab one preview frame into :meth:`preview_jpeg` (the background loop's job)."""
        if self._capture_wanted:
            return
        with self._lock:
            camera = self._camera
            if camera is None or self._capture_wanted:
                return
            try:
                frame = self._call(camera.preview)
            except Exception as exc:
                self._failed(camera, exc)
                return
        if frame is not None:
            if self.settings.mirror_preview:
                frame = frame[:, ::-1]
            frame = np.ascontiguousarray(frame)
            self._preview_jpeg = encode_jpeg(frame, self.jpeg_quality)
            with self._frame_ready:
                self._preview_frame, self._preview_seq = frame, self._preview_seq + 1
                self._frame_ready.notify_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.try_open() and self.preview_enabled:
                self.refresh_preview()
                wait = 1.0 / self.preview_fps
            else:
                wait = 1.0 / self.preview_fps if self.ok else max(0.05, self._next_try - time.monotonic())
            self._wake.wait(min(wait, 1.0))
            self._wake.clear()

    def start(self) -> "CameraSupervisor":
        self._thread = threading.Thread(target=self._loop, name="camera-supervisor", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 3.0) -> None:
        """Stop the background loop and close the camera (bounded by ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        acquired = self._lock.acquire(timeout=timeout)
        try:
            camera, self._camera = self._camera, None
            if camera is not None:
                try:
                    self._worker.call(camera.close, timeout=timeout)
                except Exception as exc:
                    log.warning("camera: close failed: %s", exc)
            self._worker.stop(timeout)
        finally:
            if acquired:
                self._lock.release()


def _close_quietly(camera: Camera) -> None:
    try:
        camera.close()
    except Exception:
        pass
