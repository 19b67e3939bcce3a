"""``booth styles fetch|build|list``: every style built like the classic generator.

For each style ``build`` writes into ``weights/styles/``:

1. ``NAME_fp32.xml`` — the float network: a float16 ONNX file gets float32 inputs,
   outputs, weights and arithmetic (its float16 copies are exact in float32); a
   full-integer TFLite file loses its FakeQuantize ops (weights dequantized); where
   the graph allows, its fixed-size upsampling becomes ×2 scale-based so it runs at
   any size (the same rewrites as :mod:`booth.graph`), otherwise the manifest gives
   its one ``fixed_size`` (White-box: its guided filter's normalisation is a constant
   of the 512×512 shape). Input [1, H, W, 3] NHWC in [-1, 1], [-1, 1] out;
2. ``NAME_int8.xml`` — NNCF post-training quantization with the classic generator's
   recipe (:func:`quantize_style`: MIXED preset, the output convolution in float);
3. ``NAME_card.json`` — the model card: source sha256, fidelity of INT8 against the
   style's float network (PSNR, SSIM on held-out crops), latency of both at each
   working size, and the precision the booth runs (``runs``): INT8 only where it is
   faster than float *and* at least :data:`MIN_PSNR_DB` from it.

Calibration data comes from one place, :func:`calibration_inputs`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import openvino as ov
from openvino import opset13

from booth import graph, quantize, styles, weights

#: Bumped when the style build recipe changes, so `--if-needed` rebuilds.
RECIPE_VERSION = 2  # 2: everything after the output convolution in float
#: INT8 is kept only at or above this fidelity against the style's float network.
MIN_PSNR_DB = 30.0
#: Calibration crops per style by default (a quarter more are held out for fidelity).
DEFAULT_SAMPLES = 24
#: Working size of the kiosk's sample picture of each style.
SAMPLE_SIZE = 256


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    fetch = sub.add_parser("fetch", help="download (or copy from a mirror) and verify the styles' files")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="styles (default: all)")
    fetch.add_argument("--mirror", metavar="DIR", default=None,
                       help=f"folder with the model files; styles are in its styles/ subfolder "
                            f"(default: ${weights.MIRROR_ENV}, else download)")
    build = sub.add_parser("build", help="build each style's float and INT8 IR and model card")
    build.add_argument("names", nargs="*", metavar="NAME", help="styles (default: all fetched)")
    build.add_argument("--if-needed", action="store_true", help="skip styles that are up to date")
    build.add_argument("--calibration", metavar="DIR", default=None,
                       help="folder of photos to calibrate INT8 on (default as `booth weights build`)")
    build.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                       help=f"calibration crops per style (default {DEFAULT_SAMPLES})")
    build.add_argument("--sizes", default=None,
                       help="working sizes to calibrate and time, e.g. 384,512 (default: [generator] sizes)")
    sub.add_parser("list", help="the styles, whether they are built, and what they run")


def run(args: argparse.Namespace) -> int:
    if args.action == "fetch":
        styles.fetch(args.names or None, args.mirror)
        return 0
    if args.action == "list":
        for line in describe():
            print(line)
        return 0
    sizes = _parse_sizes(args.sizes) if args.sizes else None
    names = args.names or [n for n, s in styles.catalogue().items()
                           if not s.classic and s.model_file().path.is_file()]
    for name in names:
        build_style(name, calibration=args.calibration, samples=args.samples, sizes=sizes,
                    if_needed=args.if_needed)
    write_samples(calibration=args.calibration)
    return 0


def write_samples(calibration: str | None = None, report: Callable[[str], None] = print) -> list[str]:
    """A small picture of each built style (``NAME_sample.jpg``, for the kiosk's style
    choice), made from the first calibration photo; returns the styles written."""
    from booth.build import photos_to_calibrate_on
    from booth.config import defaults
    from booth.images import encode_jpeg

    folder = photos_to_calibrate_on(calibration)
    todo = [s for n, s in styles.catalogue().items()
            if styles.is_built(n) and not styles.sample_path(n).is_file()]
    if folder is None or not todo:
        return []
    settings = defaults().replace("generator", validate=False, sizes=[SAMPLE_SIZE])
    x = calibration_inputs(todo[0], [SAMPLE_SIZE], 1, folder)[0][0]
    crop = np.clip(np.round((x[0] + 1.0) * 127.5), 0, 255).astype(np.uint8)
    h, w = working_shape_of(SAMPLE_SIZE)
    crop = np.ascontiguousarray(crop[:h, :w])
    written = []
    for style in todo:
        picture = styles.load_style(style, settings, warm_up=False).stylize(crop)
        path = styles.sample_path(style.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(encode_jpeg(picture, 85))
        os.replace(tmp, path)
        written.append(style.name)
    report(f"samples: {', '.join(written)}")
    return written


def working_shape_of(size: int) -> tuple[int, int]:
    from booth.config import defaults
    from booth.generator import working_shape

    return working_shape(size, defaults().face.aspect)


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise weights.WeightsError(f"--sizes {text!r}: give sizes like 384,512") from None
    if not sizes or any(s % 8 or not 128 <= s <= 1024 for s in sizes):
        raise weights.WeightsError(f"--sizes {text!r}: each must be a multiple of 8 in 128..1024")
    return sizes


def describe() -> list[str]:
    """One line per style: name, label, built or not, precision it runs, fidelity."""
    lines = []
    for name, style in styles.catalogue().items():
        if style.classic:
            state = "built (booth weights build)" if styles.is_built(name) else "not built"
        else:
            card = styles.read_card(name)
            fetched = style.model_file().path.is_file()
            state = ("not fetched" if not fetched and card is None else
                     "fetched, not built" if card is None else
                     f"built, runs {card['runs']} ({card['int8']['fidelity_vs_float']['psnr_db']} dB)")
        lines.append(f"{name:9} {style.label:14} {style.role:5} {state}")
    return lines


# --- the float network -------------------------------------------------------------

def float16_to_float32(model: ov.Model) -> int:
    """Make a float16 graph float32 throughout (inputs, constants, casts); returns how
    many ops changed. Every float16 value is exact in float32, so nothing is lost."""
    changed = 0
    for parameter in model.get_parameters():
        if parameter.get_element_type() == ov.Type.f16:
            parameter.set_element_type(ov.Type.f32)
            changed += 1
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        if kind == "Constant" and node.get_output_element_type(0) == ov.Type.f16:
            node.output(0).replace(opset13.constant(node.get_data().astype(np.float32)).output(0))
            changed += 1
        elif kind == "Convert" and node.get_output_element_type(0) == ov.Type.f16:
            source = node.input_value(0)
            node.output(0).replace(source if source.get_element_type() == ov.Type.f32
                                   else opset13.convert(source, "f32").output(0))
            changed += 1
    model.validate_nodes_and_infer_types()
    return changed


def float_network(style: styles.Style, source: Path) -> tuple[ov.Model, dict[str, int]]:
    """The style's float32 network, [1, H, W, 3] NHWC in [-1, 1] (see the module docstring)."""
    model = ov.Core().read_model(str(source))
    counts: dict[str, int] = {}
    if source.suffix == ".tflite":
        counts["fake_quantize_removed"] = graph.strip_fake_quantize(model)
        counts["weights_dequantized"] = graph.dequantize_weights(model)
        graph.fold_constants(model)
        if not style.fixed_size:
            counts["upsampling_rewritten"] = graph.scale_upsampling(model)
    counts["float16_ops_made_float32"] = float16_to_float32(model)
    model.validate_nodes_and_infer_types()
    model = ov.Model(model.outputs, model.get_parameters(), f"style_{style.name}_fp32")
    side = style.fixed_size or -1
    model.reshape({model.inputs[0].any_name: ov.PartialShape([1, side, side, 3])})
    model.validate_nodes_and_infer_types()
    return model, counts


