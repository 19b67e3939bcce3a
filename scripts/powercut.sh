#!/usr/bin/env bash
# Power cuts at many instants under the real booth, on LazyFS (a FUSE file system that
# keeps unsynced writes in its own cache and drops them on command, as a power cut does).
#
#   sudo scripts/powercut.sh [--tools DIR] [DRIVER OPTIONS]    (see scripts/powercut.py --help)
#
# Builds LazyFS from the sources in DIR (default ../shared/tools: the LazyFS tarball and the
# toml11 and spdlog tarballs its build would otherwise download), with statfs passed through
# (scripts/lazyfs-statfs.patch), cached in /var/cache/booth-powercut by the sources' hash so
# reruns start at once; then runs scripts/powercut.py, which drives `booth run --demo` on a
# LazyFS mount and cuts the power. Root: mounting FUSE with allow_other.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tools="$here/../shared/tools"
if [ "${1:-}" = --tools ]; then
  tools="${2:?--tools needs a folder}"
  shift 2
fi
cache="${POWERCUT_CACHE:-/var/cache/booth-powercut}"

say() { printf '==> %s\n' "$*"; }
fail() { echo "powercut.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (sudo scripts/powercut.sh): it mounts a FUSE file system"
[ -e /dev/fuse ] || fail "no /dev/fuse on this machine: LazyFS needs FUSE"
tarball() {  # tarball NAME-PREFIX: the one source tarball of that name in $tools
  local found=("$tools"/"$1"*.tar.gz)
  [ -f "${found[0]}" ] || fail "no $1*.tar.gz in $tools (pass --tools DIR)"
  echo "${found[0]}"
}
lazyfs_tar="$(tarball lazyfs-)"
toml_tar="$(tarball toml11-)"
spdlog_tar="$(tarball spdlog-)"

missing=()
for p in cmake g++ make libfuse3-dev fuse3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (to build and mount LazyFS)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The build is named by what went into it: new sources or a new patch build anew.
key="$(cat "$lazyfs_tar" "$toml_tar" "$spdlog_tar" "$here/scripts/lazyfs-statfs.patch" | sha256sum | cut -c1-16)"
build="$cache/$key"
lazyfs="$build/lazyfs/lazyfs/build/lazyfs"
if [ ! -x "$lazyfs" ]; then
  say "building LazyFS in $build (once; about a minute)"
  started=$SECONDS
  rm -rf "$build.part"
  mkdir -p "$build.part/lazyfs" "$build.part/deps"
  tar -xzf "$lazyfs_tar" -C "$build.part/lazyfs" --strip-components=1
  tar -xzf "$toml_tar" -C "$build.part/deps"
  tar -xzf "$spdlog_tar" -C "$build.part/deps"
  toml="$(echo "$build.part"/deps/toml11-*)"
  spdlog="$(echo "$build.part"/deps/spdlog-*)"
  patch -s -d "$build.part/lazyfs" -p1 < "$here/scripts/lazyfs-statfs.patch"
  log="$build.part/build.log"
  (
    cd "$build.part/lazyfs/libs/libpcache" && mkdir -p build && cd build
    cmake .. -DFETCHCONTENT_SOURCE_DIR_TOML="$toml" -DFETCHCONTENT_SOURCE_DIR_SPDLOG="$spdlog" \
      -DFETCHCONTENT_FULLY_DISCONNECTED=ON
    cmake --build . -j 2
    cd "$build.part/lazyfs/lazyfs" && mkdir -p build && cd build
    cmake .. -DLAZYFS_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="-I$spdlog/include -I$toml"
    cmake --build . -j 2
  ) >"$log" 2>&1 || { tail -n 20 "$log" >&2; fail "building LazyFS failed; see $log"; }
  rm -rf "$build"
  mv "$build.part" "$build"
  say "LazyFS built ($((SECONDS - started)) s)"
fi
[ -x "$lazyfs" ] || fail "no LazyFS binary at $lazyfs"

[ -x "$here/.venv/bin/python" ] || fail "no $here/.venv: run ./install.sh first"
export LD_LIBRARY_PATH="$build/lazyfs/libs/libpcache/build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/.venv/bin/python" "$here/scripts/powercut.py" --lazyfs "$lazyfs" "$@"
