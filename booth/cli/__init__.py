"""The ``booth`` command: one sub-command per job, each implemented in its own module.

Every sub-command turns the problems a user can cause (a bad file, a missing model,
a wrong config key) into one clear line on stderr and a non-zero exit status,
never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from booth.errors import USER_ERRORS

# Sub-commands register here: name -> (module, "add_arguments", "run").
# Modules are imported only when their command runs, so `booth --help` stays instant
# and a dev machine never imports picamera2 or the bench-only packages.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("booth.cli.run", "Start the booth: camera, button, pipeline, kiosk and gallery."),
    "stylize": ("booth.cli.stylize", "Turn photos into anime portraits (files in, files out)."),
    "bench": ("booth.measure.bench", "Benchmark the generator against other runtimes."),
    "eval": ("booth.cli.eval", "Measure quality: `booth eval faces` (face survival), `booth eval policy`, "
             "`booth eval upscale` (the full-resolution result)."),
    "weights": ("booth.model.build", "Fetch the model files (`fetch`) and build the INT8 IR (`build`)."),
    "styles": ("booth.model.style_build", "Fetch (`fetch`), build (`build`) and list (`list`) the styles guests choose from."),
    "config": ("booth.cli.config", "Check a config file (`booth config check [PATH]`)."),
    "doctor": ("booth.cli.doctor", "Check camera, GPIO, models, disk and network; say how to fix."),
    "network": ("booth.devices.network", "Make the booth's own Wi-Fi hotspot from [network] (`booth network apply`)."),
    "print-layout": ("booth.devices.printing", "Render a photo's print page to a file, without printing."),
}


def _import(module_name: str):
    import importlib

    return importlib.import_module(module_name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="booth", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        try:
            module = _import(module_name)
        except ImportError as exc:  # a package missing (say openvino): the other commands still work
            p.set_defaults(_import_error=str(exc))
            continue
        module.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_import_error", None):
        print(f"booth {args.command}: unavailable ({args._import_error})", file=sys.stderr)
        return 2
    run: Callable[[argparse.Namespace], int] = _import(args._module).run
    try:
        return int(run(args) or 0)
    except USER_ERRORS as exc:
        print(f"booth {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
