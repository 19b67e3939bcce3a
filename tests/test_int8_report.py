"""`booth eval arm` and the ARM INT8 rewrite, on the real built IR and a real photo."""

from __future__ import annotations

import platform
import subprocess
import sys

import cv2
import numpy as np
import openvino as ov
import pytest

from booth import PROJECT_ROOT
from booth.model.arm_int8 import centre_convolution_inputs
from booth.vision.generator import cpu_config
from booth.vision.images import load_image
from booth.measure.int8_report import ActivationQuant, convolution_facts
from booth.model.weights import ir_path

INT8_IR = ir_path("int8")
FP32_IR = ir_path("fp32")


@pytest.fixture(scope="module")
def built():
    if not INT8_IR.is_file() or not FP32_IR.is_file():
        pytest.fail(f"{INT8_IR} missing: run ./install.sh (it builds the IR)")


@pytest.mark.parametrize("low, high, scheme", [
    (0.0, 6.0, "u8"),                   # a range from zero needs no zero point
    (-1.0, 127 / 128, "i8"),            # centred on zero: signed, no zero point
    (-1.12, 5.52, "u8 zp=43"),          # NNCF's asymmetric range after a PRelu
])
def test_the_scheme_the_plugin_sees(low, high, scheme):
    assert ActivationQuant(levels=256, per_channel=False, low=low, high=high).scheme == scheme


