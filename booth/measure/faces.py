"""``booth eval``: measure quality on real photos instead of guessing.

``booth eval faces [DIR...] [--json FILE]`` — do the guests' faces survive?
For each photo it runs the whole pipeline, then the face detector again on the
stylized output, maps every input face into output coordinates (the pipeline's own
levelling + framing transform), pairs them with the faces found in the output and
measures the **normalised mean landmark error** (NME): the mean distance between the
five landmarks where the input face was mapped and where the detector finds them in
the output, divided by the inter-ocular distance. A face "survives" when it is found
again; NME says how faithfully its eyes, nose and mouth survived.

Survival and NME are reported for the *subjects* — the photos of people posing
(every folder except ``scenes/``), which is what the targets are about — and, apart,
for the background faces in ``scenes/`` (crowds, passers-by, faces in profile), which
the booth does not frame as subjects and which often end up only a few dozen pixels
tall in the output.

It also reports detection on labelled folders (``faces/``: one face per photo; a group
photo: the people the manifest counts in a public one, N in a private ``groupN_*.jpg``;
``scenes/``: a face found in a scene not labelled as showing people is a false face)
and the cost of everything around the generator as a share of the generator's own time
at its largest size.

Without DIR it uses a photo set's ``faces/``, ``groups/`` and ``scenes/``: ``--photos
SET``, else the public set in ``weights/photos/``.
"""

from __future__ import annotations

import functools
import re
import statistics
import tomllib
from pathlib import Path
from typing import Sequence

import numpy as np

from booth import PROJECT_ROOT, config
from booth.errors import UserError
from booth.files import write_json
from booth.model import weights
from booth.measure.photos import load_photos, photo_files
from booth.measure.targets import check_targets, exit_status, targets_line
from booth.measure.timing import times_ms
from booth.vision.geometry import Face, box_iou
from booth.vision.pipeline import Pipeline

#: Hand labels for the private photo set (which of its scenes really show people; the
#: public set's scenes show none).
DEFAULT_LABELS = PROJECT_ROOT / "tests" / "data" / "photo_labels.toml"
#: The photo set's folders measured without DIR.
FOLDERS = ("faces", "groups", "scenes")
#: An output face matches a mapped input face when their boxes overlap this much (IoU).
MATCH_IOU = 0.3
#: The inter-ocular distance used by :func:`nme` is at least this share of the box width.
IOD_FLOOR = 0.25
#: Faces whose NME is above this count as damaged (no image may have one: "nme_max").
NME_LIMIT = 0.15

#: What the booth must reach on the photo set (name: (comparison, limit)), checked in
#: the summary.
TARGETS = {
    "faces_detection_rate": (">=", 1.0),
    "groups_detection_rate": (">=", 0.95),
    "scenes_false_face_rate": ("<=", 0.01),
    "groups_faces_whole_share": (">=", 1.0),
    "hires_one_guest_share": (">=", 1.0),
    "survival": (">=", 0.98),
    "nme_mean": ("<=", 0.06),
    "nme_max": ("<=", NME_LIMIT),
    "overhead_share": ("<=", 0.15),
}
#: The targets on time (reported; not a failure of ``--check``, see :func:`exit_status`).
COST_TARGETS = frozenset({"overhead_share"})


# --- measures --------------------------------------------------------------------------

def nme(expected: Face, found: Face) -> float:
    """Mean of the 5 landmark distances, divided by ``expected``'s inter-ocular distance.

    For a face in profile the eyes nearly overlap and the ratio would explode, so the
    distance is floored at a quarter of the face box's width (frontal faces: the eyes
    are 0.35–0.5 of the width apart, so the floor never applies to them).
    """
    distances = np.linalg.norm(expected.landmarks - found.landmarks, axis=1)
    return float(distances.mean() / max(expected.inter_ocular, IOD_FLOOR * expected.width, 1.0))


