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
import os
import pkgutil
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, get_type_hints

from PIL import Image

from booth import PROJECT_ROOT, config
from booth.errors import UserError
from booth.measure import charts
from booth.measure.photos import photo_set, require_set
from booth.vision.styles import catalogue

DOCS = PROJECT_ROOT / "docs"
#: The line that ends a page's hand-written part; everything after it is generated.
MARKER = "<!-- Generated below by `booth docs` from the code: edit the code, then run `booth docs`. -->"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming every generated page that is stale")
    parser.add_argument("--pictures", action="store_true",
                        help="also make the pictures: styles gallery, performance charts, screens "
                             "(slow: runs the models on the public photos)")
    parser.add_argument("--bench-json", type=Path, metavar="DIR",
                        help="with --pictures: draw the charts from generator.json, styles.json and "
                             "mirror.json in DIR (`booth bench --json`, `--styles --json`, `--mirror "
                             "--json`, from a Pi say) instead of running the benchmarks here")
    parser.add_argument("--docs-dir", type=Path, default=DOCS, help="the docs folder (default: docs/)")


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
        out += [f"| `{f.name}` | `{toml_value(field_default(f))}` | {cell(rst_to_markdown(comments[f.name]))} |"
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
    """The ground pin nearest ``physical`` in its own row, so their wires never cross."""
    return min((g for g in GROUND_PINS if g % 2 == physical % 2), key=lambda g: (abs(g - physical), g))


def wiring_svg() -> str:
    """The header, the button on ``[button] pin`` (its default) and the optional LED, as SVG.
    Wires leave each pin on its own row's side and run straight to their part."""
    button = config.ButtonSettings()
    led_bcm = button.led_pin if button.led_pin >= 0 else SUGGESTED_LED_PIN
    button_pins = (HEADER_PINS[button.pin], nearest_ground(HEADER_PINS[button.pin]))
    led_pins = (HEADER_PINS[led_bcm], nearest_ground(HEADER_PINS[led_bcm]))
    rows = max(*button_pins, *led_pins) // 2 + 1
    pitch, top, centre = 26, 70, 380
    height = top + rows * pitch + 40

    def pin_xy(physical: int) -> tuple[int, int]:
        return centre + (-13 if physical % 2 else 13), top + ((physical - 1) // 2) * pitch

    colours = {button_pins[0]: "#d32f2f", led_pins[0]: "#f9a825", button_pins[1]: "#212121",
               led_pins[1]: "#212121"}
    led_dash = "" if button.led_pin >= 0 else ' stroke-dasharray="8 5"'
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{height}" '
             f'viewBox="0 0 760 {height}" font-family="sans-serif" font-size="13">',
             '<rect width="100%" height="100%" fill="#ffffff"/>',
             f'<text x="380" y="24" text-anchor="middle" font-size="15" font-weight="bold">'
             f'The 40-pin header, pins 1 to {rows * 2}: BCM GPIO names, physical pin numbers in the circles</text>',
             f'<text x="{centre - 34}" y="{top - 24}" text-anchor="end" font-size="11">odd pins</text>',
             f'<text x="{centre + 34}" y="{top - 24}" font-size="11">even pins (the board\'s edge)</text>',
             f'<rect x="{centre - 28}" y="{top - 16}" width="56" height="{rows * pitch + 6}" rx="6" fill="#1b5e20"/>']
    for physical in range(1, rows * 2 + 1):
        x, y = pin_xy(physical)
        if physical in colours:  # its wire leaves towards its part; the part's text names the pin
            end = 190 if physical % 2 else 600
            dash = led_dash if physical in led_pins else ""
            parts.append(f'<line x1="{x}" y1="{y}" x2="{end}" y2="{y}" stroke="{colours[physical]}" '
                         f'stroke-width="4"{dash}/>')
            label_x = (x - 16, "end") if physical % 2 else (x + 16, "start")
            parts.append(f'<text x="{label_x[0]}" y="{y - 6}" text-anchor="{label_x[1]}" font-weight="bold">'
                         f'{pin_label(physical)} (pin {physical})</text>')
        else:
            label_x = (x - 16, "end") if physical % 2 else (x + 16, "start")
            parts.append(f'<text x="{label_x[0]}" y="{y + 4}" text-anchor="{label_x[1]}" fill="#555">'
                         f'{pin_label(physical)}</text>')
        fill = colours.get(physical, "#bdbdbd")
        parts.append(f'<circle cx="{x}" cy="{y}" r="10" fill="{fill}" stroke="#ffffff"/>')
        parts.append(f'<text x="{x}" y="{y + 4}" text-anchor="middle" font-size="9" '
                     f'fill="{"#fff" if fill in ("#d32f2f", "#212121") else "#000"}">{physical}</text>')

    def part_box(pins: tuple[int, int], side: str) -> tuple[int, int, int]:
        ys = sorted(pin_xy(p)[1] for p in pins)
        return (40 if side == "left" else 600), ys[0] - 18, ys[1] - ys[0] + 36

    for pins, name, note, dash in ((button_pins, "big button", f"[button] pin = {button.pin}", ""),
                                   (led_pins, "LED", f"[button] led_pin = {led_bcm} (optional: "
                                                     f"default {button.led_pin}, none)", led_dash)):
        side = "left" if pins[0] % 2 else "right"
        x, y, h = part_box(pins, side)
        if name == "LED":
            signal_y = pin_xy(pins[0])[1]
            resistor_x = 520 if side == "right" else 200
            parts.append(f'<rect x="{resistor_x}" y="{signal_y - 9}" width="56" height="18" fill="#fff" '
                         f'stroke="#000"{dash}/>')
            parts.append(f'<text x="{resistor_x + 28}" y="{signal_y + 4}" text-anchor="middle" '
                         'font-size="11">330 Ω</text>')
        parts.append(f'<rect x="{x}" y="{y}" width="150" height="{h}" rx="{min(h // 2, 30)}" '
                     f'fill="{"#e53935" if name == "big button" else "#fff59d"}" stroke="#000"{dash}/>')
        parts.append(f'<text x="{x + (75 if side == "left" else 140)}" y="{y + h // 2 + 5}" '
                     f'text-anchor="{"middle" if side == "left" else "end"}" font-weight="bold" '
                     f'fill="{"#fff" if name == "big button" else "#000"}">{name}</text>')
        ends = ("NO", "COM") if name == "big button" else ("+ long leg", "− short leg")
        for pin, end in zip(pins, ends):  # which contact or leg each wire goes to, inside the part
            ey = pin_xy(pin)[1]
            ex, anchor = (x + 140, "end") if side == "left" else (x + 10, "start")
            parts.append(f'<text x="{ex}" y="{ey + 4}" text-anchor="{anchor}" font-size="10" '
                         f'fill="{"#fff" if name == "big button" else "#000"}">{end}</text>')
        parts.append(f'<text x="{x + 75 if side == "left" else x + 150}" y="{y + h + 16}" '
                     f'text-anchor="{"middle" if side == "left" else "end"}" font-size="11">{note}</text>')
    parts += [f'<text x="380" y="{height - 14}" text-anchor="middle" font-size="12">'
              f'pull_up = {toml_value(button.pull_up)}: the Pi\'s internal pull-up, no resistor for the button; '
              'a press pulls the pin to GND</text>', "</svg>", ""]
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
        raise UserError(f"docs/{page} has no marker line (the generated part follows it): {MARKER}")
    return text.split(MARKER, 1)[0] + MARKER + "\n\n" + generated.rstrip() + "\n"


def expected_files(docs: Path) -> dict[Path, str]:
    """Every generated file under ``docs`` with the text it should have now."""
    missing = [page for page in GENERATED if not (docs / page).is_file()]
    if missing:
        raise UserError(f"{docs}: not the docs folder (no {', '.join(missing)})")
    out = {docs / page: page_with((docs / page).read_text(encoding="utf-8"), make(), page)
           for page, make in GENERATED.items()}
    out.update({docs / name: make() for name, make in GENERATED_WHOLE.items()})
    return out


def stale_files(docs: Path) -> list[Path]:
    return [path for path, text in expected_files(docs).items()
            if not path.is_file() or path.read_text(encoding="utf-8") != text]


# --- the pictures ----------------------------------------------------------------------

#: The public photos (weights/photos/, public domain) the styles gallery shows: two
#: portraits and a group. Never a private photo: everything here is committed.
GALLERY_PHOTOS = ("faces/18f_selena_juneau_vogel.jpg", "faces/18f_edwin_torres.jpg",
                  "groups/18f_three_steps_team.jpg")
#: Screenshot the screen tests leave in artifacts/ -> (the docs' name, its width).
SCREENS = {"kiosk-idle-1920x1080.png": ("kiosk-idle.webp", 960),
           "kiosk-countdown-1920x1080.png": ("kiosk-countdown.webp", 960),
           "kiosk-result-1920x1080.png": ("kiosk-result.webp", 960),
           "phone-photo-390x844.png": ("phone-photo.webp", 390),
           "phone-gallery-390x844.png": ("phone-gallery.webp", 390)}
#: The screen tests that take those screenshots (on the public photos), run in this order:
#: the phone pages, then the kiosk's cycle and its result screen (the kiosk shots of
#: test_browser are taken last, so theirs are kept: a plain Wi-Fi name on screen).
SCREEN_TESTS = ["tests/test_screens.py::test_the_kiosk_shows_the_booths_real_state_and_keeps_the_face_clear",
                "tests/test_screens.py::test_the_photo_page_puts_share_first_and_aligns_side_by_side",
                "tests/test_screens.py::test_the_gallery_and_upload_pages_fit_a_phone_and_show_new_results_on_top",
                "tests/test_browser.py::test_a_cycle_on_the_kiosk_ends_with_a_qr_code_that_opens_the_photo",
                "tests/test_browser.py::test_result_screen_fits_landscape_720p_and_portrait_monitors"]
#: The benchmarks the charts are drawn from: file name -> ``booth bench`` options.
BENCHMARKS = {"generator.json": ["--repeats", "3"], "styles.json": ["--styles", "--quick", "--repeats", "3"],
              "mirror.json": ["--mirror"]}


def small_webp(source: Path, target: Path, width: int, quality: int = 70) -> Path:
    """``source`` scaled to at most ``width`` pixels wide, as a small WebP."""
    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, "WEBP", quality=quality, method=6)
    return target


