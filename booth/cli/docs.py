"""``booth docs``: write the docs site's generated pages from the code, so a new config
key or command option appears by re-running one command, never by typing it twice.

Generated from the code: the configuration reference (``booth/config.py``: every
section's dataclass, each key's default and its ``#:`` comment), the commands
(the argparse parser ``booth --help`` builds), the rooms of the architecture page (each
module's docstring) and the wiring diagram (the button's default pins). Each generated
page keeps the hand-written text above its marker line and rewrites what follows it.
``--check`` writes nothing and fails when a page is stale (a test runs it).
``--pictures`` also makes the pictures (the styles gallery, the performance charts, the
screens): slow, and they need the built models and the public photos.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any, Callable, get_type_hints

from booth import PROJECT_ROOT, config

DOCS = PROJECT_ROOT / "docs"
#: The line that ends a page's hand-written part; everything after it is generated.
MARKER = "<!-- Generated below by `booth docs` from the code: edit the code, then run `booth docs`. -->"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming every generated page that is stale")
    parser.add_argument("--pictures", action="store_true",
                        help="also make the pictures: styles gallery, performance charts, screens "
                             "(slow: runs the models on the public photos)")
    parser.add_argument("--docs-dir", type=Path, default=DOCS, help="the docs folder (default: %(default)s)")


# --- markdown helpers ------------------------------------------------------------------

def cell(text: str) -> str:
    """Text safe inside a Markdown table cell (one line, no column breaks, no raw HTML)."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def rst_to_markdown(text: str) -> str:
    """A docstring's reStructuredText roles and literals as Markdown code."""
    text = re.sub(r":[a-z]+:`~?\.?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


# --- the configuration reference -------------------------------------------------------

def toml_value(value: Any) -> str:
    """``value`` written as TOML writes it (1 and 1.0 differ, so do "1" and 1)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def field_comments(cls: type) -> dict[str, str]:
    """{field: its ``#:`` comment} for a dataclass of config.py. A field without its own
    comment shares the one above it (``retry_initial_s`` and ``retry_max_s``)."""
    source = Path(config.__file__).read_text(encoding="utf-8")
    lines = source.splitlines()
    (node,) = [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == cls.__name__]
    comments: dict[str, str] = {}
    previous = ""
    for item in node.body:
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
            continue
        above, number = [], item.lineno - 2
        while number >= 0 and lines[number].strip().startswith("#:"):
            above.insert(0, lines[number].strip()[2:].strip())
            number -= 1
        previous = " ".join(above) or previous
        comments[item.target.id] = previous
    return comments


def field_default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def configuration_reference() -> str:
    """Every section and key of booth/config.py with its default and comment."""
    out = []
    types = get_type_hints(config.Settings)
    for section in config.SECTIONS:
        cls = types[section]
        comments = field_comments(cls)
        out += [f"## [{section}]", "", "| key | default | what it does |", "|---|---|---|"]
        out += [f"| `{f.name}` | `{toml_value(field_default(f))}` | {cell(comments[f.name])} |"
                for f in dataclasses.fields(cls)]
        out.append("")
    return "\n".join(out)


# --- the commands ----------------------------------------------------------------------

def option_name(action: argparse.Action) -> str:
    """How an option is written on the command line: ``--out DIR``, ``IN [IN ...]``."""
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or (("{" + ",".join(map(str, action.choices)) + "}") if action.choices
                                 else (action.dest.upper() if action.option_strings else action.dest))
    metavar = " ".join(metavar) if isinstance(metavar, tuple) else str(metavar)
    shapes = {"?": f"[{metavar}]", "*": f"[{metavar} ...]", "+": f"{metavar} [{metavar} ...]"}
    written = shapes.get(action.nargs, metavar) if not isinstance(action.nargs, int) \
        else " ".join([metavar] * action.nargs)
    return ", ".join(f"{o} {written}" for o in action.option_strings) or written


def option_help(action: argparse.Action, prog: str) -> str:
    if not action.help:
        return ""
    try:
        return action.help % {**vars(action), "prog": prog}
    except (KeyError, TypeError, ValueError):
        return action.help


def subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """{name: (help, parser)} of a parser's sub-commands, in the order they were added."""
    out: dict[str, tuple[str, argparse.ArgumentParser]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            out.update({name: (helps.get(name, ""), sub) for name, sub in action.choices.items()})
    return out


def command_section(prog: str, about: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    out = ["#" * level + f" `{prog}`", ""]
    if about:
        out += [cell(rst_to_markdown(about)), ""]
    rows = [(option_name(a), option_help(a, prog)) for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
            and a.help != argparse.SUPPRESS]
    if rows:
        out += ["| option | what it does |", "|---|---|"]
        out += [f"| `{cell(name)}` | {cell(rst_to_markdown(text))} |" for name, text in rows]
        out.append("")
    for name, (help_text, sub) in subcommands(parser).items():
        out += command_section(f"{prog} {name}", help_text, sub, min(level + 1, 4))
    return out


def commands_reference() -> str:
    """Every ``booth`` command with its options, from the argparse parser itself."""
    from booth.cli import build_parser

    out: list[str] = []
    for name, (help_text, parser) in subcommands(build_parser()).items():
        unavailable = parser.get_default("command_unavailable")
        if unavailable:
            raise RuntimeError(f"booth {name} cannot be documented here: {unavailable}")
        out += command_section(f"booth {name}", help_text, parser, 2)
    return "\n".join(out)


# --- the rooms -------------------------------------------------------------------------

def first_paragraph(docstring: str | None) -> str:
    return rst_to_markdown(" ".join((docstring or "").split("\n\n")[0].split()))


def rooms_reference() -> str:
    """Every module of the booth package with the first paragraph of its docstring."""
    import booth

    rows = []
    root = Path(booth.__file__).parent
    for info in sorted(pkgutil.walk_packages([str(root)], "booth."), key=lambda i: i.name):
        path = root.joinpath(*info.name.split(".")[1:])
        path = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        shown = path.relative_to(root.parent).as_posix()
        name = f"**`{shown.removesuffix('/__init__.py')}/`**" if info.ispkg else f"`{shown}`"
        rows.append(f"| {name} | {cell(first_paragraph(doc))} |")
    return "\n".join(["| module | what it is (its docstring) |", "|---|---|", *rows, ""])


# --- the wiring diagram ----------------------------------------------------------------

#: BCM GPIO number -> physical pin of the 40-pin header.
HEADER_PINS = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29,
               6: 31, 13: 33, 19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22,
               8: 24, 7: 26, 1: 28, 12: 32, 16: 36, 20: 38, 21: 40}
GROUND_PINS = (6, 9, 14, 20, 25, 30, 34, 39)
#: The LED pin the wiring page suggests (the default is no LED).
SUGGESTED_LED_PIN = 18


def pin_label(physical: int) -> str:
    if physical in GROUND_PINS:
        return "GND"
    if physical in (1, 17):
        return "3V3"
    if physical in (2, 4):
        return "5V"
    bcm = {v: k for k, v in HEADER_PINS.items()}[physical]
    return f"GPIO{bcm}"


def nearest_ground(physical: int) -> int:
    return min(GROUND_PINS, key=lambda g: (abs(g - physical), g))


def wiring_svg() -> str:
    """The header, the button on ``[button] pin`` (default) and an optional LED, as SVG."""
    button = config.ButtonSettings()
    led_bcm = button.led_pin if button.led_pin >= 0 else SUGGESTED_LED_PIN
    button_pin, led_pin = HEADER_PINS[button.pin], HEADER_PINS[led_bcm]
    button_gnd, led_gnd = nearest_ground(button_pin), nearest_ground(led_pin)
    rows = max(button_pin, led_pin, button_gnd, led_gnd) // 2 + 2
    pitch, left, top = 26, 40, 50

    def pin_xy(physical: int) -> tuple[int, int]:
        return left + 100 + (0 if physical % 2 else pitch), top + ((physical - 1) // 2) * pitch

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{top + rows * pitch + 30}" '
             f'viewBox="0 0 760 {top + rows * pitch + 30}" font-family="sans-serif" font-size="13">',
             '<rect width="100%" height="100%" fill="#ffffff"/>',
             f'<text x="{left}" y="24" font-size="15" font-weight="bold">40-pin header, pins 1 to '
             f'{rows * 2} (BCM GPIO names; physical pin numbers in the circles)</text>',
             f'<rect x="{left + 88}" y="{top - 16}" width="{pitch + 24}" height="{rows * pitch + 6}" '
             'rx="6" fill="#1b5e20"/>']
    used = {button_pin: "#d32f2f", button_gnd: "#212121", led_pin: "#f9a825", led_gnd: "#212121"}
    for physical in range(1, rows * 2 + 1):
        x, y = pin_xy(physical)
        fill = used.get(physical, "#bdbdbd")
        parts.append(f'<circle cx="{x}" cy="{y}" r="10" fill="{fill}" stroke="#ffffff"/>')
        parts.append(f'<text x="{x}" y="{y + 4}" text-anchor="middle" font-size="9" '
                     f'fill="{"#000" if fill in ("#bdbdbd", "#f9a825") else "#fff"}">{physical}</text>')
        anchor, tx = ("end", x - 16) if physical % 2 else ("start", x + 16)
        if physical % 2:
            parts.append(f'<text x="{tx}" y="{y + 4}" text-anchor="{anchor}">{pin_label(physical)}</text>')
    right = left + 100 + pitch

    def wire(physical: int, y_to: int, x_to: int, colour: str, dash: str = "") -> str:
        x, y = pin_xy(physical)
        return (f'<polyline points="{x},{y} {right + 40 + (physical % 2) * 8},{y} '
                f'{right + 40 + (physical % 2) * 8},{y_to} {x_to},{y_to}" fill="none" stroke="{colour}" '
                f'stroke-width="3"{dash}/>')

    bx, by = 470, top + 10
    parts += [wire(button_pin, by, bx, "#d32f2f"), wire(button_gnd, by + 40, bx, "#212121"),
              f'<rect x="{bx}" y="{by - 20}" width="120" height="80" rx="40" fill="#e53935"/>',
              f'<text x="{bx + 60}" y="{by + 25}" text-anchor="middle" fill="#fff" font-weight="bold">'
              'big button</text>',
              f'<text x="{bx - 8}" y="{by - 5}" text-anchor="end">{pin_label(button_pin)} (pin {button_pin}) '
              '→ NO</text>',
              f'<text x="{bx - 8}" y="{by + 35}" text-anchor="end">GND (pin {button_gnd}) → COM</text>',
              f'<text x="{bx}" y="{by + 80}">[button] pin = {button.pin}, pull_up = '
              f'{toml_value(button.pull_up)}: no resistor</text>']
    ly = by + 150
    dash = "" if button.led_pin >= 0 else ' stroke-dasharray="8 5"'
    parts += [wire(led_pin, ly, 470, "#f9a825", dash), wire(led_gnd, ly + 40, 470, "#212121", dash),
              f'<rect x="470" y="{ly - 10}" width="50" height="20" fill="#fff" stroke="#000"/>',
              f'<text x="495" y="{ly + 4}" text-anchor="middle" font-size="11">330 Ω</text>',
              f'<line x1="520" y1="{ly}" x2="560" y2="{ly}" stroke="#f9a825" stroke-width="3"/>',
              f'<circle cx="575" cy="{ly + 20}" r="16" fill="#ffeb3b" stroke="#000"/>',
              f'<text x="575" y="{ly + 24}" text-anchor="middle" font-size="11">LED</text>',
              f'<text x="600" y="{ly + 4}">+ (long leg)</text>',
              f'<text x="600" y="{ly + 44}">− (short leg)</text>',
              f'<line x1="520" y1="{ly + 40}" x2="560" y2="{ly + 40}" stroke="#212121" stroke-width="3"/>',
              f'<text x="470" y="{ly + 70}">optional LED: [button] led_pin = {led_bcm} '
              f'(default {button.led_pin}: none)</text>',
              "</svg>", ""]
    return "\n".join(parts)


# --- the pages -------------------------------------------------------------------------

#: Generated page -> what writes its generated part.
GENERATED: dict[str, Callable[[], str]] = {
    "configuration.md": configuration_reference,
    "commands.md": commands_reference,
    "architecture.md": rooms_reference,
}
#: Generated files written whole.
GENERATED_WHOLE: dict[str, Callable[[], str]] = {
    "images/wiring.svg": wiring_svg,
}


def page_with(text: str, generated: str, page: str) -> str:
    """``text`` with everything after its marker line replaced by ``generated``."""
    if MARKER not in text:
        raise ValueError(f"docs/{page} has no marker line: {MARKER}")
    return text.split(MARKER, 1)[0] + MARKER + "\n\n" + generated.rstrip() + "\n"


def expected_files(docs: Path) -> dict[Path, str]:
    """Every generated file under ``docs`` with the text it should have now."""
    out = {docs / page: page_with((docs / page).read_text(encoding="utf-8"), make(), page)
           for page, make in GENERATED.items()}
    out.update({docs / name: make() for name, make in GENERATED_WHOLE.items()})
    return out


def stale_files(docs: Path) -> list[Path]:
    return [path for path, text in expected_files(docs).items()
            if not path.is_file() or path.read_text(encoding="utf-8") != text]


def run(args: argparse.Namespace) -> int:
    docs: Path = args.docs_dir
    if args.check:
        stale = stale_files(docs)
        for path in stale:
            print(f"stale: {path} (run: booth docs)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected_files(docs).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.pictures:
        from booth.cli import docs_pictures

        docs_pictures.make_all(docs)
    return 0
