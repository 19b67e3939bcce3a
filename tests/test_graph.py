"""The graph rewrites: any-size upsampling, fused norms, and the same numbers as the original."""

from __future__ import annotations

import numpy as np
import openvino as ov
import pytest

from booth.model import graph, weights
from booth.vision.images import load_image
from booth.model.quantize import booth_crop, to_network_input


@pytest.fixture(scope="module")
def source():
    return weights.model_path("generator")


@pytest.fixture(scope="module")
def float_model(source):
    model, counts = graph.float_network(source)
    return model, counts


def test_rewrite_counts(float_model):
    _, counts = float_model
    assert counts["layer_norms_fused"] == 24
    assert counts["upsampling_rewritten"] == 2
    assert counts["weights_dequantized"] > 20


def test_float_network_has_fused_norms_and_no_fake_quantize(float_model):
    model, _ = float_model
    kinds = [op.get_type_name() for op in model.get_ordered_ops()]
    assert kinds.count("MVN") == 24
    assert "FakeQuantize" not in kinds and "ReduceMean" not in kinds and "SquaredDifference" not in kinds


@pytest.mark.parametrize("size", [256, 384, 512])
def test_output_size_follows_the_input(float_model, source, size):
    """The published graph's upsampling is fixed at 256; the rewritten one follows the input."""
    model, _ = float_model
    compiled = ov.Core().compile_model(model, "CPU")
    x = np.zeros((1, size, size - 64, 3), np.float32)
    assert compiled(x)[0].shape == (1, size, size - 64, 3)


def test_original_graph_is_stuck_at_256(source):
    """Why the rewrite exists: reshaping the published graph 'succeeds' but its
    upsampling still produces 256×256 feature maps, so 512 cannot work."""
    model = graph.read_source(source)
    try:
        model.reshape({model.inputs[0].any_name: [1, 512, 512, 3]})
        out = ov.Core().compile_model(model, "CPU")(np.zeros((1, 512, 512, 3), np.float32))[0]
        assert out.shape != (1, 512, 512, 3)
    except RuntimeError:
        pass  # shape inference refuses it outright: equally stuck


def test_rewritten_float_matches_original_at_256(float_model, source, face_photo):
    """At the original's size, the rewritten float network (fused norms, scale upsampling)
    gives the same output as the published graph with only its FakeQuantize removed."""
    model, _ = float_model
    reference = graph.unfused_float_network(source)
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    x = to_network_input(booth_crop(load_image(face_photo), 256, 1.0))
    assert x.shape == (1, 256, 256, 3)
    ours = core.compile_model(model, "CPU", config)(x)[0]
    theirs = core.compile_model(reference, "CPU", config)(x)[0]
    assert np.abs(ours - theirs).max() < 1e-3
    assert ours.std() > 0.1  # a real picture, not a flat one


def test_asis_network_keeps_the_tflite_quantization(source):
    model, counts = graph.asis_network(source)
    kinds = [op.get_type_name() for op in model.get_ordered_ops()]
    assert counts["upsampling_rewritten"] == 2
    assert kinds.count("FakeQuantize") > 300
    out = ov.Core().compile_model(model, "CPU")(np.zeros((1, 384, 384, 3), np.float32))[0]
    assert out.shape == (1, 384, 384, 3)
