"""The event bus: how the booth tells the screen and the gallery what is happening.

Every state change of the cycle, every stored photo and every health change is
*published* once; any number of readers *subscribe* and get them in order::

    bus = EventBus()
    with bus.subscribe() as sub:          # e.g. one per open /events page
        bus.publish("state", state="countdown", seconds_left=3)
        event = sub.get(timeout=1.0)      # Event(id=1, kind="state", data={...}, time=...)

Publishing never blocks: a reader that stops reading (a phone that went to sleep)
loses its oldest events rather than holding up the booth. ``latest(kind)`` gives
a page that has just connected the current state without waiting for a change.

Event kinds (the screens' pages depend on them): ``state``, ``health``,
``photo``, ``deleted`` (a photo is gone: the kiosk lets go of it), ``press_ignored``.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    id: int       #: increases by one per published event (SSE "id:")
    kind: str
    data: dict = field(default_factory=dict)
    time: float = 0.0  #: epoch seconds


class Subscription:
    """One reader's queue of events; ``get`` waits for the next one."""

    def __init__(self, bus: "EventBus", max_pending: int) -> None:
        self._bus = bus
        self._pending: collections.deque[Event] = collections.deque(maxlen=max_pending)
        self._ready = threading.Condition()
        self.closed = False
        self.dropped = 0  #: events lost because this reader fell behind

    def _put(self, event: Event) -> None:
        with self._ready:
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(event)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds (or once closed)."""
        with self._ready:
            if not self._pending and not self.closed:
                self._ready.wait(timeout)
            return self._pending.popleft() if self._pending else None

    def close(self) -> None:
        """Stop receiving; a reader blocked in ``get`` returns None at once."""
        self._bus._unsubscribe(self)
        with self._ready:
            self.closed = True
            self._ready.notify_all()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventBus:
    """Publish events to every subscriber; thread-safe, never blocks the publisher."""

    def __init__(self, max_pending: int = 256) -> None:
        self._lock = threading.Lock()
        self._next_id = 1
        self._subscribers: set[Subscription] = set()
        self._latest: dict[str, Event] = {}
        self._last: Event | None = None
        self._max_pending = max_pending

    def publish(self, kind: str, **data) -> Event:
        with self._lock:
            event = Event(self._next_id, kind, dict(data), time.time())
            self._next_id += 1
            self._latest[kind] = event
            self._last = event
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub._put(event)
        return event

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._max_pending)
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def latest(self, kind: str | None = None) -> Event | None:
        """The most recent event of ``kind`` (or of any kind), or None."""
        with self._lock:
            return self._last if kind is None else self._latest.get(kind)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)
