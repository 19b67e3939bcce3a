"""`booth stylize`: good files come out stylized, bad ones get one line, the rest complete;
`--mode strip` and `--mode boomerang` make the pictures the docs show."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from booth import config
from booth.vision import boomerang, strip, video
from booth.vision.images import load_image


def _booth(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "booth", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))
    files = {"empty.jpg": b"", "corrupt.jpg": b"\xff\xd8\xff\xe0" + b"\x13" * 500,
             "notes.png": b"this is not an image", "bomb.png": bomb}
    paths = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths[name] = folder / name
    return paths


def test_stylize_good_and_bad_files(tmp_path, photos, bad_files):
    good = [photos / "faces" / "18f_edwin_torres.jpg", photos / "scenes" / "nps_glacier_lake.jpg"]
    report = tmp_path / "r.json"
    done = _booth("stylize", *map(str, good), *map(str, bad_files.values()),
                  "--out", str(tmp_path / "out"), "--json", str(report))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("booth stylize:")]
    assert len(errors) == len(bad_files)
    assert any("empty" in e for e in errors) and any("too large" in e for e in errors)
    results = json.loads(report.read_text())["results"]
    ok = [r for r in results if r["ok"]]
    assert len(ok) == 2
    for r in ok:
        out = load_image(r["out"])
        assert out.shape[:2] == (r["height"], r["width"])
        # At least the generator's size; at most the full-resolution long side.
        assert r["size"] in (384, 448, 512)
        assert r["size"] <= max(out.shape[:2]) <= config.defaults().storage.result_long_side
        assert "generator" in r["ms"]
        assert f"size {r['size']}" in done.stdout
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


def test_stylize_no_face_fixed_size(tmp_path, face_photo):
    # A photo no larger than the generator's output: the result is that output as it is.
    small = tmp_path / "small.jpg"
    rgb = cv2.resize(load_image(face_photo), (380, 380), interpolation=cv2.INTER_AREA)
    assert cv2.imwrite(str(small), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    done = _booth("stylize", str(small), "--out", str(tmp_path), "--size", "384", "--no-face")
    assert done.returncode == 0, done.stderr
    out = load_image(tmp_path / "small_anime.jpg")
    assert max(out.shape[:2]) == 384 and out.shape[0] % 8 == 0 and out.shape[1] % 8 == 0


def test_stylize_bad_size_is_one_line(tmp_path, face_photo):
    done = _booth("stylize", str(face_photo), "--out", str(tmp_path), "--size", "500")
    assert done.returncode == 2
    assert done.stderr.strip() == "booth stylize: --size '500': use auto or a multiple of 8 in 384..512"


def test_stylize_strip_mode_makes_the_2x6_strip_and_the_square(tmp_path, photos):
    faces = sorted((photos / "faces").glob("*.jpg"))[:4]
    done = _booth("stylize", "--mode", "strip", *map(str, faces), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    made = load_image(tmp_path / "strip.jpg")
    assert made.shape[:2] == (strip.STRIP_HEIGHT, strip.STRIP_WIDTH)
    assert load_image(tmp_path / "strip-square.jpg").shape[:2] == (strip.SQUARE_SIDE, strip.SQUARE_SIDE)
    height, width = strip.cell_shape(4)
    for index, face in enumerate(faces):
        top = strip.cell_top(index, 4)
        cell = made[top:top + height, strip.STRIP_MARGIN:strip.STRIP_MARGIN + width].astype(int)
        assert cell.std() > 20, f"shot {index + 1} has a picture in its place"
        camera = strip.fit_cell(load_image(face), (height, width)).astype(int)
        assert np.abs(cell - camera).mean() > 5, f"shot {index + 1} is stylized, not the photo"


def test_stylize_strip_mode_needs_three_or_four_photos(tmp_path, face_photo):
    done = _booth("stylize", "--mode", "strip", str(face_photo), str(face_photo), "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == "booth stylize: --mode strip takes 3 or 4 photos (a strip's shots), got 2"


def test_stylize_boomerang_mode_makes_the_demo_cameras_clip(tmp_path, face_photo):
    done = _booth("stylize", "--mode", "boomerang", str(face_photo), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    stem = face_photo.stem
    info, frames = video.decode_mp4((tmp_path / f"{stem}_boomerang.mp4").read_bytes())
    loop = 2 * boomerang.BURST_FRAMES - 2
    assert info["codec"] == "h264" and info["frames"] == loop
    assert max(info["width"], info["height"]) == boomerang.CLIP_LONG_SIDE
    assert np.abs(frames[0].astype(int) - frames[loop // 2].astype(int)).mean() > 3, "the clip moves"
    webp = Image.open(tmp_path / f"{stem}_boomerang.webp")
    thinned = boomerang.forward_backward(list(range(0, boomerang.BURST_FRAMES, boomerang.WEBP_STEP)))
    assert webp.format == "WEBP" and webp.n_frames == len(thinned) and webp.info.get("loop") == 0
    still = load_image(tmp_path / f"{stem}_boomerang.jpg")
    assert still.shape == frames[0].shape
    assert np.abs(still.astype(int) - frames[boomerang.BURST_FRAMES // 2].astype(int)).mean() < 6
