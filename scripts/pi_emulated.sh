#!/usr/bin/env bash
# The whole booth on Raspberry Pi OS 13's base, Debian 13 "trixie" arm64, under emulation:
# the real ./install.sh as a Pi runs it, twice (the second run must change nothing), then
# the booth itself.
#
#   sudo nice scripts/pi_emulated.sh [--quick]
#
# Steps (one line each, the tools' output in $BOOTH_PI_DIR/*.log):
#  1. an arm64 Debian 13 root (debootstrap; cached in $BOOTH_PI_DIR/base), copied to a
#     fresh "Pi" ($BOOTH_PI_DIR/pi) with an organiser user pi and this checkout (what git
#     tracks, as it is now) in /home/pi/anime-booth; the model mirror bind-mounted
#     read-only at /media/usb/weights;
#  2. ./install.sh --pi --mirror /media/usb/weights, run by qemu-user on an emulated
#     Cortex-A72 (a Pi 4): apt's packages (what only Raspberry Pi OS's archive has is
#     skipped with one line), the venv over apt's numpy, aarch64 cp313 wheels from PyPI,
#     the code in /opt/booth, the model files, the booth user, the units (installed and
#     enabled; systemd is not running in a chroot, install.sh says so in one line);
#  3. ./install.sh again: it must end "already installed: nothing changed", restart
#     nothing and leave /opt/booth, /etc/booth, /etc/systemd/system and /var/lib/booth
#     as they were;
#  4. the booth there: `sudo booth doctor` (it checks as the booth user), `systemd-analyze
#     verify` on the installed units, the INT8 graph built in the emulated system from
#     the shipped ranges (identical to the arm64 build install.sh found), `booth stylize`
#     of a public photo against the x86-64 result (PSNR >= 35 dB), the service's
#     ExecStart started by hand as the booth user with --demo (systemd cannot start it
#     here) answering /healthz and taking a photo on POST /api/trigger, and the kiosk
#     page rendered by the arm64 Chromium headless (a screenshot, $BOOTH_PI_DIR/kiosk.png).
#
# The INT8 builds: install.sh's `booth weights build` and `booth styles build` time every
# precision at every size to choose what the booth runs; under emulation that takes
# hours and measures nothing. So they are made on this host for the arm64 target
# (BOOTH_INT8_TARGET=arm64, from the shipped ranges, the same code: cached in
# $BOOTH_PI_DIR/weights-arm64) and put in /opt/booth/weights first; install.sh's build
# steps then find them up to date, and step 4 builds the generator's and the cute style's
# INT8 graph in the emulated system from the shipped ranges and requires them identical.
#
# --quick: the Pi of the last run is kept (no new copy of the base): the first install.sh
# run only updates what changed since, the second must change nothing; the doctor skips
# compiling (--quick) and the emulated INT8 build is skipped.
# Budget: full <= 60 min, --quick <= 15 min once the base is cached (2 shared cores).
#
# What it proves: the install and the booth's software on a Pi's OS and CPU (arm64
# kernels, apt and PyPI packages, units, users, rights). What it does not: no camera
# (the demo photos stand in), no GPIO button (mock pins), no HDMI screen (headless
# Chromium), no Wi-Fi radio (the hotspot is off), no timing (emulation is many times
# slower than a Pi), no real systemd (the units are verified, not run).
#
# Environment: BOOTH_PI_DIR (default /var/cache/booth-pi-emulated; never inside the repo),
# BOOTH_PI_MIRROR (model files, default ../shared/weights), BOOTH_PI_PHOTO (a public
# photo, default the mirror's photos/faces/18f_edwin_torres.jpg), BOOTH_PI_PORT (the
# demo booth's port on loopback, default 18461), BOOTH_PI_TIMEOUT (seconds for each
# emulated step, default 5400: an install's apt and pip steps under emulation took 40
# minutes on 2 cores shared with other work, load average 20-28).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${BOOTH_PI_DIR:-/var/cache/booth-pi-emulated}"
base="$work/base"
pi="$work/pi"
mirror="${BOOTH_PI_MIRROR:-$repo/../shared/weights}"
photo="${BOOTH_PI_PHOTO:-$mirror/photos/faces/18f_edwin_torres.jpg}"
port="${BOOTH_PI_PORT:-18461}"
step_timeout="${BOOTH_PI_TIMEOUT:-5400}"
host_python="$repo/.venv/bin/python"
checkout=/home/pi/anime-booth
guest_mirror=/media/usb/weights
guest_ca=/usr/local/share/booth-emulation/host-ca.crt
min_psnr=35
quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "pi_emulated: unknown option $1 (--quick or nothing)" >&2; exit 2 ;;
esac
# debootstrap's own list is minbase; these make the base a Raspberry Pi OS Lite's.
base_packages=systemd,systemd-sysv,sudo,python3,ca-certificates,procps,dbus

