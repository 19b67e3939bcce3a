"""``booth print-layout``: render a photo's print page to a file, without printing
(:mod:`booth.devices.printing`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from booth import config
from booth.devices.printing import write_layout
from booth.errors import UserError

#: The page formats ``--out`` may name.
PAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO",
                        help="a photo id from the store (see the admin page), or an image file")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="where to write the page: .png, .jpg or .pdf")
    parser.add_argument("--config", metavar="PATH", help="config file (default: config.toml)")
    parser.add_argument("--data-dir", metavar="DIR", help="photos (default: [booth] data_dir)")


def run(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    if args.data_dir:
        os.environ["BOOTH_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    out = Path(args.out)
    if out.suffix.lower() not in PAGE_SUFFIXES:
        raise UserError(f"--out {out}: the file must end in .png, .jpg or .pdf")
    return write_layout(settings, args.photo, out)
