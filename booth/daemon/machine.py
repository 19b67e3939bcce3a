"""The booth daemon: the guest's cycle as an explicit state machine.

One cycle, every state with a time limit, every transition published on the event
bus (the kiosk and the gallery follow it through server-sent events)::

    idle ──press──▶ countdown ──▶ capture ──▶ process ──▶ result ──(show_result_s)──▶ idle
      │               │ hold   ▲    │ camera      │ model / disk / timeout
      │ [privacy]     ▼ cancel │    ▼ fails       ▼ fails
      │ consent=ask  idle      │  failsafe ──(failsafe_s)──▶ idle
      │                        └─ shot ◀─┘  (a strip: the next shot's countdown)
      │             countdown ──▶ burst ──▶ process     (a boomerang)
      ▼        press (yes)
    consent ─────────────▶ countdown (or burst)
      │ hold (no), or no answer within ask_timeout_s: nothing is taken
      ▼
     idle

The guest picks what a press makes (:attr:`Booth.mode`, ``[cycle] modes``): a
**photo**; a **strip** of ``[cycle] strip_shots`` shots, each with its own countdown,
each stylized on the worker while the next countdown runs (the kiosk shows each as it
lands), composed and stored as one item in ``process``; or a **boomerang**, a burst
from the camera's video stream stylized frame by frame as it comes in, played there and
back and encoded in ``process``. Whatever fails before the store's commit leaves nothing:
the shots and frames live only in the cycle.

:class:`State` names the states (their values are the strings the events, the
health JSON and the kiosk use); :data:`RULES` says where each may go (every other
move raises :class:`InvalidTransition`), how long it lasts at most and where it goes
when its time is up. Each state has one method on :class:`Booth` (:data:`Booth.HANDLERS`) that
does the state's work for one turn of the main loop and moves on when it is done.

* With ``[privacy] consent = "ask"`` a press first asks (the consent state): a
  second press is yes, holding the button (:meth:`Booth.cancel`) or no answer is no,
  and no picture is taken.
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
  One photo at a time. Between cycles (idle, result, failsafe) the main loop makes the
  pictures phones asked for (:mod:`booth.daemon.queue`); a press goes before them.
* systemd ``Type=notify``: ``READY=1`` once the model is warm and the web server
  listens, ``WATCHDOG=1`` from the main loop, ``STATUS=`` with the state. SIGTERM
  finishes the running cycle (or abandons it after a few seconds), closes the camera
  and the store, and exits well within 10 s.
* One log line per cycle with its press-to-result time and each stage's time.

``booth run`` (:mod:`booth.cli.run`) starts it; ``booth run --demo`` runs all of it on a dev
machine with the folder camera.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from booth import config
from booth.daemon import moments, sdnotify
from booth.daemon.events import EventBus
from booth.daemon.metrics import CycleCounters
from booth.daemon.queue import Restyle, UploadQueue
from booth.daemon.retention import RetentionWorker
from booth.daemon.store import PhotoStore
from booth.daemon.worker import Worker
from booth.devices.camera import CameraSupervisor
from booth.devices.printing import PrintService
from booth.errors import CameraError, StoreFull, UploadRefused
from booth.vision import boomerang, mirror, strip
from booth.vision.images import load_image, resize_long_side
from booth.vision.pipeline import Pipeline

log = logging.getLogger("booth")

#: The main loop wakes at least this often (watchdog pings, timers, health).
TICK_S = 0.25
#: On SIGTERM a running processing step gets this long to finish before it is
#: abandoned; with the camera's and web server's closing this keeps the exit < 10 s.
SHUTDOWN_GRACE_S = 5.0

#: The model message while ``booth run`` loads the model (the kiosk says "warming up").
MODEL_LOADING = "model loading"
#: The model message while a model call given up on has not returned: no new call
#: starts meanwhile (each would hold a thread and a full frame for good).
MODEL_STUCK = "the anime machine is stuck — please ask the host"
#: A model call stuck this long will not come back: the main loop ends, so that
#: ``booth run`` exits with an error and systemd (Restart=on-failure) starts it afresh.
STUCK_RESTART_S = 120.0

#: What guests read on the failsafe screen; the log line has the details.
MESSAGES = {
    "camera": "The camera is not working right now. Please try again in a moment.",
    "model": "The anime machine is not ready. Please ask the host.",
    "disk": "The booth's memory is full. Please ask the host.",
    "timeout": "That took too long. Please try again!",
    "stuck": "The anime machine is stuck. Please ask the host.",
    "error": "Something went wrong. Please try again!",
}

#: How long the kiosk shows a strip's shot as it lands before the next countdown.
SHOT_SHOWN_S = 1.0
#: A strip keeps each shot's camera frame this large (long side): enough to render the
#: shot again in another style, a fraction of a full-resolution frame's size.
SHOT_ORIGINAL_LONG_SIDE = 2048
#: What the kiosk calls each mode.
MODE_LABELS = {"photo": "Photo", "strip": "Photo strip", "boomerang": "Boomerang"}


class State(enum.StrEnum):
    """The states of the cycle; each value is the string the events and /healthz carry."""

    IDLE = "idle"
    CONSENT = "consent"
    COUNTDOWN = "countdown"
    CAPTURE = "capture"
    PROCESS = "process"
    RESULT = "result"
    FAILSAFE = "failsafe"
    SHOT = "shot"     # a strip's shot landed; the next countdown follows
    BURST = "burst"   # a boomerang's burst is being recorded


@dataclass(frozen=True)
class Rule:
    """One state's moves: where it may go, how long it lasts at most (None: idle waits
    for a guest), and where it goes when that time is up."""

    next: frozenset[State]
    time_limit_s: Callable[[config.Settings], float] | None = None
    time_up: State | None = None


#: Every state's rule; any other move is a bug (:class:`InvalidTransition`). Following
#: ``time_up`` from any state leads back to idle.
RULES: dict[State, Rule] = {
    # A press (to capture, or a boomerang's burst, when there is no countdown); a phone's
    # photo shown on the kiosk; failsafe when the booth turns out not ready at the press.
    State.IDLE: Rule(frozenset({State.CONSENT, State.COUNTDOWN, State.CAPTURE, State.BURST,
                                State.RESULT, State.FAILSAFE})),
    # The guest's answer: yes goes on (or fails safe when the booth turned out not
    # ready); no, no answer in time, or shutting down: idle, and nothing is taken.
    State.CONSENT: Rule(frozenset({State.COUNTDOWN, State.CAPTURE, State.BURST, State.IDLE,
                                   State.FAILSAFE}),
                        lambda s: s.privacy.ask_timeout_s, State.IDLE),
    # One announcement a second; cancelled (button held) or shutting down: idle.
    State.COUNTDOWN: Rule(frozenset({State.COUNTDOWN, State.CAPTURE, State.BURST, State.IDLE,
                                     State.FAILSAFE}),
                          lambda s: s.cycle.countdown_s, State.CAPTURE),
    # The camera supervisor gives up on a hung camera after this long; a strip's shot
    # that is not its last goes on to the next.
    State.CAPTURE: Rule(frozenset({State.PROCESS, State.SHOT, State.FAILSAFE}),
                        lambda s: s.camera.capture_timeout_s, State.FAILSAFE),
    # A strip's shot on screen, then the next shot's countdown (or its capture without
    # one); shutting down: idle, and the shots taken are dropped.
    State.SHOT: Rule(frozenset({State.COUNTDOWN, State.CAPTURE, State.IDLE, State.FAILSAFE}),
                     lambda s: SHOT_SHOWN_S, State.COUNTDOWN),
    # The burst lasts its own length; the supervisor gives up on a hung camera after
    # that and capture_timeout_s.
    State.BURST: Rule(frozenset({State.PROCESS, State.FAILSAFE}),
                      lambda s: boomerang.BURST_S + s.camera.capture_timeout_s, State.FAILSAFE),
    State.PROCESS: Rule(frozenset({State.RESULT, State.FAILSAFE}),
                        lambda s: s.cycle.process_timeout_s, State.FAILSAFE),
    # The next guest may press while the result is shown.
    State.RESULT: Rule(frozenset({State.IDLE, State.CONSENT, State.COUNTDOWN, State.CAPTURE, State.BURST,
                                  State.FAILSAFE}),
                       lambda s: s.cycle.show_result_s, State.IDLE),
    State.FAILSAFE: Rule(frozenset({State.IDLE}), lambda s: s.cycle.failsafe_s, State.IDLE),
}
#: The states between cycles: a press may be waiting, phones' pictures are made.
RESTING = frozenset({State.IDLE, State.RESULT, State.FAILSAFE})


class InvalidTransition(RuntimeError):
    """A move the state table (:data:`RULES`) does not have."""


def check_transition(old: State, new: State) -> None:
    """Raise :class:`InvalidTransition` unless ``old`` may go to ``new``."""
    if new not in RULES[old].next:
        raise InvalidTransition(f"the booth cannot go from {old} to {new}")


class CycleFailed(Exception):
    """Ends a cycle in the failsafe state; ``reason`` picks the guest's message."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass
