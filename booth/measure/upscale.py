"""``booth eval upscale [DIR...] [--json FILE]``: is the full-resolution portrait worth it?

For each photo the whole pipeline runs (the generator at the policy's size, the
result at ``[storage] result_long_side`` but never beyond the crop's own resolution),
then:

* **faithful**: the result, shrunk back to the generator's size (area average), against
  the generator's own output: PSNR in dB;
* **sharper**: mean gradient magnitude of the result over that of a bicubic upscale of
  the generator's output to the same pixels, and the same ratio for the guide (the
  photo at full resolution over a bicubic upscale of the crop the generator saw): how
  much finer detail the photo itself holds, the ceiling of the detail anything guided
  by it can take (beyond that, only sharper lines: the edge snapping). Photos holding
  at least the target themselves are counted apart, with the result's ratio on them;
* **no halos**: around strong edges (the bicubic upscale's top 5 % of gradients, and
  2 px around them) how far the result leaves the range of values the bicubic upscale
  has within twice the upscale factor (the width of its blurred ramps): brighter than
  the bright side or darker than the dark side. Mean and 99th percentile, grey levels;
* **faces**: the detector on the generator's output and on the result, each face of
  the frame mapped into each: faces found again and their landmark error (NME); and on
  a bicubic upscale of the generator's output, which shows how much of a change is the
  detector's own at the larger size;
* **cost**, on a 12-megapixel frame made from the first one-face portrait with room
  around it (a camera-native one from ``hires/``, a frame already, with a little; as a
  guest in front of the booth's camera: the crop lies inside the frame):
  the upscale step (the full-resolution render of the crop and the upsampling) against
  the generator at its largest size, timed back to back in this process, and the growth
  of peak memory (RSS) during the upscale step (in a fresh process). A portrait cropped
  close around the face (most of ``faces/``) made into a frame as it is puts the crop
  past the frame's edge, which costs more (its mirrored part is blurred at full
  resolution too): reported apart.

Photos whose crop is no larger in the photo than the generator's size are kept at
that size (nothing to upsample from); they are listed but not counted in the targets.
The sharpness target is judged where the photos hold that detail themselves: on the
set's ``hires/`` (camera-native photos), else on all the photos when they hold it on
average; small, soft photos cannot show it (reported, not targeted). The faces' NME
on the result is judged against the detector's own spread: a difference no larger than
how far the detector's NME moves between the generator's output and its plain bicubic
upscale (its standard deviation over the photos: same content, a larger size) is the
detector's, not the result's.

Without DIR it uses a photo set's ``hires/``, ``faces/`` and ``groups/``: ``--photos
SET``, else the public set in ``weights/photos/``.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from booth import config
from booth.errors import UserError
from booth.files import write_json
from booth.measure.faces import match_faces, nme
from booth.measure.photos import load_photos, photo_files
from booth.measure.targets import check_targets, exit_status, targets_line
from booth.vision import geometry
from booth.vision.pipeline import Pipeline

#: What the full-resolution result must reach (name: (comparison, limit)), checked in
#: the summary.
TARGETS = {
    "psnr_min_db": (">=", 35.0),
    "sharpness_gradient_ratio": (">=", 1.3),
    "faces_found_not_fewer": ("==", True),
    "faces_nme_not_worse": ("==", True),
    "cost_share": ("<=", 0.10),
    "rss_growth_mb": ("<=", 100.0),
}
#: The targets on time and memory (reported; not a failure of ``--check``, see
#: :func:`~booth.measure.targets.exit_status`).
COST_TARGETS = frozenset({"cost_share", "rss_growth_mb"})
#: The photo set's folders measured without DIR (hires/ first: the cost's portrait is
#: the first one-face photo).
FOLDERS = ("hires", "faces", "groups")
#: Strong edges: this top share of the bicubic upscale's gradients.
STRONG_EDGE_SHARE = 0.05
#: A 12-megapixel camera frame (4:3, like the Pi camera's stills), height × width.
FRAME_12MP = (3000, 4000)
#: Back-to-back timing rounds for the cost (medians).
COST_ROUNDS = 7
#: Room around the portrait in the 12 MP frame the cost is measured on, on each side, as
#: a share of the portrait's long side: enough for the booth's head-and-shoulders crop to
#: lie inside the frame (the edge pixels are repeated, so no second face appears).
GUEST_MARGIN = 0.5
#: The same for a camera-native photo (hires/): it is a camera frame already, its
#: subject close to its edges; a tenth more room puts the crop inside the frame, still
#: filling it (the full result size, from a crop larger than the result).
HIRES_MARGIN = 0.1


# --- measures --------------------------------------------------------------------------

def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images of one shape, in dB (inf if equal)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0 ** 2 / mse))


def gradient_magnitude(rgb: np.ndarray) -> np.ndarray:
    """Per pixel, the luminance gradient magnitude in grey levels per pixel (Sobel / 8)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy) / 8


