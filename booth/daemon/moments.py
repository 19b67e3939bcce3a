"""What a strip's shots and a boomerang's frames become in the store: one item each.

The booth's cycle (:mod:`booth.daemon.machine`) takes the pictures and runs these on
its worker thread; here they are composed and encoded into the files
:meth:`booth.daemon.store.PhotoStore.save` keeps together (see the store's docstring).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from booth.vision import boomerang, strip
from booth.vision.images import encode_jpeg


@dataclass
class Shot:
    """One strip shot, stylized: its cell, its camera frame (small, and as JPEG for the
    store), the faces found and what it cost."""

    cell: np.ndarray
    original: np.ndarray
    original_jpeg: bytes
    faces: int
    generator_ms: float
    total_ms: float


@dataclass
class Item:
    """A strip or a boomerang ready for the store: its "before" picture, its picture,
    its meta and extra files, and the time each step took."""

    original: np.ndarray
    anime: np.ndarray
    meta: dict
    extras: dict[str, bytes]
    stage_ms: dict[str, float] = field(default_factory=dict)


def make_shot(maker: strip.ShotPipeline, frame: np.ndarray, style: str | None,
              quality: int) -> tuple[Shot, bytes]:
    """One shot through the cell's pipeline (``style`` None: the default): the shot and
    its cell as JPEG (what the kiosk shows as it lands)."""
    started = time.perf_counter()
    cell, result = maker.stylize(frame, style)
    shot = Shot(cell, frame, encode_jpeg(frame, quality), len(result.faces),
                float(result.timings_ms.get("generator", 0.0)), (time.perf_counter() - started) * 1e3)
    return shot, encode_jpeg(cell, quality)


def strip_item(shots: list[Shot], style: str, accent: str, quality: int) -> Item:
    """The 2x2 square as the picture (and the frames' square as its "before"), the 2x6
    strip and each shot's frame as its extra files."""
    started = time.perf_counter()
    cells = [shot.cell for shot in shots]
    square = strip.compose_square(cells, accent)
    extras = {"strip.jpg": encode_jpeg(strip.compose_strip(cells, accent), quality)}
    extras |= {f"shot-{i + 1}.jpg": shot.original_jpeg for i, shot in enumerate(shots)}
    meta = {"mode": "strip", "shots": len(shots), "size": strip.SHOT_GENERATOR_SIZE,
            "faces": sum(shot.faces for shot in shots), "style": style,
            "timings_ms": {"shots": [round(shot.total_ms, 1) for shot in shots]},
            "result_size": [int(square.shape[1]), int(square.shape[0])]}
    return Item(strip.compose_square([shot.original for shot in shots], accent), square, meta, extras,
                {"compose": (time.perf_counter() - started) * 1e3})


def boomerang_item(frames: list[np.ndarray], camera_frame: np.ndarray | None, style: str) -> Item:
    """The stylized burst played there and back as MP4 and animated WebP; the middle
    frame as the picture (gallery, prints), the camera's middle frame as its "before"."""
    started = time.perf_counter()
    extras = {"boomerang.mp4": boomerang.mp4_of(frames)}
    encoded = time.perf_counter()
    extras["boomerang.webp"] = boomerang.webp_of(frames)
    still = boomerang.still_of(frames)
    meta = {"mode": "boomerang", "frames": len(boomerang.forward_backward(frames)), "fps": boomerang.PLAY_FPS,
            "size": int(max(still.shape[:2])), "faces": 0, "style": style,
            "result_size": [int(still.shape[1]), int(still.shape[0])]}
    return Item(camera_frame if camera_frame is not None else still, still, meta, extras,
                {"mp4": (encoded - started) * 1e3, "webp": (time.perf_counter() - encoded) * 1e3})