def float_tail(model: ov.Model, output: str) -> list[str]:
    """The output convolution and every op that is not on the way to it: what the network
    does after its last convolution (White-box's guided filter, which mixes the output
    with the photo). Kept in float: quantizing it costs several dB for little time."""
    ops = {op.get_friendly_name(): op for op in model.get_ordered_ops()}
    ancestors, todo = set(), [ops[output]]
    while todo:
        node = todo.pop()
        for i in range(node.get_input_size()):
            source = node.input_value(i).get_node()
            if source.get_friendly_name() not in ancestors:
                ancestors.add(source.get_friendly_name())
                todo.append(source)
    skip = {"Parameter", "Constant", "Result"}
    return [output] + [name for name, op in ops.items()
                       if name not in ancestors and name != output and op.get_type_name() not in skip]


def output_convolution(model: ov.Model) -> str | None:
    """Name of the convolution nearest the output (kept in float: quantizing the layer
    that writes the pixels puts banding straight into the picture)."""
    from collections import deque

    queue, seen = deque([model.outputs[0].get_node()]), set()
    while queue:
        node = queue.popleft()
        if node.get_type_name() == "Convolution":
            return node.get_friendly_name()
        for i in range(node.get_input_size()):
            source = node.input_value(i).get_node()
            if source.get_friendly_name() not in seen:
                seen.add(source.get_friendly_name())
                queue.append(source)
    return None


