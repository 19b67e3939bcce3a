"""From the generator's 384–512 px output to a sharp full-resolution portrait.

The generator cannot afford more than about 512 px, but the crop it ran on came from
a far larger camera frame. :func:`upsample` makes the stored image at the crop's own
resolution (up to ``[storage] result_long_side``) from three pictures of the same
region: the generator's output, the crop the generator saw, and the same crop
rendered at full resolution (the *guide*).

1. **Guided detail transfer.** A bicubic upscale of the generator's output, plus the
   guide's own fine detail (its luminance minus a plain upscale of the small crop),
   scaled per pixel and channel by how strongly the anime picture follows the photo
   there: the slope ``a`` of a local linear fit anime ≈ a · photo + b (the guided
   filter's coefficients, computed at the generator's size and upscaled, as in the
   fast guided filter). Where the generator drew flat colour (skin), ``a`` is near 0
   and the photo's texture stays out; where it kept an edge (eyes, hair, collar),
   the edge comes back at full resolution.
2. **Edge snapping** at half strength: near strong edges each pixel moves halfway
   towards the nearer of its neighbourhood's darkest and brightest value, so the
   lines the generator drew are crisp rather than blurred by the upscale. The value
   stays inside the neighbourhood's range: it cannot add a halo.

Chosen by measurement (``scripts/upscale_candidates.py``, the table in docs/generator.md)
over a plain bicubic upscale, the fast guided filter itself (softer than bicubic: its averaged
coefficients blur the lines the generator drew), joint bilateral upsampling (as soft,
and about 20× slower) and unweighted detail transfer (the photo's full texture: skin
pores, and the most overshoot at edges).

Everything is numpy + OpenCV's core functions (box filters, resizes, erode/dilate),
so it runs the same on a Pi's arm64. Its cost is a fraction of the generator's (the
figures in docs/generator.md) because every full-resolution step is one SIMD pass over one plane:
the snapping is worked out once on the luminance, in uint8, the colour channels one
at a time in float32, and the planes are kept between photos (about 41 MiB at 1350 px,
per thread that upsamples) rather than allocated afresh.
"""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np

#: Guided-filter window radius (pixels at the generator's size) and regulariser
#: (grey levels², about a 1 % contrast step): a flatter patch than that counts as flat.
GUIDE_RADIUS = 1
GUIDE_EPS = (0.01 * 255) ** 2
#: The slope ``a`` is clipped to 0..SLOPE_MAX: a negative slope is a colour the generator
#: turned around, not detail to copy, and a noisy fit must not blow the photo's grain up.
SLOPE_MAX = 3.0
#: Edge snapping: share of the way towards the neighbourhood's extreme, and the local
#: contrast (grey levels, max − min) over which it fades in.
SNAP_STRENGTH = 0.5
SNAP_FROM, SNAP_OVER = 8.0, 24.0


def result_shape(generated_hw: tuple[int, int], crop_scale: float,
                 long_side: int) -> tuple[int, int]:
    """(height, width) of the stored image for a generator crop of ``generated_hw``.

    ``crop_scale`` is crop pixels per frame pixel, so ``max(generated_hw) / crop_scale``
    is the crop's own resolution in the frame. The long side is ``long_side`` but never
    more than that (no upscaling beyond the photo) and never less than the generator's
    own size; the aspect is the crop's. ``long_side`` 0 keeps the generator's size.
    """
    h, w = generated_hw
    generated_long = max(h, w)
    if long_side <= 0 or crop_scale <= 0:
        return h, w
    own = generated_long / crop_scale
    target = math.floor(min(long_side, own) + 1e-6)
    if target <= generated_long:
        return h, w
    ratio = target / generated_long
    if h >= w:
        return target, max(1, round(w * ratio))
    return max(1, round(h * ratio)), target


def _box(image: np.ndarray, radius: int, dst: np.ndarray | None = None) -> np.ndarray:
    side = 2 * radius + 1
    return cv2.blur(image, (side, side), dst=dst, borderType=cv2.BORDER_REFLECT)


