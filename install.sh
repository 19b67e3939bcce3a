#!/usr/bin/env bash
# Install the anime booth. Safe to run again: a second run changes nothing and says so.
#
#   ./install.sh                 dev machine: .venv, packages, model files, INT8 build
#   ./install.sh --test          ... plus the test tools (pytest, Playwright, Debian's chromium)
#   ./install.sh --bench         ... plus the benchmark-only runtimes (ONNX Runtime, LiteRT, PyTorch)
#   ./install.sh --mirror DIR    take model files from DIR instead of the internet
#                                (same as BOOTH_WEIGHTS_MIRROR=DIR)
#   ./install.sh --dry-run       print every step, change nothing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

want_test=0
want_bench=0
dry_run=0
mirror="${BOOTH_WEIGHTS_MIRROR:-}"
calibration="${BOOTH_CALIBRATION_DIR:-}"

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --test) want_test=1 ;;
    --bench) want_bench=1 ;;
    --dry-run) dry_run=1 ;;
    --mirror) shift; mirror="${1:?--mirror needs a folder}" ;;
    --mirror=*) mirror="${1#--mirror=}" ;;
    --calibration) shift; calibration="${1:?--calibration needs a folder}" ;;
    --calibration=*) calibration="${1#--calibration=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

changed=0
say() { printf '==> %s\n' "$*"; }
run() {
  if [ "$dry_run" = 1 ]; then printf '    [dry-run] %s\n' "$*"; else "$@"; fi
}

python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
venv="$here/.venv"
pip="$venv/bin/pip"

# 1. The virtual environment.
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  run "$python_bin" -m venv "$venv"
  run "$pip" install --quiet --upgrade pip
  changed=1
fi

# 2. The project and its packages. A stamp of what was asked for keeps re-runs instant.
extras="build"
[ "$want_test" = 1 ] && extras="$extras,test"
[ "$want_bench" = 1 ] && extras="$extras,bench"
stamp="$venv/.booth-installed"
want_stamp="$(sha256sum pyproject.toml | cut -c1-16) extras=$extras"
have_stamp="$(cat "$stamp" 2>/dev/null || true)"
# Extras already installed by an earlier run stay satisfied.
if [ -n "$have_stamp" ] && [ "${have_stamp%% *}" = "${want_stamp%% *}" ]; then
  missing=0
  for e in ${extras//,/ }; do
    case "$have_stamp" in *"$e"*) ;; *) missing=1 ;; esac
  done
  [ "$missing" = 0 ] && want_stamp="$have_stamp"
fi
if [ "$have_stamp" != "$want_stamp" ]; then
  say "installing the booth and its packages ($extras) into .venv"
  run "$pip" install --quiet -e ".[$extras]"
  if [ "$want_bench" = 1 ]; then
    # PyTorch is bench-only (the eager baseline and the ONNX export). The CPU wheel
    # of this version is what the dev machines carry; never a run-time dependency.
    run "$pip" install --quiet "torch==2.13.0"
  fi
  [ "$dry_run" = 1 ] || echo "$want_stamp" > "$stamp"
  changed=1
fi

# 3. Test tools: Debian's chromium for the browser tests (never a downloaded browser).
if [ "$want_test" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  say "installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    run sudo apt-get update -qq
    run sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  changed=1
fi

# 4. Model files (checksummed) and the INT8 generator build.
booth="$venv/bin/booth"
mirror_args=()
[ -n "$mirror" ] && mirror_args=(--mirror "$mirror")
calibration_args=()
[ -n "$calibration" ] && calibration_args=(--calibration "$calibration")
if [ "$dry_run" = 1 ]; then
  run "$booth" weights fetch "${mirror_args[@]}"
  run "$booth" weights build "${calibration_args[@]}"
else
  fetch_out="$("$booth" weights fetch "${mirror_args[@]}")"
  echo "$fetch_out" | sed 's/^/    /'
  case "$fetch_out" in *copied*|*downloaded*) changed=1 ;; esac
  build_out="$("$booth" weights build --if-needed "${calibration_args[@]}")"
  echo "$build_out" | sed 's/^/    /'
  case "$build_out" in *"up to date"*) ;; *) changed=1 ;; esac
fi

# 5. Hardware and system parts: only on a Raspberry Pi.
if ! grep -qs "Raspberry Pi" /proc/device-tree/model 2>/dev/null; then
  say "not a Raspberry Pi: skipped apt's picamera2, the booth user, systemd units and the kiosk"
fi

if [ "$dry_run" = 1 ]; then
  say "dry run: nothing was changed"
elif [ "$changed" = 0 ]; then
  say "already installed: nothing changed"
else
  say "installed. Run the booth: .venv/bin/booth run --demo"
fi
