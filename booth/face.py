"""Finding faces: the RetinaFace (MobileNet-0.25) detector run by OpenVINO.

>>> detector = FaceDetector.from_settings(settings)
>>> faces = detector.detect(rgb)          # largest first
>>> faces[0].box, faces[0].landmarks, faces[0].score, faces[0].roll_deg

RetinaFace predicts, for every *prior* (an anchor box laid on a grid of the image at
strides 8, 16 and 32, two sizes per stride), an offset for a face box, offsets for
five landmarks (the eye on the image's left, the other eye, the nose tip, the mouth
corner on the image's left, the other mouth corner) and a face / no-face score. We
decode those offsets back into pixels, keep the confident ones and remove duplicates
with non-maximum suppression.

Cost is kept low and constant: a frame of any size (a 12-megapixel still included)
is shrunk so its long side is ``detect_size`` and pasted into the top-left corner of
a fixed ``detect_size`` × ``detect_size`` canvas. The network is compiled for that one
shape, so it never recompiles for another aspect ratio, and the priors are computed
once. The pixel conversion (RGB → BGR, minus the training mean, NHWC → NCHW) is
compiled into the model with OpenVINO's pre-processing.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
from openvino.preprocess import ColorFormat, PrePostProcessor

from booth.weights import model_path

#: The detector's training configuration (biubug6/Pytorch_Retinaface, "mobilenet0.25").
STEPS = (8, 16, 32)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)
#: BGR channel means subtracted at training time.
BGR_MEAN = (104.0, 117.0, 123.0)
#: Boxes overlapping a more confident one by more than this (IoU) are duplicates.
NMS_IOU = 0.4


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


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
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


def priors(height: int, width: int) -> np.ndarray:
    """The detector's anchor boxes for an input of this size: P×4 (cx, cy, w, h), in pixels."""
    rows = []
    for step, sizes in zip(STEPS, MIN_SIZES):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        for i, j in product(range(fh), range(fw)):
            for size in sizes:
                rows.append(((j + 0.5) * step, (i + 0.5) * step, size, size))
    return np.array(rows, np.float32)


def decode(loc: np.ndarray, landmarks: np.ndarray, anchors: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Network offsets → boxes (P×4, x0 y0 x1 y1) and landmarks (P×5×2), in pixels."""
    centers = anchors[:, :2] + loc[:, :2] * VARIANCES[0] * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1)
    points = (anchors[:, None, :2]
              + landmarks.reshape(-1, 5, 2) * VARIANCES[0] * anchors[:, None, 2:])
    return boxes, points


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression, best first."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        if order:
            overlaps = box_iou(boxes[best], boxes[order])[0]
            order = [i for i, o in zip(order, overlaps) if o <= iou]
    return keep


class FaceDetector:
    """RetinaFace on the CPU; ``detect`` is safe to call from several threads."""

    def __init__(self, model_file: Path | None = None, *, detect_size: int = 640,
                 score_threshold: float = 0.6, max_faces: int = 12,
                 cache_dir: Path | None = None) -> None:
        self.detect_size = int(detect_size)
        self.score_threshold = float(score_threshold)
        self.max_faces = int(max_faces)
        core = ov.Core()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(cache_dir)})
        model = core.read_model(str(model_file or model_path("face_detector")))
        side = self.detect_size
        model.reshape({model.inputs[0]: ov.PartialShape([1, 3, side, side])})
        ppp = PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")) \
            .set_color_format(ColorFormat.RGB)
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().convert_color(ColorFormat.BGR) \
            .convert_element_type(ov.Type.f32).mean(list(BGR_MEAN))
        self._compiled = core.compile_model(ppp.build(), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
        self._anchors = priors(side, side)
        self._local = threading.local()
        # The canvas border is the training mean, so it reads as zero to the network.
        self._fill = np.array(BGR_MEAN[::-1], np.uint8)

    @classmethod
    def from_settings(cls, settings) -> "FaceDetector":
        """The detector configured by ``settings.face``, compiled and warmed up."""
        detector = cls(detect_size=settings.face.detect_size,
                       score_threshold=settings.face.score_threshold,
                       max_faces=settings.face.max_faces,
                       cache_dir=settings.data_dir / "ov-cache")
        detector.detect(np.zeros((64, 64, 3), np.uint8))
        return detector

    def _request(self) -> ov.InferRequest:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        return request

    def _canvas(self, rgb: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        """The frame shrunk (or enlarged) onto the fixed square canvas, and the x, y scales."""
        side = self.detect_size
        h, w = rgb.shape[:2]
        factor = max(h, w) // side
        if factor >= 2:
            # An exact integer area shrink first: OpenCV does it several times faster
            # than an arbitrary ratio (a 12 MP frame: ~15 ms instead of ~85 ms). The
            # few pixels beyond a whole multiple of the factor are dropped.
            h, w = h // factor * factor, w // factor * factor
            rgb = cv2.resize(rgb[:h, :w], (w // factor, h // factor), interpolation=cv2.INTER_AREA)
        scale = side / max(rgb.shape[:2])
        new_w = max(1, min(side, round(rgb.shape[1] * scale)))
        new_h = max(1, min(side, round(rgb.shape[0] * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
        canvas = np.empty((side, side, 3), np.uint8)
        canvas[:] = self._fill
        canvas[:new_h, :new_w] = small
        return canvas, (new_w / w, new_h / h)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an H×W×3 uint8 RGB frame, largest first (at most ``max_faces``)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an H×W×3 uint8 image, got {rgb.dtype} {rgb.shape}")
        canvas, (sx, sy) = self._canvas(rgb)
        request = self._request()
        request.infer({0: canvas[None]})
        loc, conf, marks = (request.get_output_tensor(i).data[0] for i in range(3))
        scores = conf[:, 1]
        candidates = np.flatnonzero(scores >= self.score_threshold)
        if candidates.size == 0:
            return []
        boxes, points = decode(loc[candidates], marks[candidates], self._anchors[candidates])
        kept = nms(boxes, scores[candidates])
        h, w = rgb.shape[:2]
        faces = []
        for i in kept:
            box = boxes[i] / [sx, sy, sx, sy]
            box = np.clip(box, 0, [w, h, w, h]).astype(np.float32)
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            faces.append(Face(box=box, landmarks=(points[i] / [sx, sy]).astype(np.float32),
                              score=float(scores[candidates[i]])))
        faces.sort(key=lambda f: f.width * f.height, reverse=True)
        return faces[:self.max_faces]
