"""Run a piece of a test inside a network namespace of its own, as a phone would see it.

The namespace (``unshare -n``) has only a loopback interface, up, with
:data:`BOOTH_ADDRESS` on it: a booth bound there sees its clients come from
10.99.0.1, not from loopback (a phone, not the organiser), and nothing can leave the
namespace. The code runs in a child Python process and prints one JSON line last,
which :func:`run_in_namespace` returns.
"""

from __future__ import annotations

import json
import subprocess
import sys

from booth import PROJECT_ROOT

#: The booth's (and the phones') address inside the namespace.
BOOTH_ADDRESS = "10.99.0.1"

_SETUP = f'ip link set lo up && ip addr add {BOOTH_ADDRESS}/32 dev lo && exec "$@"'


def namespace_problem() -> str | None:
    """Why a network namespace cannot be made here (None when it can)."""
    try:
        result = subprocess.run(["unshare", "-n", "sh", "-c", _SETUP, "sh", "true"],
                                capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "unshare (util-linux) is not installed"
    if result.returncode != 0:
        return f"cannot make a network namespace (needs root): {result.stderr.strip()}"
    return None


def run_in_namespace(script: str, *args: str, timeout: float = 120) -> dict:
    """Run Python ``script`` (with ``args`` in sys.argv[1:]) in a fresh namespace."""
    argv = ["unshare", "-n", "sh", "-c", _SETUP, "sh", sys.executable, "-c", script, *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)
    assert result.returncode == 0, f"namespace child failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])
