"""Soak: 1000 button presses through gpiozero's MockFactory.

The point is the daemon's robustness over a long event — no crash, no leaked threads
or file descriptors, bounded memory, and every completed cycle leaves a complete
photo in the store and its index. So the processing step is ``QuickPipeline`` (a
tiny real OpenCV step) with countdown 0 and a short result screen; the real
Pipeline/generator runs through the same cycle in test_daemon.py
(``test_real_pipeline_cycle_end_to_end`` and the `booth run --demo --cycles` test).
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from booth.devices.button import BoothButton
from booth.vision.images import load_image
from booth.daemon.store import KINDS, PhotoStore

from boothkit import QuickPipeline, make_booth, settings_for

PRESSES = 1000


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
def test_soak_1000_presses(tmp_path, photos):
    threads_before = threading.active_count()
    fds_before = open_fds()
    factory = MockFactory()
    settings = settings_for(tmp_path, photos / "faces", countdown_s=0, show_result_s=0.05,
                            failsafe_s=0.05)
    settings = settings.replace("button", bounce_time=0.0)
    booth = make_booth(settings, QuickPipeline())
    booth.camera.start()
    button = BoothButton(settings.button, on_press=lambda: booth.trigger("button"),
                         pin_factory=factory, on_pi=False)
    booth.attach_button(button)
    booth.start()
    pin = factory.pin(settings.button.pin)

    accepted = ignored = impatient = 0
    rss_after_warmup = None
    started = time.monotonic()
    with booth.events.subscribe() as sub:
        for press in range(PRESSES):
            before = booth.stats()["ignored_presses"]
            pin.drive_low()
            pin.drive_high()
            if booth.stats()["ignored_presses"] > before:
                ignored += 1
                continue
            accepted += 1
            if accepted % 10 == 0:
                # An impatient guest: press again at once; the cycle is running, so it is ignored.
                pin.drive_low()
                pin.drive_high()
                impatient += 1
            while True:  # wait until this cycle ends on a screen
                event = sub.get(timeout=30)
                assert event is not None, f"press {press}: the booth stopped answering"
                if event.kind == "state" and event.data["state"] in ("result", "failsafe"):
                    break
            if press == 100:
                rss_after_warmup = rss_mb()
    elapsed = time.monotonic() - started
    rss_end = rss_mb()

    stats = booth.stats()
    assert booth.loop_alive, "the main loop died"
    assert accepted + ignored == PRESSES
    assert stats["failures"] == 0
    assert stats["cycles"] == accepted
    # Every impatient second press was ignored, and nothing else was counted as one.
    assert impatient == accepted // 10 and stats["ignored_presses"] == ignored + impatient
    # Every completed cycle has a complete photo, in the index and on disk.
    assert booth.store.count() == stats["cycles"]
    photos_in_store = booth.store.list(limit=10_000)
    for photo in photos_in_store:
        for kind in KINDS:
            assert booth.store.file_path(photo.id, kind).stat().st_size > 0
    assert load_image(booth.store.file_path(photos_in_store[0].id, "anime")).shape == (64, 48, 3)

    booth.stop()
    button.close()
    booth.camera.close()
    booth.store.close()
    factory.reset()
    reopened = PhotoStore(settings.data_dir / "photos", settings.storage)
    assert reopened.repaired == {"temp_files": 0, "orphan_folders": 0, "orphan_rows": 0}
    assert reopened.count() == stats["cycles"]
    reopened.close()

    time.sleep(0.2)
    assert threading.active_count() <= threads_before, [t.name for t in threading.enumerate()]
    assert open_fds() <= fds_before + 2
    assert rss_end - rss_after_warmup < 50, f"RSS grew {rss_end - rss_after_warmup:.1f} MB"
    print(f"soak: {PRESSES} presses, {accepted} cycles, {stats['ignored_presses']} ignored, "
          f"{elapsed:.1f} s, RSS {rss_after_warmup:.0f} -> {rss_end:.0f} MB")
