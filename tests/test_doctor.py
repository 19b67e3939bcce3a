"""``booth doctor``: real checks on this machine, and each failure reported with its fix.

The checks run against the real model files (copied and damaged in tmp_path for the
failure cases), the real folder camera over the shared photos, gpiozero's real pin
factory lookup, the real disk, and a real booth web server on 127.0.0.1. There is no
Pi camera and no GPIO here, so those are WARN (never FAIL) off a Pi.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from booth import PROJECT_ROOT, config
from booth.cli import doctor
from booth.model import weights

BOOTH = PROJECT_ROOT / ".venv" / "bin" / "booth"


def booth_doctor(*args: str, env: dict | None = None, cwd: Path | None = None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([str(BOOTH), "doctor", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=300)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def lines_of(stdout: str, name: str) -> list[str]:
    return [line for line in stdout.splitlines() if line[5:].startswith(f"{name} ")]


@pytest.fixture
def demo_config(tmp_path, photos) -> Path:
    return write_config(tmp_path, f'[booth]\ndata_dir = "{tmp_path}/data"\n'
                                  f'[camera]\nbackend = "folder"\nfolder = "{photos}/faces"\n')


def test_doctor_on_a_ready_dev_machine(demo_config):
    result = booth_doctor("--config", str(demo_config), "--quick",
                          env={"GPIOZERO_PIN_FACTORY": "mock"})
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert out.splitlines()[0].startswith(f"booth doctor: config {demo_config}")
    (camera,) = lines_of(out, "camera")
    assert camera.startswith("PASS camera   folder: captured a ") and camera.endswith(" frame")
    (gpio,) = lines_of(out, "gpio")
    assert gpio.startswith("WARN gpio     mock pins: not a Raspberry Pi")
    models = lines_of(out, "models")
    for entry in weights.manifest().values():
        assert f"PASS models   {entry.file}: sha256 ok" in models
    assert "PASS models   generator_int8.xml built (for precision int8)" in models
    (ov_line,) = lines_of(out, "openvino")
    assert ov_line.startswith("PASS openvino OpenVINO 20") and "precision not checked (--quick)" in ov_line
    (disk,) = lines_of(out, "disk")
    assert disk.startswith("PASS disk") and f"MB free for {demo_config.parent}/data" in disk
    (address,) = lines_of(out, "address")
    assert "QR codes point to http://" in address
    assert out.splitlines()[-1].endswith("0 failed")


def test_damaged_and_missing_model_files_fail_with_the_fix(tmp_path, demo_config):
    broken = tmp_path / "weights"
    broken.mkdir()
    entries = list(weights.manifest().values())
    damaged, missing = entries[0], entries[1]
    data = bytearray(damaged.path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    (broken / damaged.file).write_bytes(bytes(data))
    for entry in entries[2:]:
        (broken / entry.file).parent.mkdir(parents=True, exist_ok=True)  # demo/ photos
        shutil.copy(entry.path, broken / entry.file)
    result = booth_doctor("--config", str(demo_config), "--quick", "--json",
                          env={"BOOTH_WEIGHTS_DIR": str(broken), "GPIOZERO_PIN_FACTORY": "mock"})
    assert result.returncode == 1
    checks = {(c["name"], c["message"].split(":")[0].split(" ")[0]): c for c in json.loads(result.stdout)}
    bad = checks[("models", damaged.file)]
    assert bad["status"] == "FAIL" and "sha256 does not match the manifest" in bad["message"]
    assert bad["fix"] == f"delete {broken / damaged.file} and run booth weights fetch"
    gone = checks[("models", missing.file)]
    assert gone["status"] == "FAIL" and gone["message"] == f"{missing.file} is missing from {broken}"
    assert gone["fix"].startswith("booth weights fetch")
    ir = checks[("models", "generator_int8.xml")]
    assert ir["status"] == "FAIL" and ir["fix"] == "booth weights build (or ./install.sh)"


def test_failures_print_a_fix_line_and_exit_1(tmp_path, photos):
    # More free space asked for than any disk has.
    cfg = write_config(tmp_path, f'[booth]\ndata_dir = "{tmp_path}/data"\n'
                                 f'[camera]\nbackend = "folder"\nfolder = "{photos}/faces"\n'
                                 f'[storage]\nmin_free_mb = 1000000000\n')
    result = booth_doctor("--config", str(cfg), "--quick")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    (index,) = [i for i, line in enumerate(lines) if line.startswith("FAIL disk")]
    assert "below [storage] min_free_mb = 1000000000" in lines[index]
    assert lines[index + 1].strip().startswith("fix: delete old photos")
    assert lines[-1].endswith("1 failed")


def test_bad_config_is_one_line_not_a_traceback(tmp_path):
    result = booth_doctor("--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"booth doctor: {tmp_path / 'nope.toml'}: config file not found"


def test_missing_camera_is_a_warning_off_a_pi_with_the_fix(tmp_path):
    settings = config.defaults().replace("camera", backend="opencv", device="/dev/video-nonexistent")
    check = doctor.check_camera(settings.replace("web", port=_closed_port()), on_pi=False)
    assert check.status == "WARN"
    assert "/dev/video-nonexistent" in check.message
    assert "rpicam-hello --list-cameras" in check.fix
    on_pi = doctor.check_camera(settings.replace("web", port=_closed_port()), on_pi=True)
    assert on_pi.status == "FAIL"


def _closed_port() -> int:
    from boothkit import free_port

    return free_port()  # nothing listens there: no running booth to ask


def test_camera_comes_from_the_running_booth(tmp_path, face_photo):
    """On a Pi the service holds the camera: doctor asks the booth's /healthz instead."""
    from webbooth import scripted_booth

    from booth.web import create_app, serve

    booth = scripted_booth(tmp_path, face_photo)
    booth.health_override = {"ok": False, "camera": {"ok": False, "backend": "picamera2",
                                                     "message": "Pi camera: none connected"}}
    server = serve(create_app(booth), "127.0.0.1", 0, 2)
    try:
        settings = booth.settings.replace("web", port=server.port)
        check = doctor.check_camera(settings, on_pi=True)
        assert check.status == "FAIL"
        assert check.message == ("picamera2: Pi camera: none connected "
                                 "(reported by the running booth)")
        booth.health_override = {}
        ok = doctor.check_camera(settings, on_pi=True)
        assert ok.status == "PASS" and ok.message.startswith("folder: demo photos")
    finally:
        server.close()
        booth.close()


