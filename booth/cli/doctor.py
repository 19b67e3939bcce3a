"""``booth doctor``: is this booth ready for an event? One line per part, with the fix.

    $ booth doctor
    PASS camera   picamera2: imx708 (reported by the running booth)
    PASS gpio     button on real GPIO (LGPIOFactory)
    PASS models   animeganv2_hayao_256x256_integer_quant.tflite: sha256 ok
    ...
    FAIL disk     312 MB free in /var/lib/booth, below [storage] min_free_mb = 500
                  fix: delete old photos (admin page) or use a bigger SD card

Every check returns a :class:`Check` (PASS, WARN or FAIL, what was found, and for
anything not PASS how to fix it); the exit status is 1 when any check FAILs. A WARN
is something that works but deserves a look (no GPIO on a dev machine, a guessed
QR address). Off a Raspberry Pi, missing Pi hardware is a WARN, never a FAIL: the
booth still runs with ``--demo``.

On an installed Pi the service holds the camera, so when a booth answers on
127.0.0.1 the camera line comes from its ``/healthz`` instead of opening the camera
a second time.

``sudo booth doctor`` on an installed Pi checks as the service runs: as its user (so the
camera, GPIO and file checks test the booth user's rights, not root's), with its
environment (its data directory, not one beside /etc/booth/config.toml) and working
directory, read from the installed unit.

Each check imports what it examines inside itself: a missing or broken package
(OpenVINO, OpenCV, gpiozero) is a finding the doctor reports on its line, not a reason
for the doctor not to start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import pwd
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from booth import config
from booth.config import Settings
from booth.errors import CameraError, UserError, WeightsError

#: Where install.sh puts the config and the service on a Pi.
INSTALLED_CONFIG = Path("/etc/booth/config.toml")
INSTALLED_UNIT = Path("/etc/systemd/system/booth.service")
#: Exists only while systemd runs this machine.
SYSTEMD_RUNTIME = Path("/run/systemd/system")

#: Convolution-like layers whose run-time precision says whether INT8 really runs.
_MATMUL_LAYERS = {"Convolution", "GroupConvolution", "Deconvolution", "FullyConnected"}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "PASS" | "WARN" | "FAIL"
    message: str
    fix: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH",
                        help=f"config file (default: {INSTALLED_CONFIG} if it exists, else config.toml)")
    parser.add_argument("--quick", action="store_true",
                        help="skip compiling the generator (no precision report)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")


def run(args: argparse.Namespace) -> int:
    service = service_identity()
    if os.geteuid() == 0 and service is not None:
        return run_as_service(service, args)
    path = args.config or (INSTALLED_CONFIG if INSTALLED_CONFIG.is_file() else None)
    if path is not None and Path(path).is_file() and not os.access(path, os.R_OK):
        # install.sh makes the installed config readable by root and the booth only.
        raise UserError(f"{path} is readable by root and the booth user only: "
                        f"run sudo {Path(sys.argv[0]).name} doctor")
    settings = config.load(path)
    checks = run_checks(settings, compile_model=not args.quick)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        print(f"booth doctor: config {path or config.DEFAULT_CONFIG_PATH}, data in {data_dir(settings)}")
        for check in checks:
            print(format_check(check))
        counts = {s: sum(c.status == s for c in checks) for s in ("PASS", "WARN", "FAIL")}
        print(f"{counts['PASS']} passed, {counts['WARN']} warnings, {counts['FAIL']} failed")
    return 1 if any(c.status == "FAIL" for c in checks) else 0


@dataclass(frozen=True)
class ServiceIdentity:
    """Who and where the installed service runs: its User=, Environment= and WorkingDirectory=."""
    user: str
    environment: dict[str, str]
    working_directory: str


def service_identity(unit: Path | None = None) -> ServiceIdentity | None:
    """The installed unit's identity, or None without a unit or when its user does not exist."""
    try:
        text = (unit or INSTALLED_UNIT).read_text(encoding="utf-8")
    except OSError:
        return None
    keys: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith(("#", ";")):
            keys.setdefault(key.strip(), []).append(value.strip())
    user = (keys.get("User") or [""])[-1]
    try:
        pwd.getpwnam(user)
    except KeyError:
        return None
    environment = dict(v.split("=", 1) for v in keys.get("Environment", []) if "=" in v)
    return ServiceIdentity(user, environment, (keys.get("WorkingDirectory") or ["/"])[-1])


