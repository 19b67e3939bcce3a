"""Helpers for the daemon's tests: settings in tmp_path, a quick pipeline, waiting for states."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import cv2
import numpy as np

from booth import config
from booth.devices.camera import CameraSupervisor, backend_factory
from booth.daemon.booth import Booth
from booth.vision.pipeline import PhotoResult
from booth.daemon.events import Subscription


def settings_for(tmp_path: Path, folder: Path, **cycle) -> config.Settings:
    """Defaults with the data dir in tmp_path, the folder camera and short timings."""
    timings = dict(countdown_s=0, show_result_s=0.3, failsafe_s=0.2, process_timeout_s=20.0)
    timings.update(cycle)
    settings = config.defaults().replace("booth", data_dir=str(tmp_path / "data"))
    settings = settings.replace("camera", backend="folder", folder=str(folder),
                                retry_initial_s=0.05, retry_max_s=0.2, capture_timeout_s=1.0)
    settings = settings.replace("storage", min_free_mb=0)
    return settings.replace("cycle", **timings)


class QuickPipeline:
    """A real but tiny processing step (OpenCV, ~1 ms) for tests of the daemon's logic.

    It does what the real pipeline does to the data — crop, resize, change every
    pixel — without the generator's second of compute. Tests of the real
    Pipeline/generator end to end live in test_daemon.py (``real_pipeline``).
    """

    def __init__(self, size: tuple[int, int] = (64, 48)) -> None:
        self.size = size
        self.calls = 0

    def process(self, rgb: np.ndarray, *, size: int | None = None, use_faces: bool = True,
                style: str | None = None):
        self.calls += 1
        started = time.perf_counter()
        h, w = self.size
        crop = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        stylized = (crop // 64 * 64 + 32).astype(np.uint8)  # posterized: visibly "stylized"
        return PhotoResult(stylized, crop, h, [], 0.0,
                                {"generator": (time.perf_counter() - started) * 1e3})


def make_booth(settings: config.Settings, pipeline) -> Booth:
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera)
    return Booth(settings, camera=camera, pipeline=pipeline)


def wait_for_state(sub: Subscription, *states: str, timeout: float = 30.0):
    """The next "state" event whose state is one of ``states`` (AssertionError on timeout)."""
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        event = sub.get(timeout=max(0.0, end - time.monotonic()))
        if event is None:
            break
        if event.kind == "state":
            seen.append(event.data["state"])
            if event.data["state"] in states:
                return event
    raise AssertionError(f"no state in {states} within {timeout} s; saw {seen}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