class Cycle:
    """One guest's cycle, from the press taken to the result (or failsafe)."""

    source: str
    pressed: float  # monotonic
    seconds_left: int = 0
    smile: float = 0.0  # monotonic: capture starts; press-to-result counts from here
    frame: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "photo"
    style: str | None = None
    #: A strip: each shot's stylizing on the worker (Future of a :class:`booth.daemon.moments.Shot`).
    shots: list = field(default_factory=list)
    #: A boomerang: the clip stylized frame by frame as the burst comes in.
    clip: Any = None
    clip_jobs: list = field(default_factory=list)
    #: Monotonic time the last shot or the burst ended (the "ready after" figures).
    last_taken: float = 0.0


def load_pipeline(settings: config.Settings) -> tuple[Any | None, str]:
    """The warmed-up pipeline and a status line; (None, why) if the model cannot load."""
    started = time.perf_counter()
    try:
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

    Made by ``booth run`` (:mod:`booth.cli.run`), or directly in tests with injected parts::

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
        self.sync = None  # a booth.daemon.sync.SyncWorker when [sync] remote is set (booth run)
        self.state = State.IDLE
        self.counters = CycleCounters()
        #: The pictures phones asked for (uploads, re-renderings), made between cycles.
        self.queue = UploadQueue(settings.upload.queue_max, settings.upload.queue_total)
        # Guards the state, the waiting press and the running cycle together, so a
        # press sees them consistent; the main loop waits on it for work.
        self._cond = threading.Condition()
        self._pending: str | None = None  # the source of an accepted press, until the loop takes it
        self._cycle: Cycle | None = None  # from the press taken to the result or failsafe
        self._cancel = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker = Worker("booth-process")
        self._until = 0.0  # monotonic time the result / failsafe screen ends
        self._last_watchdog = 0.0
        self._watchdog_s = sdnotify.watchdog_interval()
        self._last_health_key: tuple | None = None
        self._last_health_check = 0.0
        #: Why the main loop ended by itself to be restarted (None: it did not).
        self.restart_reason: str | None = None
        #: The guest's answer while the consent state asks: "yes", "no" or None.
        self._answer: str | None = None
        self._shown: str | None = None  # the photo on the result screen
        #: Deletes photos when [privacy] keep_*_hours are up; started with the main loop.
        self.retention = RetentionWorker(self.store, settings.privacy, self.delete_photo)
        #: Set except while a photo is being made (capture to result). The web server
        #: holds new requests until it is set again (at most ``web.yield_to_photo_ms``)
        #: and the camera pauses the preview nobody looks at then, so the generator —
        #: built to use every core — is not slowed by a crowd browsing the gallery.
        self.between_photos = threading.Event()
        self.between_photos.set()
        #: The print queue (None unless ``[print] enabled``); started with the main loop.
        self.prints = None
        if settings.print.enabled:
            self.prints = PrintService(settings, self.store, self.events,
                                       between_photos=self.between_photos)
        #: Set while a photo (the guest's or an upload) is on the worker thread.
        self.processing = threading.Event()
        #: The live anime mirror (a booth.vision.mirror.Mirror), once start_mirror() ran.
        self.mirror = None
        self._capture_due: float | None = None  # monotonic time the countdown ends
        #: The style the next press uses (the guest's choice at the kiosk).
        self.style = settings.styles.default
        #: What the next press makes ([cycle] modes; the guest's choice at the kiosk).
        self.mode = settings.cycle.modes[0]
        #: A strip's shots as JPEG for the kiosk (index -> bytes), this cycle's only.
        self.shot_jpegs: dict[int, bytes] = {}
        self._shot_pipelines: dict[int, tuple[Any, strip.ShotPipeline]] = {}
        self._clip_maker: boomerang.ClipMaker | None = None
        self._clip_lock = threading.Lock()

    # --- figures the tests and `booth run` read -----------------------------------------
    @property
    def press_to_result_ms(self):
        return self.counters.press_to_result_ms

    @property
    def failures(self) -> int:
        return self.counters.failures

    @property
    def last_cycle(self) -> dict | None:
        return self.counters.last_cycle

    def summary(self) -> str:
        """Median press-to-result and the share beyond the generator, for --cycles."""
        return self.counters.summary()

    # --- the web app's and the button's API -----------------------------------------
    def trigger(self, source: str = "http") -> bool:
        """Start a cycle; False (and counted) while one is running or the booth cannot
        take a photo (model warming up or missing, camera down). While the result
        screen offers Print (``[print] mode = "ask"``), the press prints instead."""
        if self.state == State.RESULT and self.prints is not None and self.prints.accept_offer():
            return True
        if self._answer_consent("yes"):
            return True
        not_ready = self.not_ready()
        with self._cond:
            # A press during an upload's processing (screen idle) waits for it: accepted.
            busy = not self._between_cycles()
            refused = busy or not_ready is not None
            if refused:
                count = self.counters.press_ignored()
            else:
                self._pending = source
                self._cond.notify_all()
        if refused:
            # The kiosk says why in a short toast; no countdown for a photo that cannot be made.
            self.events.publish("press_ignored", count=count, reason="busy" if busy else not_ready)
            return False
        return True

    def _between_cycles(self) -> bool:
        """No press waits, no cycle runs, and the screen takes a press (idle or result)."""
        return (self._pending is None and self._cycle is None and not self._stopping.is_set()
                and self.state in (State.IDLE, State.RESULT))

    def not_ready(self) -> str | None:
        """Why a press cannot make a photo now: "warming" (the model is loading), "model"
        (it failed to load), "stuck" (a model call given up on has not returned),
        "camera" (it failed and is not back yet), "disk" (full); None when ready."""
        if self.pipeline is None:
            return "warming" if self.model_message == MODEL_LOADING else "model"
        if self._worker.stuck_s() is not None:
            return "stuck"
        # A camera that has never been opened yet is tried at capture; one that failed
        # stays "down" until the supervisor has it open again.
        if not self.camera.ok and self.camera.failures:
            return "camera"
        if not self.store.has_room():
            return "disk"
        return None

    def cancel(self) -> bool:
        """The button held down: no to the consent question, or cancel a running
        countdown; True if there was either."""
        if self._answer_consent("no"):
            return True
        if self.state == State.COUNTDOWN:
            self._cancel.set()
            return True
        return False

    def decline(self) -> bool:
        """The button held at the consent question: no (nothing is taken); False when
        nothing is asked."""
        return self._answer_consent("no")

    def _answer_consent(self, answer: str) -> bool:
        """Take the guest's answer while the consent state asks; False otherwise."""
        with self._cond:
            if self.state != State.CONSENT or self._answer is not None:
                return False
            self._answer = answer
            self._cond.notify_all()
        return True

    def delete_photo(self, photo_id: str, reason: str) -> bool:
        """Delete a photo everywhere at once (the guest's own delete, the organiser's,
        retention): its index row and folder (every file of it), its print jobs and
        pages, the kiosk's result screen (a ``deleted`` event); True if it existed."""
        if not self.store.delete(photo_id):
            return False
        if self.prints is not None:
            self.prints.forget_photo(photo_id)
        self.counters.forget_photo(photo_id)
        with self._cond:
            if self.state == State.RESULT and self._shown == photo_id:
                self._until = 0.0  # the main loop goes back to idle at its next turn
                self._cond.notify_all()
        self.events.publish("deleted", photo_id=photo_id)
        log.info("photo deleted (%s)", reason)
        return True

    def health(self) -> dict:
        camera = self.camera.status()
        stuck = self._worker.stuck_s() is not None
        model = {"ok": self.pipeline is not None and not stuck,
                 "message": MODEL_STUCK if stuck else self.model_message,
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
                  "state": self.state.value, "last_cycle": self.counters.last_cycle}
        if self.prints is not None:  # a printer problem never stops the photos: not in "ok"
            health["printer"] = self.prints.health()
        if self.sync is not None:  # nor does a remote that is away: photos wait on the disk
            health["sync"] = self.sync.status()
        return health

    def stats(self) -> dict:
        stats = self.counters.snapshot(photos=self.store.count())
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
                and self.state in (State.IDLE, State.CONSENT, State.COUNTDOWN)
                and not self._stopping.is_set())

    def start_mirror(self, network_factory=None):
        """Start the live anime mirror ([preview] anime); returns it (None when off)."""
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
        ``[upload] queue_max`` photos waiting, everybody ``queue_total``, or the disk is full.
        """
        self._check_accepting()
        ticket = self.queue.put(client, rgb)
        self._wake()
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
        if not photo.original_kept:
            raise ValueError("this photo's original is no longer kept, so it cannot be drawn again")
        if photo.meta.get("mode") == "boomerang":
            raise ValueError("a boomerang is drawn in its one fast style")
        self._check_accepting()
        ticket = self.queue.put(client, Restyle(photo_id, style))
        self._wake()
        return ticket

    def _check_accepting(self) -> None:
        """Raise UploadRefused unless a queued picture will be made: not while shutting
        down (the queue lives in memory and ends with the process), nor with a full disk."""
        if self._stopping.is_set():
            raise UploadRefused("The booth is restarting")
        if not self.store.has_room():
            raise UploadRefused(MESSAGES["disk"])

    def restyle_status(self, ticket: str) -> dict | None:
        """{"state": "queued"|"running"|"done"|"failed", "photo_id", "style", "ahead",
        "message"} of a re-rendering ticket (``ahead``: pictures queued before it), or None."""
        return self.queue.restyle_status(ticket)

    def upload_status(self, ticket: str) -> dict | None:
        """{"state": "queued"|"done"|"failed", "photo_id", "message"} of a ticket, or None."""
        return self.queue.upload_status(ticket)

    def _wake(self) -> None:
        """Wake the main loop: there is work."""
        with self._cond:
            self._cond.notify_all()

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
        name = self._choose("style", self.styles_available(), name, step)
        if name is None:
            return None
        self.events.publish("style", **self.style_choice())
        log.info("style chosen: %s", name)
        self._warm_style(name)
        return name

    def _choose(self, what: str, available: list[str], name: str | None, step: int) -> str | None:
        """Set the guest's choice ``what`` ("style" or "mode": the attribute) to ``name``,
        or ``step`` places along ``available``; None while a photo is being made (refused)."""
        with self._cond:
            if not self._between_cycles():
                return None
            if name is None:
                current = getattr(self, what)
                index = available.index(current) if current in available else 0
                name = available[(index + step) % len(available)]
            if name not in available:
                raise ValueError(f"{what} {name!r} is not available (available: {', '.join(available)})")
            setattr(self, what, name)
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

    def modes_available(self) -> list[str]:
        """The modes a guest can choose ([cycle] modes; a boomerang needs the mirror's
        Cute network built)."""
        modes = list(self.settings.cycle.modes)
        if "boomerang" in modes and not mirror.network_available(self.settings.preview.style):
            modes.remove("boomerang")
        return modes or ["photo"]

    def mode_choice(self) -> dict:
        """{"current", "modes": [{"name", "label"}], "strip_shots"} for the kiosk."""
        return {"current": self.mode, "strip_shots": self.settings.cycle.strip_shots,
                "modes": [{"name": m, "label": MODE_LABELS[m]} for m in self.modes_available()]}

    def choose_mode(self, name: str | None = None, step: int = 0) -> str | None:
        """Set what the next press makes (``name``, or ``step`` places along the list);
        only between photos. Returns the mode, None if refused."""
        name = self._choose("mode", self.modes_available(), name, step)
        if name is None:
            return None
        self.events.publish("mode", **self.mode_choice())
        log.info("mode chosen: %s", name)
        if name == "boomerang":
            self._warm_clip()
        return name

    def warm_moments(self) -> None:
        """Compile what strips and boomerangs run, once the model is loaded, on the worker
        and before any press: the strip cell's generator shape and the boomerang's
        network (a first boomerang would otherwise wait seconds for them)."""
        modes = self.modes_available()
        if "strip" in modes and self.pipeline is not None:
            maker = self._shot_pipeline(self.settings.cycle.strip_shots)
            blank = np.full((480, 640, 3), 128, np.uint8)
            self._worker.submit(lambda: maker.stylize(blank))
        if "boomerang" in modes:
            self._warm_clip()

    def next_mode(self) -> str | None:
        """The style button held: the next mode (photo, strip, boomerang)."""
        return self.choose_mode(step=1)

    def shot_jpeg(self, index: int) -> bytes | None:
        """The running (or last) strip's shot ``index`` as the kiosk shows it, or None."""
        return self.shot_jpegs.get(index)

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
        self._wake()
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
        """The main loop: one turn of the current state's method at a time, until stop()
        (a running cycle is finished or abandoned first)."""
        if self.prints is not None:
            self.prints.start()
        self.retention.start()
        self._announce(State.IDLE)
        while not self._stopping.is_set() or self._cycle is not None:
            self._tick()
            self._turn()
        self._worker.stop(0.5)
        self.retention.stop()
        if self.prints is not None:
            self.prints.stop()
        if self.mirror is not None:
            self.mirror.stop()
        self._set_led("off")

    def _turn(self) -> None:
        """One turn of the current state; a failing cycle ends in failsafe."""
        try:
            self.HANDLERS[self.state](self)
        except Exception as exc:
            if self._cycle is None:
                raise  # not a guest's cycle: a bug in the loop itself
            if isinstance(exc, CycleFailed):
                self._cycle_failed(exc.reason, str(exc))
            else:  # anything else: the guest still gets a friendly screen
                log.exception("cycle: unexpected error")
                self._cycle_failed("error", f"{type(exc).__name__}: {exc}")

    # --- one method per state ------------------------------------------------------
    def _idle(self) -> None:
        """Idle, for as long as nobody presses: a press starts a cycle; meanwhile the
        phones' pictures are made (one shown on the kiosk moves to result)."""
        self._take_press_or_picture()

    def _consent(self) -> None:
        """Consent: the kiosk asks; a press goes on to the countdown. Holding the button,
        no answer within ``[privacy] ask_timeout_s`` or shutting down: idle, no picture."""
        with self._cond:
            if self._answer is None and not self._stopping.is_set():
                self._cond.wait(min(TICK_S, max(0.0, self._until - time.monotonic())))
            answer = self._answer
        if answer == "yes" and not self._stopping.is_set():
            self._check_ready()
            self._start_countdown()
        elif answer == "no" or self._stopping.is_set() or time.monotonic() >= self._until:
            log.info("no photo: the guest %s", "said no" if answer == "no" else "did not answer")
            self._enter(State.IDLE, declined=answer or "timeout")

    def _countdown(self) -> None:
        """Countdown: one second per number announced, then capture. Holding the button
        (or shutting down) goes back to idle."""
        cycle = self._cycle
        if not self._wait(1.0, cancel=True):
            self._enter(State.IDLE)
            if self._cancel.is_set():
                log.info("cycle cancelled during the countdown (%s)", cycle.source)
            return
        cycle.seconds_left -= 1
        if cycle.seconds_left > 0:
            self._enter(State.COUNTDOWN, seconds_left=cycle.seconds_left)
        else:
            self._begin_capture()

    def _capture(self) -> None:
        """Capture: the camera's still (a camera that fails or hangs past
        ``[camera] capture_timeout_s`` ends in failsafe), then process."""
        cycle = self._cycle
        try:
            cycle.frame = self.camera.capture()
        except CameraError as exc:
            raise CycleFailed("camera", str(exc)) from None
        cycle.timings_ms["capture"] = (time.monotonic() - cycle.smile) * 1e3
        if cycle.mode != "strip":
            self._enter(State.PROCESS)
            return
        cycle.last_taken = time.monotonic()
        index = len(cycle.shots)
        # A shot fills a 540 px cell: a 12 MP frame waiting on the worker would only take memory.
        frame = resize_long_side(cycle.frame, SHOT_ORIGINAL_LONG_SIDE)
        cycle.shots.append(self._worker.submit(self._stylize_shot, frame, index, cycle.style,
                                               self.shot_jpegs))
        cycle.frame = None
        self.events.publish("shot", index=index, shots=self.settings.cycle.strip_shots, stage="taken")
        if len(cycle.shots) < self.settings.cycle.strip_shots:
            self._making_photo(False)  # the guest poses again: the preview comes back
            self._until = time.monotonic() + self._time_limit_s(State.SHOT)
            self._enter(State.SHOT, **self._mode_data(), taken=len(cycle.shots))
        else:
            self._enter(State.PROCESS, **self._mode_data())

    def _shot(self) -> None:
        """A strip's shot on screen for a moment (it is being stylized meanwhile), then
        the next shot's countdown; shutting down drops the shots: idle."""
        if not self._wait(max(0.0, self._until - time.monotonic())):
            self._enter(State.IDLE)
            return
        self._start_countdown()

    def _burst(self) -> None:
        """Burst: the camera's video stream for about BURST_S, each frame stylized on the
        worker as it comes (a camera that fails or hangs ends in failsafe); then process."""
        cycle = self._cycle
        maker = self._clip_maker_now()
        cycle.clip = boomerang.Clip(maker)

        def on_frame(rgb: np.ndarray) -> None:
            if len(cycle.clip_jobs) == boomerang.BURST_FRAMES // 2:
                cycle.frame = rgb  # the "before" picture: the camera's middle frame
            cycle.clip_jobs.append(self._worker.submit(cycle.clip.add, rgb))

        try:
            self.camera.burst(boomerang.BURST_FRAMES, boomerang.burst_fps(), on_frame)
        except CameraError as exc:
            raise CycleFailed("camera", str(exc)) from None
        cycle.last_taken = time.monotonic()
        cycle.timings_ms["burst"] = (cycle.last_taken - cycle.smile) * 1e3
        self._enter(State.PROCESS, mode=cycle.mode)

    def _process(self) -> None:
        """Process: faces, generator and store on the worker within
        ``[cycle] process_timeout_s``, then result (failsafe on failure)."""
        cycle = self._cycle
        if cycle.mode == "strip":
            photo, generator_ms, stage_ms = self._run_job(self._store_strip, cycle)
        elif cycle.mode == "boomerang":
            photo, generator_ms, stage_ms = self._run_job(self._store_boomerang, cycle)
        else:
            photo, result, stage_ms = self._make_photo(cycle.frame, "booth", cycle.style)
            generator_ms = float(result.timings_ms.get("generator", 0.0))
        cycle.frame = None
        cycle.timings_ms.update(stage_ms)
        published = time.monotonic()
        self._show_result(photo.id, "booth", cycle.mode)
        cycle.timings_ms["publish"] = (time.monotonic() - published) * 1e3
        if cycle.last_taken:  # a strip's or a boomerang's: ready this long after the last picture
            cycle.timings_ms["ready_after_last"] = (time.monotonic() - cycle.last_taken) * 1e3
        self._cycle_done(cycle, photo, generator_ms)

    def _result(self) -> None:
        """Result, for ``[cycle] show_result_s``: a press starts the next cycle, the
        phones' pictures are made meanwhile; then idle."""
        self._take_press_or_picture()
        self._leave_on_time()

    def _failsafe(self) -> None:
        """Failsafe, for ``[cycle] failsafe_s``: the guest's message (presses are
        refused, the phones' pictures are made meanwhile); then idle."""
        self._take_press_or_picture()
        self._leave_on_time()

    HANDLERS = {State.IDLE: _idle, State.CONSENT: _consent, State.COUNTDOWN: _countdown, State.CAPTURE: _capture,
                State.SHOT: _shot, State.BURST: _burst,
                State.PROCESS: _process, State.RESULT: _result, State.FAILSAFE: _failsafe}

    def _leave_on_time(self) -> None:
        # On time, even while uploads keep coming (a new result has a new end). Only from
        # the screen that timed out: a press taken in this same turn has already moved on
        # to a new cycle, whose first state must not inherit the old screen's end.
        if self.state in (State.RESULT, State.FAILSAFE) and time.monotonic() >= self._until:
            self._enter(RULES[self.state].time_up)

    def _time_limit_s(self, state: State) -> float:
        return RULES[state].time_limit_s(self.settings)

    def _take_press_or_picture(self) -> None:
        """Wait a tick for a press or a queued picture; start the cycle, or make the picture."""
        # The phones' pictures wait while a model call is stuck (see MODEL_STUCK).
        pictures = self._worker.stuck_s() is None
        with self._cond:
            if self._pending is None and not (pictures and self.queue.has_waiting()):
                self._cond.wait(TICK_S)
            if self._stopping.is_set():
                return
            source, self._pending = self._pending, None
            # Pictures wait whenever a press does: a busy button never starves the
            # phones (they run on the result and error screens too), and a press
            # waits for one picture at most.
            job = self.queue.take() if source is None and pictures else None
            if source is not None:  # under the lock: no second press slips in before it
                self._cycle = Cycle(source, time.monotonic(), mode=self.mode, style=self.style)
        if source is not None:
            self._start_cycle()
        elif job is not None:
            ticket, work = job
            (self._run_restyle if isinstance(work, Restyle) else self._run_upload)(ticket, work)

    def _start_cycle(self) -> None:
        self._cancel.clear()
        self._check_ready()
        if self._cycle.mode == "strip":
            self.shot_jpegs = {}
        if self.settings.privacy.consent == "ask":
            self._ask_consent()
        else:
            self._start_countdown()

    def _ask_consent(self) -> None:
        with self._cond:
            self._answer = None
        shown_s = self._time_limit_s(State.CONSENT)
        self._until = time.monotonic() + shown_s
        self._enter(State.CONSENT, until=time.time() + shown_s, **self._mode_data())

    def _start_countdown(self) -> None:
        """The countdown to the next picture (a strip's next shot too), or the picture now."""
        countdown_s = int(self._time_limit_s(State.COUNTDOWN))
        self._capture_due = time.monotonic() + countdown_s
        if countdown_s > 0:
            self._cycle.seconds_left = countdown_s
            self._enter(State.COUNTDOWN, seconds_left=countdown_s, **self._mode_data())
        else:
            self._begin_capture()

    def _mode_data(self) -> dict:
        """What the kiosk needs to know about the running cycle's mode with each state."""
        cycle = self._cycle
        data = {"mode": cycle.mode}
        if cycle.mode == "strip":
            data |= {"shot": len(cycle.shots) + 1, "shots": self.settings.cycle.strip_shots}
        return data

    def _begin_capture(self) -> None:
        cycle = self._cycle
        if not cycle.smile:  # press-to-result counts from the first picture (countdown excluded)
            cycle.smile = time.monotonic()
        self._making_photo(True)
        if cycle.mode == "boomerang":
            self._enter(State.BURST, mode=cycle.mode, seconds=boomerang.BURST_S)
        else:
            self._enter(State.CAPTURE, **self._mode_data())

    # --- moving between states -------------------------------------------------------
    def _enter(self, state: State, **data) -> None:
        """Move to ``state`` (a move :data:`RULES` allows, else :class:`InvalidTransition`)."""
        check_transition(self.state, state)
        self._announce(state, **data)

    def _announce(self, state: State, **data) -> None:
        """Be in ``state``: publish it, tell systemd, set the LED. A state between cycles
        ends the cycle (the next press is taken from then on)."""
        with self._cond:
            self.state = state
            ended = state in RESTING and self._cycle is not None
            if ended:
                self._cycle = None
        if ended:
            self._end_cycle()
        self._led_for(state)
        self.events.publish("state", state=state.value, **data)
        detail = data.get("seconds_left") or data.get("photo_id") or data.get("message") or ""
        sdnotify.notify(f"STATUS={state}{': ' if detail else ''}{detail}")
        log.debug("state=%s %s", state, data or "")

    def _end_cycle(self) -> None:
        self._capture_due = None
        self._making_photo(False)

    def _tick(self) -> None:
        """Watchdog ping and health changes: every loop turn and during waits."""
        now = time.monotonic()
        if self._watchdog_s and now - self._last_watchdog >= self._watchdog_s:
            sdnotify.notify("WATCHDOG=1")
            self._last_watchdog = now
        if now - self._last_health_check >= 1.0:
            self._last_health_check = now
            self._publish_health_if_changed()
        stuck_s = self._worker.stuck_s()
        if stuck_s is not None and stuck_s > STUCK_RESTART_S and not self._stopping.is_set():
            self.restart_reason = f"a model call has not returned for {stuck_s:.0f} s"
            log.error("%s: ending the main loop so that the booth is restarted", self.restart_reason)
            self._stopping.set()

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

    def _led_for(self, state: State) -> None:
        # Breathing: press me. Solid: look at the camera. Blinking: working on it.
        self._set_led({State.IDLE: "breathe", State.CONSENT: "breathe", State.COUNTDOWN: "on", State.CAPTURE: "on",
                       State.PROCESS: "blink", State.RESULT: "breathe"}.get(state, "off"))

    def _set_led(self, mode: str) -> None:
        if self.button is not None:
            try:
                self.button.set_led(mode)
            except Exception as exc:  # an LED is never worth a failed cycle
                log.warning("led: %s", exc)

    # --- the photo -------------------------------------------------------------------
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

    def _make_photo(self, frame: np.ndarray, source: str, style: str | None = None,
                    variant_of: str | None = None):
        """Run the pipeline and store the photo (or a variant of ``variant_of``) on the
        worker thread, with a deadline.

        A job given up on (timeout, shutdown) never publishes its photo: the guest was
        told it failed, so a late result is discarded, never saved to the gallery.
        """
        return self._run_job(self._process_and_store, frame, source, style, variant_of)

    def _run_job(self, work: Callable, *args):
        """``work(*args, job)`` on the worker within ``[cycle] process_timeout_s``; a
        strip's or a boomerang's making and storing goes the same way as a photo's."""
        self.processing.set()
        try:
            return self._process_on_worker(work, *args)
        finally:
            self.processing.clear()

    def _process_on_worker(self, work: Callable, *args):
        if self._worker.stuck_s() is not None:  # one stuck call at most (see MODEL_STUCK)
            raise CycleFailed("stuck", "the last model call given up on has not returned")
        job = AbandonableJob()
        future = self._worker.submit(work, *args, job)
        limit_s = self._time_limit_s(State.PROCESS)
        deadline = time.monotonic() + limit_s
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
                    f"processing took longer than {limit_s:g} s"
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

    def _process_and_store(self, frame: np.ndarray, source: str, style: str | None,
                           variant_of: str | None, job: "AbandonableJob"):
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
            # Given up on while the save was writing: its row is never committed.
            photo = self.store.save(frame, result.stylized, meta, source, keep=job.deliver)
            if photo is None:
                log.info("late result discarded while it was saved (the cycle had already failed)")
                return None
        stored = time.perf_counter()
        stage_ms = {k: float(v) for k, v in result.timings_ms.items()}
        stage_ms["pipeline"] = (processed - started) * 1e3
        stage_ms["store"] = (stored - processed) * 1e3
        return photo, result, stage_ms

    # --- strips and boomerangs ----------------------------------------------------------
    def _shot_pipeline(self, shots: int) -> strip.ShotPipeline:
        """The pipeline at a strip cell's shape, made once per loaded pipeline."""
        made = self._shot_pipelines.get(shots)
        if made is None or made[0] is not self.pipeline:
            made = self._shot_pipelines[shots] = (self.pipeline, strip.ShotPipeline(self.pipeline, shots))
        return made[1]

    def _stylize_shot(self, frame: np.ndarray, index: int, style: str | None,
                      shown: dict) -> moments.Shot:
        """One strip shot on the worker: its cell into ``shown`` for the kiosk, announced
        by a "shot" event."""
        own_style = None if style in (None, self.settings.styles.default) else style
        shot, cell_jpeg = moments.make_shot(self._shot_pipeline(self.settings.cycle.strip_shots), frame,
                                            own_style, self.settings.storage.jpeg_quality)
        shown[index] = cell_jpeg
        self.events.publish("shot", index=index, shots=self.settings.cycle.strip_shots, stage="anime")
        return shot

    def _store_strip(self, cycle: Cycle, job: "AbandonableJob"):
        """The strip's shots (stylized already, or the last one finishing) stored as one
        photo. Any shot that failed fails the whole strip: nothing is stored."""
        waited = time.perf_counter()
        shots: list[moments.Shot] = [future.result() for future in cycle.shots]
        started = time.perf_counter()
        item = moments.strip_item(shots, cycle.style or self.settings.styles.default,
                                  self.settings.theme.accent_color, self.settings.storage.jpeg_quality)
        return self._store_item(job, item, {"last_shot": (started - waited) * 1e3},
                                sum(shot.generator_ms for shot in shots))

    def _store_item(self, job: "AbandonableJob", item: moments.Item, stage_ms: dict, generator_ms: float):
        """(photo, generator ms, each stage's ms) of a stored strip or boomerang; None
        when its cycle was given up on."""
        stored = time.perf_counter()
        photo = self._store_made(job, item.original, item.anime, item.meta, item.extras)
        if photo is None:
            return None
        return photo, generator_ms, stage_ms | item.stage_ms | {"store": (time.perf_counter() - stored) * 1e3}

    def _store_made(self, job: "AbandonableJob", original: np.ndarray, anime: np.ndarray,
                    meta: dict, extras: dict[str, bytes]):
        """Store a strip or a boomerang as one photo unless its cycle was given up on;
        a save that finishes after the cycle failed is taken back."""
        if job.abandoned:
            log.info("late %s discarded (the cycle had already failed)", meta["mode"])
            return None
        photo = self.store.save(original, anime, meta, "booth", extras)
        if not job.deliver():
            self.store.delete(photo.id)
            log.info("late %s %s deleted (the cycle had already failed)", meta["mode"], photo.id)
            return None
        return photo

    def _clip_maker_now(self) -> boomerang.ClipMaker:
        """The boomerang's network (the mirror's Cute style, its own compiled copy with
        every core: the mirror is paused during a burst), made once."""
        with self._clip_lock:
            if self._clip_maker is None:
                network = mirror.mirror_network(self.settings, threads=0)
                self._clip_maker = boomerang.ClipMaker(network, self.settings.preview.smoothing)
            return self._clip_maker

    def _warm_clip(self) -> None:
        """Compile the boomerang's network while the guest poses: on the worker, the one
        thread that runs it (a network's request is not for two threads at once)."""
        def warm() -> None:
            try:
                aspect = self.settings.camera.preview_size[0] / max(1, self.settings.camera.preview_size[1])
                self._clip_maker_now().warm_up(aspect)
            except Exception as exc:  # the burst will report it; the kiosk must not fail here
                log.warning("boomerang network could not be loaded: %s", exc)

        self._worker.submit(warm)

    def _store_boomerang(self, cycle: Cycle, job: "AbandonableJob"):
        """The burst's frames (stylized as they came) stored as one photo."""
        waited = time.perf_counter()
        for future in cycle.clip_jobs:
            future.result()
        frames = cycle.clip.frames
        if len(frames) < 2:
            raise CycleFailed("camera", f"the burst gave {len(frames)} frames")
        started = time.perf_counter()
        item = moments.boomerang_item(frames, cycle.frame, self.settings.preview.style)
        return self._store_item(job, item, {"last_frames": (started - waited) * 1e3}, 0.0)

    def _restyle_strip(self, photo, style: str, job: "AbandonableJob") -> None:
        """A stored strip drawn again in ``style``: each shot's frame through the cell's
        pipeline, the square kept as the variant (complete or absent, like a photo's)."""
        shots = int(photo.meta.get("shots", 0))
        maker = self._shot_pipeline(shots)
        own_style = None if style == self.settings.styles.default else style
        cells = []
        for index in range(shots):
            path = self.store.extra_path(photo.id, f"shot-{index + 1}.jpg")
            if path is None:
                raise CycleFailed("error", "the strip's shots were deleted")
            cells.append(maker.stylize(load_image(path), own_style)[0])
        self.store.save_variant(photo.id, style, strip.compose_square(cells, self.settings.theme.accent_color))
        job.deliver()

    def _show_result(self, photo_id: str, source: str, mode: str = "photo") -> None:
        self.events.publish("photo", photo_id=photo_id, source=source, mode=mode)
        shown_s = self._time_limit_s(State.RESULT)
        self._until = time.monotonic() + shown_s
        self._shown = photo_id
        self._enter(State.RESULT, photo_id=photo_id, source=source, mode=mode,
                    until=time.time() + shown_s)
        if self.prints is not None:  # only the guest at the booth is offered a print
            if source == "booth":
                self.prints.photo_shown(photo_id)
            else:
                self.prints.withdraw_offer()

    def _cycle_done(self, cycle: Cycle, photo, generator_ms: float) -> None:
        press_to_result = (time.monotonic() - cycle.smile) * 1e3
        self.counters.cycle_ok(photo.id, press_to_result, generator_ms)
        stages = " ".join(f"{k}={v:.0f}" for k, v in cycle.timings_ms.items())
        log.info("cycle ok photo=%s mode=%s source=%s size=%s faces=%d press_to_result_ms=%.0f %s",
                 photo.id, cycle.mode, cycle.source, photo.size, photo.faces, press_to_result, stages)

    def _cycle_failed(self, reason: str, detail: str) -> None:
        cycle = self._cycle
        self.counters.cycle_failed(reason)
        log.warning("cycle failed source=%s reason=%s after_ms=%.0f: %s", cycle.source, reason,
                    (time.monotonic() - cycle.pressed) * 1e3, detail)
        if self._stopping.is_set():  # nobody is left to read the message
            with self._cond:
                self._cycle = None
            self._end_cycle()
            return
        shown_s = self._time_limit_s(State.FAILSAFE)
        self._until = time.monotonic() + shown_s
        self._enter(State.FAILSAFE, message=MESSAGES[reason], until=time.time() + shown_s)

    # --- the phones' pictures (between cycles) ------------------------------------------
    def _run_upload(self, ticket: str, rgb: np.ndarray) -> None:
        try:
            if self.pipeline is None:
                raise CycleFailed("model", self.model_message)
            photo, _, _ = self._make_photo(rgb, "upload")
        except Exception as exc:
            reason = exc.reason if isinstance(exc, CycleFailed) else "error"
            log.warning("upload failed ticket=%s: %s", ticket[:6], exc)
            self.queue.fail(ticket, MESSAGES[reason])
            return
        self.counters.upload_done()
        self.queue.finish(ticket, photo.id)
        log.info("upload ok photo=%s", photo.id)
        if self.settings.upload.show_on_kiosk and self.state == State.IDLE:
            self._show_result(photo.id, "upload")
        else:
            self.events.publish("photo", photo_id=photo.id, source="upload", ticket=ticket)

    def _run_restyle(self, ticket: str, job: Restyle) -> None:
        try:
            if self.pipeline is None:
                raise CycleFailed("model", self.model_message)
            original = self.store.file_path(job.photo_id, "original")
            if original is None:
                raise CycleFailed("error", "the photo was deleted")
            photo = self.store.get(job.photo_id)
            if photo is not None and photo.meta.get("mode") == "strip":
                self._run_job(self._restyle_strip, photo, job.style)
            else:
                self._make_photo(load_image(original), "restyle", job.style, variant_of=job.photo_id)
        except Exception as exc:
            reason = exc.reason if isinstance(exc, CycleFailed) else "error"
            log.warning("restyle failed ticket=%s: %s", ticket[:6], exc)
            self.queue.fail(ticket, MESSAGES[reason])
            return
        self.queue.finish(ticket)
        log.info("restyle ok photo=%s style=%s", job.photo_id, job.style)
        self.events.publish("variant", photo_id=job.photo_id, style=job.style, ticket=ticket)


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
