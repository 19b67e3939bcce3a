"""``booth styles fetch|build|list``: every style built like the classic generator.

For each style ``build`` writes into ``weights/styles/``:

1. ``NAME_fp32.xml`` — the float network: a float16 ONNX file gets float32 inputs,
   outputs, weights and arithmetic (its float16 copies are exact in float32); a
   full-integer TFLite file loses its FakeQuantize ops (weights dequantized); where
   the graph allows, its fixed-size upsampling becomes ×2 scale-based so it runs at
   any size (the same rewrites as :mod:`booth.model.graph`), otherwise the manifest gives
   its one ``fixed_size`` (White-box: its guided filter's normalisation is a constant
   of the 512×512 shape). Input [1, H, W, 3] NHWC in [-1, 1], [-1, 1] out;
2. ``NAME_int8.xml`` — NNCF post-training quantization with the classic generator's
   recipe (:func:`place_quantizers`: MIXED preset, no bias correction, the output
   convolution in float), with the activation ranges shipped in
   ``weights/style_ranges/NAME.json`` (found by calibrating on booth crops of real
   photos; :func:`calibrate_style`), or calibrated afresh on ``--calibration DIR``;
3. ``NAME_card.json`` — the model card: source sha256, fidelity of INT8 against the
   style's float network (PSNR, SSIM on held-out crops), latency of both at each
   working size, and the precision the booth runs (``runs``): INT8 only where it is
   faster than float *and* at least :data:`MIN_PSNR_DB` from it; the build's time and
   peak memory.

Calibration data comes from one place, :func:`calibration_inputs`. ``calibrate DIR``
runs NNCF's statistics pass on photos and writes each style's ranges file: the same
format as the generator's (:func:`booth.model.quantize.write_ranges`), and a build from it
gives the same graph as calibrating on the photos, without them and in seconds.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import numpy as np
import openvino as ov
from openvino import opset13

from booth.config import defaults
from booth.files import write_atomic, write_json
from booth.measure import quality
from booth.model import graph, irfile, quantize, weights
from booth.model.build import (default_calibration_dir, peak_rss_mb as since_start,
                               photos_to_calibrate_on)
from booth.vision import styles
from booth.vision.face import FaceDetector
from booth.vision.generator import cpu_config, working_shape
from booth.vision.images import encode_jpeg

#: Bumped when the style build recipe changes, so `--if-needed` rebuilds.
RECIPE_VERSION = 3  # 3: no bias correction, ranges from a file (2: everything after the output conv in float)
#: What the INT8 graph is (recorded in the ranges files and model cards).
RECIPE = "NNCF PTQ, MIXED preset, no bias correction, output convolution (and what follows it) in float"
#: INT8 is kept only at or above this fidelity against the style's float network.
MIN_PSNR_DB = 30.0
#: Calibration crops per style by default (a quarter more are held out for fidelity).
DEFAULT_SAMPLES = 24
#: Working size of the kiosk's sample picture of each style.
SAMPLE_SIZE = 256


def write_samples(calibration: str | None = None, report: Callable[[str], None] = print) -> list[str]:
    """A small picture of each built style (``NAME_sample.jpg``, for the kiosk's style
    choice), made from the first calibration photo; returns the styles written."""
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
        write_atomic(path, encode_jpeg(picture, 85))
        written.append(style.name)
    report(f"samples: {', '.join(written)}")
    return written


def working_shape_of(size: int) -> tuple[int, int]:
    return working_shape(size, defaults().face.aspect)


def fetched_styles() -> list[str]:
    """The styles whose network is fetched (the classic generator is built by
    ``booth weights build``)."""
    return [n for n, s in styles.catalogue().items() if not s.classic and s.model_file().path.is_file()]


def build_styles(names: list[str], calibration: str | None = None, samples: int = DEFAULT_SAMPLES,
                 sizes: list[int] | None = None, if_needed: bool = False) -> None:
    """`booth styles build`: each style's IR and card, then the kiosk's sample pictures."""
    for name in names:
        build_style(name, calibration=calibration, samples=samples, sizes=sizes, if_needed=if_needed)
    write_samples(calibration=calibration)


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
    its one size, as :class:`booth.vision.styles.StyleGenerator` does at run time."""
    if style.fixed_size:
        return styles.fit_fixed(x[0], style.fixed_size)[None]
    return styles.pad_to(x[0], style.size_multiple)[None]


