"""The ``booth`` command: one sub-command per job, each implemented in its own module.

Every sub-command turns the problems a user can cause (a bad file, a missing model,
a wrong config key) into one clear line on stderr and a non-zero exit status,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

from booth.errors import USER_ERRORS

# Sub-commands register here: name -> (module, help). Each module has
# ``add_arguments(parser)`` and ``run(args)``. The registry is the one lazy place: only
# the command that runs is imported (with everything it needs, at the top of its
# module), so `booth --help` stays instant and `booth config check` never loads OpenVINO.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("booth.cli.run", "Start the booth: camera, button, pipeline, kiosk and gallery."),
    "stylize": ("booth.cli.stylize", "Turn photos into anime portraits (files in, files out)."),
    "bench": ("booth.cli.bench", "Benchmark the generator against other runtimes."),
    "eval": ("booth.cli.eval", "Measure quality: `booth eval faces` (face survival), `booth eval policy`, "
             "`booth eval upscale` (the full-resolution result)."),
    "weights": ("booth.cli.weights", "Fetch the model files (`fetch`) and build the INT8 IR (`build`)."),
    "styles": ("booth.cli.styles", "Fetch (`fetch`), build (`build`) and list (`list`) the styles guests choose from."),
    "gallery": ("booth.cli.gallery", "A gallery-only node: every booth's photos from a shared rclone remote."),
    "config": ("booth.cli.config", "Check a config file (`booth config check [PATH]`)."),
    "doctor": ("booth.cli.doctor", "Check camera, GPIO, models, disk and network; say how to fix."),
    "network": ("booth.cli.network", "Make the booth's own Wi-Fi hotspot from [network] (`booth network apply`)."),
    "print-layout": ("booth.cli.print_layout", "Render a photo's print page to a file, without printing."),
    "voice": ("booth.cli.voice", "Render the spoken countdown's numbers with espeak-ng "
              "(`booth voice render --languages en de`)."),
    "export": ("booth.cli.export", "Export every photo to a checked zip; with --wipe, then delete them (the event ends)."),
    "docs": ("booth.cli.docs", "Write the docs site's generated pages (config reference, commands) from the code."),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``booth`` parser: with every command's options (``command`` None), or with
    only ``command``'s (the others listed by name and help, their modules not imported)."""
    parser = argparse.ArgumentParser(prog="booth", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(command_module=module_name)
        if command is not None and name != command:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # a package missing (say openvino): the other commands still work
            p.set_defaults(command_unavailable=str(exc))
            continue
        module.add_arguments(p)
    return parser


def command_in(argv: Sequence[str]) -> str:
    """The command named on the command line ("" when none is: ``booth --help``)."""
    return next((word for word in argv if not word.startswith("-")), "")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(command_in(argv)).parse_args(argv)
    if getattr(args, "command_unavailable", None):
        print(f"booth {args.command}: unavailable ({args.command_unavailable})", file=sys.stderr)
        return 2
    run: Callable[[argparse.Namespace], int] = importlib.import_module(args.command_module).run
    try:
        return int(run(args) or 0)
    except USER_ERRORS as exc:
        print(f"booth {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