def run_as_service(service: ServiceIdentity, args: argparse.Namespace) -> int:
    """Run this doctor again as the service's user, with its environment and folder."""
    argv = [sys.executable, "-m", "booth", "doctor"]
    argv += ["--config", args.config] if args.config else []
    argv += ["--quick"] * args.quick + ["--json"] * args.json
    entry = pwd.getpwnam(service.user)
    env = {**os.environ, **service.environment, "HOME": entry.pw_dir, "USER": service.user,
           "LOGNAME": service.user}
    # lgpio writes its pipes to $LG_WD: the unit's /run/booth exists only while it runs.
    if not os.path.isdir(env.get("LG_WD", "/")):
        env.pop("LG_WD")
    if not args.json:
        print(f"booth doctor: checking as the service runs: user {service.user}, "
              f"in {service.working_directory}", flush=True)
    # setpriv (util-linux) takes the user's groups too: video, render, gpio.
    command = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--", *argv]
    cwd = service.working_directory if os.path.isdir(service.working_directory) else "/"
    return subprocess.run(command, env=env, cwd=cwd, check=False).returncode


def format_check(check: Check) -> str:
    line = f"{check.status} {check.name:<8} {check.message}"
    if check.fix and check.status != "PASS":
        line += f"\n{'':14}fix: {check.fix}"
    return line


def run_checks(settings: Settings, *, compile_model: bool = True) -> list[Check]:
    from booth.devices.button import is_raspberry_pi

    on_pi = is_raspberry_pi()
    checks = [check_camera(settings, on_pi), check_gpio(settings, on_pi)]
    checks += check_models(settings)
    checks.append(check_openvino(settings, compile_model))
    checks.append(check_mirror(settings, compile_model))
    checks.append(check_disk(settings))
    checks.append(check_address(settings))
    checks += check_network(settings, on_pi)
    if settings.print.enabled:
        checks.append(check_printer(settings))
    if settings.sync.remote:
        checks.append(check_sync(settings))
    if INSTALLED_UNIT.is_file():
        checks.append(check_service())
    return checks


def data_dir(settings: Settings) -> Path:
    """The data directory the booth uses: the installed service's, else the config's."""
    try:
        unit = INSTALLED_UNIT.read_text(encoding="utf-8")
    except OSError:
        return settings.data_dir
    match = re.search(r"^Environment=BOOTH_DATA_DIR=(\S+)", unit, re.MULTILINE)
    return Path(match.group(1)) if match else settings.data_dir


def running_booth_health(settings: Settings) -> dict | None:
    """The /healthz of a booth already running on this machine, or None."""
    url = f"http://127.0.0.1:{settings.web.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:  # 503: running, but cannot take photos
        try:
            return json.load(exc)
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def check_camera(settings: Settings, on_pi: bool) -> Check:
    """Open the configured camera backend once (or ask the running booth about it)."""
    from booth.devices.camera import backend_factory
    health = running_booth_health(settings)
    if health and isinstance(health.get("camera"), dict):
        cam = health["camera"]
        where = f"{cam.get('backend', '?')}: {cam.get('message', '')} (reported by the running booth)"
        if cam.get("ok"):
            return Check("camera", "PASS", where)
        return Check("camera", "FAIL" if on_pi else "WARN", where, _camera_fix(settings))
    import cv2

    camera = backend_factory(settings.camera, settings.base_dir)()
    # OpenCV logs a warning per missing webcam; the camera line already says it.
    log_level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        camera.open()
    except CameraError as exc:
        return Check("camera", "FAIL" if on_pi else "WARN", str(exc), _camera_fix(settings))
    finally:
        cv2.utils.logging.setLogLevel(log_level)
    try:
        frame = camera.capture()
        return Check("camera", "PASS", f"{camera.name}: captured a {frame.shape[1]}x{frame.shape[0]} frame")
    except CameraError as exc:
        return Check("camera", "FAIL", f"{camera.name}: opens but cannot capture ({exc})", _camera_fix(settings))
    finally:
        camera.close()


