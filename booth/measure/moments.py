"""``booth bench --modes``: how soon a photo strip and a boomerang are ready, and what they
cost in memory, on the real booth (folder camera over the photo set, the real pipeline,
the store on disk), with the targets:

* a 4-shot strip ready ≤ 1.5 s after its last shot (the "shot" event of the last shot
  to the "result" state: its stylizing, composing and storing);
* a boomerang of 24 frames at 512 px long side ready ≤ 3 s after its burst ends (the
  "process" state to "result": the frames still being stylized, both encodings, storing);
* the booth's RSS at most 150 MB above what it is after a single photo, during either
  (the booth as ``booth run`` starts it: the strip's and the boomerang's networks are
  compiled at start, :meth:`Booth.warm_moments`).

It also times one boomerang frame through the Cute network alone and both encoders per
frame, the figures a Raspberry Pi's time follows from, in wall time and in CPU time
(every thread of the process). On a shared machine the wall times stretch with the
others' work; the CPU time hardly does, and on a machine of its own a computation that
never waits takes no longer than its CPU time (one of its threads is always running).
So the boomerang's CPU figures give a bound on its time on a quiet machine:
``max(frame, frames × frame − burst) + encoders`` in CPU time (the frames are stylized as
the burst comes in, so only what outlasts the burst counts), printed beside the
measured figure with the load average.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from booth import config
from booth.daemon.booth import Booth
from booth.daemon.making import load_pipeline
from booth.daemon.memory import keep_large_blocks_returnable
from booth.devices.camera import CameraSupervisor, backend_factory
from booth.measure.photos import photos_in
from booth.measure.targets import check_targets, targets_line
from booth.vision import boomerang, mirror

TARGETS = {"strip_ready_after_last_shot_ms": ("<=", 1500.0),
           "boomerang_ready_after_burst_ms": ("<=", 3000.0),
           "rss_above_photo_mb": ("<=", 150.0)}


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples the RSS every 20 ms on a thread; ``peak`` is the highest seen."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(1.0)


def _one_cycle(booth: Booth, mode: str) -> dict:
    """Press once in ``mode``; the event times (epoch s) of the last picture and the result."""
    booth.choose_mode(mode)
    shots = booth.settings.cycle.strip_shots
    last_picture = None
    with booth.events.subscribe() as sub:
        if not booth.trigger("bench"):
            raise RuntimeError(f"the booth refused the {mode} press")
        while True:
            event = sub.get(timeout=120)
            if event is None:
                raise RuntimeError(f"no result for the {mode} within 120 s")
            if mode == "strip" and event.kind == "shot" and event.data["stage"] == "taken" \
                    and event.data["index"] == shots - 1:
                last_picture = event.time
            if event.kind == "state" and event.data["state"] == "process" and mode == "boomerang":
                last_picture = event.time
            if event.kind == "state" and event.data["state"] in ("result", "failsafe"):
                if event.data["state"] == "failsafe":
                    raise RuntimeError(f"the {mode} failed: {event.data.get('message')}")
                ready_ms = None if last_picture is None else (event.time - last_picture) * 1e3
                return {"ready_ms": ready_ms, "photo_id": event.data["photo_id"]}


def per_frame_ms(settings: config.Settings, frames: int = 12) -> dict:
    """One boomerang frame (512 px, 4:3) through the Cute network on every core, and the
    two encoders per frame of a 46-frame loop."""
    network = mirror.mirror_network(settings, threads=0)
    h, w = mirror.frame_shape(boomerang.CLIP_LONG_SIDE, 4 / 3)
    x = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    for _ in range(3):
        network.stylize(x)
    wall, cpu = [], []
    for _ in range(frames):
        started, started_cpu = time.perf_counter(), time.process_time()
        network.stylize(x)
        wall.append((time.perf_counter() - started) * 1e3)
        cpu.append((time.process_time() - started_cpu) * 1e3)
    burst = [np.roll(x, 4 * i, axis=1) for i in range(boomerang.BURST_FRAMES)]
    loop = len(boomerang.forward_backward(burst))
    encoders = {}
    for name, encode in (("mp4", boomerang.mp4_of), ("webp", boomerang.webp_of)):
        started, started_cpu = time.perf_counter(), time.process_time()
        encode(burst)
        encoders[name] = ((time.perf_counter() - started) * 1e3, (time.process_time() - started_cpu) * 1e3)
    network_cpu = statistics.median(cpu)
    # What outlasts the burst: the frames behind, or at least the last frame's own.
    outlasting = max(network_cpu, boomerang.BURST_FRAMES * network_cpu - boomerang.BURST_S * 1e3)
    return {"shape": f"{w}x{h}", "network_ms": round(statistics.median(wall), 1),
            "network_cpu_ms": round(network_cpu, 1),
            "mp4_ms_per_frame": round(encoders["mp4"][0] / loop, 1),
            "webp_ms_per_frame": round(encoders["webp"][0] / loop, 1),
            "encoders_cpu_ms": round(encoders["mp4"][1] + encoders["webp"][1], 1),
            "quiet_bound_ms": round(outlasting + encoders["mp4"][1] + encoders["webp"][1], 1),
            "precision": network.precision}


def bench_modes(photos: Path, cycles: int = 3) -> dict:
    """``cycles`` strips and boomerangs on the real booth (countdown 1 s), after one photo."""
    faces = photos_in(photos / "faces")
    if not faces:
        raise FileNotFoundError(f"no photos in {photos / 'faces'}")
    keep_large_blocks_returnable()  # the allocator as `booth run` sets it
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="booth-modes-") as tmp:
        folder = Path(tmp) / "camera"
        folder.mkdir()
        for face in faces[:8]:
            shutil.copy(face, folder)
        settings = config.defaults().replace("booth", data_dir=str(Path(tmp) / "data"))
        settings = settings.replace("camera", backend="folder", folder=str(folder))
        settings = settings.replace("storage", min_free_mb=0)
        settings = settings.replace("cycle", countdown_s=1, show_result_s=0.3, strip_shots=4)
        camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera).start()
        pipeline, message = load_pipeline(settings)
        if pipeline is None:
            raise RuntimeError(message)
        booth = Booth(settings, camera=camera, pipeline=pipeline).start()
        booth.warm_moments()  # as `booth run` does once the model is loaded
        result: dict = {"cycles": cycles, "strip_ms": [], "boomerang_ms": []}
        try:
            _one_cycle(booth, "photo")
            result["rss_after_photo_mb"] = round(rss_mb(), 1)
            peaks = {}
            for mode in ("strip", "boomerang"):
                with PeakRss() as peak:
                    for _ in range(cycles):
                        result[f"{mode}_ms"].append(round(_one_cycle(booth, mode)["ready_ms"], 1))
                peaks[mode] = round(peak.peak, 1)
            result["rss_peak_mb"] = max(peaks.values())
            result["rss_peak_by_mode_mb"] = peaks
        finally:
            booth.stop()
            camera.close()
            booth.store.close()
        # Inside the temporary folder: the network's compile cache goes with it.
        result["per_frame"] = per_frame_ms(settings)
    result["strip_ready_after_last_shot_ms"] = round(statistics.median(result["strip_ms"]), 1)
    result["boomerang_ready_after_burst_ms"] = round(statistics.median(result["boomerang_ms"]), 1)
    result["rss_above_photo_mb"] = round(result["rss_peak_mb"] - result["rss_after_photo_mb"], 1)
    # A shared machine's other work stretches every time above: the load says how much.
    result["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    result["malloc_arena_max"] = os.environ.get("MALLOC_ARENA_MAX", "")
    result["targets"] = check_targets(result, TARGETS)
    return result


def print_modes(result: dict) -> None:
    frame = result["per_frame"]
    print(f"\nStrips and boomerangs on the real booth, median of {result['cycles']} each "
          f"(networks compiled at start, as `booth run` does); load average "
          f"{result['load_average'][0]:.1f} at the start, {result['load_average'][1]:.1f} at the end"
          + (f"; MALLOC_ARENA_MAX={result['malloc_arena_max']}" if result["malloc_arena_max"] else ""))
    print(f"4-shot strip ready after the last shot: {result['strip_ready_after_last_shot_ms']:.0f} ms "
          f"(target <= 1500; each: {result['strip_ms']})")
    print(f"boomerang ({boomerang.BURST_FRAMES} frames, {boomerang.CLIP_LONG_SIDE} px) ready after the "
          f"burst: {result['boomerang_ready_after_burst_ms']:.0f} ms (target <= 3000; each: "
          f"{result['boomerang_ms']})")
    peaks = result["rss_peak_by_mode_mb"]
    print(f"RSS: {result['rss_after_photo_mb']:.0f} MB after a photo, peak {peaks['strip']:.0f} MB during "
          f"the strips, {peaks['boomerang']:.0f} MB during the boomerangs: "
          f"+{result['rss_above_photo_mb']:.0f} MB (target <= +150)")
    print(f"one boomerang frame {frame['shape']} ({frame['precision']}, every core): "
          f"{frame['network_ms']:.1f} ms; MP4 {frame['mp4_ms_per_frame']:.1f} ms and WebP "
          f"{frame['webp_ms_per_frame']:.1f} ms per loop frame")
    print(f"in CPU time (all threads): a frame {frame['network_cpu_ms']:.1f} ms, both encoders "
          f"{frame['encoders_cpu_ms']:.0f} ms: on a machine of its own the boomerang is ready at most "
          f"~{frame['quiet_bound_ms']:.0f} ms after its burst (+ storing)")
    print(targets_line(result["targets"]))
