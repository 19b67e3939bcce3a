"""One photo end to end with the real networks: faces found again, odd input survives."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from booth import config
from booth.measure.faces import match_faces, nme
from booth.vision.generator import working_shape
from booth.vision.images import decode_image, load_image
from booth.vision.pipeline import Pipeline, as_rgb8
from booth.measure.upscale import psnr

SETTINGS = config.defaults()


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.from_settings(SETTINGS)


def test_a_real_face_is_found_again_in_the_stylized_portrait(pipeline, face_photo):
    # A small close-up (380 px, a phone's thumbnail): its crop holds no more pixels than
    # the generator's output, which is the result as it is.
    rgb = cv2.resize(load_image(face_photo), (380, 380), interpolation=cv2.INTER_AREA)
    result = pipeline.process(rgb)
    assert result.size in SETTINGS.generator.sizes
    assert result.stylized.shape[:2] == working_shape(result.size, SETTINGS.face.aspect)
    assert result.stylized.shape == result.crop.shape and result.stylized.dtype == np.uint8
    assert not np.array_equal(result.stylized, result.crop)          # it was stylized
    assert len(result.faces) == 1 and result.framing.mode == "portrait"
    assert set(result.timings_ms) == {"detect", "frame", "policy", "generator", "upscale",
                                      "compose"}
    assert result.complexity > 0
    # The face, mapped into the output, is found there again, landmarks in place.
    expected = [result.framing.map_face(f) for f in result.faces]
    found = pipeline.detector.detect(result.stylized)
    pairs = match_faces(expected, found)
    assert len(pairs) == 1
    assert nme(expected[0], found[pairs[0][1]]) < 0.08
    # A close-up photo: the portrait can only shrink around the face (to stay inside
    # the photo), so the face takes at least the configured share of the height.
    assert expected[0].height / result.stylized.shape[0] > 0.95 * SETTINGS.face.face_share


def test_a_12_megapixel_frame_is_framed_like_its_small_copy(pipeline, photos):
    rgb = load_image(photos / "faces" / "18f_sarayu_srinivasan.jpg")           # 600×800
    big = np.ascontiguousarray(np.kron(rgb, np.ones((5, 5, 1), np.uint8)))     # 3000×4000: 12 MP
    small_result = pipeline.process(rgb, size=384)
    big_result = pipeline.process(big, size=384)
    assert len(big_result.faces) == 1
    assert big_result.framing.mode == small_result.framing.mode == "portrait"
    # The same portrait: the face lands in the same place of the crop (within 2 %).
    a = small_result.crop_framing.map_face(small_result.faces[0]).box
    b = big_result.crop_framing.map_face(big_result.faces[0]).box
    assert np.abs(a - b).max() < 0.02 * 384
    assert np.abs(big_result.crop.astype(int) - small_result.crop.astype(int)).mean() < 6
    # And the same place of the result, whatever its size.
    a = small_result.framing.map_face(small_result.faces[0]).box / small_result.stylized.shape[0]
    b = big_result.framing.map_face(big_result.faces[0]).box / big_result.stylized.shape[0]
    assert np.abs(a - b).max() < 0.02


def test_a_12_megapixel_frame_gives_a_sharp_full_resolution_portrait(pipeline, photos):
    rgb = load_image(photos / "faces" / "18f_sarayu_srinivasan.jpg")          # 600×800
    frame = cv2.resize(rgb, (3000, 4000), interpolation=cv2.INTER_CUBIC)   # 12 MP
    result = pipeline.process(frame, size=512)
    generated = result.generated
    assert generated.shape[:2] == working_shape(512, SETTINGS.face.aspect) == result.crop.shape[:2]
    h, w = result.stylized.shape[:2]
    assert max(h, w) == SETTINGS.storage.result_long_side == 1350
    assert abs(w / h - generated.shape[1] / generated.shape[0]) <= 1 / h
    # Faithful to the generator: shrunk back to its size, it is its output.
    shrunk = cv2.resize(result.stylized, generated.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert psnr(shrunk, generated) >= 35
    # The face is found at full resolution where the frame's face maps to.
    expected = [result.framing.map_face(f) for f in result.faces]
    found = pipeline.detector.detect(result.stylized)
    pairs = match_faces(expected, found)
    assert len(pairs) == 1 and nme(expected[0], found[pairs[0][1]]) < 0.08
    assert result.timings_ms["upscale"] < result.timings_ms["generator"]


def test_the_result_never_exceeds_the_crops_own_resolution(pipeline, photos):
    rgb = load_image(photos / "faces" / "18f_sarayu_srinivasan.jpg")               # 600×800
    result = pipeline.process(rgb, size=384)
    own = max(result.crop.shape[:2]) / result.crop_framing.scale
    assert own < SETTINGS.storage.result_long_side
    assert max(result.crop.shape[:2]) < max(result.stylized.shape[:2]) <= own


def test_result_long_side_zero_keeps_the_generators_output(pipeline, photos):
    settings = SETTINGS.replace("storage", result_long_side=0)
    plain = Pipeline(settings, pipeline.generator, pipeline.detector)
    result = plain.process(load_image(photos / "faces" / "18f_sarayu_srinivasan.jpg"), size=384)
    assert result.stylized is result.generated
    assert result.stylized.shape[:2] == working_shape(384, SETTINGS.face.aspect)
    assert result.framing is result.crop_framing


def test_a_group_keeps_everyone(pipeline, photos):
    rgb = load_image(photos / "groups" / "18f_renata_award.jpg")               # 2 people
    result = pipeline.process(rgb, size=384)
    assert result.framing.mode == "group" and len(result.faces) == 2
    h, w = result.stylized.shape[:2]
    for face in result.faces:
        x0, y0, x1, y1 = result.framing.map_face(face).box
        assert x0 >= -0.5 and y0 >= -0.5 and x1 <= w + 0.5 and y1 <= h + 0.5
    found = pipeline.detector.detect(result.stylized)
    assert len(match_faces([result.framing.map_face(f) for f in result.faces], found)) == 2


def test_size_and_no_face_options(pipeline, face_photo):
    rgb = load_image(face_photo)
    result = pipeline.process(rgb, size=384, use_faces=False)
    assert result.size == 384 and result.generated.shape[:2] == working_shape(384, SETTINGS.face.aspect)
    assert result.faces == [] and result.framing.mode == "scene"


def _encode(image: Image.Image, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def _odd_inputs(face_rgb: np.ndarray) -> dict[str, bytes]:
    """Photos in the awkward forms guests' phones and cameras produce."""
    face = Image.fromarray(face_rgb)
    exif = Image.Exif()
    exif[0x0112] = 6                                   # "rotate 90° clockwise to view"
    sideways = face.transpose(Image.Transpose.ROTATE_90)
    gray16 = (np.asarray(face.convert("L"), np.uint16) * 257)
    return {
        "grayscale JPEG": _encode(face.convert("L"), "JPEG"),
        "CMYK JPEG": _encode(face.convert("CMYK"), "JPEG"),
        "PNG with alpha": _encode(face.convert("RGBA"), "PNG"),
        "16-bit PNG": _encode(Image.fromarray(gray16), "PNG"),
        "EXIF-rotated JPEG": _encode(sideways, "JPEG", exif=exif.tobytes()),
        "1×1 PNG": _encode(Image.new("RGB", (1, 1), (200, 30, 30)), "PNG"),
        "31×31 JPEG": _encode(face.resize((31, 31)), "JPEG"),
    }


