"""INT8 without photos: the activation ranges NNCF found on real photos ship as
``weights/int8_ranges.json``, and a build from them gives the photo-calibrated graph.

* the ranges mechanism: calibrating on photos, writing the ranges, reading them back
  and applying them gives the same graph, constant for constant, output for output;
* the shipped file: the graph built from it, for each target, is within 0.3 dB of the
  photo-calibrated graph's fidelity (recorded in the file when it was made) on the
  held-out photos the file names;
* ``booth weights calibrate`` writes a file the build can read.
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

from booth.measure import quality
from booth.model import graph, quantize, weights
from booth.config import defaults
from booth.vision.face import FaceDetector
from booth.vision.images import load_image

BOOTH = [sys.executable, "-m", "booth"]


@pytest.fixture(scope="module")
def float_model() -> ov.Model:
    model, _ = graph.float_network(weights.model_path("generator"))
    return model


@pytest.fixture(scope="module")
def shipped() -> dict:
    return quantize.read_ranges(weights.RANGES_PATH)


def constants(model: ov.Model) -> list[np.ndarray]:
    return [op.get_data() for op in model.get_ordered_ops() if op.get_type_name() == "Constant"]


def test_ranges_give_the_same_graph_as_the_photos(float_model, photos: Path, tmp_path: Path):
    folder = tmp_path / "few"
    folder.mkdir()
    for name in ("18f_edwin_torres.jpg", "18f_colin_murphy_glasses.jpg", "18f_glenn_grieves_glasses.jpg", "18f_julie_strothman.jpg"):
        shutil.copy(photos / "faces" / name, folder / name)
    calibrated, ranges, held_out = quantize.calibrate(float_model, folder, samples=3, sizes=[384],
                                                      aspect=0.8, report=lambda _: None)
    path = tmp_path / "ranges.json"
    quantize.write_ranges(ranges, path)
    rebuilt = quantize.apply_ranges(float_model, quantize.read_ranges(path)["fake_quantize"])
    a, b = constants(calibrated), constants(rebuilt)
    assert len(a) == len(b) and len(ranges["fake_quantize"]) == 53
    assert all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))
    for target in quantize.INT8_TARGETS:
        one = quantize.pictures(quantize.for_target(calibrated.clone(), target), held_out)[0]
        two = quantize.pictures(quantize.for_target(rebuilt.clone(), target), held_out)[0]
        assert all(np.array_equal(x, y) for x, y in zip(one, two)), target


def public_crops(calibration: dict, photos: Path) -> list[np.ndarray]:
    """Every photo of the public set's faces/, groups/ and scenes/ (none of them among the
    calibration's photos, which were the developers'), cropped as at calibration (its
    sizes in turn)."""
    detector = FaceDetector.from_settings(defaults())
    files = [p for folder in ("faces", "groups", "scenes") for p in sorted((photos / folder).glob("*.jpg"))]
    return [quantize.to_network_input(quantize.booth_crop(
        load_image(path), calibration["sizes"][i % len(calibration["sizes"])],
        calibration["aspect"], detector)) for i, path in enumerate(files)]


def test_shipped_ranges_rebuild_the_calibrated_graph_for_each_target(float_model, shipped, photos):
    """On photos the calibration never saw, each target's graph from the shipped ranges
    is as faithful to the float network as the calibration run measured on its held-out
    photos (there 38.3 dB / SSIM 0.969)."""
    assert shipped["source_sha256"] == weights.manifest()["generator"].sha256
    assert weights.RANGES_PATH.stat().st_size < 40_000  # derived statistics, not data
    assert shipped["calibration"]["held_out"] >= 12
    inputs = public_crops(shipped["calibration"], photos)
    reference, _ = quantize.pictures(float_model, inputs, "f32")
    raw = quantize.apply_ranges(float_model, shipped["fake_quantize"])
    for target in quantize.INT8_TARGETS:
        ours, _ = quantize.pictures(quantize.for_target(raw.clone(), target), inputs)
        got = quality.fidelity(ours, reference)
        calibrated = shipped["fidelity_vs_fp32_held_out"][target]
        # Measured on the public set: 38.5 dB, SSIM 0.966 for both targets.
        assert got["psnr_db"] >= calibrated["psnr_db"] - 0.3, (target, got, calibrated)
        assert got["psnr_db"] > 38.0 and got["ssim"] > 0.96, (target, got)


def test_ranges_for_another_graph_are_refused(float_model, shipped):
    wrong = [dict(q) for q in shipped["fake_quantize"][:-1]]
    with pytest.raises(weights.WeightsError, match="does not fit this generator graph"):
        quantize.apply_ranges(float_model, wrong)


def test_a_damaged_ranges_file_gets_one_clear_line(tmp_path):
    bad = tmp_path / "int8_ranges.json"
    bad.write_text("{not json")
    with pytest.raises(weights.WeightsError, match="cannot read the INT8 ranges file") as err:
        quantize.read_ranges(bad)
    assert "\n" not in str(err.value)
    other = json.loads(weights.RANGES_PATH.read_text())
    other["source_sha256"] = "0" * 64
    bad.write_text(json.dumps(other))
    with pytest.raises(weights.WeightsError, match="calibrated for another generator file"):
        quantize.read_ranges(bad)


def test_calibrate_command_writes_a_ranges_file(photos: Path, tmp_path: Path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("18f_selena_juneau_vogel.jpg", "18f_aviva_oskow_turned.jpg", "18f_kate_glasses.jpg", "18f_sarayu_srinivasan.jpg"):
        shutil.copy(photos / "faces" / name, folder / name)
    out = tmp_path / "my_ranges.json"
    done = subprocess.run(BOOTH + ["weights", "calibrate", str(folder), "--samples", "3",
                                   "--out", str(out)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"wrote {out}" in done.stdout
    ranges = quantize.read_ranges(out)
    assert ranges["calibration"]["crops"] == 3 and len(ranges["calibration"]["photos"]) == 3
    assert set(ranges["fidelity_vs_fp32_held_out"]) == set(quantize.INT8_TARGETS)
    assert len(ranges["fake_quantize"]) == len(json.loads(weights.RANGES_PATH.read_text())["fake_quantize"])


def test_calibrate_refuses_a_missing_folder(tmp_path: Path):
    done = subprocess.run(BOOTH + ["weights", "calibrate", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith(f"calibrate {tmp_path / 'nope'}: not a folder of photos")
