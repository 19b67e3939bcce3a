"""Forgetting on time: each photo's original and then the whole photo are deleted when
``[privacy] keep_originals_hours`` and ``keep_results_hours`` are up.

**Which clock.** A Raspberry Pi has no battery clock: offline, it starts at the time
it last saved (its last shutdown, fake-hwclock), and when it reaches an NTP server the
wall clock jumps forward — by days if the booth was stored. Ages measured on the wall
clock would then make every photo look that much older, and delete it early. So a
photo's age is counted on the :class:`RetentionClock`: the booth's own running time
(``time.monotonic``, which never jumps), kept in the photo index, plus the
time it was off *as the wall clock says at the next start* (never less than zero).
A jump while the booth runs is never counted; one that happened while it was off is,
only as far as the wall clock went past the last saved reading. The error is always
on the late side: a booth started before NTP has set the clock counts the time it was
off as zero, and keeps photos longer, never shorter.

**Off the main loop.** :class:`RetentionWorker` runs a pass at start and every
:data:`PASS_S` on its own low-priority thread, deleting one photo at a time through
the booth's own delete (:meth:`booth.daemon.booth.Booth.delete_photo`: store, print
jobs, kiosk), so a long pass on a slow SD card never holds the main loop or its
watchdog. Each delete takes the index row first, so a power cut leaves a photo
complete or absent and the store's repair at the next start removes what was left.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from booth import threads

log = logging.getLogger(__name__)

#: How often a retention pass runs (seconds of the booth's running time).
PASS_S = 300.0
#: Niceness of the retention thread: deleting yields the CPU to the photos.
RETENTION_NICENESS = 10
HOUR_S = 3600.0


class RetentionClock:
    """Seconds of the booth's life (see the module docstring): monotonic while it runs,
    plus the wall clock's forward time between a saved reading and the next start.

    ``saved`` is the last reading (elapsed, wall) or None; ``keep(elapsed, wall)``
    keeps a new one (the photo store keeps it in its index). ``monotonic`` and
    ``wall`` are injectable, so tests step time without sleeping.
    """

    def __init__(self, saved: tuple[float, float] | None, keep: Callable[[float, float], None], *,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._keep = keep
        self._monotonic = monotonic
        self._wall = wall
        # The time it was off, as far as the wall clock says now; a clock behind the
        # last reading (not set yet, or set back) counts as no time at all.
        off_s = max(0.0, wall() - saved[1]) if saved else 0.0
        self._base = (saved[0] if saved else 0.0) + off_s
        self._started = monotonic()
        self.save()

    def now(self) -> float:
        """The booth's age in seconds (never goes back, never jumps)."""
        return self._base + max(0.0, self._monotonic() - self._started)

    def save(self) -> None:
        """Keep the reading (with the wall clock's), so the next start goes on from it."""
        self._keep(self.now(), self._wall())


class RetentionWorker:
    """Runs retention passes on a thread of its own (module docstring).

    ``delete`` deletes one whole photo everywhere (the booth's delete); ``store`` is
    the :class:`~booth.daemon.store.PhotoStore`, whose ``clock`` ages the photos.
    """

    def __init__(self, store, privacy, delete: Callable[[str, str], bool], *,
                 pass_s: float = PASS_S) -> None:
        self.store = store
        self.privacy = privacy
        self.delete = delete
        self.pass_s = pass_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    @property
    def enabled(self) -> bool:
        return bool(self.privacy.keep_originals_hours or self.privacy.keep_results_hours)

    def run_pass(self) -> dict[str, int]:
        """Delete what is due now; {"originals": n, "photos": n}."""
        started = time.perf_counter()
        done = {"originals": 0, "photos": 0}
        originals_s = self.privacy.keep_originals_hours * HOUR_S
        results_s = self.privacy.keep_results_hours * HOUR_S
        if results_s:
            for photo_id in self.store.born_before(self.store.clock.now() - results_s):
                if self._stopping.is_set():
                    break
                done["photos"] += bool(self.delete(photo_id, "retention"))
        if originals_s:
            for photo_id in self.store.born_before(self.store.clock.now() - originals_s,
                                                   with_original=True):
                if self._stopping.is_set():
                    break
                done["originals"] += bool(self.store.drop_original(photo_id))
        self.store.clock.save()
        self.passes += 1
        if any(done.values()):
            log.info("retention: deleted %d originals (kept %d h) and %d photos (kept %d h) in %.2f s",
                     done["originals"], self.privacy.keep_originals_hours, done["photos"],
                     self.privacy.keep_results_hours, time.perf_counter() - started)
        return done

    def start(self) -> "RetentionWorker":
        self._thread = threads.start_daemon(self._run, "booth-retention")
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        threads.yield_cpu(RETENTION_NICENESS)  # never competes with the generator for the CPU
        while not self._stopping.is_set():
            try:
                if self.enabled:
                    self.run_pass()
                else:
                    self.store.clock.save()
            except Exception:  # the retention thread must outlive any surprise
                log.exception("retention: pass failed")
            self._stopping.wait(self.pass_s)