def test_odd_inputs_never_crash_and_faces_still_come_through(pipeline, face_photo):
    face_rgb = load_image(face_photo)
    for label, data in _odd_inputs(face_rgb).items():
        rgb = decode_image(data, name=label)
        result = pipeline.process(rgb, size=384)
        assert result.generated.shape == (*working_shape(384, SETTINGS.face.aspect), 3), label
        assert result.stylized.dtype == np.uint8 and result.stylized.ndim == 3, label
        if label in ("grayscale JPEG", "CMYK JPEG", "PNG with alpha", "16-bit PNG",
                     "EXIF-rotated JPEG"):
            assert len(result.faces) == 1, label
            # Upright after the EXIF turn: the eyes are level, not vertical.
            assert abs(result.faces[0].roll_deg) < 20, label
        if label == "1×1 PNG":
            assert result.faces == []
            assert np.abs(result.crop.astype(int) - [200, 30, 30]).max() <= 1


def test_a_face_at_the_very_edge_is_kept_whole(pipeline, face_photo):
    rgb = load_image(face_photo)
    # Put the photo in the top-left corner of a wide frame: the face touches two edges.
    frame = np.full((rgb.shape[0] + 80, rgb.shape[1] * 3, 3), 90, np.uint8)
    frame[:rgb.shape[0] - 60, :rgb.shape[1] - 70] = rgb[60:, 70:]
    result = pipeline.process(frame, size=384)
    assert len(result.faces) == 1
    h, w = result.stylized.shape[:2]
    x0, y0, x1, y1 = result.framing.map_face(result.faces[0]).box
    assert x0 >= -0.5 and y0 >= -0.5 and x1 <= w + 0.5 and y1 <= h + 0.5
    assert result.crop.min(axis=2).mean() > 40       # mirrored and blurred, no black bars


