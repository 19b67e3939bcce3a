"""Making the pictures: the model on the worker thread, with a deadline.

The state machine (:mod:`booth.daemon.machine`) decides *when* a photo is made;
:class:`PhotoMaker` makes it — a guest's photo, a strip's shots, a boomerang's frames,
a phone's upload or re-rendering — and stores it:

* Everything that runs the model runs on one worker thread
  (:class:`booth.daemon.worker.Worker`), one picture at a time, so the main loop keeps
  pinging systemd's watchdog and the camera supervisor keeps the preview live.
* Each job has the deadline ``[cycle] process_timeout_s`` (shortened to
  :data:`SHUTDOWN_GRACE_S` once the booth is stopping). A job given up on never
  publishes its photo: :class:`AbandonableJob` decides exactly once whether the worker
  delivers it or the waiting cycle gave up first, and a late result is discarded (a
  late strip's or boomerang's stored files are taken back).
* A model call given up on may never return (a driver hung): it keeps its thread and
  its frame, so no new call starts while it is stuck (:meth:`PhotoMaker.not_stuck`,
  :data:`MODEL_STUCK`), and after :data:`STUCK_RESTART_S` the booth asks to be
  restarted (:meth:`PhotoMaker.restart_reason`).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

import numpy as np

from booth import config
from booth.daemon import moments
from booth.daemon.events import EventBus
from booth.daemon.store import Photo, PhotoStore
from booth.daemon.worker import Worker
from booth.errors import StoreFull
from booth.vision import boomerang, mirror, strip
from booth.vision.images import load_image
from booth.vision.pipeline import Pipeline, PhotoResult
from booth.words import N_

log = logging.getLogger("booth")

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
#: What guests read when a cycle or a phone's picture fails (:attr:`CycleFailed.reason`),
#: translated by the kiosk; the log line has the details.
MESSAGES = {
    "camera": N_("The camera is not working right now. Please try again in a moment."),
    "model": N_("The anime machine is not ready. Please ask the host."),
    "disk": N_("The booth's memory is full. Please ask the host."),
    "timeout": N_("That took too long. Please try again!"),
    "stuck": N_("The anime machine is stuck. Please ask the host."),
    "error": N_("Something went wrong. Please try again!"),
}
#: How often a waiting caller looks at its job (and pings the watchdog meanwhile).
POLL_S = 0.25

#: (the photo, the generator's ms, each stage's ms) of a stored picture.
Made = tuple[Photo, float, dict[str, float]]


class CycleFailed(Exception):
    """Ends a cycle in the failsafe state; ``reason`` picks the guest's message."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


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


def load_pipeline(settings: config.Settings) -> tuple[Pipeline | None, str]:
    """The warmed-up pipeline and a status line; (None, why) if the model cannot load."""
    started = time.perf_counter()
    try:
        pipeline = Pipeline.from_settings(settings)
    except Exception as exc:  # missing weights, broken IR, ...: run, and say so
        message = f"model not loaded: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        log.error("pipeline: %s (run `booth weights fetch` and `booth weights build`)", message)
        return None, message
    generator = pipeline.generator
    assert generator is not None, "Pipeline.from_settings loads the generator"
    return pipeline, (f"model warm ({generator.precision}, {time.perf_counter() - started:.1f} s)"
                      + (f"; {generator.fallback}" if generator.fallback
                         else f"; precision {generator.precision_why}"))


class Burst:
    """A boomerang's burst, each frame stylized on the worker as it comes in."""

    def __init__(self, clip: boomerang.Clip, submit: Callable[..., Future]) -> None:
        self.clip = clip
        self.jobs: list[Future] = []
        self.submit = submit
        #: The "before" picture: the camera's middle frame.
        self.camera_frame: np.ndarray | None = None

    def add(self, rgb: np.ndarray) -> None:
        """One camera frame of the burst (called by the camera as it records)."""
        if len(self.jobs) == boomerang.BURST_FRAMES // 2:
            self.camera_frame = rgb
        self.jobs.append(self.submit(self.clip.add, rgb))