def test_gpio_without_a_real_factory_fails_on_a_pi_only():
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    settings = config.defaults()
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        off_pi = doctor.check_gpio(settings, on_pi=False)
        on_pi = doctor.check_gpio(settings, on_pi=True)
        relaxed = doctor.check_gpio(settings.replace("button", require_real_gpio=False), on_pi=True)
    finally:
        Device.pin_factory.close()
        Device.pin_factory = previous
    assert off_pi.status == "WARN"
    assert on_pi.status == "FAIL" and "python3-lgpio" in on_pi.fix
    assert relaxed.status == "WARN"


def test_address_configured_and_detected():
    configured = config.defaults().replace("web", base_url="http://10.42.0.1:8080")
    check = doctor.check_address(configured)
    assert (check.status, check.message) == ("PASS", "QR codes point to http://10.42.0.1:8080 ([web] base_url)")
    local_only = doctor.check_address(config.defaults().replace("web", host="127.0.0.1"))
    assert local_only.status in ("WARN", "FAIL")  # WARN: listens locally; FAIL: no network at all


def test_precision_report_names_the_runtime_precisions(tmp_path):
    """Compiles the real generator: which precision the CPU plugin really runs."""
    for precision in ("int8", "f32"):
        settings = config.defaults().replace("generator", precision=precision)
        check = doctor.check_openvino(settings, compile_model=True)
        assert check.status in ("PASS", "WARN"), check.message
        assert "convolutions " in check.message
        if precision == "f32":
            assert check.status == "PASS"
            assert "inference precision f32" in check.message and "in f32" in check.message
        elif check.status == "PASS":   # x86-64 with INT8 kernels: some convolutions in u8/i8
            assert " in u8" in check.message or " in i8" in check.message
        else:                          # a CPU without INT8 kernels says so, with the fix
            assert "simulated in float" in check.message and "booth bench" in check.fix


