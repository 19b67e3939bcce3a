"""Timing a network or a step: the median of repeated runs after a warm-up, on a fixed
input (a network's speed does not depend on its pixels)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def times_ms(run: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Wall time of each of ``repeats`` calls of ``run()`` in ms, after ``warmup`` calls
    (the first calls of a compiled model allocate and tune; they are not its speed)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def median_ms(run: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median of :func:`times_ms`, rounded to 0.1 ms."""
    return round(float(np.median(times_ms(run, repeats, warmup))), 1)


def random_input(shape: tuple[int, int]) -> np.ndarray:
    """A network input of (height, width) in the generator's [-1, 1] range, the same on
    every call (the convolutions' speed does not depend on the pixels)."""
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (1, *shape, 3)).astype(np.float32)