def match_faces(expected: Sequence[Face], found: Sequence[Face],
                min_iou: float = MATCH_IOU) -> list[tuple[int, int]]:
    """Pairs (i, j) of expected[i] ↔ found[j], greedily by box overlap, each used once."""
    if not expected or not found:
        return []
    iou = box_iou(np.array([f.box for f in expected]), np.array([f.box for f in found]))
    pairs: list[tuple[int, int]] = []
    while True:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        if iou[i, j] < min_iou:
            return pairs
        pairs.append((int(i), int(j)))
        iou[i, :] = -1
        iou[:, j] = -1


def people_in(path: Path) -> int | None:
    """The labelled number of people in a group photo: the manifest's face count for a
    public group photo (by its file name, wherever it was copied), else the N of a
    private set's ``groupN_x.jpg``; None for any other photo."""
    public = public_group_people().get(path.name)
    if public is not None:
        return public
    found = re.match(r"group(\d+)", path.stem)
    return int(found.group(1)) if found else None


@functools.cache
def public_group_people() -> dict[str, int]:
    """File name -> people with a visible face, for the public set's groups/."""
    return {Path(e.file).name: e.faces for e in weights.photo_manifest().values()
            if Path(e.file).parent.name == "groups"}


def evaluate_photo(pipeline, rgb: np.ndarray, *, size: int | None = None,
                   style: str | None = None) -> dict:
    """Stylize one photo (in ``style``, default the pipeline's own) and measure its faces:
    the per-image record (without "file")."""
    result = pipeline.process(rgb, size=size) if style is None else \
        pipeline.process(rgb, size=size, style=style)
    expected = [result.framing.map_face(f) for f in result.faces]
    found = pipeline.detector.detect(result.stylized)
    pairs = match_faces(expected, found)
    errors = [nme(expected[i], found[j]) for i, j in pairs]
    h, w = result.stylized.shape[:2]
    ms = {k: round(v, 1) for k, v in result.timings_ms.items()}
    ms["total"] = round(sum(result.timings_ms.values()), 1)
    return {
        "faces_in": len(result.faces),
        "faces_out_matched": len(pairs),
        "nme": round(float(np.mean(errors)), 4) if errors else None,
        "nme_max": round(float(np.max(errors)), 4) if errors else None,
        "size": result.size,
        "mode": result.framing.mode,
        "angle_deg": round(result.framing.angle_deg, 1),
        "aspect": round(w / h, 3),
        "inside": [round(share_inside(f.box, (h, w)), 3) for f in expected],
        "ms": ms,
    }


def share_inside(box: np.ndarray, shape: tuple[int, int]) -> float:
    """The share of a face box's area inside an image of (height, width)."""
    h, w = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    area = max(x1 - x0, 1e-9) * max(y1 - y0, 1e-9)
    inside = max(0.0, min(x1, w) - max(x0, 0)) * max(0.0, min(y1, h) - max(y0, 0))
    return inside / area


