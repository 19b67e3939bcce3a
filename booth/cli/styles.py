"""``booth styles``: fetch (``fetch``), build (``build``), calibrate (``calibrate``) and
list (``list``) the styles guests choose from (:mod:`booth.model.style_build`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from booth.model import weights
from booth.model.style_build import (DEFAULT_SAMPLES, build_styles, calibrate, describe,
                                     fetched_styles)
from booth.vision import styles


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
                       help="folder of photos to calibrate INT8 on (default: $BOOTH_CALIBRATION_DIR, "
                            "else the ranges shipped in weights/style_ranges/, else the demo photos)")
    build.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                       help=f"calibration crops per style (default {DEFAULT_SAMPLES})")
    build.add_argument("--sizes", default=None,
                       help="working sizes to calibrate and time, e.g. 384,512 (default: [generator] sizes)")
    calibrate = sub.add_parser("calibrate", help="calibrate each style's INT8 on your own photos and "
                                                 "write its ranges file for `build`")
    calibrate.add_argument("folder", metavar="DIR", help="folder of photos (people, groups, scenes)")
    calibrate.add_argument("names", nargs="*", metavar="NAME", help="styles (default: all fetched)")
    calibrate.add_argument("--out", metavar="DIR", default=None,
                           help="folder to write NAME.json into (default: weights/style_ranges)")
    calibrate.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                           help=f"calibration crops per style (default {DEFAULT_SAMPLES})")
    calibrate.add_argument("--sizes", default=None,
                           help="working sizes to calibrate at, e.g. 384,512 (default: [generator] sizes)")
    sub.add_parser("list", help="the styles, whether they are built, and what they run")


def run(args: argparse.Namespace) -> int:
    if args.action == "fetch":
        styles.fetch(args.names or None, args.mirror)
        return 0
    if args.action == "list":
        for line in describe():
            print(line)
        return 0
    sizes = parse_sizes(args.sizes) if args.sizes else None
    names = args.names or fetched_styles()
    if args.action == "calibrate":
        out = Path(args.out) if args.out else styles.RANGES_DIR
        for name in names:
            calibrate(name, Path(args.folder), out / f"{name}.json", samples=args.samples, sizes=sizes)
        return 0
    build_styles(names, calibration=args.calibration, samples=args.samples, sizes=sizes,
                 if_needed=args.if_needed)
    return 0


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise weights.WeightsError(f"--sizes {text!r}: give sizes like 384,512") from None
    if not sizes or any(s % 8 or not 128 <= s <= 1024 for s in sizes):
        raise weights.WeightsError(f"--sizes {text!r}: each must be a multiple of 8 in 128..1024")
    return sizes
