"""The INT8 generator at run time, on a real face photo."""

from __future__ import annotations

import json

import numpy as np
import pytest

from booth import config, quality, weights
from booth.generator import Generator, working_shape
from booth.images import load_image
from booth.quantize import booth_crop


@pytest.fixture(scope="module")
def int8():
    return Generator(precision="int8")


@pytest.fixture(scope="module")
def face_crop(face_photo):
    h, w = working_shape(512, config.defaults().face.aspect)
    return booth_crop(load_image(face_photo), 512, config.defaults().face.aspect)


def test_working_shape_is_a_multiple_of_8():
    for size in (384, 448, 512):
        for aspect in (0.5, 0.75, 0.8, 1.0, 1.333, 2.0):
            h, w = working_shape(size, aspect)
            assert h % 8 == 0 and w % 8 == 0 and max(h, w) == size
            assert abs(w / h - aspect) < 0.05


def test_int8_stylizes_a_real_face(int8, face_crop):
    out = int8.stylize(face_crop)
    assert out.shape == face_crop.shape and out.dtype == np.uint8
    # It changed the picture, but it is still the same picture (not flat, not noise).
    assert np.abs(out.astype(int) - face_crop.astype(int)).mean() > 8
    assert out.std() > 20
    assert 0 <= out.min() and out.max() <= 255 and out.max() - out.min() > 150
    assert quality.ssim(face_crop, out) > 0.3


def test_int8_is_close_to_the_float_network(int8, face_crop):
    f32 = Generator(precision="f32")
    ours, reference = int8.stylize(face_crop), f32.stylize(face_crop)
    assert quality.psnr(reference, ours) > 28
    assert quality.ssim(reference, ours) > 0.9


def test_bad_shapes_are_refused(int8):
    with pytest.raises(ValueError, match="multiples of 8"):
        int8.stylize(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        int8.stylize(np.zeros((64, 64, 3), np.float32))


def test_warm_up_and_cache(tmp_path):
    settings = config.defaults()
    gen = Generator(cache_dir=tmp_path / "cache")
    gen.warm_up(working_shape(s, settings.face.aspect) for s in settings.generator.sizes)
    assert len(gen.warm_shapes) == len(settings.generator.sizes)
    assert any((tmp_path / "cache").iterdir())  # the compile cache was written


def test_runtime_graph_runs_convolutions_in_int8_and_norms_fused(int8):
    ops = int8.runtime_ops
    assert ops.count("MVN") == 24
    assert "ReduceMean" not in ops


def test_model_card_records_the_build():
    card = json.loads((weights.WEIGHTS_DIR / weights.MODEL_CARD).read_text())
    assert card["source_sha256"] == weights.manifest()["generator"].sha256
    assert card["int8"]["chosen"] in ("nncf", "tflite-asis")
