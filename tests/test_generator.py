"""The INT8 generator at run time, on a real face photo."""

from __future__ import annotations

import json

import numpy as np
import pytest

from booth import config
from booth.measure import quality
from booth.model import weights
from booth.vision.generator import Generator, runtime_layers, working_shape
from booth.vision.images import load_image
from booth.model.quantize import booth_crop


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


def test_start_up_warms_only_the_sizes_that_can_run(tmp_path):
    """A fixed size never runs the others: warming them would cost a Pi minutes at start."""
    settings = config.defaults().replace("booth", data_dir=str(tmp_path))
    fixed = Generator.from_settings(settings.replace("generator", size="384"))
    assert fixed.warm_shapes == [working_shape(384, settings.face.aspect)]
    auto = Generator.from_settings(settings)
    assert auto.warm_shapes == [working_shape(s, settings.face.aspect) for s in settings.generator.sizes]


def test_runtime_graph_runs_convolutions_and_norms_in_int8(int8):
    """The build's promise, checked on the compiled graph: the 24 layer norms are
    fused MVN nodes running on int8 (their inputs are zero-centred), and every
    convolution but the float output one runs in int8."""
    layers = [(layer["layerType"], layer["runtimePrecision"].lower())
              for layer in runtime_layers(int8.runtime_model)]
    norms = [precision for layer, precision in layers if layer == "MVN"]
    assert len(norms) == 24 and "ReduceMean" not in [layer for layer, _ in layers]
    assert set(norms) <= {"i8", "u8"}, norms
    convolutions = [precision for layer, precision in layers
                    if layer in ("Convolution", "GroupConvolution")]
    assert sum(p not in ("i8", "u8") for p in convolutions) == 1, convolutions


def test_model_card_records_the_build():
    card = json.loads((weights.WEIGHTS_DIR / weights.MODEL_CARD).read_text())
    assert card["source_sha256"] == weights.manifest()["generator"].sha256
    assert card["int8"]["chosen"] in ("nncf", "tflite-asis")


def test_built_layer_norm_inputs_are_zero_centred_on_x86():
    import openvino as ov

    from booth.model.quantize import int8_target

    card = json.loads((weights.WEIGHTS_DIR / weights.MODEL_CARD).read_text())
    assert card["int8"]["target"] == int8_target() == "x86-64"  # the dev and CI machines
    model = ov.Core().read_model(str(weights.WEIGHTS_DIR / weights.GENERATOR_IR["int8"]))
    norms = [op for op in model.get_ordered_ops() if op.get_type_name() == "MVN"]
    assert len(norms) == 24
    for norm in norms:
        fq = norm.input_value(0).get_node()
        low, high = (float(fq.input_value(i).get_node().get_data()) for i in (1, 2))
        assert low < 0 < high and high == pytest.approx(-low * 127 / 128, rel=1e-5)


def test_int8_target_follows_the_machine_unless_set(monkeypatch):
    from booth.model import quantize

    monkeypatch.delenv("BOOTH_INT8_TARGET", raising=False)
    monkeypatch.setattr(quantize.platform, "machine", lambda: "aarch64")
    assert quantize.int8_target() == "arm64"
    monkeypatch.setattr(quantize.platform, "machine", lambda: "x86_64")
    assert quantize.int8_target() == "x86-64"
    monkeypatch.setenv("BOOTH_INT8_TARGET", "arm64")
    assert quantize.int8_target() == "arm64"
    monkeypatch.setenv("BOOTH_INT8_TARGET", "riscv")
    with pytest.raises(weights.WeightsError, match="BOOTH_INT8_TARGET='riscv': must be one of x86-64, arm64"):
        quantize.int8_target()