started=$SECONDS
step_started=$SECONDS
say() { printf '==> %s\n' "$*"; }
die() { printf 'pi_emulated: %s\n' "$*" >&2; exit 1; }
step() { step_started=$SECONDS; printf '==> %s ...\n' "$*"; }
step_done() { printf '    %s (%d s)\n' "$*" "$((SECONDS - step_started))"; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, bind mounts)"
[ -x "$host_python" ] || die "$host_python missing: run ./install.sh first"
[ -d "$mirror" ] || die "model mirror $mirror not found (set BOOTH_PI_MIRROR)"
[ -f "$photo" ] || die "photo $photo not found (set BOOTH_PI_PHOTO to a public photo)"
case "$work" in "$repo"|"$repo"/*) die "BOOTH_PI_DIR must be outside the repo" ;; esac
mkdir -p "$work"

# --- host tools and arm64 programs through qemu ---
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null \
   || ! command -v update-binfmts >/dev/null || ! command -v rsync >/dev/null; then
  say "installing qemu-user-static, debootstrap, binfmt-support and rsync"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap binfmt-support rsync >/dev/null
fi
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

# --- 1. the base system (cached) and a fresh Pi ---
if [ "$(cat "$base/.booth-base" 2>/dev/null)" != "trixie $base_packages" ]; then
  step "debootstrap Debian 13 trixie arm64 into $base (emulated package set-up: slow)"
  rm -rf "$base"
  timeout "$step_timeout" debootstrap --arch=arm64 --variant=minbase --include="$base_packages" \
    trixie "$base" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || die "debootstrap failed: see $work/debootstrap.log"
  echo "trixie $base_packages" > "$base/.booth-base"
  step_done "base system ready"
fi

# The host's views the guest programs need (OpenVINO reads the CPU topology from /sys;
# without it its CPU plugin spins at compile time under qemu), the mirror, and caches
# that survive a fresh Pi (pip's wheels, apt's archives). Unmounted on exit.
mounted=()
booth_pid=""
unmount_all() {
  local i
  if [ -n "$booth_pid" ]; then kill "$booth_pid" 2>/dev/null || true; wait "$booth_pid" 2>/dev/null || true; fi
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" \
      || printf 'pi_emulated: could not unmount %s\n' "${mounted[$i]}" >&2
  done
  mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM
bind() {   # bind HOST_DIR GUEST_DIR [ro]
  mkdir -p "$pi$2"
  mountpoint -q "$pi$2" && return 0
  mount --bind "$1" "$pi$2" || die "cannot bind-mount $1 at $pi$2"
  mounted+=("$pi$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$pi$2"; fi
}

in_guest() {   # in_guest COMMAND...: run an arm64 command as root on an emulated Cortex-A72 (Pi 4)
  env -i QEMU_CPU=cortex-a72 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    PIP_CERT="$guest_ca" timeout "$step_timeout" chroot "$pi" "$@"
}

if [ "$quick" = 1 ] && [ -e "$pi/.booth-installed" ]; then
  say "--quick: the Pi of the last run, as it was left"
else
  [ "$quick" = 1 ] && say "--quick: no Pi from an earlier run, so a full run"
  quick=0
  step "a fresh Pi from the base system"
  rm -rf "$pi"
  cp -a "$base" "$pi"
  in_guest useradd --create-home --uid 1000 --shell /bin/bash --groups sudo pi
  step_done "user pi (uid 1000), as Raspberry Pi OS makes it"
fi
for fs in proc sys dev; do bind "/$fs" "/$fs"; done
[ -e "$pi/sys/devices/system/cpu/online" ] || die "$pi/sys has no devices/system/cpu: OpenVINO would hang"
bind "$mirror" "$guest_mirror" ro
mkdir -p "$work/pip-cache" "$work/apt-archives/partial"
bind "$work/pip-cache" /root/.cache/pip
bind "$work/apt-archives" /var/cache/apt/archives
cp /etc/resolv.conf "$pi/etc/resolv.conf"
# The host's CA bundle, for pip only (PIP_CERT): this machine may reach PyPI through a
# proxy with its own CA; a Pi reaches it directly.
mkdir -p "$pi$(dirname "$guest_ca")"
cp /etc/ssl/certs/ca-certificates.crt "$pi$guest_ca"

# The checkout as an organiser has it: what git tracks, as it is in this worktree now
# (modification times kept, so an unchanged file is no change to install.sh's copy).
rm -rf "${pi:?}$checkout"
mkdir -p "$pi$checkout"
(cd "$repo" && git ls-files -z) | rsync -a --from0 --files-from=- "$repo/" "$pi$checkout/"
in_guest chown -R pi:pi /home/pi

# --- the Pi's INT8 builds, made on this host for the arm64 target (see the header) ---
host_weights="$work/weights-arm64"
step "the arm64 INT8 builds from the shipped ranges, on this host (cached)"
mkdir -p "$host_weights"
(cd "$repo" && export BOOTH_WEIGHTS_DIR="$host_weights" BOOTH_INT8_TARGET=arm64 BOOTH_CALIBRATION_DIR= \
  && "$host_python" -m booth weights fetch --mirror "$mirror" \
  && "$host_python" -m booth weights build --if-needed \
  && "$host_python" -m booth styles fetch --mirror "$mirror" \
  && "$host_python" -m booth styles build --if-needed) >"$work/host-build.log" 2>&1 \
  || die "the host's arm64 build failed: see $work/host-build.log"
grep -q '"target": "arm64"' "$host_weights/generator_card.json" || die "$host_weights holds no arm64 build"
mkdir -p "$pi/opt/booth/weights"
# Readable by all, as install.sh leaves the model files (so a --quick run changes nothing).
rsync -a --chmod=a+rX "$host_weights/" "$pi/opt/booth/weights/"
step_done "$(find "$host_weights/styles" -name "*_card.json" 2>/dev/null | wc -l) styles and the generator, in /opt/booth/weights"

# --- 2. and 3. install.sh, as `sudo ./install.sh` on a Pi ---
# qemu-user runs setuid programs without their rights, so sudo cannot work for the user
# pi here: install.sh runs as root with SUDO_USER=pi, which is what sudo ./install.sh is.
install_run() {   # install_run N: run install.sh, its output in $work/install-N.log
  local status=0
  in_guest env SUDO_USER=pi bash -c "cd $checkout && ./install.sh --pi --mirror $guest_mirror" \
    >"$work/install-$1.log" 2>&1 || status=$?
  sed 's/^/    | /' "$work/install-$1.log"
  [ "$status" = 0 ] || die "install.sh run $1 failed (exit $status): see $work/install-$1.log"
}
system_state() {   # every path, size and time install.sh may touch
  (cd "$pi" && find opt/booth etc/booth etc/systemd/system var/lib/booth -path opt/booth/.venv -prune \
     -o -printf '%p %s %T@ %u %m\n' 2>/dev/null | sort | sha256sum | cut -c1-16)
}
step "install.sh on the Pi (apt, the venv, wheels, model files, units)"
install_run 1
step_done "first install done"
touch "$pi/.booth-installed"
before="$(system_state)"
step "install.sh again: nothing may change"
install_run 2
tail -n 1 "$work/install-2.log" | grep -qx "==> already installed: nothing changed" \
  || die "the second install.sh run changed something: see $work/install-2.log"
! grep -q "(re)starting booth.service" "$work/install-2.log" || die "the second run restarted booth.service"
[ "$(system_state)" = "$before" ] || die "the second run changed files under /opt/booth, /etc or /var/lib/booth"
step_done "already installed: nothing changed, nothing restarted"

results=()
failures=0
pass() { results+=("PASS $*"); }
fail() { results+=("FAIL $*"); failures=$((failures + 1)); }

# --- 4a. the doctor, as the organiser runs it (it checks as the booth user) ---
step "sudo booth doctor"
doctor_args=(--config /etc/booth/config.toml)
[ "$quick" = 1 ] && doctor_args+=(--quick)
doctor_status=0
in_guest /opt/booth/.venv/bin/booth doctor "${doctor_args[@]}" >"$work/doctor.log" 2>&1 || doctor_status=$?
sed 's/^/    | /' "$work/doctor.log"
# Off a Pi every missing piece of hardware is a WARN with its reason; nothing may FAIL.
if grep -q "checking as the service runs: user booth" "$work/doctor.log" && [ "$doctor_status" = 0 ]; then
  pass "booth doctor as the booth user: $(tail -n 1 "$work/doctor.log")"
else
  fail "booth doctor (exit $doctor_status): see $work/doctor.log"
fi
step_done "doctor done"

# --- 4b. the installed units ---
step "systemd-analyze verify on the installed units"
units=(/etc/systemd/system/booth.service)
[ -f "$pi/etc/systemd/system/booth-kiosk.service" ] && units+=(/etc/systemd/system/booth-kiosk.service)
if in_guest systemd-analyze verify "${units[@]}" >"$work/verify.log" 2>&1 && [ ! -s "$work/verify.log" ]; then
  pass "systemd-analyze verify: ${units[*]}"
else
  sed 's/^/    | /' "$work/verify.log"
  fail "systemd-analyze verify: see $work/verify.log"
fi
step_done "verified"

# --- 4c. the INT8 graphs built in the emulated system from the shipped ranges ---
if [ "$quick" = 0 ]; then
  step "the generator's and the cute style's INT8 graph built in the emulated system"
  if in_guest /opt/booth/.venv/bin/python - >"$work/guest-build.log" 2>&1 <<'PY'
import hashlib, os, tempfile
from pathlib import Path
os.environ["BOOTH_INT8_TARGET"] = "arm64"
from booth.model import graph, irfile, quantize, style_build, weights
from booth.vision import styles

def digest(xml):
    return hashlib.sha256(Path(xml).read_bytes() + Path(xml).with_suffix(".bin").read_bytes()).hexdigest()

out = Path(tempfile.mkdtemp())
float_model, _ = graph.float_network(weights.model_path("generator"))
ranges = quantize.read_ranges(weights.RANGES_PATH)
built = quantize.for_target(quantize.apply_ranges(float_model, ranges["fake_quantize"]), "arm64")
irfile.save_ir(built, out / "generator_int8.xml")
style = styles.catalogue()["cute"]
style_float, _ = style_build.float_network(style, style.model_file().path)
style_int8 = style_build.for_target(style_build.from_ranges(style, style_float, style_build.read_style_ranges(style)), "arm64")
irfile.save_ir(style_int8, out / "cute_int8.xml")
same = {"generator": digest(out / "generator_int8.xml") == digest(weights.WEIGHTS_DIR / "generator_int8.xml"),
        "cute": digest(out / "cute_int8.xml") == digest(weights.WEIGHTS_DIR / "styles" / "cute_int8.xml")}
print(same)
raise SystemExit(0 if all(same.values()) else 1)
PY
  then pass "INT8 graphs built in the emulated system from the shipped ranges = the arm64 builds installed ($(tail -n 1 "$work/guest-build.log"))"
  else sed 's/^/    | /' "$work/guest-build.log" | tail -n 15; fail "the emulated INT8 build: see $work/guest-build.log"
  fi
  step_done "built"
fi

# --- 4d. booth stylize of a public photo, against x86-64: --no-face, so the figure is
# what the CPU changes (the INT8 generator's kernels and the full-resolution step). With
# faces, the detector runs in the CPU's own float precision (bf16 on an AVX-512-BF16 or
# AMX x86-64, f32 on a Pi 4's A72, f16 on a Pi 5's A76): its landmarks move by up to a
# pixel, and the levelled crop with them (measured: the same crop through the A72's INT8
# generator is 39.5 dB from x86-64 f32; with each CPU framing its own, 32.3 dB), which
# says nothing about the Pi. The demo booth below takes its photo through the faces. ---
step "booth stylize --no-face $(basename "$photo") on the emulated Pi and on x86-64"
rm -rf "$pi/tmp/stylize" "$work/stylize-x86"*
mkdir -p "$pi/tmp/stylize"
cp "$photo" "$pi/tmp/stylize/in.jpg"
in_guest chown -R booth:booth /tmp/stylize
stylize_size=384
if in_guest runuser -u booth -- env BOOTH_DATA_DIR=/tmp/stylize /opt/booth/.venv/bin/booth stylize \
     /tmp/stylize/in.jpg --out /tmp/stylize/arm64 --size "$stylize_size" --no-face --config /etc/booth/config.toml \
     >"$work/stylize-arm64.log" 2>&1; then
  # The x86-64 side: the same code and photo, its float network (the fidelity reference,
  # as scripts/arm64_proof.sh) and its own default (x86-64 INT8) build.
  printf '[generator]\nprecision = "f32"\n' > "$work/stylize-x86-f32.toml"
  (cd "$repo" && "$host_python" -m booth stylize "$photo" --out "$work/stylize-x86-f32" --size "$stylize_size" \
     --no-face --config "$work/stylize-x86-f32.toml" && "$host_python" -m booth stylize "$photo" \
     --out "$work/stylize-x86" --size "$stylize_size" --no-face) >"$work/stylize-x86.log" 2>&1 \
    || die "booth stylize on x86-64 failed: see $work/stylize-x86.log"
  fidelity="$("$host_python" - "$pi/tmp/stylize/arm64" "$work/stylize-x86-f32" "$work/stylize-x86" <<'PY'
import sys
from pathlib import Path
import numpy as np
from booth.vision.images import load_image

def only(folder):
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".png"))
    return load_image(files[0]).astype(np.float64)

def psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / max(np.mean((a - b) ** 2), 1e-12))

arm, f32, x86 = (only(f) for f in sys.argv[1:4])
print(f"{psnr(arm, f32):.2f} {psnr(arm, x86):.2f}")
PY
)"
  read -r vs_f32 vs_x86 <<< "$fidelity"
  about="PSNR $vs_f32 dB vs x86-64 float (f32), $vs_x86 dB vs x86-64 default, at $stylize_size px"
  if "$host_python" -c "import sys; sys.exit(0 if float(sys.argv[1]) >= $min_psnr else 1)" "$vs_f32"; then
    pass "booth stylize: $about (>= $min_psnr)"
  else
    fail "booth stylize: $about (< $min_psnr)"
  fi
else
  sed 's/^/    | /' "$work/stylize-arm64.log" | tail -n 15
  fail "booth stylize on the emulated Pi: see $work/stylize-arm64.log"
fi
step_done "compared"

# --- 4e. the service's ExecStart by hand (with --demo: no camera; one working size, so
# the emulated warm-up takes minutes, not an hour), /healthz, a photo ---
step "booth run --demo as the booth user (the unit's ExecStart, its user and environment)"
# The installed config with the deadlines a Pi needs stretched for emulation (a demo
# photo's decode took over 5 s, a photo's processing minutes: the 30 s deadline sent the
# first run's photo to the failsafe screen); everything else as installed.
sed -e 's/^process_timeout_s = .*/process_timeout_s = 3600.0/' -e 's/^capture_timeout_s = .*/capture_timeout_s = 120.0/' \
  "$pi/etc/booth/config.toml" > "$pi/tmp/booth-emulated.toml"
