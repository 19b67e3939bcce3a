#!/usr/bin/env bash
# Install the anime booth. Safe to run again: a second run changes nothing and says so.
#
#   ./install.sh                 dev machine: .venv, packages, model files, INT8 build;
#                                Raspberry Pi: all that in /opt/booth, plus apt's camera
#                                and GPIO packages, the booth user, the systemd service
#                                and the kiosk, started (sudo is asked for when needed);
#                                with [network] hotspot = true, the booth's own Wi-Fi
#   ./install.sh --test          ... plus the test tools (pytest, Playwright, Debian's chromium,
#                                CUPS with a PDF printer) and the bench runtimes (the tests
#                                check them too)
#   ./install.sh --bench         ... plus the benchmark-only runtimes (ONNX Runtime, LiteRT, PyTorch)
#   ./install.sh --mirror DIR    take model files from DIR (a USB stick) instead of the internet
#                                (same as BOOTH_WEIGHTS_MIRROR=DIR)
#   ./install.sh --calibration DIR  photos for the INT8 calibration (BOOTH_CALIBRATION_DIR)
#   ./install.sh --dry-run       print every step, change nothing
#   ./install.sh --prefix DIR    Raspberry Pi: install into DIR instead of /opt/booth
#   ./install.sh --pi            do the Raspberry Pi steps even if this is not a Pi
#                                (with --dry-run: see what a Pi would get)
#   ./install.sh --kiosk MODE    Raspberry Pi screen: desktop (labwc autostart), cage (Lite),
#                                none (no screen); default: desktop if the desktop session
#                                is labwc, cage without a desktop
#   ./install.sh --render-units DIR  write the systemd units for --prefix into DIR, then stop
#   ./install.sh --copy-code DIR     copy the code as a Pi install copies it to /opt/booth
#                                into DIR (only what git tracks of weights/), then stop
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

want_test=0
want_bench=0
dry_run=0
force_pi=0
prefix=/opt/booth
render_dir=""
copy_dir=""
kiosk=auto
mirror="${BOOTH_WEIGHTS_MIRROR:-}"
calibration="${BOOTH_CALIBRATION_DIR:-}"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }  # the header above

while [ $# -gt 0 ]; do
  case "$1" in
    --test) want_test=1; want_bench=1 ;;  # the tests check the benchmark's reference runtimes too
    --bench) want_bench=1 ;;
    --dry-run) dry_run=1 ;;
    --pi) force_pi=1 ;;
    --mirror) shift; mirror="${1:?--mirror needs a folder}" ;;
    --mirror=*) mirror="${1#--mirror=}" ;;
    --calibration) shift; calibration="${1:?--calibration needs a folder}" ;;
    --calibration=*) calibration="${1#--calibration=}" ;;
    --prefix) shift; prefix="${1:?--prefix needs a folder}" ;;
    --prefix=*) prefix="${1#--prefix=}" ;;
    --kiosk) shift; kiosk="${1:?--kiosk needs desktop, cage or none}" ;;
    --kiosk=*) kiosk="${1#--kiosk=}" ;;
    --render-units) shift; render_dir="${1:?--render-units needs a folder}" ;;
    --render-units=*) render_dir="${1#--render-units=}" ;;
    --copy-code) shift; copy_dir="${1:?--copy-code needs a folder}" ;;
    --copy-code=*) copy_dir="${1#--copy-code=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$kiosk" in auto|desktop|cage|none) ;; *) echo "install.sh: --kiosk must be desktop, cage or none, got $kiosk" >&2; exit 2 ;; esac
