"""The booth as the web app and the button see it, built from its parts.

:class:`Booth` is the guest's cycle (:class:`booth.daemon.machine.CycleMachine`, whose
main loop it runs) with everything around it: the picture making
(:class:`booth.daemon.making.PhotoMaker`), the phones' pictures
(:class:`booth.daemon.pictures.PhonePictures`), the print queue, retention, the live
anime mirror, health and figures. It provides :class:`booth.web.contract.BoothForWeb`.

* systemd ``Type=notify``: ``READY=1`` once the model is warm and the web server
  listens (:mod:`booth.cli.run`), ``WATCHDOG=1`` from the main loop, ``STATUS=`` with the
  state. SIGTERM finishes the running cycle (or abandons it after a few seconds),
  closes the camera and the store, and exits well within 10 s.

``booth run`` (:mod:`booth.cli.run`) starts it; ``booth run --demo`` runs all of it on a dev
machine with the folder camera.
"""

from __future__ import annotations

import logging
from collections import deque
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from booth import config
from booth.daemon import choices, sdnotify
from booth.daemon.events import EventBus
from booth.daemon.machine import CycleMachine
from booth.daemon.making import MODEL_LOADING, MODEL_STUCK, SHUTDOWN_GRACE_S, PhotoMaker
from booth.daemon.metrics import CycleCounters
from booth.daemon.pictures import PhonePictures
from booth.daemon.retention import RetentionWorker
from booth.daemon.states import RULES, State
from booth.daemon.store import PhotoStore
from booth.devices.camera import CameraSupervisor
from booth.devices.printing import PrintService
from booth.vision import mirror

if TYPE_CHECKING:
    from booth.daemon.sync import SyncWorker

log = logging.getLogger("booth")


