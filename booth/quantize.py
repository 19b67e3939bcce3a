"""INT8 for the generator: NNCF post-training quantization of the float network.

Why not keep the TFLite file's own INT8? It quantizes *every* tensor, including the
inside of each layer norm, which stops OpenVINO from fusing the norms and costs about a
quarter of the run time in small ops, and its ranges were calibrated for 256×256 inputs
of another data set (mean PSNR ≈ 28 dB against the float network here).

Our recipe (measured; see the model card that ``booth weights build`` writes):

* quantize the float network *after* its norms became single ``MVN`` ops, so every
  convolution runs in int8 and each MVN reads int8 and keeps its fused scale/shift/PReLU;
* calibrate on the booth's own crops — faces found, levelled and framed by the same
  code the booth runs, at each working size — of real photos (faces, groups, scenes);
* keep the final 1×1 output convolution (32 → 3 channels, before tanh) in float: it is
  cheap, and quantizing it puts banding straight into the picture;
* centre each layer norm's input range on zero (:func:`symmetric_norm_inputs`): ~8%
  faster on x86-64. On ARM the build also centres each convolution's input range
  (:func:`booth.arm_int8.centre_convolution_inputs`): the ARM CPU plugin runs a
  convolution in int8 only with i8 in and i8 out and no zero point. The build runs on
  the machine that will run the booth (install.sh), so each gets its own graph;
* then measure the result against the float network (PSNR, SSIM) and its speed against
  the as-is graph, and keep whichever of the two INT8 graphs wins.
"""

from __future__ import annotations

import os
import platform
import random
import time
from pathlib import Path
from typing import Callable

import numpy as np
import openvino as ov

from booth import quality, weights
from booth.arm_int8 import centre_convolution_inputs
from booth.generator import cpu_config, working_shape
from booth.images import ImageError, load_image

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def calibration_photos(folder: Path) -> list[Path]:
    """Every photo below ``folder`` (sorted, so builds are repeatable)."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)


def booth_crop(rgb: np.ndarray, size: int, aspect: float, detector=None) -> np.ndarray:
    """The crop the booth feeds the generator at ``size``: the pipeline's own levelling and
    framing around the faces ``detector`` finds (scene framing when it finds none, or
    when no detector is given)."""
    import dataclasses

    from booth import framing
    from booth.config import defaults

    face_settings = dataclasses.replace(defaults().face, aspect=aspect)
    faces = detector.detect(rgb) if detector is not None else []
    crop, _ = framing.frame(rgb, faces, working_shape(size, aspect), face_settings)
    return crop


def to_network_input(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB → the float network's NHWC input in [-1, 1]."""
    return (rgb.astype(np.float32) / 127.5 - 1.0)[None]


def calibration_inputs(folder: Path, samples: int, sizes: list[int], aspect: float,
                       seed: int = 0, detector=None) -> tuple[list[np.ndarray], list[Path]]:
    """Up to ``samples`` network inputs (booth crops of the photos, cycling the sizes),
    and the photos they came from."""
    photos = calibration_photos(folder)
    if not photos:
        raise weights.WeightsError(f"no photos (.jpg, .png, .webp) in the calibration folder {folder}")
    random.Random(seed).shuffle(photos)
    inputs, used = [], []
    for photo in photos:
        if len(inputs) >= samples:
            break
        try:
            rgb = load_image(photo)
        except ImageError:
            continue
        size = sizes[len(inputs) % len(sizes)]
        inputs.append(to_network_input(booth_crop(rgb, size, aspect, detector)))
        used.append(photo)
    return inputs, used


def _output_convolution(model: ov.Model) -> str:
    """Name of the convolution that feeds the final tanh."""
    tanh = next(op for op in model.get_ordered_ops() if op.get_type_name() == "Tanh")
    node = tanh.input(0).get_source_output().get_node()
    while node.get_type_name() not in ("Convolution",):
        node = node.input(0).get_source_output().get_node()
    return node.get_friendly_name()


#: Where the INT8 graph will run: "x86-64" or "arm64" (BOOTH_INT8_TARGET overrides
#: the build machine's own architecture, e.g. to build a Pi's graph for a test).
INT8_TARGETS = ("x86-64", "arm64")


