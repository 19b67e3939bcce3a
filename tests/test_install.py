"""install.sh: help, clear errors, a dry run that touches nothing, and a second run that
changes nothing.

The dry runs work on a fresh ``git clone`` of this repo in tmp_path (exactly what an
organiser starts from) and compare a snapshot of every path, size and mtime before
and after. The Raspberry Pi steps cannot run here (no Pi, and python3-picamera2 is
only in Raspberry Pi OS's archive), so they are checked through ``--pi --dry-run``:
every step is printed and still nothing is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from booth import PROJECT_ROOT

INSTALL = PROJECT_ROOT / "install.sh"
CONSTRAINTS = PROJECT_ROOT / "scripts" / "pip_constraints.sh"
#: System paths the Pi steps would write; a dry run must leave them as they are.
SYSTEM_PATHS = [Path("/etc/systemd/system/booth.service"), Path("/etc/systemd/system/booth-kiosk.service"),
                Path("/etc/booth"), Path("/var/lib/booth"), Path("/opt/booth"), Path("/etc/NetworkManager")]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root (the root included) with its size and mtime in ns."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, "."]:
            path = Path(dirpath, name)
            st = path.lstat()
            state[str(path)] = (st.st_size, st.st_mtime_ns)
    return state


def system_state() -> dict[str, tuple[int, int] | None]:
    out = {}
    for path in SYSTEM_PATHS:
        try:
            st = path.lstat()
            out[str(path)] = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            out[str(path)] = None
    return out


@pytest.fixture
def clone(tmp_path) -> Path:
    """A fresh clone of the committed repo, as an organiser would start."""
    target = tmp_path / "anime-booth"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(target)], check=True, timeout=120)
    return target


def run_install(cwd: Path, *args: str, env: dict | None = None, timeout: float = 600):
    return subprocess.run([str(cwd / "install.sh"), *args], cwd=cwd, capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=timeout)


def test_help_lists_the_options():
    result = run_install(PROJECT_ROOT, "--help")
    assert result.returncode == 0
    for option in ("--test", "--mirror DIR", "--dry-run", "--prefix DIR", "--pi", "--kiosk MODE",
                   "--render-units DIR"):
        assert option in result.stdout
    assert "set -euo" not in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--frobnicate"], "install.sh: unknown option --frobnicate (see --help)"),
    (["--mirror", "/nonexistent/usb"], "install.sh: mirror folder /nonexistent/usb does not exist"),
    (["--prefix", "relative/dir"], "install.sh: --prefix must be an absolute path, got relative/dir"),
    (["--kiosk", "fullscreen"], "install.sh: --kiosk must be desktop, cage or none, got fullscreen"),
])
def test_bad_options_get_one_clear_line(args, message):
    result = run_install(PROJECT_ROOT, *args, "--dry-run")
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert result.stdout == ""


def test_dry_run_on_a_fresh_clone_prints_every_step_and_touches_nothing(clone, tmp_path):
    before, system_before = snapshot(tmp_path), system_state()
    result = run_install(clone, "--test", "--dry-run", "--mirror", str(PROJECT_ROOT / "weights"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"[dry-run] python3.11 -m venv {clone}/.venv" in out or \
           f"[dry-run] python3 -m venv {clone}/.venv" in out
    assert f"[dry-run] {clone}/.venv/bin/pip install --quiet -e {clone}[build,test" in out
    # The tests' public photos come with --test (a booth's install does not fetch them).
    assert f"[dry-run] {clone}/.venv/bin/booth weights fetch --mirror {PROJECT_ROOT}/weights --photos\n" in out
    assert f"[dry-run] {clone}/.venv/bin/booth weights build --if-needed" in out
    assert "not a Raspberry Pi: skipped" in out
    assert out.rstrip().endswith("==> dry run: nothing was changed")
    assert snapshot(tmp_path) == before
    assert system_state() == system_before


def test_pi_dry_run_shows_the_whole_pi_install_and_touches_nothing(clone, tmp_path):
    prefix = tmp_path / "opt-booth"
    before, system_before = snapshot(tmp_path), system_state()
    result = run_install(clone, "--pi", "--dry-run", "--prefix", str(prefix))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    expected = [
        "[dry-run] rsync -rlt --omit-dir-times --delete",                   # the code into the prefix
        f"[dry-run] /usr/bin/python3 -m venv --system-site-packages {prefix}/.venv",
        f"[dry-run] {prefix}/.venv/bin/pip install --quiet -c {prefix}/.venv/booth-constraints.txt "
        f"-e {prefix}[build]",
        f"[dry-run] {prefix}/.venv/bin/booth weights fetch",
        f"[dry-run] {prefix}/.venv/bin/booth weights build --if-needed",
        f"[dry-run] {prefix}/.venv/bin/booth styles fetch",
        f"[dry-run] {prefix}/.venv/bin/booth styles build --if-needed",
        "write /etc/systemd/system/booth.service",
        "systemctl daemon-reload",
        "systemctl restart --no-block booth.service",
    ]
    for line in expected:
        assert line in out, f"missing step: {line}\n{out}"
    assert "--photos" not in out  # a booth has no use for the tests' photos
    # The parts that depend on this machine are printed only when they are missing.
    if subprocess.run(["id", "booth"], capture_output=True).returncode != 0:
        assert "useradd --system --user-group --home-dir /var/lib/booth" in out
    if not Path("/etc/booth/config.toml").exists():
        assert f"install -m 0640 -o root -g booth {prefix}/config.toml /etc/booth/config.toml" in out
    if subprocess.run(["dpkg-query", "-W", "python3-picamera2"], capture_output=True).returncode != 0:
        assert "apt-get install -y -qq python3-picamera2 python3-libcamera" in out
    assert "not a Raspberry Pi" not in out
    assert out.rstrip().endswith("==> dry run: nothing was changed")
    assert snapshot(tmp_path) == before
    assert system_state() == system_before


@pytest.mark.parametrize("kiosk", ["cage", "desktop", "none"])
def test_pi_dry_run_kiosk_modes(clone, tmp_path, kiosk):
    result = run_install(clone, "--pi", "--dry-run", "--kiosk", kiosk, "--prefix", str(tmp_path / "opt"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    cage_steps = ("write /etc/systemd/system/booth-kiosk.service", "systemctl enable booth-kiosk.service")
    if kiosk == "cage":
        assert all(step in out for step in cage_steps)
        assert " cage" in out.split("apt-get install", 1)[1].splitlines()[0] or \
            subprocess.run(["dpkg-query", "-W", "cage"], capture_output=True).returncode == 0
    else:
        assert not any(step in out for step in cage_steps)
    if kiosk == "desktop":
        assert ("/.config/labwc/autostart (user " in out and "reboot to see it" in out) or \
            "no desktop user found" in out
    if kiosk == "none":
        assert "--kiosk none: no kiosk screen set up" in out and "labwc" not in out


def test_second_run_changes_nothing_and_says_so():
    """The README's install command, run again on this (installed) checkout."""
    first = run_install(PROJECT_ROOT, "--test")
    assert first.returncode == 0, first.stderr
    venv_before = snapshot(PROJECT_ROOT / ".venv" / "bin")
    weights_before = snapshot(PROJECT_ROOT / "weights")
    second = run_install(PROJECT_ROOT, "--test", timeout=120)
    assert second.returncode == 0, second.stderr
    assert second.stdout.rstrip().endswith("==> already installed: nothing changed"), second.stdout
    assert "[dry-run]" not in second.stdout
    assert snapshot(PROJECT_ROOT / ".venv" / "bin") == venv_before
    assert snapshot(PROJECT_ROOT / "weights") == weights_before


