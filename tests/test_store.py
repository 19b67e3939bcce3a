"""The photo store: complete-or-absent photos, unguessable ids, repair after a crash."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from booth import config
from booth.vision.images import load_image
from booth.daemon.store import ID_PATTERN, KINDS, PhotoStore
from booth.errors import StoreFull

from killkit import check_consistent, sigkill_while_writing


def storage(**changes):
    return config.defaults().replace("storage", **changes).storage


def frames(seed: int = 0):
    rng = np.random.default_rng(seed)
    original = rng.integers(0, 256, (480, 640, 3), np.uint8)
    stylized = rng.integers(0, 256, (512, 408, 3), np.uint8)
    return original, stylized


@pytest.fixture
def store(tmp_path):
    s = PhotoStore(tmp_path / "photos", storage(min_free_mb=0))
    yield s
    s.close()


def test_save_writes_three_jpegs_without_metadata_and_an_index_row(store):
    original, stylized = frames()
    photo = store.save(original, stylized, {"size": 512, "faces": 2, "timings_ms": {"generator": 900.0}})
    assert ID_PATTERN.match(photo.id) and len(photo.id) >= 22
    assert (photo.size, photo.faces, photo.source) == (512, 2, "booth")
    assert store.get(photo.id) == photo
    assert store.get(photo.id).meta["timings_ms"] == {"generator": 900.0}
    for kind in KINDS:
        path = store.file_path(photo.id, kind)
        assert path.is_file()
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert not image.getexif() and "exif" not in image.info
    assert load_image(store.file_path(photo.id, "original")).shape == (480, 640, 3)
    assert load_image(store.file_path(photo.id, "anime")).shape == (512, 408, 3)
    thumb = load_image(store.file_path(photo.id, "thumb"))
    assert max(thumb.shape[:2]) == 320
    assert not list(store.root.rglob("*.tmp"))


def test_ids_are_random_and_unguessable(store):
    original, stylized = frames()
    ids = {store.save(original, stylized, {}).id for _ in range(20)}
    assert len(ids) == 20
    assert all(ID_PATTERN.match(i) for i in ids)


def test_unknown_or_malformed_ids_give_none_never_an_exception(store):
    original, stylized = frames()
    photo = store.save(original, stylized, {})
    for bad in ("", "x", "../../etc/passwd", "a" * 22, photo.id + "/../x", None, 42, "é" * 30,
                photo.id[:-1] + "!"):
        assert store.get(bad) is None
        assert store.file_path(bad, "anime") is None
    assert store.file_path(photo.id, "../index.sqlite3") is None
    assert store.file_path(photo.id, "exif") is None
    assert store.delete("not-an-id") is False


def test_list_is_newest_first_with_paging_and_source_filter(store):
    original, stylized = frames()
    saved = [store.save(original, stylized, {}, source="upload" if n % 3 == 0 else "booth")
             for n in range(7)]
    newest_first = [p.id for p in reversed(saved)]
    assert [p.id for p in store.list(limit=24)] == newest_first
    assert [p.id for p in store.list(limit=3, offset=2)] == newest_first[2:5]
    assert store.count() == 7
    assert store.count("upload") == 3 and store.count("booth") == 4
    assert all(p.source == "upload" for p in store.list(source="upload"))


def test_delete_removes_row_and_files(store):
    original, stylized = frames()
    photo = store.save(original, stylized, {})
    folder = store.file_path(photo.id, "anime").parent
    assert store.delete(photo.id) is True
    assert store.get(photo.id) is None and not folder.exists()
    assert store.delete(photo.id) is False


def test_below_the_free_space_floor_saves_are_refused_and_nothing_is_written(tmp_path, monkeypatch):
    store = PhotoStore(tmp_path / "photos", storage(min_free_mb=500))
    monkeypatch.setattr(store, "free_mb", lambda: 120.0)
    assert not store.has_room()
    with pytest.raises(StoreFull, match="120 MB free"):
        store.save(*frames(), {})
    assert store.count() == 0
    assert [p.name for p in store.root.iterdir()] == ["index.sqlite3"] or \
        all(not p.is_dir() for p in store.root.iterdir())
    store.close()


def test_a_write_that_fails_half_way_leaves_nothing(tmp_path, monkeypatch):
    store = PhotoStore(tmp_path / "photos", storage(min_free_mb=0))
    import booth.daemon.store as store_module

    calls = []
    real = store_module.write_atomic

    def enospc_on_second_file(path, data):
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(store_module, "write_atomic", enospc_on_second_file)
    with pytest.raises(OSError, match="No space"):
        store.save(*frames(), {})
    assert store.count() == 0
    assert not [p for p in store.root.iterdir() if p.is_dir()]
    store.close()


def test_free_mb_is_the_real_disk(store):
    import shutil

    assert store.free_mb() == pytest.approx(shutil.disk_usage(store.root).free / 2**20, rel=0.01)


def test_repair_on_open_removes_leftovers_of_an_interrupted_write(tmp_path):
    store = PhotoStore(tmp_path / "photos", storage(min_free_mb=0))
    good = store.save(*frames(), {})
    lost_files = store.save(*frames(1), {})
    store.close()
    root = tmp_path / "photos"
    # A write killed before its commit: a folder with files and a temp file, no row.
    orphan = root / "Zorphanorphanorphan0000"
    orphan.mkdir()
    (orphan / "original.jpg").write_bytes(b"\xff\xd8\xff partial")
    (orphan / "anime.jpg.tmp").write_bytes(b"partial")
    # A temp file left beside a complete photo.
    (root / good.id / "thumb.jpg.tmp").write_bytes(b"x")
    # A row whose files vanished.
    (root / lost_files.id / "anime.jpg").unlink()

    store = PhotoStore(root, storage(min_free_mb=0))
    assert store.repaired == {"temp_files": 1, "orphan_folders": 1, "orphan_rows": 1}
    assert [p.id for p in store.list()] == [good.id]
    assert not orphan.exists() and not (root / lost_files.id).exists()
    assert not list(root.rglob("*.tmp"))
    store.close()


KILL_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from pathlib import Path
    from booth import config
    from booth.daemon.store import PhotoStore
    settings = config.defaults().replace("storage", min_free_mb=0)
    store = PhotoStore(Path(sys.argv[1]), settings.storage)
    rng = np.random.default_rng(int(sys.argv[2]))
    big = rng.integers(0, 256, (1200, 1600, 3), np.uint8)
    small = rng.integers(0, 256, (512, 408, 3), np.uint8)
    print("ready", flush=True)
    while True:
        store.save(big, small, {"size": 512})
""")