in_guest chown booth:booth /tmp/booth-emulated.toml
exec_start="$(sed -n 's/^ExecStart=//p' "$pi/etc/systemd/system/booth.service" \
  | sed 's|--config /etc/booth/config.toml|--config /tmp/booth-emulated.toml|')"
grep -q -- "--config /tmp/booth-emulated.toml" <<< "$exec_start" || die "booth.service's ExecStart names no --config /etc/booth/config.toml"
unit_env=()
while IFS= read -r assignment; do unit_env+=("$assignment"); done \
  < <(sed -n 's/^Environment=//p' "$pi/etc/systemd/system/booth.service" | grep -v '^LG_WD=')
in_guest runuser -u booth -- env "${unit_env[@]}" bash -c "cd /var/lib/booth && exec $exec_start --demo --size $stylize_size --host 127.0.0.1 --port $port" \
  >"$work/booth-run.log" 2>&1 &
booth_pid=$!
# Bounded by BOOTH_PI_TIMEOUT, with a progress line each minute (what /healthz says), so
# a slow emulated start-up is seen loading rather than taken for a hang.
health() { "$host_python" - "$port" "$1" "$step_timeout" <<'PY'
import json, sys, time, urllib.error, urllib.request
port, wanted, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
started = time.monotonic()
said = started
while time.monotonic() - started < limit:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            health = json.load(r)
    except urllib.error.HTTPError as exc:
        health = json.load(exc)
    except OSError:
        health = None
    if health is not None:
        if wanted == "ready" and health.get("ok"):
            print(json.dumps({k: health.get(k) for k in ("ok", "state", "model")})[:300]); sys.exit(0)
        if wanted == "photo" and isinstance(health.get("last_cycle"), dict) and health["last_cycle"].get("ok"):
            print(json.dumps(health["last_cycle"])[:300]); sys.exit(0)
    if time.monotonic() - said >= 60:
        said = time.monotonic()
        seen = "no answer" if health is None else f"state {health.get('state')}, {(health.get('model') or {}).get('message')}"
        print(f"    waiting for {wanted}: {seen} ({said - started:.0f} s)", file=sys.stderr, flush=True)
    time.sleep(5)
print(f"    no {wanted} within {limit:.0f} s (BOOTH_PI_TIMEOUT)", file=sys.stderr)
sys.exit(1)
PY
}
if ready="$(health ready)"; then
  pass "booth run --demo answers /healthz: $ready"
  trigger="$(curl -s -X POST "http://127.0.0.1:$port/api/trigger" || true)"
  if photo_taken="$(health photo)"; then
    pass "POST /api/trigger ($trigger) took a photo: $photo_taken"
  else
    fail "no photo after POST /api/trigger ($trigger): see $work/booth-run.log"
  fi
  # --- 4f. the kiosk page in the arm64 Chromium, headless (under qemu-user a separate GPU
  # process dies, "GPU process isn't usable": it runs inside the browser's process). The
  # page keeps its event stream open, so virtual time never runs out (the screenshot
  # never came): --timeout takes it after that long, loaded or not. ---
  step "the kiosk page in the emulated Pi's Chromium (headless)"
  rm -f "$pi/tmp/kiosk.png"
  if in_guest runuser -u booth -- env HOME=/tmp timeout 1200 chromium --headless --no-sandbox --disable-gpu \
       --in-process-gpu --no-zygote --disable-software-rasterizer --disable-dev-shm-usage --hide-scrollbars --window-size=1280,800 --timeout=120000 --screenshot=/tmp/kiosk.png \
       "http://127.0.0.1:$port/kiosk" >"$work/chromium.log" 2>&1 && [ -s "$pi/tmp/kiosk.png" ]; then
    cp "$pi/tmp/kiosk.png" "$work/kiosk.png"
    pass "the kiosk page rendered by arm64 Chromium: $work/kiosk.png"
  else
    fail "arm64 Chromium rendered no kiosk page: see $work/chromium.log"
  fi
  step_done "rendered"
else
  tail -n 15 "$work/booth-run.log" | sed 's/^/    | /'
  fail "booth run --demo never answered /healthz ok: see $work/booth-run.log"
fi
kill "$booth_pid" 2>/dev/null || true
wait "$booth_pid" 2>/dev/null || true
booth_pid=""
step_done "booth stopped"

say "the booth on emulated Raspberry Pi OS 13 (Debian trixie arm64, Cortex-A72), $((SECONDS - started)) s in all:"
printf '    %s\n' "${results[@]}"
[ "$failures" = 0 ] || die "$failures failed"
say "pi_emulated passed"
