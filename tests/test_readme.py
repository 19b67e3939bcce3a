"""README.md and the docs site stay true: the configuration reference (docs/configuration.md)
is config.toml's, key for key and default for default; the commands at the README's top
are the ones CI runs; the config keys, install.sh options and systemd units the README and
the docs name exist; the README stays short and its links into docs/ lead to pages.

Fast (no model, no network): only files are read, plus ``./install.sh --help``.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

from booth import PROJECT_ROOT
from booth.cli.docs import MARKER

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
CONFIGURATION_PAGE = DOCS / "configuration.md"
CONFIG_TOML = PROJECT_ROOT / "config.toml"
CI_RUN = PROJECT_ROOT / ".ci" / "run"

#: The two commands at the README's top, as written there.
RUN_COMMAND = "./install.sh && .venv/bin/booth run --demo"
TEST_COMMAND = "./install.sh --test && .venv/bin/python -m pytest -q"

_ROW = re.compile(r"^\| `([a-z_]+)` \| `([^`]*)` \|")
_SECTION_HEADING = re.compile(r"^## \[([a-z_]+)\]\s*$")


def all_text() -> str:
    """The README and every docs page, hand-written parts only (what ``booth docs`` writes
    is the code's own words): where the facts they name are checked."""
    pages = sorted(DOCS.glob("*.md"))
    assert len(pages) > 15, pages
    return "\n".join(path.read_text(encoding="utf-8").split(MARKER)[0] for path in [README, *pages])


def reference_rows(text: str) -> list[tuple[str, str, str]]:
    """(section, key, default as written) for every row of the configuration page's tables."""
    rows, section = [], None
    for line in text.splitlines():
        heading = _SECTION_HEADING.match(line)
        if heading:
            section = heading.group(1)
            continue
        row = _ROW.match(line)
        if row:
            assert section, f"reference row before any '### [section]' heading: {line}"
            rows.append((section, row.group(1), row.group(2)))
    return rows


def _typed(value) -> str:
    """A value with its TOML type kept (1 and 1.0 differ, so do "1" and 1)."""
    return json.dumps(value)


def reference_defaults(text: str) -> dict[str, str]:
    """{"section.key": default} from the configuration page, each default read as a TOML value."""
    out = {}
    for section, key, raw in reference_rows(text):
        name = f"{section}.{key}"
        assert name not in out, f"the configuration page lists [{section}] {key} twice"
        try:
            out[name] = _typed(tomllib.loads(f"v = {raw}")["v"])
        except tomllib.TOMLDecodeError as exc:
            raise AssertionError(f"configuration page: [{section}] {key}: default `{raw}` is not a TOML value "
                                 f"({exc})")
    return out


def config_toml_defaults() -> dict[str, str]:
    data = tomllib.loads(CONFIG_TOML.read_text(encoding="utf-8"))
    return {f"{section}.{key}": _typed(value) for section, table in data.items()
            for key, value in table.items()}


def differences(documented: dict[str, str], toml: dict[str, str]) -> list[str]:
    """Every way the docs' reference and config.toml disagree, as readable lines."""
    out = [f"only in config.toml: {k} = {toml[k]}" for k in sorted(toml.keys() - documented.keys())]
    out += [f"only in the docs: {k} = {documented[k]}" for k in sorted(documented.keys() - toml.keys())]
    out += [f"{k}: the docs say {documented[k]}, config.toml says {toml[k]}"
            for k in sorted(documented.keys() & toml.keys()) if documented[k] != toml[k]]
    return out


# --- the configuration reference -----------------------------------------------------

def test_configuration_reference_matches_config_toml_exactly():
    documented = reference_defaults(CONFIGURATION_PAGE.read_text(encoding="utf-8"))
    toml = config_toml_defaults()
    assert len(toml) > 50  # the parse found the real file, not an empty one
    assert differences(documented, toml) == []


def test_reference_check_catches_a_changed_missing_or_extra_key():
    text = CONFIGURATION_PAGE.read_text(encoding="utf-8")
    toml = config_toml_defaults()
    row = "| `pin` | `17` |"
    assert text.count(row) == 1
    changed = differences(reference_defaults(text.replace(row, "| `pin` | `18` |")), toml)
    assert changed == ["button.pin: the docs say 18, config.toml says 17"]
    as_float = differences(reference_defaults(text.replace(row, "| `pin` | `17.0` |")), toml)
    assert as_float == ["button.pin: the docs say 17.0, config.toml says 17"]
    without = "\n".join(l for l in text.splitlines() if not l.startswith(row))
    assert differences(reference_defaults(without), toml) == ["only in config.toml: button.pin = 17"]
    extra = text.replace(row, "| `pins` | `3` | x |\n" + row)
    assert differences(reference_defaults(extra), toml) == ["only in the docs: button.pins = 3"]


def test_config_keys_named_anywhere_in_the_readme_or_the_docs_exist():
    toml = config_toml_defaults()
    text = all_text()
    named = set(re.findall(r"\[([a-z]+)\] ([a-z][a-z_]*)", text))
    assert len(named) > 10
    unknown = sorted(f"[{s}] {k}" for s, k in named if f"{s}.{k}" not in toml)
    assert unknown == []


# --- the commands at the top ---------------------------------------------------------

def top_commands(text: str) -> list[str]:
    """The commands of the README's first code block, comments stripped."""
    block = re.search(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block, "README has no ```sh block"
    assert text.index(block.group(0)) < text.index("\n## "), "the commands must come before any section"
    return [re.split(r"\s+#", line, maxsplit=1)[0].strip()
            for line in block.group(1).splitlines() if line.strip()]


def test_readme_top_shows_the_run_and_the_test_command():
    assert top_commands(README.read_text(encoding="utf-8")) == [RUN_COMMAND, TEST_COMMAND]


def test_ci_runs_the_readmes_test_command_as_written():
    lines = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert TEST_COMMAND in lines


def test_the_run_command_parses():
    from booth.cli import build_parser

    argv = RUN_COMMAND.split(" && ")[1].split()
    assert argv[0] == ".venv/bin/booth"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run" and args.demo == ""


# --- what the README names exists ----------------------------------------------------

def test_install_options_named_in_the_readme_or_the_docs_exist():
    usage = subprocess.run([str(PROJECT_ROOT / "install.sh"), "--help"], capture_output=True,
                           text=True, timeout=30, check=True).stdout
    known = set(re.findall(r"\./install\.sh (--[a-z-]+)", usage))
    assert {"--mirror", "--kiosk", "--dry-run", "--pi"} <= known
    named = set(re.findall(r"\./install\.sh (--[a-z-]+)", all_text()))
    named |= set(re.findall(r"^\| `(--[a-z-]+)", (DOCS / "install-pi.md").read_text(encoding="utf-8"),
                            re.MULTILINE))
    assert "--mirror" in named
    assert sorted(named - known) == []


def test_systemd_units_named_in_the_readme_or_the_docs_exist():
    named = set(re.findall(r"\b(booth(?:-kiosk)?)\.service\b", all_text()))
    assert named == {"booth", "booth-kiosk"}
    for unit in named:
        assert (PROJECT_ROOT / "systemd" / f"{unit}.service.in").is_file(), unit


# --- short, and leading into the docs ---------------------------------------------------

def test_readme_fits_on_two_screens():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


def test_readme_links_lead_to_every_docs_page():
    text = README.read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[^)#]+)", text))
    assert sorted(link for link in linked if not (PROJECT_ROOT / link).is_file()) == []
    pages = {f"docs/{path.name}" for path in DOCS.glob("*.md")}
    assert sorted(pages - linked) == []