def emptied(folder: Path) -> Path:
    """``folder`` without the pictures of an earlier run (a style since removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.webp"):
        old.unlink()
    return folder


def public_photos_env() -> dict[str, str]:
    """This environment without BOOTH_PHOTOS: what the docs show is made from the public
    photos only, never from a private set a developer's shell points to."""
    return {k: v for k, v in os.environ.items() if k != "BOOTH_PHOTOS"}


def booth_command(*argv: str) -> None:
    """Run a ``booth`` command as a user would (its own process: the models' memory goes
    with it)."""
    subprocess.run([sys.executable, "-m", "booth", *argv], check=True, env=public_photos_env(),
                   cwd=PROJECT_ROOT)


def styles_gallery(docs: Path) -> str:
    """``booth stylize --styles all`` on the gallery photos: small pictures and their table."""
    photos = require_set(photo_set())
    with tempfile.TemporaryDirectory(prefix="booth-docs-") as tmp:
        booth_command("stylize", "--styles", "all", *(str(photos / p) for p in GALLERY_PHOTOS),
                      "--out", tmp, "--json", f"{tmp}/results.json")
        results = json.loads(Path(tmp, "results.json").read_text(encoding="utf-8"))["results"]
        emptied(docs / "images" / "styles")
        shots: dict[str, dict[str, str]] = {}
        for result in results:
            if result.get("ok"):
                name = f"{Path(result['file']).stem}_{result['style']}.webp"
                small_webp(Path(result["out"]), docs / "images" / "styles" / name, 240, quality=65)
                shots.setdefault(result["file"], {})[result["style"]] = f"images/styles/{name}"
    styles = catalogue()
    names = [name for name in styles if any(name in row for row in shots.values())]
    originals = [small_webp(Path(photo), docs / "images" / "styles" / f"{Path(photo).stem}.webp", 240, quality=65)
                 for photo in shots]
    out = ["## Gallery", "",
           "Made by `booth stylize --styles all` on public-domain test photos (`booth docs --pictures` "
           "remakes it): one row per style, the photos as taken on top.", "",
           "| style | " + " | ".join(f"`{Path(photo).name}`" for photo in shots) + " |",
           "|---|" + "---|" * len(shots),
           "| the photo | " + " | ".join(f"![{o.stem}](images/styles/{o.name})" for o in originals) + " |"]
    for name in names:
        out.append(f"| **{styles[name].label}** (`{name}`) | "
                   + " | ".join(f"![{name}]({row[name]})" if name in row else "—" for row in shots.values()) + " |")
    return "\n".join(out) + "\n"


