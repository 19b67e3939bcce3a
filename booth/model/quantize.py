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
  (:func:`booth.model.arm_int8.centre_convolution_inputs`): the ARM CPU plugin runs a
  convolution in int8 only with i8 in and i8 out and no zero point; and it widens the
  3×3 stride-1 kernels to 3×4 (:func:`booth.model.arm_int8.widen_3x3_kernels`), which the
  plugin would otherwise run as float Winograd. The build runs on the machine that will
  run the booth (install.sh), so each gets its own graph;
* then measure the result against the float network (PSNR, SSIM) next to the as-is
  graph, and keep whichever of the two INT8 graphs wins.

The calibration is data: NNCF places its quantizers from the graph's structure alone,
and the statistics pass only sets their ranges. :func:`calibrate` runs that pass on
photos and :func:`extract_ranges` keeps its result (``weights/int8_ranges.json``, a
few dozen kB, committed); :func:`apply_ranges` rebuilds the same graph from it in
seconds, without photos, so every install gets the calibrated INT8 graph.
"""

from __future__ import annotations

import base64
import ctypes
import dataclasses
import gc
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Callable

import numpy as np
import openvino as ov
from openvino import opset13 as ops

from booth.config import defaults
from booth.errors import ImageError
from booth.files import write_atomic
from booth.measure.quality import fidelity
from booth.measure.timing import median_ms, random_input
from booth.model import irfile, weights
from booth.model.arm_int8 import centre_convolution_inputs, widen_3x3_kernels
from booth.vision import framing
from booth.vision.face import FaceDetector
from booth.vision.generator import cpu_config, working_shape
from booth.vision.images import PHOTO_SUFFIXES, load_image


def calibration_photos(folder: Path) -> list[Path]:
    """Every photo below ``folder`` (sorted, so builds are repeatable)."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)


def booth_crop(rgb: np.ndarray, size: int, aspect: float, detector=None) -> np.ndarray:
    """The crop the booth feeds the generator at ``size``: the pipeline's own levelling and
    framing around the faces ``detector`` finds (scene framing when it finds none, or
    when no detector is given)."""

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
        raise weights.WeightsError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) in the calibration folder {folder}")
    random.Random(seed).shuffle(photos)
    inputs: list[np.ndarray] = []
    used: list[Path] = []
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


def _nncf_quantize(float_model: ov.Model, inputs: list[np.ndarray]) -> ov.Model:
    """NNCF post-training quantization: MIXED preset, output conv kept in float.

    Bias correction is off: on this generator it changed no constant (measured: the
    same graph bit for bit, 38.37 dB either way), and without it the activation ranges
    alone describe the whole INT8 graph, so they can ship as data (:func:`apply_ranges`).
    """
    # NNCF (hundreds of MB, with PyTorch where it is installed) only when quantizing:
    # a booth that loads a built graph never needs it.
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

    ignored = nncf.IgnoredScope(names=[_output_convolution(float_model)])
    return nncf.quantize(float_model.clone(), nncf.Dataset(inputs),
                         preset=nncf.QuantizationPreset.MIXED,
                         subset_size=len(inputs), ignored_scope=ignored,
                         advanced_parameters=AdvancedQuantizationParameters(
                             disable_bias_correction=True))


def for_target(quantized: ov.Model, target: str) -> ov.Model:
    """The calibrated graph as the target runs it: the layer norms' inputs zero-centred,
    and on ARM the convolutions' inputs too and the 3×3 stride-1 kernels widened to 3×4
    (:mod:`booth.model.arm_int8`; the rewrites compute the same network)."""
    centred = symmetric_norm_inputs(quantized)
    return centred if target == "x86-64" else widen_3x3_kernels(centre_convolution_inputs(centred))


def quantize(float_model: ov.Model, inputs: list[np.ndarray], target: str = "x86-64") -> ov.Model:
    """NNCF post-training quantization (:func:`_nncf_quantize`) for ``target``."""
    return for_target(_nncf_quantize(float_model, inputs), target)


def _fake_quantizes(model: ov.Model) -> list[ov.Node]:
    return [op for op in model.get_ordered_ops() if op.get_type_name() == "FakeQuantize"]


def _where(fq: ov.Node) -> str:
    """A FakeQuantize's place in the graph, by op types (names are counters and change
    from one process to the next; the graph's order does not)."""
    producer = fq.input_value(0).get_node().get_type_name()
    consumers = sorted(i.get_node().get_type_name() for i in fq.output(0).get_target_inputs())
    return f"{producer}->{'+'.join(consumers)}"


