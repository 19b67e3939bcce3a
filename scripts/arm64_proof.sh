#!/usr/bin/env bash
# arm64 proof: the booth's generator runs correctly on the Raspberry Pi's ARM cores.
#
#   sudo scripts/arm64_proof.sh [--quick] [PHOTO...]
#
# --quick: the routine check, one emulated Cortex-A76 (Pi 5) at 128 px, one photo: 43 s
#          once set up and built (measured on 2 host cores shared with other work, load ~14).
# Without it: both cores at 384 px, the full proof: about 6 minutes on 2 cores for one
#          photo (measured before two became the default; each adds its inferences).
# Either prints, per convolution, its quantization and the precision each core ran it in
# (`booth eval arm`), and the share of convolutions and MACs in int8.
#
# Builds (once) an arm64 Debian Bookworm root file system with debootstrap, runs it
# under qemu-user-static emulating a Cortex-A72 (Pi 4) and a Cortex-A76 (Pi 5) —
# neither has SVE — installs the same pinned aarch64 wheels install.sh gives a Pi
# (apt's numpy + scripts/pip_constraints.sh), stylizes real photos with the INT8
# IR a Pi builds for itself (built here with BOOTH_INT8_TARGET=arm64 from the source
# file in weights/) through booth.vision.generator.Generator, and compares the result with
# the x86-64 output of the float network (f32): PSNR >= 35 dB on every photo (the
# agreement with x86-64 running the same IR is printed too), and nothing may die with
# "Illegal instruction". Timings under emulation mean nothing; only correctness counts.
# The default photos are held out of the build's calibration (a face; the full proof
# adds a group).
#
# Needs root (debootstrap, chroot, binfmt_misc, bind mounts) and Debian's apt + PyPI.
# The first run sets up the arm64 system (debootstrap, emulated pip) and builds the Pi's
# INT8 graph: about 10 minutes on 2 idle host cores, 30 minutes measured on 2 cores
# shared with other work. Then each emulated core takes about 4 CPU minutes at 384 px
# (both cores in parallel: about 6 minutes) and well under a minute at 128 px: not part
# of CI. On a shared machine run it as `sudo nice -n 19 scripts/arm64_proof.sh --quick`.
# Any size proves the same thing (the same code and kernels on the same input on both
# sides; PSNR is always computed between the arm64 and x86-64 outputs of the same input
# at the same size); BOOTH_ARM64_SIZE and BOOTH_ARM64_CPUS override either mode.
#
# The host's /proc, /sys and /dev are bind-mounted into the arm64 system for the run
# (and unmounted on exit): without /sys/devices/system/cpu OpenVINO's CPU plugin spins
# forever at compile time under qemu. "xbyak_aarch64 ... Can't open MIDR_EL1 sysfs
# entry" in the logs is expected: an x86-64 host has no arm64 ID registers in sysfs.
# Each emulated run is killed after BOOTH_ARM64_TIMEOUT seconds (default 3600).
#
# Environment: BOOTH_ARM64_DIR (work folder, default /var/tmp/booth-arm64; never
# inside the repo), BOOTH_ARM64_CPUS (default "cortex-a72 cortex-a76"),
# BOOTH_ARM64_PRECISIONS (default "int8"), BOOTH_ARM64_SIZE (default 384),
# BOOTH_ARM64_TIMEOUT (default 3600), BOOTH_PHOTOS (the shared photo folder).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${BOOTH_ARM64_DIR:-/var/tmp/booth-arm64}"
rootfs="$work/rootfs"
# --quick: one core type at a small size, for routine use (the environment still wins).
default_cpus="cortex-a72 cortex-a76"
default_size=384
quick=0
if [ "${1:-}" = "--quick" ]; then
  shift
  quick=1
  default_cpus="cortex-a76"
  default_size=128
