"""``booth config check [PATH]``: validate a config file without starting anything."""

from __future__ import annotations

import argparse

from booth import config
from booth.devices.printing import load_overlay


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="validate a config file (default: config.toml)")
    check.add_argument("path", nargs="?", default=None)


def run(args: argparse.Namespace) -> int:
    settings = config.load(args.path)  # raises ConfigError: one line, exit 2
    if settings.print.overlay:
        load_overlay(settings)  # the file itself, as the booth checks it at start
    print(f"{args.path or config.DEFAULT_CONFIG_PATH}: ok "
          f"(data dir {settings.data_dir}, web port {settings.web.port})")
    return 0
