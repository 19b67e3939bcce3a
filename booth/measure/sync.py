"""Sync figures, measured against a real rclone remote (``rclone serve webdav`` on loopback):

* stored → visible: from a photo's commit in a booth's store to its listing on a
  ``booth gallery`` node (p50 / p99 over ``--photos`` photos, one after another);
* press-to-result with ``[sync] remote`` on and off (``booth run --demo --cycles N``,
  the runs alternated; the target: at most 5 % slower);
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
from booth.daemon.store import PhotoStore
from booth.daemon.sync import Rclone, SyncWorker
from booth.measure.photos import photo_set, photos_in
from booth.measure.targets import check_targets, targets_line
from booth.vision.images import load_image

TARGETS = {"sync_slowdown_pct": ("<=", 5.0), "bandwidth_ratio": ("<=", 1.05)}
REMOTE = "bench"
BOOTH = str(Path(sys.executable).parent / "booth")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_webdav(root: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    """``rclone serve webdav`` over ``root`` on loopback; the environment that names it
    remote "bench" for rclone."""
    port = free_port()
    server = subprocess.Popen(["rclone", "serve", "webdav", str(root), "--addr", f"127.0.0.1:{port}"],
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booth.measure.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="runs with sync off and on, alternated")
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
        rate = upload_rate_kib(work, env, args.bandwidth_kib)
        summary |= {"bandwidth_cap_kib": args.bandwidth_kib, "upload_kib_s": round(rate, 1),
                    "bandwidth_ratio": round(rate / args.bandwidth_kib, 3)}
        print(f"upload under a {args.bandwidth_kib} KiB/s cap: {rate:.0f} KiB/s "
              f"({rate / args.bandwidth_kib:.1%} of the cap)", flush=True)

        latencies = stored_to_visible(work, env, args.photos)
        summary |= {"photos": len(latencies), "visible_p50_s": round(percentile(latencies, 0.5), 2),
                    "visible_p99_s": round(percentile(latencies, 0.99), 2),
                    "visible_max_s": round(max(latencies), 2)}
        print(f"stored -> visible on the gallery node over {len(latencies)} photos: "
              f"p50 {summary['visible_p50_s']} s, p99 {summary['visible_p99_s']} s, "
              f"max {summary['visible_max_s']} s (gallery pulls every 1 s)", flush=True)

        runs: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for sync in (False, True):
                runs[sync].append(press_to_result_ms(work, env, args.cycles, sync))
                print(f"  press-to-result, sync {'on ' if sync else 'off'}: {runs[sync][-1]:.0f} ms "
                      f"(median of {args.cycles})", flush=True)
        off, on = statistics.mean(runs[False]), statistics.mean(runs[True])
        summary |= {"press_to_result_off_ms": round(off), "press_to_result_on_ms": round(on),
                    "sync_slowdown_pct": round((on / off - 1) * 100, 1)}
        print(f"press-to-result: sync off {off:.0f} ms, on {on:.0f} ms "
              f"({summary['sync_slowdown_pct']:+.1f} %)", flush=True)
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
