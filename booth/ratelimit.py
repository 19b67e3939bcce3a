"""At most N events per key in a sliding window: wrong passwords, wrong PINs, uploads;
and :class:`FailureThrottle`, wrong guesses limited per client and for everybody together.

One edge rule for every limit in the booth: an event at time ``t`` counts while
``now - t < window_s`` — an event exactly ``window_s`` old no longer counts. So a
client told "try again in N s" (:meth:`SlidingWindow.retry_after`, N rounded up
to whole seconds) is let in when it does, never a second later than it was told.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Callable

#: Keys remembered at most (the one seen longest ago is forgotten first): a crowd of
#: addresses cannot grow the booth's memory.
MAX_KEYS = 4096


class SlidingWindow:
    """At most ``limit`` events per key within the last ``window_s`` seconds.

    Thread-safe. ``clock`` is injectable so tests can step time. Only the latest
    ``limit`` events of a key are kept: older ones cannot change the answer.
    """

    def __init__(self, limit: int, window_s: float, *, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError(f"a sliding window's limit must be at least 1, not {limit}")
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._times: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> collections.deque[float]:
        times = self._times.get(key)
        if times is None:
            return collections.deque(maxlen=self.limit)
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def count(self, key: str) -> int:
        """Events of ``key`` that still count."""
        with self._lock:
            return len(self._recent(key, self.clock()))

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` is under the limit again (0 = now)."""
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if len(times) < self.limit:
                return 0
            return max(1, math.ceil(self.window_s - (now - times[0])))

    def add(self, key: str) -> None:
        """Count one event for ``key`` now."""
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            times.append(now)
            self._times[key] = times
            self._times.move_to_end(key)
            while len(self._times) > self.max_keys:
                self._times.popitem(last=False)


#: While one warning repeats, a summary line at most this often.
REPEAT_SUMMARY_S = 600.0


class RepeatedWarning:
    """One log line when a problem starts, not one per retry: a loop that retries every
    second while a printer or a server is down would write tens of thousands of lines
    in a night (the journal, and the SD card under it). The first occurrence is logged;
    while the same message repeats, one summary every ``summary_s``; when it stops
    (:meth:`over`) or changes, one line with how often it repeated.

    One instance per loop (not thread-safe); ``clock`` is injectable for tests.
    """

    def __init__(self, logger, summary_s: float = REPEAT_SUMMARY_S, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.summary_s = summary_s
        self.clock = clock
        self._message: str | None = None
        self._since = 0.0
        self._repeats = 0  # not logged since the last line

    def warning(self, message: str) -> None:
        """Report the problem (again)."""
        now = self.clock()
        if message != self._message:
            self.over()
            self.logger.warning("%s", message)
            self._message, self._since = message, now
        elif now - self._since >= self.summary_s:
            self.logger.warning("%s (again %d times in the last %.0f s)", message, self._repeats + 1,
                                now - self._since)
            self._since, self._repeats = now, 0
        else:
            self._repeats += 1

    def over(self) -> None:
        """The problem is gone: say how often it repeated unlogged, and log its next start."""
        if self._message is not None and self._repeats:
            self.logger.warning("%s (again %d times, then it stopped)", self._message, self._repeats)
        self._message, self._repeats = None, 0


class FailureThrottle:
    """At most ``limit`` failed guesses (passwords, PINs) per client address, and
    ``total_limit`` for all addresses together, per ``window_s`` (the edge rule of
    :class:`SlidingWindow`): many addresses guessing at once is an attack, not a typo.

    Memory stays bounded: at most ``max_clients`` addresses are remembered (the
    oldest are forgotten first).
    """

    #: The key under which every failure is counted as well.
    EVERYBODY = "*"

    def __init__(self, limit: int, total_limit: int, window_s: float = 60.0, *,
                 max_clients: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_client = SlidingWindow(limit, window_s, max_keys=max_clients, clock=clock)
        self._everybody = SlidingWindow(total_limit, window_s, max_keys=1, clock=clock)

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0 = now)."""
        return max(self._per_client.retry_after(client), self._everybody.retry_after(self.EVERYBODY))

    def failed(self, client: str) -> None:
        self._per_client.add(client)
        self._everybody.add(self.EVERYBODY)