def gradient_ratio(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean gradient magnitude of ``image`` over that of ``reference`` (same shape)."""
    return float(gradient_magnitude(image).mean() / max(gradient_magnitude(reference).mean(), 1e-9))


def edge_overshoot(image: np.ndarray, reference: np.ndarray, radius: int = 3) -> tuple[float, float]:
    """How far ``image`` leaves ``reference``'s range around its strong edges: (mean,
    99th percentile) in grey levels. The range is taken over ``radius`` pixels, enough
    to span the reference's blurred ramp to the flat sides, so a crisper edge stays
    inside it and only a halo or ringing (brighter than the bright side, darker than
    the dark side) counts."""
    gradient = gradient_magnitude(reference)
    strong = (gradient >= np.quantile(gradient, 1 - STRONG_EDGE_SHARE)).astype(np.uint8)
    near = cv2.dilate(strong, np.ones((5, 5), np.uint8)) > 0
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY).astype(np.float32)
    out = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    window = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    beyond = np.maximum(out - cv2.dilate(ref, window), 0) + np.maximum(cv2.erode(ref, window) - out, 0)
    values = beyond[near]
    if values.size == 0:
        return 0.0, 0.0
    return float(values.mean()), float(np.percentile(values, 99))


def ramp_radius(factor: float) -> int:
    """The window (radius, pixels) over which a bicubic upscale by ``factor`` spreads an edge."""
    return max(3, math.ceil(2 * factor))


def faces_in(detector, image: np.ndarray, shot: geometry.Framing, faces) -> tuple[int, list[float]]:
    """The frame's faces found again in ``image`` (rendered with ``shot``): (count, NMEs)."""
    expected = [shot.map_face(f) for f in faces]
    found = detector.detect(image)
    pairs = match_faces(expected, found)
    return len(pairs), [nme(expected[i], found[j]) for i, j in pairs]


