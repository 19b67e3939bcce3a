"""``booth eval WHAT``: the quality reports, one sub-command each (each module in
:mod:`booth.measure` that makes one adds its own sub-parser, whose defaults set
``evaluate`` to its run function)."""

from __future__ import annotations

import argparse

from booth.measure.faces import add_faces_parser
from booth.measure.int8_report import add_parser as add_arm_parser
from booth.measure.policy import add_policy_parser
from booth.measure.style_faces import add_styles_parser
from booth.measure.styles import add_fidelity_parser
from booth.measure.upscale import add_upscale_parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    add_faces_parser(sub)
    add_policy_parser(sub)
    add_upscale_parser(sub)
    add_fidelity_parser(sub)
    add_arm_parser(sub)
    add_styles_parser(sub)


def run(args: argparse.Namespace) -> int:
    return args.evaluate(args)
