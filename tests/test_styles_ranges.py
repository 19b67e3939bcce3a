"""Each style's INT8 without photos: the ranges NNCF found on real photos ship as
``weights/style_ranges/NAME.json`` (the generator's format), and a build from them gives
the photo-calibrated graph.

* the mechanism, on ``cute``: calibrating on photos, writing, reading and applying the
  ranges gives the same graph, constant for constant, picture for picture;
* the shipped files: one per style, for the style's source file; the ``cute`` graph
  built from its file is within 0.3 dB of the photo-calibrated graph's fidelity
  (recorded in the file) on the held-out photos the file names;
* a face style (JP face) is calibrated on the faces' own crops, what it runs on;
* a file for another source or another graph stops the build with one clear line;
* ``booth styles calibrate`` writes a file ``booth styles build`` builds from, without photos.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import openvino as ov
import pytest

from booth.model import quantize, style_build, weights
from booth.vision import styles
from booth.config import defaults
from booth.vision.face import FaceDetector
from booth.vision.images import load_image

from conftest import MIRROR, NEW_STYLES


@pytest.fixture(scope="module")
def cute() -> styles.Style:
    return styles.catalogue()["cute"]


@pytest.fixture(scope="module")
def cute_float(cute) -> ov.Model:
    styles.fetch(["cute"], MIRROR if MIRROR.is_dir() else None, report=lambda line: None)
    return style_build.float_network(cute, cute.model_file().path)[0]


def constants(model: ov.Model) -> list[np.ndarray]:
    return [op.get_data() for op in model.get_ordered_ops() if op.get_type_name() == "Constant"]


def few_photos(photos: Path, folder: Path) -> Path:
    folder.mkdir()
    for name in ("18f_edwin_torres.jpg", "18f_colin_murphy_glasses.jpg", "18f_glenn_grieves_glasses.jpg", "18f_julie_strothman.jpg"):
        shutil.copy(photos / "faces" / name, folder / name)
    return folder


def test_style_ranges_give_the_same_graph_as_the_photos(cute, cute_float, photos, tmp_path):
    folder = few_photos(photos, tmp_path / "few")
    calibrated, ranges, held_out = style_build.calibrate_style(cute, cute_float, str(folder), 3, [384])
    path = tmp_path / "cute.json"
    quantize.write_ranges(ranges, path)
    rebuilt = style_build.from_ranges(cute, cute_float, style_build.read_style_ranges(cute, path))
    a, b = constants(calibrated), constants(rebuilt)
    assert len(a) == len(b) and len(ranges["fake_quantize"]) > 20
    assert all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))
    for target in quantize.INT8_TARGETS:
        one = quantize.pictures(style_build.for_target(calibrated, target), held_out)[0]
        two = quantize.pictures(style_build.for_target(rebuilt, target), held_out)[0]
        assert all(np.array_equal(x, y) for x, y in zip(one, two)), target


def test_every_style_ships_ranges_for_its_source_file():
    catalogue = styles.catalogue()
    for name in NEW_STYLES:
        path = styles.ranges_path(name)
        ranges = style_build.read_style_ranges(catalogue[name], path)  # checks the source sha256
        assert ranges["style"] == name and ranges["recipe"] == style_build.RECIPE
        assert ranges["calibration"]["crops"] >= 16 and ranges["calibration"]["held_out"] >= 4
        assert set(ranges["fidelity_vs_float_held_out"]) == set(quantize.INT8_TARGETS)
        assert path.stat().st_size < 40_000  # derived statistics, not pictures


def public_crops(style: styles.Style, calibration: dict, photos: Path) -> list[np.ndarray]:
    """Every photo of the public set's faces/, groups/ and scenes/ (none of them among the
    calibration's photos, which were the developers'), cropped as at calibration (its
    sizes in turn)."""
    detector = FaceDetector.from_settings(defaults())
    files = [p for folder in ("faces", "groups", "scenes") for p in sorted((photos / folder).glob("*.jpg"))]
    return [style_build.fit_input(style, quantize.to_network_input(quantize.booth_crop(
        load_image(path), calibration["sizes"][i % len(calibration["sizes"])],
        calibration["aspect"], detector))) for i, path in enumerate(files)]


def test_shipped_cute_ranges_rebuild_the_calibrated_graph(cute, cute_float, photos):
    """On photos the calibration never saw, each target's graph from the shipped ranges
    is as faithful to the float network as the build asks of INT8."""
    shipped = style_build.read_style_ranges(cute)
    inputs = public_crops(cute, shipped["calibration"], photos)
    reference = quantize.pictures(cute_float, inputs, "f32")[0]
    raw = style_build.from_ranges(cute, cute_float, shipped)
    for target in quantize.INT8_TARGETS:
        got = quantize.fidelity(quantize.pictures(style_build.for_target(raw, target), inputs)[0], reference)
        # Measured on the public set: 39.7 dB (SSIM 0.992) for both targets; the
        # calibration's own held-out photos gave 41.0 dB.
        assert got["psnr_db"] >= max(39.0, style_build.MIN_PSNR_DB), (target, got)


def test_a_face_style_is_calibrated_on_the_faces_own_crops(photos, tmp_path):
    """JP face runs only on each face's own crop: its INT8 is calibrated there too (one
    square crop per face, the face the manifest's share of it, centred), not on the whole
    portrait crops the scene styles take."""
    jpface = styles.catalogue()["jpface"]
    folder = few_photos(photos, tmp_path / "few")
    shutil.copy(photos / "groups" / "18f_sba_legos.jpg", folder / "group.jpg")
    inputs, used, _ = style_build.calibration_inputs(jpface, [384], 12, str(folder))
    assert len(inputs) == len(used) == 4 + style_build.FACES_PER_PHOTO
    detector = FaceDetector.from_settings(defaults())
    for x, photo in zip(inputs, used):
        side, fill = jpface.face_crop_for(4 if photo.name == "group.jpg" else 1)
        assert x.shape == (1, side, side, 3) and x.min() >= -1 and x.max() <= 1
        if photo.name == "group.jpg":
            continue  # in this group some look down at the table: no face to find in the crop
        crop = np.round((x[0] + 1) * 127.5).astype(np.uint8)
        face = max(detector.detect(crop), key=lambda f: f.width)
        assert face.width / side == pytest.approx(fill, abs=0.08)
        assert np.allclose(face.center, side / 2, atol=0.08 * side)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch) -> Path:
    """An empty weights folder with the face detector and the cute style's file only."""
    folder = tmp_path / "weights"
    folder.mkdir()
    detector = weights.model_path("face_detector")
    os.symlink(detector, folder / detector.name)
    monkeypatch.setattr(weights, "WEIGHTS_DIR", folder)
    monkeypatch.delenv("BOOTH_CALIBRATION_DIR", raising=False)
    styles.fetch(["cute"], MIRROR if MIRROR.is_dir() else None, report=lambda line: None)
    return folder