class _Planes(threading.local):
    """Work planes kept between calls, by name (one set per thread, each for the latest
    size asked). Fresh arrays of these sizes come from the kernel as zeroed pages, one
    page fault per 4 KiB: for a 1350 px result that was as much time as the arithmetic."""

    def __init__(self) -> None:
        self.planes: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        plane = self.planes.get(name)
        if plane is None or plane.shape != shape or plane.dtype != dtype:
            self.planes[name] = plane = np.empty(shape, dtype)
        return plane


_planes = _Planes()


def guide_slopes(photo_grey: np.ndarray, anime: np.ndarray, radius: int = GUIDE_RADIUS,
                 eps: float = GUIDE_EPS) -> np.ndarray:
    """Per pixel and channel, the slope ``a`` of the local fit anime ≈ a · photo + b.

    The guided filter's first coefficient (box-filtered over the same window, as
    the guided filter does), for an H×W float32 grey photo and an H×W×3 anime image.
    """
    return cv2.merge(_slope_planes(photo_grey.astype(np.float32), _float_planes(anime, "anime"),
                                   radius, eps))


def _slope_planes(photo_grey: np.ndarray, anime: list[np.ndarray], radius: int = GUIDE_RADIUS,
                  eps: float = GUIDE_EPS) -> list[np.ndarray]:
    """:func:`guide_slopes` for the anime image's float32 channel planes, one plane per
    channel (OpenCV's box filter is several times slower on interleaved channels than
    on three single planes), in the kept work planes: the next call overwrites them."""
    def plane(name: str) -> np.ndarray:
        return _planes.get(name, photo_grey.shape, np.float32)

    mean_i = _box(photo_grey, radius, plane("mean_photo"))
    inverse = _box(cv2.multiply(photo_grey, photo_grey, dst=plane("product")), radius,
                   plane("inverse"))
    cv2.subtract(inverse, cv2.multiply(mean_i, mean_i, dst=plane("product")), dst=inverse)
    cv2.divide(1.0, cv2.add(inverse, eps, dst=inverse), dst=inverse)   # 1 / (variance + eps)
    planes = []
    for c, channel in enumerate(anime):
        cov = _box(cv2.multiply(channel, photo_grey, dst=plane("product")), radius, plane("cov"))
        mean_p = _box(channel, radius, plane("product"))
        cv2.subtract(cov, cv2.multiply(mean_p, mean_i, dst=mean_p), dst=cov)
        slope = _box(cv2.multiply(cov, inverse, dst=cov), radius, plane(f"slope{c}"))
        planes.append(np.clip(slope, 0.0, SLOPE_MAX, out=slope))
    return planes


def _float_planes(rgb: np.ndarray, name: str) -> list[np.ndarray]:
    """The three channels of a uint8 image as float32 work planes."""
    planes = [_planes.get(f"{name}{c}", rgb.shape[:2], np.float32) for c in range(3)]
    for c, plane in enumerate(planes):
        np.copyto(plane, rgb[..., c])
    return planes


def snap_shift(grey: np.ndarray, radius: int, strength: float = SNAP_STRENGTH) -> np.ndarray:
    """Per pixel, the luminance shift (float32) that moves it ``strength`` of the way to
    its window's nearer extreme, fading in with the window's contrast, for a uint8 H×W
    luminance. The same shift goes to all three channels, so edges get no colour fringes.
    The shifted value stays inside the window's range: no overshoot.
    """
    down, up = _snap_steps(grey, radius, strength)
    return cv2.subtract(up, down, dtype=cv2.CV_32F)


