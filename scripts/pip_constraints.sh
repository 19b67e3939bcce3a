#!/usr/bin/env bash
# Print the pip constraints that keep a --system-site-packages venv compatible with
# the system's (apt's) Python packages. install.sh uses it on Raspberry Pi OS, and
# scripts/arm64_proof.sh uses it inside its emulated Debian, so both install the same
# wheels.
#
#   scripts/pip_constraints.sh [SYSTEM_PYTHON]      (default: python3)
#
# Why: apt's python3-picamera2, python3-simplejpeg and python3-libcamera are compiled
# against apt's numpy. A numpy of another major version in the venv shadows it and
# they die on import with "numpy.dtype size changed, may indicate binary
# incompatibility". So numpy is pinned to exactly the system's version: pip sees it
# through --system-site-packages and never installs a numpy of its own.
set -euo pipefail
py="${1:-python3}"

if numpy_version="$("$py" -c 'import numpy; print(numpy.__version__)' 2>/dev/null)"; then
  echo "numpy==$numpy_version"
  if [ "${numpy_version%%.*}" = 1 ]; then
    # opencv-python-headless 4.12 and later require numpy >= 2; 4.11.0.86 is the last
    # release whose wheels (built against numpy 2, backwards compatible) accept
    # numpy >= 1.23.5, which Bookworm's 1.24 satisfies.
    echo "opencv-python-headless<4.12"
  else
    # The OpenCV major the test suite runs (tests/test_install.py checks the dev venv's
    # against this line): a new major reaches a Pi only after the tests have run it.
    echo "opencv-python-headless>=5,<6"
  fi
fi

if [ "$(uname -m)" = aarch64 ]; then
  # Some OpenVINO aarch64 wheels have died with "Illegal instruction" on ARM cores
  # without SVE (every Raspberry Pi). This is the release scripts/arm64_proof.sh ran
  # correctly on emulated Cortex-A72 (Pi 4) and Cortex-A76 (Pi 5) cores; its wheels
  # accept numpy >= 1.16.6, so it works with Bookworm's numpy 1.24 and Trixie's 2.x.
  # Move this pin only after the proof passes with the new release.
  echo "openvino==2026.4.1"
fi
