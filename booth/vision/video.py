"""Encoding a boomerang: H.264 in MP4 (PyAV's FFmpeg with libx264) and an animated WebP
(Pillow's libwebp) for browsers without H.264 (smaller and at half the rate: libwebp
takes about ten times x264's time per frame, and it is only the fallback).

>>> mp4 = encode_mp4(frames, fps=30)     # uint8 RGB frames, all the same shape
>>> webp = encode_webp(frames, fps=30)

Both are made in memory (the store writes them to disk, complete or absent). The MP4
is yuv420p, baseline-friendly and "faststart" (its index first), so a phone starts
playing it before the last byte arrives, and every browser that plays H.264 plays it.
"""

from __future__ import annotations

import io
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

#: x264's constant quality (lower: better, bigger); 23 is its default, a clip of a
#: second and a half at 512 px comes to a few hundred KB.
MP4_CRF = 23
#: x264's speed preset: "veryfast" encodes 46 frames of 512 x 384 in a fraction of a
#: second on one core, at nearly the size of the slower presets for so short a clip.
MP4_PRESET = "veryfast"
#: Quality of the animated WebP (0..100) and libwebp's effort (0 fastest .. 6 smallest).
WEBP_QUALITY = 70
WEBP_METHOD = 0


def _even(frames: list[np.ndarray]) -> tuple[int, int]:
    """(height, width) of the frames, checked to be one shape with even sides (yuv420p)."""
    if not frames:
        raise ValueError("a clip needs at least one frame")
    shape = frames[0].shape
    if any(f.shape != shape for f in frames) or len(shape) != 3 or shape[2] != 3:
        raise ValueError("every frame of a clip must be H x W x 3 of the same size")
    if shape[0] % 2 or shape[1] % 2:
        raise ValueError(f"H.264 needs even sides, got {shape[1]} x {shape[0]}")
    return shape[0], shape[1]


def encode_mp4(frames: list[np.ndarray], fps: int) -> bytes:
    """The frames as an H.264 MP4 (yuv420p, ``fps`` frames a second), in memory."""
    height, width = _even(frames)
    # "faststart" moves the index to the front in a second pass over the file, which
    # needs a real file (it reopens it by name), not a stream in memory.
    with tempfile.TemporaryDirectory(prefix="booth-clip-") as folder:
        path = Path(folder) / "clip.mp4"
        _write_mp4(path, frames, fps, width, height)
        return path.read_bytes()


def _write_mp4(path: Path, frames: list[np.ndarray], fps: int, width: int, height: int) -> None:
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(MP4_CRF), "preset": MP4_PRESET}
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))  # flush the encoder's delayed frames


def encode_webp(frames: list[np.ndarray], fps: int, long_side: int = 0, step: int = 1) -> bytes:
    """The frames as an animated WebP that loops for ever, in memory: every ``step``-th
    frame (each shown ``step`` times as long), scaled to ``long_side`` (0: as they are)."""
    _even(frames)
    kept = frames[::step]
    if long_side and max(kept[0].shape[:2]) > long_side:
        scale = long_side / max(kept[0].shape[:2])
        size = (round(kept[0].shape[1] * scale), round(kept[0].shape[0] * scale))
        kept = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in kept]
    images = [Image.fromarray(f) for f in kept]
    out = io.BytesIO()
    images[0].save(out, "WEBP", save_all=True, append_images=images[1:], loop=0,
                   duration=round(1000 * step / fps), quality=WEBP_QUALITY, method=WEBP_METHOD)
    return out.getvalue()


def decode_mp4(data: bytes) -> tuple[dict, list[np.ndarray]]:
    """({"codec", "frames", "duration_s", "fps", "width", "height"}, RGB frames) of an MP4:
    what the tests and ``booth bench --modes`` check a clip with."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        info = {"codec": stream.codec_context.name, "frames": len(frames),
                "duration_s": float(stream.duration * stream.time_base) if stream.duration and stream.time_base else
                float(container.duration or 0) / av.time_base,
                "fps": float(stream.average_rate or 0), "width": stream.width, "height": stream.height}
    return info, frames
