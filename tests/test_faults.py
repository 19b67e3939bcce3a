"""Fault injection: each way an event goes wrong, and the booth carries on.

The camera raising, returning nothing or hanging; the generator raising or hanging;
the disk below its floor; SIGTERM mid-cycle; SIGKILL mid-write. The failing camera
and model are small scripted stand-ins (a wiggling cable cannot be simulated
otherwise); the SIGTERM/SIGKILL tests run the real `booth run --demo` with the
real model in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from booth import PROJECT_ROOT
from booth.devices.camera import CameraSupervisor
from booth.errors import CameraError
from booth.daemon.booth import Booth
from booth.daemon.making import MESSAGES
from booth.daemon.store import KINDS, PhotoStore

from boothkit import QuickPipeline, free_port, settings_for, wait_for_state
from killkit import check_consistent

BOOTH = [str(Path(sys.executable).parent / "booth")]


class FlakyCamera:
    """A camera whose next captures do what the test scripted, then work again."""

    name = "flaky"

    def __init__(self, script: list[str], release: threading.Event) -> None:
        self.script = script
        self.release = release

    def open(self) -> None:
        if self.script and self.script[0] == "absent":
            self.script.pop(0)
            raise CameraError("flaky camera: unplugged")

    def preview(self):
        return np.zeros((48, 64, 3), np.uint8)

    def capture(self):
        action = self.script.pop(0) if self.script else "ok"
        if action == "raise":
            raise OSError("[Errno 19] No such device")
        if action == "nothing":
            return np.zeros((0, 0, 3), np.uint8)
        if action == "hang":
            self.release.wait(60)
        return np.full((240, 320, 3), 128, np.uint8)

    def close(self) -> None:
        pass


class BrokenPipeline(QuickPipeline):
    """The real quick step, except that scripted calls raise or hang like a bad model call."""

    def __init__(self, script: list[str], release: threading.Event) -> None:
        super().__init__()
        self.script = script
        self.release = release

    def process(self, rgb, **kwargs):
        action = self.script.pop(0) if self.script else "ok"
        if action == "raise":
            raise RuntimeError("Exception from src/inference/src/infer_request.cpp: Infer failed")
        if action == "hang":
            self.release.wait(60)
        return super().process(rgb, **kwargs)


@pytest.fixture
def release():
    event = threading.Event()
    yield event
    event.set()  # let abandoned threads finish


def booth_with(tmp_path, photos, *, camera_script=(), pipeline=None, release=None, retry_s=0.05, **cycle):
    settings = settings_for(tmp_path, photos / "faces", **cycle)
    settings = settings.replace("camera", capture_timeout_s=0.5, retry_initial_s=retry_s,
                                retry_max_s=max(retry_s, 0.2))
    script = list(camera_script)
    camera = CameraSupervisor(lambda: FlakyCamera(script, release), settings.camera)
    return Booth(settings, camera=camera, pipeline=pipeline or QuickPipeline())


def cycle(booth, sub, timeout=15):
    """Press, and return the screen the cycle ended on ("result" or "failsafe" event)."""
    assert booth.trigger("test")
    return wait_for_state(sub, "result", "failsafe", timeout=timeout)


@pytest.mark.parametrize("fault", ["raise", "nothing", "hang"])
def test_a_failing_camera_gives_a_friendly_screen_and_the_next_press_works(tmp_path, photos, release, fault):
    booth = booth_with(tmp_path, photos, camera_script=[fault], release=release)
    booth.camera.start()
    booth.start()
    with booth.events.subscribe() as sub:
        started = time.monotonic()
        ended = cycle(booth, sub)
        assert ended.data["state"] == "failsafe"
        assert ended.data["message"] == MESSAGES["camera"]
        assert time.monotonic() - started < 5  # a hung camera costs its deadline only
        wait_for_state(sub, "idle", timeout=5)
        deadline = time.monotonic() + 5
        while not booth.camera.ok:  # the supervisor reconnects after its back-off
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert cycle(booth, sub).data["state"] == "result"
    assert booth.health()["camera"]["ok"] is True
    assert booth.stats()["failures"] == 1 and booth.stats()["cycles"] == 1
    booth.stop()
    booth.camera.close(timeout=1)
    booth.store.close()


def test_the_booth_starts_without_a_camera_and_says_so(tmp_path, photos, release):
    booth = booth_with(tmp_path, photos, camera_script=["absent"] * 3, release=release, retry_s=5.0)
    booth.camera.start()
    booth.start()
    time.sleep(0.2)
    health = booth.health()
    assert health["ok"] is False and health["camera"]["ok"] is False
    assert "unplugged" in health["camera"]["message"] and "retrying" in health["camera"]["message"]
    with booth.events.subscribe() as sub:
        assert booth.trigger("test") is False  # no countdown for a photo that cannot be taken
        refused = sub.get(timeout=5)
        while refused is not None and refused.kind != "press_ignored":
            refused = sub.get(timeout=5)
    assert refused.data["reason"] == "camera" and booth.state == "idle"
    health_event = booth.events.latest("health")
    assert health_event is not None and health_event.data["camera"]["ok"] is False
    booth.stop()
    booth.camera.close(timeout=1)
    booth.store.close()


def test_the_generator_raising_gives_a_friendly_screen_and_the_next_press_works(tmp_path, photos, release):
    pipeline = BrokenPipeline(["raise"], release)
    booth = booth_with(tmp_path, photos, pipeline=pipeline, release=release)
    booth.start()
    with booth.events.subscribe() as sub:
        ended = cycle(booth, sub)
        assert ended.data["state"] == "failsafe" and ended.data["message"] == MESSAGES["error"]
        assert ended.data["until"] > time.time()
        wait_for_state(sub, "idle", timeout=5)
        assert cycle(booth, sub).data["state"] == "result"
    assert booth.store.count() == 1
    booth.stop()
    booth.store.close()


def test_a_hung_generator_times_out_and_the_booth_says_stuck_until_it_returns(tmp_path, photos, release):
    pipeline = BrokenPipeline(["hang"], release)
    booth = booth_with(tmp_path, photos, pipeline=pipeline, release=release, process_timeout_s=1.0)
    booth.start()
    with booth.events.subscribe() as sub:
        started = time.monotonic()
        ended = cycle(booth, sub)
        assert ended.data["state"] == "failsafe" and ended.data["message"] == MESSAGES["timeout"]
        assert 1.0 <= time.monotonic() - started < 4
        wait_for_state(sub, "idle", timeout=5)
        # No second call while the first is stuck (each would hold a thread and a frame).
        assert booth.trigger("test") is False and booth.not_ready() == "stuck"
        release.set()  # the call returns at last
        deadline = time.monotonic() + 5
        while booth.not_ready() is not None:
            assert time.monotonic() < deadline, "the booth did not recover"
            time.sleep(0.05)
        assert cycle(booth, sub).data["state"] == "result"
    booth.stop()
    booth.store.close()


def test_below_the_disk_floor_captures_are_refused_with_a_clear_message(tmp_path, photos, release, monkeypatch):
    booth = booth_with(tmp_path, photos, release=release)
    monkeypatch.setattr(booth.store, "free_mb", lambda: 80.0)
    booth.store.settings = booth.settings.replace("storage", min_free_mb=500).storage
    booth.settings = booth.settings.replace("storage", min_free_mb=500)
    booth.start()
    with booth.events.subscribe() as sub:
        assert booth.trigger("test") is False
        refused = sub.get(timeout=5)
        while refused is not None and refused.kind != "press_ignored":
            refused = sub.get(timeout=5)
    assert refused.data["reason"] == "disk" and booth.state == "idle"
    health = booth.health()
    assert health["ok"] is False and health["disk"]["ok"] is False
    assert health["disk"]["free_mb"] == 80.0 and "0.49 GB" in health["disk"]["message"]
    assert booth.store.count() == 0
    booth.stop()
    booth.store.close()


def test_the_disk_filling_during_the_save_is_a_failsafe_not_a_crash(tmp_path, photos, release, monkeypatch):
    """The check passes at the press, then the disk fills while processing runs."""
    processing = threading.Event()

    class FillingPipeline(QuickPipeline):  # the disk fills while the photo is being made
        def process(self, rgb, **kwargs):
            processing.set()
            return super().process(rgb, **kwargs)

    booth = booth_with(tmp_path, photos, release=release, pipeline=FillingPipeline())
    monkeypatch.setattr(booth.store, "free_mb", lambda: 1.0 if processing.is_set() else 10_000.0)
    booth.store.settings = booth.settings.replace("storage", min_free_mb=100).storage
    booth.start()
    with booth.events.subscribe() as sub:
        ended = cycle(booth, sub)
    assert ended.data["state"] == "failsafe" and ended.data["message"] == MESSAGES["disk"]
    assert booth.store.count() == 0
    assert not [p for p in booth.store.root.iterdir() if p.is_dir()]
    booth.stop()
    booth.store.close()


# --- signals, with the real `booth run` ------------------------------------------------------
class RunningBooth:
    """`booth run --demo` in a subprocess, with a notify socket to know when it is ready."""

    def __init__(self, tmp_path: Path, faces: Path, *extra: str) -> None:
        self.port = free_port()
        self.data = tmp_path / "data"
        self.notify_path = tmp_path / "notify"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.log = open(tmp_path / "booth.log", "w+")
        self.log_path = tmp_path / "booth.log"
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify_path)}
        self.process = subprocess.Popen(
            BOOTH + ["run", "--demo", str(faces), "--port", str(self.port), "--host", "127.0.0.1",
                     "--data-dir", str(self.data), "--log-level", "debug", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT)

    def wait_ready(self, timeout: float = 120) -> None:
        self.notify.settimeout(timeout)
        while True:
            message = self.notify.recv(4096).decode()
            if message == "READY=1":
                return

    def wait_log(self, text: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.log_path.read_text():
                return
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not logged: {self.log_path.read_text()[-3000:]}")

    def post(self, path: str) -> dict:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.notify.close()
        self.log.close()


@pytest.mark.slow
def test_sigterm_mid_cycle_finishes_it_closes_everything_and_exits_within_10_s(tmp_path, photos):
    booth = RunningBooth(tmp_path, photos / "faces")
    try:
        booth.wait_ready()
        booth.post("/api/trigger")
        booth.wait_log("state=process")
        signalled = time.monotonic()
        booth.process.send_signal(signal.SIGTERM)
        code = booth.process.wait(10)
        took = time.monotonic() - signalled
    finally:
        booth.close()
    log_text = booth.log_path.read_text()
    assert code == 0, log_text[-3000:]
    assert took < 10
    assert "received SIGTERM: stopping" in log_text and "Traceback" not in log_text
    # The running cycle was finished (or abandoned) cleanly: the store is consistent.
    count = check_consistent(booth.data / "photos")
    assert count == log_text.count("cycle ok")
    assert not (booth.data / "photos" / "index.sqlite3-wal").exists() or \
        (booth.data / "photos" / "index.sqlite3-wal").stat().st_size == 0


@pytest.mark.slow
def test_sigkill_mid_cycle_leaves_a_consistent_store_that_the_next_start_cleans(tmp_path, photos):
    booth = RunningBooth(tmp_path, photos / "faces", "--cycles", "1000")
    try:
        booth.wait_ready()
        booth.wait_log("cycle ok")
        booth.wait_log("state=process", timeout=30)
        time.sleep(0.6)  # somewhere in the generator, the encode or the fsyncs
        booth.process.send_signal(signal.SIGKILL)
        booth.process.wait(10)
    finally:
        booth.close()
    count = check_consistent(booth.data / "photos")
    assert count >= 1
    # And the booth starts again on that store.
    store = PhotoStore(booth.data / "photos", settings_for(tmp_path, photos).storage)
    assert store.repaired == {"temp_files": 0, "orphan_folders": 0, "orphan_rows": 0}
    assert store.count() == count
    for photo in store.list(limit=100):
        assert all(store.file_path(photo.id, kind).stat().st_size > 0 for kind in KINDS)
    store.close()
