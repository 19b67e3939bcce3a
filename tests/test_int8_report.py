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
