"""The one sliding-window limit behind wrong passwords, wrong PINs and uploads per minute:
its edge rule (an event exactly a window old no longer counts), "try again in N s" that
is never a second late, and memory bounded by key count."""

from __future__ import annotations

import threading

import pytest

from booth.ratelimit import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_holds_until_the_oldest_event_is_exactly_a_window_old():
    clock = Clock()
    window = SlidingWindow(3, 60.0, clock=clock)
    for _ in range(3):
        assert window.retry_after("phone") == 0
        window.add("phone")
    assert window.retry_after("phone") == 60
    clock.now += 44.5
    assert window.retry_after("phone") == 16  # 15.5 s left, rounded up: never early
    clock.now += 15.4
    assert window.retry_after("phone") == 1 and window.count("phone") == 3
    clock.now += 0.1  # exactly 60 s after the events: they no longer count
    assert window.retry_after("phone") == 0 and window.count("phone") == 0
    assert window.retry_after("another phone") == 0


def test_waiting_as_long_as_told_always_lets_the_client_in():
    clock = Clock()
    window = SlidingWindow(2, 10.0, clock=clock)
    for step in (0.0, 0.3, 2.7, 9.99, 0.01, 4.2):
        clock.now += step
        wait = window.retry_after("c")
        if wait:
            clock.now += wait
            assert window.retry_after("c") == 0
        window.add("c")


def test_memory_is_bounded_by_keys_and_by_the_limit():
    clock = Clock()
    window = SlidingWindow(2, 60.0, max_keys=3, clock=clock)
    for key in "abcd":
        window.add(key)
    assert window.count("a") == 0  # the key seen longest ago was forgotten
    assert [window.count(k) for k in "bcd"] == [1, 1, 1]
    for _ in range(100):
        window.add("b")
    assert window.count("b") == 2  # older events cannot change the answer


def test_events_added_from_threads_are_all_counted():
    window = SlidingWindow(10_000, 60.0)
    threads = [threading.Thread(target=lambda: [window.add("x") for _ in range(500)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert window.count("x") == 4000


def test_a_limit_below_one_is_refused_in_a_sentence():
    with pytest.raises(ValueError, match="limit must be at least 1, not 0"):
        SlidingWindow(0, 60.0)
