"""`booth stylize`: good files come out stylized, bad ones get one line, the rest complete."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import pytest

from booth import config
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