# --- scripts/pip_constraints.sh: the numpy-major rule (see the script for why) ---

def fake_system_python(tmp_path: Path, numpy_version: str | None) -> Path:
    """A stand-in for /usr/bin/python3 reporting apt's numpy version (there is no Pi OS here)."""
    script = tmp_path / "python3"
    body = f'echo "{numpy_version}"' if numpy_version else "exit 1"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def constraints(python: Path | str) -> list[str]:
    result = subprocess.run(["bash", str(CONSTRAINTS), str(python)], capture_output=True, text=True,
                            check=True, timeout=30)
    return result.stdout.splitlines()


def test_numpy_1_system_pins_numpy_and_opencv(tmp_path):
    lines = constraints(fake_system_python(tmp_path, "1.24.2"))  # Bookworm's python3-numpy
    assert lines[:2] == ["numpy==1.24.2", "opencv-python-headless<4.12"]


def test_numpy_2_system_pins_numpy_and_the_tested_opencv_major(tmp_path):
    lines = constraints(fake_system_python(tmp_path, "2.2.4"))  # Trixie's python3-numpy
    assert lines[:2] == ["numpy==2.2.4", "opencv-python-headless>=5,<6"]


def test_no_system_numpy_means_no_numpy_pin(tmp_path):
    lines = constraints(fake_system_python(tmp_path, None))
    assert not any(line.startswith("numpy") for line in lines)