def test_a_face_turned_away_falls_back_gracefully(pipeline, photos):
    # A head turned aside and upside down (a guest hanging from the booth's frame):
    # whatever the detector makes of it, a complete picture comes out.
    rgb = np.ascontiguousarray(load_image(photos / "faces" / "18f_aviva_oskow_turned.jpg")[::-1, ::-1])
    result = pipeline.process(rgb, size=384)
    assert result.generated.shape == (*working_shape(384, SETTINGS.face.aspect), 3)
    assert max(result.stylized.shape[:2]) <= SETTINGS.storage.result_long_side
    assert result.framing.mode in ("scene", "portrait")


def test_odd_arrays_are_coerced():
    assert as_rgb8(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert as_rgb8(np.full((2, 2, 4), 9, np.uint8))[0, 0].tolist() == [9, 9, 9]
    assert as_rgb8(np.full((2, 2, 3), 65535, np.uint16)).max() == 255
    assert as_rgb8(np.full((2, 2, 3), 0.5, np.float32)).max() == 128
    with pytest.raises(ValueError, match="channels"):
        as_rgb8(np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(ValueError):
        as_rgb8(np.zeros((0, 5, 3), np.uint8))


@pytest.mark.slow
def test_hd_mode_pastes_closer_faces_without_a_seam(photos):
    settings = SETTINGS.replace("face", mode="hd")
    hd = Pipeline.from_settings(settings)
    rgb = load_image(photos / "groups" / "18f_three_steps_team.jpg")
    shapes = []
    stylize = hd.generator.stylize
    hd.generator.stylize = lambda image: shapes.append(image.shape[:2]) or stylize(image)
    result = hd.process(rgb, size=448)
    hd.generator.stylize = stylize
    portrait = Pipeline(SETTINGS, hd.generator, hd.detector).process(rgb, size=448)
    # The crop once (a wide group: a wider aspect, same long side), then each small
    # group face on its own, closer.
    assert shapes[0] == result.crop.shape[:2] and max(shapes[0]) == 448
    assert shapes[1:] == [hd.hd_face_shape] * len(result.seam_steps)
    assert len(result.seam_steps) >= 4
    assert max(result.seam_steps) < 1.5            # grey levels per pixel across the edge
    # Faces differ (re-stylized closer), the background away from faces does not.
    diff = np.abs(result.stylized.astype(int) - portrait.stylized.astype(int)).sum(axis=2)
    assert diff[:20].mean() < 1.0
    for face in result.faces:
        x0, y0, x1, y1 = result.framing.map_face(face).box.astype(int)
        if x1 > x0 and y1 > y0:
            assert diff[max(0, y0):y1, max(0, x0):x1].mean() > 2
    # Everyone is still found in the hd output.
    expected = [result.framing.map_face(f) for f in result.faces]
    assert len(match_faces(expected, hd.detector.detect(result.stylized))) >= len(expected) - 1


def test_a_false_face_does_not_turn_a_portrait_into_a_group(pipeline, photos):
    """The detector also finds a hand here (score 0.68, a fifth of the face's width):
    it is dropped, and the guest gets a head-and-shoulders portrait, not a full-length
    group framing with their face a tenth of the picture."""
    rgb = load_image(photos / "hires" / "anamnesis33_mqcYKihgfAo_3335x4668.jpg")
    result = pipeline.process(rgb)
    (face,) = result.faces
    assert face.score > 0.9 and result.framing.mode == "portrait"
    mapped = result.framing.map_face(face)
    assert mapped.height / result.stylized.shape[0] == pytest.approx(SETTINGS.face.face_share, rel=0.1)