def _camera_fix(settings: Settings) -> str:
    if settings.camera.backend == "folder":
        return "set [camera] folder to a folder of JPEG/PNG photos"
    return ("Pi camera: power off, reseat the ribbon cable (contacts toward the board's "
            "contacts) and check `rpicam-hello --list-cameras`; USB webcam: set [camera] "
            'backend = "opencv"; no camera (dev machine): `booth run --demo`')


def check_gpio(settings: Settings, on_pi: bool) -> Check:
    """Which pin factory gpiozero picks here: real, mock, or none."""
    from gpiozero import Device
    from gpiozero.exc import BadPinFactory

    from booth.devices.button import gpio_check

    factory = Device.pin_factory
    made_here = factory is None
    if made_here:
        with warnings.catch_warnings():  # gpiozero warns about each factory it skips
            warnings.simplefilter("ignore")
            try:
                Device.ensure_pin_factory()  # gpiozero's own choice of factory, as a button's
                factory = Device.pin_factory
            except (BadPinFactory, Exception):  # any factory error means "no GPIO"
                factory = None
            finally:
                Device.pin_factory = None  # the doctor only looks: it closes what it made
    try:
        result = gpio_check(factory, on_pi=on_pi, require_real=settings.button.require_real_gpio)
    finally:
        if made_here and factory is not None:
            factory.close()
    if result["real"]:
        return Check("gpio", "PASS", f"{result['message']}, button on GPIO{settings.button.pin}")
    fix = ("sudo apt install python3-lgpio, make sure the venv sees system packages "
           "(./install.sh does), unset GPIOZERO_PIN_FACTORY" if on_pi else
           "none needed off a Pi: press Space on the kiosk or POST /api/trigger")
    return Check("gpio", "WARN" if result["ok"] else "FAIL", result["message"], fix)


def check_models(settings: Settings) -> list[Check]:
    """Every manifest file present with its published sha256, and the built IR."""
    from booth.model import weights
    from booth.vision.generator import PRECISIONS, resolve_precision

    checks = []
    for entry in weights.manifest().values():
        if not entry.path.is_file():
            checks.append(Check("models", "FAIL", f"{entry.file} is missing from {weights.WEIGHTS_DIR}",
                                "booth weights fetch (or ./install.sh; offline: --mirror DIR)"))
        elif not weights.verify(entry):
            checks.append(Check("models", "FAIL", f"{entry.file}: sha256 does not match the manifest "
                                f"(damaged or replaced)",
                                f"delete {entry.path} and run booth weights fetch"))
        else:
            checks.append(Check("models", "PASS", f"{entry.file}: sha256 ok"))
    precision, _ = resolve_precision(settings.generator.precision)
    variant, _ = PRECISIONS[precision]
    ir = weights.WEIGHTS_DIR / weights.GENERATOR_IR[variant]
    if ir.is_file() and ir.with_suffix(".bin").is_file():
        checks.append(Check("models", "PASS", f"{ir.name} built (for precision {precision})"))
    else:
        checks.append(Check("models", "FAIL", f"{ir.name} (for precision {precision}) "
                            f"is not built", "booth weights build (or ./install.sh)"))
    return checks