def place_quantizers(float_model: ov.Model, inputs: list[np.ndarray]) -> ov.Model:
    """NNCF post-training quantization with the classic generator's recipe: MIXED
    preset, the output convolution (and anything after it, :func:`float_tail`) kept in
    float, no bias correction — so the activation ranges alone describe the INT8 graph
    and can ship as data. The graph before the target's rewrite (:func:`for_target`)."""
    # NNCF (hundreds of MB, with PyTorch where it is installed) only when quantizing:
    # a booth that loads a built graph never needs it.
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

    output = output_convolution(float_model)
    ignored = nncf.IgnoredScope(names=float_tail(float_model, output), validate=False) if output else None
    return nncf.quantize(float_model.clone(), nncf.Dataset(inputs), preset=nncf.QuantizationPreset.MIXED,
                         subset_size=len(inputs), ignored_scope=ignored,
                         advanced_parameters=AdvancedQuantizationParameters(disable_bias_correction=True))


def for_target(raw: ov.Model, target: str) -> ov.Model:
    """The INT8 graph as ``target`` runs it: the generator's rewrites for the target
    (:func:`booth.model.quantize.for_target`: layer norms' inputs zero-centred, and on ARM
    the convolutions' too; each a no-op where a network lacks what it rewrites)."""
    return quantize.for_target(raw.clone(), target)


def remake_command(name: str) -> str:
    return f"booth styles calibrate DIR {name}"


def from_ranges(style: styles.Style, float_model: ov.Model, ranges: dict) -> ov.Model:
    """The photo-calibrated INT8 graph (before the target's rewrite) from a ranges file:
    NNCF places its quantizers from the graph's structure on one synthetic input, then
    the calibrated ranges replace theirs (no statistics pass, no photos)."""
    placed = place_quantizers(float_model, [fit_input(style, np.zeros((1, 64, 48, 3), np.float32))])
    return quantize.set_ranges(placed, ranges["fake_quantize"], what=f"style {style.name}",
                               remake=remake_command(style.name))


def read_style_ranges(style: styles.Style, path: Path | None = None) -> dict:
    """A style's ranges file, checked against the style's source file; it records the
    calibrated graph's fidelity for each target (the build's INT8-or-float choice)."""
    path = path or styles.ranges_path(style.name)
    ranges = quantize.read_ranges(path, style.sha256, what=f"style {style.name} source",
                                  remake=remake_command(style.name))
    recorded = ranges.get("fidelity_vs_float_held_out")
    if not isinstance(recorded, dict) or any("psnr_db" not in recorded.get(t, {}) for t in quantize.INT8_TARGETS):
        raise weights.WeightsError(f"{path} does not record the calibrated graph's fidelity for "
                                   f"{' and '.join(quantize.INT8_TARGETS)}: recalibrate: {remake_command(style.name)}")
    return ranges


