"""One photo, end to end: find the faces, level and frame them, stylize, compose.

>>> pipeline = Pipeline.from_settings(settings)   # loads and warms both networks
>>> result = pipeline.process(rgb)                # the full camera frame, uint8 RGB
>>> result.stylized, result.size, result.faces, result.timings_ms

Steps (each timed in ``result.timings_ms``):

1. ``detect``: RetinaFace on a small copy of the frame (:mod:`booth.vision.face`);
2. ``frame``: one warp from the frame into the levelled portrait / group / scene crop
   at the generator's working shape (:mod:`booth.vision.framing`);
3. ``policy``: the generator size for this crop (``booth.vision.policy.choose_size`` unless a
   size is fixed); a smaller size re-renders the crop from the frame (still one warp);
4. ``generator``: AnimeGANv2 on the crop;
5. ``upscale``: the same region rendered again from the frame at the result's size
   (``[storage] result_long_side``, never beyond the crop's own resolution) guides the
   upsampling of the generator's output to it (:mod:`booth.vision.upsample`);
6. ``compose``: in a face style (JP face) the crop was rendered by the style's
   companion, and each face is cut on its own aligned crop from the frame, stylized by
   the face style and blended back (:func:`booth.vision.framing.blend_face`); in "hd"
   mode each face is framed closer, stylized on its own and pasted back over the
   full-resolution result through a feathered mask.

The default "portrait" mode skips step 6: it is the fast one, and the faces already
fill a good share of the crop. Measured with ``booth eval faces`` on the shared
portraits and groups (42 faces): both modes find every face again; "hd" lowers the
landmark error a little (mean NME 0.038 vs 0.041, worst 0.07 vs 0.12) and brings back
small background faces in crowd scenes (found again: 75 % vs 35 %), for one more
generator run at 256 px (about a quarter of a 512 run) per face it re-stylizes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from booth.vision import framing, geometry, policy, upsample
from booth.vision.face import FaceDetector
from booth.vision.generator import Generator, working_shape
from booth.vision.geometry import Face
from booth.vision.styles import StyleGenerator, StyleSet

#: "hd" mode: the generator size (long side) of each face's own crop, and the share of
#: that crop's height the face takes (about 140 px of face: eyes and mouth keep their
#: shape, at a quarter of a 512 run's cost per face).
HD_FACE_SIZE = 256
HD_FACE_SHARE = 0.55
#: "hd" mode: faces already this large in the main crop (relative to their own crop)
#: gain nothing from a second pass and are left as they are.
HD_MIN_GAIN = 1.15


@dataclass
class PhotoResult:
    """What :meth:`Pipeline.process` made of one frame."""

    stylized: np.ndarray          # final anime image at the result's size, uint8 RGB
    crop: np.ndarray              # the levelled, framed crop the generator ran on
    size: int                     # generator size chosen (long side)
    faces: list[Face]             # faces detected in the input frame
    complexity: float
    timings_ms: dict[str, float]
    #: Frame pixels → stylized pixels; maps input faces into the output.
    framing: geometry.Framing | None = None
    #: "hd" mode: the seam measure (:func:`booth.vision.framing.seam_step`) of each pasted face.
    seam_steps: list[float] = field(default_factory=list)
    #: The generator's own output for ``crop`` (same size as the crop).
    generated: np.ndarray | None = None
    #: Frame pixels → crop (= generated) pixels.
    crop_framing: geometry.Framing | None = None
    #: The style it was made in (None: the pipeline's own generator).
    style: str | None = None
    #: A face style: frame pixels → each face's own crop (one per face, in ``faces``' order).
    face_crops: list[geometry.Framing] = field(default_factory=list)


def as_rgb8(image: np.ndarray) -> np.ndarray:
    """Any plausible image array as H×W×3 uint8 RGB (grey, alpha, 16-bit, float 0..1)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an H×W image with 1, 3 or 4 channels, got shape {image.shape}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = (np.clip(np.nan_to_num(image), 0, 1) * 255).round().astype(np.uint8)
    elif image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[..., :3]
    return np.ascontiguousarray(image)