# The screen's kiosk follows the session that logs in here, not what is installed: labwc
# (running now, or the desktop session the display manager starts) reads the autostart;
# Lite (no display manager) gets cage; another desktop (X11, wayfire) would not start
# the kiosk and would fight cage for the screen, so it gets none, with the way out.
desktop_session() {   # the session lightdm starts, or nothing without a display manager
  grep -hsE '^[[:space:]]*(autologin-session|user-session)[[:space:]]*=' \
    /etc/lightdm/lightdm.conf /etc/lightdm/lightdm.conf.d/*.conf | tail -n 1 | cut -d= -f2 | tr -d '[:space:]' || true
}
kiosk_note=""
if [ "$kiosk" = auto ]; then
  session="$(desktop_session)"
  if pgrep -x labwc >/dev/null 2>&1 || [[ "$session" == *labwc* ]]; then kiosk=desktop
  elif [ -z "$session" ] && ! systemctl is-enabled --quiet display-manager.service 2>/dev/null; then kiosk=cage
  else
    kiosk=none
    kiosk_note="the desktop session here is ${session:-not labwc}, which does not start the kiosk: switch to labwc (sudo raspi-config nonint do_wayland W3) and run ./install.sh again, or --kiosk cage for a console boot"
  fi
fi
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be an absolute path, got $prefix" >&2; exit 2 ;; esac
if [ -n "$mirror" ] && [ ! -d "$mirror" ]; then
  echo "install.sh: mirror folder $mirror does not exist" >&2; exit 2
fi

# --- What a Pi install copies to $prefix: the checkout minus what .gitignore ignores
# (the venv, fetched and built model files, install.log, caches), so the shipped
# calibration in weights/ arrives and a re-run's new install.log changes nothing.
# .gitignore's last matching line wins, rsync's first: its lines are read in reverse.
# Excluded paths are also kept safe from --delete. Directory times are not copied
# (a file created in the checkout is no change to the code).
code_filter() {
  local lines=() i line
  mapfile -t lines < "$here/.gitignore"
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    line="${lines[$i]%%[[:space:]]}"
    case "$line" in ''|'#'*) ;; '!'*) printf '%s\n' "--include=${line#!}" ;; *) printf '%s\n' "--exclude=$line" ;; esac
  done
  printf '%s\n' --exclude=/.git
}
mapfile -t copy_filter < <(code_filter)
copy_args=(-rlt --omit-dir-times --delete "${copy_filter[@]}")
code_pending() { rsync "${copy_args[@]}" --dry-run --itemize-changes "$here/" "$1/"; }  # what a copy would change
if [ -n "$copy_dir" ]; then
  mkdir -p "$copy_dir"
  if [ -z "$(code_pending "$copy_dir")" ]; then echo "$copy_dir is up to date"; exit 0; fi
  rsync "${copy_args[@]}" "$here/" "$copy_dir/"
  echo "copied the booth to $copy_dir"
  exit 0
fi

changed=0
# One line per step on the terminal; what the tools print (pip's and setuptools' notices,
# apt, the build's details) goes to this log, named by the last line.
log="$here/install.log"
[ "$dry_run" = 0 ] && [ -z "$render_dir" ] && : > "$log"
started=$SECONDS
say() { printf '==> %s\n' "$*"; }
run() {
  if [ "$dry_run" = 1 ]; then printf '    [dry-run] %s\n' "$*"; else "$@" >>"$log" 2>&1; fi
}
step_started=$SECONDS
step() { step_started=$SECONDS; step_name="$*"; }       # step NAME: a step begins
step_done() {                                             # step_done [DETAIL]: its one line
  say "$step_name${1:+: $1} ($((SECONDS - step_started)) s)"
}
fail_with_log() { echo "install.sh: $step_name failed; see $log" >&2; tail -n 5 "$log" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" = 0 ]; then run "$@"; else run sudo "$@"; fi
}
# apt_install_missing MESSAGE PACKAGE...: install the packages apt has not installed yet,
# first saying MESSAGE with their names in place of its %s. A package this system's
# archive does not have (python3-picamera2 and python3-lgpio exist only in Raspberry Pi
# OS's; python3-libcamera too, before Debian 13) is skipped with one line saying so;
# any apt failure stops the install with the log's last lines.
apt_install_missing() {
  local message="$1" p missing=() available=() absent=() updated=0
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  apt_sort() {   # which missing packages the archive has; a dry run assumes all
    available=(); absent=()
    for p in "${missing[@]}"; do
      if [ "$dry_run" = 1 ] || apt_has "$p"; then available+=("$p"); else absent+=("$p"); fi
    done
  }
  apt_sort
  if [ "${#absent[@]}" -gt 0 ]; then   # maybe only not in the package lists yet
    step "reading apt's package lists"
    as_root apt-get update -qq || fail_with_log
    updated=1
    apt_sort
  fi
  [ "${#absent[@]}" -gt 0 ] && say "skipped (not in this system's apt archive, only in Raspberry Pi OS's): ${absent[*]}"
  [ "${#available[@]}" -gt 0 ] || return 0
  step "$(printf "$message" "${available[*]}")"
  say "$step_name"
  if [ "$updated" = 0 ]; then as_root apt-get update -qq || fail_with_log; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${available[@]}" || fail_with_log
  changed=1
}
# apt_has PACKAGE: this system's apt archive has a version of PACKAGE to install.
# (The policy is read whole first: grep -q would stop reading early, and apt-cache's
# SIGPIPE then fails the pipeline under pipefail for a long answer such as chromium's.)
apt_has() {
  local policy
  policy="$(apt-cache policy "$1" 2>/dev/null)"
  [[ "$policy" == *"Candidate: "[!\(]* ]]
}

# --- systemd units: rendered from the templates in systemd/ with the real paths ---
# The kiosk URL uses the port of the booth's own config, so the two always agree.
booth_port() {
  local config=/etc/booth/config.toml python="$root/.venv/bin/python" reader=(cat)
  [ -f "$config" ] || config="$here/config.toml"
  # The installed config is readable by root and the booth only (admin password).
  [ -r "$config" ] || reader=(sudo -n cat)
  [ -x "$python" ] || python="$here/.venv/bin/python"
  "${reader[@]}" "$config" 2>/dev/null | "$python" -c 'import sys, tomllib; from booth.config import from_dict
print(from_dict(tomllib.loads(sys.stdin.read())).web.port)' 2>/dev/null || echo 8080
}
render() {   # render TEMPLATE: the template with @ROOT@ and @KIOSK_URL@ filled in
  sed -e "s#@ROOT@#$root#g" -e "s#@KIOSK_URL@#http://127.0.0.1:$(booth_port)/kiosk#g" "$here/systemd/$1"
}
if [ -n "$render_dir" ]; then
  root="$prefix"
  mkdir -p "$render_dir"
  render booth.service.in > "$render_dir/booth.service"
  render booth-kiosk.service.in > "$render_dir/booth-kiosk.service"
  render labwc-autostart.in > "$render_dir/labwc-autostart"
  echo "rendered booth.service, booth-kiosk.service and labwc-autostart for $root into $render_dir"
  exit 0
fi

is_pi=0
if [ "$force_pi" = 1 ] || grep -qs "Raspberry Pi" /proc/device-tree/model; then is_pi=1; fi

if [ "$is_pi" = 1 ] && [ "$dry_run" = 0 ] && [ "$(dpkg --print-architecture)" != arm64 ]; then
  # OpenVINO publishes arm64 wheels only: a 32-bit image (armhf, even on a 64-bit
  # kernel) cannot run the generator.
  echo "install.sh: this is a 32-bit system ($(dpkg --print-architecture)): flash the 64-bit Raspberry Pi OS (Bookworm or Trixie)" >&2
  exit 2
fi

# On a Pi the booth runs from $prefix as the booth user (a clone in /home/pi is not
# readable by other users); on any other machine it runs from this checkout.
if [ "$is_pi" = 1 ]; then root="$prefix"; else root="$here"; fi
venv="$root/.venv"
pip="$venv/bin/pip"
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
# On a Pi the venv must be built on the Python apt's picamera2 was built for.
[ "$is_pi" = 1 ] && python_bin=/usr/bin/python3

# --- Raspberry Pi 1: apt's packages ---
# picamera2 and libcamera exist only as apt packages (built for apt's numpy); lgpio is
# gpiozero's pin library on the Pi 5 (and the Pi 4 on Bookworm); chromium (called
# chromium-browser on older images) and, without a desktop, the cage compositor are
# the kiosk.
# The config the Pi's booth reads: the installed one, or (before the first install) this one.
booth_config() { if [ -f /etc/booth/config.toml ]; then echo /etc/booth/config.toml; else echo "$here/config.toml"; fi; }
config_value() {   # config_value EXPR: EXPR, about that config's settings s
  local config reader=(cat)
  config="$(booth_config)"
  [ -r "$config" ] || reader=(sudo -n cat)
  "${reader[@]}" "$config" 2>/dev/null | PYTHONPATH="$here" "$python_bin" -c "import sys, tomllib
from booth.config import from_dict
s = from_dict(tomllib.loads(sys.stdin.read()))
print($1)" 2>/dev/null
}
config_says() { config_value "bool($1)" | grep -qx True; }   # config_says EXPR: EXPR is true
hotspot_wanted() { config_says s.network.hotspot; }   # [network] hotspot = true
voice_wanted() { config_says s.cycle.spoken_countdown; }   # [cycle] spoken_countdown = true
sync_wanted() { config_says s.sync.remote; }          # [sync] remote is set
if [ "$is_pi" = 1 ]; then
  packages=(python3-picamera2 python3-libcamera python3-numpy python3-lgpio python3-venv python3-pip rsync)
  # The guests' languages on the kiosk and the prints: Japanese and Chinese (Noto CJK),
  # Arabic (Noto's core set).
  packages+=(fonts-noto-cjk fonts-noto-core)
  # libcairo2: cairosvg draws an SVG [theme] logo on the prints.
  packages+=(libcairo2)
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    # Older images call it chromium-browser; Debian and newer images, chromium.
    if apt_has chromium-browser && ! apt_has chromium; then packages+=(chromium-browser); else packages+=(chromium); fi
  fi
  [ "$kiosk" = cage ] && packages+=(cage)
  # The booth's own Wi-Fi: NetworkManager's shared mode runs dnsmasq; nftables sends
  # port 80 to the booth; iw sets the Wi-Fi country where raspi-config cannot.
  hotspot_wanted && packages+=(network-manager dnsmasq-base nftables iw)
  apt_install_missing "installing apt packages: %s" "${packages[@]}"
fi

# --- Raspberry Pi 2: the code in $prefix (root-owned, read-only to the service) ---
code_changed=0
if [ "$is_pi" = 1 ] && [ "$root" != "$here" ]; then
  if [ "$dry_run" = 1 ] || [ ! -d "$root" ]; then
    say "copying the booth to $root"
    as_root mkdir -p "$root"
    as_root rsync "${copy_args[@]}" "$here/" "$root/"
    code_changed=1
  elif [ -n "$(code_pending "$root")" ]; then
    say "updating the booth in $root"
    as_root rsync "${copy_args[@]}" "$here/" "$root/"
    code_changed=1
  fi
  [ "$code_changed" = 1 ] && changed=1
fi
# On a Pi, files under $root belong to root: everything below goes through as_root.
in_root() { if [ "$is_pi" = 1 ]; then as_root "$@"; else run "$@"; fi; }

# --- 1. The virtual environment ---
venv_args=()
# On a Pi the venv sees apt's picamera2/libcamera/lgpio (never on pip).
[ "$is_pi" = 1 ] && venv_args=(--system-site-packages)
if [ ! -x "$venv/bin/python" ]; then
  step "creating $venv"
  in_root "$python_bin" -m venv "${venv_args[@]}" "$venv" || fail_with_log
  in_root "$pip" install --quiet --upgrade pip || fail_with_log
  step_done
  changed=1
elif [ "$is_pi" = 1 ] && ! grep -qs "include-system-site-packages = true" "$venv/pyvenv.cfg"; then
  say "letting $venv see apt's packages (--system-site-packages)"
  in_root "$python_bin" -m venv --system-site-packages "$venv"
  changed=1
fi

# --- 2. The project and its packages. A stamp of what was asked for keeps re-runs instant ---
extras="build"
[ "$want_test" = 1 ] && extras="$extras,test"
[ "$want_bench" = 1 ] && extras="$extras,bench"
constraint_args=()
constraints=""
if [ "$is_pi" = 1 ]; then
  # numpy pinned to apt's version (and opencv/openvino to releases that fit it and the
  # Pi's cores): see scripts/pip_constraints.sh for why.
  constraints="$("$here/scripts/pip_constraints.sh" /usr/bin/python3)"
  constraint_args=(-c "$venv/booth-constraints.txt")
fi
stamp="$venv/.booth-installed"
if [ -n "$constraints" ]; then
  want_stamp="$(cat pyproject.toml - <<<"$constraints" | sha256sum | cut -c1-16) extras=$extras"
else
  want_stamp="$(sha256sum pyproject.toml | cut -c1-16) extras=$extras"
fi
have_stamp="$(cat "$stamp" 2>/dev/null || true)"
# Extras already installed by an earlier run stay satisfied.
if [ -n "$have_stamp" ] && [ "${have_stamp%% *}" = "${want_stamp%% *}" ]; then
  extras_missing=0
  for e in ${extras//,/ }; do
    case "$have_stamp" in *"$e"*) ;; *) extras_missing=1 ;; esac
  done
  [ "$extras_missing" = 0 ] && want_stamp="$have_stamp"
fi
if [ "$have_stamp" != "$want_stamp" ]; then
  step "installing the booth and its packages ($extras) into $venv"
  if [ "$is_pi" = 1 ]; then
    say "pip constraints: $(echo ${constraints:-none yet: apt\'s numpy is not installed})"
    if [ "$dry_run" = 1 ]; then
      run write "$venv/booth-constraints.txt"
    else
      printf '%s\n' "$constraints" | in_root tee "$venv/booth-constraints.txt" >/dev/null
    fi
  fi
  in_root "$pip" install --quiet "${constraint_args[@]}" -e "${root}[$extras]" || fail_with_log
  if [ "$want_bench" = 1 ]; then
    # PyTorch is bench-only (the eager baseline and the ONNX export). The CPU wheel
    # of this version is what the dev machines carry; never a run-time dependency.
    in_root "$pip" install --quiet "torch==2.13.0" || fail_with_log
  fi
  step_done
  if [ "$dry_run" = 1 ]; then
    run write "$stamp"
  else
    echo "$want_stamp" | in_root tee "$stamp" >/dev/null
  fi
  changed=1
fi

# --- 2b. The guests' languages: git keeps the .po catalogs, the booth reads them compiled ---
catalogs_stale=0
for po in "$here"/booth/translations/*/LC_MESSAGES/messages.po; do
  mo="$root/${po#"$here/"}"
  [ "${mo%.po}.mo" -nt "$po" ] || catalogs_stale=1
done
if [ "$catalogs_stale" = 1 ]; then
  step "translations (the guests' languages compiled)"
  in_root "$venv/bin/pybabel" -q compile -d "$root/booth/translations" || fail_with_log
  step_done
  changed=1
fi

# --- 3. Test tools: Debian's chromium for the browser tests (never a downloaded browser) ---
if [ "$want_test" = 1 ] && ! command -v chromium >/dev/null 2>&1 \
   && ! command -v chromium-browser >/dev/null 2>&1; then
  step "installing Debian's chromium for the browser tests"
  as_root apt-get update -qq || fail_with_log
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium || fail_with_log
  step_done
  changed=1
fi

# --- 3b. Test tools: dnsmasq and nftables for the hotspot tests (in network namespaces) ---
if [ "$want_test" = 1 ]; then
  apt_install_missing "installing %s for the hotspot tests" dnsmasq-base nftables
fi

# --- 3b2. Test tools: shellcheck for the install and kiosk scripts ---
if [ "$want_test" = 1 ]; then
  apt_install_missing "installing %s for the shell script checks" shellcheck
fi

# --- 3c. Test tools: CUPS for the print tests (their own cupsd with a cups-pdf printer;
# poppler's pdftoppm reads the PDFs back) ---
if [ "$want_test" = 1 ]; then
  apt_install_missing "installing CUPS for the print tests: %s" cups printer-driver-cups-pdf poppler-utils
fi

# --- 3d. rclone: [sync] remote copies the photos with it (on any machine); the sync tests
# serve their remotes with it ---
if [ "$want_test" = 1 ] || sync_wanted; then
  apt_install_missing "installing %s for [sync] (photos copied to your storage)" rclone
fi

# --- 3d2. espeak-ng: [cycle] spoken_countdown says the numbers it renders (step 5b); the
# voice tests render with it ---
if [ "$want_test" = 1 ] || voice_wanted; then
  apt_install_missing "installing %s for the spoken countdown" espeak-ng
fi

# --- 3e. Test tools: axe-core, the accessibility engine the browser tests inject into
# every page, from npm at the version tests/package-lock.json pins (into tests/node_modules,
# git-ignored); npm comes with Debian's nodejs ---
if [ "$want_test" = 1 ]; then
  command -v npm >/dev/null 2>&1 || apt_install_missing "installing %s for the accessibility tests" npm
  axe_wanted="$(sed -n 's/.*"axe-core": "\([0-9.]*\)".*/\1/p' tests/package.json)"
  axe_have="$(sed -n 's/^  "version": "\([0-9.]*\)".*/\1/p' tests/node_modules/axe-core/package.json 2>/dev/null || true)"
  if [ "$axe_have" != "$axe_wanted" ]; then
    step "installing axe-core $axe_wanted for the accessibility tests (npm ci in tests/)"
    run npm ci --prefix tests --no-audit --no-fund || fail_with_log
    step_done
    changed=1
  fi
fi

# --- 4. Model files (checksummed) and the INT8 generator build ---
booth="$venv/bin/booth"
mirror_args=()
[ -n "$mirror" ] && mirror_args=(--mirror "$mirror")
calibration_args=()
[ -n "$calibration" ] && calibration_args=(--calibration "$calibration")
# [cycle] spoken_countdown's numbers, said by espeak-ng in English (the tests) and in
# the kiosk's language ([booth] language).
voice_languages=(en)
kiosk_language="$(config_value s.booth.language || true)"
if [ -n "$kiosk_language" ] && [ "$kiosk_language" != en ]; then voice_languages+=("$kiosk_language"); fi
want_voice=0
if [ "$want_test" = 1 ] || voice_wanted; then want_voice=1; fi
# The tests and the evals measure on the public test photos (weights/photos/); a booth does not.
fetch_args=("${mirror_args[@]}")
[ "$want_test" = 1 ] && fetch_args+=(--photos)
if [ "$dry_run" = 1 ]; then
  in_root "$booth" weights fetch "${fetch_args[@]}"
  in_root "$booth" weights build --if-needed "${calibration_args[@]}"
  in_root "$booth" styles fetch "${mirror_args[@]}"
  in_root "$booth" styles build --if-needed "${calibration_args[@]}"
  if [ "$want_voice" = 1 ]; then in_root "$booth" voice render --languages "${voice_languages[@]}"; fi
else
  sudo_prefix=()
  [ "$is_pi" = 1 ] && [ "$(id -u)" != 0 ] && sudo_prefix=(sudo)
  as_booth() { "${sudo_prefix[@]}" "$booth" "$@"; }
  # booth_step NAME SUMMARY COMMAND...: one step that runs COMMAND, its output to the log.
  # SUMMARY reads that output, prints the step line's detail and succeeds if it changed something.
  booth_step() {
    local summary="$2" out detail
    step "$1"; shift 2
    out="$("$@" 2>>"$log")" || fail_with_log
    echo "$out" >> "$log"
    if detail="$("$summary" "$out")"; then changed=1; fi
    step_done "$detail"
  }
  fetch_summary() {
    case "$1" in
      *copied*|*downloaded*) echo "$(grep -cE 'copied|downloaded' <<<"$1") fetched" ;;
      *) echo "all present"; return 1 ;;
    esac
  }
  build_summary() {
    case "$1" in
      *"up to date"*) echo "up to date"; return 1 ;;
      *) tail -n 1 <<<"$1" | sed 's/^built in [0-9]* s, //' ;;
    esac
  }
  styles_summary() {
    case "$1" in
      *copied*|*downloaded*|*"runs "*) echo "built" ;;
      *) echo "up to date"; return 1 ;;
    esac
  }
  fetch_and_build_styles() {
    as_booth styles fetch "${mirror_args[@]}" && as_booth styles build --if-needed "${calibration_args[@]}"
  }
  build_name="generator build (INT8 from the shipped calibration, precision measured)"
  [ -n "$calibration" ] && build_name="generator build (INT8 calibrated on $calibration, precision measured)"
  fetch_name="model files and demo photos (sha256 checked)"
  [ "$want_test" = 1 ] && fetch_name="model files, demo photos and the public test photos (sha256 checked)"
  booth_step "$fetch_name" fetch_summary as_booth weights fetch "${fetch_args[@]}"
  booth_step "$build_name" build_summary as_booth weights build --if-needed "${calibration_args[@]}"
  # The styles guests choose from: fetched and built like the generator (a few minutes
  # per style on a Pi; `booth styles list` says what is built).
  booth_step "styles (fetched, sha256 checked, INT8 where it is faster and faithful)" styles_summary \
    fetch_and_build_styles
  voice_summary() {
    case "$1" in
      *"up to date"*) echo "up to date"; return 1 ;;
      *) echo "${voice_languages[*]} rendered" ;;
    esac
  }
  if [ "$want_voice" = 1 ]; then
    booth_step "the spoken countdown's numbers (espeak-ng)" voice_summary \
      as_booth voice render --languages "${voice_languages[@]}"
  fi
