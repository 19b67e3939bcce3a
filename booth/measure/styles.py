"""``booth bench --styles``: per style, INT8 and float latency at 384 and 512, INT8's
fidelity against the style's float network on real photos, the press-to-result time of
the whole pipeline in each style (median over the portraits in faces/, and on the group
with the most faces) against the default style's, the booth's RSS with every style
compiled and with ``[styles] max_loaded``, and a cold style's first-use latency.

``booth eval fidelity [DIR...] [--photos SET]``: each built style as the booth runs it
(INT8 where its build chose INT8) against its own float network on booth crops of a
photo set's faces/ and groups/ (a face style on each face's own crop, what it runs on):
PSNR and SSIM, and the build's own fidelity target.

Latencies are the style as the booth runs it (uint8 in and out, padding to the
style's size multiple or its one size included), median of ``--repeats`` after a
warm-up. Memory and cold start are measured in fresh child processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from booth import config
from booth.files import write_json
from booth.measure import quality
from booth.vision import styles
from booth.measure.photos import crops_of, face_crops_of, photo_crops, photo_files, photo_set, photos_in
from booth.measure.targets import check_targets, exit_status, targets_line
from booth.measure.timing import median_ms
from booth.model.style_build import MIN_PSNR_DB
from booth.vision.generator import Generator, working_shape
from booth.vision.images import load_image
from booth.vision.pipeline import Pipeline

#: The press-to-result targets against the default style (a face style on a portrait,
#: and on a group of six).
PRESS_RATIO_PORTRAIT = 1.5
PRESS_RATIO_GROUP = 2.5

SIZES = (384, 512)
#: The photo set's folders `booth eval fidelity` measures without DIR.
FOLDERS = ("faces", "groups")
#: The size the styles are compared at (the policy's plain close-up size).
EVAL_SIZE = 384


def _generator(style: styles.Style, variant: str, threads: int) -> styles.StyleGenerator:
    if style.classic:
        return styles.StyleGenerator(style, Generator(precision="int8" if variant == "int8" else "f32",
                                                      threads=threads))
    return styles.StyleGenerator(style, Generator(styles.ir_path(style.name, variant),
                                                  precision="int8" if variant == "int8" else "f32",
                                                  threads=threads))


def bench_style(style: styles.Style, crops: list[np.ndarray], threads: int, repeats: int) -> dict:
    """Latency of INT8 and float at each size, and INT8 vs float on the crops."""
    aspect = config.defaults().face.aspect
    int8, fp32 = _generator(style, "int8", threads), _generator(style, "fp32", threads)
    row: dict = {"label": style.label}
    card = styles.read_card(style.name) if not style.classic else None
    row["runs"] = card["runs"] if card else "int8"
    for size in SIZES:
        h, w = working_shape(size, aspect)
        rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        row[f"int8_{size}_ms"] = median_ms(lambda: int8.stylize(rgb), repeats, warmup=1)
        row[f"fp32_{size}_ms"] = median_ms(lambda: fp32.stylize(rgb), repeats, warmup=1)
    references = [fp32.stylize(crop) for crop in crops]
    row.update(quality.fidelity([int8.stylize(crop) for crop in crops], references), images=len(crops))
    return row


_MEMORY_CODE = """
import json, sys, time
from pathlib import Path
from booth import config
from booth.vision import styles
def rss_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) // 1024
settings = config.defaults().replace("booth", data_dir=sys.argv[1])
settings = settings.replace("styles", max_loaded=int(sys.argv[2]))
from booth.vision.pipeline import Pipeline
started = time.perf_counter()
pipeline = Pipeline.from_settings(settings)
out = {"default_loaded_s": round(time.perf_counter() - started, 1), "rss_default_mb": rss_mb(), "first_use_s": {}}
for name in pipeline.styles.available:
    if name in pipeline.styles.loaded():
        continue
    started = time.perf_counter()
    pipeline.styles.generator(name)
    out["first_use_s"][name] = round(time.perf_counter() - started, 2)
out["loaded"] = pipeline.styles.loaded()
out["rss_after_all_mb"] = rss_mb()
for line in open('/proc/self/status'):
    if line.startswith('VmHWM:'):
        out["peak_rss_mb"] = int(line.split()[1]) // 1024
