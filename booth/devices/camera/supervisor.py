"""The camera supervisor: keeps a camera backend working for the booth.

It opens the backend in the background and retries with a growing back-off while it
is missing or failing, runs every camera call with a deadline (a hung camera is
reported, abandoned and reopened), keeps the latest preview frame as JPEG for the
kiosk, and reports ``status()`` for ``/healthz`` and the screen. The booth starts
without a camera and says so instead of refusing to start.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numpy as np

from booth import threads
from booth.daemon.worker import CallTimeout, Worker
from booth.devices.camera.base import Camera
from booth.errors import CameraError
from booth.ratelimit import RepeatedWarning
from booth.vision.images import encode_jpeg

log = logging.getLogger(__name__)

#: Hung camera calls (each a thread that cannot be killed) allowed to pile up before the
#: supervisor stops reopening the camera until one of them returns: a camera whose driver
#: hangs at every call would otherwise leave a thread behind at every retry all night.
MAX_HUNG_CALLS = 3


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
        # A camera left unplugged retries every retry_max_s all night: one line, then summaries.
        self._down = RepeatedWarning(log)
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
            if self._worker.stuck_calls() >= MAX_HUNG_CALLS:
                self.message = (f"the camera hung {MAX_HUNG_CALLS} times and has not let go: "
                                f"unplug and replug it, or restart the booth")
                self._down.warning(f"camera: {self.message}")
                self._next_try = time.monotonic() + self.settings.retry_max_s
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
            self._down.over()
            self.message = f"{camera.name} camera ready"
            log.info("camera: %s", self.message)
            return True

    def _failed(self, camera: Camera | None, exc: BaseException, *, opening: bool = False) -> None:
        """Drop a failing camera and schedule the next attempt (lock held)."""
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, CallTimeout):
            reason = f"the camera hung (no answer in {self.settings.capture_timeout_s:g} s)"
        self.message = f"{reason}; retrying in {self._retry_s:g} s"
        self._down.warning(f"camera: {self.message}")
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
        def still(camera: Camera) -> np.ndarray:
            frame = self._call(camera.capture)
            if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 \
                    or frame.size == 0 or frame.dtype != np.uint8:
                raise CameraError("the camera returned no picture")
            return frame

        return self._now(still)

    def burst(self, count: int, fps: float, on_frame) -> int:
        """A boomerang's burst: ``count`` frames at ``fps`` handed to ``on_frame`` as they
        come; raises CameraError (missing, failing, or hung past the burst's own length
        plus ``capture_timeout_s``)."""
        return self._now(lambda camera: self._worker.call(
            camera.burst, count, fps, on_frame, timeout=self.settings.capture_timeout_s + count / fps))

    def _now(self, use: Callable[[Camera], object]):
        """``use(camera)`` ahead of the preview loop; a failure or a hang drops the camera
        (to be reopened) and raises CameraError with its reason."""
        if not self.try_open():
            raise CameraError(f"no camera: {self.message}")
        self._capture_wanted = True  # the preview loop steps aside: the picture comes first
        with self._lock:
            self._capture_wanted = False
            camera = self._camera
            if camera is None:
                raise CameraError(f"no camera: {self.message}")
            try:
                return use(camera)
            except Exception as exc:
                self._failed(camera, exc)
                self._wake.set()
                raise CameraError(self.message.split("; retrying")[0]) from None

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
        self._thread = threads.start_daemon(self._loop, "camera-supervisor")
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