fi
cpus="${BOOTH_ARM64_CPUS:-$default_cpus}"
precisions="${BOOTH_ARM64_PRECISIONS:-int8}"
size="${BOOTH_ARM64_SIZE:-$default_size}"
run_timeout="${BOOTH_ARM64_TIMEOUT:-3600}"
photos="${BOOTH_PHOTOS:-$repo/../shared/photos}"
# Photos the Pi's build does not calibrate on (booth/model/quantize.py: calibrate holds them out).
default_photos="$photos/faces/face_04.jpg"
[ "$quick" = 1 ] || default_photos="$default_photos $photos/groups/group2_women.jpg"
if [ "$#" -gt 0 ]; then photo_list=("$@"); else read -r -a photo_list <<< "$default_photos"; fi
min_psnr=35
host_python="$repo/.venv/bin/python"
guest_root=/opt/booth            # where the booth lives inside the arm64 system
guest_python="$guest_root/.venv/bin/python"

say() { printf '==> %s\n' "$*"; }
die() { printf 'arm64_proof: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and binfmt_misc need it)"
for photo in "${photo_list[@]}"; do
  [ -f "$photo" ] || die "photo $photo not found (pass one, or set BOOTH_PHOTOS)"
done
[ -x "$host_python" ] || die "$host_python missing: run ./install.sh first"
[ -f "$repo/weights/animeganv2_hayao_256x256_integer_quant.tflite" ] \
  || die "weights/animeganv2_hayao_256x256_integer_quant.tflite missing: run ./install.sh first"
[ -d "$photos" ] || die "photo folder $photos not found (set BOOTH_PHOTOS): the Pi's INT8 build calibrates on it"
case "$work" in "$repo"|"$repo"/*) die "BOOTH_ARM64_DIR must be outside the repo" ;; esac
mkdir -p "$work"

# 1. Host tools.
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null \
   || ! command -v update-binfmts >/dev/null; then
  say "installing qemu-user-static, debootstrap and binfmt-support"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap binfmt-support >/dev/null
fi

# 2. Let the kernel run arm64 programs through qemu (containers may lack the mount).
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

# 3. The arm64 Debian Bookworm (what Raspberry Pi OS Bookworm is built on), with apt's
#    numpy 1.24 exactly as a Pi has it under python3-picamera2.
if [ ! -e "$rootfs/.booth-debootstrap-done" ]; then
  say "debootstrap arm64 bookworm into $rootfs (slow: emulated package set-up)"
  rm -rf "$rootfs"
  debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-numpy,python3-pip,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || die "debootstrap failed: see $work/debootstrap.log"
  touch "$rootfs/.booth-debootstrap-done"
fi

# The kernel's views the guest programs need: OpenVINO reads the CPU topology from
# /sys/devices/system/cpu and /proc; pip and Python want /dev. Unmounted on exit.
mounted=()
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" \
      || printf 'arm64_proof: could not unmount %s\n' "${mounted[$i]}" >&2
  done
  mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM
for fs in proc sys dev; do
  mkdir -p "$rootfs/$fs"
  if ! mountpoint -q "$rootfs/$fs"; then
    mount --bind "/$fs" "$rootfs/$fs" || die "cannot bind-mount /$fs into $rootfs"
    mounted+=("$rootfs/$fs")
  fi
done
[ -e "$rootfs/sys/devices/system/cpu/online" ] \
  || die "$rootfs/sys has no devices/system/cpu: OpenVINO would hang without it"

cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# The host's CA bundle: PyPI may be reached through a proxy with its own CA.
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

in_guest() {   # in_guest CPU COMMAND...: run an arm64 command on an emulated CPU
  local cpu="$1"; shift
  env -i QEMU_CPU="$cpu" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    PYTHONPATH="$guest_root" BOOTH_WEIGHTS_DIR="$guest_root/weights" \
    chroot "$rootfs" "$@"
}

# 4. The booth's run-time packages in a --system-site-packages venv, with the same
#    constraints install.sh uses on a Pi. The emulated CPU is the Pi 4's (the
#    smallest instruction set) so nothing picks code the Pi 4 cannot run.
mkdir -p "$rootfs$guest_root/scripts" "$rootfs$guest_root/weights" "$rootfs$guest_root/proof"
cp "$repo/scripts/pip_constraints.sh" "$repo/pyproject.toml" "$rootfs$guest_root/"
runtime_deps="$("$host_python" -c 'import tomllib,sys; print("\n".join(tomllib.load(open(sys.argv[1],"rb"))["project"]["dependencies"]))' "$repo/pyproject.toml")"
deps_stamp="$(printf '%s\n' "$runtime_deps" | cat - "$repo/scripts/pip_constraints.sh" | sha256sum | cut -c1-16)"
if [ "$(cat "$rootfs$guest_root/.venv/.deps-stamp" 2>/dev/null)" != "$deps_stamp" ]; then
  say "installing the booth's aarch64 wheels in the emulated system (slow)"
  in_guest cortex-a72 python3 -m venv --system-site-packages "$guest_root/.venv"
  in_guest cortex-a72 bash -c "bash $guest_root/pip_constraints.sh /usr/bin/python3 > $guest_root/constraints.txt"
  printf '%s\n' "$runtime_deps" > "$rootfs$guest_root/requirements.txt"
  in_guest cortex-a72 "$guest_root/.venv/bin/pip" install --quiet --only-binary=:all: \
    -c "$guest_root/constraints.txt" -r "$guest_root/requirements.txt" \
    >"$work/pip.log" 2>&1 || die "pip install failed in the arm64 system: see $work/pip.log"
  echo "$deps_stamp" > "$rootfs$guest_root/.venv/.deps-stamp"
fi
say "constraints: $(tr '\n' ' ' < "$rootfs$guest_root/constraints.txt")"
say "installed: $(in_guest cortex-a72 "$guest_root/.venv/bin/pip" list 2>/dev/null \
  | grep -iE '^(numpy|openvino|opencv-python-headless|pillow) ' | awk '{print $1"=="$2}' | tr '\n' ' ')"

# 5. The code under test and its inputs: the booth package as it is in the repo now,
#    the INT8/float IR, and the photo prepared on the host (so only the CPU differs).
#    The x86-64 reference runs this same copy of the code and IR, so a rebuild of
#    weights/ or an edit of booth/ during the run cannot make the two sides differ.
rm -rf "$rootfs$guest_root/booth"
cp -r "$repo/booth" "$rootfs$guest_root/booth"
find "$rootfs$guest_root/booth" -name __pycache__ -prune -exec rm -rf {} +
cp "$repo/scripts/arm64_stylize.py" "$rootfs$guest_root/scripts/"
# The INT8 graph a Pi builds for itself differs from an x86-64 one (booth/model/quantize.py:
# int8_target), so build the Pi's here, from the same source file and photos, exactly
# as install.sh's `booth weights build` does on the Pi (BOOTH_INT8_TARGET=arm64).
pi_weights="$work/weights-arm64"
mkdir -p "$pi_weights"
cp "$repo"/weights/animeganv2_hayao_256x256_integer_quant.tflite "$repo"/weights/retinaface_mobilenet0.25.onnx "$pi_weights/"
say "building the Pi's INT8 graph (BOOTH_INT8_TARGET=arm64) into $pi_weights"
(cd "$repo" && BOOTH_WEIGHTS_DIR="$pi_weights" BOOTH_INT8_TARGET=arm64 \
   "$host_python" -m booth weights build --if-needed --calibration "$photos" >"$work/build-arm64.log" 2>&1) \
  || die "building the arm64 INT8 graph failed: see $work/build-arm64.log"
grep -q '"target": "arm64"' "$pi_weights/generator_card.json" || die "$pi_weights holds no arm64 build"
cp "$pi_weights"/generator_int8.xml "$pi_weights"/generator_int8.bin \
   "$pi_weights"/generator_fp32.xml "$pi_weights"/generator_fp32.bin "$rootfs$guest_root/weights/"
proof="$rootfs$guest_root/proof"
rm -f "$proof"/*.npy "$proof"/*.log
(cd "$repo" && "$host_python" scripts/arm64_stylize.py prepare "$proof/input.npy" "$size" "${photo_list[@]}")

ir_for() { case "$1" in int8) echo generator_int8.xml ;; *) echo generator_fp32.xml ;; esac; }

# 6. Reference on this x86-64 machine, then every emulated core at once (each run
#    takes about 4 CPU minutes of emulation at 384 px), then compare at the same size.
failures=0
results=()
# The fidelity reference: the float network at f32 on this x86-64 machine.
(cd "$rootfs$guest_root" && PYTHONPATH="$rootfs$guest_root" "$host_python" \
   scripts/arm64_stylize.py stylize "$proof/input.npy" weights/generator_fp32.xml \
   "$proof/x86_64-reference.npy" f32) | sed 's/^/    x86-64 reference: /'
psnr() { "$host_python" "$repo/scripts/arm64_stylize.py" psnr "$@" 2>&1 | paste -sd' ' -; }
for precision in $precisions; do
  ir="$(ir_for "$precision")"
  (cd "$rootfs$guest_root" && PYTHONPATH="$rootfs$guest_root" "$host_python" \
     scripts/arm64_stylize.py stylize "$proof/input.npy" "weights/$ir" \
     "$proof/x86_64-$precision.npy" "$precision") | sed 's/^/    x86-64: /'
  pids=()
  for cpu in $cpus; do
    say "stylizing on an emulated $cpu ($precision)"
    in_guest "$cpu" timeout "$run_timeout" \
      "$guest_python" "$guest_root/scripts/arm64_stylize.py" stylize \
      "$guest_root/proof/input.npy" "$guest_root/weights/$ir" \
      "$guest_root/proof/$cpu-$precision.npy" "$precision" >"$proof/$cpu-$precision.log" 2>&1 &
    pids+=("$!")
  done
  i=0
  for cpu in $cpus; do
    log="$proof/$cpu-$precision.log"
    status=0
    wait "${pids[$i]}" || status=$?
    i=$((i + 1))
    sed "s/^/    $cpu: /" "$log"
    if [ "$status" = 132 ] || grep -q "Illegal instruction" "$log"; then
      results+=("FAIL $cpu $precision: Illegal instruction"); failures=$((failures + 1)); continue
    fi
    if [ "$status" = 124 ]; then
      results+=("FAIL $cpu $precision: no result after ${run_timeout} s (see $log)"); failures=$((failures + 1)); continue
    fi
    if [ "$status" != 0 ]; then
      results+=("FAIL $cpu $precision: exit status $status (see $log)"); failures=$((failures + 1)); continue
    fi
    # "MEAN lowest LOW dB of N": the lowest photo must reach the bar.
    fidelity="$(psnr "$proof/x86_64-reference.npy" "$proof/$cpu-$precision.npy")"
    agreement="$(psnr "$proof/x86_64-$precision.npy" "$proof/$cpu-$precision.npy")"
    lowest="$(awk '{print $3}' <<< "$fidelity")"
    about="PSNR $fidelity vs x86-64 float f32; $agreement vs x86-64 $precision"
    if "$host_python" -c "import sys; sys.exit(0 if float(sys.argv[1]) >= $min_psnr else 1)" "$lowest"; then
      results+=("PASS $cpu $precision: $about (>= $min_psnr)")
    else
      results+=("FAIL $cpu $precision: $about (< $min_psnr)"); failures=$((failures + 1))
    fi
  done
done

# Which convolutions each core ran in int8, and the quantization each was given.
if [[ " $precisions " == *" int8 "* ]]; then
  say "convolutions of the Pi's INT8 graph, as each core ran them:"
  runtimes=()
  for cpu in $cpus; do
    [ -f "$proof/$cpu-int8.runtime.json" ] && runtimes+=("$proof/$cpu-int8.runtime.json")
  done
  (cd "$repo" && "$host_python" -m booth eval arm --ir "$pi_weights/generator_int8.xml" \
     --size "$size" --runtime "$proof/x86_64-int8.runtime.json" "${runtimes[@]}" \
     --json "$work/int8-report.json") || printf 'arm64_proof: the int8 report failed\n' >&2
fi

say "arm64 proof (${#photo_list[@]} photo(s), ${size}px long side):"
printf '    %s\n' "${results[@]}"
[ "$failures" = 0 ] || die "$failures failed"
say "arm64 proof passed"
