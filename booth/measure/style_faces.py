"""``booth eval styles [DIR...] [--styles NAMES] [--json FILE]``: does every style draw
the guests' faces?

For each style and each face of each photo (``faces/`` and ``groups/`` of the photo set
by default) it runs the whole pipeline and asks of the face in the result:

* **found**: the face detector finds it again (box overlap with where the pipeline put it);
* **eyes** and **mouth**: are they drawn? Measured on a landmark-aligned patch of the
  result (eyes level, 64 px apart), relative to the face's own cheeks and darkest
  pixels, so a pale style and a contrasted one are judged alike:

  - eyes: how dark each eye is (the 10th percentile of a 17×11 px window on the eye
    landmark) below the cheeks' median, as a share of the patch's whole range
    (cheeks down to its 1st percentile); the fainter eye counts;
  - mouth: how dark the mouth line is (the darkest pixel, lightly blurred, between the
    mouth corners) below the cheeks, as a share of the same range.

  A face is **drawn** when eyes ≥ EYES_LINE and mouth ≥ MOUTH_LINE. Only faces seen
  from the front are judged (the windows are laid out for them); the others are counted.

Why these: a JP face "ghost" (the network fed a face too small for it) is a pale oval
whose eyes are faint arcs or none and whose mouth is missing; the detector still finds
it (score 0.99) and the mean gradient around its eyes is as high as a drawn face's
(eyebrow arcs, hair), so neither tells. Measured on 34 portraits (public and shared
``faces/``, ``hires/``) stylized by JP face on its own 512 crop (face 45% of the width:
drawn, one bearded face half-drawn) and on a 256 crop (face 115 px: ghosts, checked by
eye): 97% of the drawn faces pass the lines, 29% of the ghosts do (and 33% of the 12
faces JP face ghosted on the whole portrait crop, the booth's old way); the same faces
as photos, in Cute and in Classic Hayao all pass. The mouth line is the weaker half: a
closed smile JP face draws as a thin pale line can score below it (seen on one public
portrait, drawn by eye).

``--old`` adds the pseudo-style ``jpface-whole-crop``: JP face run on the whole portrait
crop, as the booth did before faces got their own crop, to show what a ghost scores.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from booth import config
from booth.errors import UserError
from booth.files import write_json
from booth.measure.faces import match_faces
from booth.measure.photos import load_photos, photo_files
from booth.measure.targets import check_targets, exit_status, targets_line
from booth.vision.framing import FRONTAL_IOD
from booth.vision.geometry import Face
from booth.vision.pipeline import Pipeline

#: The photo set's folders measured without DIR.
FOLDERS = ("faces", "groups")

#: The aligned patch: eyes this far apart, the eyes' midpoint at (PATCH/2, EYES_Y).
IOD = 64.0
PATCH = 160
EYES_Y = 50
#: Pass lines, between JP face on its own crop and JP face ghosts (see the docstring).
EYES_LINE = 0.4
MOUTH_LINE = 0.35
#: Every style must draw at least this share of the faces.
TARGETS = {"drawn_share": (">=", 0.95)}
#: The pseudo-style of ``--old``.
WHOLE_CROP = "jpface-whole-crop"


def aligned_patch(rgb: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
    """The face's grey patch (eyes level, IOD apart) and its 5 landmarks in it."""
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    # In profile the eyes nearly meet: the box's width keeps the scale sane.
    scale = IOD / max(float(np.hypot(rx - lx, ry - ly)), 0.3 * face.width, 1.0)
    cx, cy = (lx + rx) / 2, (ly + ry) / 2
    matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, scale)
    matrix[:, 2] += [PATCH / 2 - cx, EYES_Y - cy]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    patch = cv2.warpAffine(grey, matrix, (PATCH, PATCH),
                           flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
    return patch, face.landmarks @ matrix[:, :2].T + matrix[:, 2]


def _window(image: np.ndarray, centre, width: int, height: int) -> np.ndarray:
    x, y = int(round(centre[0])), int(round(centre[1]))
    x0, y0 = min(max(0, x - width // 2), PATCH - 1), min(max(0, y - height // 2), PATCH - 1)
    return image[y0:max(y0 + 1, y + height // 2 + 1), x0:max(x0 + 1, x + width // 2 + 1)]


def drawn_features(rgb: np.ndarray, face: Face) -> dict:
    """Eyes and mouth of ``face`` (landmarks in ``rgb``'s pixels): their darkness below
    the cheeks as a share of the face's range, and whether both pass the lines."""
    patch, points = aligned_patch(rgb, face)
    cheeks = np.concatenate([_window(patch, (x, y + 0.55 * IOD), 22, 14).ravel()
                             for x, y in points[:2]])
    cheek = float(np.median(cheeks))
    span = max(cheek - float(np.percentile(patch, 1)), 1.0)
    eyes = min(cheek - float(np.percentile(_window(patch, point, 17, 11), 10)) for point in points[:2])
    mouth_centre = (points[3] + points[4]) / 2
    mouth_width = int(abs(points[4][0] - points[3][0])) + 10
    blurred = cv2.GaussianBlur(patch, (0, 0), 1.0)
    mouth = cheek - float(_window(blurred, mouth_centre, mouth_width, 22).min())
    eyes, mouth = round(eyes / span, 3), round(mouth / span, 3)
    return {"eyes": eyes, "mouth": mouth, "drawn": bool(eyes >= EYES_LINE and mouth >= MOUTH_LINE)}


def evaluate_style(pipeline: Pipeline, rgb: np.ndarray, style: str) -> list[dict]:
    """One record per face the pipeline framed, for one photo in one style."""
    if style == WHOLE_CROP:
        result = pipeline.process(rgb, style=pipeline.settings.styles.default)
        image = pipeline.styles.generator("jpface").stylize(result.crop)
        placement = result.crop_framing
    else:
        result = pipeline.process(rgb, style=style)
        image, placement = result.stylized, result.framing
    assert placement is not None and pipeline.detector is not None  # process() frames; from_settings detects
    expected = [placement.map_face(f) for f in result.faces]
    found = pipeline.detector.detect(image)
    matched = {i for i, _ in match_faces(expected, found)}
    total_ms = round(sum(result.timings_ms.values()), 1)
    return [{"face": i, "found": i in matched, "frontal": is_frontal(face),
             **drawn_features(image, face), "ms": total_ms}
            for i, face in enumerate(expected)]


def is_frontal(face: Face) -> bool:
    """Seen from the front (eyes apart): only there do the eye and mouth windows, laid out
    for a frontal face, fall on the eyes and the mouth. A face in profile or looking down
    is reported, not judged."""
    return face.inter_ocular >= FRONTAL_IOD * face.width


def summarize(records: list[dict]) -> dict:
    """Per style: faces, found and drawn shares, median eyes/mouth, and the targets."""
    summary = {}
    for style in dict.fromkeys(r["style"] for r in records):
        every = [r for r in records if r["style"] == style]
        faces = [r for r in every if r["frontal"]] or every
        row = {
            "faces": len(every),
            "frontal_faces": len(faces),
            "found_share": round(sum(r["found"] for r in every) / len(every), 4),
            "drawn_share": round(sum(r["drawn"] for r in faces) / len(faces), 4),
            "eyes_median": round(statistics.median(r["eyes"] for r in faces), 3),
            "mouth_median": round(statistics.median(r["mouth"] for r in faces), 3),
            "not_drawn": sorted({f"{r['file']}#{r['face']}" for r in faces if not r["drawn"]}),
        }
        row["targets"] = check_targets(row, TARGETS) if style != WHOLE_CROP else {}
        summary[style] = row
    return summary


def run_styles(dirs: Sequence[str] = (), *, photos: str | None = None, config_file: str | None = None,
               json_path: Path | None = None, styles: str = "all", old: bool = False,
               check: bool = False) -> int:
    """``booth eval styles`` (:mod:`booth.cli.eval` says what each option does)."""
    files = photo_files(dirs, FOLDERS, photos)
    settings = config.load(config_file)
    pipeline = Pipeline.from_settings(settings)
    names = pipeline.styles.available if styles == "all" else \
        [n.strip() for n in styles.split(",")]
    for name in names:
        try:
            pipeline.styles.check(name)
        except ValueError as exc:
            raise UserError(f"--styles: {exc}") from None
    if old:
        names = [*names, WHOLE_CROP]
    print(f"{'file':36} {'style':18} {'face':>4} {'found':>5} {'front':>5} {'eyes':>5} {'mouth':>5} {'drawn':>5}")
    records = []
    # Style by style: each is compiled once (with max_loaded styles kept, going photo by
    # photo would compile them again and again).
    for style in names:
        for name, _path, rgb in load_photos(files, settings.upload.max_pixels, column=36):
            for record in evaluate_style(pipeline, rgb, style):
                records.append({"file": name, "style": style, **record})
                print(f"{name[-36:]:36} {style:18} {record['face']:>4} {record['found']!s:>5} "
                      f"{record['frontal']!s:>5} {record['eyes']:>5.2f} {record['mouth']:>5.2f} {record['drawn']!s:>5}", flush=True)
    summary = summarize(records)
    print()
    checked = {}
    for style, row in summary.items():
        print(f"{style:18} faces {row['faces']}: found again {100 * row['found_share']:.0f}%; "
              f"of the {row['frontal_faces']} seen from the front, eyes and mouth drawn "
              f"{100 * row['drawn_share']:.0f}% (median eyes {row['eyes_median']}, "
              f"mouth {row['mouth_median']}; lines {EYES_LINE}/{MOUTH_LINE}); not drawn: "
              f"{', '.join(row['not_drawn']) or 'none'}")
        checked.update({f"{style}.{k}": v for k, v in row["targets"].items()})
    print(targets_line(checked))
    if json_path is not None:
        write_json(json_path, {"faces": records, "summary": summary}, indent=1)
    return exit_status(checked, check)
