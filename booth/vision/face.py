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

On that small copy a face in a 12 MP frame may be 60 pixels tall, and its landmarks
are then only good to a few pixels. So each face found is *refined*: the detector
runs again on a ``refine_size`` close-up around it (the face about half of it), and
the close-up's landmarks replace the coarse ones. This halves the landmark error
(measured by ``booth eval faces``), which the levelling and framing rely on.
"""

from __future__ import annotations

import math
import threading
from itertools import product
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
from openvino.preprocess import ColorFormat, PrePostProcessor

from booth.model.weights import model_path
from booth.vision.generator import PARALLEL_STREAMS, streams_config
from booth.vision.geometry import Face, Framing, apply_affine, box_iou, warp

#: The detector's training configuration (biubug6/Pytorch_Retinaface, "mobilenet0.25").
STEPS = (8, 16, 32)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)
#: BGR channel means subtracted at training time.
BGR_MEAN = (104.0, 117.0, 123.0)
#: Boxes overlapping a more confident one by more than this (IoU) are duplicates.
NMS_IOU = 0.4
#: Refinement: the close-up's side, as a multiple of the face box's longer side.
REFINE_CONTEXT = 2.0
#: Refinement: the face is already known, so a lower score is enough in the close-up,
#: but the close-up's face must overlap the coarse box this much (IoU).
REFINE_SCORE = 0.3
REFINE_IOU = 0.5
#: A detection is confirmed when the close-up finds a face this sure of itself over it
#: (IoU at least CONFIRM_IOU). Measured on the photo sets: real faces score 0.9-1.0
#: there, the false ones (a hand, a pattern on a wall) 0-0.25.
CONFIRM_SCORE = 0.5
CONFIRM_IOU = 0.3
#: Below this detector score a face must be confirmed or stand beside confirmed faces.
SURE_SCORE = 0.8
#: A face narrower than this share of the largest one, with a score below SURE_SCORE,
#: is not a guest beside them (a hand, a face on a poster).
SMALL_SHARE = 0.35
#: A face narrower than this share of a larger face, inside that face's body box (below
#: it: BODY_WIDTH face widths wide, BODY_HEIGHT face heights tall), is on that body.
BODY_SHARE = 0.5
BODY_WIDTH = 3.0
BODY_HEIGHT = 4.0
#: Landmarks further than this share of the box's size outside it do not form a face.
LANDMARK_SLACK = 0.2
#: Only the largest faces are refined (each close-up costs a few percent of a generator
#: run); the rest of a crowd keeps its coarse landmarks.
REFINE_MAX_FACES = 6


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


def _compile(core: ov.Core, path: Path, side: int,
             config: dict[str, object] | None = None) -> ov.CompiledModel:
    """The detector for a side × side RGB uint8 NHWC input, pixel conversion included."""
    model = core.read_model(str(path))
    model.reshape({model.inputs[0]: ov.PartialShape([1, 3, side, side])})
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")) \
        .set_color_format(ColorFormat.RGB)
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    ppp.input().preprocess().convert_color(ColorFormat.BGR) \
        .convert_element_type(ov.Type.f32).mean(list(BGR_MEAN))
    return core.compile_model(ppp.build(), "CPU", config or {"PERFORMANCE_HINT": "LATENCY"})


class FaceDetector:
    """RetinaFace on the CPU; ``detect`` is safe to call from several threads."""

    def __init__(self, model_file: Path | None = None, *, detect_size: int = 640,
                 score_threshold: float = 0.6, max_faces: int = 12, refine_size: int = 320,
                 cache_dir: Path | None = None) -> None:
        self.detect_size = int(detect_size)
        self.refine_size = int(refine_size)
        self.score_threshold = float(score_threshold)
        self.max_faces = int(max_faces)
        core = ov.Core()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(cache_dir)})
        path = Path(model_file) if model_file else model_path("face_detector")
        # One compiled network per fixed input shape: the whole-frame canvas and the
        # refinement close-up.
        self._compiled = {self.detect_size: _compile(core, path, self.detect_size)}
        if self.refine_size:
            self._compiled[self.refine_size] = _compile(core, path, self.refine_size)
            # A group's close-ups side by side, on single-threaded streams (see
            # booth.vision.generator.PARALLEL_STREAMS).
            self._close_ups = _compile(core, path, self.refine_size, streams_config())
        self._anchors = {side: priors(side, side) for side in self._compiled}
        self._local = threading.local()
        # The canvas border is the training mean, so it reads as zero to the network.
        self._fill = np.array(BGR_MEAN[::-1], np.uint8)

    @classmethod
    def from_settings(cls, settings) -> "FaceDetector":
        """The detector configured by ``settings.face``, compiled and warmed up."""
        detector = cls(detect_size=settings.face.detect_size,
                       score_threshold=settings.face.score_threshold,
                       max_faces=settings.face.max_faces,
                       refine_size=settings.face.refine_size,
                       cache_dir=settings.data_dir / "ov-cache")
        detector.detect(np.zeros((64, 64, 3), np.uint8))
        return detector

    def _infer(self, canvas: np.ndarray, score_threshold: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes, landmarks and scores (after NMS) on a square canvas, in canvas pixels."""
        side = canvas.shape[0]
        # One infer request per thread and shape: requests are not thread-safe.
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        if side not in requests:
            requests[side] = self._compiled[side].create_infer_request()
        request = requests[side]
        request.infer({0: canvas[None]})
        return self._decode(request, side, score_threshold)

    def _decode(self, request: ov.InferRequest, side: int, score_threshold: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A finished request's boxes, landmarks and scores (after NMS), in canvas pixels."""
        loc, conf, marks = (request.get_output_tensor(i).data[0] for i in range(3))
        scores = conf[:, 1]
        candidates = np.flatnonzero(scores >= score_threshold)
        boxes, points = decode(loc[candidates], marks[candidates], self._anchors[side][candidates])
        kept = nms(boxes, scores[candidates])
        return boxes[kept], points[kept], scores[candidates][kept]

    def _canvas(self, rgb: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        """The frame shrunk (or enlarged) onto the fixed square canvas, and the x, y scales."""
        side = self.detect_size
        h, w = rgb.shape[:2]
        factor = max(h, w) // side
        if factor >= 2 and min(h, w) >= factor:
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

    def detect(self, rgb: np.ndarray, *, refine: bool = True) -> list[Face]:
        """Faces in an H×W×3 uint8 RGB frame, largest first (at most ``max_faces``)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an H×W×3 uint8 image, got {rgb.dtype} {rgb.shape}")
        canvas, (sx, sy) = self._canvas(rgb)
        boxes, points, scores = self._infer(canvas, self.score_threshold)
        h, w = rgb.shape[:2]
        faces = []
        for box, marks, score in zip(boxes, points, scores):
            box = np.clip(box / [sx, sy, sx, sy], 0, [w, h, w, h]).astype(np.float32)
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            faces.append(Face(box=box, landmarks=(marks / [sx, sy]).astype(np.float32),
                              score=float(score)))
        faces.sort(key=lambda f: f.width * f.height, reverse=True)
        faces = faces[:self.max_faces]
        confirmed: list[bool | None] = [None] * len(faces)
        if refine and self.refine_size:
            count = min(len(faces), REFINE_MAX_FACES)
            for i, (face, sure) in enumerate(self.refine_all(rgb, faces[:count])):
                faces[i], confirmed[i] = face, sure
        return plausible_faces(faces, confirmed)

    def refine(self, rgb: np.ndarray, face: Face) -> Face:
        """The face re-detected on an upright close-up around it (same face if not found)."""
        return self.refine_and_confirm(rgb, face)[0]

    def refine_and_confirm(self, rgb: np.ndarray, face: Face) -> tuple[Face, bool]:
        """The face re-detected on an upright close-up around it (same face if not found),
        and whether the close-up confirms it (a sure face over it: see CONFIRM_SCORE).

        The close-up is turned by the face's coarse tilt, so the detector sees it
        upright: its landmarks are least biased there (on a face tilted by 25° the
        coarse eye line is off by up to 5°, the upright close-up's by well under 2°).
        """
        return self.refine_all(rgb, [face])[0]

    def refine_all(self, rgb: np.ndarray, faces: list[Face]) -> list[tuple[Face, bool]]:
        """:meth:`refine_and_confirm` of each face; several faces' close-ups run side by
        side on single-threaded streams (a group's detection waits for the slowest
        close-up, not for their sum)."""
        views = [self._close_up(rgb, face) for face in faces]
        threshold = min(REFINE_SCORE, CONFIRM_SCORE)
        found: list = []  # each face's detections, in the order of ``views``
        if len(views) < 2:
            found = [self._infer(close_up, threshold) for _, close_up in views]
        else:
            queue = getattr(self._local, "close_ups", None)
            if queue is None:
                queue = self._local.close_ups = ov.AsyncInferQueue(self._close_ups, PARALLEL_STREAMS)
            found = [None] * len(views)  # filled in by each request's callback

            def keep(request: ov.InferRequest, index: int) -> None:
                found[index] = self._decode(request, self.refine_size, threshold)

            queue.set_callback(keep)
            for index, (_, close_up) in enumerate(views):
                queue.start_async({0: close_up[None]}, index)
            queue.wait_all()
        return [self._read_close_up(rgb, face, matrix, *detections)
                for face, (matrix, _), detections in zip(faces, views, found)]

    def _close_up(self, rgb: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
        """(frame → close-up matrix, the upright close-up around ``face``)."""
        side = self.refine_size
        scale = side / (REFINE_CONTEXT * max(face.width, face.height))
        cx, cy = face.center
        matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), face.roll_deg, scale)
        matrix[:, 2] += [side / 2 - cx, side / 2 - cy]
        close_up = warp(rgb, Framing(matrix=matrix, shape=(side, side), angle_deg=face.roll_deg,
                                     mode="face"))
        return matrix, close_up

    def _read_close_up(self, rgb: np.ndarray, face: Face, matrix: np.ndarray, boxes: np.ndarray,
                       points: np.ndarray, scores: np.ndarray) -> tuple[Face, bool]:
        """The refined face and whether it is confirmed, from its close-up's detections."""
        side = self.refine_size
        scale = float(np.hypot(*matrix[0, :2]))
        if len(boxes) == 0:
            return face, False
        # Where the coarse face should be in the close-up: upright, same size, centred.
        half_size = np.array([face.width, face.height]) * scale / 2
        expected = np.array([*(side / 2 - half_size), *(side / 2 + half_size)])
        overlaps = box_iou(expected, boxes)[0]
        confirmed = bool(((overlaps >= CONFIRM_IOU) & (scores >= CONFIRM_SCORE)).any())
        best = int(np.argmax(overlaps))
        if overlaps[best] < REFINE_IOU or scores[best] < REFINE_SCORE:
            return face, confirmed
        back = cv2.invertAffineTransform(matrix)
        landmarks = apply_affine(back, points[best]).astype(np.float32)
        # The box keeps its upright size around the refined centre (the bounds of a
        # turned box would be larger than the face).
        x0, y0, x1, y1 = boxes[best]
        centre = apply_affine(back, [[(x0 + x1) / 2, (y0 + y1) / 2]])[0]
        half = np.array([x1 - x0, y1 - y0]) / scale / 2
        h, w = rgb.shape[:2]
        box = np.clip([*(centre - half), *(centre + half)], 0, [w, h, w, h]).astype(np.float32)
        return Face(box=box, landmarks=landmarks, score=face.score), confirmed


def landmarks_form_a_face(face: Face) -> bool:
    """The five landmarks lie in (or just around) the box, the mouth below the eyes."""
    x0, y0, x1, y1 = face.box
    slack = LANDMARK_SLACK * np.array([face.width, face.height])
    inside = ((face.landmarks >= [x0, y0] - slack) & (face.landmarks <= [x1, y1] + slack)).all()
    eyes_y = face.landmarks[:2, 1].mean()
    mouth_y = face.landmarks[3:, 1].mean()
    return bool(inside and mouth_y > eyes_y)


def on_a_body(face: Face, other: Face) -> bool:
    """``face`` is much smaller than ``other`` and lies in ``other``'s body box (below it)."""
    if face.width >= BODY_SHARE * other.width:
        return False
    cx, cy = face.center
    ox = other.center[0]
    return bool(abs(cx - ox) <= BODY_WIDTH * other.width / 2
                and other.box[3] <= cy <= other.box[3] + BODY_HEIGHT * other.height)


def plausible_faces(faces: list[Face], confirmed: list[bool | None]) -> list[Face]:
    """The faces that can be guests (same order): a detection is dropped when

    * it is far narrower than the largest face (SMALL_SHARE) and not sure (SURE_SCORE);
    * its landmarks do not form a face (:func:`landmarks_form_a_face`);
    * it lies on a larger face's body (a hand, a print on a shirt: :func:`on_a_body`);
    * it is not sure, its close-up does not confirm it (``confirmed`` False; None: not
      checked) and no confirmed face stands beside it: alone it would decide the shot.
      Beside confirmed guests an unconfirmed face of their size is kept: a guest turned
      away (in profile, from behind) is the face the close-up misses.
    """
    if not faces:
        return []
    largest = max(f.width for f in faces)
    anyone_confirmed = any(c for c in confirmed)
    kept = []
    for face, sure in zip(faces, confirmed):
        unsure = face.score < SURE_SCORE
        if unsure and face.width < SMALL_SHARE * largest:
            continue
        if not landmarks_form_a_face(face):
            continue
        if any(on_a_body(face, other) for other in faces if other is not face):
            continue
        if unsure and sure is False and not anyone_confirmed:
            continue
        kept.append(face)
    return kept