print(json.dumps(out))
"""


def bench_memory(max_loaded: int) -> dict:
    """A fresh booth pipeline (empty compile cache: cold), then every available style used
    once: RSS with the default only, after all (at most ``max_loaded`` kept), the peak,
    and each style's first-use time (compile + warm-up of every working size)."""
    with tempfile.TemporaryDirectory() as data:
        done = subprocess.run([sys.executable, "-c", _MEMORY_CODE, data, str(max_loaded)],
                              capture_output=True, text=True, check=False, env=dict(os.environ))
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else "memory child failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_press(photos: Path, names: list[str], repeats: int, every: int = 1) -> dict:
    """Press-to-result (``Pipeline.process`` from the full photo, warm) per style: the
    median over faces/ (every ``every``-th photo) and, ``repeats`` times, on the group with the most faces; each
    against the default style's. Styles are interleaved photo by photo so a busy machine
    slows them alike."""
    settings = config.defaults()
    settings = settings.replace("styles", max_loaded=len(names) + 2)
    pipeline = Pipeline.from_settings(settings)
    portraits = [load_image(p, max_pixels=settings.upload.max_pixels)
                 for p in photos_in(photos / "faces")[::every]]
    groups = [load_image(p, max_pixels=settings.upload.max_pixels) for p in photos_in(photos / "groups")]
    detector = pipeline.detector
    assert detector is not None  # Pipeline.from_settings loads it
    group = max(groups, key=lambda rgb: len(detector.detect(rgb)), default=None)

    def press_ms(rgb: np.ndarray, name: str) -> float:
        return median_ms(lambda: pipeline.process(rgb, style=name), 1, warmup=0)

    for name in names:  # compile and warm every style (and a face style's companion) first
        pipeline.process(portraits[0] if portraits else np.zeros((64, 64, 3), np.uint8), style=name)
    times: dict[str, list[float]] = {n: [] for n in names}
    for rgb in portraits:
        for name in names:
            times[name].append(press_ms(rgb, name))
    group_times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(repeats if group is not None else 0):
        for name in names:
            group_times[name].append(press_ms(group, name) if group is not None else 0.0)
    default = settings.styles.default
    rows: dict[str, dict[str, Any]] = {}
    result = {"portraits": len(portraits), "group_faces": len(detector.detect(group)) if group is not None else 0,
              "styles": rows}
    for name in names:
        row = {"portrait_ms": round(float(np.median(times[name])), 1) if times[name] else None,
               "group_ms": round(float(np.median(group_times[name])), 1) if group_times[name] else None}
        rows[name] = row
    base = rows[default]
    for row in rows.values():
        row["portrait_ratio"] = round(row["portrait_ms"] / base["portrait_ms"], 2) if row["portrait_ms"] else None
        row["group_ratio"] = round(row["group_ms"] / base["group_ms"], 2) if row["group_ms"] else None
    return result


def print_press(press: dict, catalogue: dict) -> None:
    print(f"press-to-result, median over {press['portraits']} portraits and on a group of "
          f"{press['group_faces']} faces (x = against the default style):")
    for name, row in press["styles"].items():
        line = f"  {name:9} portrait {row['portrait_ms']:>6.0f} ms x{row['portrait_ratio']:.2f}"
        if row["group_ms"]:
            line += f"   group {row['group_ms']:>6.0f} ms x{row['group_ratio']:.2f}"
        if catalogue[name].role == "face":
            ok = row["portrait_ratio"] <= PRESS_RATIO_PORTRAIT and (
                row["group_ratio"] is None or row["group_ratio"] <= PRESS_RATIO_GROUP)
            line += (f"   (face style: targets x{PRESS_RATIO_PORTRAIT} / x{PRESS_RATIO_GROUP} "
                     f"{'met' if ok else 'NOT met'})")
        print(line, flush=True)