fi
if [ "$is_pi" = 1 ] && [ -n "$(find "$root/weights" -type f ! -perm -0044 2>/dev/null)" ]; then
  # Fetched files are created private (mode 0600); the booth user must read them.
  say "making the model files readable by the booth user"
  as_root chmod -R a+rX "$root/weights"
  changed=1
fi

# --- 5. Hardware and system parts: only on a Raspberry Pi ---
if [ "$is_pi" = 0 ]; then
  say "not a Raspberry Pi: skipped apt's picamera2, the booth user, systemd units and the kiosk"
else
  units_changed=0

  # 5a. The booth user: camera (video, render) and button (gpio), nothing else.
  if ! id booth >/dev/null 2>&1; then
    say "creating the system user booth"
    as_root useradd --system --user-group --home-dir /var/lib/booth --no-create-home \
      --shell /usr/sbin/nologin booth
    changed=1
  fi
  for group in video gpio render; do
    getent group "$group" >/dev/null || continue
    if ! id -nG booth 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
      say "adding booth to the $group group"
      as_root usermod -aG "$group" booth
      changed=1
    fi
  done

  # 5b. The data directory and the config (the organiser's edits are never overwritten).
  if [ ! -d /var/lib/booth ]; then
    say "creating /var/lib/booth"
    as_root install -d -o booth -g booth -m 0750 /var/lib/booth
    changed=1
  fi
  if [ ! -f /etc/booth/config.toml ]; then
    say "writing /etc/booth/config.toml (edit it, then: sudo systemctl restart booth)"
    as_root install -d -m 0755 /etc/booth
    # Readable by the booth only: it may hold the admin password.
    as_root install -m 0640 -o root -g booth "$root/config.toml" /etc/booth/config.toml
    changed=1
  fi

  # 5c. The systemd units. Without a running systemd (a chroot, a container) they are
  # installed and enabled, and that is said once; nothing can be started there.
  systemd_runs=1
  [ "$dry_run" = 0 ] && [ ! -d /run/systemd/system ] && systemd_runs=0
  install_rendered() {   # install_rendered TEMPLATE DEST: write DEST if its content differs
    if ! cmp -s <(render "$1") "$2"; then
      say "installing $2"
      if [ "$dry_run" = 1 ]; then run write "$2"; else render "$1" | as_root tee "$2" >/dev/null; fi
      units_changed=1
      changed=1
    fi
  }
  install_rendered booth.service.in /etc/systemd/system/booth.service
  if [ "$kiosk" = cage ]; then
    install_rendered booth-kiosk.service.in /etc/systemd/system/booth-kiosk.service
  fi
  [ "$units_changed" = 1 ] && [ "$systemd_runs" = 1 ] && as_root systemctl daemon-reload
  if ! systemctl is-enabled --quiet booth.service 2>/dev/null; then
    say "enabling booth.service at boot"
    as_root systemctl enable booth.service
    changed=1
  fi
  # "activating" counts as running: a cold start compiles the model for minutes.
  booth_state="$(systemctl is-active booth.service 2>/dev/null || true)"
  if [ "$systemd_runs" = 0 ]; then
    [ "$changed" = 1 ] && say "systemd is not running here (a chroot or container): booth.service is installed and enabled, not started"
  elif [ "$units_changed" = 1 ] || [ "$code_changed" = 1 ] || [ "$changed" = 1 ] \
     || { [ "$booth_state" != active ] && [ "$booth_state" != activating ]; }; then
    say "(re)starting booth.service (a cold start compiles the model: minutes on a Pi 4)"
    as_root systemctl restart --no-block booth.service
    changed=1
  fi

  # 5d. The kiosk: labwc's autostart on the desktop image, the cage service on Lite.
  if [ "$kiosk" = desktop ]; then
    desktop_user="${SUDO_USER:-$(id -un)}"
    [ "$desktop_user" = root ] && desktop_user="$(getent passwd 1000 | cut -d: -f1)"
    home="$(getent passwd "$desktop_user" | cut -d: -f6 || true)"
    if [ -z "$desktop_user" ] || [ -z "$home" ]; then
      say "no desktop user found: run ./install.sh as the user who logs in to the desktop (or --kiosk cage)"
    else
      autostart="$home/.config/labwc/autostart"
      block="$(render labwc-autostart.in)"
      current="$(sed -n '/^# >>> anime-booth kiosk/,/^# <<< anime-booth kiosk/p' "$autostart" 2>/dev/null || true)"
      if [ "$current" != "$block" ]; then
        say "adding the kiosk to $autostart (user $desktop_user)"
        step "setting up the desktop kiosk"
        if command -v raspi-config >/dev/null 2>&1; then
          # The screen must stay on all event long, and the desktop (so the kiosk) must
          # come up after a power cut without anyone logging in. Done before the
          # autostart block, which marks the whole step done: an interrupted run is
          # completed by the next one.
          as_root raspi-config nonint do_blanking 1 || fail_with_log
          as_root raspi-config nonint do_boot_behaviour B4 || fail_with_log
        fi
        # Each missing folder is made the user's own (install -d would give the
        # parents to root); a ~/.config left to root by an older install is given back.
        desktop_group="$(id -gn "$desktop_user")"
        for dir in "$home/.config" "$home/.config/labwc"; do
          if [ ! -d "$dir" ] || [ "$(stat -c %u "$dir")" = 0 ]; then
            as_root install -d -o "$desktop_user" -g "$desktop_group" -m 0755 "$dir" || fail_with_log
          fi
        done
        if [ "$dry_run" = 1 ]; then
          run write "$autostart"
        else
          others="$(sed '/^# >>> anime-booth kiosk/,/^# <<< anime-booth kiosk/d' "$autostart" 2>/dev/null || true)"
          printf '%s\n%s\n' "$others" "$block" | sed '/./,$!d' | as_root tee "$autostart" >/dev/null
          as_root chown "$desktop_user:$desktop_group" "$autostart"
        fi
        say "the kiosk starts at the next login of $desktop_user (reboot to see it)"
        changed=1
      fi
    fi
  elif [ "$kiosk" = cage ]; then
    if ! systemctl is-enabled --quiet booth-kiosk.service 2>/dev/null; then
      say "enabling the kiosk (booth-kiosk.service: chromium in cage on tty1)"
      as_root systemctl enable booth-kiosk.service
      changed=1
    fi
    if [ "$systemd_runs" = 1 ] && { [ "$units_changed" = 1 ] || ! systemctl is-active --quiet booth-kiosk.service; }; then
      if [ "$dry_run" = 0 ] && who | awk '$2 == "tty1" { found = 1 } END { exit !found }'; then
        # The kiosk takes tty1 (Conflicts=getty@tty1): starting it now would end that login.
        say "someone is logged in on tty1: the kiosk takes that screen at the next boot (or now: sudo systemctl restart booth-kiosk, which ends that login)"
      else
        as_root systemctl restart --no-block booth-kiosk.service
        changed=1
      fi
    fi
  else
    say "${kiosk_note:---kiosk none: no kiosk screen set up}"
  fi

  # 5e. The booth's own Wi-Fi ([network] hotspot): `booth network apply` creates the
  # NetworkManager hotspot, updates it, or removes it; a dry run prints what it would do.
  # Last of all: bringing the hotspot up ends a Wi-Fi SSH session, and a failure here
  # leaves an installed, running booth. This checkout's code runs it (a first dry run
  # has no venv in $root yet).
  net_python="$venv/bin/python"
  [ -x "$net_python" ] || net_python="$python_bin"
  net_args=(network apply --config "$(booth_config)")
  net_sudo=()
  [ "$(id -u)" != 0 ] && net_sudo=(sudo)
  if [ "$dry_run" = 1 ]; then
    net_args+=(--dry-run)
    [ -r "$(booth_config)" ] && net_sudo=()
  fi
  if ! net_out="$("${net_sudo[@]}" env PYTHONPATH="$here" "$net_python" -m booth "${net_args[@]}")"; then
    echo "install.sh: the booth's own Wi-Fi failed (above); everything else is installed. Fix [network] in $(booth_config), then: sudo $venv/bin/booth network apply" >&2
    exit 1
  fi
  case "$net_out" in
    *"nothing to change"*) ;;
    *) say "the booth's own Wi-Fi ([network] hotspot)"; echo "$net_out" | sed 's/^/    /'; changed=1 ;;
  esac
fi

if [ "$dry_run" = 1 ]; then
  say "dry run: nothing was changed"
elif [ "$changed" = 0 ]; then
  say "already installed: nothing changed"
elif [ "$is_pi" = 1 ]; then
  say "installed in $((SECONDS - started)) s (details: $log). Check it: sudo $venv/bin/booth doctor --config /etc/booth/config.toml; the screen shows the booth once it is ready"
else
  say "installed in $((SECONDS - started)) s (details: $log). Run .venv/bin/booth run --demo and open http://127.0.0.1:$(booth_port)/kiosk"
fi