def _snap_steps(grey: np.ndarray, radius: int, strength: float = SNAP_STRENGTH
                ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`snap_shift` as two uint8 work planes, the steps down and up (one of them 0
    at each pixel)."""
    shape = grey.shape
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    # In uint8 (saturating), each step one SIMD pass over a quarter of a float plane.
    down = cv2.erode(grey, kernel, dst=_planes.get("snap_down", shape, np.uint8))
    up = cv2.dilate(grey, kernel, dst=_planes.get("snap_up", shape, np.uint8))
    fade = cv2.subtract(up, down, dst=_planes.get("snap_fade", shape, np.uint8))
    cv2.subtract(fade, SNAP_FROM, dst=fade)  # type: ignore[call-overload]  # cv2's stubs lack the scalar operand
    cv2.min(fade, SNAP_OVER, dst=fade)                  # the contrast's fade-in, 0..SNAP_OVER
    cv2.subtract(grey, down, dst=down)                  # how far down to the darkest,
    cv2.subtract(up, grey, dst=up)                      # and up to the brightest
    nearer_low = cv2.compare(down, up, cv2.CMP_LT, dst=_planes.get("snap_mask", shape, np.uint8))
    cv2.bitwise_and(down, nearer_low, dst=down)         # each pixel moves one way only
    cv2.bitwise_and(up, cv2.bitwise_not(nearer_low, dst=nearer_low), dst=up)
    scale = strength / SNAP_OVER
    return (cv2.multiply(down, fade, dst=down, scale=scale),
            cv2.multiply(up, fade, dst=up, scale=scale))


def upsample(generated: np.ndarray, crop: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """The generator's output at the guide's resolution, sharpened by the guide.

    ``generated`` is the generator's output for ``crop`` (same size); ``guide`` is the
    same region rendered at full resolution, RGB or just its luminance (H×W uint8: only
    that is used, and a grey render of the frame costs a third). Returns uint8 RGB at
    the guide's size.
    """
    if generated.shape != crop.shape:
        raise ValueError(f"generated {generated.shape} and crop {crop.shape} differ in size")
    height, width = guide.shape[:2]
    if (height, width) == generated.shape[:2]:
        return generated
    size, shape = (width, height), (height, width)
    # Every array here is a kept work plane, small ones too: fresh arrays of the
    # generator's size come from the kernel as well, at the same cost per page.
    small_grey = _planes.get("photo", crop.shape[:2], np.float32)
    np.copyto(small_grey, cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY,
                                       dst=_planes.get("photo_u8", crop.shape[:2], np.uint8)))
    colours = _float_planes(generated, "colour")
    slopes = _slope_planes(small_grey, colours)
    detail = cv2.resize(small_grey, size, dst=_planes.get("detail", shape, np.float32),
                        interpolation=cv2.INTER_LINEAR)
    guide_grey = _planes.get("guide", shape, np.uint8)
    if guide.ndim == 2:
        np.copyto(guide_grey, guide)                    # its plane takes a colour channel later
    else:
        cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY, dst=guide_grey)
    cv2.subtract(guide_grey, detail, dst=detail, dtype=cv2.CV_32F)
    channel = _planes.get("channel", shape, np.float32)
    slope = _planes.get("slope", shape, np.float32)
    # The guide's plane is free again: it takes the first colour channel.
    planes = [guide_grey, *(_planes.get(f"result{c}", shape, np.uint8) for c in (1, 2))]
    for colour, colour_slope, plane in zip(colours, slopes, planes):
        cv2.resize(colour, size, dst=channel, interpolation=cv2.INTER_CUBIC)
        cv2.resize(colour_slope, size, dst=slope, interpolation=cv2.INTER_LINEAR)
        cv2.accumulateProduct(slope, detail, channel)
        cv2.add(channel, 0.0, dst=plane, dtype=cv2.CV_8U)
    # The snapping, on the luminance of the result so far, moves all three channels alike.
    grey = cv2.cvtColor(cv2.merge(planes, dst=_planes.get("merged", (*shape, 3), np.uint8)),
                        cv2.COLOR_RGB2GRAY, dst=_planes.get("grey", shape, np.uint8))
    factor = max(height, width) / max(generated.shape[:2])
    down, up = _snap_steps(grey, max(1, round(factor / 2)))
    for plane in planes:
        cv2.add(cv2.subtract(plane, down, dst=plane), up, dst=plane)
    return cv2.merge(planes)
