"""``booth weights fetch|build``: from the published generator to the INT8 IR the booth runs.

``build`` writes into the weights folder:

1. ``generator_fp32.xml`` — the float network (see :mod:`booth.model.graph`);
2. ``generator_asis.xml`` — the TFLite file's own quantization, upsampling rewritten;
3. ``generator_int8.xml`` — our INT8 model: NNCF post-training quantization of the float
   network (:mod:`booth.model.quantize`) with the activation ranges shipped in
   ``weights/int8_ranges.json`` (found by calibrating on booth-like crops of real photos
   at the working sizes), or calibrated afresh on a folder of photos given with
   ``--calibration``. If it loses to the as-is graph on fidelity *and* speed, the as-is
   graph is kept instead and the model card says so;
4. the precision the booth runs with ``[generator] precision = "auto"``: int8, f16 and
   f32 timed on this machine at the working sizes, the fastest whose picture stays
   within :data:`AUTO_MIN_PSNR_DB` of the float network;
5. ``generator_card.json`` — the model card: source sha256, calibration, fidelity and
   speed figures, the precision choice, the build's own time and peak memory, date.

``calibrate DIR --out FILE`` runs NNCF's statistics pass on your own photos and writes
a new ranges file.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

from booth.config import defaults
from booth.errors import UserError
from booth.files import write_json
from booth.measure.quality import fidelity, psnr
from booth.measure.timing import median_ms
from booth.model import graph, irfile, quantize, weights
from booth.model.quantize import int8_target
from booth.vision.generator import Generator, working_shape

#: Bumped when the build recipe changes, so `--if-needed` rebuilds old outputs.
RECIPE_VERSION = 6  # 6: zero-centred convolution and layer norm inputs on arm64
# (5: no bias correction, ranges from a file, precision chosen by measurement)
#: The arm64 graph's recipe moves on its own, so x86-64 builds are not redone for it
#: (7: 3x3 stride-1 kernels widened to 3x4).
ARM64_RECIPE_VERSION = 7


def recipe_version(target: str) -> int:
    """The recipe version a build for the INT8 ``target`` has now."""
    return ARM64_RECIPE_VERSION if target == "arm64" else RECIPE_VERSION

#: The least fidelity (PSNR against the float network) a precision needs to be chosen.
AUTO_MIN_PSNR_DB = 30.0


def default_calibration_dir() -> str | None:
    """Photos to calibrate on when none are given: $BOOTH_CALIBRATION_DIR, else none (the
    build then uses the shipped ranges, which give the same graph)."""
    folder = os.environ.get("BOOTH_CALIBRATION_DIR")
    return folder if folder and Path(folder).is_dir() else None


def photos_to_calibrate_on(given: str | None = None) -> str | None:
    """Photos a network without shipped ranges (the styles, the mirror) is calibrated on:
    the folder given, else $BOOTH_CALIBRATION_DIR, else the demo portraits the install
    fetched (two photos: a thin calibration, which the INT8-or-float fidelity check
    judges), else none."""
    folder = given or default_calibration_dir()
    if folder is None and weights.demo_photos():
        folder = str(weights.demo_photos()[0].parent)
    return folder


def calibrate(folder: Path, out: Path, samples: int = 48) -> int:
    """`booth weights calibrate`: NNCF's statistics pass on ``folder``, ranges to ``out``,
    with the calibrated graph's fidelity on the held-out crops recorded in the file."""
    if not folder.is_dir():
        raise UserError(f"calibrate {folder}: not a folder of photos")
    if samples < 3:
        raise UserError(f"--samples {samples}: calibrate on at least 3 crops (48 is the default)")
    _say(f"calibrating INT8 on {folder} (NNCF statistics pass; a few minutes)")
    float_model, _ = graph.float_network(weights.model_path("generator"))
    raw, ranges, held_out = quantize.calibrate(float_model, folder, samples=samples, report=_say)
    reference, _ = quantize.pictures(float_model, held_out, "f32")
    # The photo-calibrated graph for each target, measured here: what a build from
    # this file must reproduce.
    ranges["fidelity_vs_fp32_held_out"] = {}
    for target in quantize.INT8_TARGETS:
        ours, _ = quantize.pictures(quantize.for_target(raw.clone(), target), held_out)
        fid = ranges["fidelity_vs_fp32_held_out"][target] = fidelity(ours, reference)
        _say(f"      {target} graph: {fid['psnr_db']} dB, SSIM {fid['ssim']} on the held-out crops")
    quantize.write_ranges(ranges, out)
    use = "" if out.resolve() == weights.RANGES_PATH.resolve() else f" --ranges {out}"
    _say(f"wrote {out} ({out.stat().st_size // 1024} kB); build with it: booth weights build{use}")
    return 0


def _card_path() -> Path:
    return weights.WEIGHTS_DIR / weights.MODEL_CARD


def up_to_date(calibration: str | None = None) -> bool:
    """True when the card matches the source checksum, recipe, INT8 target and
    calibration folder (if one is given) and every IR exists."""
    try:
        card = json.loads(_card_path().read_text())
    except (OSError, ValueError):
        return False
    source = weights.manifest()["generator"]
    if calibration and card.get("int8", {}).get("calibration", {}).get("folder") != str(calibration):
        return False  # photos given now that the graph was not calibrated on
    return (card.get("source_sha256") == source.sha256
            and card.get("recipe_version") == recipe_version(int8_target())
            and card.get("int8", {}).get("target") in (None, int8_target())
            and all((weights.WEIGHTS_DIR / name).is_file() for name in weights.GENERATOR_IR.values()))


