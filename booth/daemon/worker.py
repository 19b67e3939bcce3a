"""One background thread that runs calls with a deadline, and can be given up on.

The booth calls things that may hang for ever — a camera whose cable wiggled, a
model call stuck in a driver. Python cannot kill a thread, so :class:`Worker` runs
each call on its own daemon thread and the caller waits with a timeout::

    worker = Worker("camera")
    frame = worker.call(camera.capture, timeout=5.0)   # raises CallTimeout if it hangs

After a timeout the worker is *abandoned*: its thread (stuck in the call) is left
behind as a daemon thread that cannot block the process from exiting, and the next
``call`` starts a fresh thread. Calls never run two at a time on one worker.

An abandoned call still holds its arguments (a 12 MP frame is 36 MB) and its thread.
:meth:`Worker.stuck_s` says how long such a call has been stuck, so a caller that
cannot afford a pile of them (the booth's processing) starts no new call until the
stuck one returns, and can ask for a restart when it never does.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable


class CallTimeout(TimeoutError):
    """The call did not finish in time; its thread was abandoned."""


class Worker:
    """A single daemon thread that runs one call at a time (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()  # one call at a time
        self._jobs: queue.SimpleQueue | None = None
        self._thread: threading.Thread | None = None
        self.abandoned = 0  # threads given up on (hung calls)
        self._current: Future | None = None  # the last call submitted
        self._stuck: list[tuple[Future, float]] = []  # abandoned calls, monotonic time given up on
        self._stuck_lock = threading.Lock()  # abandon() and stuck_s() run on different threads

    def _start(self) -> queue.SimpleQueue:
        jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, args=(jobs,), name=self.name, daemon=True)
        self._jobs = jobs
        self._thread.start()
        return jobs

    @staticmethod
    def _loop(jobs: queue.SimpleQueue) -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller, who decides
                future.set_exception(exc)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue ``fn(*args)`` on the worker's thread; returns its Future."""
        future: Future = Future()
        jobs = self._jobs or self._start()
        self._current = future
        jobs.put((future, fn, args))
        return future

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """Run ``fn(*args)`` on the worker's thread and return its result.

        Raises whatever ``fn`` raised, or :class:`CallTimeout` after ``timeout``
        seconds (the thread is then abandoned and a new one serves the next call).
        """
        with self._lock:
            future = self.submit(fn, *args)
            try:
                return future.result(timeout=timeout)
            except TimeoutError:
                if future.done():  # finished in the very last instant
                    return future.result()
                self.abandon()
                raise CallTimeout(f"{self.name}: no answer after {timeout:g} s") from None

    def abandon(self) -> None:
        """Give up on the current thread (it may be hung); the next call gets a new one."""
        if self._jobs is not None:
            self._jobs.put(None)  # ends the thread if the stuck call ever returns
            self.abandoned += 1
            if self._current is not None and not self._current.done():
                with self._stuck_lock:
                    self._stuck.append((self._current, time.monotonic()))
        self._jobs = None
        self._thread = None
        self._current = None

    def _still_stuck(self) -> list[tuple[Future, float]]:
        """The abandoned calls that have not returned yet, oldest first."""
        with self._stuck_lock:
            self._stuck = [(future, since) for future, since in self._stuck if not future.done()]
            return list(self._stuck)

    def stuck_s(self) -> float | None:
        """How long the oldest abandoned call that has not returned yet has been given
        up on; None when every abandoned call has returned."""
        stuck = self._still_stuck()
        return time.monotonic() - stuck[0][1] if stuck else None

    def stuck_calls(self) -> int:
        """How many abandoned calls have not returned yet (each holds a thread)."""
        return len(self._still_stuck())

    def stop(self, timeout: float = 1.0) -> bool:
        """End the thread after its current call; True if it ended within ``timeout``."""
        thread, jobs = self._thread, self._jobs
        self._jobs = self._thread = None
        if jobs is None or thread is None:
            return True
        jobs.put(None)
        thread.join(timeout)
        return not thread.is_alive()
