"""What the booth counts: cycles, failures, ignored presses, uploads and press-to-result
times — read by ``/metrics``, the admin page and ``booth run --cycles``."""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque

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


class CycleCounters:
    """The booth's counters since it started; thread-safe (presses are counted on the
    web server's threads, cycles on the main loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
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
        #: The latest cycle for /healthz: photo id, press-to-result, ok, time (and reason).
        self.last_cycle: dict | None = None

    def cycle_ok(self, photo_id: str, press_to_result_ms: float, generator_ms: float) -> None:
        with self._lock:
            self.cycles += 1
            self.press_to_result_ms.append(press_to_result_ms)
            self.press_to_result_histogram.observe(press_to_result_ms / 1000)
            if generator_ms:
                self.generator_ms.append(generator_ms)
                self.beyond_generator_ms.append(press_to_result_ms - generator_ms)
            self.last_cycle = {"photo_id": photo_id, "press_to_result_ms": round(press_to_result_ms, 1),
                               "ok": True, "time": time.time()}

    def forget_photo(self, photo_id: str) -> None:
        """A deleted photo's id leaves the latest cycle's record."""
        with self._lock:
            if self.last_cycle is not None and self.last_cycle.get("photo_id") == photo_id:
                self.last_cycle = {**self.last_cycle, "photo_id": None}

    def cycle_failed(self, reason: str) -> None:
        with self._lock:
            self.failures += 1
            self.last_cycle = {"photo_id": None, "press_to_result_ms": None, "ok": False,
                               "time": time.time(), "reason": reason}

    def press_ignored(self) -> int:
        """Count an ignored press; returns the count so far."""
        with self._lock:
            self.ignored_presses += 1
            return self.ignored_presses

    def upload_done(self) -> None:
        with self._lock:
            self.uploads += 1

    def snapshot(self, photos: int) -> dict:
        """The counters as ``stats()`` gives them, with the store's ``photos`` count."""
        with self._lock:
            return {"cycles": self.cycles, "failures": self.failures,
                    "ignored_presses": self.ignored_presses, "photos": photos,
                    "press_to_result_ms": list(self.press_to_result_ms),
                    "press_to_result_histogram": self.press_to_result_histogram.snapshot(),
                    "uploads": self.uploads}

    def summary(self) -> str:
        """Median press-to-result and the share beyond the generator, for --cycles."""
        with self._lock:
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
