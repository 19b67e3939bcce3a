"""The booth daemon: the guest's cycle as an explicit state machine.

One cycle, every state with a time limit, every transition published on the event
bus (the kiosk and the gallery follow it through server-sent events)::

    idle ──press──▶ countdown ──▶ capture ──▶ process ──▶ result ──(show_result_s)──▶ idle
                      │ hold        │ camera      │ model / disk / timeout
                      ▼ to cancel   ▼ fails       ▼ fails
                     idle        failsafe ──(failsafe_s)──▶ idle

* A press while a cycle runs (countdown, capture, process, failsafe) is ignored and
  counted; a press while a result is shown starts the next cycle. A press the booth
  cannot honour (model still loading or missing, camera down, disk full) starts no
  countdown: it is refused with its reason (:meth:`Booth.not_ready`), which the kiosk
  turns into a short, polite toast.
* A cycle given up on (timeout, shutdown) never publishes its late photo.
* Any exception, a camera that hangs, a model call slower than
  ``[cycle] process_timeout_s``, a full disk: the **failsafe** state shows a friendly
  message and the booth returns to idle by itself.
* Processing (faces, generator, storing) runs on its own thread, so the main loop
  keeps pinging systemd's watchdog and the camera supervisor keeps the preview live.
  One photo at a time.
* systemd ``Type=notify``: ``READY=1`` once the model is warm and the web server
  listens, ``WATCHDOG=1`` from the main loop, ``STATUS=`` with the state. SIGTERM
  finishes the running cycle (or abandons it after a few seconds), closes the camera
  and the store, and exits well within 10 s.
* One log line per cycle with its press-to-result time and each stage's time.

``booth run`` (:mod:`booth.cli.run`) starts it; ``booth run --demo`` runs all of it on a dev
machine with the folder camera.
"""

from __future__ import annotations

import logging
import queue
import secrets
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from booth import config
from booth.daemon import sdnotify
from booth.devices.camera import CameraSupervisor
from booth.errors import CameraError
from booth.daemon.events import EventBus
from booth.vision.images import load_image
from booth.daemon.store import PhotoStore
from booth.errors import StoreFull
from booth.daemon.worker import Worker
from booth.errors import UploadRefused

log = logging.getLogger("booth")