def run_styles(photo_dir: str | None, threads: int, repeats: int, quick: bool = False,
               json_path: Path | None = None) -> int:
    """The ``booth bench --styles`` table (see the module docstring), written to ``json_path`` too."""
    settings = config.defaults()
    photos = photo_set(photo_dir)
    crops = photo_crops(photos, size=384) if (photos / "faces").is_dir() else []
    if quick:
        crops = crops[::4]
    catalogue = styles.catalogue()
    names = [n for n in settings.styles.enabled if styles.is_built(n)]
    result: dict = {"repeats": repeats, "photos": len(crops), "styles": {}}
    print(f"{'style':9} {'runs':5} " + " ".join(f"{'int8@' + str(s):>9} {'fp32@' + str(s):>9}" for s in SIZES)
          + f" {'PSNR dB':>8} {'min':>6} {'SSIM':>6}", flush=True)
    for name in names:
        style = catalogue[name]
        # A face style is judged on what it runs on: the faces' own crops.
        inputs = face_crops_of(photos_in(photos / "faces") + photos_in(photos / "groups"), style)[::4 if quick else 1] \
            if style.role == "face" and crops else crops
        row = bench_style(style, inputs, threads, repeats)
        result["styles"][name] = row
        print(f"{name:9} {row['runs']:5} "
              + " ".join(f"{row[f'int8_{s}_ms']:>9.0f} {row[f'fp32_{s}_ms']:>9.0f}" for s in SIZES)
              + f" {row['psnr_db']:>8} {row['psnr_min_db']:>6} {row['ssim']:>6}", flush=True)
    if (photos / "faces").is_dir():
        press = bench_press(photos, names, repeats, every=4 if quick else 1)
        result["press"] = press
        print_press(press, catalogue)
    if not quick:
        for limit in (len(names), settings.styles.max_loaded):
            print(f"memory: every style used once, max_loaded = {limit} (cold compile cache)…", flush=True)
            memory = bench_memory(limit)
            result[f"memory_max_loaded_{limit}"] = memory
            print(f"  RSS default only {memory['rss_default_mb']} MB, after all styles "
                  f"{memory['rss_after_all_mb']} MB (kept {', '.join(memory['loaded'])}), "
                  f"peak {memory['peak_rss_mb']} MB; first use (s): "
                  + ", ".join(f"{k} {v}" for k, v in memory["first_use_s"].items()), flush=True)
    if json_path is not None:
        write_json(json_path, result)
    return 0


# --- booth eval fidelity ----------------------------------------------------------------

def runs_int8(style: styles.Style) -> bool:
    """True when the booth runs ``style`` as INT8 (the classic generator always does)."""
    card = None if style.classic else styles.read_card(style.name)
    return style.classic or bool(card and card["runs"] == "int8")


def run_fidelity(dirs: Sequence[str] = (), *, photos: str | None = None, json_path: Path | None = None,
                 check: bool = False) -> int:
    """``booth eval fidelity`` (:mod:`booth.cli.eval` says what each option does)."""
    files = photo_files(dirs, FOLDERS, photos)
    crops = crops_of(files, size=EVAL_SIZE)
    catalogue = styles.catalogue()
    names = [n for n in config.defaults().styles.enabled if styles.is_built(n)]
    print(f"{len(crops)} booth crops at {EVAL_SIZE} (a face style: each face's own crop); "
          f"{'style':9} {'runs':5} {'PSNR dB':>8} {'min':>6} {'SSIM':>6} {'min':>6}", flush=True)
    result: dict = {"crops": len(crops), "styles": {}}
    targets = {}
    for name in names:
        style = catalogue[name]
        row: dict[str, Any] = {"runs": "int8" if runs_int8(style) else "fp32"}
        if row["runs"] == "int8":
            # A face style is judged on what it runs on: the faces' own crops.
            inputs = face_crops_of(files, style) if style.role == "face" else crops
            row["crops"] = len(inputs)
            int8, fp32 = _generator(style, "int8", 0), _generator(style, "fp32", 0)
            row.update(quality.fidelity([int8.stylize(c) for c in inputs], [fp32.stylize(c) for c in inputs]))
            # The build chose INT8 for being at least this faithful on its held-out crops.
            targets[f"{name}_psnr_db"] = (">=", MIN_PSNR_DB)
            result[f"{name}_psnr_db"] = row["psnr_db"]
            print(f"{name:9} {row['runs']:5} {row['psnr_db']:>8} {row['psnr_min_db']:>6} "
                  f"{row['ssim']:>6} {row['ssim_min']:>6}", flush=True)
        else:
            print(f"{name:9} {row['runs']:5} (the float network itself: nothing to compare)", flush=True)
        result["styles"][name] = row
    result["targets"] = check_targets(result, targets)
    print(targets_line(result["targets"]))
    if json_path is not None:
        write_json(json_path, result)
    return exit_status(result["targets"], check)