def check_openvino(settings: Settings, compile_model: bool) -> Check:
    """OpenVINO's version, the CPU, and the precision the CPU plugin really runs."""
    import openvino as ov

    core = ov.Core()
    cpu = core.get_property("CPU", "FULL_DEVICE_NAME")
    capabilities = ",".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    about = f"OpenVINO {ov.get_version().split('-')[0]} on {cpu} ({capabilities})"
    if not compile_model:
        return Check("openvino", "PASS", f"{about}; precision not checked (--quick)")
    import numpy as np
    from booth.measure.int8_report import compiled_int8_share
    from booth.vision.generator import Generator, resolve_precision, working_shape

    precision, why = resolve_precision(settings.generator.precision)
    try:
        gen = Generator(precision=precision, threads=settings.generator.threads)
    except WeightsError as exc:
        return Check("openvino", "FAIL", f"{about}; {exc}", "booth weights build (or ./install.sh)")
    except Exception as exc:  # this OpenVINO cannot run the generator on this CPU
        return Check("openvino", "FAIL", f"{about}; cannot compile the generator: {exc}",
                     "./install.sh again (it pins the OpenVINO release tested on the Pi's cores)")
    if precision == "int8":
        # The plugin decides per layer once it knows the input's shape.
        shape = working_shape(min(settings.generator.sizes), settings.face.aspect)
        gen.stylize(np.full((*shape, 3), 127, np.uint8))
    precisions = runtime_precisions(gen)
    hint = gen.inference_precision
    summary = ", ".join(f"{n} in {p}" for p, n in sorted(precisions.items()))
    message = (f"{about}; runs {precision} ({why}): inference precision {hint}, "
               f"convolutions {summary}")
    if precision == "int8":
        share = compiled_int8_share(gen.model_path, gen.runtime_model, shape)
        message += f"; {share}"
    if precision == "int8" and share.int8 == 0:
        return Check("openvino", "WARN", message + " (the INT8 graph runs simulated in float here)",
                     "compare `booth bench` with precision int8, f16 and f32 on this board and set "
                     "[generator] precision to the fastest")
    return Check("openvino", "PASS", message)


#: Below this rate the anime mirror looks jerky; it then steps down to smaller frames.
MIRROR_GOOD_FPS = 15.0


def check_mirror(settings: Settings, compile_model: bool, frames: int = 12) -> Check:
    """The rate the live anime mirror reaches here, at [preview] size and threads."""
    preview = settings.preview
    if not preview.anime:
        return Check("mirror", "PASS", "anime mirror off ([preview] anime = false): plain preview")
    if not compile_model:
        return Check("mirror", "PASS", "anime mirror on; its rate not measured (--quick)")
    import numpy as np

    from booth.measure.timing import median_ms
    from booth.vision import mirror

    try:
        network = mirror.mirror_network(settings)
        h, w = mirror.frame_shape(preview.size, 4 / 3)
        x = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        ms = median_ms(lambda: network.stylize(x), frames, warmup=2)
    except Exception as exc:
        return Check("mirror", "FAIL", f"anime mirror cannot run: {str(exc).splitlines()[0]}",
                     f"booth styles build {preview.style}, or set [preview] anime = false")
    fps = 1000 / ms
    message = (f"anime mirror ({preview.style}, {network.precision}) {fps:.1f} frames/s at "
               f"{w}x{h} on {preview.threads} thread(s)")
    if fps < min(MIRROR_GOOD_FPS, preview.max_fps):
        return Check("mirror", "WARN", message + "; it will step down to smaller frames",
                     "lower [preview] size, or give it [preview] threads = 2 on a 4-core Pi")
    return Check("mirror", "PASS", message)


def runtime_precisions(gen) -> dict[str, int]:
    """How many convolution layers the compiled model runs in each precision."""
    from booth.vision.generator import runtime_layers

    counts: dict[str, int] = {}
    for layer in runtime_layers(gen.runtime_model):
        if layer["layerType"] in _MATMUL_LAYERS:
            precision = layer["runtimePrecision"].lower()
            counts[precision] = counts.get(precision, 0) + 1
    return counts


def check_disk(settings: Settings) -> Check:
    """Free space where the photos go, against [storage] min_free_mb."""
    folder = data_dir(settings)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free / 1e6
    limit = settings.storage.min_free_mb
    message = f"{free_mb:,.0f} MB free for {folder}"
    if free_mb < limit:
        return Check("disk", "FAIL", f"{message}, below [storage] min_free_mb = {limit}: "
                     f"the booth refuses new photos", "delete old photos (admin page), set "
                     "[privacy] keep_results_hours, or use a bigger SD card / USB drive")
    if free_mb < 4 * limit:
        return Check("disk", "WARN", f"{message}, close to [storage] min_free_mb = {limit}",
                     "free some space before the event")
    return Check("disk", "PASS", message)