def test_precision_report_says_what_auto_runs_and_why():
    import json

    from booth.model import weights

    card = json.loads((weights.WEIGHTS_DIR / weights.MODEL_CARD).read_text())
    settings = config.defaults()  # precision "auto"
    check = doctor.check_openvino(settings, compile_model=True)
    assert f"runs {card['precision']['chosen']} (auto: {card['precision']['why']})" in check.message
    forced = doctor.check_openvino(settings.replace("generator", precision="f32"), compile_model=True)
    assert 'runs f32 (set in the config ([generator] precision = "f32"))' in forced.message


def test_sudo_doctor_on_an_installed_pi_checks_as_the_service_runs(tmp_path, capfd, monkeypatch):
    """`sudo booth doctor` reads the installed unit and checks with its user, environment
    and working directory: its data directory, not one beside /etc/booth/config.toml.
    The unit is install.sh's own, rendered; its user is root here because this machine's
    Python lives in /root (the booth user's own run is scripts/pi_emulated.sh's check)."""
    if os.geteuid() != 0:
        pytest.fail("run the tests as root (CI does): the doctor re-runs itself as the service's user only under sudo")
    units = tmp_path / "units"
    subprocess.run([str(PROJECT_ROOT / "install.sh"), "--render-units", str(units), "--prefix",
                    str(PROJECT_ROOT)], check=True, capture_output=True, timeout=60)
    state = tmp_path / "var-lib-booth"
    state.mkdir()
    unit = units / "booth.service"
    unit.write_text(unit.read_text().replace("User=booth", "User=root")
                    .replace("/var/lib/booth", str(state)))
    etc = tmp_path / "etc-booth"
    etc.mkdir()
    config_path = write_config(etc, "")  # data_dir left at its relative default
    monkeypatch.setattr(doctor, "INSTALLED_UNIT", unit)
    assert doctor.service_identity() == doctor.ServiceIdentity(
        "root", {"BOOTH_DATA_DIR": str(state), "LG_WD": "/run/booth", "PYTHONUNBUFFERED": "1",
                 "OPENVINO_TELEMETRY_OPT_OUT": "1"}, str(state))
    args = doctor.argparse.Namespace(config=str(config_path), quick=True, json=False)
    doctor.run(args)
    out = capfd.readouterr().out
    assert out.startswith(f"booth doctor: checking as the service runs: user root, in {state}\n")
    assert f"data in {state}\n" in out
    assert [line for line in out.splitlines() if line[5:].startswith("disk ")][0].endswith(f"free for {state}")
    assert not (etc / "data").exists()


def test_no_service_identity_without_its_user(tmp_path):
    unit = tmp_path / "booth.service"
    unit.write_text("[Service]\nUser=no-such-user-here\nExecStart=/bin/true\n")
    assert doctor.service_identity(unit) is None
    assert doctor.service_identity(tmp_path / "missing.service") is None


def test_service_line_without_a_running_systemd_is_a_warning(tmp_path, monkeypatch):
    """In a chroot or a container (this machine, the emulated Pi) the unit is installed
    but nothing can run it: a named warning, not a failure of the booth."""
    monkeypatch.setattr(doctor, "SYSTEMD_RUNTIME", tmp_path / "no-systemd-here")
    check = doctor.check_service()
    assert (check.status, check.message) == (
        "WARN", "systemd is not running here (a chroot or a container): booth.service is installed but cannot run")
    running = tmp_path / "run-systemd-system"
    running.mkdir()
    monkeypatch.setattr(doctor, "SYSTEMD_RUNTIME", running)
    assert "systemd is not running here" not in doctor.check_service().message  # systemctl asked