def test_real_python_numpy_is_pinned_exactly():
    import numpy

    lines = constraints(PROJECT_ROOT / ".venv" / "bin" / "python")
    assert lines[0] == f"numpy=={numpy.__version__}"


# --- the booth's own Wi-Fi ([network] hotspot) -------------------------------------------------

def _installed(package: str) -> bool:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "ok installed" in result.stdout


def enable_hotspot(config: Path) -> None:
    """Turn on [network] hotspot in this config, with a name, a password and a country."""
    head, _, section = config.read_text(encoding="utf-8").partition("\n[network]\n")
    section, next_header, rest = section.partition("\n[")
    for old, new in [("hotspot = false", "hotspot = true"), ('ssid = ""', 'ssid = "AnimeBooth"'),
                     ('password = ""', 'password = "photos-4-all"'), ('country = ""', 'country = "DE"')]:
        assert section.count(old) == 1, old
        section = section.replace(old, new)
    config.write_text(f"{head}\n[network]\n{section}{next_header}{rest}", encoding="utf-8")


def test_pi_dry_run_with_the_hotspot_prints_the_network_changes(clone, tmp_path):
    enable_hotspot(clone / "config.toml")
    before, system_before = snapshot(tmp_path), system_state()
    result = run_install(clone, "--pi", "--dry-run", "--prefix", str(tmp_path / "opt"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "==> the booth's own Wi-Fi ([network] hotspot)\n" in out
    for line in ['    network: hotspot "AnimeBooth" on wlan0, channel 6 (2.4 GHz), country DE; the booth is '
                 "10.42.0.1, phones open the gallery by themselves",
                 "        would write: /etc/NetworkManager/system-connections/booth-hotspot.nmconnection",
                 "            | mode=ap",
                 "            | method=shared",
                 "        would write: /etc/NetworkManager/dnsmasq-shared.d/booth-captive.conf",
                 "            | address=/#/10.42.0.1",
                 "        would write: /etc/NetworkManager/dispatcher.d/50-booth-captive",
                 "        would run: nmcli connection up booth-hotspot",
                 "    network: dry run, nothing was changed"]:
        assert line + "\n" in out, f"missing: {line}\n{out}"
    assert "photos-4-all" not in out
    apt_line = out.split("apt-get install -y -qq", 1)[1].splitlines()[0] if "apt-get install" in out else ""
    for package in ("network-manager", "dnsmasq-base", "nftables", "iw"):
        assert _installed(package) or f" {package}" in apt_line, package
    assert out.rstrip().endswith("==> dry run: nothing was changed")
    assert snapshot(tmp_path) == before and system_state() == system_before


def test_pi_dry_run_without_the_hotspot_leaves_the_network_alone(clone, tmp_path):
    result = run_install(clone, "--pi", "--dry-run", "--prefix", str(tmp_path / "opt"))
    assert result.returncode == 0, result.stderr
    assert "[network] hotspot" not in result.stdout and "NetworkManager" not in result.stdout
    assert "network-manager" not in result.stdout


# --- the Pi path, run for real: the code copy, apt failures, the order of the steps ------------

def test_pi_copy_takes_what_git_ships_of_weights_and_nothing_built(clone, tmp_path):
    """install.sh's own copy rules (--copy-code, what /opt/booth gets), run for real on a
    clone that also holds what an install adds: the shipped calibration arrives, fetched
    and built files, the venv and install.log do not."""
    tracked = subprocess.run(["git", "ls-files"], cwd=clone, capture_output=True, text=True,
                             check=True).stdout.split()
    added = ["weights/animeganv2_hayao_256x256_integer_quant.tflite", "weights/generator_int8.xml",
             "weights/generator_card.json", "weights/styles/cute_int8.xml", "weights/photos/faces/a.jpg",
             ".venv/bin/python", "install.log", "booth/__pycache__/x.pyc", "data/photos/index.db"]
    for name in added:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_text("made by an install")
    target = tmp_path / "opt-booth"
    result = run_install(clone, "--copy-code", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"copied the booth to {target}"
    arrived = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert arrived == sorted(tracked)
    assert "weights/int8_ranges.json" in arrived and "weights/style_ranges/cute.json" in arrived


def test_a_rerun_writing_its_log_is_no_change_to_the_code(clone, tmp_path):
    """Every install run empties and rewrites install.log in the checkout: that alone must
    not count as new code (which restarts booth.service during an event)."""
    target = tmp_path / "opt-booth"
    assert run_install(clone, "--copy-code", str(target)).returncode == 0
    (clone / "install.log").write_text("a later run's log\n")
    (clone / ".pytest_cache").mkdir()
    result = run_install(clone, "--copy-code", str(target))
    assert result.stdout.strip() == f"{target} is up to date", result.stdout
    (clone / "booth" / "config.py").write_text((clone / "booth" / "config.py").read_text() + "\n# edit\n")
    assert run_install(clone, "--copy-code", str(target)).stdout.strip() == f"copied the booth to {target}"


def stub_commands(folder: Path, commands: dict[str, str]) -> dict:
    """An environment whose PATH finds these shell scripts first (a Pi's apt and dpkg)."""
    folder.mkdir(exist_ok=True)
    for name, body in commands.items():
        (folder / name).write_text("#!/bin/sh\n" + body + "\n")
        (folder / name).chmod(0o755)
    return dict(os.environ, PATH=f"{folder}:{os.environ['PATH']}")


#: A 64-bit Raspberry Pi OS where nothing is installed yet and apt has every package but
#: the three that only Raspberry Pi OS's archive holds.
PI_APT = {
    "dpkg": 'if [ "$1" = --print-architecture ]; then echo arm64; else exec /usr/bin/dpkg "$@"; fi',
    "dpkg-query": "exit 1",
    "sudo": 'exec "$@"',
    # A real answer goes on with the version table, long for chromium: whoever reads
    # it must read it to the end (apt-cache dies of SIGPIPE otherwise).
    "apt-cache": 'case "$2" in python3-picamera2|python3-libcamera|python3-lgpio|chromium-browser) '
                 'echo "  Candidate: (none)" ;; *) echo "  Candidate: 1.0"; seq 100000 ;; esac',
}


#: The kiosk's browser, asked of apt where this machine has none yet.
KIOSK_BROWSER = [] if shutil.which("chromium") or shutil.which("chromium-browser") else ["chromium"]
#: The kiosk's and the prints' fonts for the guests' languages (CJK, Arabic).
KIOSK_FONTS = ["fonts-noto-cjk", "fonts-noto-core"]


def test_a_failing_apt_stops_the_install_with_its_log(clone, tmp_path):
    env = stub_commands(tmp_path / "bin", {**PI_APT, "apt-get": (
        'case "$*" in *install*) echo "E: Unable to fetch some archives, maybe run apt-get update" >&2; '
        'exit 100 ;; esac')})
    result = run_install(clone, "--pi", "--kiosk", "none", "--prefix", str(tmp_path / "opt"), env=env)
    assert result.returncode == 1
    wanted = " ".join(["python3-numpy", "python3-venv", "python3-pip", "rsync", *KIOSK_FONTS,
                       "libcairo2", *KIOSK_BROWSER])
    assert f"install.sh: installing apt packages: {wanted} failed; see {clone}/install.log" in result.stderr
    assert "E: Unable to fetch some archives" in result.stderr  # the log's last lines
    assert not (tmp_path / "opt").exists()


def test_packages_only_in_raspberry_pi_os_are_skipped_with_one_line(clone, tmp_path):
    asked = tmp_path / "apt-get-install"
    env = stub_commands(tmp_path / "bin", {**PI_APT, "apt-get": (
        f'case "$*" in *install*) echo "$*" > {asked}; exit 100 ;; esac')})
    result = run_install(clone, "--pi", "--kiosk", "none", "--prefix", str(tmp_path / "opt"), env=env)
    lines = result.stdout.splitlines()
    assert lines[0] == ("==> skipped (not in this system's apt archive, only in Raspberry Pi OS's): "
                        "python3-picamera2 python3-libcamera python3-lgpio")
    assert lines[1] == "==> installing apt packages: " + " ".join(
        ["python3-numpy", "python3-venv", "python3-pip", "rsync", *KIOSK_FONTS, "libcairo2", *KIOSK_BROWSER])
    assert asked.read_text().split() == ["install", "-y", "-qq", "python3-numpy", "python3-venv",
                                         "python3-pip", "rsync", *KIOSK_FONTS, "libcairo2", *KIOSK_BROWSER]


def test_pi_dry_run_sets_up_the_hotspot_last(clone, tmp_path):
    """Bringing the hotspot up may fail or end a Wi-Fi SSH session: the service and the
    kiosk are installed before it."""
    enable_hotspot(clone / "config.toml")
    result = run_install(clone, "--pi", "--dry-run", "--kiosk", "cage", "--prefix", str(tmp_path / "opt"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    hotspot = out.index("==> the booth's own Wi-Fi ([network] hotspot)")
    for step in ("write /etc/systemd/system/booth.service", "systemctl restart --no-block booth.service",
                 "systemctl enable booth-kiosk.service"):
        assert out.index(step) < hotspot, step


def test_desktop_kiosk_makes_the_users_folders_and_marks_itself_done_last(clone, tmp_path):
    """raspi-config (screen blanking off, desktop auto-login) runs before the autostart block
    that marks the step done, so an interrupted install is completed by the next run; each
    folder is made the user's own (install -d -o gives the parents to root)."""
    env = stub_commands(tmp_path / "bin", {"raspi-config": "exit 0"})
    env["SUDO_USER"] = "nobody"
    home = subprocess.run(["getent", "passwd", "nobody"], capture_output=True, text=True,
                          check=True).stdout.split(":")[5]
    group = subprocess.run(["id", "-gn", "nobody"], capture_output=True, text=True, check=True).stdout.strip()
    result = run_install(clone, "--pi", "--dry-run", "--kiosk", "desktop", "--prefix", str(tmp_path / "opt"),
                         env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    order = ["raspi-config nonint do_blanking 1", "raspi-config nonint do_boot_behaviour B4",
             f"install -d -o nobody -g {group} -m 0755 {home}/.config\n",
             f"install -d -o nobody -g {group} -m 0755 {home}/.config/labwc\n",
             f"write {home}/.config/labwc/autostart"]
    positions = [out.index(step) for step in order]
    assert positions == sorted(positions), out


def test_pi_opencv_is_the_major_the_tests_run():
    """On numpy 2 (Trixie) pip would take any OpenCV: the Pi gets the major this suite runs."""
    import cv2
    from packaging.specifiers import SpecifierSet

    pin = [line for line in constraints(PROJECT_ROOT / ".venv" / "bin" / "python")
           if line.startswith("opencv-python-headless")]
    assert len(pin) == 1
    assert cv2.__version__ in SpecifierSet(pin[0].removeprefix("opencv-python-headless"))


def test_the_shell_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck") or pytest.fail("shellcheck is missing: ./install.sh --test installs it")
    scripts = [INSTALL, PROJECT_ROOT / "systemd" / "booth-kiosk", *sorted((PROJECT_ROOT / "scripts").glob("*.sh"))]
    result = subprocess.run([shellcheck, "-S", "warning", *map(str, scripts)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout
