"""The RetinaFace detector on real photos: boxes, landmarks, scores, big frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from booth import config
from booth.measure.faces import people_in
from booth.vision.face import FaceDetector, decode, nms, plausible_faces, priors
from booth.vision.geometry import Face, box_iou
from booth.vision.images import load_image


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.from_settings(config.defaults())


def test_priors_cover_the_three_strides():
    anchors = priors(640, 640)
    # (80² + 40² + 20²) grid cells × 2 sizes each, as in the network's output.
    assert anchors.shape == ((80 * 80 + 40 * 40 + 20 * 20) * 2, 4)
    assert anchors[0].tolist() == [4.0, 4.0, 16.0, 16.0]
    assert anchors[-1].tolist() == [624.0, 624.0, 512.0, 512.0]


def test_zero_offsets_decode_to_the_anchor_itself():
    anchors = np.array([[100, 50, 32, 32]], np.float32)
    boxes, points = decode(np.zeros((1, 4), np.float32), np.zeros((1, 10), np.float32), anchors)
    assert boxes[0].tolist() == [84, 34, 116, 66]
    assert np.allclose(points[0], [[100, 50]] * 5)
    boxes, _ = decode(np.array([[1, 0, 0, 0]], np.float32), np.zeros((1, 10), np.float32), anchors)
    assert boxes[0, 0] == pytest.approx(84 + 0.1 * 32)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.7])) == [1, 2]
    assert box_iou(boxes[0], boxes[2])[0, 0] == 0


def test_one_face_with_plausible_landmarks(detector, face_photo):
    rgb = load_image(face_photo)
    faces = detector.detect(rgb)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.95
    assert face.height > rgb.shape[0] * 0.3
    x0, y0, x1, y1 = face.box
    assert ((face.landmarks[:, 0] > x0) & (face.landmarks[:, 0] < x1)).all()
    assert ((face.landmarks[:, 1] > y0) & (face.landmarks[:, 1] < y1)).all()
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert abs(face.roll_deg) < 15
    assert 0.25 * face.width < face.inter_ocular < 0.6 * face.width


def test_every_portrait_and_every_group_member_is_found(detector, photos):
    for path in sorted((photos / "faces").glob("*.jpg")):
        assert detector.detect(load_image(path)), f"no face found in {path.name}"
    people = found = 0
    for path in sorted((photos / "groups").glob("*.jpg")):
        expected = people_in(path)
        people += expected
        found += min(expected, len(detector.detect(load_image(path))))
    assert found / people >= 0.95


def test_no_face_in_an_empty_or_flat_image(detector, photos):
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    for shape in ((1, 1), (1, 5000), (5000, 1), (7, 3)):          # slivers and specks
        assert detector.detect(np.zeros((*shape, 3), np.uint8)) == []
    assert detector.detect(load_image(photos / "scenes" / "nps_glacier_lake.jpg")) == []


def test_a_12_megapixel_frame_gives_the_same_face_in_its_own_pixels(detector, face_photo):
    small = load_image(face_photo)
    big = cv2.resize(small, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    sx, sy = 4000 / small.shape[1], 3000 / small.shape[0]
    (face_small,) = detector.detect(small)
    (face_big,) = detector.detect(big)
    expected = face_small.box * [sx, sy, sx, sy]
    assert box_iou(expected, face_big.box)[0, 0] > 0.8
    # Landmarks agree to a few percent of the eye distance after scaling back.
    error = np.linalg.norm(face_big.landmarks / [sx, sy] - face_small.landmarks, axis=1).mean()
    assert error / face_small.inter_ocular < 0.06


def test_refinement_makes_landmarks_consistent(detector, photos):
    """The upright close-up pass: a face's landmarks agree between the frame and its
    levelled, re-framed crop (what `booth eval faces` relies on) about twice as well."""
    from booth.vision import framing

    def disagreement(refine: bool) -> float:
        errors = []
        for name in ("18f_edwin_torres.jpg", "18f_colin_murphy_glasses.jpg", "18f_glenn_grieves_glasses.jpg", "18f_sarayu_srinivasan.jpg"):
            rgb = load_image(photos / "faces" / name)
            (face,) = detector.detect(rgb, refine=refine)
            crop, shot = framing.frame(rgb, [face], (512, 408), config.defaults().face)
            (found,) = detector.detect(crop, refine=refine)
            expected = shot.map_face(face)
            errors.append(np.linalg.norm(expected.landmarks - found.landmarks, axis=1).mean()
                          / expected.inter_ocular)
        return float(np.mean(errors))

    refined, coarse = disagreement(refine=True), disagreement(refine=False)
    assert refined < 0.035
    assert refined < 0.75 * coarse


def test_face_helpers_map_through_an_affine():
    face = Face(box=np.array([10, 20, 30, 60], np.float32),
                landmarks=np.array([[15, 30], [25, 30], [20, 40], [16, 50], [24, 50]], np.float32),
                score=0.9)
    assert face.inter_ocular == 10 and face.roll_deg == 0
    moved = face.transformed(np.array([[2, 0, 5], [0, 2, -1]]))
    assert moved.box.tolist() == [25, 39, 65, 119]
    assert moved.inter_ocular == 20
    assert repr(moved) == "Face(box=(25, 39, 65, 119), score=0.90)"


def test_max_faces_keeps_the_largest(photos):
    detector = FaceDetector(max_faces=2)
    faces = detector.detect(load_image(photos / "groups" / "18f_three_steps_team.jpg"))
    assert len(faces) == 2
    every = FaceDetector(max_faces=12).detect(load_image(photos / "groups" / "18f_three_steps_team.jpg"))
    assert faces[0].height * faces[0].width == pytest.approx(every[0].height * every[0].width, rel=0.01)


def test_detect_from_several_threads_gives_the_same_faces(detector, photos):
    from concurrent.futures import ThreadPoolExecutor

    images = [load_image(photos / "groups" / name) for name in ("18f_renata_award.jpg", "18f_sba_legos.jpg")]
    serial = [detector.detect(image) for image in images]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(detector.detect, images * 3))
    for i, faces in enumerate(parallel):
        expected = serial[i % 2]
        assert len(faces) == len(expected)
        for a, b in zip(faces, expected):
            assert np.allclose(a.landmarks, b.landmarks, atol=1e-3)


def test_face_settings_are_checked_with_one_line_errors(tmp_path):
    bad = tmp_path / "config.toml"
    for line, key in (("refine_size = 50", "refine_size"), ("face_y = 0.95", "face_y"),
                      ("aspect = 3.0", "aspect")):
        bad.write_text(f"[face]\n{line}\n")
        with pytest.raises(config.ConfigError) as caught:
            config.load(bad)
        message = str(caught.value)
        assert "\n" not in message and key in message and ":2:" in message


def synthetic_face(x0: float, y0: float, size: float, score: float = 0.99) -> Face:
    marks = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]]) * size
    return Face(box=np.array([x0, y0, x0 + size, y0 + size], np.float32),
                landmarks=(marks + [x0, y0]).astype(np.float32), score=score)


def test_detections_that_cannot_be_a_guest_are_dropped():
    guest = synthetic_face(400, 100, 400)
    # Far smaller than the guest and unsure (a hand): dropped; the same size but sure: kept.
    hand = synthetic_face(1200, 900, 90, score=0.68)
    far_guest = synthetic_face(1200, 100, 90, score=0.98)
    assert plausible_faces([guest, hand, far_guest], [True, None, None]) == [guest, far_guest]
    # On the guest's body (below the face, half its width or less), even when sure: dropped.
    on_shirt = synthetic_face(520, 700, 150, score=0.95)
    assert plausible_faces([guest, on_shirt], [True, True]) == [guest]
    # Landmarks that do not form a face (mouth above the eyes): dropped.
    upside_down = Face(box=guest.box, landmarks=guest.landmarks[[3, 4, 2, 0, 1]], score=0.99)
    assert plausible_faces([upside_down], [True]) == []
    # Unsure and unconfirmed by its close-up: alone it would decide the shot (dropped);
    # beside a confirmed guest of its size it is a guest turned away (kept).
    turned = synthetic_face(900, 120, 380, score=0.68)
    assert plausible_faces([turned], [False]) == []
    assert plausible_faces([guest, turned], [True, False]) == [guest, turned]


def test_the_hand_on_a_hires_photo_is_not_a_face(detector, photos):
    rgb = load_image(photos / "hires" / "anamnesis33_mqcYKihgfAo_3335x4668.jpg")
    # The network also scores the hand 0.68 (about 90 px against the face's 480).
    (face,) = detector.detect(rgb)
    assert face.score > 0.9 and face.width > 400
