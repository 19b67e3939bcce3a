"""The event bus: order, fan-out, latest, slow readers, closing."""

from __future__ import annotations

import threading
import time

from booth.daemon.events import EventBus


def test_subscribers_get_every_event_in_order():
    bus = EventBus()
    with bus.subscribe() as a, bus.subscribe() as b:
        for n in range(5):
            bus.publish("state", state="countdown", seconds_left=5 - n)
        for sub in (a, b):
            got = [sub.get(timeout=1).data["seconds_left"] for _ in range(5)]
            assert got == [5, 4, 3, 2, 1]
            assert sub.get(timeout=0.01) is None


def test_ids_increase_and_latest_per_kind():
    bus = EventBus()
    first = bus.publish("state", state="idle")
    photo = bus.publish("photo", photo_id="x" * 22)
    second = bus.publish("state", state="countdown", seconds_left=3)
    assert first.id < photo.id < second.id
    assert bus.latest("state") == second
    assert bus.latest("photo") == photo
    assert bus.latest() == second
    assert bus.latest("health") is None
    assert second.time > 0


def test_get_waits_for_an_event_from_another_thread():
    bus = EventBus()
    sub = bus.subscribe()
    threading.Timer(0.1, lambda: bus.publish("photo", photo_id="abc")).start()
    started = time.monotonic()
    event = sub.get(timeout=5)
    assert event is not None and event.data == {"photo_id": "abc"}
    assert time.monotonic() - started < 4
    sub.close()


def test_a_slow_reader_loses_old_events_but_never_blocks_the_publisher():
    bus = EventBus(max_pending=10)
    sub = bus.subscribe()
    for n in range(100):
        bus.publish("press_ignored", count=n)
    got = [sub.get(timeout=0).data["count"] for _ in range(10)]
    assert got == list(range(90, 100))
    assert sub.dropped == 90


def test_close_unsubscribes_and_wakes_a_waiting_reader():
    bus = EventBus()
    sub = bus.subscribe()
    assert bus.subscriber_count == 1
    result = []
    reader = threading.Thread(target=lambda: result.append(sub.get(timeout=30)))
    reader.start()
    time.sleep(0.05)
    sub.close()
    reader.join(5)
    assert not reader.is_alive() and result == [None]
    assert bus.subscriber_count == 0
    bus.publish("state", state="idle")  # no subscriber left: nothing queued
    assert sub.get(timeout=0) is None
