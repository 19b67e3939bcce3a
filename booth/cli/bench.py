"""``booth bench``: benchmark the generator against other runtimes, the live mirror
(``--mirror``), strips and boomerangs (``--modes``) or the styles (``--styles``)
(:mod:`booth.measure.bench`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from booth.cli.eval import add_check_argument
from booth.errors import UserError
from booth.measure.bench import BenchOptions
from booth.measure.bench import run as run_bench
from booth.vision.generator import PRECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (median; default 5)")
    parser.add_argument("--threads", type=int, default=0, help="threads for every runtime (0 = all cores)")
    parser.add_argument("--photos", metavar="DIR", default=None,
                        help="photo set with faces/ and groups/ (default: the public set in weights/photos/)")
    parser.add_argument("--precisions", default="int8,f16,f32",
                        help="generator precision settings to compare (default int8,f16,f32)")
    parser.add_argument("--mirror", action="store_true",
                        help="only the live anime mirror: ms/frame and frames/s at 256/320/480 "
                             "for 1 and 2 threads, CPU share, and its flicker on a still scene")
    parser.add_argument("--modes", action="store_true",
                        help="photo strips and boomerangs on the real booth: ready after the last "
                             "shot / the burst, memory, and one boomerang frame's cost")
    parser.add_argument("--cycles", type=int, default=0, metavar="N",
                        help="with --mirror: also N photo cycles with the mirror on and N off "
                             "(press-to-result, same photos); with --modes: N strips and N "
                             "boomerangs (default 3)")
    parser.add_argument("--styles", action="store_true",
                        help="per style: INT8 and float latency at 384/512, INT8 vs float fidelity, "
                             "RSS with every style loaded and with [styles] max_loaded, cold first use")
    add_check_argument(parser)
    parser.add_argument("--quick", action="store_true",
                        help="only the OpenVINO rows (no reference runtimes, fidelity, start-up or RSS)")


def run(args: argparse.Namespace) -> int:
    precisions = tuple(p.strip() for p in args.precisions.split(",") if p.strip())
    for p in precisions:
        if p not in PRECISIONS:
            raise UserError(f"--precisions: unknown precision {p!r} (use {', '.join(PRECISIONS)})")
    return run_bench(BenchOptions(
        json=Path(args.json) if args.json else None, repeats=args.repeats, threads=args.threads,
        photos=args.photos, precisions=precisions, mirror=args.mirror, modes=args.modes,
        cycles=args.cycles, styles=args.styles, check=args.check, quick=args.quick))
