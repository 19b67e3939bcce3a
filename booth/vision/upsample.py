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

Chosen by measurement (``scripts/upscale_candidates.py``, the README's table) over a
plain bicubic upscale, the fast guided filter itself (softer than bicubic: its averaged
coefficients blur the lines the generator drew), joint bilateral upsampling (as soft,
and about 20× slower) and unweighted detail transfer (the photo's full texture: skin
pores, and the most overshoot at edges).

Everything is numpy + OpenCV's core functions (box filters, resizes, erode/dilate),
so it runs the same on a Pi's arm64.
"""

from __future__ import annotations

import math

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


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    side = 2 * radius + 1
    return cv2.blur(image, (side, side), borderType=cv2.BORDER_REFLECT)


def guide_slopes(photo_grey: np.ndarray, anime: np.ndarray, radius: int = GUIDE_RADIUS,
                 eps: float = GUIDE_EPS) -> np.ndarray:
    """Per pixel and channel, the slope ``a`` of the local fit anime ≈ a · photo + b.

    The guided filter's first coefficient (box-filtered over the same window, as
    the guided filter does), for an H×W float32 grey photo and an H×W×3 anime image.
    """
    mean_i = _box(photo_grey, radius)
    var_i = cv2.subtract(_box(cv2.multiply(photo_grey, photo_grey), radius),
                         cv2.multiply(mean_i, mean_i))
    var_i += eps
    anime = anime.astype(np.float32)
    mean_p = _box(anime, radius)
    product = cv2.multiply(anime, cv2.merge([photo_grey] * anime.shape[2]))
    cov = cv2.subtract(_box(product, radius), cv2.multiply(mean_p, cv2.merge([mean_i] * anime.shape[2])))
    slopes = _box(cv2.divide(cov, cv2.merge([var_i] * anime.shape[2])), radius)
    return np.clip(slopes, 0.0, SLOPE_MAX, out=slopes)


def _snap_weights(strength: float) -> np.ndarray:
    """For each local contrast 0..255 (grey levels), the snapping strength there."""
    contrast = np.arange(256, dtype=np.float32)
    return np.clip((contrast - SNAP_FROM) * (strength / SNAP_OVER), 0.0, strength).astype(np.float32)


def snap_shift(grey: np.ndarray, radius: int, strength: float = SNAP_STRENGTH) -> np.ndarray:
    """Per pixel, the luminance shift (float32) that moves it ``strength`` of the way to
    its window's nearer extreme, fading in with the window's contrast, for a uint8 H×W
    luminance. The same shift goes to all three channels, so edges get no colour fringes.
    """
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    low, high = cv2.erode(grey, kernel), cv2.dilate(grey, kernel)
    weight = cv2.LUT(cv2.subtract(high, low), _snap_weights(strength))
    nearer_low = cv2.compare(cv2.subtract(grey, low), cv2.subtract(high, grey), cv2.CMP_LT)
    target = cv2.copyTo(low, nearer_low, high)
    return cv2.multiply(cv2.subtract(target, grey, dtype=cv2.CV_16S), weight, dtype=cv2.CV_32F)


def upsample(generated: np.ndarray, crop: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """The generator's output at the guide's resolution, sharpened by the guide.

    ``generated`` is the generator's output for ``crop`` (same size); ``guide`` is the
    same region rendered at full resolution. Returns uint8 RGB at the guide's size.
    """
    if generated.shape != crop.shape:
        raise ValueError(f"generated {generated.shape} and crop {crop.shape} differ in size")
    height, width = guide.shape[:2]
    if (height, width) == generated.shape[:2]:
        return generated
    size = (width, height)
    small_grey = _grey(crop)
    slopes = guide_slopes(small_grey, generated)
    smooth = cv2.resize(small_grey, size, interpolation=cv2.INTER_LINEAR)
    detail = cv2.subtract(cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY), smooth, dtype=cv2.CV_32F)
    # One full-resolution plane at a time (no 3-channel float temporaries), so the
    # memory a 12 MP frame's result needs stays small.
    channels, slope = [], smooth
    for c in range(3):
        channel = cv2.resize(generated[..., c].astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
        cv2.resize(slopes[..., c], size, dst=slope, interpolation=cv2.INTER_LINEAR)
        cv2.accumulateProduct(slope, detail, channel)
        channels.append(channel)
    del detail, slope, smooth
    grey = cv2.addWeighted(cv2.addWeighted(channels[0], 0.299, channels[1], 0.587, 0.0), 1.0,
                           channels[2], 0.114, 0.0, dtype=cv2.CV_8U)
    factor = max(height, width) / max(generated.shape[:2])
    shift = snap_shift(grey, max(1, round(factor / 2)))
    return cv2.merge([cv2.add(channel, shift, dtype=cv2.CV_8U) for channel in channels])