@pytest.mark.slow
def test_sigkill_mid_write_leaves_the_store_consistent(tmp_path):
    """SIGKILL a process that is saving photos, at several instants; on reopening, every
    photo in the index is complete and every leftover of the killed write is gone."""
    root = tmp_path / "photos"
    total = 0
    for _ in sigkill_while_writing(KILL_WRITER, str(root), delays=(0.15, 0.37, 0.61, 0.83, 1.1)):
        count = check_consistent(root)
        assert count >= total
        total = count
    assert total > 0  # the writer really stored photos between the kills


def full_resolution_frames(seed: int = 0):
    """A 12 MP camera frame and a 1350 px portrait with photo-like detail (smoothed
    noise: JPEGs of a realistic size, several MB together)."""
    import cv2

    rng = np.random.default_rng(seed)
    original = cv2.resize(rng.integers(0, 256, (750, 1000, 3), np.uint8), (4000, 3000),
                          interpolation=cv2.INTER_CUBIC)
    stylized = cv2.resize(rng.integers(0, 256, (540, 430, 3), np.uint8), (1076, 1350),
                          interpolation=cv2.INTER_CUBIC)
    return original, stylized


def test_a_full_resolution_photo_keeps_its_size_and_a_small_thumbnail(store):
    original, stylized = full_resolution_frames()
    photo = store.save(original, stylized, {"size": 512})
    assert load_image(store.file_path(photo.id, "anime")).shape == (1350, 1076, 3)
    assert load_image(store.file_path(photo.id, "original")).shape == (3000, 4000, 3)
    thumb = store.file_path(photo.id, "thumb")
    assert max(load_image(thumb).shape[:2]) == 320
    assert thumb.stat().st_size < store.file_path(photo.id, "anime").stat().st_size / 4


def test_the_free_space_floor_counts_the_photos_own_files(tmp_path, monkeypatch):
    store = PhotoStore(tmp_path / "photos", storage(min_free_mb=500))
    original, stylized = full_resolution_frames()
    # Above the floor, but not by as much as this photo's files take.
    monkeypatch.setattr(store, "free_mb", lambda: 500.5)
    assert store.has_room()
    with pytest.raises(StoreFull, match=r"needs \d+\.\d MB"):
        store.save(original, stylized, {})
    assert store.count() == 0 and not [p for p in store.root.iterdir() if p.is_dir()]
    monkeypatch.setattr(store, "free_mb", lambda: 600.0)
    photo = store.save(original, stylized, {})
    assert store.get(photo.id) is not None
    store.close()


FULL_RESOLUTION_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from booth import config
    from booth.daemon.store import PhotoStore
    sys.path.insert(0, sys.argv[2])
    from test_store import full_resolution_frames
    settings = config.defaults().replace("storage", min_free_mb=0)
    store = PhotoStore(Path(sys.argv[1]), settings.storage)
    original, stylized = full_resolution_frames(int(sys.argv[3]))
    print("ready", flush=True)
    while True:
        store.save(original, stylized, {"size": 512})
