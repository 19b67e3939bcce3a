"""Levelling, framing invariants, edge filling and the feathered paste."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from booth import config
from booth.vision import framing, geometry
from booth.vision.face import FaceDetector
from booth.vision.geometry import Face
from booth.vision.generator import working_shape
from booth.vision.images import load_image

SETTINGS = config.defaults()


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.from_settings(SETTINGS)


def make_face(x0: float, y0: float, size: float, roll_deg: float = 0.0) -> Face:
    """A synthetic face box with eyes at the usual places, tilted by ``roll_deg``."""
    cx, cy = x0 + size / 2, y0 + size / 2
    marks = np.array([[-0.2, -0.1], [0.2, -0.1], [0, 0.08], [-0.15, 0.25], [0.15, 0.25]]) * size
    t = np.radians(roll_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return Face(box=np.array([x0, y0, x0 + size, y0 + size], np.float32),
                landmarks=(marks @ rot.T + [cx, cy]).astype(np.float32), score=0.99)


def rotate_frame(rgb: np.ndarray, angle_deg: float) -> np.ndarray:
    """The photo turned by ``angle_deg`` (counter-clockwise), on a canvas big enough for it."""
    h, w = rgb.shape[:2]
    side = int(np.hypot(h, w)) + 2
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    matrix[:, 2] += [(side - w) / 2, (side - h) / 2]
    return cv2.warpAffine(rgb, matrix, (side, side), borderMode=cv2.BORDER_REFLECT_101)


def inside(box: np.ndarray, shape: tuple[int, int], tolerance: float = 0.5) -> bool:
    h, w = shape
    return bool(box[0] >= -tolerance and box[1] >= -tolerance
                and box[2] <= w + tolerance and box[3] <= h + tolerance)


@pytest.mark.parametrize("angle", [-25.0, -12.0, 9.0, 20.0])
def test_a_rotated_photo_comes_back_level(detector, face_photo, angle):
    """Turn a photo by a known angle: the levelling undoes exactly that angle (±2°)."""
    upright = load_image(face_photo)
    (face,) = detector.detect(upright)
    own_tilt = framing.level_angle([face])          # the guest's own head tilt
    tilted = rotate_frame(upright, angle)
    (tilted_face,) = detector.detect(tilted)
    crop, shot = framing.frame(tilted, [tilted_face], working_shape(512, 0.8), SETTINGS.face)
    # Levelling the turned photo = turning it back by `angle`, then levelling as before.
    assert shot.angle_deg - own_tilt == pytest.approx(-angle, abs=2.0)
    # And the detector agrees: the eyes in the crop are level.
    (levelled,) = detector.detect(crop)
    assert abs(levelled.roll_deg) < 2.0
    # The eyes predicted by the transform are where the detector finds them.
    assert np.linalg.norm(shot.map_face(tilted_face).landmarks - levelled.landmarks, axis=1).mean() \
        < 0.1 * levelled.inter_ocular


def test_level_angle_levels_the_camera_not_the_heads():
    assert framing.level_angle([]) == 0.0
    assert framing.level_angle([make_face(0, 0, 100, 10)]) == pytest.approx(10, abs=0.01)
    # A camera held askew tilts every head alike: the size-weighted mean levels it.
    agreed = framing.level_angle([make_face(0, 0, 300, 12), make_face(400, 0, 100, 6)])
    assert 6 < agreed < 12 and agreed > 9
    # Heads tilted their own ways (leaning together, looking down): left as shot.
    assert framing.level_angle([make_face(0, 0, 100, 10), make_face(200, 0, 100, -10)]) == 0.0
    assert framing.level_angle([make_face(0, 0, 300, 25), make_face(400, 0, 100, 5)]) == 0.0
    # A face lying sideways is not "levelled" by turning the whole photo, nor any tilt beyond the bound.
    assert framing.level_angle([make_face(0, 0, 100, 80)]) == 0.0
    assert framing.level_angle([make_face(0, 0, 100, 35), make_face(200, 0, 100, 34)]) == 0.0
    # A face seen in profile (eyes close together) has no say.
    profile = make_face(200, 0, 100, -40)
    profile = Face(box=profile.box, landmarks=profile.landmarks * [0.2, 1] + [0.8 * 250, 0],
                           score=profile.score)
    assert framing.level_angle([make_face(0, 0, 100, 5), make_face(400, 0, 100, 7), profile]) \
        == pytest.approx(6, abs=0.5)


def test_a_wide_group_keeps_every_face_whole_inside_the_photo():
    """Six faces in a row across a landscape photo: no 4:5 crop holds them inside it,
    so the crop takes a wider aspect (same long side) instead of reaching past the edge."""
    faces = [make_face(100 + 500 * i, 700, 220, roll) for i, roll in enumerate([-12, 3, -1, -15, 6, 2])]
    shot = framing.plan((2000, 3200), faces, working_shape(512, 0.8), SETTINGS.face)
    assert shot.angle_deg == 0.0  # the heads disagree
    assert geometry.crop_inside(shot, (2000, 3200))
    assert max(shot.shape) == 512 and shot.shape[1] > shot.shape[0]
    for face in faces:
        assert inside(shot.map_face(face).box, shot.shape)


@pytest.mark.parametrize("aspect", [0.8, 1.0, 1.5])
def test_every_face_box_is_inside_the_crop_at_the_configured_aspect(detector, photos, aspect):
    face_settings = SETTINGS.replace("face", aspect=aspect).face
    out_hw = working_shape(512, aspect)
    paths = sorted((photos / "faces").glob("*.jpg"))[::3] + sorted((photos / "groups").glob("*.jpg"))
    for path in paths:
        rgb = load_image(path)
        faces = detector.detect(rgb)
        shot = framing.plan(rgb.shape[:2], faces, out_hw, face_settings)
        assert shot.mode == ("portrait" if len(faces) == 1 else "group")
        if shot.mode == "portrait":
            assert shot.shape == out_hw
        else:  # a group may take a wider aspect, at the same long side
            assert max(shot.shape) == max(out_hw) and shot.shape[1] / shot.shape[0] >= aspect - 0.03
        for face in faces:
            assert inside(shot.map_face(face).box, shot.shape), f"{path.name}: {face} cut"


def test_framing_invariants_hold_for_random_faces_anywhere():
    rng = np.random.default_rng(7)
    for _ in range(300):
        h, w = int(rng.integers(200, 3000)), int(rng.integers(200, 4000))
        faces = []
        for _ in range(int(rng.integers(1, 6))):
            size = float(rng.uniform(0.05, 0.6) * min(h, w))
            x0, y0 = rng.uniform(-0.2 * size, w - 0.8 * size), rng.uniform(-0.2 * size, h - 0.8 * size)
            faces.append(make_face(x0, y0, size, float(rng.uniform(-30, 30))))
        aspect = float(rng.choice([0.6, 0.8, 1.0, 1.78]))
        out_hw = working_shape(int(rng.choice([384, 448, 512])), aspect)
        shot = framing.plan((h, w), faces, out_hw, SETTINGS.replace("face", aspect=aspect).face)
        for face in faces:
            assert inside(shot.map_face(face).box, shot.shape)


def test_one_face_is_framed_head_and_shoulders():
    face = make_face(900, 500, 300)
    shot = framing.plan((3000, 4000), [face], (512, 408), SETTINGS.face)
    mapped = shot.map_face(face)
    assert mapped.height / 512 == pytest.approx(SETTINGS.face.face_share, rel=0.02)
    assert mapped.center[1] / 512 == pytest.approx(SETTINGS.face.face_y, rel=0.02)
    assert mapped.center[0] / 408 == pytest.approx(0.5, rel=0.02)


def test_close_up_crop_shrinks_to_stay_inside_the_photo():
    # The face fills most of a small photo: a "face_share" portrait would not fit.
    face = make_face(60, 50, 250)
    shot = framing.plan((380, 360), [face], (512, 408), SETTINGS.face)
    assert geometry.crop_inside(shot, (380, 360))
    assert inside(shot.map_face(face).box, (512, 408))


def test_scene_mode_is_the_centred_crop_at_the_aspect():
    shot = framing.plan((1000, 2000), [], (512, 408), SETTINGS.face)
    assert shot.mode == "scene" and shot.angle_deg == 0
    assert geometry.crop_inside(shot, (1000, 2000))
    # Full height used, centred horizontally.
    corners = framing.apply_affine(shot.inverse, [[0, 0], [408, 512]])
    assert corners[0, 1] == pytest.approx(0, abs=0.5) and corners[1, 1] == pytest.approx(1000, abs=0.5)
    assert (corners[0, 0] + corners[1, 0]) / 2 == pytest.approx(1000, abs=0.5)


def test_the_transform_puts_a_pixel_where_it_says(face_photo):
    """Crop pixels land exactly where ``map_points`` says, also through the area pre-shrink."""
    for frame_hw, scale_hint in (((600, 800), "upscale"), ((3000, 4000), "pre-shrink")):
        frame = np.zeros((*frame_hw, 3), np.uint8)
        dot = (frame_hw[1] * 0.45, frame_hw[0] * 0.4)
        radius = max(2, frame_hw[0] // 150)
        cv2.circle(frame, (int(dot[0]), int(dot[1])), radius, (255, 255, 255), -1)
        face = make_face(frame_hw[1] * 0.35, frame_hw[0] * 0.3, frame_hw[0] * 0.2, roll_deg=10)
        shot = framing.plan(frame_hw, [face], (512, 408), SETTINGS.face)
        crop = cv2.cvtColor(geometry.warp(frame, shot), cv2.COLOR_RGB2GRAY).astype(np.float64)
        ys, xs = np.mgrid[0:512, 0:408] + 0.5
        found = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
        expected = shot.map_points([[dot[0] + 0.5, dot[1] + 0.5]])[0]
        assert np.linalg.norm(found - expected) < 1.0, scale_hint


def test_a_big_downscale_averages_instead_of_aliasing():
    # A 12 MP frame of one-pixel stripes: averaged it is flat grey; sampled it aliases.
    frame = np.zeros((3000, 4000, 3), np.uint8)
    frame[:, ::2] = 255
    shot = framing.plan(frame.shape[:2], [], (512, 408), SETTINGS.face)
    crop = geometry.warp(frame, shot)
    sampled = cv2.warpAffine(frame, geometry.to_opencv(shot.matrix), (408, 512))
    assert abs(crop.mean() - 127.5) < 3
    assert sampled.std() > 60
    assert crop.std() < sampled.std() / 5


def test_a_face_at_the_edge_is_kept_and_the_outside_is_filled_not_black():
    frame = np.full((800, 1200, 3), 180, np.uint8)
    frame[:, :, 0] = np.linspace(120, 240, 1200, dtype=np.uint8)[None, :]
    face = make_face(1050, 20, 170)            # touching the right edge, near the top
    shot = framing.plan(frame.shape[:2], [face], (512, 408), SETTINGS.face)
    assert inside(shot.map_face(face).box, (512, 408))
    assert not geometry.crop_inside(shot, frame.shape[:2])    # it has to reach outside
    crop = geometry.warp(frame, shot)
    assert crop.min() > 100                     # no black bars anywhere
    assert crop[..., 1].std() < 2               # the mirrored part continues the photo


def test_tiny_frames_render():
    for hw in ((1, 1), (31, 31), (2, 500), (1, 5000), (5000, 1)):
        frame = np.full((*hw, 3), 77, np.uint8)
        crop = geometry.warp(frame, framing.plan(hw, [], (384, 304), SETTINGS.face))
        assert crop.shape == (384, 304, 3) and (crop == 77).all()


def test_feathered_paste_has_no_seam_where_a_hard_paste_has_one(photos):
    base = cv2.resize(load_image(photos / "faces" / "18f_colin_murphy_glasses.jpg"), (408, 512))
    patch = np.clip(base.astype(np.int16) + 40, 0, 255).astype(np.uint8)    # a brighter copy
    face = make_face(104, 120, 200)
    feathered = framing.feather_mask((512, 408), face)
    assert feathered.max() == pytest.approx(1, abs=0.01) and feathered[0, 0] == 0
    hard = (feathered > 0.5).astype(np.float32)
    soft_seam = framing.seam_step(geometry.paste(base, patch, feathered), base, feathered)
    hard_seam = framing.seam_step(geometry.paste(base, patch, hard), base, feathered)
    assert hard_seam > 8          # a visible step, in grey levels per pixel
    assert soft_seam < 1.0        # spread over the feather: invisible
    # The paste itself: the patch at the centre, the base far away.
    out = geometry.paste(base, patch, feathered)
    assert (out[220, 204] == patch[220, 204]).all() and (out[5, 5] == base[5, 5]).all()


def test_a_face_crop_gets_its_local_contrast_lifted_and_keeps_its_colours(detector, photos):
    """A face style's crop: the face's own shading (eyes, mouth, nose) is lifted, so the
    network has lines to draw from; the colours (skin tone) stay where they were."""
    rgb = load_image(photos / "faces" / "18f_julie_strothman.jpg")
    (face,) = detector.detect(rgb)
    crop = geometry.warp(rgb, framing.aligned_face_framing(rgb.shape[:2], face, 320, 0.6))
    lifted = framing.lift_face_contrast(crop)
    assert lifted.shape == crop.shape and lifted.dtype == np.uint8

    def local_contrast(image: np.ndarray) -> float:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return float(np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 6)).mean())

    assert local_contrast(lifted) > 1.2 * local_contrast(crop)
    chroma = [cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 1:].astype(float).mean(axis=(0, 1))
              for image in (crop, lifted)]
    assert np.abs(chroma[0] - chroma[1]).max() < 3
