"""Cameras: the folder backend on real photos, the webcam's clear errors, and the
supervisor's retries, deadlines and preview. The failing cameras are small fakes:
real cameras are physically absent on the dev machine."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from booth import config
from booth.devices.camera import CameraSupervisor, backend_factory
from booth.devices.camera.folder import FolderCamera
from booth.devices.camera.opencv import OpenCVCamera
from booth.devices.camera.picamera2 import Picamera2Camera
from booth.errors import CameraError
from booth.vision.images import decode_image, load_image


def camera_settings(**changes):
    base = dict(retry_initial_s=0.05, retry_max_s=0.2, capture_timeout_s=0.5)
    base.update(changes)
    return config.defaults().replace("camera", **base).camera


class ScriptedCamera:
    """A camera that does what a test says: raise, return nothing, or hang."""

    name = "scripted"

    def __init__(self, behaviour: str = "ok", release: threading.Event | None = None) -> None:
        self.behaviour = behaviour
        self.release = release or threading.Event()
        self.closed = False

    def open(self) -> None:
        if self.behaviour == "absent":
            raise CameraError("scripted camera: not plugged in")

    def preview(self):
        return np.zeros((48, 64, 3), np.uint8)

    def capture(self):
        if self.behaviour == "raise":
            raise OSError("USB cable unplugged")
        if self.behaviour == "nothing":
            return None
        if self.behaviour == "hang":
            self.release.wait(60)
        return np.full((120, 160, 3), 200, np.uint8)

    def close(self) -> None:
        self.closed = True


def test_folder_camera_cycles_through_real_photos(photos):
    folder = photos / "faces"
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    camera = FolderCamera(folder, (640, 480))
    camera.open()
    first_preview = camera.preview()
    assert max(first_preview.shape[:2]) <= 640
    shots = [camera.capture() for _ in range(len(files) + 1)]
    assert np.array_equal(shots[0], load_image(files[0]))
    assert np.array_equal(shots[1], load_image(files[1]))
    assert np.array_equal(shots[-1], shots[0])  # wraps around
    assert all(s.dtype == np.uint8 and s.ndim == 3 and s.shape[2] == 3 for s in shots)
    camera.close()


def test_folder_camera_errors_are_one_line(tmp_path):
    with pytest.raises(CameraError, match="not a folder"):
        FolderCamera(tmp_path / "missing").open()
    with pytest.raises(CameraError, match="no JPEG/PNG/WebP photos"):
        FolderCamera(tmp_path).open()
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    camera = FolderCamera(tmp_path)
    camera.open()
    with pytest.raises(CameraError, match="broken.jpg"):
        camera.capture()


def test_missing_webcam_is_a_clear_camera_error():
    with pytest.raises(CameraError, match="webcam '/dev/video-none' not found"):
        OpenCVCamera("/dev/video-none").open()


def test_picamera2_is_not_imported_off_a_pi():
    import sys

    with pytest.raises(CameraError, match="picamera2|Pi camera"):
        Picamera2Camera().open()
    assert "picamera2" not in sys.modules or sys.modules["picamera2"] is not None


def test_backend_factory_follows_the_config(photos, tmp_path):
    folder_settings = camera_settings(backend="folder", folder=str(photos / "faces"))
    assert isinstance(backend_factory(folder_settings, tmp_path)(), FolderCamera)
    assert isinstance(backend_factory(camera_settings(backend="opencv"), tmp_path)(), OpenCVCamera)
    auto = backend_factory(camera_settings(backend="auto"), tmp_path)()
    with pytest.raises(CameraError, match="no camera found"):
        auto.open()  # no Pi camera, no webcam on the dev machine


def test_supervisor_captures_and_keeps_a_preview_jpeg(photos):
    settings = camera_settings(backend="folder", folder=str(photos / "faces"))
    supervisor = CameraSupervisor(backend_factory(settings, Path(".")), settings, preview_fps=20).start()
    try:
        end = time.monotonic() + 5
        while supervisor.preview_jpeg() is None and time.monotonic() < end:
            time.sleep(0.02)
        preview = decode_image(supervisor.preview_jpeg())
        assert max(preview.shape[:2]) <= 640
        assert supervisor.status() == {"ok": True, "backend": "folder", "message": "folder camera ready"}
        assert supervisor.capture().shape[2] == 3
    finally:
        supervisor.close()


def test_a_missing_camera_is_retried_with_backoff_until_it_appears():
    cameras = [ScriptedCamera("absent"), ScriptedCamera("absent"), ScriptedCamera("ok")]
    made = []

    def factory():
        made.append(time.monotonic())
        return cameras[min(len(made) - 1, 2)]

    settings = camera_settings(retry_initial_s=0.1, retry_max_s=1.0)
    supervisor = CameraSupervisor(factory, settings)
    assert supervisor.try_open() is False
    assert supervisor.status()["ok"] is False
    assert "not plugged in" in supervisor.status()["message"] and "retrying in 0.1 s" in supervisor.status()["message"]
    assert supervisor.try_open() is False  # still backing off: no new attempt
    assert len(made) == 1
    time.sleep(0.12)
    assert supervisor.try_open() is False
    assert "retrying in 0.2 s" in supervisor.status()["message"]  # the back-off doubled
    time.sleep(0.22)
    assert supervisor.try_open() is True
    assert supervisor.status()["ok"] is True
    supervisor.close()


@pytest.mark.parametrize("behaviour, message", [
    ("raise", "USB cable unplugged"),
    ("nothing", "returned no picture"),
    ("hang", "the camera hung"),
])
def test_a_failing_camera_raises_camera_error_and_is_reopened(behaviour, message):
    release = threading.Event()
    made: list[ScriptedCamera] = []

    def factory():
        made.append(ScriptedCamera(behaviour if len(made) == 0 else "ok", release))
        return made[-1]

    supervisor = CameraSupervisor(factory, camera_settings(capture_timeout_s=0.3))
    started = time.monotonic()
    with pytest.raises(CameraError, match=message):
        supervisor.capture()
    assert time.monotonic() - started < 3  # a hung camera costs the deadline, not forever
    assert supervisor.status()["ok"] is False
    assert message in supervisor.status()["message"]
    end = time.monotonic() + 2
    while not made[0].closed and time.monotonic() < end:
        time.sleep(0.01)
    assert made[0].closed or behaviour == "hang"  # a hung camera is closed on a side thread
    time.sleep(0.06)  # the back-off
    frame = supervisor.capture()  # a new camera object, working again
    assert frame.shape == (120, 160, 3) and len(made) == 2
    release.set()
    supervisor.close()


def test_close_is_bounded_even_with_a_hung_camera():
    release = threading.Event()
    camera = ScriptedCamera("hang", release)
    supervisor = CameraSupervisor(lambda: camera, camera_settings(capture_timeout_s=0.3))
    supervisor.try_open()
    camera.preview = lambda: release.wait(60)  # the preview call hangs too
    supervisor.start()
    time.sleep(0.1)
    started = time.monotonic()
    supervisor.close(timeout=1.0)
    assert time.monotonic() - started < 3.5
    release.set()


def test_a_camera_left_unplugged_is_one_warning_not_one_per_retry(caplog):
    """The supervisor retries all night; the journal (on the SD card) gets a line, not thousands."""
    import logging

    caplog.set_level(logging.WARNING, logger="booth")
    supervisor = CameraSupervisor(lambda: ScriptedCamera("absent"),
                                  camera_settings(retry_initial_s=0.05, retry_max_s=0.05)).start()
    try:
        deadline = time.monotonic() + 10
        while supervisor.failures < 10:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        supervisor.close()
    lines = [r.getMessage() for r in caplog.records if "not plugged in" in r.getMessage()]
    assert lines == ["camera: scripted camera: not plugged in; retrying in 0.05 s"]


def test_a_picamera2_that_cannot_load_falls_back_to_the_webcam(photos, tmp_path, monkeypatch):
    """apt's picamera2 built against another numpy dies on import with a ValueError
    ("numpy.dtype size changed"): the Pi camera counts as absent and ``auto`` takes the
    webcam. The webcam is a real cv2.VideoCapture, reading a video file of a real photo
    (no webcam here)."""
    broken = tmp_path / "site" / "picamera2"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        'raise ValueError("numpy.dtype size changed, may indicate binary incompatibility. '
        'Expected 96 from C header, got 88 from PyObject")\n')
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(__import__("sys").modules, "picamera2", raising=False)
    rgb = load_image(photos / "faces" / "18f_edwin_torres.jpg")
    frame = cv2.resize(rgb, (320, 240))[:, :, ::-1]
    video = tmp_path / "webcam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(5):
        writer.write(frame)
    writer.release()

    with pytest.raises(CameraError, match="picamera2 cannot load .*ValueError: numpy.dtype size changed"):
        Picamera2Camera().open()
    make = backend_factory(camera_settings(backend="auto", device=str(video)), tmp_path)
    camera = make()
    camera.open()
    try:
        assert camera.name == "opencv"
        shot = camera.capture()
        assert shot.shape == (240, 320, 3)
        assert np.abs(shot.astype(int) - frame[:, :, ::-1]).mean() < 8  # the photo, not noise
    finally:
        camera.close()


def test_a_camera_that_hangs_at_every_call_leaves_a_bounded_number_of_threads():
    """Each hung call keeps a thread Python cannot kill; retried all night, a camera whose
    driver hangs every time must not add one per retry."""
    from booth.devices.camera.supervisor import MAX_HUNG_CALLS

    release = threading.Event()
    made: list[ScriptedCamera] = []

    def factory():
        made.append(ScriptedCamera("hang", release))
        return made[-1]

    threads_before = threading.active_count()
    supervisor = CameraSupervisor(factory, camera_settings(capture_timeout_s=0.1, retry_max_s=0.05))
    try:
        for _ in range(3 * MAX_HUNG_CALLS):
            with pytest.raises(CameraError):
                supervisor.capture()
            time.sleep(0.06)  # the back-off
        assert len(made) == MAX_HUNG_CALLS
        assert "has not let go" in supervisor.status()["message"]
        # The hung calls' threads and the side threads closing their cameras, no more.
        assert threading.active_count() - threads_before <= 2 * MAX_HUNG_CALLS
        release.set()  # the driver lets go: the camera is opened again
        deadline = time.monotonic() + 3
        while not supervisor.try_open():
            assert time.monotonic() < deadline, supervisor.status()
            time.sleep(0.02)
        assert len(made) == MAX_HUNG_CALLS + 1
    finally:
        release.set()
        supervisor.close()