""")


@pytest.mark.slow
def test_sigkill_while_writing_full_resolution_photos_leaves_them_complete_or_absent(tmp_path):
    """The same guarantee with a 12 MP original and a 1350 px portrait, whose writes
    take long enough to be cut in the middle of a file."""
    root = tmp_path / "photos"
    total = 0
    for _ in sigkill_while_writing(FULL_RESOLUTION_WRITER, str(root), str(Path(__file__).parent),
                                   delays=(0.3, 0.9, 1.6, 2.4, 3.3)):
        count = check_consistent(root)
        assert count >= total
        total = count
    assert total > 0
    for photo_folder in (p for p in root.iterdir() if p.is_dir()):
        assert (photo_folder / "original.jpg").stat().st_size > 1_000_000


def test_new_ids_are_long_random_and_never_read_as_a_command_line_option(monkeypatch):
    from booth.daemon import store as store_module

    drawn = iter(["-starts-with-a-dash-abc", "Aok_second_draw_1234567"])
    monkeypatch.setattr(store_module.secrets, "token_urlsafe", lambda n: next(drawn))
    assert store_module.new_id() == "Aok_second_draw_1234567"
    monkeypatch.undo()
    ids = {store_module.new_id() for _ in range(2000)}
    assert len(ids) == 2000 and all(ID_PATTERN.match(i) and not i.startswith("-") for i in ids)


def test_repair_makes_a_missing_thumbnail_again_and_leaves_other_folders_alone(tmp_path):
    root = tmp_path / "photos"
    store = PhotoStore(root, storage(min_free_mb=0))
    photo = store.save(*frames(), {})
    store.close()
    (root / photo.id / "thumb.jpg").unlink()  # e.g. a bad SD block: the photo itself is intact
    lost_found = root / "lost+found"
    lost_found.mkdir()
    (lost_found / "#1234").write_bytes(b"fsck's find")
    backup = root / "backup"
    backup.mkdir()

    store = PhotoStore(root, storage(min_free_mb=0))
    try:
        assert store.repaired == {"temp_files": 0, "orphan_folders": 0, "orphan_rows": 0}
        assert [p.id for p in store.list()] == [photo.id]
        thumb = load_image(store.file_path(photo.id, "thumb"))
        assert max(thumb.shape[:2]) == storage().thumb_size
        assert (lost_found / "#1234").read_bytes() == b"fsck's find" and backup.is_dir()
    finally:
        store.close()


def test_a_store_opened_read_only_beside_the_booth_never_repairs_nor_writes(tmp_path):
    root = tmp_path / "photos"
    booth_store = PhotoStore(root, storage(min_free_mb=0))
    photo = booth_store.save(*frames(), {})
    # The booth is saving a photo this instant: files written, row not committed yet.
    being_saved = root / "BeingSavedBeingSaved0000"
    being_saved.mkdir()
    (being_saved / "original.jpg").write_bytes(b"\xff\xd8\xff being written")
    (being_saved / ".anime.jpg.1234.tmp").write_bytes(b"being written")

    second = PhotoStore(root, storage(min_free_mb=0), read_only=True)
    try:
        assert second.repaired == {}
        assert [p.id for p in second.list()] == [photo.id]
        assert second.file_path(photo.id, "anime").is_file()
        with pytest.raises(PermissionError):
            second.delete(photo.id)
        with pytest.raises(PermissionError):
            second.save(*frames(1), {})
    finally:
        second.close()
    assert sorted(p.name for p in being_saved.iterdir()) == [".anime.jpg.1234.tmp", "original.jpg"]
    # The booth's own store goes on writing and reading after the second one closed.
    assert booth_store.save(*frames(2), {}) and booth_store.count() == 2
    booth_store.close()


def test_a_variant_whose_photo_is_deleted_while_it_is_written_leaves_nothing(store, monkeypatch):
    from booth.daemon import store as store_module

    photo = store.save(*frames(), {})
    real_write = store_module.write_atomic

    def write_then_delete(path, data, mode=None):  # the organiser deletes as the file lands
        real_write(path, data, mode)
        store.delete(photo.id)

    monkeypatch.setattr(store_module, "write_atomic", write_then_delete)
    with pytest.raises(KeyError):
        store.save_variant(photo.id, "hayao", frames(1)[1])
    monkeypatch.undo()
    assert not (store.root / photo.id).exists()
    with pytest.raises(KeyError):  # and once it is gone, nothing is written at all
        store.save_variant(photo.id, "hayao", frames(1)[1])
    assert not (store.root / photo.id).exists()
    store.close()
    with sqlite3.connect(store.root / "index.sqlite3") as index:  # no variant row left either
        assert index.execute("SELECT COUNT(*) FROM variants").fetchone()[0] == 0
