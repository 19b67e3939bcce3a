"""The systemd units and the kiosk launcher, as install.sh renders and installs them.

The units are rendered by install.sh itself (``--render-units``) with this checkout
as the install root, so ExecStart points at real files, and checked with
``systemd-analyze verify``. The kiosk launcher runs for real against a waitress
server on 127.0.0.1; only the browser is a stand-in (there is no HDMI screen here).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from booth import PROJECT_ROOT

INSTALL = PROJECT_ROOT / "install.sh"
KIOSK = PROJECT_ROOT / "systemd" / "booth-kiosk"


def _ensure_systemd_analyze() -> str:
    """systemd-analyze, installing Debian's systemd package if needed (CI runs as root)."""
    found = shutil.which("systemd-analyze")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail("systemd-analyze is missing: sudo apt-get install systemd")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "systemd"], check=True, env=env)
    return shutil.which("systemd-analyze") or pytest.fail("systemd-analyze still missing")


@pytest.fixture(scope="module")
def units(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("units")
    result = subprocess.run([str(INSTALL), "--render-units", str(out), "--prefix", str(PROJECT_ROOT)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return out


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as lists of (key, value); keys may repeat (Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def verify(*paths: Path) -> subprocess.CompletedProcess:
    analyze = _ensure_systemd_analyze()
    return subprocess.run([analyze, "verify", *map(str, paths)], capture_output=True, text=True,
                          timeout=120)


def test_rendered_units_pass_systemd_analyze_verify(units):
    result = verify(units / "booth.service", units / "booth-kiosk.service")
    # verify also prints (but does not fail on) unknown keys and bad values: none allowed.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == "", result.stderr + result.stdout


def test_verify_catches_a_broken_unit(units, tmp_path):
    """The check above can fail: a unit whose program does not exist is rejected."""
    broken = tmp_path / "booth.service"
    broken.write_text((units / "booth.service").read_text().replace(
        f"ExecStart={PROJECT_ROOT}", "ExecStart=/nonexistent"))
    result = verify(broken)
    assert result.returncode != 0
    assert "/nonexistent/.venv/bin/booth" in result.stderr
    typo = tmp_path / "typo.service"
    typo.write_text((units / "booth.service").read_text().replace("WatchdogSec=", "WatchdogSecs="))
    assert "Unknown key" in verify(typo).stderr


def test_booth_service_is_a_watched_notify_service(units):
    unit = parse_unit(units / "booth.service")
    service = unit["Service"]
    assert values(service, "Type") == ["notify"]
    assert int(values(service, "WatchdogSec")[0]) >= 10
    # A cold compile on a Pi 4 takes minutes: the start timeout must allow it.
    assert int(values(service, "TimeoutStartSec")[0]) >= 300
    assert values(service, "Restart") == ["on-failure"]
    assert int(values(unit["Unit"], "StartLimitBurst")[0]) >= 3
    assert int(values(unit["Unit"], "StartLimitIntervalSec")[0]) > 0
    exec_start = values(service, "ExecStart")[0].split()
    assert exec_start[:2] == [f"{PROJECT_ROOT}/.venv/bin/booth", "run"]
    assert Path(exec_start[0]).is_file()
    assert values(unit["Install"], "WantedBy") == ["multi-user.target"]


def test_booth_service_user_devices_and_hardening(units):
    service = parse_unit(units / "booth.service")["Service"]
    assert values(service, "User") == ["booth"]
    assert set(values(service, "SupplementaryGroups")[0].split()) == {"video", "gpio", "render"}
    assert values(service, "StateDirectory") == ["booth"]
    env = dict(v.split("=", 1) for v in values(service, "Environment"))
    assert env["BOOTH_DATA_DIR"] == "/var/lib/booth"
    # lgpio writes its pipes to $LG_WD: it must be a directory the service can write.
    assert env["LG_WD"] == "/run/booth" and values(service, "RuntimeDirectory") == ["booth"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                       "ProtectHome": "yes"}.items():
        assert values(service, key) == [value], key
    keys = {k for k, _ in service}
    # The camera and GPIO are device nodes; OpenVINO's ARM plugin JIT-compiles kernels.
    for forbidden in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "MemoryDenyWriteExecute",
                      "ProtectClock", "PrivateUsers"):
        assert forbidden not in keys, forbidden


def test_kiosk_service_waits_for_the_booth_and_never_gives_up(units):
    unit = parse_unit(units / "booth-kiosk.service")
    assert "booth.service" in values(unit["Unit"], "After")[0].split()
    assert values(unit["Unit"], "StartLimitIntervalSec") == ["0"]
    service = unit["Service"]
    assert values(service, "Restart") == ["always"]
    exec_start = values(service, "ExecStart")[0].split()
    assert exec_start == [str(KIOSK), "--cage", "http://127.0.0.1:8080/kiosk"]
    assert values(service, "TTYPath") == ["/dev/tty1"]


def test_labwc_autostart_snippet_starts_the_kiosk(units):
    text = (units / "labwc-autostart").read_text()
    commands = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert commands == [f"{KIOSK} http://127.0.0.1:8080/kiosk &"]
    assert os.access(KIOSK, os.X_OK)


# --- the kiosk launcher, run for real (only the browser is a stand-in: no screen here) ---

FAKE_BROWSER = """#!/bin/sh
# Stands in for chromium (no HDMI screen on CI): records its arguments, then "crashes".
echo "$*" >> "{log}"
sleep 0.3
exit 1
"""


@pytest.fixture
def kiosk_env(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "browser.log"
    browser = bin_dir / "chromium"
    browser.write_text(FAKE_BROWSER.format(log=log))
    browser.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin", XDG_RUNTIME_DIR=str(tmp_path))
    return env, log


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_kiosk_waits_for_the_booth_then_restarts_the_browser_when_it_dies(kiosk_env, tmp_path):
    import waitress
    from flask import Flask

    from boothkit import free_port

    env, log = kiosk_env
    port = free_port()
    url = f"http://127.0.0.1:{port}/kiosk"
    kiosk = subprocess.Popen([str(KIOSK), url], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    server = None
    try:
        # No booth yet: the kiosk must not open the browser on an error page.
        time.sleep(3)
        assert not log.exists(), "the browser was started before the booth answered"
        app = Flask("fake_booth_unavailable")

        @app.get("/kiosk")
        def kiosk_page():
            return "booth starting", 503  # any answer counts: the page explains itself

        server = waitress.create_server(app, host="127.0.0.1", port=port)
        threading.Thread(target=server.run, daemon=True).start()
        assert _wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 2), \
            "the browser was not restarted after it exited"
        first = log.read_text().splitlines()[0].split()
        assert "--kiosk" in first and first[-1] == url
        assert any(a.startswith("--user-data-dir=") for a in first)
    finally:
        os.killpg(kiosk.pid, signal.SIGTERM)
        kiosk.wait(timeout=10)
        if server is not None:
            server.close()
            server.task_dispatcher.shutdown()  # close() alone leaves the worker threads


def test_kiosk_without_a_browser_says_how_to_install_one(tmp_path):
    env = dict(os.environ, PATH=f"{tmp_path}:/bin", XDG_RUNTIME_DIR=str(tmp_path))
    # /bin may hold chromium on a merged-/usr system: use an empty PATH for the lookup.
    env["PATH"] = str(tmp_path)
    result = subprocess.run(["/bin/bash", str(KIOSK), "http://127.0.0.1:9/kiosk"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip() == "booth-kiosk: chromium is not installed (sudo apt install chromium)"
