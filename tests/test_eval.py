"""`booth eval faces`: the measures on known answers, and the command on real photos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from booth.measure import faces as evaluate
from booth.measure.faces import match_faces, nme, people_in, summarize
from booth.vision.geometry import Face
from booth.vision.images import load_image

#: The installed `booth` command (beside the test run's Python).
BOOTH = str(Path(sys.executable).with_name("booth"))

LANDMARKS = np.array([[40, 50], [60, 50], [50, 60], [42, 70], [58, 70]], np.float32)


def face_at(dx: float = 0, dy: float = 0, landmarks: np.ndarray = LANDMARKS) -> Face:
    return Face(box=np.array([30 + dx, 35 + dy, 70 + dx, 80 + dy], np.float32),
                landmarks=(landmarks + [dx, dy]).astype(np.float32), score=0.99)


def test_nme_of_a_known_shift():
    # Every landmark 3 right and 4 down: each is 5 px off; the eyes are 20 px apart.
    assert nme(face_at(), face_at(3, 4)) == pytest.approx(5 / 20)
    assert nme(face_at(), face_at()) == 0


def test_nme_of_a_face_in_profile_is_normalised_by_its_width():
    profile = LANDMARKS.copy()
    profile[1] = profile[0] + [2, 0]           # the far eye hidden behind the near one
    expected = face_at(landmarks=profile)      # box 40 px wide: floor 10 px
    assert nme(expected, face_at(3, 4, landmarks=profile)) == pytest.approx(5 / 10)


def test_nme_of_one_misplaced_landmark():
    moved = LANDMARKS.copy()
    moved[2] += [0, 10]                  # only the nose, 10 px: mean error 2 px
    assert nme(face_at(), face_at(landmarks=moved)) == pytest.approx(2 / 20)


def test_faces_are_paired_by_overlap_once_each():
    expected = [face_at(), face_at(200, 0)]
    found = [face_at(205, 2), face_at(1, 1), face_at(500, 500)]
    assert sorted(match_faces(expected, found)) == [(0, 1), (1, 0)]
    assert match_faces(expected, []) == []
    assert match_faces([face_at()], [face_at(35, 0)]) == []     # barely touching: no match


def test_people_count_comes_from_the_manifest_or_the_file_name(tmp_path):
    # The public set's groups: the manifest's face count, wherever the photo was copied.
    assert people_in(tmp_path / "18f_sba_legos.jpg") == 4
    assert people_in(tmp_path / "18f_renata_award.jpg") == 2
    # A private set names its groups groupN_x.jpg.
    assert people_in(tmp_path / "group4_women.jpg") == 4
    assert people_in(tmp_path / "18f_edwin_torres.jpg") is None


def test_summary_rates_and_targets():
    def record(file, folder, faces_in, matched, error, people=None):
        r = {"file": file, "folder": folder, "faces_in": faces_in, "faces_out_matched": matched,
             "nme": error, "nme_max": error, "size": 512,
             "ms": {"detect": 40, "frame": 10, "policy": 1, "generator": 1000, "compose": 0,
                    "total": 1051}}
        if people:
            r["people"] = people
        return r

    records = [
        record("faces/a.jpg", "faces", 1, 1, 0.04),
        record("faces/b.jpg", "faces", 0, 0, None),
        record("groups/group4_x.jpg", "groups", 3, 3, 0.05, people=4),
        {**record("groups/group2_y.jpg", "groups", 2, 2, 0.05, people=2), "angle_deg": 4.0,
         "inside": [1.0, 0.8]},                                      # a face cut
        {**record("hires/h1.jpg", "hires", 1, 1, 0.04), "mode": "portrait"},
        {**record("hires/h2.jpg", "hires", 2, 2, 0.04), "mode": "group"},  # a false face
        record("scenes/scene_03.jpg", "scenes", 2, 2, 0.2),           # real people
        record("scenes/scene_99.jpg", "scenes", 1, 0, None),          # a false face
        record("scenes/scene_98.jpg", "scenes", 0, 0, None),
    ]
    s = summarize(records, {"scenes": {"people": ["scene_03.jpg"]}}, generator_ms=1000)
    # Survival and NME: the subjects (not scenes/) carry the targets ...
    assert s["faces_in"] == 9 and s["faces_out_matched"] == 9 and s["survival"] == 1.0
    assert s["nme_mean"] == pytest.approx(0.044, abs=1e-4)
    assert s["nme_max"] == 0.05 and s["images_over_nme_limit"] == 0
    # ... background faces in scenes are reported apart.
    assert s["scenes"]["faces_in"] == 3 and s["scenes"]["survival"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["scenes"]["images_over_nme_limit"] == 1
    assert s["faces_detection_rate"] == 0.5 and s["faces_missed"] == ["faces/b.jpg"]
    assert s["groups_detection_rate"] == pytest.approx(5 / 6, abs=1e-4)
    # Each group photo: the rotation applied and every face box whole inside the result.
    assert s["groups_faces_whole_share"] == 0.5 and s["groups_rotated"] == {"groups/group2_y.jpg": 4.0}
    assert s["hires_one_guest_share"] == 0.5 and s["targets"]["hires_one_guest_share"] is False
    assert s["scenes_false_face_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["scenes_with_false_face"] == ["scenes/scene_99.jpg"]
    assert s["overhead_share"] == pytest.approx(0.05)
    assert s["targets"]["overhead_share"] is True
    assert s["targets"]["survival"] is True and s["targets"]["faces_detection_rate"] is False


@pytest.mark.slow
def test_the_command_writes_per_image_records_and_a_summary(photos, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    shutil.copy(photos / "faces" / "18f_edwin_torres.jpg", folder)
    shutil.copy(photos / "groups" / "18f_renata_award.jpg", folder)
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "report" / "eval.json"
    done = subprocess.run([BOOTH, "eval", "faces", str(folder),
                           "--json", str(out), "--size", "384"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "broken.jpg" in done.stderr and "Traceback" not in done.stderr
    assert "survival" in done.stdout and "targets:" in done.stdout
    report = json.loads(out.read_text())
    by_file = {r["file"]: r for r in report["images"]}
    assert set(by_file) == {"faces/18f_edwin_torres.jpg", "faces/18f_renata_award.jpg"}
    for r in report["images"]:
        assert {"file", "faces_in", "faces_out_matched", "nme", "size", "ms"} <= set(r)
        assert r["size"] == 384 and r["faces_out_matched"] == r["faces_in"]
        assert r["nme"] < 0.15
    assert by_file["faces/18f_edwin_torres.jpg"]["faces_in"] == 1
    assert by_file["faces/18f_renata_award.jpg"]["people"] == 2
    assert by_file["faces/18f_renata_award.jpg"]["faces_in"] == 2
    summary = report["summary"]
    assert summary["survival"] == 1.0 and summary["faces_detection_rate"] == 1.0
    assert 0 < summary["overhead_share"] < 1


def test_a_photo_set_that_is_not_one_is_named_in_one_line(tmp_path):
    (tmp_path / "holiday").mkdir()
    for what in ("faces", "upscale", "policy", "styles", "fidelity"):
        done = subprocess.run([BOOTH, "eval", what, "--photos", str(tmp_path / "holiday")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (what, done.stderr)
        assert done.stderr.strip().count("\n") == 0 and "holiday: not a photo set" in done.stderr


@pytest.mark.slow
def test_eval_styles_tells_a_drawn_face_from_a_ghost(photos, tmp_path):
    """JP face on its own crop draws the portrait's eyes and mouth; the same network on
    the whole portrait crop (--old, the booth's old way) leaves a ghost."""
    folder = tmp_path / "faces"
    folder.mkdir()
    shutil.copy(photos / "hires" / "anamnesis33_AUJhl146mBY_3727x5591.jpg", folder)
    out = tmp_path / "styles.json"
    done = subprocess.run([BOOTH, "eval", "styles", str(folder), "--styles", "jpface", "--old",
                           "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    by_style = {r["style"]: r for r in report["faces"]}
    assert set(by_style) == {"jpface", "jpface-whole-crop"}
    assert by_style["jpface"]["found"] and by_style["jpface"]["frontal"]
    assert by_style["jpface"]["drawn"] and not by_style["jpface-whole-crop"]["drawn"]
    assert report["summary"]["jpface"]["drawn_share"] == 1.0
    assert "targets: all met" in done.stdout


def test_the_command_names_a_missing_folder(tmp_path):
    done = subprocess.run([BOOTH, "eval", "faces",
                           str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "nowhere: not a folder of photos" in done.stderr


def test_eval_has_room_for_more_measurements():
    import argparse

    from booth.cli import eval as eval_command

    parser = argparse.ArgumentParser()
    eval_command.add_arguments(parser)
    args = parser.parse_args(["faces", "a", "b", "--json", "x.json"])
    assert args.dirs == ["a", "b"] and args.json == "x.json" and args.evaluate is eval_command.run_faces
    assert parser.parse_args(["policy"]).eval_command == "policy"
    assert parser.parse_args(["upscale", "--no-cost"]).eval_command == "upscale"
    with pytest.raises(SystemExit):
        parser.parse_args([])        # a measurement must be named


@pytest.mark.slow
def test_the_upscale_command_measures_the_full_resolution_result(photos, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    # A 380 px thumbnail of a close-up: nothing to gain; a 2448×3264 portrait: about 2×.
    small = cv2.resize(load_image(photos / "faces" / "18f_edwin_torres.jpg"), (380, 380),
                       interpolation=cv2.INTER_AREA)
    assert cv2.imwrite(str(folder / "small.jpg"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    shutil.copy(photos / "faces" / "18f_kate_glasses.jpg", folder)
    out = tmp_path / "upscale.json"
    done = subprocess.run([BOOTH, "eval", "upscale", str(folder), "--json", str(out), "--no-cost"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "PSNR" in done.stdout and "targets:" in done.stdout
    report = json.loads(out.read_text())
    by_file = {r["file"]: r for r in report["images"]}
    small, large = by_file["faces/small.jpg"], by_file["faces/18f_kate_glasses.jpg"]
    assert small["result_size"] == small["generator_size"] and "psnr_db" not in small
    assert large["factor"] > 1.8 and large["psnr_db"] >= 35
    assert large["gradient_ratio"] > 1.1 and large["overshoot_mean"] < 3
    assert large["found_result"] == large["found_generated"] == 1
    summary = report["summary"]
    assert summary["kept_at_generator_size"] == ["faces/small.jpg"]
    assert summary["targets"]["psnr_min_db"] is True and "cost_share" not in summary


def test_a_missed_target_fails_the_command_only_with_check():
    from booth.measure.targets import exit_status

    missed = {"survival": True, "nme_mean": False}
    assert exit_status(missed, check=True) == 1
    assert exit_status(missed, check=False) == 0  # the report is the figures
    assert exit_status({"survival": True}, check=True) == 0