class PhotoMaker:
    """Runs the pipeline on the worker within the deadline and stores what it made.

    ``tick`` is called while a caller waits (the main loop's watchdog ping);
    ``stopping`` set shortens a running job's deadline to :data:`SHUTDOWN_GRACE_S`.
    ``pipeline`` may be set later (``booth run`` loads the model after the web server
    is up); None while there is none, and ``model_message`` says why.
    """

    def __init__(self, settings: config.Settings, store: PhotoStore, events: EventBus, *,
                 pipeline: Any | None, model_message: str, deadline_s: float,
                 tick: Callable[[], None], stopping: threading.Event) -> None:
        self.settings = settings
        self.store = store
        self.events = events
        self.pipeline = pipeline
        self.model_message = model_message
        self.deadline_s = deadline_s
        self.tick = tick
        self.stopping = stopping
        self.worker = Worker("booth-process")
        #: Set while a photo (the guest's or an upload) is on the worker thread.
        self.processing = threading.Event()
        self._shot_pipelines: dict[int, tuple[Any, strip.ShotPipeline]] = {}
        self._clip_maker: boomerang.ClipMaker | None = None
        self._clip_lock = threading.Lock()

    # --- the worker -------------------------------------------------------------------
    def stuck(self) -> bool:
        """A model call given up on has not returned (see :data:`MODEL_STUCK`)."""
        return self.worker.stuck_s() is not None

    def restart_reason(self) -> str | None:
        """Why the booth should be restarted: a model call stuck past :data:`STUCK_RESTART_S`."""
        stuck_s = self.worker.stuck_s()
        if stuck_s is not None and stuck_s > STUCK_RESTART_S:
            return f"a model call has not returned for {stuck_s:.0f} s"
        return None

    def check_ready(self) -> None:
        """Raise :class:`CycleFailed` unless a photo can be made: the model loaded, room on disk."""
        if self.pipeline is None:
            raise CycleFailed("model", self.model_message)
        if not self.store.has_room():
            raise CycleFailed("disk", f"disk below the floor ({self.store.free_mb():.0f} MB free)")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue ``fn(*args)`` on the worker without a deadline (a strip's shot, a warm-up)."""
        return self.worker.submit(fn, *args)

    def stop(self, timeout: float) -> None:
        self.worker.stop(timeout)

    def run_job(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(*args, job)`` on the worker within the deadline (an
        :class:`AbandonableJob` ``job`` says whether its picture may be published)."""
        self.processing.set()
        try:
            return self._wait_for_worker(work, *args)
        finally:
            self.processing.clear()

    def _wait_for_worker(self, work: Callable[..., Any], *args: Any) -> Any:
        if self.stuck():  # one stuck call at most (see MODEL_STUCK)
            raise CycleFailed("stuck", "the last model call given up on has not returned")
        job = AbandonableJob()
        future = self.worker.submit(work, *args, job)
        deadline = time.monotonic() + self.deadline_s
        grace_end = None
        while not future.done():
            now = time.monotonic()
            if self.stopping.is_set() and grace_end is None:
                grace_end = min(deadline, now + SHUTDOWN_GRACE_S)
            if now >= (grace_end or deadline):
                if not job.abandon():
                    break  # the photo was delivered in this very instant: show it
                self.worker.abandon()  # a hung model call must not hold the next guest
                why = "shutting down" if grace_end else \
                    f"processing took longer than {self.deadline_s:g} s"
                raise CycleFailed("timeout", why)
            self.tick()
            try:
                future.result(timeout=min(POLL_S, max(0.0, (grace_end or deadline) - now)))
            except TimeoutError:
                pass
            except Exception:
                break
        try:
            return future.result()
        except StoreFull as exc:
            raise CycleFailed("disk", str(exc)) from None

    # --- a photo ----------------------------------------------------------------------
    def make_photo(self, frame: np.ndarray, source: str, style: str | None = None,
                   variant_of: str | None = None) -> tuple[Photo, PhotoResult, dict[str, float]]:
        """Run the pipeline and store the photo (or a variant of ``variant_of``) on the
        worker thread, with the deadline: (photo, the pipeline's result, each stage's ms).

        A job given up on (timeout, shutdown) never publishes its photo: the guest was
        told it failed, so a late result is discarded, never saved to the gallery.
        """
        return self.run_job(self._process_and_store, frame, source, style, variant_of)

    def _process_and_store(self, frame: np.ndarray, source: str, style: str | None,
                           variant_of: str | None, job: AbandonableJob):
        started = time.perf_counter()
        pipeline = self.pipeline
        if pipeline is None:  # callers check first; a job queued meanwhile sees it here
            raise CycleFailed("model", self.model_message)
        # The default style goes through the pipeline's own generator.
        if style is None or style == self.settings.styles.default:
            result = pipeline.process(frame)
        else:
            result = pipeline.process(frame, style=style)
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

    def warm_style(self, name: str) -> None:
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

    # --- strips -----------------------------------------------------------------------
    def shot_pipeline(self, shots: int) -> strip.ShotPipeline:
        """The pipeline at a strip cell's shape, made once per loaded pipeline."""
        made = self._shot_pipelines.get(shots)
        if made is None or made[0] is not self.pipeline:
            made = self._shot_pipelines[shots] = (self.pipeline, strip.ShotPipeline(self.pipeline, shots))
        return made[1]

    def warm_strip(self) -> None:
        """Compile the strip cell's generator shape on the worker, before any press."""
        maker = self.shot_pipeline(self.settings.cycle.strip_shots)
        blank = np.full((480, 640, 3), 128, np.uint8)
        self.worker.submit(lambda: maker.stylize(blank))

    def stylize_shot(self, frame: np.ndarray, index: int, style: str | None,
                     shown: dict[int, bytes]) -> Future:
        """Queue one strip shot on the worker: its cell into ``shown`` for the kiosk,
        announced by a "shot" event; the Future holds its :class:`moments.Shot`."""
        return self.worker.submit(self._stylize_shot, frame, index, style, shown)

    def _stylize_shot(self, frame: np.ndarray, index: int, style: str | None,
                      shown: dict[int, bytes]) -> moments.Shot:
        own_style = None if style in (None, self.settings.styles.default) else style
        shot, cell_jpeg = moments.make_shot(self.shot_pipeline(self.settings.cycle.strip_shots), frame,
                                            own_style, self.settings.storage.jpeg_quality)
        shown[index] = cell_jpeg
        self.events.publish("shot", index=index, shots=self.settings.cycle.strip_shots, stage="anime")
        return shot

    def store_strip(self, shots: list[Future], style: str | None, job: AbandonableJob) -> Made | None:
        """The strip's shots (stylized already, or the last one finishing) stored as one
        photo. Any shot that failed fails the whole strip: nothing is stored."""
        waited = time.perf_counter()
        made: list[moments.Shot] = [future.result() for future in shots]
        started = time.perf_counter()
        item = moments.strip_item(made, style or self.settings.styles.default,
                                  self.settings.theme.accent_color, self.settings.storage.jpeg_quality)
        return self._store_item(job, item, {"last_shot": (started - waited) * 1e3},
                                sum(shot.generator_ms for shot in made))

    def restyle_strip(self, photo: Photo, style: str, job: AbandonableJob) -> None:
        """A stored strip drawn again in ``style``: each shot's frame through the cell's
        pipeline, the square kept as the variant (complete or absent, like a photo's)."""
        shots = int(photo.meta.get("shots", 0))
        maker = self.shot_pipeline(shots)
        own_style = None if style == self.settings.styles.default else style
        cells = []
        for index in range(shots):
            path = self.store.extra_path(photo.id, f"shot-{index + 1}.jpg")
            if path is None:
                raise CycleFailed("error", "the strip's shots were deleted")
            cells.append(maker.stylize(load_image(path), own_style)[0])
        self.store.save_variant(photo.id, style, strip.compose_square(cells, self.settings.theme.accent_color))
        job.deliver()

    # --- boomerangs -------------------------------------------------------------------
    def clip_maker(self) -> boomerang.ClipMaker:
        """The boomerang's network (the mirror's Cute style, its own compiled copy with
        every core: the mirror is paused during a burst), made once."""
        with self._clip_lock:
            if self._clip_maker is None:
                network = mirror.mirror_network(self.settings, threads=0)
                self._clip_maker = boomerang.ClipMaker(network, self.settings.preview.smoothing)
            return self._clip_maker

    def warm_clip(self) -> None:
        """Compile the boomerang's network while the guest poses: on the worker, the one
        thread that runs it (a network's request is not for two threads at once)."""
        def warm() -> None:
            try:
                aspect = self.settings.camera.preview_size[0] / max(1, self.settings.camera.preview_size[1])
                self.clip_maker().warm_up(aspect)
            except Exception as exc:  # the burst will report it; the kiosk must not fail here
                log.warning("boomerang network could not be loaded: %s", exc)

        self.worker.submit(warm)

    def burst(self) -> Burst:
        """A new burst for the boomerang's network (made once, see :meth:`clip_maker`)."""
        return Burst(boomerang.Clip(self.clip_maker()), self.worker.submit)

    def store_boomerang(self, burst: Burst, job: AbandonableJob) -> Made | None:
        """The burst's frames (stylized as they came) stored as one photo."""
        waited = time.perf_counter()
        for future in burst.jobs:
            future.result()
        frames = burst.clip.frames
        if len(frames) < 2:
            raise CycleFailed("camera", f"the burst gave {len(frames)} frames")
        started = time.perf_counter()
        item = moments.boomerang_item(frames, burst.camera_frame, self.settings.preview.style)
        return self._store_item(job, item, {"last_frames": (started - waited) * 1e3}, 0.0)

    # --- storing a strip or a boomerang -------------------------------------------------
    def _store_item(self, job: AbandonableJob, item: moments.Item, stage_ms: dict[str, float],
                    generator_ms: float) -> Made | None:
        """(photo, generator ms, each stage's ms) of a stored strip or boomerang; None
        when its cycle was given up on."""
        stored = time.perf_counter()
        photo = self._store_made(job, item.original, item.anime, item.meta, item.extras)
        if photo is None:
            return None
        return photo, generator_ms, stage_ms | item.stage_ms | {"store": (time.perf_counter() - stored) * 1e3}

    def _store_made(self, job: AbandonableJob, original: np.ndarray, anime: np.ndarray,
                    meta: dict, extras: dict[str, bytes]) -> Photo | None:
        """Store a strip or a boomerang as one photo unless its cycle was given up on;
        a save that finishes after the cycle failed is taken back."""
        if job.abandoned:
            log.info("late %s discarded (the cycle had already failed)", meta["mode"])
            return None
        photo = self.store.save(original, anime, meta, "booth", extras)
        assert photo is not None, "a save without a keep callback is always kept"
        if not job.deliver():
            self.store.delete(photo.id)
            log.info("late %s %s deleted (the cycle had already failed)", meta["mode"], photo.id)
            return None
        return photo
