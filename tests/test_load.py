"""Fifty phones browse the gallery for 30 s while the booth keeps taking photos.

The real booth (folder camera, real pipeline with the OpenVINO generator, real store,
waitress) serves ``tests/loadclient.py``'s 50 simulated phones, which run in their
own process on 127.0.0.1. Meanwhile guests press the button as soon as the booth
takes a press, with a one-second countdown (the default is three: this is a busier
booth than any real queue). The camera folder holds one photo, so every cycle does
the same work and the medians compare like with like. The targets: no
errors, p99 under 500 ms, and the cycle's median press-to-result grows < 20%.

What makes the last one hold on two shared cores: while a photo is being made the
web server holds new requests (``[web] yield_to_photo_ms``) and serves them while
the result shows. Without that, measured here: +25% and +31% (p99 44 ms); with it:
-5% to +2% (p99 110-130 ms). The figures are printed (run with ``-s``)::

    .venv/bin/pytest -s -m slow tests/test_load.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from booth.vision.images import load_image
from webbooth import LiveBooth

pytestmark = pytest.mark.slow

CLIENTS = 50
SECONDS = 30.0
BASELINE_CYCLES = 6
#: How much slower a cycle may be while the phones browse (the guest at the booth
#: comes first).
MAX_GROWTH = 0.20


def take_photos(booth, *, count: int | None = None, until: float | None = None) -> int:
    """Press the button as soon as the booth takes it, ``count`` times or until ``until``."""
    done = 0
    while (count is None or done < count) and (until is None or time.monotonic() < until):
        with booth.events.subscribe() as sub:
            if not booth.trigger("bench"):
                time.sleep(0.05)
                continue
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                event = sub.get(timeout=1.0)
                if event and event.kind == "state" and event.data["state"] in ("result", "failsafe"):
                    assert event.data["state"] == "result", event.data
                    break
            done += 1
    return done


@pytest.fixture(scope="module")
def live(tmp_path_factory, face_photo):
    tmp = tmp_path_factory.mktemp("load")
    camera = tmp / "camera"
    camera.mkdir()
    # One photo, every cycle the same work: the portrait as a 380 px close-up (the
    # generator's size, so no full-resolution step; the gallery's pages stay light).
    picture = cv2.resize(load_image(face_photo), (380, 380), interpolation=cv2.INTER_AREA)
    assert cv2.imwrite(str(camera / face_photo.name), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    booth = LiveBooth(tmp, camera, cycle={"countdown_s": 1, "show_result_s": 1.0})
    for _ in range(30):  # a gallery of two pages for the phones to browse
        booth.store.save(picture, picture, {"size": 384, "faces": 1})
    yield booth
    booth.close()


def test_fifty_phones_for_thirty_seconds_while_photos_are_taken(live):
    booth = live.booth
    take_photos(booth, count=1)  # warm caches (first cycle at each size)
    take_photos(booth, count=BASELINE_CYCLES)
    before_load = list(booth.press_to_result_ms)[-BASELINE_CYCLES:]
    first_under_load = len(booth.press_to_result_ms)

    # The phones are not on the Pi: their simulation runs at the lowest CPU priority, so
    # it only takes CPU the booth leaves idle (on the event Wi-Fi the phones take none).
    client = subprocess.Popen(["nice", "-n", "19", sys.executable,
                               str(Path(__file__).with_name("loadclient.py")), live.url,
                               "--clients", str(CLIENTS), "--seconds", str(SECONDS)],
                              stdout=subprocess.PIPE, text=True)
    try:
        cycles = take_photos(booth, until=time.monotonic() + SECONDS)
        output, _ = client.communicate(timeout=SECONDS + 60)
    finally:
        if client.poll() is None:
            client.kill()
    during = list(booth.press_to_result_ms)[first_under_load:]
    # The quiet baseline is taken before *and* after the load, so a slow drift of the
    # machine (other work on a shared CI box) does not pass for the load's effect.
    take_photos(booth, count=BASELINE_CYCLES)
    baseline = before_load + list(booth.press_to_result_ms)[-BASELINE_CYCLES:]
    load = json.loads(output)
    median_before, median_during = statistics.median(baseline), statistics.median(during)
    growth = median_during / median_before - 1
    print(f"\nload: {load}")
    print(f"press-to-result median: {median_before:.0f} ms without load ({len(baseline)} cycles, "
          f"before and after), {median_during:.0f} ms under load ({cycles} cycles): {growth:+.1%}")

    assert load["errors"] == 0, load["error_examples"]
    assert load["requests"] > CLIENTS * 10  # every phone kept browsing
    assert set(load["statuses"]) <= {"200", "304"}
    assert load["p99_ms"] < 500
    assert cycles >= 5 and booth.failures == 0
    assert growth < MAX_GROWTH
