"""The one atomic writer: a file is the old one or the new one, never half, and a failed
write leaves no temporary file behind."""

from __future__ import annotations

import json
import os
import stat

import pytest

from booth import files


def test_write_atomic_replaces_the_file_whole(tmp_path):
    target = tmp_path / "page.png"
    files.write_atomic(target, b"old")
    files.write_atomic(target, b"new" * 100_000)
    assert target.read_bytes() == b"new" * 100_000
    files.write_atomic(target, "ünïcode")
    assert target.read_text(encoding="utf-8") == "ünïcode"
    assert [p.name for p in tmp_path.iterdir()] == ["page.png"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    target = tmp_path / "jobs.json"
    files.write_atomic(target, b"old")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["jobs.json"]


def test_mode_is_exact_whatever_the_umask(tmp_path):
    secret = tmp_path / "booth.nmconnection"
    previous = os.umask(0)
    try:
        files.write_atomic(secret, "psk=hunter22", mode=0o600)
        files.write_atomic(tmp_path / "plain.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o644


def test_write_json_makes_the_folder_and_ends_the_file(tmp_path):
    target = tmp_path / "figures" / "bench.json"
    files.write_json(target, {"ms": [1.5, 2]})
    assert json.loads(target.read_text()) == {"ms": [1.5, 2]}
    assert target.read_text().endswith("}\n")