def screens_gallery(docs: Path) -> str:
    """The screen tests' screenshots, made small, and their page section. A screenshot its
    test did not retake (the test failed first) keeps its earlier picture, and says so."""
    started = time.time()
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SCREEN_TESTS],
                           env=public_photos_env(), cwd=PROJECT_ROOT)
    out = ["## As guests see them", "",
           "Screenshots taken by the screen tests (`tests/test_browser.py`, `tests/test_screens.py`: "
           "chromium on the real booth "
           "with the public test photos; `booth docs --pictures` retakes them):", ""]
    folder = docs / "images" / "screens"
    for source, (name, width) in SCREENS.items():
        shot = PROJECT_ROOT / "artifacts" / source
        if shot.is_file() and shot.stat().st_mtime >= started:
            small_webp(shot, folder / name, width)
        else:
            print(f"not retaken: {source} (the screen tests exited with {tests.returncode}); "
                  f"kept: {folder / name}", file=sys.stderr)
        if (folder / name).is_file():
            out += [f"![{name.removesuffix('.webp').replace('-', ' ')}](images/screens/{name})", ""]
    return "\n".join(out)


def performance_charts(docs: Path, bench_dir: Path | None) -> str:
    """The charts from ``booth bench --json`` (run here unless ``bench_dir`` holds them)."""
    load = ""
    with tempfile.TemporaryDirectory(prefix="booth-bench-") as tmp:
        folder = bench_dir or Path(tmp)
        if bench_dir is None:
            before = os.getloadavg()[0]
            for name, options in BENCHMARKS.items():
                booth_command("bench", *options, "--json", str(folder / name))
            # A busy machine slows every figure: say how busy this one was.
            load = f" Load average (1 min) before the benchmarks: {before:.1f}, after: {os.getloadavg()[0]:.1f}."
        bench = {name: json.loads((folder / name).read_text(encoding="utf-8")) for name in BENCHMARKS}
    machine = bench["generator.json"]["machine"]
    images = docs / "images" / "performance"
    drawn = [charts.runtimes_chart(bench["generator.json"], images / "runtimes.webp"),
             charts.precisions_chart(bench["generator.json"], images / "precisions.webp"),
             charts.styles_chart(bench["styles.json"], machine, images / "styles.webp"),
             charts.mirror_chart(bench["mirror.json"], machine, images / "mirror.webp")]
    commands = ", ".join(f"`booth bench {' '.join(options)} --json {name}`" for name, options in BENCHMARKS.items())
    out = [f"Measured on: **{machine}**, with {commands}.{load}", ""]
    out += [f"![{path.stem}](images/performance/{path.name})\n" for path in drawn]
    return "\n".join(out)


def make_pictures(docs: Path, bench_dir: Path | None) -> None:
    """Every generated picture, and the pages that show them."""
    for page, make in (("styles.md", lambda: styles_gallery(docs)),
                       ("screens.md", lambda: screens_gallery(docs)),
                       ("performance.md", lambda: performance_charts(docs, bench_dir))):
        path = docs / page
        path.write_text(page_with(path.read_text(encoding="utf-8"), make(), page), encoding="utf-8")
        print(f"wrote {path} and its pictures")


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
        make_pictures(docs, args.bench_json)
    return 0
