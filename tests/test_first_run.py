"""The README's first command as a newcomer runs it: a fresh clone with nothing beside it
but the offline model mirror (no ../shared/photos, no $BOOTH_PHOTOS, no calibration
folder).

It must install quietly, build the calibrated INT8 graph from the shipped ranges with
the precision chosen by measurement, and start a demo booth (demo photos as the camera,
as this machine has no webcam) that takes a photo when asked.

The install is real (pip into a new .venv, reusing pip's cache), so this takes a few
minutes; the booth runs in a private network namespace, where port 8080 is its own and
nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from booth import PROJECT_ROOT
from conftest import MIRROR

#: The README's first command, as written there (test_readme checks the README has it).
RUN_COMMAND = "./install.sh && .venv/bin/booth run --demo"

#: Runs inside `unshare -n`: starts the booth with the command's second half, waits
#: until it is ready, takes a photo, finds it in the listing, stops the booth.
CLIENT = r"""
import json, shlex, signal, subprocess, sys, time, urllib.request
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
# The command itself, not a shell around it: SIGTERM must reach the booth.
booth = subprocess.Popen(shlex.split(sys.argv[1]), stderr=open("booth.log", "w"),
                         stdout=subprocess.DEVNULL)
base = "http://127.0.0.1:8080"

def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null") if "json" in r.headers.get("Content-Type", "") else None
    except urllib.error.HTTPError as e:
        return e.code, None
    except OSError:
        return None, None

result = {}
try:
    deadline = time.time() + 600
    while time.time() < deadline and booth.poll() is None:
        status, health = get("/healthz")
        if status == 200 and health["model"]["ok"]:
            result["health"] = health
            break
        time.sleep(1)
    request = urllib.request.Request(base + "/api/trigger", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as r:
        result["trigger"] = r.status
    while time.time() < deadline:
        status, listing = get("/api/photos")
        if status == 200 and listing["total"] >= 1:
            result["photos"] = listing
            break
        time.sleep(1)
    result["upload_status"] = get("/upload")[0]
finally:
    booth.send_signal(signal.SIGTERM)
    result["exit"] = booth.wait(timeout=60)
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory) -> dict:
    """The first command's install half, run on a fresh clone; its output and clone."""
    if not (MIRROR / "animeganv2_hayao_256x256_integer_quant.tflite").is_file():
        pytest.fail(f"model mirror not found at {MIRROR}: set BOOTH_WEIGHTS_MIRROR")
    clone = tmp_path_factory.mktemp("newcomer") / "anime-booth"  # nothing beside it
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(clone)], check=True, timeout=120)
    assert not (clone.parent / "shared").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOTH_")}
    env["BOOTH_WEIGHTS_MIRROR"] = str(MIRROR)
    install, run = RUN_COMMAND.split(" && ")
    done = subprocess.run(["bash", "-c", install], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"clone": clone, "env": env, "run": run, "stdout": done.stdout, "stderr": done.stderr}


def test_install_prints_one_line_per_step_and_what_to_open(newcomer):
    lines = newcomer["stdout"].splitlines()
    assert all(line.startswith("==> ") for line in lines), newcomer["stdout"]
    steps = [line for line in lines[:-1] if not line.startswith("==> not a Raspberry Pi")]
    assert 3 <= len(steps) <= 6 and all(re.search(r"\(\d+ s\)$", s) for s in steps), lines
    log = newcomer["clone"] / "install.log"
    assert lines[-1].startswith("==> installed in ") and f"details: {log}" in lines[-1]
    assert lines[-1].endswith("open http://127.0.0.1:8080/kiosk")
    assert newcomer["stderr"] == ""
    assert log.is_file() and log.stat().st_size > 0
    assert "is ignored" not in newcomer["stdout"] and "Deprecat" not in newcomer["stdout"]
    assert "License classifiers are deprecated" not in log.read_text()
    assert "project.license` as a TOML table is deprecated" not in log.read_text()


def test_install_builds_the_calibrated_int8_graph_and_chooses_the_precision(newcomer):
    card = json.loads((newcomer["clone"] / "weights" / "generator_card.json").read_text())
    int8 = card["int8"]
    assert int8["chosen"] == "nncf" and int8["calibration"]["from"] == "ranges file", int8
    fid = int8["fidelity_vs_fp32"]
    assert fid["nncf"]["psnr_db"] > 37.0 and fid["nncf"]["psnr_db"] > fid["tflite-asis"]["psnr_db"] + 5
    precision = card["precision"]
    assert precision["chosen"] in ("int8", "f16", "f32")
    assert set(precision["candidates"]) == {"int8", "f16", "f32"}
    chosen = precision["candidates"][precision["chosen"]]
    for name, other in precision["candidates"].items():
        eligible = name == "f32" or (other["psnr_db"] or 0) >= precision["min_psnr_db"]
        assert not eligible or chosen["total_ms"] <= other["total_ms"], precision
    assert card["build"]["calibration"] == "ranges file"
    assert card["build"]["seconds"] > 0 and card["build"]["peak_rss_mb"] > 0


def test_first_command_runs_a_demo_booth_that_takes_a_photo(newcomer):
    clone = newcomer["clone"]
    done = subprocess.run(["unshare", "-n", f"{clone}/.venv/bin/python", "-c", CLIENT, newcomer["run"]],
                          cwd=clone, env=newcomer["env"], capture_output=True, text=True, timeout=900)
    log = (clone / "booth.log").read_text() if (clone / "booth.log").exists() else ""
    assert done.returncode == 0, done.stderr[-3000:] + log[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "health" in result, log[-3000:]
    assert result["health"]["camera"]["backend"] == "folder"
    precision = result["health"]["model"]["precision"]
    assert result["health"]["model"]["precision_why"].startswith("auto: ")
    card = json.loads((clone / "weights" / "generator_card.json").read_text())
    assert precision == card["precision"]["chosen"]
    assert result["trigger"] == 202
    assert result["photos"]["total"] == 1, result
    assert result["upload_status"] == 200  # demo mode: guests' uploads on, no PIN
    assert result["exit"] == 0, log[-3000:]
    assert f"demo: camera folder {clone / 'weights' / 'demo'}" in log
