"""``booth eval WHAT``: the quality reports, one sub-command each. Each report's
arguments are parsed here, and handed as typed parameters to the module of
:mod:`booth.measure` that makes it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Sequence

from booth import PROJECT_ROOT
from booth.measure import faces, int8_report, policy, style_faces, upscale
from booth.measure import styles as style_fidelity


def add_photo_arguments(parser: argparse.ArgumentParser, default: Sequence[str]) -> None:
    """Folders of photos (``DIR...``), else ``--photos SET``'s sub-folders ``default``."""
    folders = " ".join(f"{d}/" for d in default)
    parser.add_argument("dirs", nargs="*", metavar="DIR",
                        help=f"folders of photos (default: the photo set's {folders})")
    parser.add_argument("--photos", metavar="SET", default=None,
                        help="a photo set: a folder with faces/ groups/ scenes/ (and hires/) "
                             "(default: the public set in weights/photos/)")


def add_report_arguments(parser: argparse.ArgumentParser, json_help: str) -> None:
    """``--json FILE`` (what is written there: ``json_help``) and ``--config FILE``."""
    parser.add_argument("--json", metavar="FILE", help=json_help)
    parser.add_argument("--config", metavar="FILE", help="booth config file (default: config.toml)")


def add_check_argument(parser: argparse.ArgumentParser) -> None:
    """``--check``: a missed target is the command's failure (CI runs the evals so)."""
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 when a target is not met (for CI)")


def json_path(args: argparse.Namespace) -> Path | None:
    """Where ``--json`` asks the report to be written (None: nowhere)."""
    return Path(args.json) if args.json else None


def add_faces(p: argparse.ArgumentParser) -> None:
    add_photo_arguments(p, faces.FOLDERS)
    add_report_arguments(p, "also write per-image records + summary here")
    p.add_argument("--size", type=int, help="fixed generator size (default: the policy's choice)")
    p.add_argument("--mode", choices=("portrait", "hd"), help="override [face] mode")
    p.add_argument("--style", metavar="NAME", default=None,
                   help="stylize in this style (see `booth styles list`; default: [styles] default). "
                        "For the face style (jpface) NME is reported, not targeted: the face is meant to change")
    p.add_argument("--labels", metavar="FILE", default=None,
                   help=f"hand labels of the scenes (default: {faces.DEFAULT_LABELS.relative_to(PROJECT_ROOT)})")
    add_check_argument(p)


def run_faces(args: argparse.Namespace) -> int:
    return faces.run_faces(args.dirs, photos=args.photos, config_file=args.config, json_path=json_path(args),
                           size=args.size, mode=args.mode, style=args.style, labels_file=args.labels,
                           check=args.check)


def add_policy(p: argparse.ArgumentParser) -> None:
    add_photo_arguments(p, policy.FOLDERS)
    add_report_arguments(p, "write per-image records + summary here")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per size (median)")
    add_check_argument(p)


def run_policy(args: argparse.Namespace) -> int:
    return policy.run_policy(args.dirs, photos=args.photos, config_file=args.config, json_path=json_path(args),
                             repeats=args.repeats, check=args.check)


def add_upscale(p: argparse.ArgumentParser) -> None:
    add_photo_arguments(p, upscale.FOLDERS)
    add_report_arguments(p, "also write per-image records + summary here")
    p.add_argument("--no-cost", action="store_true", help="skip the 12 MP cost measurement")
    add_check_argument(p)


def run_upscale(args: argparse.Namespace) -> int:
    return upscale.run_upscale(args.dirs, photos=args.photos, config_file=args.config,
                               json_path=json_path(args), cost=not args.no_cost, check=args.check)


def add_fidelity(p: argparse.ArgumentParser) -> None:
    add_photo_arguments(p, style_fidelity.FOLDERS)
    p.add_argument("--json", metavar="FILE", help="also write the figures here")
    add_check_argument(p)


def run_fidelity(args: argparse.Namespace) -> int:
    return style_fidelity.run_fidelity(args.dirs, photos=args.photos, json_path=json_path(args),
                                       check=args.check)


def add_arm(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ir", type=Path, help="INT8 IR (default: weights/generator_int8.xml)")
    p.add_argument("--size", type=int, default=384, help="long side the MACs are counted at")
    p.add_argument("--runtime", nargs="*", default=None, metavar="JSON",
                   help="runtime-graph dumps (scripts/arm64_stylize.py); "
                        "default: compile here and use this CPU")
    p.add_argument("--json", metavar="FILE", help="also write the facts and precisions here")


def run_arm(args: argparse.Namespace) -> int:
    return int8_report.run(args.ir, size=args.size, runtime=args.runtime, json_path=json_path(args))


def add_styles(p: argparse.ArgumentParser) -> None:
    add_photo_arguments(p, style_faces.FOLDERS)
    p.add_argument("--styles", metavar="NAMES", default="all",
                   help='"all" (default) or a comma-separated list of styles')
    p.add_argument("--old", action="store_true",
                   help=f"also measure {style_faces.WHOLE_CROP}: JP face on the whole portrait crop")
    add_report_arguments(p, "also write per-face records + summary here")
    add_check_argument(p)


def run_styles(args: argparse.Namespace) -> int:
    return style_faces.run_styles(args.dirs, photos=args.photos, config_file=args.config,
                                  json_path=json_path(args), styles=args.styles, old=args.old,
                                  check=args.check)


def paragraph(doc: str | None, index: int) -> str:
    """The ``index``-th paragraph of a report module's docstring (its sub-command's description)."""
    return (doc or "").split("\n\n")[index]


#: Each report: name -> (its one-line help, its description, what adds its arguments,
#: what runs it).
REPORTS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None],
                         Callable[[argparse.Namespace], int]]] = {
    "faces": ("face survival: detection, matching and NME on photos", paragraph(faces.__doc__, 1),
              add_faces, run_faces),
    "policy": ("what the 384–512 size policy saves and costs", (policy.__doc__ or "").splitlines()[0],
               add_policy, run_policy),
    "upscale": ("the full-resolution result: fidelity, sharpness, faces, cost", paragraph(upscale.__doc__, 0),
                add_upscale, run_upscale),
    "fidelity": ("each built style as the booth runs it against its float network",
                 paragraph(style_fidelity.__doc__, 1), add_fidelity, run_fidelity),
    "arm": ("which convolutions of the INT8 graph run in int8 (this CPU, or emulated Pi cores' dumps), "
            "and their quantization", paragraph(int8_report.__doc__, 1), add_arm, run_arm),
    "styles": ("does every style draw the faces (found, eyes, mouth)?", paragraph(style_faces.__doc__, 0),
               add_styles, run_styles),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    for name, (summary, description, add, evaluate) in REPORTS.items():
        report = sub.add_parser(name, help=summary, description=description)
        add(report)
        report.set_defaults(evaluate=evaluate)


def run(args: argparse.Namespace) -> int:
    return args.evaluate(args)