class Booth(CycleMachine):
    """The booth: camera, button, pipeline, store and events around one cycle.

    Made by ``booth run`` (:mod:`booth.cli.run`), or directly in tests with injected parts::

        booth = Booth(settings, camera=supervisor, pipeline=pipeline)
        booth.start()              # the main loop on its own thread
        booth.trigger("test")      # like a guest pressing the button
        booth.stop()
    """

    def __init__(self, settings: config.Settings, *, camera: CameraSupervisor, pipeline: Any | None,
                 store: PhotoStore | None = None, events: EventBus | None = None,
                 model_message: str = "model warm") -> None:
        store = store or PhotoStore(settings.data_dir / "photos", settings.storage)
        events = events or EventBus()
        counters = CycleCounters()
        stopping = threading.Event()
        maker = PhotoMaker(settings, store, events, pipeline=pipeline, model_message=model_message,
                           deadline_s=RULES[State.PROCESS].limit_s(settings),
                           tick=lambda: self.tick(), stopping=stopping)
        #: Set except while a photo is being made (capture to result). The web server
        #: holds new requests until it is set again (at most ``web.yield_to_photo_ms``)
        #: and the camera pauses the preview nobody looks at then, so the generator —
        #: built to use every core — is not slowed by a crowd browsing the gallery.
        between_photos = threading.Event()
        between_photos.set()
        super().__init__(settings, camera=camera, store=store, events=events, counters=counters,
                         maker=maker, stopping=stopping, between_photos=between_photos,
                         pictures=PhonePictures(settings, store, events, counters, maker,
                                                wake=lambda: self.wake(), stopping=stopping),
                         # The print queue (None unless ``[print] enabled``).
                         prints=(PrintService(settings, store, events, between_photos=between_photos)
                                 if settings.print.enabled else None))
        #: The pictures phones asked for (uploads, re-renderings), made between cycles.
        self.queue = self.pictures.queue
        self.sync: SyncWorker | None = None  # when [sync] remote is set (booth run)
        #: Deletes photos when [privacy] keep_*_hours are up; runs with the main loop.
        self.retention = RetentionWorker(store, settings.privacy, self.delete_photo)
        #: The live anime mirror, once start_mirror() ran.
        self.mirror: mirror.Mirror | None = None
        self._last_health_key: tuple | None = None
        self._last_health_check = 0.0
        self._last_watchdog = 0.0
        self._watchdog_s = sdnotify.watchdog_interval()
        self._thread: threading.Thread | None = None
        #: Why the main loop ended by itself to be restarted (None: it did not).
        self.restart_reason: str | None = None

    # --- the model, which `booth run` loads once the web server is up ------------------
    @property
    def pipeline(self) -> Any | None:
        return self.maker.pipeline

    @pipeline.setter
    def pipeline(self, pipeline: Any | None) -> None:
        self.maker.pipeline = pipeline

    @property
    def model_message(self) -> str:
        return self.maker.model_message

    @model_message.setter
    def model_message(self, message: str) -> None:
        self.maker.model_message = message

    @property
    def processing(self) -> threading.Event:
        """Set while a photo (the guest's or an upload) is on the worker thread."""
        return self.maker.processing

    # --- figures the tests and `booth run` read -----------------------------------------
    @property
    def press_to_result_ms(self) -> deque[float]:
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

    # --- the web app's API ---------------------------------------------------------------
    def delete_photo(self, photo_id: str, reason: str) -> bool:
        """Delete a photo everywhere at once (the guest's own delete, the organiser's,
        retention): its index row and folder (every file of it), its print jobs and
        pages, the kiosk's result screen (a ``deleted`` event); True if it existed."""
        if not self.store.delete(photo_id):
            return False
        if self.prints is not None:
            self.prints.forget_photo(photo_id)
        self.counters.forget_photo(photo_id)
        self.photo_gone(photo_id)
        self.events.publish("deleted", photo_id=photo_id)
        log.info("photo deleted (%s)", reason)
        return True

    def health(self) -> dict:
        camera = self.camera.status()
        stuck = self.maker.stuck()
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
        if self.capture_due is not None and self.mirror is not None:
            # No frame may still run when the still is taken: stop a little more than
            # one frame's time before the countdown ends.
            margin_s = 1.5 * self.mirror.ms_per_frame / 1000 + 0.05
            if time.monotonic() >= self.capture_due - margin_s:
                return False
        return (self.between_photos.is_set() and not self.processing.is_set()
                and self.state in (State.IDLE, State.CONSENT, State.COUNTDOWN)
                and not self.stopping)

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
        """Queue a guest's uploaded photo (:meth:`PhonePictures.submit_upload`)."""
        return self.pictures.submit_upload(rgb, client)

    def submit_restyle(self, photo_id: str, style: str, client: str) -> str:
        """Queue a stored photo's re-rendering (:meth:`PhonePictures.submit_restyle`)."""
        return self.pictures.submit_restyle(photo_id, style, client, self.styles_available())

    def restyle_status(self, ticket: str) -> dict | None:
        """{"state": "queued"|"running"|"done"|"failed", "photo_id", "style", "ahead",
        "message"} of a re-rendering ticket (``ahead``: pictures queued before it), or None."""
        return self.queue.restyle_status(ticket)

    def upload_status(self, ticket: str) -> dict | None:
        """{"state": "queued"|"done"|"failed", "photo_id", "message"} of a ticket, or None."""
        return self.queue.upload_status(ticket)

    # --- the guest's choices (what there is to choose: booth.daemon.choices) ------------
    def styles_available(self) -> list[str]:
        return choices.styles_available(self.pipeline, self.settings)

    def style_choice(self) -> dict:
        return choices.style_choice(self.pipeline, self.settings, self.style)

    def choose_style(self, name: str | None = None, step: int = 0) -> str | None:
        """Set the next press's style (``name``, or ``step`` places along the list);
        only between photos (idle or result screen). Returns the style, None if refused."""
        chosen = self.take_choice("style", self.styles_available(), name, step)
        if chosen is not None:
            self.events.publish("style", **self.style_choice())
            log.info("style chosen: %s", chosen)
            self.maker.warm_style(chosen)
        return chosen

    def next_style(self) -> str | None:
        """The style button / a long press: the next available style."""
        return self.choose_style(step=1)

    def modes_available(self) -> list[str]:
        return choices.modes_available(self.settings)

    def mode_choice(self) -> dict:
        return choices.mode_choice(self.settings, self.mode)

    def choose_mode(self, name: str | None = None, step: int = 0) -> str | None:
        """Set what the next press makes (``name``, or ``step`` places along the list);
        only between photos. Returns the mode, None if refused."""
        chosen = self.take_choice("mode", self.modes_available(), name, step)
        if chosen is not None:
            self.events.publish("mode", **self.mode_choice())
            log.info("mode chosen: %s", chosen)
            if chosen == "boomerang":
                self.maker.warm_clip()
        return chosen

    def next_mode(self) -> str | None:
        """The style button held: the next mode (photo, strip, boomerang)."""
        return self.choose_mode(step=1)

    def warm_moments(self) -> None:
        """Compile what strips and boomerangs run, once the model is loaded, on the worker
        and before any press: the strip cell's generator shape and the boomerang's
        network (a first boomerang would otherwise wait seconds for them)."""
        modes = self.modes_available()
        if "strip" in modes and self.pipeline is not None:
            self.maker.warm_strip()
        if "boomerang" in modes:
            self.maker.warm_clip()

    def shot_jpeg(self, index: int) -> bytes | None:
        """The running (or last) strip's shot ``index`` as the kiosk shows it, or None."""
        return self.shot_jpegs.get(index)

    # --- the main loop ---------------------------------------------------------------------
    def start(self) -> Booth:
        """Run the main loop on its own thread (tests; `booth run` calls run_forever)."""
        self._thread = threading.Thread(target=self.run_forever, name="booth-main", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = SHUTDOWN_GRACE_S + 3) -> None:
        """Ask the loop to end (finishing or abandoning the cycle) and wait for it."""
        self.request_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def loop_alive(self) -> bool:
        """False once a started main loop has ended (it only ends on stop())."""
        return self._thread is None or self._thread.is_alive()

    def run_forever(self) -> None:
        """The main loop (:meth:`CycleMachine.run`), with the print queue and retention
        running beside it and the mirror stopped after it."""
        if self.prints is not None:
            self.prints.start()
        self.retention.start()
        self.run()
        self.retention.stop()
        if self.prints is not None:
            self.prints.stop()
        if self.mirror is not None:
            self.mirror.stop()

    def tick(self) -> None:
        """Every loop turn and during waits: the watchdog ping, health changes (once a
        second), and a model call stuck for good ends the loop to be restarted."""
        now = time.monotonic()
        if self._watchdog_s and now - self._last_watchdog >= self._watchdog_s:
            sdnotify.notify("WATCHDOG=1")
            self._last_watchdog = now
        if now - self._last_health_check >= 1.0:
            self._last_health_check = now
            self._publish_health_if_changed()
        restart_reason = self.maker.restart_reason()
        if restart_reason is not None and not self.stopping:
            self.restart_reason = restart_reason
            log.error("%s: ending the main loop so that the booth is restarted", self.restart_reason)
            self.request_stop()

    def _publish_health_if_changed(self) -> None:
        health = self.health()
        # The components only: the state has its own events.
        key = tuple((k, health[k]["ok"], health[k]["message"]) for k in ("camera", "model", "gpio", "disk"))
        key += (health["not_ready"],)
        if key != self._last_health_key:
            self._last_health_key = key
            self.events.publish("health", **health)

