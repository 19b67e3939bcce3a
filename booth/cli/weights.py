"""``booth weights``: fetch the model files (``fetch``), build the generator's IR
(``build``, :mod:`booth.model.build`) and calibrate its INT8 on your own photos
(``calibrate``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from booth.model import weights
from booth.model.build import build, calibrate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    fetch = sub.add_parser("fetch", help="download (or copy from a mirror) and verify model files")
    fetch.add_argument("--mirror", metavar="DIR", default=None,
                       help=f"folder with the model files (default: ${weights.MIRROR_ENV}, "
                            "else download from the upstream URLs)")
    fetch.add_argument("--photos", action="store_true",
                       help="also the public test photos (weights/photos/: what the tests and "
                            "`booth eval` measure on)")
    build = sub.add_parser("build", help="build the OpenVINO IR (float, as-is and INT8)")
    build.add_argument("--calibration", metavar="DIR", default=None,
                       help="folder of photos (people) to calibrate INT8 on (default: "
                            "$BOOTH_CALIBRATION_DIR, else the ranges shipped in "
                            "weights/int8_ranges.json)")
    build.add_argument("--ranges", metavar="FILE", default=None,
                       help="INT8 ranges file to build from (default: weights/int8_ranges.json)")
    build.add_argument("--if-needed", action="store_true",
                       help="do nothing when the outputs are up to date")
    build.add_argument("--samples", type=int, default=48,
                       help="calibration crops (default 48)")
    calibrate = sub.add_parser("calibrate", help="calibrate INT8 on your own photos and write "
                                                 "a ranges file for `build`")
    calibrate.add_argument("folder", metavar="DIR", help="folder of photos (people, groups, scenes)")
    calibrate.add_argument("--out", metavar="FILE", default=str(weights.RANGES_PATH),
                           help="ranges file to write (default: weights/int8_ranges.json)")
    calibrate.add_argument("--samples", type=int, default=48, help="calibration crops (default 48)")


def run(args: argparse.Namespace) -> int:
    if args.action == "fetch":
        weights.fetch(args.mirror, photos=args.photos)
        return 0
    if args.action == "calibrate":
        return calibrate(Path(args.folder), Path(args.out), samples=args.samples)
    return build(calibration=args.calibration, if_needed=args.if_needed, samples=args.samples,
                 ranges=Path(args.ranges) if args.ranges else None)
