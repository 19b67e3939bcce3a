"""Timing a network or a step: the median of repeated runs after a warm-up, on a fixed
input (a network's speed does not depend on its pixels)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def median_ms(run: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``run()`` in ms over ``repeats`` calls, after ``warmup`` calls
    (the first calls of a compiled model allocate and tune; they are not its speed)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return round(float(np.median(times)), 1)


def random_input(shape: tuple[int, int]) -> np.ndarray:
    """A network input of (height, width) in the generator's [-1, 1] range, the same on
    every call (the convolutions' speed does not depend on the pixels)."""
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (1, *shape, 3)).astype(np.float32)