def _choose_size(crop: np.ndarray, generator_settings, size: int | None) -> tuple[int, float]:
    """The generator size for this crop (``size`` if given) and the crop's complexity."""
    return (size or policy.choose_size(crop, generator_settings)), policy.complexity(crop)


class Pipeline:
    """Frame in, anime portrait out. ``process`` may be called from several threads."""

    def __init__(self, settings, generator: Generator | StyleGenerator | None = None,
                 detector: FaceDetector | None = None, styles=None) -> None:
        self.settings = settings
        self.generator = generator
        self.detector = detector
        #: The styles a photo may be made in (:class:`booth.vision.styles.StyleSet`), or None.
        self.styles = styles

    @classmethod
    def from_settings(cls, settings) -> "Pipeline":
        """Load, compile and warm up the default style's generator and the face detector."""
        styles = StyleSet.from_settings(settings)
        default = styles.generator(settings.styles.default)
        generator = default.generator if default.style.classic else default
        pipeline = cls(settings, generator, FaceDetector.from_settings(settings), styles)
        if settings.face.mode == "hd":
            generator.warm_up([pipeline.hd_face_shape])
        return pipeline

    @property
    def hd_face_shape(self) -> tuple[int, int]:
        """(height, width) of the "hd" mode's per-face crops."""
        return working_shape(HD_FACE_SIZE, self.settings.face.aspect)

    def shape_for(self, size: int) -> tuple[int, int]:
        """(height, width) of the crop for a generator size (what the generator is warmed for)."""
        return working_shape(size, self.settings.face.aspect)

    def _generators(self, style: str | None):
        """(crop generator, face style or None) for a style: a face style (JP face)
        leaves the crop to its companion scene style and stylizes each face itself."""
        if self.styles is not None and style is None \
                and self.styles.role(self.settings.styles.default) == "face":
            style = self.settings.styles.default  # a face style never runs on the whole crop
        if style is None or self.styles is None:
            return self.generator, None
        if self.styles.role(style) != "face":
            return self.styles.generator(style), None
        # The companion first: the face style, used last, keeps it compiled beside it.
        companion = self.styles.generator(self.styles.style(style).companion)
        return companion, self.styles.generator(style)

    def process(self, rgb: np.ndarray, *, size: int | None = None,
                use_faces: bool = True, style: str | None = None) -> PhotoResult:
        """Stylize one full camera frame. ``size`` fixes the generator size (long side);
        ``style`` picks an available style (default: the pipeline's own generator)."""
        if self.generator is None:
            raise RuntimeError("Pipeline has no generator: build it with Pipeline.from_settings")
        if style is not None and self.styles is not None:
            self.styles.check(style)
        rgb = as_rgb8(rgb)
        face_settings = self.settings.face
        timings: dict[str, float] = {}

        started = time.perf_counter()
        faces = self.detector.detect(rgb) if (use_faces and self.detector is not None) else []
        timings["detect"] = _ms_since(started)

        started = time.perf_counter()
        largest = max(self.settings.generator.sizes)
        shot = framing.plan(rgb.shape[:2], faces, self.shape_for(size or largest), face_settings)
        crop = geometry.warp(rgb, shot)
        timings["frame"] = _ms_since(started)

        started = time.perf_counter()
        size, score = _choose_size(crop, self.settings.generator, size)
        timings["policy"] = _ms_since(started)
        if max(crop.shape[:2]) != size:
            # Render again from the frame rather than resize the crop: one resampling.
            started = time.perf_counter()
            shot = framing.plan(rgb.shape[:2], faces, self.shape_for(size), face_settings)
            crop = geometry.warp(rgb, shot)
            timings["frame"] += _ms_since(started)

        started = time.perf_counter()
        generator, face_style = self._generators(style)
        generated = generator.stylize(crop)
        timings["generator"] = _ms_since(started)

        started = time.perf_counter()
        stylized, full_shot = self.upscale(rgb, shot, crop, generated)
        timings["upscale"] = _ms_since(started)

        started = time.perf_counter()
        seams: list[float] = []
        face_crops: list[geometry.Framing] = []
        generator_ms = 0.0
        if face_style is not None and faces:
            stylized = stylized.copy() if stylized is generated else stylized
            face_crops, seams, generator_ms = self._face_style_faces(rgb, faces, full_shot,
                                                                     stylized, face_style)
        elif face_settings.mode == "hd" and faces:
            stylized, seams, generator_ms = self._hd_faces(rgb, faces, shot, full_shot, stylized,
                                                           generator)
        timings["generator"] += generator_ms
        timings["compose"] = _ms_since(started) - generator_ms
        return PhotoResult(stylized=stylized, crop=crop, size=int(size), faces=list(faces),
                           complexity=float(score), timings_ms=timings, framing=full_shot,
                           seam_steps=seams, generated=generated, crop_framing=shot,
                           style=style, face_crops=face_crops)

    def upscale(self, rgb: np.ndarray, shot: geometry.Framing, crop: np.ndarray,
                generated: np.ndarray) -> tuple[np.ndarray, geometry.Framing]:
        """The generator's output at the result's size, guided by the frame:
        (image, frame → image framing)."""
        shape = upsample.result_shape(shot.shape, shot.scale,
                                      self.settings.storage.result_long_side)
        if shape == shot.shape:
            return generated, shot
        full_shot = framing.resized(shot, shape)
        return upsample.upsample(generated, crop, geometry.warp(rgb, full_shot)), full_shot

    def _face_style_faces(self, rgb: np.ndarray, faces: list[Face], full_shot: geometry.Framing,
                          stylized: np.ndarray, face_style
                          ) -> tuple[list[geometry.Framing], list[float], float]:
        """A face style: every face stylized on its own aligned crop (from the full
        frame) and blended into ``stylized`` (in place): (crops, seams, generator ms)."""
        style = face_style.style
        side, fill = style.face_crop_for(len(faces))
        crops, seams, generator_ms = [], [], 0.0
        for face in faces:
            close = framing.aligned_face_framing(rgb.shape[:2], face, side, fill)
            started = time.perf_counter()
            face_anime = face_style.stylize(geometry.warp(rgb, close))
            generator_ms += _ms_since(started)
            _, seam = framing.blend_face(stylized, face_anime, full_shot, close, face)
            crops.append(close)
            seams.append(seam)
        return crops, seams, generator_ms

    def _hd_faces(self, rgb: np.ndarray, faces: list[Face], shot: geometry.Framing,
                  full_shot: geometry.Framing, stylized: np.ndarray, generator
                  ) -> tuple[np.ndarray, list[float], float]:
        """"hd" mode: stylize each face on its own, closer, and paste it back over
        ``stylized`` (rendered with ``full_shot``): (image, seams, generator ms).

        A face is worth a second pass when the generator sees it larger than in the
        main crop (``shot``): the generator draws eyes and mouths better from more pixels.
        """
        face_shape = self.hd_face_shape
        seams, generator_ms = [], 0.0
        for face in faces:
            close = framing.face_framing(rgb.shape[:2], face, shot.angle_deg, face_shape,
                                         HD_FACE_SHARE, self.settings.face.face_y)
            if close.scale < HD_MIN_GAIN * shot.scale:
                continue
            started = time.perf_counter()
            face_anime = generator.stylize(geometry.warp(rgb, close))
            generator_ms += _ms_since(started)
            composite, mask = framing.paste_back(stylized, face_anime, full_shot, close, face)
            seams.append(framing.seam_step(composite, stylized, mask))
            stylized = composite
        return stylized, seams, generator_ms


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
