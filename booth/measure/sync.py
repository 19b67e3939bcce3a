"""Sync figures, measured against a real rclone remote (``rclone serve webdav`` on loopback):

* stored → visible: from a photo's commit in a booth's store to its listing on a
  ``booth gallery`` node (p50 / p99 over ``--photos`` photos, one after another);
* press-to-result with ``[sync] remote`` on and off, two ways: whole ``booth run --demo
  --cycles N`` runs, alternated; and paired cycles in one booth, alternately pressed
  while the previous photo uploads and once the upload is done (a machine shared with
  other work drifts less within one run). The target: at most 5 % slower;
* the upload bandwidth cap: the rate of a copy under ``[sync] bandwidth_kib``.

    python -m booth.measure.sync [--photos 50] [--cycles 10] [--rounds 2]
                                 [--bandwidth-kib 512] [--json FILE]

Prints the figures and whether each target is met; never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from booth import config
from booth.daemon.booth import Booth
from booth.daemon.making import load_pipeline
from booth.daemon.store import PhotoStore
from booth.daemon.sync import Rclone, SyncWorker
from booth.devices.camera import CameraSupervisor, backend_factory
from booth.measure.photos import photo_set, photos_in
from booth.measure.targets import check_targets, targets_line
from booth.vision.images import load_image

TARGETS = {"sync_slowdown_pct": ("<=", 5.0), "paired_slowdown_pct": ("<=", 5.0),
           "bandwidth_ratio": ("<=", 1.05)}
REMOTE = "bench"
#: The paired cycles: the pause before each press, and the upload cap that makes one
#: photo's upload (about 1.2 MB) outlast the next cycle.
PRESS_GAP_S = 1.0
PAIRED_BANDWIDTH_KIB = 256
BOOTH = str(Path(sys.executable).parent / "booth")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_webdav(root: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    """``rclone serve webdav`` over ``root`` on loopback; the environment that names it
    remote "bench" for rclone."""
    port = free_port()
    # Niced: it stands for storage on another machine, which costs the booth no CPU.
    server = subprocess.Popen(["nice", "-n", "19", "rclone", "serve", "webdav", str(root), "--addr", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    prefix = f"RCLONE_CONFIG_{REMOTE.upper()}_"
    return server, {prefix + "TYPE": "webdav", prefix + "URL": f"http://127.0.0.1:{port}",
                    prefix + "VENDOR": "other"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def booth_photos(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(original, anime) pairs the size a booth stores: the public set's faces as the
    camera frames, a 1080 x 1350 portrait standing in for the generator's."""
    files = photos_in(photo_set() / "faces")
    if not files:
        raise SystemExit(f"no photos in {photo_set() / 'faces'}: set BOOTH_PHOTOS")
    pairs = []
    for i in range(count):
        original = load_image(files[i % len(files)])
        anime = cv2.resize(original, (1080, 1350), interpolation=cv2.INTER_AREA)
        pairs.append((original, np.ascontiguousarray(np.roll(anime, i, axis=1))))
    return pairs