def _encode(data: np.ndarray) -> float | dict:
    """A range as JSON, exact to the bit: a number (str() of a float32 is its shortest
    exact spelling), or a per-channel vector as little-endian float32 in base64."""
    data = np.asarray(data, dtype=np.float32)
    if data.size == 1:
        return float(str(data.ravel()[0]))
    return {"f32le_base64": base64.b64encode(data.ravel().astype("<f4").tobytes()).decode("ascii")}


def _decode(value: float | dict) -> np.ndarray:
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["f32le_base64"]), dtype="<f4").astype(np.float32)
    return np.asarray(value, dtype=np.float32)


RANGE_INPUTS = ("input_low", "input_high", "output_low", "output_high")


def extract_ranges(quantized: ov.Model) -> list[dict]:
    """Every FakeQuantize's levels and ranges, in graph order, from NNCF's output
    (output ranges only where they differ from the input ranges)."""
    out = []
    for fq in _fake_quantizes(quantized):
        entry: dict = {"at": _where(fq), "levels": int(fq.get_attributes()["levels"])}
        data = [fq.input_value(i).get_node().get_data() for i in range(1, 5)]
        for name, values in zip(RANGE_INPUTS, data):
            if name.startswith("output") and np.array_equal(values, data[RANGE_INPUTS.index(
                    name.replace("output", "input"))]):
                continue
            entry[name] = _encode(values)
        out.append(entry)
    return out


def apply_ranges(float_model: ov.Model, ranges: list[dict]) -> ov.Model:
    """The calibrated INT8 graph from shipped ranges, without a statistics pass.

    NNCF places the FakeQuantize ops from the graph's structure alone, so one tiny
    synthetic input gives the same ops in the same places (about 2 s); their ranges
    are then replaced by the calibrated ones (:func:`set_ranges`).
    """
    return set_ranges(_nncf_quantize(float_model, [np.zeros((1, 64, 48, 3), np.float32)]), ranges)


def set_ranges(quantized: ov.Model, ranges: list[dict], what: str = "generator",
               remake: str = "booth weights calibrate DIR") -> ov.Model:
    """Replace the ranges of ``quantized``'s FakeQuantize ops (placed by NNCF) with the
    calibrated ones from a ranges file; ``what`` and ``remake`` name the network and the
    command that recalibrates it in the error when the file does not fit."""
    fqs = _fake_quantizes(quantized)
    if len(fqs) != len(ranges) or any(_where(fq) != r["at"] for fq, r in zip(fqs, ranges)):
        raise weights.WeightsError(
            f"the INT8 ranges file does not fit this {what} graph ({len(ranges)} ranges for "
            f"{len(fqs)} quantizers): recalibrate with `{remake}`")
    for fq, entry in zip(fqs, ranges):
        if int(fq.get_attributes()["levels"]) != entry["levels"]:
            raise weights.WeightsError(f"INT8 ranges file: levels differ at {entry['at']}")
        for index, name in enumerate(RANGE_INPUTS, start=1):
            old = fq.input_value(index)
            value = _decode(entry.get(name, entry[name.replace("output", "input")]))
            value = value.reshape(old.get_shape())
            fq.input(index).replace_source_output(ops.constant(value).output(0))
    return quantized


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


def to_pixels(output: np.ndarray) -> np.ndarray:
    """The float network's [-1, 1] output (NHWC, batch 1) as uint8 RGB."""
    return np.clip(np.round((output[0] + 1.0) * 127.5), 0, 255).astype(np.uint8)


def pictures(model: ov.Model | Path, inputs: list[np.ndarray], hint: str | None = None,
             latency_at: tuple[int, int] | None = None) -> tuple[list[np.ndarray], float | None]:
    """The model's uint8 pictures for the inputs (and its latency at ``latency_at``),
    compiling it for this call only: one compiled generator in memory at a time."""
    compiled = _compile(model, hint)
    out = [to_pixels(compiled(x)[0]) for x in inputs]
    latency = latency_ms(compiled, latency_at) if latency_at else None
    del compiled
    release_memory()
    return out, latency


