"""Levelling and framing: from a full camera frame to the crop the generator runs on.

A :class:`Framing` is one similarity transform (rotation + uniform scale +
translation) from frame pixels to crop pixels, planned from the detected faces:

* **one face** — a head-and-shoulders portrait: the face box takes ``face_share`` of
  the crop's height and its centre sits ``face_y`` of the way down;
* **several faces** — one crop holding every face box with ``margin`` (× the mean face
  height) of room around them, twice that below for the shoulders;
* **no face** — scene mode: the largest centred crop of the frame at the aspect ratio.

The rotation levels the camera, not the heads: one face's own tilt, or the mean tilt of
a group's frontal faces only when they all agree (a camera held askew), bounded. The
crop is then moved and, if it must, shrunk to stay inside the photo, but never so that a
face box is cut; a group takes a wider aspect (same long side) when that holds everyone
inside the photo, and a levelling whose crop would reach past the photo's turned edge is
tried closer, then dropped. Only a crop that has to reach past the edge (a face at the
very edge) shows pixels from outside the photo: the frame is mirrored there (never black
bars) and the mirrored part is blurred so it reads as out-of-focus background.

:func:`warp` renders a framing with ONE ``cv2.warpAffine`` from the frame, so the
rotation, the crop and the downscale to the working size cost one resampling. A large
downscale (a 12-megapixel frame to 512 px) first shrinks just the needed region by an
integer factor with area averaging, so fine detail is averaged, not aliased.

:func:`paste_back` puts a separately stylized face back over the crop through a
feathered mask (the "hd" mode) and :func:`seam_step` measures how visible the mask's
edge is. A face style's faces are cut by :func:`aligned_face_framing`, their contrast
lifted (:func:`lift_face_contrast`), and blended back, colour-matched, by :func:`blend_face`.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from booth.vision.generator import working_shape
from booth.vision.geometry import (Face, Framing, apply_affine, chain, crop_inside, paste,
                                   to_opencv, warp)

#: Tilts beyond this are not levelled (a guest lying sideways, or a wrong landmark).
MAX_LEVEL_DEG = 30.0
#: Several faces level the picture only when each voting face's tilt is within this of
#: their mean: a camera held askew tilts every head alike, heads tilted their own ways
#: (looking down at a table, leaning together) disagree and leave the picture as shot.
AGREE_DEG = 8.0
#: A face votes on the tilt only when its eyes are at least this share of its width
#: apart (seen from the front; in profile or from above the eye line is no guide).
FRONTAL_IOD = 0.3
#: A levelled crop that reaches past the photo's (turned) edge is tried closer, at these
#: shares of its planned size, before the levelling is given up.
LEVEL_ZOOMS = (1.0, 0.9, 0.8, 0.7)
#: A group's crop may take a wider aspect (width / height) than the configured one, the
#: one that holds every face inside the photo with the least extra room, among these.
GROUP_ASPECTS = (1.0, 1.25, 1.5, 1.78)
#: A face style's face is blended through an ellipse of these half-axes (× the face
#: box's width and height: the face itself, not the pale background the face network
#: paints around it), feathered by this share of the face's height, and its mean colour
#: moved this share of the way to the companion's.
FACE_REACH = (0.52, 0.6)
FACE_FEATHER = 0.15
FACE_COLOUR_MATCH = 1.0
#: A face style's face crop gets its local contrast lifted before the network (CLAHE on
#: the lightness only, this clip limit, FACE_CONTRAST_TILES x FACE_CONTRAST_TILES tiles):
#: JP face draws eyes and a mouth from the face's own shading, and a soft or flat-lit face
#: (a closed smile, eyes in the shade of the hair) gives it too little, so it draws a thin
#: pale mouth or a faint eye. On the faces of both photo sets (the network on each face's
#: own crop, `booth eval styles`' measure) it drew 27 of 32 frontal faces at 384 px without
#: and 38 of 40 with; 30 of 32 and 32 of 32 at the group's 320 px.
FACE_CONTRAST_CLIP = 2.0
FACE_CONTRAST_TILES = 4
#: Extra room kept around every face box, as a share of its height, when the crop has
#: to shrink to fit the photo (so a box never touches the crop's edge).
FACE_GUARD = 0.08


def level_angle(faces: Sequence[Face]) -> float:
    """The rotation (degrees, counter-clockwise on screen) that levels the camera.

    One face: its own tilt (a portrait's head is the only level there is). Several: the
    size-weighted mean tilt of the faces seen from the front, only when at least two of
    them vote and every one agrees with it (AGREE_DEG); otherwise 0. Beyond
    ±MAX_LEVEL_DEG nothing is levelled.
    """
    if not faces:
        return 0.0
    voters = faces if len(faces) == 1 else [f for f in faces if f.inter_ocular >= FRONTAL_IOD * f.width]
    if not voters or (len(faces) > 1 and len(voters) < 2):
        return 0.0
    weights = np.array([f.height for f in voters])
    # Average unit vectors, not angles, so -179° and 179° do not average to 0°.
    rolls = np.radians([f.roll_deg for f in voters])
    angle = math.degrees(math.atan2((weights * np.sin(rolls)).sum(), (weights * np.cos(rolls)).sum()))
    spread = np.degrees(np.abs(np.angle(np.exp(1j * (rolls - math.radians(angle))))))
    if len(voters) > 1 and spread.max() > AGREE_DEG:
        return 0.0
    return angle if abs(angle) <= MAX_LEVEL_DEG else 0.0


def _rotation(frame_hw: tuple[int, int], angle_deg: float) -> np.ndarray:
    h, w = frame_hw
    return cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)


def _bounds(points: np.ndarray) -> np.ndarray:
    return np.array([*points.min(axis=0), *points.max(axis=0)], np.float64)


def _box_corners(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _grow_to_aspect(rect: np.ndarray, aspect: float) -> np.ndarray:
    """The smallest rect of this aspect (w / h) around ``rect``, same centre."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    if w < h * aspect:
        w = h * aspect
    else:
        h = w / aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _place(start: float, length: float, lo: float, hi: float,
           must_lo: float, must_hi: float) -> float:
    """A start for a span of ``length``: inside [lo, hi] if it fits, always over [must_lo, must_hi]."""
    if hi - lo >= length:
        start = min(max(start, lo), hi - length)
    else:
        start = (lo + hi) / 2 - length / 2
    return min(max(start, must_hi - length), must_lo)


def plan(frame_hw: tuple[int, int], faces: Sequence[Face], out_hw: tuple[int, int],
         face_settings) -> Framing:
    """The framing of a frame of size ``frame_hw`` for these faces, rendered at ``out_hw``
    (a group's at the same long side, maybe wider: see GROUP_ASPECTS).

    Every face box (mapped into the crop) lies inside the crop. The crop comes from
    inside the photo whenever such a crop exists: a group takes the aspect that holds
    it, and a levelling that would reach past the photo's edge is dropped.
    """
    fh, fw = frame_hw
    out_h, out_w = out_hw
    aspect = out_w / out_h
    if not faces:
        # Scene mode: the largest centred crop at the aspect ratio, no rotation.
        crop_w = min(fw, fh * aspect)
        crop_h = crop_w / aspect
        x0, y0 = (fw - crop_w) / 2, (fh - crop_h) / 2
        return _framing(np.array([x0, y0, x0 + crop_w, y0 + crop_h]), np.eye(2, 3), out_hw,
                        0.0, "scene")
    angle = level_angle(faces)
    aspects = [aspect] if len(faces) == 1 else _group_aspects(faces, aspect, face_settings)
    for chosen in aspects:
        shape = out_hw if chosen == aspect else working_shape(max(out_hw), chosen)
        for tried in dict.fromkeys((angle, 0.0)):
            for zoom in LEVEL_ZOOMS if tried else (1.0,):
                shot = _plan_at(frame_hw, faces, shape, face_settings, tried, zoom)
                if crop_inside(shot, frame_hw):
                    return shot
    return _plan_at(frame_hw, faces, out_hw, face_settings, angle)


def _group_aspects(faces: Sequence[Face], aspect: float, face_settings) -> list[float]:
    """The aspects to try for a group, best first: the configured one and the wider
    GROUP_ASPECTS, the nearest to the group's own shape (faces and room) first."""
    boxes = np.array([f.box for f in faces], np.float64)
    room = face_settings.margin * float((boxes[:, 3] - boxes[:, 1]).mean())
    width = boxes[:, 2].max() - boxes[:, 0].min() + 2 * room
    height = boxes[:, 3].max() - boxes[:, 1].min() + 3 * room
    own = width / height
    candidates = [aspect] + [a for a in GROUP_ASPECTS if a > aspect]
    return sorted(candidates, key=lambda a: (max(a, own) / min(a, own), a))


def _plan_at(frame_hw: tuple[int, int], faces: Sequence[Face], out_hw: tuple[int, int],
             face_settings, angle: float, zoom: float = 1.0) -> Framing:
    """:func:`plan` at a given rotation and output shape, the crop ``zoom`` times its
    planned size (never smaller than the faces and their guard)."""
    fh, fw = frame_hw
    out_h, out_w = out_hw
    aspect = out_w / out_h
    rotation = _rotation(frame_hw, angle)
    boxes = np.array([_bounds(apply_affine(rotation, _box_corners(f.box))) for f in faces])
    heights = np.array([f.height for f in faces])
    mean_h = float(heights.mean())
    # The must-keep region: every face box with a small guard around it.
    guard = FACE_GUARD * heights[:, None] * np.array([-1, -1, 1, 1])
    must = _bounds((boxes + guard).reshape(-1, 2))

    if len(faces) == 1:
        crop_h = mean_h / face_settings.face_share
        cx, cy = (boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2
        top = cy - face_settings.face_y * crop_h
        wanted = np.array([cx - crop_h * aspect / 2, top, cx + crop_h * aspect / 2, top + crop_h])
        mode = "portrait"
    else:
        room = face_settings.margin * mean_h
        union = _bounds(boxes.reshape(-1, 2))
        wanted = union + np.array([-room, -room, room, 2 * room])
        # Never tighter than a one-face portrait of the average face.
        min_h = mean_h / face_settings.face_share
        if wanted[3] - wanted[1] < min_h:
            extra = (min_h - (wanted[3] - wanted[1])) / 2
            wanted[1] -= extra
            wanted[3] += extra
        wanted = _grow_to_aspect(wanted, aspect)
        mode = "group"

    must_rect = _grow_to_aspect(must, aspect)
    crop_w, crop_h = wanted[2] - wanted[0], wanted[3] - wanted[1]
    # Too big for the photo: shrink towards the faces, never below the must-keep region.
    fit = min(1.0, fw / crop_w, fh / crop_h)
    crop_w = max(crop_w * fit * zoom, must_rect[2] - must_rect[0])
    crop_h = crop_w / aspect
    cx, cy = (wanted[0] + wanted[2]) / 2, (wanted[1] + wanted[3]) / 2
    x0 = _place(cx - crop_w / 2, crop_w, 0, fw, must[0], must[2])
    y0 = _place(cy - crop_h / 2, crop_h, 0, fh, must[1], must[3])
    return _framing(np.array([x0, y0, x0 + crop_w, y0 + crop_h]), rotation, out_hw, angle, mode)


def _framing(rect: np.ndarray, rotation: np.ndarray, out_hw: tuple[int, int],
             angle: float, mode: str) -> Framing:
    """The transform that maps ``rect`` (in rotated-frame pixels) onto an out_hw crop."""
    out_h, out_w = out_hw
    scale = out_h / (rect[3] - rect[1])
    matrix = scale * np.hstack([rotation[:, :2], rotation[:, 2:] - rect[:2, None]])
    return Framing(matrix=matrix, shape=(int(out_h), int(out_w)), angle_deg=float(angle), mode=mode)


def resized(framing: Framing, shape: tuple[int, int]) -> Framing:
    """The same region of the frame rendered at another (height, width)."""
    height, width = shape
    scales = np.array([[width / framing.shape[1]], [height / framing.shape[0]]])
    return Framing(matrix=framing.matrix * scales, shape=(int(height), int(width)),
                   angle_deg=framing.angle_deg, mode=framing.mode)


def frame(rgb: np.ndarray, faces: Sequence[Face], out_hw: tuple[int, int],
          face_settings) -> tuple[np.ndarray, Framing]:
    """Plan and render in one call: (crop, framing)."""
    framing = plan(rgb.shape[:2], faces, out_hw, face_settings)
    return warp(rgb, framing), framing


def face_framing(frame_hw: tuple[int, int], face: Face, angle_deg: float,
                 out_hw: tuple[int, int], face_share: float, face_y: float) -> Framing:
    """A close crop of one face at a given rotation (the "hd" mode's face crops).

    Unlike :func:`plan` it may reach past the photo's edge: it is pasted back only
    where the face is.
    """
    rotation = _rotation(frame_hw, angle_deg)
    box = _bounds(apply_affine(rotation, _box_corners(face.box)))
    aspect = out_hw[1] / out_hw[0]
    crop_h = max(face.height / face_share, (box[2] - box[0]) * 1.2 / aspect)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    top = cy - face_y * crop_h
    rect = np.array([cx - crop_h * aspect / 2, top, cx + crop_h * aspect / 2, top + crop_h])
    return _framing(rect, rotation, out_hw, angle_deg, "face")


def feather_mask(shape: tuple[int, int], face: Face, feather: float = 0.25,
                 reach: tuple[float, float] = (0.68, 0.72)) -> np.ndarray:
    """A float mask (1 on the face, falling smoothly to 0) for pasting a face back.

    An ellipse around the face box (half-axes ``reach`` × its width and height: a little
    larger than it by default), blurred by ``feather`` × the face height, so the pasted
    face blends into its surroundings over a wide band.
    """
    mask = np.zeros(shape, np.float32)
    cx, cy = face.center
    axes = (max(1, round(face.width * reach[0])), max(1, round(face.height * reach[1])))
    cv2.ellipse(mask, (round(cx), round(cy)), axes, 0, 0, 360, 1.0, thickness=-1)
    sigma = max(1.0, feather * face.height / 2)
    return cv2.GaussianBlur(mask, (0, 0), sigma)


def paste_back(base: np.ndarray, patch: np.ndarray, base_framing: Framing,
               patch_framing: Framing, face: Face) -> tuple[np.ndarray, np.ndarray]:
    """Paste a separately rendered face crop back over the crop it belongs to.

    ``patch`` was rendered with ``patch_framing`` and ``base`` with ``base_framing``
    (both from the same frame), so frame → patch → base is one known affine: the patch
    is warped into place once and blended through the feathered mask of ``face``
    (in frame pixels). Returns (composite, mask).
    """
    out_h, out_w = base.shape[:2]
    base_from_patch = to_opencv(chain(base_framing.matrix, patch_framing.inverse))
    placed = cv2.warpAffine(patch, base_from_patch, (out_w, out_h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101)
    # Never blend in pixels the patch does not cover.
    covered = cv2.warpAffine(np.ones(patch.shape[:2], np.float32), base_from_patch,
                             (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)
    mask = np.minimum(feather_mask((out_h, out_w), base_framing.map_face(face)), covered)
    return paste(base, placed, mask), mask


def seam_step(composite: np.ndarray, base: np.ndarray, mask: np.ndarray) -> float:
    """How visible the paste's edge is: the extra intensity step across the mask's edge.

    On the line where the mask crosses one half (within a pixel of it: where a hard
    paste would have its edge) it measures the intensity gradient across the edge (along the mask's own
    gradient) in grey levels per pixel, in the composite minus in the base image. A hard
    paste of a patch 40 levels brighter steps by about 20 there; the feathered paste
    spreads the same difference over its whole feather, about 1.
    """
    mask = mask.astype(np.float32)
    mx = cv2.Sobel(mask, cv2.CV_32F, 1, 0, ksize=3) / 8
    my = cv2.Sobel(mask, cv2.CV_32F, 0, 1, ksize=3) / 8
    norm = np.hypot(mx, my)
    band = (norm > 1e-6) & (np.abs(mask - 0.5) <= norm)
    if not band.any():
        return 0.0
    nx, ny = mx / (norm + 1e-9), my / (norm + 1e-9)

    def across(image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8
        return np.abs(gx * nx + gy * ny)[band]

    return float(across(composite).mean() - across(base).mean())


def aligned_face_framing(frame_hw: tuple[int, int], face: Face, side: int,
                         fill: float) -> Framing:
    """A face's own square crop, as a face style's network wants it: ``side`` × ``side``,
    the face box ``fill`` of its width, centred, eyes level (turned by the face's own
    tilt, whatever the rest of the picture's levelling). Rendered straight from the
    frame, so a small face is enlarged from the photo's own pixels.
    """
    scale = side * fill / max(face.width, 1.0)
    cx, cy = face.center
    matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), face.roll_deg, scale)
    matrix[:, 2] += [side / 2 - cx, side / 2 - cy]
    return Framing(matrix=matrix, shape=(int(side), int(side)), angle_deg=face.roll_deg, mode="face")


def lift_face_contrast(rgb: np.ndarray) -> np.ndarray:
    """A face crop with its local contrast lifted (see FACE_CONTRAST_CLIP); colours kept."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(FACE_CONTRAST_CLIP, (FACE_CONTRAST_TILES, FACE_CONTRAST_TILES))
    lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def blend_face(base: np.ndarray, patch: np.ndarray, base_framing: Framing,
               patch_framing: Framing, face: Face) -> tuple[np.ndarray, float]:
    """Blend a face stylized on its own crop into ``base`` (in place): warped into place
    once, its colours shifted to match ``base`` where the feathered mask fades out (so
    the face's skin and the companion style's surroundings meet without a step), then
    blended through the mask. Only the face's own region is touched.
    Returns (base, seam step of the blend)."""
    out_h, out_w = base.shape[:2]
    mapped = base_framing.map_face(face)
    sigma = max(1.0, FACE_FEATHER * mapped.height / 2)
    cx, cy = mapped.center
    reach_x = mapped.width * FACE_REACH[0] + 3 * sigma
    reach_y = mapped.height * FACE_REACH[1] + 3 * sigma
    x0, y0 = max(0, int(cx - reach_x)), max(0, int(cy - reach_y))
    x1, y1 = min(out_w, int(math.ceil(cx + reach_x))), min(out_h, int(math.ceil(cy + reach_y)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return base, 0.0
    to_region = np.array([[1, 0, -x0], [0, 1, -y0]], np.float64)
    region_from_patch = to_opencv(chain(to_region, chain(base_framing.matrix, patch_framing.inverse)))
    size = (x1 - x0, y1 - y0)
    placed = cv2.warpAffine(patch, region_from_patch, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
    covered = cv2.warpAffine(np.ones(patch.shape[:2], np.float32), region_from_patch, size,
                             flags=cv2.INTER_LINEAR, borderValue=0)
    mask = np.minimum(feather_mask((y1 - y0, x1 - x0), mapped.transformed(to_region),
                                   FACE_FEATHER, FACE_REACH), covered)
    region = base[y0:y1, x0:x1]
    # The face's mean colour moved to the companion's under the mask: the drawn lines and
    # shading stay, the skin meets the neck and the surroundings without a pale mask.
    if mask.sum() > 1e-3:
        step = ((region.astype(np.float32) - placed) * mask[..., None]).sum(axis=(0, 1)) / mask.sum()
        placed = np.clip(placed + FACE_COLOUR_MATCH * step, 0, 255)
    blended = paste(region, placed.astype(np.uint8), mask)
    seam = seam_step(blended, region, mask)
    base[y0:y1, x0:x1] = blended
    return base, seam
