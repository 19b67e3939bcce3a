"""``booth eval policy [DIR...] [--json FILE]``: does the 384–512 policy pay?

For each photo: the booth crop at 512 and at the size the policy picks; the generator
runs on both; the chosen-size output is upscaled to 512 and compared with the 512 output
(SSIM), and both are timed. The summary gives the mean generator time saved against
always-512, the mean and worst SSIM, how often each size was chosen, and checks that
every detailed photo (score at or above ``complexity_high``) ran at full size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from booth import config
from booth.errors import ImageError
from booth.files import write_json
from booth.measure import quality
from booth.measure.photos import photo_files
from booth.measure.targets import check_targets, exit_status, targets_line
from booth.measure.timing import median_ms
from booth.model.quantize import booth_crop
from booth.vision import policy
from booth.vision.face import FaceDetector
from booth.vision.generator import Generator
from booth.vision.images import load_image


#: The photo set's folders measured without DIR.
FOLDERS = ("faces", "groups", "scenes")
#: What the policy must reach (name: (comparison, limit)): every detailed crop at full size.
TARGETS = {"detailed_at_full_size": ("==", True)}


def evaluate(files: list[Path], settings: config.Settings, repeats: int = 3) -> dict:
    gen = Generator.from_settings(settings)
    detector = FaceDetector.from_settings(settings)
    g, aspect = settings.generator, settings.face.aspect
    full = max(g.sizes)
    records = []
    for path in files:
        try:
            rgb = load_image(path)
        except ImageError:
            continue
        crop_full = booth_crop(rgb, full, aspect, detector)
        score = policy.complexity(crop_full)
        size = policy.size_for_score(score, g)
        out_full = gen.stylize(crop_full)
        ms_full = median_ms(lambda: gen.stylize(crop_full), repeats, warmup=0)
        if size == full:
            similarity, ms = 1.0, ms_full
        else:
            crop = booth_crop(rgb, size, aspect, detector)
            out = gen.stylize(crop)
            ms = median_ms(lambda: gen.stylize(crop), repeats, warmup=0)
            h, w = out_full.shape[:2]  # a group's crop takes the aspect that holds everyone
            similarity = quality.ssim(out_full, cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC))
        records.append({"file": str(path), "score": round(score, 2), "size": size,
                        "ssim_vs_512": round(similarity, 4), "ms": round(ms, 1), "ms_512": round(ms_full, 1)})
    return {"records": records, "summary": summarize(records, g)}


def summarize(records: list[dict], g) -> dict:
    if not records:
        return {"images": 0}
    full = max(g.sizes)
    saved = [1 - r["ms"] / r["ms_512"] for r in records]
    detailed = [r for r in records if r["score"] >= g.complexity_high]
    reduced = [r["ssim_vs_512"] for r in records if r["size"] != full]
    summary = {
        "images": len(records),
        "time_saved_mean": round(float(np.mean(saved)), 3),
        "ms_mean": round(float(np.mean([r["ms"] for r in records])), 1),
        "ms_512_mean": round(float(np.mean([r["ms_512"] for r in records])), 1),
        "ssim_mean": round(float(np.mean([r["ssim_vs_512"] for r in records])), 4),
        "ssim_mean_reduced": round(float(np.mean(reduced)), 4) if reduced else None,
        "ssim_min": round(float(min(r["ssim_vs_512"] for r in records)), 4),
        "sizes": {str(s): sum(r["size"] == s for r in records) for s in sorted(g.sizes)},
        "detailed_images": len(detailed),
        "detailed_at_full_size": all(r["size"] == full for r in detailed),
        "thresholds": [g.complexity_low, g.complexity_high],
    }
    summary["targets"] = check_targets(summary, TARGETS)
    return summary


def run_policy(dirs: Sequence[str] = (), *, photos: str | None = None, config_file: str | None = None,
               json_path: Path | None = None, repeats: int = 3, check: bool = False) -> int:
    """``booth eval policy`` (:mod:`booth.cli.eval` says what each option does)."""
    settings = config.load(config_file)
    files = photo_files(dirs, FOLDERS, photos)
    result = evaluate(files, settings, repeats)
    for r in result["records"]:
        print(f"{Path(r['file']).name:24s} score {r['score']:5.1f} -> {r['size']}  "
              f"SSIM vs 512 {r['ssim_vs_512']:.3f}  {r['ms']:6.0f} ms (512: {r['ms_512']:.0f} ms)")
    s = result["summary"]
    print(f"\n{s['images']} photos: sizes {s['sizes']}; generator time saved vs always-512: "
          f"{100 * s['time_saved_mean']:.1f}% ({s['ms_mean']:.0f} vs {s['ms_512_mean']:.0f} ms mean); "
          f"SSIM vs 512: mean {s['ssim_mean']:.3f} (reduced-size photos {s['ssim_mean_reduced']}), "
          f"min {s['ssim_min']:.3f}; detailed photos (score >= {s['thresholds'][1]}) all at 512: "
          f"{s['detailed_at_full_size']} ({s['detailed_images']})")
    if "targets" in s:
        print(targets_line(s["targets"]))
    if json_path is not None:
        write_json(json_path, result)
    return exit_status(s.get("targets", {}), check)
