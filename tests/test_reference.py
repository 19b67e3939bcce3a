"""The benchmark's reference runtimes compute the same generator as OpenVINO.

PyTorch (rebuilt from the float IR) and its ONNX export must match the OpenVINO FP32
IR to 1e-3 on a real photo; LiteRT running the shipped full-integer .tflite must agree
with OpenVINO's as-is INT8 graph. These need the bench extras (torch, onnx, onnxscript,
onnxruntime, ai-edge-litert): CI installs them, and a missing one fails with the
install command rather than skipping.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest

from booth.measure import quality, reference
from booth.model import weights
from booth.errors import UserError

BENCH_PACKAGES = ("torch", "onnx", "onnxscript", "onnxruntime", "ai_edge_litert.interpreter")
TOLERANCE = 1e-3  # max abs difference of tanh outputs in [-1, 1]


@pytest.fixture(scope="module")
def bench_extras() -> None:
    for package in BENCH_PACKAGES:
        try:
            reference.require_extra(package)
        except reference.BenchExtraMissing as exc:
            pytest.fail(f"{exc} (the reference-runtime tests need the bench extras)")


@pytest.fixture(scope="module")
def fp32_ir() -> Path:
    return weights.ir_path("fp32")


def _compile(path: Path) -> ov.CompiledModel:
    # f32 explicitly: on a CPU with bf16 OpenVINO's default precision would be bf16.
    core = ov.Core()
    return core.compile_model(core.read_model(str(path)), "CPU",
                              {"INFERENCE_PRECISION_HINT": "f32"})


@pytest.fixture(scope="module")
def openvino_fp32(fp32_ir: Path) -> ov.CompiledModel:
    return _compile(fp32_ir)


def photo_input(path: Path, height: int, width: int) -> np.ndarray:
    """A centre crop of a real photo at (height, width): NHWC float32 in [-1, 1]."""
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    scale = max(height / h, width / w)
    rgb = cv2.resize(rgb, (max(width, round(w * scale)), max(height, round(h * scale))),
                     interpolation=cv2.INTER_AREA)
    top, left = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
    crop = rgb[top:top + height, left:left + width]
    return (crop.astype(np.float32) / 127.5 - 1.0)[None]


def to_uint8(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y[0] * 127.5 + 127.5), 0, 255).astype(np.uint8)


# --- The plan (OpenVINO only) ----------------------------------------------------------


def test_plan_holds_the_whole_generator(fp32_ir: Path) -> None:
    plan = reference.read_plan(fp32_ir)
    convs = [s for s in plan.steps if s.op == "conv"]
    norms = [s for s in plan.steps if s.op == "mvn"]
    assert len(convs) == 25
    assert sum(s.attrs["groups"] > 1 for s in convs) == 4  # the depthwise convolutions
    assert all(len(s.inputs) == 3 for s in convs)  # every bias folded into its conv
    assert sum(s.attrs["stride"] == [2, 2] for s in convs) == 2
    assert len(norms) == 24
    assert all(len(s.inputs) == 3 and s.attrs["axes"] == [1, 2, 3] for s in norms)
    assert all(0 < s.attrs["eps"] < 1e-5 for s in norms)
    relus = [s for s in plan.steps if s.op == "leaky_relu"]
    assert len(relus) == 20 and all(abs(s.attrs["slope"] - 0.2) < 1e-6 for s in relus)
    assert plan.count("pad") == 16 and plan.count("upsample2x") == 2
    assert plan.count("add") == 3  # the three inverted-residual skip connections
    assert plan.count("tanh") == 1 and plan.steps[plan.output - 1].op == "transpose"
    params = sum(c.size for c in plan.constants)
    assert 2_000_000 < params < 2_500_000  # AnimeGANv2's generator: about 2.2 M


def test_plan_refuses_an_op_it_does_not_know() -> None:
    from openvino import opset13

    x = opset13.parameter([1, 3, 8, 8], np.float32, name="x")
    model = ov.Model([opset13.sigmoid(x)], [x], "unknown")
    with pytest.raises(reference.UnsupportedOp, match="Sigmoid"):
        reference.plan_from_ir(model)


def test_plan_refuses_half_pixel_upsampling() -> None:
    from openvino import opset11

    x = opset11.parameter([1, 8, 8, 3], np.float32, name="x")
    up = opset11.interpolate(x, np.array([2.0, 2.0], np.float32), mode="linear_onnx",
                             shape_calculation_mode="scales",
                             coordinate_transformation_mode="half_pixel",
                             axes=np.array([1, 2], np.int64))
    with pytest.raises(reference.UnsupportedOp, match="coordinate_transformation_mode"):
        reference.plan_from_ir(ov.Model([up], [x], "half_pixel"))


# --- PyTorch ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_module(bench_extras: None, fp32_ir: Path):
    return reference.torch_generator(fp32_ir)


@pytest.mark.parametrize("height, width", [(256, 256), (384, 384),
                                           pytest.param(512, 512, marks=pytest.mark.slow)])
def test_torch_matches_openvino_fp32(torch_module, openvino_fp32, face_photo: Path,
                                     height: int, width: int) -> None:
    import torch

    x = photo_input(face_photo, height, width)
    expected = openvino_fp32(x)[0]
    got = reference.torch_runner(torch_module, threads=2)(x)
    assert torch.get_num_threads() == 2
    assert got.shape == expected.shape == (1, height, width, 3) and got.dtype == np.float32
    assert np.abs(got - expected).max() < TOLERANCE
    assert np.abs(got).max() > 0.5  # a real picture, not a blank


def test_torch_module_is_plain_pytorch(torch_module) -> None:
    assert not torch_module.training
    assert not any(t.requires_grad for t in torch_module.buffers())
    assert sum(t.numel() for t in torch_module.buffers()) > 2_000_000


# --- ONNX ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_file(bench_extras: None, fp32_ir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "generator.onnx"
    assert reference.export_onnx(fp32_ir, out) == out
    return out


@pytest.mark.slow
def test_onnx_export_has_dynamic_height_and_width(onnx_file: Path) -> None:
    import onnx

    model = onnx.load(str(onnx_file))
    assert [e.version for e in model.opset_import if e.domain == ""] == [reference.MIN_ONNX_OPSET]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 1 and dims[3].dim_value == 3
    assert dims[1].dim_param and dims[2].dim_param  # symbolic: any size
    assert not list(onnx_file.parent.glob(".*part"))  # the temporary file is gone
    assert onnx_file.stat().st_size > 8_000_000  # the weights are inside the one file


@pytest.fixture(scope="module")
def onnxruntime_run(onnx_file: Path):
    return reference.onnxruntime_runner(onnx_file, threads=2)


@pytest.mark.slow
@pytest.mark.parametrize("height, width", [(384, 384), (512, 512), (384, 512)])
def test_onnxruntime_matches_openvino_fp32(onnxruntime_run, openvino_fp32, face_photo: Path,
                                           height: int, width: int) -> None:
    x = photo_input(face_photo, height, width)
    expected = openvino_fp32(x)[0]
    got = onnxruntime_run(x)
    assert got.shape == expected.shape == (1, height, width, 3) and got.dtype == np.float32
    assert np.abs(got - expected).max() < TOLERANCE


def test_export_refuses_an_opset_it_cannot_write(bench_extras: None, fp32_ir: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "old.onnx"
    with pytest.raises(UserError, match="opset 17 is too old"):
        reference.export_onnx(fp32_ir, out, opset=17)
    assert not out.exists()


# --- LiteRT ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def litert_run(bench_extras: None):
    return reference.litert_runner(weights.model_path("generator"), threads=2)


def fake_quantize_in_float(model: ov.Model) -> ov.Model:
    """Each FakeQuantize spelled out as clamp, scale, round, rescale in float: the same
    integer network without OpenVINO's int8 kernels (so without their saturation)."""
    from openvino import opset13 as ops

    for fq in model.get_ordered_ops():
        if fq.get_type_name() != "FakeQuantize":
            continue
        x = fq.input_value(0)
        il, ih, ol, oh = (fq.input_value(i).get_node().get_data().astype(np.float32) for i in range(1, 5))
        steps = np.float32(fq.get_attributes()["levels"] - 1)
        clamped = ops.maximum(ops.minimum(x, ops.constant(ih)), ops.constant(il))
        level = ops.round(ops.multiply(ops.subtract(clamped, ops.constant(il)),
                                       ops.constant((steps / (ih - il)).astype(np.float32))), "half_to_even")
        out = ops.add(ops.multiply(level, ops.constant(((oh - ol) / steps).astype(np.float32))),
                      ops.constant(ol))
        fq.output(0).replace(out.output(0))
    model.validate_nodes_and_infer_types()
    return model