def int8_target() -> str:
    """The INT8 target the build makes the graph for (see :data:`INT8_TARGETS`)."""
    target = os.environ.get("BOOTH_INT8_TARGET")
    if target:
        if target not in INT8_TARGETS:
            raise weights.WeightsError(
                f"BOOTH_INT8_TARGET={target!r}: must be one of {', '.join(INT8_TARGETS)}")
        return target
    return "x86-64" if platform.machine().lower() in ("x86_64", "amd64") else "arm64"


def quantize(float_model: ov.Model, inputs: list[np.ndarray], target: str = "x86-64") -> ov.Model:
    """NNCF post-training quantization (MIXED preset, output conv kept in float); the
    layer norms' inputs are then zero-centred, and on ARM the convolutions' inputs too."""
    import nncf

    ignored = nncf.IgnoredScope(names=[_output_convolution(float_model)])
    quantized = nncf.quantize(float_model, nncf.Dataset(inputs),
                              preset=nncf.QuantizationPreset.MIXED,
                              subset_size=len(inputs), ignored_scope=ignored)
    return symmetric_norm_inputs(quantized) if target == "x86-64" else \
        centre_convolution_inputs(symmetric_norm_inputs(quantized))


def symmetric_norm_inputs(model: ov.Model) -> ov.Model:
    """Centre the quantization range of every layer norm's input on zero (signed int8).

    NNCF calibrates the convolution outputs that feed the layer norms (MVN) as
    asymmetric uint8 ranges with a zero point. The zero point stops OpenVINO's
    low-precision pass from folding the dequantization into the MVN, so the
    convolution writes bf16/f32 and the MVN reads it back. A layer norm subtracts
    its input's mean over all of C×H×W, so adding one constant to its input changes
    nothing: we subtract the range's midpoint from the convolution's bias and use
    the same range, now centred, as a signed int8 range with a zero point of 0. The
    quantization step is unchanged (same fidelity), the convolution writes int8 and
    the MVN runs on int8: about 10% less time for the whole generator (PERF_COUNT at
    512 on one core: 674 → 603 ms).
    """
    from openvino import opset13 as ops

    def constant(value) -> ov.Output:
        return ops.constant(np.asarray(value, dtype=np.float32)).output(0)

    for norm in model.get_ordered_ops():
        if norm.get_type_name() != "MVN":
            continue
        fq = norm.input_value(0).get_node()
        add = fq.input_value(0).get_node()
        if (fq.get_type_name() != "FakeQuantize" or fq.get_attributes()["levels"] != 256
                or add.get_type_name() != "Add"
                or len(fq.output(0).get_target_inputs()) != 1
                or len(add.output(0).get_target_inputs()) != 1):
            continue  # the shift must reach the layer norm and nothing else
        bias_index = next((i for i in range(2)
                           if add.input_value(i).get_node().get_type_name() == "Constant"), None)
        if bias_index is None:
            continue
        low = float(np.min(fq.input_value(1).get_node().get_data()))
        high = float(np.max(fq.input_value(2).get_node().get_data()))
        # Signed int8 puts zero on a level: 256 levels over [-reach, reach·127/128].
        reach = (high - low) / (1 + 127 / 128)
        shift = low + reach
        bias = add.input_value(bias_index).get_node().get_data()
        add.input(bias_index).replace_source_output(constant(bias - shift))
        for index, value in ((1, -reach), (2, reach * 127 / 128), (3, -reach), (4, reach * 127 / 128)):
            fq.input(index).replace_source_output(constant(value))
    return model


def _compile(model: ov.Model | Path, hint: str | None = None) -> ov.CompiledModel:
    core = ov.Core()
    if isinstance(model, Path):
        model = core.read_model(str(model))
    return core.compile_model(model, "CPU", cpu_config(hint))


def _uint8(output: np.ndarray) -> np.ndarray:
    return np.clip(np.round((output[0] + 1.0) * 127.5), 0, 255).astype(np.uint8)


def fidelity(candidate: ov.CompiledModel, reference: ov.CompiledModel,
             inputs: list[np.ndarray]) -> dict[str, float]:
    """Mean/min PSNR and SSIM of ``candidate`` against ``reference`` over the inputs."""
    psnrs, ssims = [], []
    for x in inputs:
        ref, out = _uint8(reference(x)[0]), _uint8(candidate(x)[0])
        psnrs.append(quality.psnr(ref, out))
        ssims.append(quality.ssim(ref, out))
    return {"psnr_db": round(float(np.mean(psnrs)), 2), "psnr_min_db": round(float(np.min(psnrs)), 2),
            "ssim": round(float(np.mean(ssims)), 4), "ssim_min": round(float(np.min(ssims)), 4)}