#: The states of the cycle, in order (see the module docstring).
STATES = ("idle", "countdown", "capture", "process", "result", "failsafe")
#: The main loop wakes at least this often (watchdog pings, timers, health).
TICK_S = 0.25
#: On SIGTERM a running processing step gets this long to finish before it is
#: abandoned; with the camera's and web server's closing this keeps the exit < 10 s.
SHUTDOWN_GRACE_S = 5.0
#: Press-to-result times kept for the median on the admin page and in the log.
RECENT_CYCLES = 500
#: Press-to-result histogram buckets for /metrics (seconds, countdown excluded): the
#: target is 1.5 s on the Pi; 0.2-0.5 s on a fast PC.
LATENCY_BUCKETS_S = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class LatencyHistogram:
    """Press-to-result times counted since the booth started, in cumulative buckets.

    Prometheus histograms are counters: they only ever go up, so a scraper's
    ``rate()`` works over a ten-hour event (a window of recent cycles would stop
    counting after :data:`RECENT_CYCLES`).
    """

    def __init__(self, bounds_s: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        self.bounds_s = bounds_s
        self._lock = threading.Lock()
        self._cumulative = [0] * len(bounds_s)
        self._count = 0
        self._sum_s = 0.0

    def observe(self, seconds: float) -> None:
        with self._lock:
            for i, bound in enumerate(self.bounds_s):
                if seconds <= bound:
                    self._cumulative[i] += 1
            self._count += 1
            self._sum_s += seconds

    def snapshot(self) -> dict:
        """``{"buckets": [[bound_s, count ≤ bound], ...], "count": n, "sum_s": total}``."""
        with self._lock:
            return {"buckets": [[b, c] for b, c in zip(self.bounds_s, self._cumulative)],
                    "count": self._count, "sum_s": self._sum_s}

#: The model message while ``booth run`` loads the model (the kiosk says "warming up").
MODEL_LOADING = "model loading"

#: What guests read on the failsafe screen; the log line has the details.
MESSAGES = {
    "camera": "The camera is not working right now. Please try again in a moment.",
    "model": "The anime machine is not ready. Please ask the host.",
    "disk": "The booth's memory is full. Please ask the host.",
    "timeout": "That took too long. Please try again!",
    "error": "Something went wrong. Please try again!",
}


class CycleFailed(Exception):
    """Ends a cycle in the failsafe state; ``reason`` picks the guest's message."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def load_pipeline(settings: config.Settings) -> tuple[Any | None, str]:
    """The warmed-up pipeline and a status line; (None, why) if the model cannot load."""
    started = time.perf_counter()
    try:
        from booth.vision.pipeline import Pipeline

        pipeline = Pipeline.from_settings(settings)
    except Exception as exc:  # missing weights, broken IR, ...: run, and say so
        message = f"model not loaded: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        log.error("pipeline: %s (run `booth weights fetch` and `booth weights build`)", message)
        return None, message
    generator = pipeline.generator
    return pipeline, (f"model warm ({generator.precision}, {time.perf_counter() - started:.1f} s)"
                      + (f"; {generator.fallback}" if generator.fallback
                         else f"; precision {generator.precision_why}"))


class Booth:
    """The booth: camera, button, pipeline, store and events around one cycle.

    Made by :func:`run` for `booth run`, or directly in tests with injected parts::

        booth = Booth(settings, camera=supervisor, pipeline=pipeline)
        booth.start()              # the main loop on its own thread
        booth.trigger("test")      # like a guest pressing the button
        booth.stop()

    The web app reads ``settings``, ``store``, ``events`` and ``between_photos``, and
    calls ``trigger``, ``health``, ``stats``, ``preview_jpeg`` and ``submit_upload``.
    """

    def __init__(self, settings: config.Settings, *, camera: CameraSupervisor, pipeline: Any | None,
                 store: PhotoStore | None = None, events: EventBus | None = None,
                 model_message: str = "model warm") -> None:
        self.settings = settings
        self.camera = camera
        self.pipeline = pipeline
        self.model_message = model_message
        self.store = store or PhotoStore(settings.data_dir / "photos", settings.storage)
        self.events = events or EventBus()
        self.button = None  # a booth.devices.button.BoothButton, attached by attach_button()
        self.state = "idle"
        self._cond = threading.Condition()
        self._pending: str | None = None  # the source of an accepted press, until the loop takes it
        self._cycle_running = False  # set under the lock when the loop takes a press
        self._cancel = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker = Worker("booth-process")
        self._until = 0.0  # monotonic time the result / failsafe screen ends
        self._uploads: queue.Queue = queue.Queue()
        self._tickets: dict[str, dict] = {}
        self._last_watchdog = 0.0
        self._watchdog_s = sdnotify.watchdog_interval()
        self._last_health_key: tuple | None = None
        self._last_health_check = 0.0
        self._last_prune = time.monotonic()
        # Counters for stats() / metrics.
        self.cycles = 0
        self.failures = 0
        self.ignored_presses = 0
        self.uploads = 0
        self.press_to_result_ms: deque[float] = deque(maxlen=RECENT_CYCLES)
        self.press_to_result_histogram = LatencyHistogram()
        #: Per cycle: the generator's own time, and everything else (capture, faces,
        #: framing, encode, store, publish) = press-to-result minus the generator.
        self.generator_ms: deque[float] = deque(maxlen=RECENT_CYCLES)
        self.beyond_generator_ms: deque[float] = deque(maxlen=RECENT_CYCLES)
        self.last_cycle: dict | None = None
        #: Set except while a photo is being made (capture to result). The web server
        #: holds new requests until it is set again (at most ``web.yield_to_photo_ms``)
        #: and the camera pauses the preview nobody looks at then, so the generator —
        #: built to use every core — is not slowed by a crowd browsing the gallery.
        self.between_photos = threading.Event()
        self.between_photos.set()
        #: The print queue (None unless ``[print] enabled``); started with the main loop.
        self.prints = None
        if settings.print.enabled:
            from booth.devices.printing import PrintService

            self.prints = PrintService(settings, self.store, self.events,
                                       between_photos=self.between_photos)
        #: Set while a photo (the guest's or an upload) is on the worker thread.
        self.processing = threading.Event()
        #: The live anime mirror (a booth.vision.mirror.Mirror), once start_mirror() ran.
        self.mirror = None
        self._capture_due: float | None = None  # monotonic time the countdown ends
        #: The style the next press uses (the guest's choice at the kiosk).
        self.style = settings.styles.default

    # --- the web app's and the button's API -----------------------------------------
    def trigger(self, source: str = "http") -> bool:
        """Start a cycle; False (and counted) while one is running or the booth cannot
        take a photo (model warming up or missing, camera down). While the result
        screen offers Print (``[print] mode = "ask"``), the press prints instead."""
        if self.state == "result" and self.prints is not None and self.prints.accept_offer():
            return True
        not_ready = self.not_ready()
        with self._cond:
            # A press during an upload's processing (screen idle) waits for it: accepted.
            busy = (self._pending is not None or self._cycle_running
                    or self.state not in ("idle", "result") or self._stopping.is_set())
            refused = busy or not_ready is not None
            if refused:
                self.ignored_presses += 1
                count = self.ignored_presses
            else:
                self._pending = source
                self._cond.notify_all()
        if refused:
            # The kiosk says why in a short toast; no countdown for a photo that cannot be made.
            self.events.publish("press_ignored", count=count, reason="busy" if busy else not_ready)
            return False
        return True

    def not_ready(self) -> str | None:
        """Why a press cannot make a photo now: "warming" (the model is loading), "model"
        (it failed to load), "camera" (it failed and is not back yet), "disk" (full);
        None when ready."""
        if self.pipeline is None:
            return "warming" if self.model_message == MODEL_LOADING else "model"
        # A camera that has never been opened yet is tried at capture; one that failed
        # stays "down" until the supervisor has it open again.
        if not self.camera.ok and self.camera.failures:
            return "camera"
        if not self.store.has_room():
            return "disk"
        return None

    def cancel(self) -> bool:
        """Cancel a running countdown (the button held down); True if there was one."""
        if self.state == "countdown":
            self._cancel.set()
            return True
        return False

    def health(self) -> dict:
        camera = self.camera.status()
        model = {"ok": self.pipeline is not None, "message": self.model_message,
                 "loading": self.pipeline is None and self.model_message == MODEL_LOADING}
        generator = getattr(self.pipeline, "generator", None)
        if generator is not None:  # which precision runs, and why (config or measured "auto")
            model |= {"precision": generator.precision,
                      "precision_why": getattr(generator, "precision_why", "")}
        gpio = (self.button.status() if self.button is not None
                else {"ok": True, "real": False, "message": "no button set up"})
        free = self.store.free_mb()
        floor = self.settings.storage.min_free_mb
        disk_ok = free >= floor
        disk = {"ok": disk_ok, "free_mb": round(free, 1),
                "message": f"{free / 1024:.1f} GB free" if disk_ok
                else f"disk almost full: {free / 1024:.2f} GB free, new photos need {floor / 1024:.2f} GB"}
        health = {"ok": camera["ok"] and model["ok"] and disk["ok"] and gpio["ok"],
                  "camera": camera, "model": model, "gpio": gpio, "disk": disk,
                  # The kiosk invites presses by the same rule trigger() refuses them.
                  "not_ready": self.not_ready(),
                  "state": self.state, "last_cycle": self.last_cycle}
        if self.prints is not None:  # a printer problem never stops the photos: not in "ok"
            health["printer"] = self.prints.health()
        return health

    def stats(self) -> dict:
        stats = {"cycles": self.cycles, "failures": self.failures,
                 "ignored_presses": self.ignored_presses, "photos": self.store.count(),
                 "press_to_result_ms": list(self.press_to_result_ms),
                 "press_to_result_histogram": self.press_to_result_histogram.snapshot(),
                 "uploads": self.uploads}
        if self.prints is not None:
            stats["prints"] = self.prints.counters()
        return stats

    def preview_jpeg(self) -> bytes | None:
        """The latest live preview frame as JPEG: the anime mirror's while it keeps up,
        else the camera's (None while there is no camera)."""
        anime = self.mirror.jpeg() if self.mirror is not None else None
        return anime or self.camera.preview_jpeg()

    def mirror_may_run(self) -> bool:
        """The mirror runs only while the kiosk shows the preview and no photo is being
        made or processed: the guest's photo gets the CPU."""
        if self._capture_due is not None and self.mirror is not None:
            # No frame may still run when the still is taken: stop a little more than
            # one frame's time before the countdown ends.
            margin_s = 1.5 * self.mirror.ms_per_frame / 1000 + 0.05
            if time.monotonic() >= self._capture_due - margin_s:
                return False
        return (self.between_photos.is_set() and not self.processing.is_set()
                and self.state in ("idle", "countdown") and not self._stopping.is_set())

    def start_mirror(self, network_factory=None):
        """Start the live anime mirror ([preview] anime); returns it (None when off)."""
        from booth.vision import mirror

        if not self.settings.preview.anime:
            return None
        factory = network_factory or (lambda: mirror.mirror_network(self.settings))
        self.camera.preview_fps = max(self.camera.preview_fps, self.settings.preview.max_fps)
        width, height = self.settings.camera.preview_size
        self.mirror = mirror.Mirror(self.settings.preview, frames=self.camera.next_preview_frame,
                                    may_run=self.mirror_may_run, network_factory=factory,
                                    aspect=width / height if width and height else 4 / 3,
                                    on_mode=lambda mode: self.events.publish(
                                        "preview", mode=mode, max_fps=self.settings.preview.max_fps))
        return self.mirror.start()

    def submit_upload(self, rgb: np.ndarray, client: str) -> str:
        """Queue a guest's uploaded photo for stylizing; returns a ticket id.

        Uploads are processed between cycles (one photo at a time); when done, a
        ``photo`` event carries ``ticket`` and ``photo_id``; :meth:`upload_status`
        answers polls. Raises :class:`UploadRefused` when the client has
        ``[upload] queue_max`` photos waiting or the disk is full.
        """
        with self._cond:
            waiting = sum(1 for t in self._tickets.values()
                          if t["client"] == client and t["state"] == "queued")
            if waiting >= self.settings.upload.queue_max:
                raise UploadRefused(f"you already have {waiting} photos waiting; please wait for them")
            if not self.store.has_room():
                raise UploadRefused(MESSAGES["disk"])
            ticket = secrets.token_urlsafe(16)
            self._tickets[ticket] = {"client": client, "state": "queued", "photo_id": None,
                                     "message": ""}
            while len(self._tickets) > 1000:  # forget the oldest finished tickets
                self._tickets.pop(next(iter(self._tickets)))
            self._uploads.put((ticket, rgb))
            self._cond.notify_all()
        return ticket

    def submit_restyle(self, photo_id: str, style: str, client: str) -> str:
        """Queue a stored photo's re-rendering in another style; returns a ticket id.

        It waits in the uploads' queue (presses at the booth go first) and counts
        against the client's ``[upload] queue_max``; when done, the variant is in the
        store (:meth:`PhotoStore.variants`) and the ticket says ``done``. Raises
        ValueError for an unknown photo or a style that is not available, and
        :class:`UploadRefused` when the client has too much waiting or the disk is full.
        """
        photo = self.store.get(photo_id)
        if photo is None:
            raise ValueError("there is no photo with this link")
        if style not in self.styles_available():
            raise ValueError(f"style {style!r} is not available")
        if style == photo.meta.get("style", self.settings.styles.default):
            raise ValueError("the photo is already in this style")
        with self._cond:
            waiting = sum(1 for t in self._tickets.values()
                          if t["client"] == client and t["state"] == "queued")
            if waiting >= self.settings.upload.queue_max:
                raise UploadRefused(f"you already have {waiting} pictures waiting; please wait for them")
            if not self.store.has_room():
                raise UploadRefused(MESSAGES["disk"])
            ticket = secrets.token_urlsafe(16)
            self._tickets[ticket] = {"client": client, "state": "queued", "photo_id": photo_id,
                                     "message": "", "style": style}
            while len(self._tickets) > 1000:
                self._tickets.pop(next(iter(self._tickets)))
            self._uploads.put((ticket, Restyle(photo_id, style)))
            self._cond.notify_all()
        return ticket

    def restyle_status(self, ticket: str) -> dict | None:
        """{"state": "queued"|"running"|"done"|"failed", "photo_id", "style", "ahead",
        "message"} of a re-rendering ticket (``ahead``: pictures queued before it), or None."""
        with self._cond:
            entry = self._tickets.get(ticket)
            if entry is None or "style" not in entry:
                return None
            ahead = 0
            for other_ticket, other in self._tickets.items():
                if other_ticket == ticket:
                    break
                ahead += other["state"] == "queued"
            return {"state": entry["state"], "photo_id": entry["photo_id"], "style": entry["style"],
                    "ahead": ahead if entry["state"] == "queued" else 0, "message": entry["message"]}

    def upload_status(self, ticket: str) -> dict | None:
        """{"state": "queued"|"done"|"failed", "photo_id", "message"} of a ticket, or None."""
        with self._cond:
            entry = self._tickets.get(ticket)
            return None if entry is None else {k: entry[k] for k in ("state", "photo_id", "message")}

    def styles_available(self) -> list[str]:
        """The styles a guest can choose now (just the default until the model is loaded)."""
        styles = getattr(self.pipeline, "styles", None)
        return list(styles.available) if styles is not None else [self.settings.styles.default]

    def style_choice(self) -> dict:
        """{"current", "styles": [{"name", "label", "role"}]} for the kiosk."""
        styles = getattr(self.pipeline, "styles", None)

        def describe(name: str) -> dict:
            if styles is None:
                return {"name": name, "label": name, "role": "scene"}
            return {"name": name, "label": styles.label(name), "role": styles.role(name)}

        return {"current": self.style, "styles": [describe(n) for n in self.styles_available()]}

    def choose_style(self, name: str | None = None, step: int = 0) -> str | None:
        """Set the next press's style (``name``, or ``step`` places along the list);
        only between photos (idle or result screen). Returns the style, None if refused."""
        available = self.styles_available()
        with self._cond:
            if self.state not in ("idle", "result") or self._pending is not None or self._cycle_running:
                return None
            if name is None:
                index = available.index(self.style) if self.style in available else 0
                name = available[(index + step) % len(available)]
            if name not in available:
                raise ValueError(f"style {name!r} is not available (available: {', '.join(available)})")
            self.style = name
        self.events.publish("style", **self.style_choice())
        log.info("style chosen: %s", name)
        self._warm_style(name)
        return name

    def _warm_style(self, name: str) -> None:
        """Compile a chosen style now, while the guest poses: a cold style takes seconds
        (5-25 s measured on two busy x86 cores) that would otherwise fall into the photo."""
        styles = getattr(self.pipeline, "styles", None)
        if styles is None or name in styles.loaded():
            return

        def warm() -> None:
            try:
                styles.generator(name)
            except Exception as exc:  # the press will report it; the kiosk must not fail here
                log.warning("style %s could not be loaded: %s", name, exc)

        threading.Thread(target=warm, name=f"warm-{name}", daemon=True).start()

    def next_style(self) -> str | None:
        """The style button / a long press: the next available style."""
        return self.choose_style(step=1)

    def attach_button(self, button) -> None:
        self.button = button
        self._led_for(self.state)

    # --- the main loop -------------------------------------------------------------
    def start(self) -> "Booth":
        """Run the main loop on its own thread (tests; `booth run` calls run_forever)."""
        self._thread = threading.Thread(target=self.run_forever, name="booth-main", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = SHUTDOWN_GRACE_S + 3) -> None:
        """Ask the loop to end (finishing or abandoning the cycle) and wait for it."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def loop_alive(self) -> bool:
        """False once a started main loop has ended (it only ends on stop())."""
        return self._thread is None or self._thread.is_alive()

    def run_forever(self) -> None:
        """The main loop: wait for a press, run the cycle, keep the timers; until stop()."""
        if self.prints is not None:
            self.prints.start()
        self._enter("idle")
        while not self._stopping.is_set():
            self._tick()
            with self._cond:
                if self._pending is None and self._uploads.empty():
                    self._cond.wait(TICK_S)
                source, self._pending = self._pending, None
                # Uploads run whenever no press waits: also while a result or the error
                # screen is shown (the CPU is free then), so a busy button never starves
                # the phones (and the loop never spins on a waiting upload).
                upload = self._uploads.get() if (source is None
                                                 and not self._uploads.empty()) else None
                # Taken under the lock, so no second press slips in before the first state.
                self._cycle_running = source is not None
            try:
                if self._stopping.is_set():
                    break
                if source is not None:
                    self._run_cycle(source)
                elif upload is not None:
                    ticket, job = upload
                    (self._run_restyle if isinstance(job, Restyle) else self._run_upload)(ticket, job)
                if self.state in ("result", "failsafe") and time.monotonic() >= self._until:
                    self._enter("idle")  # on time, even while uploads keep coming
            finally:
                self._cycle_running = False
        self._worker.stop(0.5)
        if self.prints is not None:
            self.prints.stop()
        if self.mirror is not None:
            self.mirror.stop()
        self._set_led("off")

    def _tick(self) -> None:
        """Watchdog ping, health changes, retention: every loop turn and during waits."""
        now = time.monotonic()
        if self._watchdog_s and now - self._last_watchdog >= self._watchdog_s:
            sdnotify.notify("WATCHDOG=1")
            self._last_watchdog = now
        if now - self._last_health_check >= 1.0:
            self._last_health_check = now
            self._publish_health_if_changed()
        if self.settings.storage.retention_days and now - self._last_prune > 3600:
            self._last_prune = now
            self.store.prune()

    def _publish_health_if_changed(self) -> dict:
        health = self.health()
        # The components only: the state has its own events.
        key = tuple((k, health[k]["ok"], health[k]["message"]) for k in ("camera", "model", "gpio", "disk"))
        key += (health["not_ready"],)
        if key != self._last_health_key:
            self._last_health_key = key
            self.events.publish("health", **health)
        return health

    def _wait(self, seconds: float, *, cancel: bool = False) -> bool:
        """Sleep while ticking; False if stopping (or, with ``cancel``, cancelled)."""
        end = time.monotonic() + seconds
        while True:
            if self._stopping.is_set() or (cancel and self._cancel.is_set()):
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            self._tick()
            self._stopping.wait(min(left, TICK_S, 0.05 if cancel else TICK_S))

    def _enter(self, state: str, **data) -> None:
        """Change state: publish it, tell systemd, set the LED."""
        self.state = state
        self._led_for(state)
        self.events.publish("state", state=state, **data)
        detail = data.get("seconds_left") or data.get("photo_id") or data.get("message") or ""
        sdnotify.notify(f"STATUS={state}{': ' if detail else ''}{detail}")
        log.debug("state=%s %s", state, data or "")

    def _led_for(self, state: str) -> None:
        # Breathing: press me. Solid: look at the camera. Blinking: working on it.
        self._set_led({"idle": "breathe", "countdown": "on", "capture": "on", "process": "blink",
                       "result": "breathe"}.get(state, "off"))

    def _set_led(self, mode: str) -> None:
        if self.button is not None:
            try:
                self.button.set_led(mode)
            except Exception as exc:  # an LED is never worth a failed cycle
                log.warning("led: %s", exc)

    # --- one cycle -----------------------------------------------------------------
    def _run_cycle(self, source: str) -> None:
        pressed = time.monotonic()
        self._cancel.clear()
        timings: dict[str, float] = {}
        try:
            self._check_ready()
            self._capture_due = time.monotonic() + self.settings.cycle.countdown_s
            for seconds_left in range(self.settings.cycle.countdown_s, 0, -1):
                self._enter("countdown", seconds_left=seconds_left)
                if not self._wait(1.0, cancel=True):
                    self._enter("idle")
                    if self._cancel.is_set():
                        log.info("cycle cancelled during the countdown (%s)", source)
                    return
            smile = time.monotonic()  # press-to-result counts from here (countdown excluded)
            self._making_photo(True)
            self._enter("capture")
            frame = self._capture()
            timings["capture"] = (time.monotonic() - smile) * 1e3
            self._enter("process")
            photo, result, stage_ms = self._process(frame, "booth", self.style)
            timings.update(stage_ms)
            published = time.monotonic()
            self._show_result(photo.id, "booth")
            timings["publish"] = (time.monotonic() - published) * 1e3
            self._cycle_done(source, photo, timings, smile, result)
        except CycleFailed as exc:
            self._cycle_failed(source, exc.reason, str(exc), pressed)
        except Exception as exc:  # anything else: the guest still gets a friendly screen
            log.exception("cycle: unexpected error")
            self._cycle_failed(source, "error", f"{type(exc).__name__}: {exc}", pressed)
        finally:
            self._capture_due = None
            self._making_photo(False)

    def _making_photo(self, making: bool) -> None:
        """Mark the stretch from capture to result (see :attr:`between_photos`)."""
        self.camera.preview_enabled = not making
        if making:
            self.between_photos.clear()
        else:
            self.between_photos.set()

    def _check_ready(self) -> None:
        if self.pipeline is None:
            raise CycleFailed("model", self.model_message)
        if not self.store.has_room():
            raise CycleFailed("disk", f"disk below the floor ({self.store.free_mb():.0f} MB free)")

    def _capture(self) -> np.ndarray:
        try:
            return self.camera.capture()
        except CameraError as exc:
            raise CycleFailed("camera", str(exc)) from None

    def _process(self, frame: np.ndarray, source: str, style: str | None = None,
                 variant_of: str | None = None):
        """Run the pipeline and store the photo (or a variant of ``variant_of``) on the
        worker thread, with a deadline.

        A job given up on (timeout, shutdown) never publishes its photo: the guest was
        told it failed, so a late result is discarded, never saved to the gallery.
        """
        self.processing.set()
        try:
            return self._process_on_worker(frame, source, style, variant_of)
        finally:
            self.processing.clear()

    def _process_on_worker(self, frame: np.ndarray, source: str, style: str | None,
                           variant_of: str | None):
        job = AbandonableJob()
        future = self._worker.submit(self._process_and_store, frame, source, job, style, variant_of)
        deadline = time.monotonic() + self.settings.cycle.process_timeout_s
        grace_end = None
        while not future.done():
            now = time.monotonic()
            if self._stopping.is_set() and grace_end is None:
                grace_end = min(deadline, now + SHUTDOWN_GRACE_S)
            if now >= (grace_end or deadline):
                if not job.abandon():
                    break  # the photo was delivered in this very instant: show it
                self._worker.abandon()  # a hung model call must not hold the next guest
                why = "shutting down" if grace_end else \
                    f"processing took longer than {self.settings.cycle.process_timeout_s:g} s"
                raise CycleFailed("timeout", why)
            self._tick()
            try:
                future.result(timeout=min(TICK_S, max(0.0, (grace_end or deadline) - now)))
            except TimeoutError:
                pass
            except Exception:
                break
        try:
            return future.result()
        except StoreFull as exc:
            raise CycleFailed("disk", str(exc)) from None

    def _process_and_store(self, frame: np.ndarray, source: str, job: "AbandonableJob",
                           style: str | None = None, variant_of: str | None = None):
        started = time.perf_counter()
        # The default style goes through the pipeline's own generator.
        if style is None or style == self.settings.styles.default:
            result = self.pipeline.process(frame)
        else:
            result = self.pipeline.process(frame, style=style)
        processed = time.perf_counter()
        meta = {"size": int(result.size), "faces": len(result.faces),
                "style": style or self.settings.styles.default,
                "complexity": round(float(result.complexity), 3),
                "timings_ms": {k: round(float(v), 1) for k, v in result.timings_ms.items()},
                "frame_size": [int(frame.shape[1]), int(frame.shape[0])],
                "result_size": [int(result.stylized.shape[1]), int(result.stylized.shape[0])]}
        if job.abandoned:
            log.info("late result discarded (the cycle had already failed)")
            return None
        if variant_of is not None:
            # A variant the guest asked for from their phone: kept even if it came late.
            self.store.save_variant(variant_of, style or self.settings.styles.default, result.stylized)
            job.deliver()
            photo = self.store.get(variant_of)
        else:
            photo = self.store.save(frame, result.stylized, meta, source)
            if not job.deliver():  # given up on while the save was writing: take it back
                self.store.delete(photo.id)
                log.info("late result %s deleted (the cycle had already failed)", photo.id)
                return None
        stored = time.perf_counter()
        stage_ms = {k: float(v) for k, v in result.timings_ms.items()}
        stage_ms["pipeline"] = (processed - started) * 1e3
        stage_ms["store"] = (stored - processed) * 1e3
        return photo, result, stage_ms

    def _show_result(self, photo_id: str, source: str) -> None:
        self.events.publish("photo", photo_id=photo_id, source=source)
        self._until = time.monotonic() + self.settings.cycle.show_result_s
        self._enter("result", photo_id=photo_id, source=source,
                    until=time.time() + self.settings.cycle.show_result_s)
        if self.prints is not None:  # only the guest at the booth is offered a print
            if source == "booth":
                self.prints.photo_shown(photo_id)
            else:
                self.prints.withdraw_offer()

    def _cycle_done(self, source: str, photo, timings: dict, smile: float, result) -> None:
        press_to_result = (time.monotonic() - smile) * 1e3
        generator = float(result.timings_ms.get("generator", 0.0))
        self.cycles += 1
        self.press_to_result_ms.append(press_to_result)
        self.press_to_result_histogram.observe(press_to_result / 1000)
        if generator:
            self.generator_ms.append(generator)
            self.beyond_generator_ms.append(press_to_result - generator)
        self.last_cycle = {"photo_id": photo.id, "press_to_result_ms": round(press_to_result, 1),
                           "ok": True, "time": time.time()}
        stages = " ".join(f"{k}={v:.0f}" for k, v in timings.items())
        log.info("cycle ok photo=%s source=%s size=%s faces=%d press_to_result_ms=%.0f %s",
                 photo.id, source, photo.size, photo.faces, press_to_result, stages)

    def _cycle_failed(self, source: str, reason: str, detail: str, pressed: float) -> None:
        self.failures += 1
        self.last_cycle = {"photo_id": None, "press_to_result_ms": None, "ok": False,
                           "time": time.time(), "reason": reason}
        log.warning("cycle failed source=%s reason=%s after_ms=%.0f: %s", source, reason,
                    (time.monotonic() - pressed) * 1e3, detail)
        if self._stopping.is_set():
            return
        self._until = time.monotonic() + self.settings.cycle.failsafe_s
        self._enter("failsafe", message=MESSAGES[reason],
                    until=time.time() + self.settings.cycle.failsafe_s)

    # --- uploads (between cycles) -----------------------------------------------------
    def _run_upload(self, ticket: str, rgb: np.ndarray) -> None:
        entry = self._tickets.get(ticket, {})
        try:
            if self.pipeline is None:
                raise CycleFailed("model", self.model_message)
            photo, _, _ = self._process(rgb, "upload")
        except Exception as exc:
            reason = exc.reason if isinstance(exc, CycleFailed) else "error"
            log.warning("upload failed ticket=%s: %s", ticket[:6], exc)
            entry.update(state="failed", message=MESSAGES[reason])
            return
        self.uploads += 1
        entry.update(state="done", photo_id=photo.id)
        log.info("upload ok photo=%s", photo.id)
        if self.settings.upload.show_on_kiosk and self.state == "idle":
            self._show_result(photo.id, "upload")
        else:
            self.events.publish("photo", photo_id=photo.id, source="upload", ticket=ticket)

    def _run_restyle(self, ticket: str, job: "Restyle") -> None:
        entry = self._tickets.get(ticket, {})
        entry["state"] = "running"
        try:
            if self.pipeline is None:
                raise CycleFailed("model", self.model_message)
            original = self.store.file_path(job.photo_id, "original")
            if original is None:
                raise CycleFailed("error", "the photo was deleted")
            self._process(load_image(original), "restyle", job.style, variant_of=job.photo_id)
        except Exception as exc:
            reason = exc.reason if isinstance(exc, CycleFailed) else "error"
            log.warning("restyle failed ticket=%s: %s", ticket[:6], exc)
            entry.update(state="failed", message=MESSAGES[reason])
            return
        entry.update(state="done")
        log.info("restyle ok photo=%s style=%s", job.photo_id, job.style)
        self.events.publish("variant", photo_id=job.photo_id, style=job.style, ticket=ticket)

    # --- summary ---------------------------------------------------------------------
    def summary(self) -> str:
        """Median press-to-result and the share beyond the generator, for --cycles."""
        if not self.press_to_result_ms:
            return f"cycles=0 failures={self.failures}"
        median = statistics.median(self.press_to_result_ms)
        text = f"cycles={self.cycles} failures={self.failures} median_press_to_result_ms={median:.0f}"
        if self.generator_ms:
            gen = statistics.median(self.generator_ms)
            beyond = statistics.median(self.beyond_generator_ms)
            text += (f" median_generator_ms={gen:.0f} median_beyond_generator_ms={beyond:.0f}"
                     f" beyond_share={beyond / gen:.1%}")
        return text


class AbandonableJob:
    """Whether one processing job's photo is published, decided exactly once: either the
    worker delivers it, or the waiting cycle gives up on it first (then it is discarded).
    Neither side waits for the other (a slow disk never holds the cycle)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.abandoned = False
        self.delivered = False

    def abandon(self) -> bool:
        """Give up on the job; False if its photo was already delivered."""
        with self._lock:
            if not self.delivered:
                self.abandoned = True
            return self.abandoned

    def deliver(self) -> bool:
        """Hand the stored photo over; False if the job was given up on (discard it)."""
        with self._lock:
            if not self.abandoned:
                self.delivered = True
            return self.delivered


@dataclass(frozen=True)
class Restyle:
    """A queued re-rendering of a stored photo in another style."""

    photo_id: str
    style: str