def test_litert_runs_the_shipped_int8_model_like_openvino_asis(litert_run, openvino_fp32,
                                                               photos: Path) -> None:
    """LiteRT and OpenVINO's as-is graph compute the same integer network: their outputs
    agree far better than either agrees with the float network.

    The as-is graph runs with its FakeQuantize ops in float arithmetic, which is the
    integer network exactly on every CPU; OpenVINO's own int8 kernels depend on the
    CPU's instruction set and are checked in the next test.
    """
    core = ov.Core()
    asis = core.compile_model(fake_quantize_in_float(core.read_model(str(weights.ir_path("asis")))),
                              "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for name in ("18f_edwin_torres.jpg", "18f_colin_murphy_glasses.jpg"):
        x = photo_input(photos / "faces" / name, 256, 256)
        got = litert_run(x)
        assert got.shape == (1, 256, 256, 3) and got.dtype == np.float32
        versus_asis = quality.psnr(to_uint8(asis(x)[0]), to_uint8(got))
        versus_float = quality.psnr(to_uint8(openvino_fp32(x)[0]), to_uint8(got))
        assert versus_asis > 32.0, f"{name}: LiteRT vs OpenVINO as-is (float FQ) {versus_asis:.1f} dB"
        assert versus_asis > versus_float + 3.0, f"{name}: {versus_asis:.1f} vs {versus_float:.1f} dB"


def test_openvino_int8_kernels_on_this_cpu(litert_run, openvino_fp32, photos: Path) -> None:
    """Depends on the CPU's instruction set (bench.int8_isa names it).

    With VNNI, AMX or an ARM dot product, int8 products are summed in 32 bits and
    OpenVINO's int8 kernels run the as-is graph like LiteRT. Without (AVX2 only), they
    sum pairs of u8×s8 products into 16 bits, which saturates on the as-is graph's
    full-range int8 weights (measured on an AVX2-only EPYC, and here under
    ONEDNN_MAX_CPU_ISA=AVX2: a close-up portrait as-is 22.2 dB against the float network, LiteRT
    vs as-is 23.6 dB). There what matters is the graph the booth runs: our INT8 build
    keeps its fidelity (36.8-39.9 dB on the public faces there), which is checked instead.
    """
    from booth.measure.bench import int8_isa, int8_sums_can_saturate

    isa = int8_isa()
    for name in ("18f_edwin_torres.jpg", "18f_colin_murphy_glasses.jpg"):
        x = photo_input(photos / "faces" / name, 256, 256)
        reference_out = to_uint8(openvino_fp32(x)[0])
        if int8_sums_can_saturate(isa):
            ours = quality.psnr(reference_out, to_uint8(_compile(weights.ir_path("int8"))(x)[0]))
            assert ours > INT8_UNDER_AVX2_MIN_DB, f"{name}: our INT8 graph on {isa}: {ours:.1f} dB against float"
        else:
            asis = to_uint8(_compile(weights.ir_path("asis"))(x)[0])
            versus_asis = quality.psnr(asis, to_uint8(litert_run(x)))
            assert versus_asis > 32.0, f"{name} on {isa}: LiteRT vs OpenVINO as-is {versus_asis:.1f} dB"


#: Our INT8 graph against the float network where int8 sums can saturate (AVX2 only),
#: whole 256 px photos: the public faces measured 36.8-39.9 dB (the private set's two
#: close-ups this bound was first set on, 38.3 and 39.6 dB).
INT8_UNDER_AVX2_MIN_DB = 36.5

_AVX2_PROBE = """
import json, sys
import numpy as np, openvino as ov
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from test_reference import photo_input, to_uint8, _compile
from booth.measure import quality
from booth.model import weights
ours, fp32, asis = (_compile(weights.ir_path(v)) for v in ("int8", "fp32", "asis"))
kernels = sorted({op.get_rt_info()["primitiveType"].astype(str) for op in asis.get_runtime_model().get_ordered_ops()
                  if op.get_rt_info()["layerType"].astype(str) == "Convolution"})
out = {"kernels": kernels}
for name in sorted(p.name for p in Path(sys.argv[2], "faces").glob("*.jpg")):
    x = photo_input(f"{sys.argv[2]}/faces/{name}", 256, 256)
    ref = to_uint8(fp32(x)[0])
    out[name] = [quality.psnr(ref, to_uint8(ours(x)[0])), quality.psnr(ref, to_uint8(asis(x)[0]))]
print(json.dumps(out))
"""


def test_our_int8_graph_needs_no_vnni(photos: Path) -> None:
    """On an AVX2-only CPU (emulated: ONEDNN_MAX_CPU_ISA=AVX2 caps OpenVINO's x86
    kernels) our INT8 graph keeps its fidelity, while the as-is graph loses it."""
    import json
    import os
    import platform
    import subprocess
    import sys

    from booth.measure.bench import cpu_flags

    if platform.machine().lower() not in ("x86_64", "amd64") or "avx2" not in cpu_flags():
        pytest.skip("needs an x86-64 CPU with AVX2 (the ISA being emulated)")
    done = subprocess.run([sys.executable, "-c", _AVX2_PROBE, str(Path(__file__).parent), str(photos)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert all("avx2" in k for k in result["kernels"] if "I8" in k), result["kernels"]  # the cap took
    faces = [name for name in result if name != "kernels"]
    assert len(faces) == len(list((photos / "faces").glob("*.jpg")))
    for name in faces:
        ours, asis = result[name]
        # Measured on the public faces: ours 36.8-39.9 dB, as-is 24.8-29.3 dB (gap 10.6-14.2).
        assert ours > INT8_UNDER_AVX2_MIN_DB, f"{name}: our INT8 graph under AVX2: {ours:.1f} dB against float"
        assert ours > asis + 8.0, f"{name}: ours {ours:.1f} dB, as-is {asis:.1f} dB"


def test_litert_refuses_another_size(litert_run) -> None:
    with pytest.raises(ValueError, match=r"exactly \(1, 256, 256, 3\)"):
        litert_run(np.zeros((1, 384, 384, 3), np.float32))


def test_quantize_and_dequantize_use_scale_and_zero_point() -> None:
    detail = {"dtype": np.int8, "quantization": (0.01, -3)}
    x = np.array([0.0, 0.5, -0.25, 0.004, 5.0, -5.0], np.float32)
    q = reference.quantize(x, detail)
    assert q.dtype == np.int8
    assert q.tolist() == [-3, 47, -28, -3, 127, -128]  # x / 0.01 - 3, rounded, clipped
    back = reference.dequantize(q, detail)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back[:4], [0.0, 0.5, -0.25, 0.0], atol=1e-6)
    float_detail = {"dtype": np.float32, "quantization": (0.0, 0)}
    np.testing.assert_array_equal(reference.quantize(x, float_detail), x)
    np.testing.assert_array_equal(reference.dequantize(x, float_detail), x)


# --- Errors ---------------------------------------------------------------------------


def test_a_missing_bench_package_is_a_one_line_user_error() -> None:
    with pytest.raises(reference.BenchExtraMissing) as caught:
        reference.require_extra("booth_no_such_bench_package")
    message = str(caught.value)
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ImportError)
    assert "booth_no_such_bench_package" in message and "./install.sh --bench" in message
    assert "\n" not in message