def check_address(settings: Settings) -> Check:
    """The address phones will open from the QR codes."""
    from booth import qr

    url = qr.base_url(settings)
    if not qr.base_url_is_detected(settings):
        source = "[web] base_url" if settings.web.base_url else "the booth's hotspot, [network] address"
        return Check("address", "PASS", f"QR codes point to {url} ({source})")
    if "://127." in url:
        return Check("address", "FAIL", f"QR codes would point to {url}: no network, phones "
                     f"cannot reach it", "connect the Pi to the event Wi-Fi (or make it a hotspot: [network] "
                     "hotspot = true, then sudo booth network apply), or set "
                     '[web] base_url = "http://ADDRESS:PORT"')
    return Check("address", "WARN" if settings.web.host in ("127.0.0.1", "localhost") else "PASS",
                 f"QR codes point to {url} (detected; phones must be on this network)",
                 f'[web] host = "{settings.web.host}" only listens locally: set it to "0.0.0.0"')


def check_network(settings: Settings, on_pi: bool, root: Path = Path("/")) -> list[Check]:
    """With [network] hotspot: the connection, the booth's address on it, and its DNS.
    Without: only a leftover hotspot is reported."""
    from booth.devices import network

    if not settings.network.hotspot:
        if network.file_steps(settings, root):
            return [Check("hotspot", "WARN", "[network] hotspot = false, but the booth's hotspot is "
                          "still set up", "sudo booth network apply (removes it)")]
        return []
    missing = "FAIL" if on_pi else "WARN"
    return [check_hotspot_connection(settings, missing, root), check_hotspot_address(settings, missing),
            check_hotspot_dns(settings, missing)]


def check_hotspot_connection(settings: Settings, missing: str, root: Path = Path("/")) -> Check:
    """The NetworkManager connection: its files as the config says, up, and port 80 redirected."""
    from booth.devices import network

    net = settings.network
    apply_fix = "sudo booth network apply"
    stale = network.file_steps(settings, root)
    if stale:
        names = ", ".join(Path(step.target).name for step in stale)
        return Check("hotspot", missing, f"the hotspot is not set up as [network] says ({names})", apply_fix)
    active = network.connection_active(net.interface)
    if active is None:
        return Check("hotspot", missing, "nmcli not found: NetworkManager does not run this machine's "
                     "network, so it cannot make the hotspot (nmcli needs it and a Wi-Fi radio)",
                     "use Raspberry Pi OS Bookworm or later (NetworkManager), then " + apply_fix)
    if not active:
        return Check("hotspot", "FAIL", f"{network.CONNECTION_ID} is not up on {net.interface}",
                     f"sudo nmcli connection up {network.CONNECTION_ID}; if it fails: rfkill list "
                     f"(Wi-Fi blocked?) and journalctl -u NetworkManager -n 30")
    if not network.redirect_present():
        return Check("hotspot", "WARN", f'{network.CONNECTION_ID} is up on {net.interface} ("{net.ssid}"), '
                     "but port 80 does not reach the booth: phones will not open the sign-in sheet",
                     "sudo apt install nftables, then " + apply_fix)
    return Check("hotspot", "PASS", f'{network.CONNECTION_ID} is up on {net.interface}: phones join '
                 f'"{net.ssid}", port 80 reaches the booth')


def check_hotspot_address(settings: Settings, missing: str) -> Check:
    """The booth holds [network] address on the hotspot's interface."""
    from booth.devices import network

    net = settings.network
    addresses = network.interface_addresses(net.interface)
    if addresses is None:
        return Check("hotspot", missing, f"there is no network interface {net.interface}",
                     "check [network] interface (ip link lists them); a Pi's own radio is wlan0")
    if net.address not in addresses:
        found = ", ".join(addresses) or "no IPv4 address"
        return Check("hotspot", "FAIL", f"{net.interface} has {found}, not the booth's {net.address}: "
                     f"the QR codes would not reach it", "sudo nmcli connection up booth-hotspot")
    return Check("hotspot", "PASS", f"{net.interface} has {net.address}")