def latency_ms(compiled: ov.CompiledModel, shape: tuple[int, int], repeats: int = 5) -> float:
    """Median latency of one inference at (height, width) after a warm-up."""
    from booth.bench import median_ms, random_input

    request = compiled.create_infer_request()
    x = random_input(shape)
    return median_ms(lambda: request.infer(x), repeats, warmup=1)


def _split(items: list, every: int = 4) -> tuple[list, list]:
    """(calibration, held-out evaluation): every ``every``-th item is held out."""
    held = items[::every]
    return [x for i, x in enumerate(items) if i % every], held


def build_int8(float_model: ov.Model, calibration: Path, *, samples: int = 48,
               sizes: list[int] | None = None, aspect: float | None = None,
               report: Callable[[str], None] = print) -> dict:
    """Quantize, compare with the as-is graph, save the winner as generator_int8.

    Returns the model card's "int8" section.
    """
    from booth.build import _copy_ir, _save
    from booth.config import defaults

    target = int8_target()  # a bad BOOTH_INT8_TARGET stops here, before calibrating
    settings = defaults()
    sizes = sizes or list(settings.generator.sizes)
    aspect = aspect or settings.face.aspect
    started = time.perf_counter()
    from booth.face import FaceDetector

    detector = FaceDetector.from_settings(settings)
    inputs, used = calibration_inputs(calibration, samples + samples // 3, sizes, aspect,
                                      detector=detector)
    calib, held_out = _split(inputs)
    calib_photos, held_photos = _split(used)
    report(f"      {len(calib)} calibration crops, {len(held_out)} held out, sizes {sizes}, aspect {aspect}")
    report(f"      target: {target}" + (" (zero-centred layer norm inputs)" if target == "x86-64" else
                                        " (zero-centred layer norm and convolution inputs)"))
    quantized = quantize(float_model, calib, target)
    quantize_s = time.perf_counter() - started

    report("      measuring fidelity (vs float, f32) and speed (vs the as-is graph)")
    reference = _compile(float_model, "f32")
    ours = _compile(quantized)
    asis = _compile(weights.WEIGHTS_DIR / weights.GENERATOR_IR["asis"])
    ours_fid, asis_fid = fidelity(ours, reference, held_out), fidelity(asis, reference, held_out)
    shape = working_shape(max(sizes), aspect)
    ours_ms, asis_ms = latency_ms(ours, shape), latency_ms(asis, shape)
    report(f"      NNCF INT8: {ours_fid['psnr_db']} dB, SSIM {ours_fid['ssim']}, {ours_ms} ms at {shape}")
    report(f"      as-is INT8: {asis_fid['psnr_db']} dB, SSIM {asis_fid['ssim']}, {asis_ms} ms")
    nncf_wins = ours_fid["psnr_db"] >= asis_fid["psnr_db"] or ours_ms <= asis_ms
    if nncf_wins:
        _save(quantized, weights.GENERATOR_IR["int8"])
    else:
        _copy_ir("asis", "int8")
    return {
        "chosen": "nncf" if nncf_wins else "tflite-asis",
        "calibration": {"folder": str(calibration), "crops": len(calib), "held_out": len(held_out),
                        "sizes": sizes, "aspect": aspect,
                        "photos": sorted(str(p.relative_to(calibration)) for p in calib_photos),
                        "held_out_photos": sorted(str(p.relative_to(calibration)) for p in held_photos)},
        "recipe": "NNCF PTQ, MIXED preset, fused MVN norms, output 1x1 conv in float"
                  + "; zero-centred int8 layer norm inputs"
                  + ("; zero-centred int8 convolution inputs" if target == "arm64" else ""),
        "target": target,
        "fidelity_vs_fp32": {"nncf": ours_fid, "tflite-asis": asis_fid},
        "latency_ms": {"shape": list(shape), "nncf": ours_ms, "tflite-asis": asis_ms,
                       "machine_note": "measured during the build; use `booth bench` for a clean comparison"},
        "quantize_s": round(quantize_s, 1),
    }
