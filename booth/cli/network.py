"""``booth network apply``: make the booth's own Wi-Fi hotspot from ``[network]``
(:mod:`booth.devices.network`)."""

from __future__ import annotations

import argparse

from booth import config
from booth.devices.network import INSTALLED_CONFIG, apply


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    apply_parser = sub.add_parser("apply", help="create the hotspot [network] describes (or remove it); needs root")
    apply_parser.add_argument("--config", metavar="PATH",
                       help=f"config file (default: {INSTALLED_CONFIG} if it exists, else config.toml)")
    apply_parser.add_argument("--dry-run", action="store_true", help="print every change, make none")


def run(args: argparse.Namespace) -> int:
    path = args.config or (INSTALLED_CONFIG if INSTALLED_CONFIG.is_file() else None)
    return apply(config.load(path), dry_run=args.dry_run)