def check_hotspot_dns(settings: Settings, failed: str = "FAIL") -> Check:
    """Ask the hotspot's DNS as a phone would: every name must be the booth."""
    import secrets

    from booth.devices import network

    address = settings.network.address
    names = ["captive.apple.com", f"any-name-{secrets.token_hex(4)}.example"]
    fix = ("sudo booth network apply (it installs the DNS drop-in), then sudo nmcli connection up "
           "booth-hotspot (NetworkManager starts dnsmasq with it)")
    try:
        answers = {name: network.resolve(name, address) for name in names}
    except (OSError, ValueError) as exc:
        return Check("hotspot", failed, f"no DNS answer from {address}: {exc}", fix)
    wrong = {name: got for name, got in answers.items() if got != [address]}
    if wrong:
        name, got = next(iter(wrong.items()))
        return Check("hotspot", failed, f"DNS on {address} answers {name} with {got or 'nothing'}, "
                     "not the booth: phones will not find the booth", fix)
    return Check("hotspot", "PASS", f"DNS on {address} answers every name with the booth")


def check_printer(settings: Settings) -> Check:
    """The CUPS queue prints go to, in CUPS's own words made plain (``[print] enabled``)."""
    from booth.devices.printing import Cups, load_overlay

    try:
        load_overlay(settings)
    except config.ConfigError as exc:
        return Check("printer", "FAIL", str(exc), "save the logo or frame as a PNG with "
                     "transparency, or set [print] overlay = \"\"")
    status = Cups(settings.print.printer).printer_status()
    if status["state"] == "missing":
        return Check("printer", "FAIL", status["message"], "add the printer to CUPS (docs/prints.md: "
                     "Setting up a printer on the Pi), then set [print] printer to a name "
                     "`lpstat -p` lists")
    where = f"{status['name']} ({settings.print.media}, mode {settings.print.mode})"
    if not status["ok"]:
        fix = (f"sudo cupsenable {status['name']} once the printer is ready" if status["state"] == "paused"
               else "see the printer; docs/troubleshooting.md: Prints do not come out")
        return Check("printer", "WARN", f"{where}: {status['message']}", fix)
    return Check("printer", "PASS", f"{where}: {status['state']}")


def check_sync(settings: Settings) -> Check:
    """[sync] remote: rclone there, the remote answering, and what waits to go."""
    from booth.daemon.sync import RCLONE_NOT_FOUND, UNKNOWN_REMOTE, SyncError, rclone_for, saved_status

    remote = settings.sync.remote
    running = (running_booth_health(settings) or {}).get("sync")
    status = running or saved_status(remote, data_dir(settings))
    try:
        rclone_for(settings).run("lsf", remote, "--max-depth", "1", timeout=30, ok_codes=RCLONE_NOT_FOUND)
    except UserError as exc:
        return Check("sync", "FAIL", str(exc), "sudo apt install rclone")
    except SyncError as exc:
        if str(exc).startswith(UNKNOWN_REMOTE):
            return Check("sync", "FAIL", f"rclone has no remote named {remote.split(':')[0]!r}",
                         "set it up as the booth user: sudo -u booth rclone config --config "
                         "/var/lib/booth/rclone.conf, and name that file in [sync] rclone_config "
                         "(docs/sync.md)")
        return Check("sync", "WARN", f"{remote} does not answer now ({exc}); {status['message']}",
                     "photos wait on the booth's disk and go when it answers; check the "
                     "remote with: rclone lsf " + remote + " (docs/sync.md)")
    if not status["ok"]:
        return Check("sync", "WARN", status["message"], "see the booth's log: journalctl -u booth | grep sync")
    return Check("sync", "PASS", status["message"])


def check_service() -> Check:
    """The installed systemd service: running, starting or failed."""
    if not SYSTEMD_RUNTIME.is_dir():  # how sd_booted() tells: systemd is not PID 1 here
        return Check("service", "WARN", "systemd is not running here (a chroot or a container): "
                     "booth.service is installed but cannot run", "boot the Pi (or a VM) with systemd")
    result = subprocess.run(["systemctl", "is-active", "booth.service"],
                            capture_output=True, text=True, check=False)
    state = result.stdout.strip() or "unknown"
    if state == "active":
        return Check("service", "PASS", "booth.service is running")
    if state == "activating":
        return Check("service", "WARN", "booth.service is starting (a cold start compiles the model)",
                     "wait a few minutes; watch: journalctl -fu booth")
    return Check("service", "FAIL", f"booth.service is {state}",
                 "journalctl -u booth -n 50 says why; then sudo systemctl restart booth")
