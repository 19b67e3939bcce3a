"""The 384–512 resolution policy."""

from __future__ import annotations

import numpy as np

from booth import config
from booth.vision import policy
from booth.vision.images import load_image


def test_flat_images_score_low_and_busy_images_high():
    flat = np.full((300, 400, 3), 128, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (192, 256, 3), dtype=np.uint8)
    assert policy.complexity(flat) == 0.0
    assert policy.complexity(noise) > 20  # far above any real photo (see booth/vision/policy.py)


def test_score_does_not_depend_on_resolution(face_photo):
    import cv2

    rgb = load_image(face_photo)
    big = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    assert abs(policy.complexity(big) - policy.complexity(rgb)) < 0.25 * policy.complexity(rgb)


def test_sizes_follow_thresholds():
    g = config.defaults().generator
    assert policy.size_for_score(0.0, g) == min(g.sizes)
    assert policy.size_for_score(g.complexity_low, g) == min(g.sizes)
    assert policy.size_for_score(g.complexity_high, g) == max(g.sizes)
    assert policy.size_for_score(1000.0, g) == max(g.sizes)
    scores = np.linspace(0, 30, 50)
    chosen = [policy.size_for_score(s, g) for s in scores]
    assert chosen == sorted(chosen)  # monotonic
    assert all(s in g.sizes for s in chosen)


def test_detailed_photo_lands_at_512_and_fixed_size_wins():
    g = config.defaults().generator
    busy = np.random.default_rng(1).integers(0, 256, (512, 408, 3), dtype=np.uint8)
    assert policy.choose_size(busy, g) == 512
    fixed = config.defaults().replace("generator", size="384").generator
    assert policy.choose_size(busy, fixed) == 384
