"""``booth voice render``: say the spoken countdown's numbers into WAV files with
espeak-ng (:mod:`booth.devices.voice`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from booth.devices.voice import VOICES_DIR, render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    render_cmd = sub.add_parser("render", help="say the countdown's numbers into WAV files (espeak-ng)")
    render_cmd.add_argument("--languages", nargs="+", default=["en"], metavar="LANG",
                            help="the languages to render (default: en)")
    render_cmd.add_argument("--out", type=Path, default=None, metavar="DIR",
                            help=f"folder for the files (default: weights/{VOICES_DIR.name}/ in the checkout)")


def run(args: argparse.Namespace) -> int:
    written = render(args.languages, args.out)
    folder = args.out or VOICES_DIR
    print(f"voice: {', '.join(args.languages)} in {folder}: "
          + (f"{written} file(s) rendered" if written else "up to date"))
    return 0