def test_a_ranges_file_for_another_source_or_graph_stops_the_build_in_one_line(weights_dir, tmp_path,
                                                                                monkeypatch):
    shipped = json.loads(styles.ranges_path("cute").read_text())
    ranges_dir = tmp_path / "style_ranges"
    ranges_dir.mkdir()
    monkeypatch.setattr(styles, "RANGES_DIR", ranges_dir)
    other = dict(shipped, source_sha256="0" * 64)
    (ranges_dir / "cute.json").write_text(json.dumps(other))
    with pytest.raises(weights.WeightsError) as err:
        style_build.build_style("cute", sizes=[384], report=lambda line: None)
    message = str(err.value)
    assert "calibrated for another style cute source file" in message and "\n" not in message
    assert "booth styles calibrate DIR cute" in message
    assert not styles.ir_path("cute", "fp32").exists()  # refused before any work
    short = dict(shipped, fake_quantize=shipped["fake_quantize"][:-1])
    (ranges_dir / "cute.json").write_text(json.dumps(short))
    with pytest.raises(weights.WeightsError, match="does not fit this style cute graph") as err:
        style_build.build_style("cute", sizes=[384], report=lambda line: None)
    assert "\n" not in str(err.value)


def test_calibrate_command_writes_ranges_the_build_uses_without_photos(weights_dir, photos, tmp_path,
                                                                       monkeypatch):
    folder = few_photos(photos, tmp_path / "mine")
    out = tmp_path / "ranges"
    done = subprocess.run([sys.executable, "-m", "booth", "styles", "calibrate", str(folder), "cute",
                           "--samples", "3", "--sizes", "384", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"cute: wrote {out / 'cute.json'}" in done.stdout
    monkeypatch.setattr(styles, "RANGES_DIR", out)
    lines: list[str] = []
    card = style_build.build_style("cute", sizes=[384], report=lines.append)
    assert card["calibration"]["from"] == "ranges file"
    assert (card["calibration"]["crops"], card["calibration"]["held_out"]) == (3, 1)
    # The choice rests on the calibrated graph's fidelity (the same graph); no demo photos
    # in this weights folder, so no check on them either.
    recorded = json.loads((out / "cute.json").read_text())["fidelity_vs_float_held_out"]
    assert card["int8"]["fidelity_vs_float"] == recorded[card["int8"]["target"]]
    assert "fidelity_on_demo_crops" not in card["int8"]
    assert card["peak_rss_mb"] > 0 and "(ranges file)" in lines[-1]
    assert styles.ir_path("cute", "int8").is_file() and styles.ir_path("cute", "fp32").is_file()
    assert style_build.up_to_date(styles.catalogue()["cute"])
    (out / "cute.json").write_text((out / "cute.json").read_text() + "\n")  # recalibrated: rebuild
    assert not style_build.up_to_date(styles.catalogue()["cute"])
