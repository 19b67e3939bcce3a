"""The docs site builds strictly, and its generated pages are the code's.

``mkdocs build --strict`` fails on a dead link, a missing anchor, a page left out of
the nav or a missing picture. The configuration reference, the commands, the
architecture's module table and the wiring diagram are written by ``booth docs`` from
the code: a key, option or module added without re-running it fails here, naming it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from booth import PROJECT_ROOT
from booth.cli import docs, main

DOCS = PROJECT_ROOT / "docs"


def test_the_docs_site_builds_strictly(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                          env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    built = (tmp_path / "site" / "configuration" / "index.html").read_text(encoding="utf-8")
    assert "long_press_s" in built and "require_real_gpio" in built


def test_a_broken_link_fails_the_strict_build(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(DOCS, project / "docs")
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", project)
    page = project / "docs" / "privacy.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [the missing page](nowhere.md).\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=project, capture_output=True, text=True, timeout=300,
                          env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode != 0 and "nowhere.md" in done.stderr


def test_the_generated_pages_are_current():
    stale = [str(path.relative_to(PROJECT_ROOT)) for path in docs.stale_files(DOCS)]
    assert stale == [], "stale generated docs: run .venv/bin/booth docs"


def test_a_key_or_option_added_to_the_code_makes_its_page_stale(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    assert main(["docs", "--check", "--docs-dir", str(copy)]) == 0
    page = copy / "configuration.md"
    row = "| `pin` | `17` |"
    assert page.read_text(encoding="utf-8").count(row) == 1
    page.write_text(page.read_text(encoding="utf-8").replace(row, "| `pin` | `18` |"), encoding="utf-8")
    assert main(["docs", "--check", "--docs-dir", str(copy)]) == 1
    assert f"stale: {page}" in capsys.readouterr().err
    assert main(["docs", "--docs-dir", str(copy)]) == 0
    assert main(["docs", "--check", "--docs-dir", str(copy)]) == 0
    # An option the parser gains shows on the commands page at the next `booth docs`.
    import booth.cli.config as config_command

    added = config_command.add_arguments

    def with_option(parser):
        added(parser)
        parser.add_argument("--verbose-check", action="store_true", help="say every key checked")

    monkeypatch.setattr(config_command, "add_arguments", with_option)
    assert main(["docs", "--check", "--docs-dir", str(copy)]) == 1
    assert main(["docs", "--docs-dir", str(copy)]) == 0
    assert "| `--verbose-check` | say every key checked |" in (copy / "commands.md").read_text(encoding="utf-8")


def test_the_configuration_page_carries_every_keys_comment():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert "| `pin` | `17` | BCM GPIO number of the big button (wired between the pin and GND). |" in text
    # A key without its own comment shares the one above it.
    assert "| `retry_max_s` | `30.0` | Reconnect back-off for a missing or failing camera, in seconds. |" in text


def test_the_wiring_diagram_puts_the_button_and_the_led_on_the_right_header_pins():
    svg = (DOCS / "images" / "wiring.svg").read_text(encoding="utf-8")
    # BCM 17 is the header's pin 11, with a ground at pin 9 in the same row; BCM 18 is pin 12.
    for label in ("GPIO17 (pin 11)", "GND (pin 9)", "[button] pin = 17", "GPIO18 (pin 12)", "GND (pin 14)"):
        assert f">{label}<" in svg, label


def test_a_page_without_its_marker_line_is_one_clear_line(tmp_path, capsys):
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    page = copy / "commands.md"
    page.write_text(page.read_text(encoding="utf-8").replace(docs.MARKER, ""), encoding="utf-8")
    assert main(["docs", "--docs-dir", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("booth docs: docs/commands.md has no marker line") and len(err.splitlines()) == 1
    assert main(["docs", "--check", "--docs-dir", str(tmp_path)]) == 2
    assert "not the docs folder" in capsys.readouterr().err
