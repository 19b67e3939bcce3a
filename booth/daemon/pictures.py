"""The pictures phones ask for: uploads and re-renderings in another style.

They wait in :class:`booth.daemon.queue.UploadQueue` and are made between cycles, one at
a time, by the booth's :class:`booth.daemon.making.PhotoMaker` (a press at the booth
goes before them: the state machine decides when one runs, :meth:`PhonePictures.make`).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import numpy as np

from booth import config
from booth.daemon.events import EventBus
from booth.daemon.making import MESSAGES, CycleFailed, PhotoMaker
from booth.daemon.metrics import CycleCounters
from booth.daemon.queue import Restyle, UploadQueue
from booth.daemon.store import PhotoStore
from booth.errors import UploadRefused
from booth.vision.images import load_image

log = logging.getLogger("booth")


class PhonePictures:
    """The phones' queue and how each of its pictures is made.

    ``wake`` tells the main loop there is work; ``stopping`` set refuses new pictures
    (the queue lives in memory and ends with the process).
    """

    def __init__(self, settings: config.Settings, store: PhotoStore, events: EventBus,
                 counters: CycleCounters, maker: PhotoMaker, *, wake: Callable[[], None],
                 stopping: threading.Event) -> None:
        self.settings = settings
        self.store = store
        self.events = events
        self.counters = counters
        self.maker = maker
        self.wake = wake
        self.stopping = stopping
        self.queue = UploadQueue(settings.upload.queue_max, settings.upload.queue_total)

    def submit_upload(self, rgb: np.ndarray, client: str) -> str:
        """Queue a guest's uploaded photo for stylizing; returns a ticket id.

        When done, a ``photo`` event carries ``ticket`` and ``photo_id``;
        :meth:`upload_status` answers polls. Raises :class:`UploadRefused` when the
        client has ``[upload] queue_max`` photos waiting, everybody ``queue_total``, or
        the disk is full.
        """
        self.check_accepting()
        ticket = self.queue.put(client, rgb)
        self.wake()
        return ticket

    def submit_restyle(self, photo_id: str, style: str, client: str, styles: list[str]) -> str:
        """Queue a stored photo's re-rendering in ``style`` (one of ``styles``, those
        available); returns a ticket id.

        It counts against the client's ``[upload] queue_max``; when done, the variant
        is in the store (:meth:`PhotoStore.variants`) and the ticket says ``done``. Raises
        ValueError for an unknown photo or a style that is not available, and
        :class:`UploadRefused` when the client has too much waiting or the disk is full.
        """
        photo = self.store.get(photo_id)
        if photo is None:
            raise ValueError("there is no photo with this link")
        if style not in styles:
            raise ValueError(f"style {style!r} is not available")
        if style == photo.meta.get("style", self.settings.styles.default):
            raise ValueError("the photo is already in this style")
        if not photo.original_kept:
            raise ValueError("this photo's original is no longer kept, so it cannot be drawn again")
        if photo.meta.get("mode") == "boomerang":
            raise ValueError("a boomerang is drawn in its one fast style")
        self.check_accepting()
        ticket = self.queue.put(client, Restyle(photo_id, style))
        self.wake()
        return ticket

    def check_accepting(self) -> None:
        """Raise UploadRefused unless a queued picture will be made: not while shutting
        down, nor with a full disk."""
        if self.stopping.is_set():
            raise UploadRefused("The booth is restarting")
        if not self.store.has_room():
            raise UploadRefused(MESSAGES["disk"])

    def make(self, ticket: str, work: np.ndarray | Restyle, show: Callable[[str], bool]) -> None:
        """Make one queued picture; ``show(photo_id)`` puts an upload on the kiosk if the
        booth may (False: it did not)."""
        if isinstance(work, Restyle):
            self._restyle(ticket, work)
        else:
            self._upload(ticket, work, show)

    def _upload(self, ticket: str, rgb: np.ndarray, show: Callable[[str], bool]) -> None:
        try:
            self._check_model()
            photo, _, _ = self.maker.make_photo(rgb, "upload")
        except Exception as exc:
            self._failed("upload", ticket, exc)
            return
        self.counters.upload_done()
        self.queue.finish(ticket, photo.id)
        log.info("upload ok photo=%s", photo.id)
        if not (self.settings.upload.show_on_kiosk and show(photo.id)):
            self.events.publish("photo", photo_id=photo.id, source="upload", ticket=ticket)

    def _restyle(self, ticket: str, job: Restyle) -> None:
        try:
            self._check_model()
            original = self.store.file_path(job.photo_id, "original")
            if original is None:
                raise CycleFailed("error", "the photo was deleted")
            photo = self.store.get(job.photo_id)
            if photo is not None and photo.meta.get("mode") == "strip":
                self.maker.run_job(self.maker.restyle_strip, photo, job.style)
            else:
                self.maker.make_photo(load_image(original), "restyle", job.style, variant_of=job.photo_id)
        except Exception as exc:
            self._failed("restyle", ticket, exc)
            return
        self.queue.finish(ticket)
        log.info("restyle ok photo=%s style=%s", job.photo_id, job.style)
        self.events.publish("variant", photo_id=job.photo_id, style=job.style, ticket=ticket)

    def _check_model(self) -> None:
        if self.maker.pipeline is None:
            raise CycleFailed("model", self.maker.model_message)

    def _failed(self, what: str, ticket: str, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, CycleFailed) else "error"
        log.warning("%s failed ticket=%s: %s", what, ticket[:6], exc)
        self.queue.fail(ticket, MESSAGES[reason])
