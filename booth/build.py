"""``booth weights fetch|build``: from the published generator to the INT8 IR the booth runs.

``build`` writes into the weights folder:

1. ``generator_fp32.xml`` — the float network (see :mod:`booth.graph`);
2. ``generator_asis.xml`` — the TFLite file's own quantization, upsampling rewritten;
3. ``generator_int8.xml`` — our INT8 model: NNCF post-training quantization of the float
   network, calibrated on booth-like crops of real photos at the working sizes
   (:mod:`booth.quantize`). If it loses to the as-is graph on fidelity *and* speed, the
   as-is graph is kept instead and the model card says so;
4. ``generator_card.json`` — the model card: source sha256, calibration set, fidelity
   and speed figures, date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

from booth import PROJECT_ROOT, weights

#: Bumped when the build recipe changes, so `--if-needed` rebuilds old outputs.
RECIPE_VERSION = 5  # 5: zero-centred convolution inputs on arm64 (4: layer norm inputs, x86-64)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    fetch = sub.add_parser("fetch", help="download (or copy from a mirror) and verify model files")
    fetch.add_argument("--mirror", metavar="DIR", default=None,
                       help=f"folder with the model files (default: ${weights.MIRROR_ENV}, "
                            "else download from the upstream URLs)")
    build = sub.add_parser("build", help="build the OpenVINO IR (float, as-is and INT8)")
    build.add_argument("--calibration", metavar="DIR", default=None,
                       help="folder of photos (people) to calibrate INT8 on (default: "
                            "$BOOTH_CALIBRATION_DIR, else the shared dev photo set if present)")
    build.add_argument("--if-needed", action="store_true",
                       help="do nothing when the outputs are up to date")
    build.add_argument("--samples", type=int, default=48,
                       help="calibration crops (default 48)")


def run(args: argparse.Namespace) -> int:
    if args.action == "fetch":
        weights.fetch(args.mirror)
        return 0
    return build(calibration=args.calibration, if_needed=args.if_needed, samples=args.samples)


def default_calibration_dir() -> str | None:
    """Photos to calibrate on when none are given: $BOOTH_CALIBRATION_DIR, else the
    developers' shared photo set ($BOOTH_PHOTOS, or ../shared/photos beside the project)."""
    for candidate in (os.environ.get("BOOTH_CALIBRATION_DIR"), os.environ.get("BOOTH_PHOTOS"),
                      str(PROJECT_ROOT.parent / "shared" / "photos")):
        if candidate and Path(candidate).is_dir():
            return candidate
    return None


def _card_path() -> Path:
    return weights.WEIGHTS_DIR / weights.MODEL_CARD


def up_to_date() -> bool:
    """True when the card matches the source checksum, recipe and INT8 target and every
    IR exists."""
    from booth.quantize import int8_target

    try:
        card = json.loads(_card_path().read_text())
    except (OSError, ValueError):
        return False
    source = weights.manifest()["generator"]
    if card.get("int8", {}).get("why") == "no calibration photos given" and default_calibration_dir():
        return False  # photos are here now: build the better INT8
    return (card.get("source_sha256") == source.sha256
            and card.get("recipe_version") == RECIPE_VERSION
            and card.get("int8", {}).get("target") in (None, int8_target())
            and all((weights.WEIGHTS_DIR / name).is_file() for name in weights.GENERATOR_IR.values()))


def _save(model, name: str) -> Path:
    """Save an IR atomically: write under a temporary name, then rename .bin then .xml."""
    import openvino as ov

    out = weights.WEIGHTS_DIR / name
    tmp = out.with_name(f".{out.stem}.tmp.xml")
    ov.save_model(model, tmp, compress_to_fp16=False)
    for suffix in (".bin", ".xml"):
        src = tmp.with_suffix(suffix)
        with open(src, "rb") as f:
            os.fsync(f.fileno())
        os.replace(src, out.with_suffix(suffix))
    return out


def _say(message: str) -> None:
    print(message, flush=True)


def build(calibration: str | None = None, if_needed: bool = False, samples: int = 48) -> int:
    from booth import graph

    if if_needed and up_to_date():
        _say("generator IR up to date (delete weights/generator_card.json to force a rebuild)")
        return 0
    source = weights.model_path("generator")
    started = time.perf_counter()
    _say("[1/4] float network: removing FakeQuantize, fusing layer norms, any-size upsampling")
    float_model, float_counts = graph.float_network(source)
    _save(float_model, weights.GENERATOR_IR["fp32"])
    _say(f"      {float_counts}")
    _say("[2/4] as-is network: the TFLite quantization, upsampling rewritten")
    asis_model, _ = graph.asis_network(source)
    _save(asis_model, weights.GENERATOR_IR["asis"])

    calibration = calibration or default_calibration_dir()
    card: dict = {
        "model": "AnimeGANv2 Hayao generator",
        "source": source.name,
        "source_sha256": weights.sha256_of(source),
        "recipe_version": RECIPE_VERSION,
        "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "graph_rewrites": float_counts,
    }
    if calibration is None:
        _say("[3/4] WARNING: no calibration photos (--calibration DIR or BOOTH_CALIBRATION_DIR, "
             "a folder of a few dozen photos of people): keeping the TFLite file's own INT8 "
             "quantization, which is slower and less faithful; rebuild with photos for the best booth")
        _copy_ir("asis", "int8")
        card["int8"] = {"chosen": "tflite-asis", "why": "no calibration photos given"}
    else:
        from booth import quantize

        _say(f"[3/4] INT8: NNCF post-training quantization, calibrated on {calibration}")
        card["int8"] = quantize.build_int8(float_model, Path(calibration), samples=samples,
                                           report=_say)
    _say("[4/4] model card")
    tmp = _card_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, _card_path())
    _say(f"built in {time.perf_counter() - started:.0f} s: "
         f"{weights.WEIGHTS_DIR / weights.GENERATOR_IR['int8']}")
    return 0


def _copy_ir(src_variant: str, dst_variant: str) -> None:
    src = weights.WEIGHTS_DIR / weights.GENERATOR_IR[src_variant]
    dst = weights.WEIGHTS_DIR / weights.GENERATOR_IR[dst_variant]
    for suffix in (".bin", ".xml"):
        tmp = dst.with_name(f".{dst.stem}.copy{suffix}")
        shutil.copyfile(src.with_suffix(suffix), tmp)
        os.replace(tmp, dst.with_suffix(suffix))