def calibrate_style(style: styles.Style, float_model: ov.Model, folder: str | None, samples: int,
                    sizes: list[int]) -> tuple[ov.Model, dict, list[np.ndarray]]:
    """NNCF's statistics pass on booth crops of the photos in ``folder`` (None: as
    :func:`calibration_inputs` chooses): the quantized graph (before the target's
    rewrite), its ranges document (what ``weights/style_ranges/NAME.json`` holds, with
    the graph's fidelity against the float network on the held-out crops for each
    target) and the held-out crops."""
    inputs, used, folder = calibration_inputs(style, sizes, samples + samples // 3, folder)
    calib, held_out = [x for i, x in enumerate(inputs) if i % 4], inputs[::4]
    raw = place_quantizers(float_model, calib)
    ranges = {
        "what": f"activation ranges of style {style.name}'s INT8 graph, found by NNCF calibration "
                "on booth crops of real photos (derived statistics only: no photo is in here)",
        "make_with": remake_command(style.name),
        "style": style.name,
        "source_sha256": style.sha256,
        "recipe": RECIPE,
        "calibration": {"crops": len(calib), "held_out": len(held_out), "sizes": sizes,
                        "aspect": defaults().face.aspect,
                        "photos": sorted(str(Path(p).relative_to(folder)) for i, p in enumerate(used) if i % 4),
                        "held_out_photos": sorted(str(Path(p).relative_to(folder)) for p in used[::4])},
        "fake_quantize": quantize.extract_ranges(raw),
    }
    reference = quantize.pictures(float_model, held_out, "f32")[0]
    ranges["fidelity_vs_float_held_out"] = {
        target: quality.fidelity(quantize.pictures(for_target(raw, target), held_out)[0], reference)
        for target in quantize.INT8_TARGETS}
    return raw, ranges, held_out


def calibrate(name: str, folder: Path, out: Path, *, samples: int = DEFAULT_SAMPLES,
              sizes: list[int] | None = None, report: Callable[[str], None] = print) -> dict:
    """`booth styles calibrate`: one style's statistics pass on ``folder``, its ranges
    (with the calibrated graph's fidelity on the held-out crops) written to ``out``."""
    style = _known_style(name)
    if not folder.is_dir():
        raise weights.WeightsError(f"calibrate {folder}: not a folder of photos")
    if samples < 3:
        raise weights.WeightsError(f"--samples {samples}: calibrate on at least 3 crops "
                                   f"({DEFAULT_SAMPLES} is the default)")
    _check_fetched(style)
    sizes = sizes or list(defaults().generator.sizes)
    started = time.perf_counter()
    float_model, _ = float_network(style, style.model_file().path)
    _, ranges, _ = calibrate_style(style, float_model, str(folder), samples, sizes)
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize.write_ranges(ranges, out)
    fid = ranges["fidelity_vs_float_held_out"][quantize.int8_target()]
    report(f"{name}: wrote {out} ({out.stat().st_size // 1024} kB, {len(ranges['fake_quantize'])} "
           f"quantizers) in {time.perf_counter() - started:.0f} s; calibrated INT8 {fid['psnr_db']} dB "
           "vs float on the held-out crops")
    return ranges


def up_to_date(style: styles.Style, calibration: str | None = None) -> bool:
    """True when the card matches the source, recipe, INT8 target and where the
    calibration comes from now (the photos given, or the shipped ranges file as it is)."""
    card = styles.read_card(style.name)
    if card is None:
        return False
    made_from = card.get("calibration", {})
    if calibration is not None:
        fresh = made_from.get("folder") == str(calibration)
    elif styles.ranges_path(style.name).is_file():
        fresh = made_from.get("ranges_sha256") == weights.sha256_of(styles.ranges_path(style.name))
    else:
        fresh = True
    return (fresh and card.get("source_sha256") == style.sha256
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


def _known_style(name: str) -> styles.Style:
    catalogue = styles.catalogue()
    if name not in catalogue or catalogue[name].classic:
        raise weights.WeightsError(f"unknown style {name!r} (known: "
                                   f"{', '.join(n for n, s in catalogue.items() if not s.classic)}; "
                                   f"the classic generator is built by `booth weights build`)")
    return catalogue[name]


def _check_fetched(style: styles.Style) -> None:
    if not weights.verify(style.model_file()):
        raise weights.WeightsError(f"style {style.name}: {style.file} is missing or damaged: "
                                   f"run `booth styles fetch {style.name}`")


def reset_peak_rss() -> None:
    """Start this process's peak-memory count afresh (Linux: VmHWM), so each style's
    build reports its own peak when several are built in one process."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # the count then includes what ran before


def peak_rss_mb() -> int:
    """This process's peak resident memory since :func:`reset_peak_rss`, in MB."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) // 1024
    except (OSError, StopIteration, ValueError):
        return since_start()


def int8_graph(style: styles.Style, float_model: ov.Model, ranges: dict | None, calibration: str | None,
               samples: int, sizes: list[int]) -> tuple[ov.Model, dict, dict, list[np.ndarray]]:
    """The INT8 graph (before the target's rewrite), its ranges document (with the
    calibrated graph's fidelity), the card's "calibration" section and crops to check
    the graph on this machine: from the shipped ``ranges`` when given (the demo photos'
    crops), else calibrated on the photos (``calibration``, else the demo ones)."""
    if ranges is not None:
        shipped = styles.ranges_path(style.name)
        raw = from_ranges(style, float_model, ranges)
        demo = weights.demo_photos()
        crops = (calibration_inputs(style, sizes, 2 * len(sizes), str(demo[0].parent))[0]
                 if demo else [])
        section = {"from": "ranges file", "file": f"{shipped.parent.name}/{shipped.name}",
                   "ranges_sha256": weights.sha256_of(shipped),
                   **{k: ranges["calibration"][k] for k in ("crops", "held_out", "sizes")}}
        return raw, ranges, section, crops
    raw, ranges, _ = calibrate_style(style, float_model, calibration, samples, sizes)
    section = {"from": "photos", "folder": photos_to_calibrate_on(calibration), **ranges["calibration"]}
    return raw, ranges, section, []


def build_style(name: str, *, calibration: str | None = None, samples: int = DEFAULT_SAMPLES,
                sizes: list[int] | None = None, if_needed: bool = False,
                report: Callable[[str], None] = print) -> dict:
    """Build one style's float and INT8 IR and write its model card; returns the card."""
    style = _known_style(name)
    calibration = calibration or default_calibration_dir()
    if if_needed and up_to_date(style, calibration):
        report(f"{name}: up to date")
        return styles.read_card(name) or {}
    _check_fetched(style)
    # A ranges file that does not fit stops the build before any work.
    ranges = (read_style_ranges(style) if calibration is None and styles.ranges_path(name).is_file()
              else None)
    source = style.model_file().path
    settings = defaults()
    sizes = sizes or list(settings.generator.sizes)
    target = quantize.int8_target()
    reset_peak_rss()
    started = time.perf_counter()

    float_model, counts = float_network(style, source)
    irfile.save_ir(float_model, styles.ir_path(name, "fp32"))
    raw, ranges, calibration_section, crops = int8_graph(style, float_model, ranges, calibration,
                                                         samples, sizes)
    quantized = for_target(raw, target)
    del raw
    irfile.save_ir(quantized, styles.ir_path(name, "int8"))
    quantize_s = time.perf_counter() - started

    # Decided on the photo-calibrated graph's fidelity on its held-out crops (faces, groups,
    # scenes), whether the graph comes from the photos or from their ranges (the same
    # graph, so the same choice); the demo portraits are a check on this machine.
    fidelity = ranges["fidelity_vs_float_held_out"][target]
    int8_section = {"recipe": RECIPE, "target": target, "fidelity_vs_float": fidelity,
                    "fidelity_measured_on": f"{ranges['calibration']['held_out']} held-out calibration crops"}
    if crops:
        int8_section["fidelity_on_demo_crops"] = quality.fidelity(
            quantize.pictures(quantized, crops)[0], quantize.pictures(float_model, crops, "f32")[0])
    shapes = {size: fit_input(style, np.zeros((1, *working_shape(size, settings.face.aspect), 3),
                                              np.float32)).shape[1:3] for size in sizes}
    latency: dict[str, dict[str, Any]] = {f"{size}": {"shape": list(shape)} for size, shape in shapes.items()}
    for variant, model, hint in (("int8", quantized, None), ("fp32", float_model, "f32")):
        compiled = _compile(model, hint)  # one compiled network at a time: the build's peak stays low
        for size, shape in shapes.items():
            latency[f"{size}"][variant] = quantize.latency_ms(compiled, tuple(shape), repeats=3)
        del compiled
        quantize.release_memory()
    largest = latency[str(max(sizes))]
    runs, why = choose_precision(largest["int8"], largest["fp32"], fidelity["psnr_db"])
    card = {
        "style": name, "label": style.label, "role": style.role,
        "source": style.file, "source_sha256": weights.sha256_of(source),
        "license": style.license,
        "recipe_version": RECIPE_VERSION,
        "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "float_rewrites": counts,
        "calibration": calibration_section,
        "int8": int8_section,
        "latency_ms": latency,
        "latency_note": "median of 3 at each working size, measured during the build "
                        "(use `booth bench --styles` for a clean comparison)",
        "runs": runs, "why": why,
        "quantize_s": round(quantize_s, 1),
        "build_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": peak_rss_mb(),
    }
    write_json(styles.card_path(name), card)
    report(f"{name}: runs {runs} ({why}); INT8 {fidelity['psnr_db']} dB vs float; "
           + ", ".join(f"{s}: int8 {v['int8']} ms / fp32 {v['fp32']} ms" for s, v in latency.items())
           + f"; built in {card['build_s']} s ({calibration_section['from']}), "
             f"peak RSS {card['peak_rss_mb']} MB")
    return card


def _compile(model: ov.Model, hint: str | None) -> ov.CompiledModel:
    return ov.Core().compile_model(model, "CPU", cpu_config(hint))
