"""`booth run --demo` without a folder: $BOOTH_PHOTOS, else a USB webcam that answers,
else the demo photos `booth weights fetch` brought (manifest entries, sha256-checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from booth import config
from booth.cli import run as run_command
from booth.model import weights
from booth.errors import UserError


def test_a_given_folder_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOTH_PHOTOS", str(tmp_path))
    (tmp_path / "mine").mkdir()
    camera = run_command.demo_camera(str(tmp_path / "mine"), config.defaults().camera)
    assert camera == {"backend": "folder", "folder": str((tmp_path / "mine").resolve())}


def test_booth_photos_faces_then_the_folder_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOTH_PHOTOS", str(tmp_path))
    assert run_command.demo_camera("", config.defaults().camera)["folder"] == str(tmp_path.resolve())
    (tmp_path / "faces").mkdir()
    assert run_command.demo_camera("", config.defaults().camera)["folder"] == str((tmp_path / "faces").resolve())


def test_without_photos_or_webcam_the_fetched_demo_photos(monkeypatch):
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a camera at /dev/video0: the webcam would be chosen")
    monkeypatch.delenv("BOOTH_PHOTOS", raising=False)
    assert run_command.webcam_answers("0") is False
    demo = [e for e in weights.manifest().values() if e.key.startswith("demo_")]
    assert len(demo) == 2 and all(weights.verify(e) for e in demo)  # fetched, checksums ok
    assert all("/raw/" in e.url and len(e.url.split("/raw/")[1].split("/")[0]) == 40 for e in demo)
    camera = run_command.demo_camera("", config.defaults().camera)
    assert camera == {"backend": "folder", "folder": str((weights.WEIGHTS_DIR / "demo").resolve())}


def test_no_demo_photos_says_what_to_do(tmp_path, monkeypatch):
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a camera at /dev/video0: the webcam would be chosen")
    monkeypatch.delenv("BOOTH_PHOTOS", raising=False)
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(UserError, match=r"--demo: no webcam and no demo photos; run `booth weights fetch`"):
        run_command.demo_camera("", config.defaults().camera)


def test_every_manifest_url_is_pinned_to_a_commit():
    for entry in weights.manifest().values():
        assert entry.url.startswith("https://github.com/"), entry.url
        ref = entry.url.split("/raw/", 1)[1].split("/", 1)[0]
        assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), entry.url