def stored_to_visible(work: Path, env: dict[str, str], count: int) -> list[float]:
    """Seconds from each photo's commit in the store to its listing on a gallery node."""
    settings = config.defaults().replace("booth", data_dir=str(work / "booth"), name="bench")
    settings = settings.replace("storage", min_free_mb=0).replace("sync", remote=f"{REMOTE}:party")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    worker = SyncWorker.from_settings(settings, store)
    store.listeners.append(worker)
    port = free_port()
    gallery = subprocess.Popen([BOOTH, "gallery", "--remote", f"{REMOTE}:party", "--port", str(port),
                                "--host", "127.0.0.1", "--data-dir", str(work / "gallery"), "--every-s", "1"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latencies = []
    try:
        worker.start()
        for original, anime in booth_photos(count):
            photo = store.save(original, anime, {"size": 512, "faces": 1})
            assert photo is not None  # no keep callback: always kept
            stored = time.monotonic()
            while photo.id not in listed(port):
                time.sleep(0.05)
            latencies.append(time.monotonic() - stored)
    finally:
        gallery.terminate()
        gallery.wait(15)
        worker.stop()
        store.close()
    return latencies


def listed(port: int) -> set[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/photos?limit=100", timeout=5) as response:
            return {p["id"] for p in json.load(response)["photos"]}
    except OSError:
        return set()


def press_to_result_ms(work: Path, env: dict[str, str], cycles: int, sync: bool) -> float:
    """The median press-to-result of ``booth run --demo --cycles N`` (sync on or off)."""
    run_dir = Path(tempfile.mkdtemp(dir=work))
    cfg = run_dir / "config.toml"
    cfg.write_text(f'[sync]\nremote = "{REMOTE}:cycles-{run_dir.name}"\n' if sync else "")
    result = subprocess.run([BOOTH, "run", "--demo", str(photo_set() / "faces"), "--cycles", str(cycles),
                             "--port", "0", "--host", "127.0.0.1", "--config", str(cfg),
                             "--data-dir", str(run_dir / "data"), "--log-level", "warning"],
                            env=env, capture_output=True, text=True, timeout=1800)
    match = re.search(r"median_press_to_result_ms=(\d+)", result.stdout)
    if not match:
        raise SystemExit(f"booth run --cycles gave no figure: {result.stdout[-300:]} {result.stderr[-500:]}")
    return float(match.group(1))


def paired_cycles(work: Path, pairs: int) -> tuple[list[float], list[float]]:
    """Press-to-result (ms) of cycles pressed once the sync is idle, and of cycles pressed
    while the previous photo uploads, alternated in one booth with the real generator.
    Every press waits ``PRESS_GAP_S`` after the last result (so neither kind follows its
    predecessor more closely), and the upload is capped low enough to span the cycle."""
    settings = config.defaults().replace("booth", data_dir=str(work / "paired"), name="paired")
    settings = settings.replace("camera", backend="folder", folder=str(photo_set() / "faces"))
    settings = settings.replace("cycle", countdown_s=0, show_result_s=0.5).replace("storage", min_free_mb=0)
    settings = settings.replace("sync", remote=f"{REMOTE}:paired", bandwidth_kib=PAIRED_BANDWIDTH_KIB)
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera)
    pipeline, message = load_pipeline(settings)
    if pipeline is None:
        raise SystemExit(f"the generator does not load: {message}")
    booth = Booth(settings, camera=camera, pipeline=pipeline)
    booth.sync = SyncWorker.from_settings(settings, booth.store)
    booth.store.listeners.append(booth.sync)
    quiet: list[float] = []
    overlapped: list[float] = []
    try:
        booth.sync.start()
        camera.start()
        booth.start()
        for cycle in range(2 * pairs + 1):
            uploading = cycle % 2 == 1  # right after the quiet cycle's photo was stored
            if not uploading:
                while booth.sync.status()["queued"]:
                    time.sleep(0.05)
            time.sleep(PRESS_GAP_S)
            with booth.events.subscribe() as sub:
                while not booth.trigger("bench"):
                    time.sleep(0.02)
                while (event := sub.get(timeout=60)) is not None and not (
                        event.kind == "state" and event.data["state"] in ("result", "failsafe")):
                    pass
            if cycle == 0:
                continue  # the first cycle warms caches up
            ms = (booth.counters.last_cycle or {}).get("press_to_result_ms")
            if ms:
                (overlapped if uploading else quiet).append(float(ms))
    finally:
        booth.stop()
        booth.sync.stop()
        camera.close(timeout=2.0)
        booth.store.close()
    return quiet, overlapped


def upload_rate_kib(work: Path, env: dict[str, str], cap_kib: int) -> float:
    """KiB/s of an rclone copy of about 12 MB of booth photos under the cap."""
    source = work / "upload"
    source.mkdir()
    total = 0
    for i, (original, _) in enumerate(booth_photos(40)):
        path = source / f"{i}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(original, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        total += path.stat().st_size
        if total > 12 * 2**20:
            break
    started = time.monotonic()
    Rclone("", cap_kib).run("copy", str(source), f"{REMOTE}:bandwidth", "--transfers", "2")
    return total / 1024 / (time.monotonic() - started)


def cpu_figures(work: Path, photos: int = 10) -> dict:
    """CPU time one photo's copy costs: rclone's (niced children) and the worker's own
    (its record: hashing the files, the JSON), each photo pushed on its own."""
    settings = config.defaults().replace("booth", data_dir=str(work / "cpu"), name="cpu")
    settings = settings.replace("storage", min_free_mb=0).replace("sync", remote=f"{REMOTE}:cpu", bandwidth_kib=0)
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    worker = SyncWorker.from_settings(settings, store)  # not started: pushed here, one by one
    children_s = thread_s = 0.0
    try:
        for original, anime in booth_photos(photos):
            photo = store.save(original, anime, {"size": 512, "faces": 1})
            assert photo is not None  # no keep callback: always kept
            before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
            before_thread = time.thread_time()
            worker.push([photo.id])
            thread_s += time.thread_time() - before_thread
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            children_s += (after.ru_utime + after.ru_stime) - (before_children.ru_utime + before_children.ru_stime)
    finally:
        worker.stop()
        store.close()
    figures = {"rclone_cpu_ms_per_photo": round(children_s / photos * 1000),
               "worker_cpu_ms_per_photo": round(thread_s / photos * 1000)}
    print(f"CPU per photo copied: rclone {figures['rclone_cpu_ms_per_photo']} ms (at nice 19), the worker's "
          f"record {figures['worker_cpu_ms_per_photo']} ms (its thread at nice 19), over {photos} photos", flush=True)
    return figures


def bandwidth_figures(work: Path, env: dict[str, str], cap_kib: int) -> dict:
    rate = upload_rate_kib(work, env, cap_kib)
    print(f"upload under a {cap_kib} KiB/s cap: {rate:.0f} KiB/s ({rate / cap_kib:.1%} of the cap)", flush=True)
    return {"bandwidth_cap_kib": cap_kib, "upload_kib_s": round(rate, 1), "bandwidth_ratio": round(rate / cap_kib, 3)}


def visible_figures(work: Path, env: dict[str, str], photos: int) -> dict:
    latencies = stored_to_visible(work, env, photos)
    figures = {"photos": len(latencies), "visible_p50_s": round(percentile(latencies, 0.5), 2),
               "visible_p99_s": round(percentile(latencies, 0.99), 2), "visible_max_s": round(max(latencies), 2)}
    print(f"stored -> visible on the gallery node over {len(latencies)} photos: p50 {figures['visible_p50_s']} s, "
          f"p99 {figures['visible_p99_s']} s, max {figures['visible_max_s']} s (gallery pulls every 1 s)", flush=True)
    return figures


def cycle_figures(work: Path, env: dict[str, str], cycles: int, rounds: int) -> dict:
    quiet, overlapped = paired_cycles(work, cycles)
    figures: dict[str, float] = {"paired_quiet_ms": round(statistics.median(quiet)),
               "paired_uploading_ms": round(statistics.median(overlapped))}
    figures["paired_slowdown_pct"] = round((figures["paired_uploading_ms"] / figures["paired_quiet_ms"] - 1) * 100, 1)
    print(f"press-to-result in one booth over {len(quiet)} + {len(overlapped)} alternated cycles: median "
          f"{figures['paired_quiet_ms']} ms with the sync idle, {figures['paired_uploading_ms']} ms while the "
          f"previous photo uploads ({figures['paired_slowdown_pct']:+.1f} %)", flush=True)
    if not rounds:
        return figures
    runs: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for sync in (False, True):
            runs[sync].append(press_to_result_ms(work, env, cycles, sync))
            print(f"  booth run --cycles {cycles}, sync {'on ' if sync else 'off'}: median press-to-result "
                  f"{runs[sync][-1]:.0f} ms", flush=True)
    off, on = statistics.mean(runs[False]), statistics.mean(runs[True])
    figures |= {"press_to_result_off_ms": round(off), "press_to_result_on_ms": round(on),
                "sync_slowdown_pct": round((on / off - 1) * 100, 1)}
    print(f"press-to-result over whole runs: sync off {off:.0f} ms, on {on:.0f} ms "
          f"({figures['sync_slowdown_pct']:+.1f} %)", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booth.measure.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="whole runs with sync off and on, alternated (0: the paired cycles only)")
    parser.add_argument("--only", choices=("bandwidth", "visible", "cycles"),
                        help="measure one figure only")
    parser.add_argument("--bandwidth-kib", type=int, default=512)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    if shutil.which("rclone") is None:
        raise SystemExit("rclone is not installed: sudo apt install rclone")
    work = Path(tempfile.mkdtemp(prefix="booth-sync-bench-"))
    server, remote_env = serve_webdav(work / "remote")
    os.environ.update(remote_env)  # the in-process rclone calls name the remote too
    env = dict(os.environ)
    summary: dict = {}
    try:
        if args.only in (None, "bandwidth"):
            summary |= bandwidth_figures(work, env, args.bandwidth_kib)
            summary |= cpu_figures(work)
        if args.only in (None, "visible"):
            summary |= visible_figures(work, env, args.photos)
        if args.only in (None, "cycles"):
            summary |= cycle_figures(work, env, args.cycles, args.rounds)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    checked = check_targets(summary, TARGETS)
    summary["targets_met"] = checked
    print(targets_line(checked))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
