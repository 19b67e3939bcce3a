"""Model files: checksums, mirror, no network: clear lines, never a half-written file."""

from __future__ import annotations

import hashlib

import pytest

from booth.model import weights


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A private weights folder and a manifest with one small file."""
    payload = b"not really a model, but checksummed like one"
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        '[files.generator]\nfile = "g.bin"\n'
        f'sha256 = "{hashlib.sha256(payload).hexdigest()}"\n'
        'url = "http://127.0.0.1:9/g.bin"\nwhat = "x"\nprovenance = "x"\nlicense = "x"\n')
    out = tmp_path / "weights"
    monkeypatch.setattr(weights, "WEIGHTS_DIR", out)
    monkeypatch.setattr(weights, "MANIFEST_PATH", manifest)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    return payload, out, mirror


def test_fetch_from_mirror_verifies_and_is_idempotent(sandbox):
    payload, out, mirror = sandbox
    (mirror / "g.bin").write_bytes(payload)
    lines = []
    weights.fetch(mirror, report=lines.append)
    assert (out / "g.bin").read_bytes() == payload
    assert lines == ["g.bin: copied (sha256 ok)"]
    weights.fetch(mirror, report=lines.append)
    assert lines[-1] == "g.bin: present (sha256 ok)"


def test_checksum_mismatch_leaves_no_file(sandbox):
    _, out, mirror = sandbox
    (mirror / "g.bin").write_bytes(b"tampered")
    with pytest.raises(weights.WeightsError, match="checksum mismatch for g.bin"):
        weights.fetch(mirror)
    assert not (out / "g.bin").exists()
    assert list(out.iterdir()) == []  # no .part left behind


def test_no_network_and_no_mirror_says_what_to_do(sandbox, monkeypatch):
    _, out, _ = sandbox
    monkeypatch.delenv(weights.MIRROR_ENV, raising=False)
    with pytest.raises(weights.WeightsError) as err:
        weights.fetch(None)
    message = str(err.value)
    assert "cannot download g.bin" in message and "--mirror DIR" in message and "\n" not in message
    assert not (out / "g.bin").exists()


def test_missing_file_in_mirror(sandbox):
    _, _, mirror = sandbox
    with pytest.raises(weights.WeightsError, match="g.bin is not in the mirror folder"):
        weights.fetch(mirror)


def test_mirror_env_variable(sandbox, monkeypatch):
    payload, out, mirror = sandbox
    (mirror / "g.bin").write_bytes(payload)
    monkeypatch.setenv(weights.MIRROR_ENV, str(mirror))
    weights.fetch(None, report=lambda line: None)
    assert (out / "g.bin").read_bytes() == payload


def test_installed_model_files_match_the_manifest():
    """The install step fetched every file the manifest lists, with the right checksum."""
    for entry in weights.manifest().values():
        assert weights.verify(entry), f"{entry.file} missing or wrong: run ./install.sh"
    for variant in weights.GENERATOR_IR:
        assert weights.ir_path(variant).is_file()