def _say(message: str) -> None:
    print(message, flush=True)


def build(calibration: str | None = None, if_needed: bool = False, samples: int = 48,
          ranges: Path | None = None) -> int:
    calibration = calibration or default_calibration_dir()
    if if_needed and up_to_date(calibration):
        _say("generator IR up to date (delete weights/generator_card.json to force a rebuild)")
        return 0
    source = weights.model_path("generator")
    started = time.perf_counter()
    _say("[1/5] float network: removing FakeQuantize, fusing layer norms, any-size upsampling")
    float_model, float_counts = graph.float_network(source)
    irfile.save_ir(float_model, weights.WEIGHTS_DIR / weights.GENERATOR_IR["fp32"])
    _say(f"      {float_counts}")
    _say("[2/5] as-is network: the TFLite quantization, upsampling rewritten")
    asis_model, _ = graph.asis_network(source)
    irfile.save_ir(asis_model, weights.WEIGHTS_DIR / weights.GENERATOR_IR["asis"])

    card: dict = {
        "model": "AnimeGANv2 Hayao generator",
        "source": source.name,
        "source_sha256": weights.sha256_of(source),
        "recipe_version": recipe_version(quantize.int8_target()),
        "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "graph_rewrites": float_counts,
    }
    ranges = ranges or weights.RANGES_PATH
    if calibration is not None:
        _say(f"[3/5] INT8: NNCF post-training quantization, calibrated on {calibration}")
    else:
        _say(f"[3/5] INT8: NNCF quantizers with the calibrated ranges from {ranges.name}")
    card["int8"], eval_inputs = quantize.build_int8(
        float_model, Path(calibration) if calibration else None, ranges_path=ranges,
        samples=samples, report=_say)
    del float_model, asis_model
    _say("[4/5] precision for \"auto\": timing int8, f16 and f32 at the working sizes")
    card["precision"] = choose_precision(eval_inputs, report=_say)
    _say("[5/5] model card")
    card["build"] = {"seconds": round(time.perf_counter() - started, 1),
                     "peak_rss_mb": peak_rss_mb(),
                     "calibration": "photos (NNCF statistics pass)" if calibration else "ranges file"}
    write_json(_card_path(), card)
    _say(f"built in {card['build']['seconds']:.0f} s, peak RSS {card['build']['peak_rss_mb']} MB: "
         f"{weights.WEIGHTS_DIR / weights.GENERATOR_IR['int8']}; auto runs {card['precision']['chosen']}")
    return 0


def peak_rss_mb() -> int:
    """This process's peak resident memory so far, in MB."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # kB on Linux


def choose_precision(eval_inputs: list, repeats: int = 3,
                     report=_say) -> dict:
    """Time int8, f16 and f32 as the booth runs them (pixel conversions inside, working
    sizes, configured threads) and pick the fastest whose PSNR against the float
    network is at least :data:`AUTO_MIN_PSNR_DB`. f32 is the float network itself, so
    there is always a choice."""
    settings = defaults()
    shapes = [working_shape(s, settings.face.aspect) for s in settings.generator.sizes]
    pictures = [np.clip(np.round((x[0] + 1.0) * 127.5), 0, 255).astype(np.uint8) for x in eval_inputs]
    outputs: dict[str, list] = {}
    candidates: dict[str, dict] = {}
    for precision in ("f32", "f16", "int8"):
        gen = Generator(precision=precision, threads=settings.generator.threads)
        timings = {}
        for h, w in shapes:
            rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
            timings[f"{h}x{w}"] = round(median_ms(functools.partial(gen.stylize, rgb), repeats, warmup=1), 1)
        outputs[precision] = [gen.stylize(p) for p in pictures]
        psnrs = [psnr(ref, out) for ref, out in zip(outputs["f32"], outputs[precision])]
        candidates[precision] = {"runs_in": gen.inference_precision, "ms": timings,
                                 "total_ms": round(sum(timings.values()), 1),
                                 "psnr_db": round(float(np.mean(psnrs)), 2) if psnrs else None}
        report(f"      {precision} (runs in {gen.inference_precision}): "
               + ", ".join(f"{k} {v:.0f} ms" for k, v in timings.items())
               + (f"; {candidates[precision]['psnr_db']} dB vs f32" if psnrs and precision != "f32" else ""))
        del gen  # one compiled generator at a time
        quantize.release_memory()
    candidates["f32"]["psnr_db"] = None  # the reference itself
    eligible = [p for p, c in candidates.items()
                if p == "f32" or (c["psnr_db"] is not None and c["psnr_db"] >= AUTO_MIN_PSNR_DB)]
    chosen = min(eligible, key=lambda p: candidates[p]["total_ms"])
    others = ", ".join(f"{p} {candidates[p]['total_ms']:.0f} ms" for p in candidates if p != chosen)
    why = (f"fastest here at the working sizes ({candidates[chosen]['total_ms']:.0f} ms in all; "
           f"{others}) with at least {AUTO_MIN_PSNR_DB:.0f} dB against the float network")
    if not pictures:
        why += "; int8 and f16 fidelity not measured (no demo photos), so only f32 was eligible"
    report(f"      auto: {chosen} — {why}")
    return {"chosen": chosen, "why": why, "min_psnr_db": AUTO_MIN_PSNR_DB,
            "measured_on": f"{len(pictures)} crops", "candidates": candidates,
            "machine_note": "timed during the build (median of "
                            f"{repeats}); other load on the machine changes the figures"}