def evaluate_photo(pipeline, rgb: np.ndarray) -> dict:
    """One photo through the pipeline, measured (the per-image record without "file")."""
    result = pipeline.process(rgb)
    generated, stylized = result.generated, result.stylized
    gen_h, gen_w = generated.shape[:2]
    out_h, out_w = stylized.shape[:2]
    record = {"generator_size": f"{gen_w}x{gen_h}", "result_size": f"{out_w}x{out_h}",
              "crop_inside": geometry.crop_inside(result.framing, rgb.shape[:2]),
              "factor": round(max(out_h, out_w) / max(gen_h, gen_w), 2),
              "upscale_ms": round(result.timings_ms["upscale"], 1),
              "generator_ms": round(result.timings_ms["generator"], 1)}
    found_gen, nme_gen = faces_in(pipeline.detector, generated, result.crop_framing, result.faces)
    found_full, nme_full = faces_in(pipeline.detector, stylized, result.framing, result.faces)
    record.update(faces=len(result.faces), found_generated=found_gen, found_result=found_full,
                  nme_generated=round(float(np.mean(nme_gen)), 4) if nme_gen else None,
                  nme_result=round(float(np.mean(nme_full)), 4) if nme_full else None)
    if (out_h, out_w) == (gen_h, gen_w):
        return record
    bicubic = cv2.resize(generated, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    # The detector's own spread at this size: the same faces on a plain bicubic upscale.
    _, nme_bicubic = faces_in(pipeline.detector, bicubic, result.framing, result.faces)
    record["nme_bicubic"] = round(float(np.mean(nme_bicubic)), 4) if nme_bicubic else None
    shrunk = cv2.resize(stylized, (gen_w, gen_h), interpolation=cv2.INTER_AREA)
    guide = geometry.warp(rgb, result.framing)
    crop_up = cv2.resize(result.crop, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    over_mean, over_p99 = edge_overshoot(stylized, bicubic, ramp_radius(record["factor"]))
    record.update(psnr_db=round(psnr(shrunk, generated), 2),
                  gradient_ratio=round(gradient_ratio(stylized, bicubic), 3),
                  guide_gradient_ratio=round(gradient_ratio(guide, crop_up), 3),
                  overshoot_mean=round(over_mean, 2), overshoot_p99=round(over_p99, 1))
    return record


#: Run in a fresh Python: the peak RSS growth of the upscale step on a 12 MP frame, in
#: KiB. A fresh process, because a long-running one reuses memory its allocator kept
#: from earlier photos and would hide the growth. The content does not change the
#: memory, so the generator's output is stood in for by the crop itself.
_RSS_PROBE = """
import sys
import numpy as np
from booth import config
from booth.vision import framing, geometry, upsample
from booth.vision.generator import working_shape

def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

height, width, size, long_side = map(int, sys.argv[1:5])
settings = config.defaults()
frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
shot = framing.plan((height, width), [], working_shape(size, settings.face.aspect), settings.face)
crop = geometry.warp(frame, shot)
shape = upsample.result_shape(shot.shape, shot.scale, long_side)
before = kib("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
image = upsample.upsample(crop, crop, geometry.warp(frame, framing.resized(shot, shape)))
print(kib("VmHWM") - before, image.shape[0], image.shape[1])
"""


def rss_growth_mb(frame_hw: tuple[int, int], size: int, long_side: int) -> float | None:
    """Peak RSS growth (MiB) of the upscale step on a frame of ``frame_hw`` (a fresh
    process); None where the kernel does not let a process reset its peak."""
    done = subprocess.run([sys.executable, "-c", _RSS_PROBE, *map(str, (*frame_hw, size, long_side))],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return None
    return round(int(done.stdout.split()[0]) / 1024, 1)


def camera_frame(rgb: np.ndarray, margin: float) -> np.ndarray:
    """A 12 MP frame made from ``rgb`` with ``margin`` × its long side of room on each
    side (its edge pixels repeated), cut to the frame's 4:3 around its centre."""
    pad = round(margin * max(rgb.shape[:2]))
    if pad:
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    frame_h, frame_w = FRAME_12MP if rgb.shape[1] >= rgb.shape[0] else FRAME_12MP[::-1]
    h, w = rgb.shape[:2]
    keep_h, keep_w = min(h, round(w * frame_h / frame_w)), min(w, round(h * frame_w / frame_h))
    top, left = (h - keep_h) // 2, (w - keep_w) // 2
    rgb = rgb[top:top + keep_h, left:left + keep_w]
    return cv2.resize(rgb, (frame_w, frame_h), interpolation=cv2.INTER_AREA)


def measure_cost(pipeline, rgb: np.ndarray, rounds: int = COST_ROUNDS,
                 margin: float = GUEST_MARGIN) -> dict:
    """The upscale step on a 12 MP frame made from ``rgb`` (:func:`camera_frame`), against
    the generator at its largest size, alternated in this process so a busy machine slows
    both alike."""
    frame = camera_frame(rgb, margin)
    frame_h, frame_w = frame.shape[:2]
    largest = max(pipeline.settings.generator.sizes)
    result = pipeline.process(frame, size=largest)
    shot, crop, generated = result.crop_framing, result.crop, result.generated
    generator_ms, upscale_ms = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        pipeline.generator.stylize(crop)
        generator_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        pipeline.upscale(frame, shot, crop, generated)
        upscale_ms.append((time.perf_counter() - started) * 1000)
    generator = statistics.median(generator_ms)
    upscale = statistics.median(upscale_ms)
    return {"frame": f"{frame_w}x{frame_h}", "result_size": f"{result.stylized.shape[1]}x"
            f"{result.stylized.shape[0]}", "generator_size": f"{crop.shape[1]}x{crop.shape[0]}",
            "crop_inside": geometry.crop_inside(result.framing, frame.shape[:2]),
            # The crop's long side in the frame: how far the guest stands (under twice
            # the result's size the render needs no pre-shrink).
            "crop_px": round(max(shot.shape) / shot.scale),
            "generator_ms": round(generator, 1), "upscale_ms": round(upscale, 1),
            "cost_share": round(upscale / generator, 4),
            # The fastest of each: the runs least slowed by other processes, nearest to
            # what an idle booth sees.
            "cost_share_fastest": round(min(upscale_ms) / min(generator_ms), 4),
            "rss_growth_mb": rss_growth_mb((frame_h, frame_w), largest,
                                           pipeline.settings.storage.result_long_side)}


def sharpness_basis(upscaled: list[dict], guide_mean: float, target: float) -> dict:
    """The gradient ratio the sharpness target is judged on: the mean over ``hires/``'s
    photos, else over all when they hold ``target``'s detail on average, else none."""
    hires = [r for r in upscaled if r["file"].startswith("hires/")]
    basis = hires or (upscaled if guide_mean >= target else [])
    if not basis:
        return {"sharpness_basis": None, "sharpness_gradient_ratio": None}
    ratios = [r["gradient_ratio"] for r in basis]
    return {"sharpness_basis": "hires/" if hires else "all photos", "sharpness_photos": len(basis),
            "sharpness_gradient_ratio": round(statistics.fmean(ratios), 3),
            "sharpness_gradient_ratio_min": min(ratios),
            "sharpness_psnr_min_db": min(r["psnr_db"] for r in basis)}


def nme_comparison(upscaled: list[dict]) -> dict:
    """NME on the generator's output, its bicubic upscale and the result, over the upscaled
    photos' faces found in all three; the result is "not worse" when it is no further
    above the generator's output than the detector's own spread: the standard deviation,
    over the photos, of how far the bicubic upscale (which adds nothing) moves the NME."""
    rows = [r for r in upscaled if None not in (r["nme_generated"], r.get("nme_bicubic"), r["nme_result"])]
    if not rows:
        return {}
    generated, bicubic, result = (round(statistics.fmean(v), 4) for v in
                                  zip(*[(r["nme_generated"], r["nme_bicubic"], r["nme_result"]) for r in rows]))
    shifts = [r["nme_bicubic"] - r["nme_generated"] for r in rows]
    spread = round(statistics.stdev(shifts) if len(shifts) > 1 else abs(shifts[0]), 4)
    difference = round(result - generated, 4)
    return {"upscaled_nme_generated_bicubic_result": [generated, bicubic, result],
            "nme_photos": len(rows), "nme_faces": sum(r["found_result"] for r in rows),
            "nme_difference": difference, "detector_spread": spread,
            "faces_nme_not_worse": difference <= spread}


def summarize(records: list[dict], cost: dict | None) -> dict:
    """Means, worst cases and the targets over the per-image records."""
    upscaled = [r for r in records if "psnr_db" in r]
    summary: dict = {"images": len(records), "upscaled": len(upscaled),
                     "kept_at_generator_size": [r["file"] for r in records if "psnr_db" not in r]}
    if upscaled:
        def mean(key):
            return round(statistics.fmean(r[key] for r in upscaled), 3)
        summary.update(
            factor_mean=mean("factor"), psnr_min_db=min(r["psnr_db"] for r in upscaled),
            psnr_mean_db=mean("psnr_db"), gradient_ratio_mean=mean("gradient_ratio"),
            gradient_ratio_min=min(r["gradient_ratio"] for r in upscaled),
            guide_gradient_ratio_mean=mean("guide_gradient_ratio"),
            overshoot_mean=mean("overshoot_mean"),
            overshoot_p99_max=max(r["overshoot_p99"] for r in upscaled))
        # Where the photo itself holds the target's detail, the result can honestly reach it.
        target = TARGETS["sharpness_gradient_ratio"][1]
        detailed = [r["gradient_ratio"] for r in upscaled if r["guide_gradient_ratio"] >= target]
        summary.update(detailed_photos=len(detailed),
                       gradient_ratio_mean_detailed=round(statistics.fmean(detailed), 3)
                       if detailed else None)
        summary.update(sharpness_basis(upscaled, summary["guide_gradient_ratio_mean"], target))
    nme_gen = [r["nme_generated"] for r in records if r["nme_generated"] is not None]
    nme_full = [r["nme_result"] for r in records if r["nme_result"] is not None]
    summary.update(
        faces=sum(r["faces"] for r in records),
        found_generated=sum(r["found_generated"] for r in records),
        found_result=sum(r["found_result"] for r in records),
        nme_generated_mean=round(statistics.fmean(nme_gen), 4) if nme_gen else None,
        nme_result_mean=round(statistics.fmean(nme_full), 4) if nme_full else None)
    summary.update(nme_comparison(upscaled))
    summary["faces_found_not_fewer"] = summary["found_result"] >= summary["found_generated"]
    if cost:
        summary.update(cost)
    summary["targets"] = check_targets(summary, TARGETS)
    return summary


# --- the command -----------------------------------------------------------------------

def run_upscale(dirs: Sequence[str] = (), *, photos: str | None = None, config_file: str | None = None,
                json_path: Path | None = None, cost: bool = True, check: bool = False) -> int:
    """``booth eval upscale`` (:mod:`booth.cli.eval` says what each option does)."""
    files = photo_files(dirs, FOLDERS, photos)
    settings = config.load(config_file)
    if settings.storage.result_long_side == 0:
        raise UserError("[storage] result_long_side is 0 (the generator's size): nothing to measure")
    pipeline = Pipeline.from_settings(settings)
    print(f"{'file':28} {'gen':>7} {'result':>9} {'x':>4} {'PSNR':>5} {'grad':>5} {'guide':>5} "
          f"{'over':>5} {'p99':>4} {'faces':>7} {'NME gen/full':>13} {'ms':>4}")
    # The cost is measured on 12 MP frames made from the first one-face portrait.
    records, portrait = [], None
    for name, _, rgb in load_photos(files, settings.upload.max_pixels, column=28):
        record = {"file": name, **evaluate_photo(pipeline, rgb)}
        records.append(record)
        if record["faces"] == 1 and portrait is None:
            portrait = name, rgb
        print(_row(record), flush=True)
    measured = None
    if cost and records:
        name, rgb = portrait or (name, rgb)
        margin = HIRES_MARGIN if name.startswith("hires/") else GUEST_MARGIN
        measured = {"photo": name, **measure_cost(pipeline, rgb, margin=margin)}
        # The same portrait as it is, the frame's edge close around the face.
        if margin == GUEST_MARGIN:
            past_edge = measure_cost(pipeline, rgb, margin=0.0)
            if not past_edge["crop_inside"]:
                measured["past_edge"] = {"photo": name, **{k: past_edge[k] for k in
                                                       ("crop_px", "generator_ms", "upscale_ms",
                                                        "cost_share", "cost_share_fastest")}}
    summary = summarize(records, measured)
    _print_summary(summary)
    if json_path is not None:
        write_json(json_path, {"images": records, "summary": summary}, indent=1)
    return exit_status(summary["targets"], check, COST_TARGETS)


def _row(r: dict) -> str:
    def num(key, spec):
        return format(r[key], spec) if r.get(key) is not None else "-"
    nmes = f"{num('nme_generated', '.3f')}/{num('nme_result', '.3f')}"
    return (f"{r['file'][-28:]:28} {r['generator_size']:>7} {r['result_size']:>9} "
            f"{r['factor']:>4.2f} {num('psnr_db', '.1f'):>5} {num('gradient_ratio', '.2f'):>5} "
            f"{num('guide_gradient_ratio', '.2f'):>5} {num('overshoot_mean', '.2f'):>5} "
            f"{num('overshoot_p99', '.0f'):>4} {r['found_generated']:>3}/{r['found_result']:<3} "
            f"{nmes:>13} {r['upscale_ms']:>4.0f}")


def _print_summary(s: dict) -> None:
    print()
    print(f"images {s['images']}, upscaled {s['upscaled']} (mean factor {s.get('factor_mean')}); "
          f"kept at the generator's size (crop no larger in the photo): "
          f"{len(s['kept_at_generator_size'])}")
    if s["upscaled"]:
        print(f"faithful: PSNR of the result shrunk back vs the generator's output: min "
              f"{s['psnr_min_db']} dB, mean {s['psnr_mean_db']} dB")
        target = TARGETS["sharpness_gradient_ratio"][1]
        print(f"sharper: mean gradient vs bicubic {s['gradient_ratio_mean']}x (min "
              f"{s['gradient_ratio_min']}x, target {target}x); the photo itself vs its bicubic "
              f"re-upscale {s['guide_gradient_ratio_mean']}x (the most detail a result guided "
              f"by it can take; the rest is sharper lines)")
        detailed = (f"the result there {s['gradient_ratio_mean_detailed']}x"
                    if s["detailed_photos"] else "none to show it")
        print(f"  photos holding {target}x themselves: {s['detailed_photos']} of "
              f"{s['upscaled']}, {detailed}")
        if s["sharpness_basis"]:
            print(f"  judged on {s['sharpness_basis']} ({s['sharpness_photos']} photos): "
                  f"{s['sharpness_gradient_ratio']}x (min {s['sharpness_gradient_ratio_min']}x), "
                  f"PSNR min {s['sharpness_psnr_min_db']} dB")
        else:
            print(f"  not judged: no hires/ and the photos hold {s['guide_gradient_ratio_mean']}x "
                  f"themselves (too small or soft to show {target}x)")
        print(f"halos: overshoot at strong edges mean {s['overshoot_mean']}, worst 99th "
              f"percentile {s['overshoot_p99_max']} grey levels")
    print(f"faces: {s['faces']} in the photos, found again in the generator's output "
          f"{s['found_generated']}, in the result {s['found_result']}; NME mean "
          f"{s['nme_generated_mean']} vs {s['nme_result_mean']}")
    if "upscaled_nme_generated_bicubic_result" in s:
        g, b, r = s["upscaled_nme_generated_bicubic_result"]
        print(f"  on the upscaled photos ({s['nme_faces']} faces in {s['nme_photos']} photos): NME on "
              f"the generator's output {g}, on its bicubic upscale {b} (the detector at the larger "
              f"size), on the result {r}")
        verdict = ("within the detector's own spread: no difference the detector can tell"
                   if s["faces_nme_not_worse"] and s["nme_difference"] > 0 else
                   "not worse" if s["faces_nme_not_worse"] else "worse, beyond the detector's spread")
        print(f"  result minus generator {s['nme_difference']:+.4f}; the detector's own spread "
              f"{s['detector_spread']}: {verdict}")
    if "cost_share" in s:
        inside = "inside the frame" if s["crop_inside"] else "PAST the frame's edge"
        made = "with a little room around it" if s["photo"].startswith("hires/") else "with room around it"
        print(f"cost on a {s['frame']} frame made from {s['photo']} {made} (the "
              f"crop {inside}, {s['crop_px']} px long; {s['generator_size']} -> "
              f"{s['result_size']}): upscale "
              f"{s['upscale_ms']} ms vs generator {s['generator_ms']} ms = "
              f"{100 * s['cost_share']:.1f}% (back to back, medians of {COST_ROUNDS}; fastest runs "
              f"{100 * s['cost_share_fastest']:.1f}%); peak RSS "
              f"growth {s['rss_growth_mb']} MB")
    if "past_edge" in s:
        e = s["past_edge"]
        print(f"  the same portrait filling the frame, the crop reaching past its edge ({e['crop_px']} "
              f"px long; its mirrored part blurred): upscale "
              f"{e['upscale_ms']} ms vs generator {e['generator_ms']} ms = "
              f"{100 * e['cost_share']:.1f}% (fastest runs {100 * e['cost_share_fastest']:.1f}%; "
              f"no target)")
    print(targets_line(s["targets"]))