def release_memory() -> None:
    """Hand freed memory back to the system (glibc keeps it otherwise), so each compiled
    generator the build measures reuses the last one's memory: the build's peak stays
    that of one model, which matters on a 2 GB Pi."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do


def latency_ms(compiled: ov.CompiledModel, shape: tuple[int, int], repeats: int = 5) -> float:
    """Median latency of one inference at (height, width) after a warm-up."""
    request = compiled.create_infer_request()
    x = random_input(shape)
    return median_ms(lambda: request.infer(x), repeats, warmup=1)


def _split(items: list, every: int = 4) -> tuple[list, list]:
    """(calibration, held-out evaluation): every ``every``-th item is held out."""
    held = items[::every]
    return [x for i, x in enumerate(items) if i % every], held


def calibrate(float_model: ov.Model, folder: Path, *, samples: int = 48,
              sizes: list[int] | None = None, aspect: float | None = None,
              report: Callable[[str], None] = print) -> tuple[ov.Model, dict, list[np.ndarray]]:
    """NNCF's statistics pass over booth crops of the photos in ``folder``.

    Returns the quantized graph (before the target's rewrite), the ranges document
    (what ``weights/int8_ranges.json`` holds) and the held-out crops (network inputs).
    """
    settings = defaults()
    sizes = sizes or list(settings.generator.sizes)
    aspect = aspect or settings.face.aspect
    detector = FaceDetector.from_settings(settings)
    inputs, used = calibration_inputs(folder, samples + samples // 3, sizes, aspect,
                                      detector=detector)
    calib, held_out = _split(inputs)
    calib_photos, held_photos = _split(used)
    report(f"      {len(calib)} calibration crops, {len(held_out)} held out, sizes {sizes}, aspect {aspect}")
    raw = _nncf_quantize(float_model, calib)
    ranges = {
        "what": "activation ranges of the generator's INT8 graph, found by NNCF calibration "
                "on booth crops of real photos (derived statistics only: no photo is in here)",
        "make_with": "booth weights calibrate DIR --out weights/int8_ranges.json",
        "source_sha256": weights.manifest()["generator"].sha256,
        "recipe": RECIPE,
        "calibration": {"crops": len(calib), "held_out": len(held_out), "sizes": sizes,
                        "aspect": aspect,
                        "photos": sorted(str(p.relative_to(folder)) for p in calib_photos),
                        "held_out_photos": sorted(str(p.relative_to(folder)) for p in held_photos)},
        "fake_quantize": extract_ranges(raw),
    }
    return raw, ranges, held_out


RECIPE = "NNCF PTQ, MIXED preset, no bias correction, fused MVN norms, output 1x1 conv in float"


def read_ranges(path: Path, source_sha256: str | None = None, what: str = "generator",
                remake: str = "booth weights calibrate DIR") -> dict:
    """The shipped (or recalibrated) ranges document, checked against the network's
    source file (default: the generator's)."""
    expected = source_sha256 or weights.manifest()["generator"].sha256
    try:
        ranges = json.loads(path.read_text(encoding="utf-8"))
        quantizers = ranges["fake_quantize"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise weights.WeightsError(f"cannot read the INT8 ranges file {path} ({exc}): restore it "
                                   f"from git or recalibrate: {remake}") from None
    if ranges.get("source_sha256") != expected:
        raise weights.WeightsError(f"{path} was calibrated for another {what} file "
                                   f"(sha256 {str(ranges.get('source_sha256'))[:12]}…, this one is "
                                   f"{expected[:12]}…): recalibrate: {remake}")
    if not isinstance(quantizers, list) or not quantizers:
        raise weights.WeightsError(f"{path} lists no quantizer ranges: recalibrate: {remake}")
    return ranges


def write_ranges(ranges: dict, path: Path) -> None:
    """Write the ranges document atomically."""
    # One line per quantizer: a diff of two calibrations stays readable.
    quantizers = ",\n  ".join(json.dumps(q) for q in ranges["fake_quantize"])
    head = json.dumps({k: v for k, v in ranges.items() if k != "fake_quantize"}, indent=1)
    text = head[:-2] + ',\n "fake_quantize": [\n  ' + quantizers + "\n ]\n}\n"
    json.loads(text)  # the hand-joined document must still be JSON
    write_atomic(path, text)


def demo_crops(sizes: list[int], aspect: float) -> list[np.ndarray]:
    """Booth crops (uint8) of the demo photos the install fetched, one per working size
    each: what the build measures fidelity on when no calibration photos are given."""
    photos = weights.demo_photos()
    if not photos:
        return []
    detector = FaceDetector.from_settings(defaults())
    crops = [booth_crop(load_image(p), size, aspect, detector) for p in photos for size in sizes]
    del detector
    release_memory()
    return crops


def build_int8(float_model: ov.Model, calibration: Path | None, *, ranges_path: Path,
               samples: int = 48, report: Callable[[str], None] = print) -> tuple[dict, list[np.ndarray]]:
    """Quantize (calibrating on photos, or from the ranges file), compare with the as-is
    graph, save the winner as generator_int8.

    Returns the model card's "int8" section and the crops (network inputs) it measured
    fidelity on.
    """
    target = int8_target()  # a bad BOOTH_INT8_TARGET stops here, before calibrating
    settings = defaults()
    sizes, aspect = list(settings.generator.sizes), settings.face.aspect
    started = time.perf_counter()
    if calibration is not None:
        raw, ranges, held_out = calibrate(float_model, calibration, samples=samples,
                                          sizes=sizes, aspect=aspect, report=report)
        source = {"from": "photos", "folder": str(calibration), **ranges["calibration"]}
        measured_on = "held-out calibration crops"
    else:
        ranges = read_ranges(ranges_path)
        raw = apply_ranges(float_model, ranges["fake_quantize"])
        # The smallest working size: the comparison holds at every size, and a small
        # crop keeps the build's memory low.
        held_out = [to_network_input(c) for c in demo_crops([min(sizes)], aspect)]
        source = {"from": "ranges file", "file": ranges_path.name,
                  "calibrated_on": {k: ranges["calibration"][k] for k in ("crops", "sizes", "aspect")},
                  "photos": len(ranges["calibration"]["photos"])}
        measured_on = "demo photo crops"
    report(f"      target: {target}" + (" (zero-centred layer norm inputs)" if target == "x86-64" else
                                        " (zero-centred layer norm and convolution inputs, 3x3 kernels as 3x4)"))
    quantized = for_target(raw, target)
    quantize_s = time.perf_counter() - started
    section = {"chosen": "nncf", "calibration": source,
               "recipe": RECIPE + "; zero-centred int8 layer norm inputs"
                         + ("; zero-centred int8 convolution inputs; 3x3 stride-1 kernels widened to 3x4"
                            if target == "arm64" else ""),
               "target": target, "quantize_s": round(quantize_s, 1)}
    if not held_out:
        report("      no photos to measure fidelity on (demo photos not fetched): keeping the calibrated graph")
        irfile.save_ir(quantized, weights.WEIGHTS_DIR / weights.GENERATOR_IR["int8"])
        return section, held_out

    report(f"      measuring fidelity on {len(held_out)} {measured_on} against the float network (f32)")
    shape = working_shape(max(sizes), aspect)
    asis_ir = weights.WEIGHTS_DIR / weights.GENERATOR_IR["asis"]
    reference, _ = pictures(float_model, held_out, "f32")
    ours_fid = fidelity(pictures(quantized, held_out)[0], reference)
    asis_fid = fidelity(pictures(asis_ir, held_out)[0], reference)
    report(f"      NNCF INT8: {ours_fid['psnr_db']} dB, SSIM {ours_fid['ssim']}; "
           f"as-is INT8: {asis_fid['psnr_db']} dB, SSIM {asis_fid['ssim']}")
    latency: dict = {}
    if ours_fid["psnr_db"] < asis_fid["psnr_db"]:  # less faithful: it must at least be faster
        latency = {"shape": list(shape), "nncf": pictures(quantized, held_out[:1], latency_at=shape)[1],
                   "tflite-asis": pictures(asis_ir, held_out[:1], latency_at=shape)[1]}
        report(f"      at {shape}: NNCF {latency['nncf']} ms, as-is {latency['tflite-asis']} ms")
    nncf_wins = not latency or latency["nncf"] <= latency["tflite-asis"]
    if nncf_wins:
        irfile.save_ir(quantized, weights.WEIGHTS_DIR / weights.GENERATOR_IR["int8"])
    else:
        irfile.copy_ir(weights.WEIGHTS_DIR / weights.GENERATOR_IR["asis"], weights.WEIGHTS_DIR / weights.GENERATOR_IR["int8"])
    section |= {
        "chosen": "nncf" if nncf_wins else "tflite-asis",
        "fidelity_vs_fp32": {"measured_on": measured_on, "nncf": ours_fid, "tflite-asis": asis_fid},
    }
    if latency:
        section["latency_ms"] = latency | {
            "machine_note": "measured during the build; use `booth bench` for a clean comparison"}
    return section, held_out