def test_every_convolution_is_described_with_its_macs(built):
    facts = convolution_facts(INT8_IR, (128, 104))
    assert len(facts) == 25
    assert sum(f.kind.startswith("depthwise") for f in facts) == 4
    first = facts[0]
    assert (first.kind, first.channels) == ("7x7", "3->32")
    assert first.macs == 128 * 104 * 32 * 3 * 7 * 7
    # The generator is about 105 GMACs at 512×512; MACs scale with the pixels.
    assert sum(f.macs for f in facts) == pytest.approx(105e9 * 128 * 104 / 512 ** 2, rel=0.05)
    assert facts[-1].activation == "float" and facts[-1].weights == "float"  # kept in float


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    to_u8 = lambda o: np.clip(np.round((o[0] + 1) * 127.5), 0, 255)  # noqa: E731
    mse = float(np.mean((to_u8(a) - to_u8(b)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def test_centred_inputs_are_signed_and_keep_the_picture(built, face_photo, tmp_path):
    core = ov.Core()
    centred = centre_convolution_inputs(core.read_model(str(INT8_IR)))
    ov.save_model(centred, str(tmp_path / "centred.xml"))
    facts = convolution_facts(tmp_path / "centred.xml", (128, 104))
    plain = [f for f in facts if f.kind[0].isdigit() and f.activation != "float"]
    assert len(plain) == 20 and all(f.activation == "i8" for f in plain)

    rgb = cv2.resize(load_image(face_photo), (208, 256), interpolation=cv2.INTER_AREA)
    x = (rgb.astype(np.float32) / 127.5 - 1.0)[None]
    reference = core.compile_model(str(FP32_IR), "CPU", cpu_config("f32"))(x)[0]
    before = core.compile_model(str(INT8_IR), "CPU", cpu_config())(x)[0]
    after = core.compile_model(centred, "CPU", cpu_config())(x)[0]
    # The shift is exact in arithmetic: fidelity to the float network stays where it was.
    assert _psnr(after, reference) == pytest.approx(_psnr(before, reference), abs=0.3)
    assert _psnr(after, reference) >= 35


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="the x86-64 CPU plugin's choice; ARM runs are checked by scripts/arm64_proof.sh")
def test_eval_arm_reports_every_quantized_convolution_in_int8_on_x86(built):
    out = subprocess.run([sys.executable, "-m", "booth", "eval", "arm", "--size", "128"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    assert "this CPU: 24 of 25 convolutions in int8" in out


def test_eval_arm_names_a_bad_dump(built, tmp_path):
    bad = tmp_path / "a72.json"
    bad.write_text("not json")
    run = subprocess.run([sys.executable, "-m", "booth", "eval", "arm", "--runtime", str(bad)],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert run.returncode != 0 and "a72.json: not a runtime-graph dump" in run.stderr


def test_widened_kernels_change_nothing_but_the_shape(built, face_photo):
    from booth.model.arm_int8 import widen_3x3_kernels

    core = ov.Core()
    widened = widen_3x3_kernels(centre_convolution_inputs(core.read_model(str(INT8_IR))))
    shapes = [list(op.input_value(1).get_partial_shape().to_shape())[2:]
              for op in widened.get_ordered_ops() if op.get_type_name() == "Convolution"]
    assert shapes.count([3, 4]) == 8 and shapes.count([3, 3]) == 2  # the stride-2 ones stay 3×3
    rgb = cv2.resize(load_image(face_photo), (208, 256), interpolation=cv2.INTER_AREA)
    x = (rgb.astype(np.float32) / 127.5 - 1.0)[None]
    plain = centre_convolution_inputs(core.read_model(str(INT8_IR)))
    config = cpu_config("f32")
    a = core.compile_model(plain, "CPU", config)(x)[0]
    b = core.compile_model(widened, "CPU", config)(x)[0]
    assert _psnr(a, b) >= 50  # a zero column adds nothing


def _ranges_graph(target: str) -> ov.Model:
    """The INT8 graph a build from the shipped ranges file makes for ``target``."""
    from booth.model import quantize, weights

    ranges = quantize.read_ranges(weights.WEIGHTS_DIR / "int8_ranges.json")["fake_quantize"]
    raw = quantize.apply_ranges(ov.Core().read_model(str(FP32_IR)), ranges)
    return quantize.for_target(raw, target)


def test_the_arm64_build_centres_inputs_and_widens_3x3_kernels(built, tmp_path):
    for target in ("arm64", "x86-64"):
        ov.save_model(_ranges_graph(target), str(tmp_path / f"{target}.xml"))
    arm = convolution_facts(tmp_path / "arm64.xml", (128, 104))
    x86 = convolution_facts(tmp_path / "x86-64.xml", (128, 104))
    assert [f.kind for f in arm].count("3x4") == 8 and [f.kind for f in x86].count("3x4") == 0
    dense = [f for f in arm if f.kind[0].isdigit() and f.weights != "float"]
    assert len(dense) == 20 and all(f.activation == "i8" and f.output == "i8" for f in dense)
    # x86-64 keeps NNCF's asymmetric input ranges: its graph is not the ARM one.
    assert not any(f.activation == "i8" for f in x86 if f.kind[0].isdigit())


def _one_convolution(pad_mode: str) -> tuple[ov.Model, ov.Node]:
    """input → FakeQuantize [-1, 3] → (Pad) → 3×3 Convolution → bias Add."""
    from openvino import opset13 as ops

    rng = np.random.default_rng(0)
    x = ops.parameter([1, 4, 8, 8], np.float32)
    f32 = lambda v: ops.constant(np.asarray(v, np.float32))  # noqa: E731
    fq = ops.fake_quantize(x, f32(-1), f32(3), f32(-1), f32(3), 256)
    data, pads = fq, [1, 1]
    if pad_mode != "convolution":
        data, pads = ops.pad(fq, [0, 0, 1, 1], [0, 0, 1, 1], pad_mode), [0, 0]
    conv = ops.convolution(data, f32(rng.normal(size=(2, 4, 3, 3))), [1, 1], pads, pads, [1, 1])
    out = ops.add(conv, f32(rng.normal(size=(1, 2, 1, 1))))
    return ov.Model([out], [x]), fq


@pytest.mark.parametrize("pad_mode, centred", [
    ("reflect", True),          # a reflected border moves with the shift
    ("constant", False),        # a zero border would not: left as it is
    ("convolution", False),     # nor the convolution's own zero padding
])
def test_centring_keeps_the_result_and_leaves_zero_padding_alone(pad_mode, centred):
    model, fq = _one_convolution(pad_mode)
    x = np.random.default_rng(1).uniform(-1, 3, (1, 4, 8, 8)).astype(np.float32)
    config = cpu_config("f32")
    before = ov.Core().compile_model(model.clone(), "CPU", config)(x)[0]
    centre_convolution_inputs(model)
    after = ov.Core().compile_model(model, "CPU", config)(x)[0]
    assert np.max(np.abs(after - before)) < 1e-3  # the same grid, shifted: float rounding only
    low = float(fq.input_value(1).get_node().get_data().item())
    high = float(fq.input_value(2).get_node().get_data().item())
    assert (low == pytest.approx(-high * 128 / 127, rel=1e-4)) == centred


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="the x86-64 CPU plugin's choice; a Pi's doctor says its own")
def test_doctor_names_the_share_of_convolutions_and_macs_in_int8(built):
    from booth import config
    from booth.cli import doctor

    check = doctor.check_openvino(config.defaults().replace("generator", precision="int8"), compile_model=True)
    assert "24 of 25 convolutions in int8 (99.9% of the MACs)" in check.message, check.message


def test_only_int8_kernels_count_as_int8():
    from booth.measure.int8_report import ConvFacts, int8_share

    facts = [ConvFacts(name=n, kind="1x1", channels="8->8", before="", after="", activation="i8",
                       activation_range="", weights="i8 per-channel", output="i8", macs=m)
             for n, m in (("a", 300), ("b", 100), ("c", 600))]
    # Emulated Cortex-A76 runtime graphs: ACL's int8 executor, an int8-labelled layer the
    # plugin runs dequantized in f32, and a float Winograd one.
    precisions = {"a": "i8 acl_i8", "b": "i8 gemm_acl_f32", "c": "f16 winograd_acl_f16"}
    assert int8_share(facts, precisions) == (1, 0.3)
    x86 = {"a": "u8 brgconv_avx512_I8", "b": "u8 jit_avx512_I8", "c": "bf16 brgconv_avx512_1x1_bf16"}
    assert int8_share(facts, x86) == (2, 0.4)


def test_only_convolutions_the_int8_path_takes_are_widened():
    from openvino import opset13 as ops

    from booth.model.arm_int8 import widen_3x3_kernels

    def kernel(model: ov.Model) -> list[int]:
        conv = next(op for op in model.get_ordered_ops() if op.get_type_name() == "Convolution")
        return list(conv.input_value(1).get_partial_shape().to_shape())[2:]

    def int8_weights(model: ov.Model) -> ov.Model:
        # NNCF's int8 weights: Multiply(Convert(int8 codes), per-channel scale).
        conv = next(op for op in model.get_ordered_ops() if op.get_type_name() == "Convolution")
        codes = np.random.default_rng(2).integers(-127, 128, (2, 4, 3, 3)).astype(np.int8)
        scale = ops.constant(np.full((2, 1, 1, 1), 0.01, np.float32))
        conv.input(1).replace_source_output(ops.multiply(ops.convert(ops.constant(codes), "f32"), scale).output(0))
        return model

    bare, _ = _one_convolution("reflect")  # bias Add, then no quantizer: float on ARM anyway
    assert kernel(widen_3x3_kernels(centre_convolution_inputs(int8_weights(bare)))) == [3, 3]

    quantized, _ = _one_convolution("reflect")
    add = quantized.get_results()[0].input_value(0).get_node()
    low, high = ops.constant(np.float32(-8.0)), ops.constant(np.float32(8.0 * 127 / 128))
    out = ops.fake_quantize(add, low, high, low, high, 256)  # signed: i8 out
    quantized.get_results()[0].input(0).replace_source_output(out.output(0))
    quantized = ov.Model([quantized.get_results()[0].input_value(0)], quantized.get_parameters())
    assert kernel(widen_3x3_kernels(centre_convolution_inputs(int8_weights(quantized)))) == [3, 4]