def test_centring_a_layer_norm_input_leaves_the_output_unchanged():
    """conv → +bias → FakeQuantize (asymmetric, as NNCF calibrates) → MVN: after
    symmetric_norm_inputs the range is centred and the bias shifted, and the layer
    norm's output is the same (the grid moved with the data)."""
    import openvino as ov
    from openvino import opset13 as ops

    from booth.model.quantize import symmetric_norm_inputs

    rng = np.random.default_rng(1)

    def network() -> ov.Model:
        x = ops.parameter([1, 3, 16, 16], np.float32, name="x")
        conv = ops.convolution(x, ops.constant(rng.normal(size=(8, 3, 3, 3)).astype(np.float32)),
                               [1, 1], [1, 1], [1, 1], [1, 1])
        biased = ops.add(conv, ops.constant(np.full((1, 8, 1, 1), 1.5, np.float32)))
        fq = ops.fake_quantize(biased, *(ops.constant(np.float32(v)) for v in (-2.0, 9.0, -2.0, 9.0)), 256)
        norm = ops.mvn(fq, ops.constant(np.array([1, 2, 3])), True, 1e-9, "inside_sqrt")
        return ov.Model([norm], [x])

    x = rng.normal(size=(1, 3, 16, 16)).astype(np.float32)
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    rng = np.random.default_rng(2)
    before = core.compile_model(network(), "CPU", config)(x)[0]
    rng = np.random.default_rng(2)
    centred = symmetric_norm_inputs(network())
    fq = next(op for op in centred.get_ordered_ops() if op.get_type_name() == "FakeQuantize")
    low, high = (float(fq.input_value(i).get_node().get_data()) for i in (1, 2))
    assert high == pytest.approx(-low * 127 / 128) and high - low == pytest.approx(11.0)
    after = core.compile_model(centred, "CPU", config)(x)[0]
    assert np.abs(after - before).max() < 1e-3


def test_an_int8_graph_the_cpu_rejects_falls_back_to_f32(tmp_path, monkeypatch, face_crop, caplog):
    """A Pi whose CPU plugin cannot run the INT8 graph (or a damaged IR) still takes
    photos: the float graph at f32, and the reason in the log and on ``fallback``."""
    import booth.vision.generator as generator_module

    broken = tmp_path / "generator_int8.xml"
    broken.write_text("<net name='half-written'")
    real_ir_path = generator_module.ir_path
    monkeypatch.setattr(generator_module, "ir_path",
                        lambda variant: broken if variant == "int8" else real_ir_path(variant))
    settings = config.defaults().replace("booth", data_dir=str(tmp_path / "data"))
    settings = settings.replace("generator", sizes=[384], precision="int8")
    gen = Generator.from_settings(settings)
    assert gen.precision == "f32" and gen.fallback.startswith("int8 failed on this CPU")
    assert "running the float graph at f32" in caplog.text
    crop = np.ascontiguousarray(face_crop[:384, :304])
    out = gen.stylize(crop)
    assert out.shape == crop.shape and out.std() > 10


def test_auto_runs_what_the_build_measured(tmp_path, monkeypatch):
    from booth.vision.generator import resolve_precision

    assert resolve_precision("f16") == ("f16", 'set in the config ([generator] precision = "f16")')
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    precision, why = resolve_precision("auto")
    assert precision == "int8" and "no measured choice" in why and "booth weights build" in why
    (tmp_path / weights.MODEL_CARD).write_text(json.dumps(
        {"precision": {"chosen": "f32", "why": "fastest here (1 ms)"}}))
    assert resolve_precision("auto") == ("f32", "auto: fastest here (1 ms)")


def test_model_card_records_the_precision_choice():
    """The build timed the three precisions at the working sizes and kept the fastest
    with at least 30 dB against the float network (f32 is the float network)."""
    card = json.loads((weights.WEIGHTS_DIR / weights.MODEL_CARD).read_text())
    choice = card["precision"]
    sizes = {f"{h}x{w}" for h, w in (working_shape(s, config.defaults().face.aspect)
                                     for s in config.defaults().generator.sizes)}
    assert set(choice["candidates"]) == {"int8", "f16", "f32"}
    for name, candidate in choice["candidates"].items():
        assert set(candidate["ms"]) == sizes and all(v > 0 for v in candidate["ms"].values())
    eligible = [n for n, c in choice["candidates"].items()
                if n == "f32" or (c["psnr_db"] or 0) >= choice["min_psnr_db"] == 30.0]
    assert choice["chosen"] == min(eligible, key=lambda n: choice["candidates"][n]["total_ms"])


def test_a_working_int8_graph_has_no_fallback(int8):
    assert int8.precision == "int8" and int8.fallback is None