# --- INT8 ---------------------------------------------------------------------------

def calibration_inputs(style: styles.Style, sizes: list[int], samples: int,
                       calibration: str | None = None) -> tuple[list[np.ndarray], list[Path], str]:
    """The network inputs INT8 is calibrated and checked on: booth crops of photos at the
    working sizes, padded to the style's size multiple; (inputs, photos, where from).

    This is the one place the styles' calibration data comes from."""
    from booth.build import photos_to_calibrate_on
    from booth.config import defaults
    from booth.face import FaceDetector

    folder = photos_to_calibrate_on(calibration)
    if folder is None:
        raise weights.WeightsError("no calibration photos for the styles' INT8: pass --calibration DIR "
                                   "(or set BOOTH_CALIBRATION_DIR) with a few dozen photos of people")
    settings = defaults()
    detector = FaceDetector.from_settings(settings)
    inputs, used = quantize.calibration_inputs(Path(folder), samples, sizes, settings.face.aspect,
                                               detector=detector)
    return [fit_input(style, x) for x in inputs], used, str(folder)


def fit_input(style: styles.Style, x: np.ndarray) -> np.ndarray:
    """A network input ([1, H, W, 3]) padded to the style's size multiple, or resized to
    its one size, as :class:`booth.styles.StyleGenerator` does at run time."""
    if style.fixed_size:
        return styles.fit_fixed(x[0], style.fixed_size)[None]
    return styles.pad_to(x[0], style.size_multiple)[None]


def quantize_style(float_model: ov.Model, inputs: list[np.ndarray], target: str) -> ov.Model:
    """NNCF post-training quantization with the classic generator's recipe: MIXED
    preset, the output convolution (and anything after it, :func:`float_tail`) kept
    in float; then the generator's rewrites for the target (:func:`booth.quantize.for_target`:
    layer norms' inputs zero-centred, and on ARM the convolutions' too; each a no-op
    where a network lacks what it rewrites)."""
    import nncf

    output = output_convolution(float_model)
    ignored = nncf.IgnoredScope(names=float_tail(float_model, output), validate=False) if output else None
    quantized = nncf.quantize(float_model, nncf.Dataset(inputs), preset=nncf.QuantizationPreset.MIXED,
                              subset_size=len(inputs), ignored_scope=ignored)
    return quantize.for_target(quantized, target)


