"""Geometry shared by the image path: a detected :class:`Face`, a :class:`Framing` (one
similarity transform from frame pixels to crop pixels), the affine helpers both use, and
:func:`warp`, which renders a framing with one resampling.

Coordinates are continuous with pixel *edges* at whole numbers (pixel (0, 0) spans
0..1), like the detector's boxes and landmarks; :func:`to_opencv` converts a matrix to
OpenCV's pixel-centre convention. The face detector and the framing both build on this
module, and neither on the other's internals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in the pixel coordinates of the frame it was found in."""

    #: (x0, y0, x1, y1), float32.
    box: np.ndarray
    #: 5×2 float32: eye (image left), eye (image right), nose, mouth (left), mouth (right).
    landmarks: np.ndarray
    #: Detector confidence, 0..1.
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        return self.landmarks[0], self.landmarks[1]

    @property
    def inter_ocular(self) -> float:
        """Distance between the eye centres, in pixels."""
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))

    @property
    def roll_deg(self) -> float:
        """Head tilt: the angle of the eye line, degrees (positive = clockwise on screen)."""
        (lx, ly), (rx, ry) = self.eyes
        return math.degrees(math.atan2(ry - ly, rx - lx))

    def transformed(self, matrix: np.ndarray) -> "Face":
        """This face mapped through a 2×3 affine matrix (box = bounds of the mapped box)."""
        corners = np.array([[self.box[0], self.box[1]], [self.box[2], self.box[1]],
                            [self.box[2], self.box[3]], [self.box[0], self.box[3]]])
        mapped = apply_affine(matrix, corners)
        box = np.array([*mapped.min(axis=0), *mapped.max(axis=0)], np.float32)
        return Face(box=box, landmarks=apply_affine(matrix, self.landmarks).astype(np.float32),
                    score=self.score)

    def __repr__(self) -> str:
        x0, y0, x1, y1 = (round(float(v)) for v in self.box)
        return f"Face(box=({x0}, {y0}, {x1}, {y1}), score={self.score:.2f})"


def apply_affine(matrix: np.ndarray, points: ArrayLike) -> np.ndarray:
    """Points (N×2) mapped through a 2×3 affine matrix."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return points @ np.asarray(matrix, np.float64)[:, :2].T + np.asarray(matrix, np.float64)[:, 2]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between every box of ``a`` (N×4) and every box of ``b`` (M×4): N×M."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass(frozen=True, eq=False)
class Framing:
    """Where a crop comes from: frame pixels → crop pixels, and the crop's (h, w).

    Coordinates are continuous with pixel *edges* at whole numbers (pixel (0, 0) spans
    0..1), like the detector's boxes and landmarks; :func:`warp` converts to OpenCV's
    pixel-centre convention.
    """

    matrix: np.ndarray           # 2×3 float64
    shape: tuple[int, int]       # (height, width) of the crop
    angle_deg: float             # rotation applied to level the eyes
    mode: str                    # "portrait" | "group" | "scene"

    @property
    def scale(self) -> float:
        return float(math.hypot(self.matrix[0, 0], self.matrix[1, 0]))

    @property
    def inverse(self) -> np.ndarray:
        """Crop pixels → frame pixels."""
        return cv2.invertAffineTransform(self.matrix)

    def map_points(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(self.matrix, points)

    def map_face(self, face: Face) -> Face:
        return face.transformed(self.matrix)


def chain(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2×3 affine ``outer ∘ inner`` (apply inner first)."""
    return np.hstack([outer[:, :2] @ inner[:, :2], outer[:, :2] @ inner[:, 2:] + outer[:, 2:]])


def to_opencv(matrix: np.ndarray) -> np.ndarray:
    """An edge-convention matrix as OpenCV wants it (pixel centres at whole numbers)."""
    linear = matrix[:, :2]
    return np.hstack([linear, matrix[:, 2:] + linear @ np.full((2, 1), 0.5) - 0.5])


