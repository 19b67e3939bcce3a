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


def test_the_public_photos_come_with_their_credits_only_when_asked(sandbox, monkeypatch):
    payload, out, mirror = sandbox
    (mirror / "g.bin").write_bytes(payload)
    photo = b"\xff\xd8 a public photo"
    manifest = weights.MANIFEST_PATH.read_text() + (
        '[photos.groups_two]\nfile = "photos/groups/two.jpg"\n'
        f'sha256 = "{hashlib.sha256(photo).hexdigest()}"\n'
        'url = "http://127.0.0.1:9/two%20people.jpg"\nwhat = "group, 2x1"\nfaces = 2\n'
        'license = "CC0"\ncredit = "A. Photographer"\n')
    weights.MANIFEST_PATH.write_text(manifest)
    (entry,) = weights.photo_manifest().values()
    assert (entry.faces, entry.credit, entry.license) == (2, "A. Photographer", "CC0")
    lines = []
    weights.fetch(mirror, report=lines.append)  # a booth's install: no photos
    assert lines == ["g.bin: copied (sha256 ok)"] and not (out / "photos").exists()
    with pytest.raises(weights.WeightsError, match="photos/groups/two.jpg is not in the mirror folder"):
        weights.fetch(mirror, photos=True)
    (mirror / "photos" / "groups").mkdir(parents=True)
    (mirror / "photos" / "groups" / "two.jpg").write_bytes(photo)
    weights.fetch(mirror, report=lines.append, photos=True)
    assert lines[-1] == "photos/groups/two.jpg: copied (sha256 ok)"
    assert (out / "photos" / "groups" / "two.jpg").read_bytes() == photo
    credits = (out / "photos" / weights.CREDITS_FILE).read_text()
    assert "| groups/two.jpg | 2 | A. Photographer | CC0 | http://127.0.0.1:9/two%20people.jpg |" in credits


def test_every_public_photo_is_listed_with_its_licence_and_credit():
    photos = weights.photo_manifest().values()
    folders = {}
    for entry in photos:
        folder = entry.file.split("/")[1]
        folders[folder] = folders.get(folder, 0) + 1
        assert entry.url.startswith("https://github.com/") and " " not in entry.url
        assert len(entry.sha256) == 64 and entry.license and entry.credit
        least = {"scenes": 0, "groups": 2}.get(folder, 1)  # groups: the people they count
        assert entry.faces >= least and (folder != "scenes" or entry.faces == 0)
    assert folders == {"faces": 9, "groups": 5, "scenes": 5, "hires": 3}