def save_ir(model: ov.Model, path: Path) -> Path:
    """Save an IR atomically: write under a temporary name, then rename .bin then .xml."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.xml")
    ov.save_model(model, tmp, compress_to_fp16=False)
    for suffix in (".bin", ".xml"):
        src = tmp.with_suffix(suffix)
        with open(src, "rb") as f:
            os.fsync(f.fileno())
        os.replace(src, path.with_suffix(suffix))
    return path


def up_to_date(style: styles.Style) -> bool:
    card = styles.read_card(style.name)
    return (card is not None and card.get("source_sha256") == style.sha256
            and card.get("recipe_version") == RECIPE_VERSION
            and card.get("int8", {}).get("target") == quantize.int8_target()
            and styles.ir_path(style.name, card.get("runs", "int8")).is_file())


def choose_precision(int8_ms: float, float_ms: float, psnr_db: float) -> tuple[str, str]:
    """("int8" or "fp32", why): INT8 only where it is faster and faithful enough."""
    if psnr_db < MIN_PSNR_DB:
        return "fp32", f"INT8 fidelity {psnr_db} dB is below {MIN_PSNR_DB} dB"
    if int8_ms >= float_ms:
        return "fp32", f"INT8 ({int8_ms} ms) is not faster than float ({float_ms} ms)"
    return "int8", f"INT8 is {float_ms / int8_ms:.2f}x faster than float at {psnr_db} dB"


def build_style(name: str, *, calibration: str | None = None, samples: int = DEFAULT_SAMPLES,
                sizes: list[int] | None = None, if_needed: bool = False,
                report: Callable[[str], None] = print) -> dict:
    """Build one style's float and INT8 IR and write its model card; returns the card."""
    from booth.config import defaults
    from booth.generator import working_shape

    catalogue = styles.catalogue()
    if name not in catalogue or catalogue[name].classic:
        raise weights.WeightsError(f"unknown style {name!r} (known: "
                                   f"{', '.join(n for n, s in catalogue.items() if not s.classic)}; "
                                   f"the classic generator is built by `booth weights build`)")
    style = catalogue[name]
    if if_needed and up_to_date(style):
        report(f"{name}: up to date")
        return styles.read_card(name) or {}
    source = style.model_file().path
    if not weights.verify(style.model_file()):
        raise weights.WeightsError(f"style {name}: {style.file} is missing or damaged: "
                                   f"run `booth styles fetch {name}`")
    settings = defaults()
    sizes = sizes or list(settings.generator.sizes)
    target = quantize.int8_target()
    started = time.perf_counter()

    float_model, counts = float_network(style, source)
    save_ir(float_model, styles.ir_path(name, "fp32"))
    inputs, used, folder = calibration_inputs(style, sizes, samples + samples // 3, calibration)
    calib = [x for i, x in enumerate(inputs) if i % 4]
    held_out = inputs[::4]
    quantized = quantize_style(float_model, calib, target)
    save_ir(quantized, styles.ir_path(name, "int8"))
    quantize_s = time.perf_counter() - started

    reference = _compile(float_model, "f32")
    int8 = _compile(quantized, None)
    fidelity = quantize.fidelity(quantize.pictures(quantized, held_out)[0],
                                 quantize.pictures(float_model, held_out, "f32")[0])
    latency = {}
    for size in sizes:
        h, w = fit_input(style, np.zeros((1, *working_shape(size, settings.face.aspect), 3), np.float32)).shape[1:3]
        latency[f"{size}"] = {"shape": [h, w], "int8": quantize.latency_ms(int8, (h, w), repeats=3),
                              "fp32": quantize.latency_ms(reference, (h, w), repeats=3)}
    largest = latency[str(max(sizes))]
    runs, why = choose_precision(largest["int8"], largest["fp32"], fidelity["psnr_db"])
    card = {
        "style": name, "label": style.label, "role": style.role,
        "source": style.file, "source_sha256": weights.sha256_of(source),
        "license": style.license,
        "recipe_version": RECIPE_VERSION,
        "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "float_rewrites": counts,
        "calibration": {"folder": folder, "crops": len(calib), "held_out": len(held_out), "sizes": sizes,
                        "photos": sorted(Path(p).name for p in used)},
        "int8": {"recipe": "NNCF PTQ, MIXED preset, output convolution in float", "target": target,
                 "fidelity_vs_float": fidelity},
        "latency_ms": latency,
        "latency_note": "median of 3 at each working size, measured during the build "
                        "(use `booth bench --styles` for a clean comparison)",
        "runs": runs, "why": why,
        "quantize_s": round(quantize_s, 1),
        "build_s": round(time.perf_counter() - started, 1),
    }
    tmp = styles.card_path(name).with_suffix(".tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, styles.card_path(name))
    report(f"{name}: runs {runs} ({why}); INT8 {fidelity['psnr_db']} dB vs float; "
           + ", ".join(f"{s}: int8 {v['int8']} ms / fp32 {v['fp32']} ms" for s, v in latency.items())
           + f"; built in {card['build_s']} s")
    return card


def _compile(model: ov.Model, hint: str | None) -> ov.CompiledModel:
    from booth.generator import cpu_config

    return ov.Core().compile_model(model, "CPU", cpu_config(hint))