def crop_inside(framing: Framing, frame_hw: tuple[int, int]) -> bool:
    """True when the whole crop comes from inside the photo (its corners do)."""
    out_h, out_w = framing.shape
    corners = apply_affine(framing.inverse, [[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
    h, w = frame_hw
    slack = 0.5 / framing.scale  # half an output pixel
    return bool((corners >= -slack).all() and (corners[:, 0] <= w + slack).all()
                and (corners[:, 1] <= h + slack).all())


def warp(rgb: np.ndarray, framing: Framing) -> np.ndarray:
    """Render the crop: one warp from the frame (after an area pre-shrink for big frames)."""
    h, w = rgb.shape[:2]
    out_h, out_w = framing.shape
    matrix = framing.matrix.copy()
    source = rgb
    factor = int(1 / framing.scale) if framing.scale < 0.5 else 1
    if factor >= 2:
        # Shrink only the region the crop needs (plus a border for the interpolation),
        # cut to a whole multiple of the factor: OpenCV's area average is several times
        # faster for an exact integer ratio.
        corners = apply_affine(framing.inverse, [[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
        pad = 2 * factor
        x0 = int(max(0, math.floor(corners[:, 0].min()) - pad))
        y0 = int(max(0, math.floor(corners[:, 1].min()) - pad))
        x1 = int(min(w, math.ceil(corners[:, 0].max()) + pad))
        y1 = int(min(h, math.ceil(corners[:, 1].max()) + pad))
        small_w, small_h = (x1 - x0) // factor, (y1 - y0) // factor
        if small_w >= 2 and small_h >= 2:
            x1, y1 = x0 + small_w * factor, y0 + small_h * factor
            source = cv2.resize(rgb[y0:y1, x0:x1], (small_w, small_h), interpolation=cv2.INTER_AREA)
            to_frame = np.array([[factor, 0, x0], [0, factor, y0]], np.float64)
            matrix = chain(matrix, to_frame)
    if min(source.shape[:2]) < 2:
        # Mirroring needs at least two pixels per side; a 1-pixel image is one colour anyway.
        small_h, small_w = source.shape[:2]
        source = cv2.resize(source, (max(2, small_w), max(2, small_h)),
                            interpolation=cv2.INTER_NEAREST)
        to_source = np.array([[small_w / source.shape[1], 0, 0], [0, small_h / source.shape[0], 0]])
        matrix = chain(matrix, to_source)
    opencv_matrix = to_opencv(matrix)
    crop = cv2.warpAffine(source, opencv_matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)
    if crop_inside(framing, (h, w)):
        return crop
    # Which crop pixels come from the photo: inside the photo's outline mapped into the
    # crop (drawn anti-aliased, not warped: no photo-sized mask to make and resample).
    outline = framing.map_points(np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64))
    valid = np.zeros((out_h, out_w), np.uint8)
    # OpenCV draws in pixel-centre coordinates, our outline is in pixel edges: -0.5.
    cv2.fillConvexPoly(valid, np.round((outline - 0.5) * 16).astype(np.int32), 255,
                       lineType=cv2.LINE_AA, shift=4)
    return _soften_outside(crop, valid)


def _soften_outside(crop: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Blur the mirrored part (``valid`` = 0) of a crop that reaches past the photo's edge."""
    reach = max(crop.shape[:2]) // 16 * 2 + 1          # odd kernel, ~1/8 of the crop
    # A soft transition, so the photo's edge does not show as a line.
    soft = reach // 3 * 2 + 1
    weight = cv2.min(_blur(valid, soft), valid)
    # Only the mirrored part and its soft edge change: blend just their bounding box.
    rows = np.flatnonzero((weight < 255).any(axis=1))
    cols = np.flatnonzero((weight < 255).any(axis=0))
    if rows.size == 0:
        return crop
    box = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    blurred = _blur(crop, reach)
    softened = crop.copy()
    softened[box] = paste(blurred[box], crop[box], weight[box].astype(np.float32) * (1 / 255))
    return softened


def _blur(image: np.ndarray, side: int) -> np.ndarray:
    """A wide stack blur; above 512 px (a full-resolution crop) it runs on a copy shrunk
    by a whole factor and is enlarged again: the same wide blur at a fraction of the cost."""
    step = max(image.shape[:2]) // 512
    if step < 2:
        return cv2.stackBlur(image, (side, side))
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // step), max(1, h // step)), interpolation=cv2.INTER_AREA)
    small_side = max(1, side // step) // 2 * 2 + 1
    return cv2.resize(cv2.stackBlur(small, (small_side, small_side)), (w, h),
                      interpolation=cv2.INTER_LINEAR)


def paste(base: np.ndarray, patch: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``patch`` over ``base`` through a float mask in [0, 1] (all the same H×W)."""
    mask = mask.astype(np.float32)
    return cv2.blendLinear(patch, base, mask, 1 - mask)
