"""The booth's cycle: states and their order, ignored presses, cancel, uploads, the
button, health and stats; systemd notify; and `booth run` end to end with the real
model. Logic tests use ``QuickPipeline`` (a tiny real OpenCV step); the real
Pipeline/generator runs in ``test_real_pipeline_cycle_end_to_end`` and in the
`booth run` tests."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from booth import PROJECT_ROOT
from booth.daemon import sdnotify
from booth.devices.button import BoothButton
from booth.daemon.making import MESSAGES, load_pipeline
from booth.daemon.metrics import RECENT_CYCLES, LatencyHistogram
from booth.vision.images import load_image
from booth.daemon.store import KINDS, PhotoStore

from boothkit import QuickPipeline, make_booth, settings_for, wait_for_state

BOOTH = [str(Path(sys.executable).parent / "booth")]  # the installed command


@pytest.fixture
def faces(photos) -> Path:
    return photos / "faces"


@pytest.fixture
def booth_factory(tmp_path, faces):
    made = []

    def factory(pipeline=None, **cycle):
        booth = make_booth(settings_for(tmp_path, faces, **cycle), pipeline or QuickPipeline())
        made.append(booth)
        return booth

    yield factory
    for booth in made:
        booth.stop()
        booth.camera.close()
        booth.store.close()


# --- systemd notify ----------------------------------------------------------------------
def notify_socket(path_or_name: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path_or_name)
    sock.settimeout(5)
    return sock


def test_notify_sends_to_a_path_socket(tmp_path, monkeypatch):
    sock = notify_socket(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    assert sdnotify.notify("READY=1") is True
    assert sock.recv(4096) == b"READY=1"
    sock.close()


def test_notify_supports_the_abstract_namespace(monkeypatch):
    name = f"booth-test-{os.getpid()}"
    sock = notify_socket("\0" + name)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    assert sdnotify.notify("STATUS=idle") is True
    assert sock.recv(4096) == b"STATUS=idle"
    sock.close()


def test_notify_never_blocks_when_nobody_reads(tmp_path, monkeypatch):
    sock = notify_socket(str(tmp_path / "notify"))  # bound, but never read
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    started = time.monotonic()
    results = [sdnotify.notify("WATCHDOG=1") for _ in range(2000)]
    assert time.monotonic() - started < 5
    assert results[0] is True and results[-1] is False  # the queue filled: dropped, not stuck
    sock.close()


def test_notify_outside_systemd_is_a_no_op(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert sdnotify.notify("READY=1") is False


def test_a_long_start_keeps_asking_systemd_for_time_and_stops_after(tmp_path, monkeypatch):
    sock = notify_socket(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    with sdnotify.extending_start(every_s=0.05):
        asked = [sock.recv(4096), sock.recv(4096)]  # a start still going on: asked again
    assert asked == [b"EXTEND_TIMEOUT_USEC=150000"] * 2
    sock.settimeout(0.3)
    while True:  # drain what was sent before the block ended ...
        try:
            sock.recv(4096)
        except TimeoutError:
            break
    with pytest.raises(TimeoutError):  # ... then nothing more: the start is over
        sock.recv(4096)
    sock.close()


def test_a_start_over_the_limit_stops_asking(tmp_path, monkeypatch):
    """A hung start must end: after limit_s systemd's own start timeout applies again."""
    sock = notify_socket(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    with sdnotify.extending_start(every_s=0.01, limit_s=0.0):
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(4096)
    sock.close()


def test_booth_run_asks_systemd_for_time_while_it_loads_the_model(tmp_path):
    """The real `booth run` under a notify socket, as systemd starts it: more start time is
    asked for before READY=1 (a Pi 4's cold compile can outlast TimeoutStartSec)."""
    sock = notify_socket(str(tmp_path / "notify"))
    sock.settimeout(240)
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify"))
    booth = subprocess.Popen(BOOTH + ["run", "--demo", "--host", "127.0.0.1", "--port", "0",
                                      "--data-dir", str(tmp_path / "data")],
                             cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        messages = []
        while b"READY=1" not in messages:
            messages.append(sock.recv(4096))
    finally:
        booth.terminate()
        booth.wait(timeout=60)
        sock.close()
    before_ready = messages[:messages.index(b"READY=1")]
    assert any(m.startswith(b"EXTEND_TIMEOUT_USEC=") for m in before_ready), messages


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 10.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert sdnotify.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 10.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert sdnotify.watchdog_interval() is None


# --- the cycle ----------------------------------------------------------------------------
def test_a_cycle_goes_through_every_state_in_order_and_stores_a_complete_photo(booth_factory, caplog):
    caplog.set_level(logging.INFO, logger="booth")
    booth = booth_factory(countdown_s=2)
    with booth.events.subscribe() as sub:
        booth.start()
        wait_for_state(sub, "idle")
        started = time.monotonic()
        assert booth.trigger("test") is True
        seen = []
        while True:
            event = sub.get(timeout=10)
            assert event is not None
            if event.kind == "state":
                seen.append((event.data["state"], event.data.get("seconds_left")))
                if event.data["state"] == "idle":
                    break
            if event.kind == "photo":
                photo_id = event.data["photo_id"]
        assert seen == [("countdown", 2), ("countdown", 1), ("capture", None), ("process", None),
                        ("result", None), ("idle", None)]
        assert time.monotonic() - started >= 2.0  # the countdown really counted
    photo = booth.store.get(photo_id)
    assert photo is not None and photo.source == "booth"
    for kind in KINDS:
        assert load_image(booth.store.file_path(photo_id, kind)).size > 0
    result_event = booth.events.latest("state")
    assert result_event.data["state"] == "idle"
    stats = booth.stats()
    assert stats["cycles"] == 1 and stats["failures"] == 0 and stats["photos"] == 1
    assert len(stats["press_to_result_ms"]) == 1 and 0 < stats["press_to_result_ms"][0] < 2000
    histogram = stats["press_to_result_histogram"]
    assert histogram["count"] == 1
    assert histogram["sum_s"] == pytest.approx(stats["press_to_result_ms"][0] / 1000)
    lines = [r.message for r in caplog.records if r.message.startswith("cycle ok")]
    assert len(lines) == 1 and f"photo={photo_id}" in lines[0]
    for stage in ("press_to_result_ms=", "capture=", "generator=", "store=", "publish="):
        assert stage in lines[0]


def test_the_latency_histogram_counts_every_cycle_since_start_not_a_window():
    """Prometheus reads histogram buckets as counters: after more cycles than the
    booth keeps for its median they must still go up, never down."""
    histogram = LatencyHistogram(bounds_s=(0.5, 1.0, 2.0))
    seconds = [0.2, 0.7, 1.4, 3.0] * (RECENT_CYCLES // 2)  # twice the median's window
    previous = None
    for i, value in enumerate(seconds, 1):
        histogram.observe(value)
        if i % 100 == 0:
            snap = histogram.snapshot()
            counts = [c for _, c in snap["buckets"]] + [snap["count"]]
            assert counts == sorted(counts)  # cumulative: each bucket holds the ones below
            assert previous is None or all(a >= b for a, b in zip(counts, previous))
            previous = counts
    snap = histogram.snapshot()
    assert snap["buckets"] == [[0.5, 250], [1.0, 500], [2.0, 750]] and snap["count"] == 1000
    assert snap["sum_s"] == pytest.approx(5.3 * 250)


def test_presses_during_a_cycle_are_ignored_and_counted(booth_factory):
    booth = booth_factory(countdown_s=1)
    booth.start()
    with booth.events.subscribe() as sub:
        assert booth.trigger("button") is True
        wait_for_state(sub, "countdown")
        assert booth.trigger("button") is False
        assert booth.trigger("http") is False
        ignored = [e for e in iter(lambda: sub.get(timeout=0.2), None) if e.kind == "press_ignored"]
        assert [e.data["count"] for e in ignored] == [1, 2]
        wait_for_state(sub, "result")
    assert booth.stats()["ignored_presses"] == 2
    assert booth.stats()["cycles"] == 1


def test_a_press_while_the_result_is_shown_starts_the_next_cycle(booth_factory):
    booth = booth_factory(show_result_s=30)
    booth.start()
    with booth.events.subscribe() as sub:
        booth.trigger()
        first = wait_for_state(sub, "result").data["photo_id"]
        assert booth.trigger() is True
        second = wait_for_state(sub, "result").data["photo_id"]
    assert first != second and booth.store.count() == 2


class WatchingPipeline(QuickPipeline):
    """Notes what the rest of the booth is told while the photo is being made."""

    def __init__(self, *, fails: bool) -> None:
        super().__init__()
        self.fails = fails
        self.booth = None  # set once the booth exists
        self.seen: list[tuple[bool, bool]] = []

    def process(self, rgb, **kwargs):
        self.seen.append((self.booth.between_photos.is_set(), self.booth.camera.preview_enabled))
        if self.fails:
            raise RuntimeError("the generator fell over")
        return super().process(rgb, **kwargs)


@pytest.mark.parametrize("fails", [False, True])
def test_the_web_and_the_preview_step_aside_only_while_a_photo_is_made(booth_factory, fails):
    pipeline = WatchingPipeline(fails=fails)
    booth = pipeline.booth = booth_factory(pipeline, countdown_s=1, failsafe_s=0.2)
    booth.start()
    with booth.events.subscribe() as sub:
        booth.trigger()
        wait_for_state(sub, "countdown")
        assert booth.between_photos.is_set() and booth.camera.preview_enabled  # guests watch
        wait_for_state(sub, "failsafe" if fails else "result")
    assert pipeline.seen == [(False, False)]  # the generator had the machine to itself
    assert booth.between_photos.is_set() and booth.camera.preview_enabled  # and gave it back


def test_holding_the_button_cancels_the_countdown(booth_factory):
    booth = booth_factory(countdown_s=5)
    booth.start()
    with booth.events.subscribe() as sub:
        booth.trigger()
        wait_for_state(sub, "countdown")
        assert booth.cancel() is True
        assert wait_for_state(sub, "idle", "capture", timeout=3).data["state"] == "idle"
    assert booth.store.count() == 0 and booth.stats()["failures"] == 0
    assert booth.cancel() is False  # nothing to cancel while idle


def test_without_a_model_a_press_is_refused_with_a_reason_and_no_countdown(booth_factory):
    booth = booth_factory(failsafe_s=0.3)
    booth.pipeline, booth.model_message = None, "model not loaded: generator_int8.xml missing"
    booth.start()
    with booth.events.subscribe() as sub:
        assert booth.trigger() is False
        event = sub.get(timeout=5)
        while event is not None and event.kind != "press_ignored":
            event = sub.get(timeout=5)
        assert event is not None and event.data["reason"] == "model"
        time.sleep(0.5)
        while (event := sub.get(timeout=0.1)) is not None:
            assert event.kind != "state" or event.data["state"] == "idle", event.data
    health = booth.health()
    assert health["ok"] is False and health["model"] == {
        "ok": False, "loading": False, "message": "model not loaded: generator_int8.xml missing"}
    assert booth.stats()["ignored_presses"] == 1 and booth.store.count() == 0


def test_while_the_model_loads_presses_are_refused_as_warming_up(booth_factory):
    from booth.daemon.making import MODEL_LOADING

    booth = booth_factory()
    pipeline, booth.pipeline, booth.model_message = booth.pipeline, None, MODEL_LOADING
    booth.start()
    assert booth.health()["model"]["loading"] is True
    with booth.events.subscribe() as sub:
        assert booth.trigger() is False
        event = sub.get(timeout=5)
        while event is not None and event.kind != "press_ignored":
            event = sub.get(timeout=5)
        assert event.data["reason"] == "warming"
        booth.pipeline, booth.model_message = pipeline, "model warm"  # as `booth run` does
        assert booth.trigger() is True
        wait_for_state(sub, "result")
    assert booth.store.count() == 1


def test_a_press_while_the_camera_is_down_is_refused_until_it_is_back(booth_factory, tmp_path, faces):
    empty = tmp_path / "no-photos-yet"
    empty.mkdir()
    booth = booth_factory()
    booth.camera.close()
    booth.camera = make_booth(settings_for(tmp_path, empty), None).camera.start()
    deadline = time.monotonic() + 5
    while not booth.camera.failures:
        assert time.monotonic() < deadline, "the empty folder camera never failed"
        time.sleep(0.05)
    booth.start()
    with booth.events.subscribe() as sub:
        assert booth.trigger() is False
        event = sub.get(timeout=5)
        while event is not None and event.kind != "press_ignored":
            event = sub.get(timeout=5)
        assert event.data["reason"] == "camera"
        # Put in place whole (written aside, then renamed): the camera retries meanwhile, and
        # a half-written photo is a camera failure of its own, not what this test is about.
        part = empty / "guest.part"
        part.write_bytes((faces / "18f_edwin_torres.jpg").read_bytes())
        part.rename(empty / "guest.jpg")
        deadline = time.monotonic() + 5
        while not booth.camera.ok:  # the supervisor retries with its back-off
            assert time.monotonic() < deadline, "the camera did not come back"
            time.sleep(0.05)
        assert booth.trigger() is True
        wait_for_state(sub, "result")
    assert booth.store.count() == 1 and booth.stats()["ignored_presses"] == 1


class SlowPipeline(QuickPipeline):
    """The real quick step, but slower than ``process_timeout_s`` (a stuck generator)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.finished = threading.Event()

    def process(self, rgb, **kwargs):
        time.sleep(self.seconds)
        try:
            return super().process(rgb, **kwargs)
        finally:
            self.finished.set()


def test_a_cycle_that_timed_out_never_publishes_its_late_photo(booth_factory):
    pipeline = SlowPipeline(1.0)
    booth = booth_factory(pipeline, process_timeout_s=0.3, failsafe_s=0.2)
    booth.start()
    with booth.events.subscribe() as sub:
        assert booth.trigger() is True
        failsafe = wait_for_state(sub, "failsafe", "result")
        assert failsafe.data["state"] == "failsafe"
        assert failsafe.data["message"] == MESSAGES["timeout"]
        assert pipeline.finished.wait(5)  # the abandoned worker's result arrives late...
        time.sleep(0.5)  # ... and would have been saved and published by now
        kinds = []
        while (event := sub.get(timeout=0.1)) is not None:
            kinds.append((event.kind, event.data.get("state")))
    assert booth.store.count() == 0 and booth.store.list() == []  # ... but it was discarded
    assert ("photo", None) not in kinds and ("state", "result") not in kinds
    assert not [p for p in (booth.settings.data_dir / "photos").iterdir() if p.is_dir()]
    assert booth.stats()["failures"] == 1 and booth.stats()["cycles"] == 0


def test_a_photo_still_being_saved_when_the_cycle_gives_up_is_taken_back(booth_factory, monkeypatch):
    booth = booth_factory(process_timeout_s=0.3, failsafe_s=0.2)
    real_save, saved = booth.store.save, threading.Event()

    def slow_save(*args, **kwargs):  # a slow SD card: the deadline passes mid-write
        time.sleep(0.8)
        try:
            return real_save(*args, **kwargs)
        finally:
            saved.set()

    monkeypatch.setattr(booth.store, "save", slow_save)
    booth.start()
    with booth.events.subscribe() as sub:
        assert booth.trigger() is True
        assert wait_for_state(sub, "failsafe", "result").data["state"] == "failsafe"
        assert saved.wait(5)
        time.sleep(0.3)
    assert booth.store.count() == 0
    assert not [p for p in booth.store.root.iterdir() if p.is_dir()]


def test_an_abandonable_job_is_published_or_discarded_exactly_once():
    from booth.daemon.making import AbandonableJob

    late = AbandonableJob()
    assert late.abandon() is True and late.deliver() is False  # given up on first: discarded
    on_time = AbandonableJob()
    assert on_time.deliver() is True and on_time.abandon() is False  # delivered first: shown


def test_an_upload_that_timed_out_is_not_published_either(booth_factory, face_photo):
    pipeline = SlowPipeline(1.0)
    booth = booth_factory(pipeline, process_timeout_s=0.3)
    booth.start()
    ticket = booth.submit_upload(load_image(face_photo), client="10.0.0.7")
    deadline = time.monotonic() + 5
    while booth.upload_status(ticket)["state"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert booth.upload_status(ticket)["state"] == "failed"
    assert pipeline.finished.wait(5)
    time.sleep(0.5)
    assert booth.store.count() == 0


def test_health_has_the_agreed_shape_and_changes_are_published(booth_factory):
    booth = booth_factory()
    with booth.events.subscribe() as sub:
        booth.start()
        event = None
        while event is None or event.kind != "health":
            event = sub.get(timeout=5)
            assert event is not None
    health = booth.health()
    assert set(health) == {"ok", "camera", "model", "gpio", "disk", "not_ready", "state",
                           "last_cycle"}
    assert health["not_ready"] is None
    assert set(health["camera"]) == {"ok", "backend", "message"}
    assert set(health["model"]) == {"ok", "loading", "message"}
    assert set(health["gpio"]) == {"ok", "real", "message"}
    assert set(health["disk"]) == {"ok", "free_mb", "message"} and health["disk"]["free_mb"] > 0
    assert health["state"] == "idle" and health["last_cycle"] is None
    assert set(booth.stats()) == {"cycles", "failures", "ignored_presses", "photos",
                                  "press_to_result_ms", "press_to_result_histogram", "uploads"}


def test_the_gpio_button_and_led_drive_the_booth(booth_factory):
    previous = Device.pin_factory
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        booth = booth_factory(countdown_s=1, show_result_s=30)
        settings = booth.settings.replace("button", led_pin=18, bounce_time=0.0)
        button = BoothButton(settings.button, on_press=lambda: booth.trigger("button"),
                             on_hold=booth.cancel, pin_factory=factory, on_pi=False)
        booth.attach_button(button)
        booth.start()
        with booth.events.subscribe() as sub:
            factory.pin(17).drive_low()
            factory.pin(17).drive_high()
            wait_for_state(sub, "countdown")
            assert button.led_mode == "on" and factory.pin(18).state == 1
            factory.pin(17).drive_low()  # a second press during the countdown
            factory.pin(17).drive_high()
            wait_for_state(sub, "result")
        assert button.led_mode == "breathe"
        assert booth.stats()["ignored_presses"] == 1 and booth.store.count() == 1
        assert booth.health()["gpio"]["real"] is False
        button.close()
    finally:
        factory.reset()
        Device.pin_factory = previous


def test_an_upload_is_stylized_between_cycles_and_stored_as_upload(booth_factory, face_photo):
    booth = booth_factory()
    booth.start()
    with booth.events.subscribe() as sub:
        ticket = booth.submit_upload(load_image(face_photo), client="10.0.0.7")
        assert booth.upload_status(ticket)["state"] in ("queued", "done")
        event = None
        while event is None or event.kind != "photo":
            event = sub.get(timeout=10)
            assert event is not None
    assert event.data["source"] == "upload" and event.data["ticket"] == ticket
    status = booth.upload_status(ticket)
    assert status["state"] == "done" and status["photo_id"] == event.data["photo_id"]
    assert booth.store.get(status["photo_id"]).source == "upload"
    assert booth.stats()["uploads"] == 1
    assert booth.upload_status("unknown") is None


def test_a_press_while_an_upload_is_processed_is_kept_and_runs_next(booth_factory, face_photo):
    gate, inside = threading.Event(), threading.Event()

    class GatedPipeline(QuickPipeline):
        def process(self, rgb, **kwargs):
            if self.calls == 0:
                inside.set()
                gate.wait(10)
            return super().process(rgb, **kwargs)

    booth = booth_factory(pipeline=GatedPipeline())
    booth.start()
    with booth.events.subscribe() as sub:
        booth.submit_upload(load_image(face_photo), client="10.0.0.7")
        assert inside.wait(5)  # the upload is being stylized; the screen is idle
        assert booth.trigger("button") is True
        gate.set()
        result = wait_for_state(sub, "result")
    assert result.data["source"] == "booth"
    assert booth.stats()["uploads"] == 1 and booth.stats()["cycles"] == 1
    assert booth.stats()["ignored_presses"] == 0


def test_a_client_cannot_queue_more_than_queue_max_uploads(booth_factory, face_photo):
    from booth.errors import UploadRefused

    booth = booth_factory()  # not started: nothing is processed, the queue fills
    rgb = load_image(face_photo)
    for _ in range(booth.settings.upload.queue_max):
        booth.submit_upload(rgb, client="10.0.0.7")
    with pytest.raises(UploadRefused, match="waiting"):
        booth.submit_upload(rgb, client="10.0.0.7")
    booth.submit_upload(rgb, client="10.0.0.8")  # another phone is not held up


# --- the real model --------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_pipeline(tmp_path_factory, photos):
    settings = settings_for(tmp_path_factory.mktemp("model"), photos / "faces")
    pipeline, message = load_pipeline(settings)
    assert pipeline is not None, message
    return pipeline


def test_a_style_as_the_default_loads_and_says_its_precision(built_styles, tmp_path, photos):
    """``[styles] default`` may be any built style, not only the classic generator:
    ``booth run`` loads it and says which precision it runs in, and why."""
    settings = settings_for(tmp_path, photos / "faces").replace("styles", default="shinkai")
    pipeline, message = load_pipeline(settings)
    assert pipeline is not None, message
    assert message.startswith(f"model warm ({pipeline.generator.precision}, ")
    assert "; precision " in message or pipeline.generator.fallback in message


@pytest.mark.slow
def test_real_pipeline_cycle_end_to_end(booth_factory, real_pipeline, faces):
    """The real generator on real photos through the whole cycle: the stored anime image
    is at the result's size (at least the generator's, at most [storage]
    result_long_side), and the timings are recorded."""
    booth = booth_factory(pipeline=real_pipeline)
    booth.start()
    with booth.events.subscribe() as sub:
        for _ in range(2):
            booth.trigger("test")
            result = wait_for_state(sub, "result", "failsafe", timeout=60)
            assert result.data["state"] == "result", booth.last_cycle
    photos = booth.store.list()
    assert len(photos) == 2
    for photo in photos:
        anime = load_image(booth.store.file_path(photo.id, "anime"))
        assert anime.shape[:2] == tuple(photo.meta["result_size"][::-1])
        assert photo.size <= max(anime.shape[:2]) <= booth.settings.storage.result_long_side
        assert "upscale" in photo.meta["timings_ms"]
        assert photo.meta["timings_ms"]["generator"] > 0
        original = load_image(booth.store.file_path(photo.id, "original"))
        assert original.shape[:2] == tuple(photo.meta["frame_size"][::-1])
    assert booth.stats()["cycles"] == 2 and booth.stats()["failures"] == 0


# --- `booth run` ---------------------------------------------------------------------------
def run_booth(args, tmp_path, env=None, timeout=240):
    return subprocess.run(BOOTH + ["run", "--data-dir", str(tmp_path / "data"), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT,
                          env={**os.environ, **(env or {})})


def test_booth_run_demo_with_a_missing_folder_is_one_line(tmp_path):
    done = run_booth(["--demo", str(tmp_path / "nope"), "--port", "0"], tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"booth run: --demo {tmp_path / 'nope'}: not a folder of photos"]


def test_booth_run_with_a_broken_config_is_one_line(tmp_path):
    bad = tmp_path / "booth.toml"
    bad.write_text("[cycle]\ncountdown_s = 'three'\n")
    done = run_booth(["--config", str(bad), "--demo", "--port", "0"], tmp_path, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "countdown_s" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_booth_run_demo_cycles_notifies_systemd_and_prints_the_figures(tmp_path, faces):
    """`booth run --demo --cycles N`: the real model, READY=1 only after warm-up,
    WATCHDOG=1 pings, STATUS= lines, one log line per cycle, the summary at exit."""
    sock = notify_socket(str(tmp_path / "notify"))
    messages: list[str] = []

    def collect():
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except OSError:
                return

    sock.settimeout(None)  # read until the socket is closed below
    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    done = run_booth(["--demo", str(faces), "--cycles", "3", "--port", "0"], tmp_path,
                     env={"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
    sock.close()
    assert done.returncode == 0, done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("cycles=3 failures=0 median_press_to_result_ms=")
    assert "beyond_share=" in summary
    cycle_lines = [l for l in done.stderr.splitlines() if "cycle ok" in l]
    assert len(cycle_lines) == 3 and all("press_to_result_ms=" in l for l in cycle_lines)
    assert "READY=1" in messages
    ready = messages.index("READY=1")
    assert "STATUS=loading the model" in messages[:ready]
    assert any(m == "WATCHDOG=1" for m in messages[ready:])
    assert any(m.startswith("STATUS=result") for m in messages)
    assert messages[-1] == "STOPPING=1" or "STOPPING=1" in messages


def test_booth_run_with_a_bad_size_is_one_line(tmp_path):
    done = run_booth(["--demo", "--size", "500", "--port", "0"], tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ['booth run: --size 500: size must be "auto" or one of sizes']


def test_booth_run_on_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_booth(["--demo", "--host", "127.0.0.1", "--port", str(port)], tmp_path, timeout=60)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"booth run: cannot listen on 127.0.0.1:{port} (")
    assert "Traceback" not in done.stderr


def test_booth_run_with_an_unwritable_data_dir_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = subprocess.run(BOOTH + ["run", "--demo", "--port", "0", "--data-dir", str(blocker / "data")],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("booth run: cannot open the photo store in ")
    assert "Traceback" not in done.stderr


# --- the state table ------------------------------------------------------------------------
def test_the_states_keep_the_strings_the_kiosk_and_the_events_use():
    from booth.daemon.booth import Booth
    from booth.daemon.states import RULES, State

    assert [s.value for s in State] == ["idle", "consent", "countdown", "capture", "process", "result",
                                        "failsafe", "shot", "burst"]
    assert set(RULES) == set(State) == set(Booth.HANDLERS)  # one rule and one method per state


def test_every_state_ends_in_time_and_its_time_up_leads_back_to_idle():
    from booth import config
    from booth.daemon.states import RULES, State, check_transition

    settings = config.defaults()
    for state, rule in RULES.items():
        if state == State.IDLE:
            assert rule.time_limit_s is None and rule.time_up is None  # idle waits for a guest
            continue
        assert 0 < rule.time_limit_s(settings) < 120, state
        path, here = [state], state
        while here != State.IDLE:
            check_transition(here, RULES[here].time_up)  # each step is a move the table has
            here = RULES[here].time_up
            assert here not in path, f"time_up goes round in a circle: {path + [here]}"
            path.append(here)
        assert len(path) <= 5, path  # a strip's shot: the next countdown, capture, failsafe


def test_a_move_the_table_does_not_have_raises():
    from booth.daemon.states import RULES, InvalidTransition, State, check_transition

    for old in State:
        for new in State:
            if new in RULES[old].next:
                check_transition(old, new)
            else:
                with pytest.raises(InvalidTransition, match=f"from {old.value} to {new.value}"):
                    check_transition(old, new)
    with pytest.raises(InvalidTransition):
        check_transition(State.IDLE, State.PROCESS)  # no photo without a capture
    with pytest.raises(InvalidTransition):
        check_transition(State.FAILSAFE, State.COUNTDOWN)  # no press on the error screen


def test_a_running_booth_publishes_states_as_plain_strings_and_times_out_of_failsafe(booth_factory):
    import json

    class Broken(QuickPipeline):
        def process(self, rgb, **kwargs):
            raise RuntimeError("the generator fell over")

    booth = booth_factory(Broken(), failsafe_s=0.3)
    booth.start()
    with booth.events.subscribe() as sub:
        assert booth.trigger("test")
        failsafe = wait_for_state(sub, "failsafe")
        entered = time.monotonic()
        idle = wait_for_state(sub, "idle", timeout=5)
        assert time.monotonic() - entered >= 0.25  # shown for failsafe_s, then idle by itself
    for event in (failsafe, idle):
        assert type(event.data["state"]) is str
    assert json.loads(json.dumps(booth.health()))["state"] == "idle"
    assert booth.stats()["failures"] == 1 and booth.trigger("test") is True


# --- a model call that hangs ---------------------------------------------------------------
class HangingPipeline(QuickPipeline):
    """The real quick step behind a gate: a model call stuck in a driver until released."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def process(self, rgb, **kwargs):
        self.entered.set()
        self.gate.wait(60)
        return super().process(rgb, **kwargs)


def wait_until(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.05)


def test_a_hung_model_call_holds_one_thread_says_stuck_and_recovers_when_it_returns(
        booth_factory, photos):
    face_photo = photos / "faces" / "18f_edwin_torres.jpg"
    pipeline = HangingPipeline()
    booth = booth_factory(pipeline, process_timeout_s=0.3, failsafe_s=0.1)
    booth.start()
    with booth.events.subscribe() as sub:
        assert booth.trigger() is True
        assert wait_for_state(sub, "failsafe", "result").data["message"] == MESSAGES["timeout"]
        wait_for_state(sub, "idle")
        threads = threading.active_count()
        # Stuck: presses and phones' pictures start no second call (thread and frame each).
        assert booth.not_ready() == "stuck"
        health = booth.health()
        assert health["not_ready"] == "stuck" and health["model"]["ok"] is False
        assert health["model"]["message"] == "the anime machine is stuck — please ask the host"
        for _ in range(10):
            assert booth.trigger() is False
        ticket = booth.submit_upload(load_image(face_photo), client="10.0.0.7")
        time.sleep(1.0)
        assert pipeline.calls == 0 and booth.upload_status(ticket)["state"] == "queued"
        assert threading.active_count() <= threads
        ignored = [e for e in iter(lambda: sub.get(timeout=0.1), None) if e.kind == "press_ignored"]
        assert ignored and all(e.data["reason"] == "stuck" for e in ignored)
        # The call returns: the booth is ready again, the waiting upload is made.
        pipeline.gate.set()
        wait_until(lambda: booth.not_ready() is None)
        wait_until(lambda: booth.upload_status(ticket)["state"] == "done")
        assert booth.health()["model"]["ok"] is True
        wait_until(lambda: booth.trigger())
        wait_for_state(sub, "result")
    assert booth.store.count() == 2  # the upload and the last press; the stuck press's late photo was dropped


def test_a_model_call_stuck_past_the_bound_ends_the_loop_for_a_restart(booth_factory, monkeypatch):
    monkeypatch.setattr("booth.daemon.making.STUCK_RESTART_S", 0.5)
    pipeline = HangingPipeline()
    booth = booth_factory(pipeline, process_timeout_s=0.3, failsafe_s=0.1)
    booth.start()
    assert booth.trigger() is True
    wait_until(lambda: not booth.loop_alive)
    assert "has not returned" in booth.restart_reason
    pipeline.gate.set()


def test_a_photo_saved_after_shutdown_gave_up_on_it_is_never_committed(booth_factory, monkeypatch):
    """Shutdown gives up on a cycle whose photo is being saved, then closes the store:
    the late save must not leave a photo the guest was told had failed."""
    monkeypatch.setattr("booth.daemon.making.SHUTDOWN_GRACE_S", 0.2)
    booth = booth_factory(process_timeout_s=20)
    real_save = booth.store.save
    entered, given_up, saved, closed = (threading.Event() for _ in range(4))

    def save_across_the_shutdown(*args, **kwargs):
        entered.set()
        given_up.wait(10)  # the booth stops and gives up on this cycle meanwhile
        photo = real_save(*args, **kwargs)
        saved.set()
        closed.wait(10)  # ... and closes its store before this returns
        return photo

    monkeypatch.setattr(booth.store, "save", save_across_the_shutdown)
    booth.start()
    assert booth.trigger() is True
    assert entered.wait(10)
    booth.stop()
    assert not booth.loop_alive
    given_up.set()
    assert saved.wait(10)
    booth.store.close()
    closed.set()
    time.sleep(0.3)  # the abandoned worker finishes
    reopened = PhotoStore(booth.store.root, booth.settings.storage)
    try:
        assert reopened.count() == 0
        assert not [p for p in reopened.root.iterdir() if p.is_dir()]
    finally:
        reopened.close()


def test_no_upload_or_restyle_is_accepted_once_the_booth_is_stopping(booth_factory, photos):
    """The queue lives in memory: a picture accepted during shutdown would be dropped
    after its 202; refusing it tells the phone to try again after the restart."""
    from booth.errors import UploadRefused

    face = load_image(photos / "faces" / "18f_edwin_torres.jpg")
    booth = booth_factory()
    booth.start()
    photo_id = booth.store.save(face, face, {"style": "x"}).id
    booth.stop()
    with pytest.raises(UploadRefused, match="restarting"):
        booth.submit_upload(face, client="10.0.0.7")
    with pytest.raises(UploadRefused, match="restarting"):
        booth.submit_restyle(photo_id, booth.settings.styles.default, client="10.0.0.7")