def load_labels(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: cannot read labels ({exc})") from None


def _survival(records: list[dict]) -> dict:
    faces_in = sum(r["faces_in"] for r in records)
    matched = sum(r["faces_out_matched"] for r in records)
    nmes = [r["nme"] for r in records if r["nme"] is not None]
    nme_maxes = [r["nme_max"] for r in records if r["nme_max"] is not None]
    return {
        "faces_in": faces_in,
        "faces_out_matched": matched,
        "survival": round(matched / faces_in, 4) if faces_in else None,
        "nme_mean": round(statistics.fmean(nmes), 4) if nmes else None,
        "nme_max": round(max(nme_maxes), 4) if nme_maxes else None,
        "images_over_nme_limit": sum(1 for v in nme_maxes if v > NME_LIMIT),
    }


def summarize(records: list[dict], labels: dict, generator_ms: float) -> dict:
    """Totals, means and the :data:`TARGETS` over the per-image records."""
    subjects = [r for r in records if r["folder"] != "scenes"]
    summary: dict = {"images": len(records), **_survival(subjects)}
    background = [r for r in records if r["folder"] == "scenes"]
    if background:
        summary["scenes"] = _survival(background)
    # Detection on the labelled folders.
    portraits = [r for r in records if r["folder"] == "faces"]
    if portraits:
        hits = sum(1 for r in portraits if r["faces_in"] >= 1)
        summary["faces_detection_rate"] = round(hits / len(portraits), 4)
        summary["faces_missed"] = [r["file"] for r in portraits if r["faces_in"] == 0]
    groups = [r for r in records if r.get("people")]
    if groups:
        people = sum(r["people"] for r in groups)
        found = sum(min(r["faces_in"], r["people"]) for r in groups)
        summary["groups_people"] = people
        summary["groups_detection_rate"] = round(found / people, 4)
    group_photos = [r for r in records if r["folder"] == "groups"]
    if group_photos:
        # Whole: at most half a pixel's rounding of the box outside the result.
        whole = [r for r in group_photos if all(v >= 0.99 for v in r.get("inside", []))]
        summary["groups_faces_whole_share"] = round(len(whole) / len(group_photos), 4)
        summary["groups_rotated"] = {r["file"]: r["angle_deg"] for r in group_photos
                                     if r.get("angle_deg")}
    hires = [r for r in records if r["folder"] == "hires"]
    if hires:
        summary["hires_one_guest_share"] = round(
            sum(r["faces_in"] == 1 and r["mode"] == "portrait" for r in hires) / len(hires), 4)
    scenes = [r for r in records if r["folder"] == "scenes"]
    if scenes:
        with_people = set(labels.get("scenes", {}).get("people", []))
        false = [r["file"] for r in scenes
                 if r["faces_in"] and Path(r["file"]).name not in with_people]
        summary["scenes_false_face_rate"] = round(len(false) / len(scenes), 4)
        summary["scenes_with_false_face"] = false
        summary["scenes_with_people_faces"] = sum(
            1 for r in scenes if r["faces_in"] and Path(r["file"]).name in with_people)
    # Cost of everything around the generator, against the generator at its largest size.
    if records:
        mean_ms = {k: round(statistics.fmean(r["ms"].get(k, 0.0) for r in records), 1)
                   for k in ("detect", "frame", "policy", "generator", "upscale", "compose",
                             "total")}
        summary["ms_mean"] = mean_ms
        summary["generator_ms_at_largest"] = round(generator_ms, 1)
        overhead = mean_ms["detect"] + mean_ms["frame"] + mean_ms["upscale"] + mean_ms["compose"]
        summary["overhead_ms_mean"] = round(overhead, 1)
        summary["overhead_share"] = round(overhead / generator_ms, 4) if generator_ms else None
    summary["targets"] = check_targets(summary, TARGETS)
    return summary


def generator_times_ms(pipeline, repeats: int = 3) -> list[float]:
    """Generator times at the largest configured size (the cost yardstick)."""
    shape = pipeline.shape_for(max(pipeline.settings.generator.sizes))
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    return times_ms(lambda: pipeline.generator.stylize(image), repeats, warmup=0)


# --- the command -----------------------------------------------------------------------

def _settings(config_file: str | None, mode: str | None, size: int | None) -> config.Settings:
    settings = config.load(config_file)
    if size is not None and size not in settings.generator.sizes:
        raise UserError(f"--size {size}: must be one of the configured sizes "
                        f"{settings.generator.sizes}")
    return settings.replace("face", mode=mode) if mode else settings


def run_faces(dirs: Sequence[str] = (), *, photos: str | None = None, config_file: str | None = None,
              json_path: Path | None = None, size: int | None = None, mode: str | None = None,
              style: str | None = None, labels_file: str | None = None, check: bool = False) -> int:
    """``booth eval faces`` (:mod:`booth.cli.eval` says what each option does)."""
    files = photo_files(dirs, FOLDERS + ("hires",), photos)
    if labels_file and not Path(labels_file).is_file():
        raise UserError(f"--labels {labels_file}: no such file")
    labels = load_labels(Path(labels_file) if labels_file else DEFAULT_LABELS)
    settings = _settings(config_file, mode, size)

    pipeline = Pipeline.from_settings(settings)
    if style is not None:
        try:
            pipeline.styles.check(style)
        except ValueError as exc:
            raise UserError(f"--style: {exc}") from None
        print(f"style: {style} ({pipeline.styles.label(style)})")
    yardstick = generator_times_ms(pipeline)
    print(f"{'file':32} {'faces':>5} {'found':>5} {'nme':>6} {'size':>4} {'mode':>8} "
          f"{'detect':>7} {'frame':>6} {'gen':>6} {'ms':>6}")
    records = []
    for name, path, rgb in load_photos(files, settings.upload.max_pixels, column=32):
        record = {"file": name, "folder": path.parent.name,
                  **evaluate_photo(pipeline, rgb, size=size, style=style)}
        if people_in(path):
            record["people"] = people_in(path)
        records.append(record)
        ms = record["ms"]
        nme_text = f"{record['nme']:.3f}" if record["nme"] is not None else "-"
        print(f"{name[-32:]:32} {record['faces_in']:>5} {record['faces_out_matched']:>5} "
              f"{nme_text:>6} {record['size']:>4} {record['mode']:>8} {ms['detect']:>7.1f} "
              f"{ms['frame']:>6.1f} {ms['generator']:>6.0f} {ms['total']:>6.0f}", flush=True)
        if record["folder"] == "groups":
            print(f"{'':32} rotated {record['angle_deg']}°, aspect {record['aspect']}, each face "
                  f"inside: {', '.join(f'{100 * v:.0f}%' for v in record['inside'])}", flush=True)

    # The generator's time at the largest size: the benchmark above plus every photo
    # that ran at that size, so a busy machine slows both sides of the ratio alike.
    largest = max(settings.generator.sizes)
    yardstick += [r["ms"]["generator"] for r in records
                  if r["size"] == largest and settings.face.mode != "hd" and style is None]
    summary = summarize(records, labels, statistics.median(yardstick))
    _print_summary(summary)
    if json_path is not None:
        write_json(json_path, {"images": records, "summary": summary}, indent=1)
    return exit_status(summary["targets"], check, COST_TARGETS)


def _print_summary(s: dict) -> None:
    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}%"

    def survival(v: dict) -> str:
        return (f"faces in {v['faces_in']}, found again {v['faces_out_matched']} "
                f"(survival {pct(v['survival'])}), NME mean {v['nme_mean']} max {v['nme_max']} "
                f"({v['images_over_nme_limit']} images over {NME_LIMIT})")

    print()
    print(f"images {s['images']}; subjects (all but scenes/): {survival(s)}")
    if "scenes" in s:
        print(f"background faces in scenes/ (not targets): {survival(s['scenes'])}")
    if "faces_detection_rate" in s:
        print(f"detection faces/: {pct(s['faces_detection_rate'])} of photos "
              f"(missed: {', '.join(s['faces_missed']) or 'none'})")
    if "groups_detection_rate" in s:
        print(f"detection groups: {pct(s['groups_detection_rate'])} of {s['groups_people']} people")
    if "groups_faces_whole_share" in s:
        print(f"group photos with every face whole: {pct(s['groups_faces_whole_share'])}; rotated: "
              f"{', '.join(f'{k} {v}°' for k, v in s['groups_rotated'].items()) or 'none'}")
    if "hires_one_guest_share" in s:
        print(f"hires photos framed as one guest: {pct(s['hires_one_guest_share'])}")
    if "scenes_false_face_rate" in s:
        print(f"scenes with a false face: {pct(s['scenes_false_face_rate'])} "
              f"({', '.join(s['scenes_with_false_face']) or 'none'}); "
              f"{s['scenes_with_people_faces']} scenes with real people's faces")
    if "ms_mean" in s:
        m = s["ms_mean"]
        print(f"mean ms: detect {m['detect']}, frame {m['frame']}, policy {m['policy']}, "
              f"generator {m['generator']}, upscale {m['upscale']}, compose {m['compose']}; "
              f"generator at the largest size {s['generator_ms_at_largest']} ms; "
              f"detect+frame+upscale+compose = "
              f"{s['overhead_ms_mean']} ms = {pct(s['overhead_share'])} of it")
    print(targets_line(s["targets"]))

