"""Sync to a real rclone remote (``rclone serve webdav`` / ``serve sftp`` on loopback): every
stored photo copied with its record, deletions following, photos waiting on disk while the
remote is away, a full remote reported in plain words, the status everywhere it is shown."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from booth import config
from booth.daemon.retention import RetentionWorker
from booth.daemon.store import PhotoStore
from booth.daemon.sync import (BOOTHS_DIR, RECORD_NAME, SHARE_DIR, Puller, Rclone, SyncError, SyncWorker,
                               join_remote, photo_record, saved_status)
from booth.vision.images import load_image
from booth.web.share import share_page
from rclonekit import RemoteServer, remote_files, wait_until

pytestmark = pytest.mark.skipif(not Path("/usr/bin/rclone").exists(),
                                reason="rclone is not installed (./install.sh --test installs it)")


@pytest.fixture(scope="module")
def picture(photos: Path) -> np.ndarray:
    return load_image(photos / "faces" / "18f_edwin_torres.jpg")


def settings_in(tmp_path: Path, **sync) -> config.Settings:
    settings = config.defaults().replace("booth", data_dir=str(tmp_path / "data"), name="alpha")
    settings = settings.replace("storage", min_free_mb=0)
    return settings.replace("sync", **sync) if sync else settings


def save(store: PhotoStore, picture: np.ndarray, seed: int = 0) -> str:
    anime = np.ascontiguousarray(np.roll(picture, seed * 7, axis=1)[:, ::-1])
    return store.save(picture, anime, {"size": 384, "faces": 1}).id


def photos_on(root: Path, booth: str = "alpha") -> dict[str, dict]:
    """The records on the served folder: photo id -> record."""
    return {p.parent.name: json.loads(p.read_text())
            for p in (root / BOOTHS_DIR / booth).glob(f"*/{RECORD_NAME}")}


def complete_on_remote(root: Path, store: PhotoStore, ids: list[str], booth: str = "alpha") -> bool:
    """Each photo's folder on the remote has exactly the store's files, byte for byte."""
    files = remote_files(root)
    for photo_id in ids:
        local = {f"{BOOTHS_DIR}/{booth}/{photo_id}/{p.name}": p
                 for p in (store.root / photo_id).glob("*.jpg")}
        for name, path in local.items():
            if files.get(name) is None:
                return False
            if files[name] != hashlib.sha256(path.read_bytes()).hexdigest():
                return False
        if f"{BOOTHS_DIR}/{booth}/{photo_id}/{RECORD_NAME}" not in files:
            return False
    return True


def remote_named_event(server: RemoteServer, monkeypatch) -> RemoteServer:
    """``server`` as the rclone remote "event" for this test (and its booths)."""
    for key, value in server.env("event").items():
        monkeypatch.setenv(key, value)
    return server


@pytest.fixture(params=["webdav", "sftp"])
def remote(request, tmp_path, monkeypatch):
    server = remote_named_event(RemoteServer(request.param, tmp_path / "served").start(), monkeypatch)
    yield server
    server.stop()


def start_worker(settings: config.Settings, store: PhotoStore, **options) -> SyncWorker:
    worker = SyncWorker.from_settings(settings, store, lambda photo: share_page(settings, photo),
                                      retry_max_s=1.0, **options)
    store.listeners.append(worker)
    return worker.start()


def test_photos_and_records_reach_the_remote_and_deletions_follow(tmp_path, remote, picture):
    settings = settings_in(tmp_path, remote="event:party", public_url="http://127.0.0.1:1/share")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    worker = start_worker(settings, store)
    try:
        ids = [save(store, picture, i) for i in range(3)]
        served = remote.root / "party"
        wait_until(lambda: complete_on_remote(served, store, ids), what="three photos on the remote")
        records = photos_on(served)
        assert sorted(records) == sorted(ids)
        record = records[ids[0]]
        assert record["booth"] == "alpha" and record["owner_key"] == store.get(ids[0]).owner_key
        assert set(record["files"]) == {"original.jpg", "anime.jpg", "thumb.jpg"}
        # The share page sits under the owner key, with the anime portrait beside it.
        share = served / SHARE_DIR / record["owner_key"]
        assert (share / "anime.jpg").read_bytes() == (store.root / ids[0] / "anime.jpg").read_bytes()
        assert "anime.jpg" in (share / "index.html").read_text()

        store.delete(ids[1])
        wait_until(lambda: not (served / BOOTHS_DIR / "alpha" / ids[1]).exists()
                   and not (served / SHARE_DIR / records[ids[1]]["owner_key"]).exists(),
                   what="the deleted photo gone from the remote")
        wait_until(lambda: worker.status()["queued"] == 0 and worker.status()["deletions"] == 0,
                   what="nothing left to do")
        status = worker.status()
        assert status["ok"] and status["last_success"] and "every photo is on event:party" in status["message"]
        assert sorted(photos_on(served)) == sorted([ids[0], ids[2]])
    finally:
        worker.stop()
        store.close()


def test_photos_wait_on_disk_while_the_remote_is_away_even_across_a_restart(tmp_path, picture, monkeypatch):
    server = remote_named_event(RemoteServer("webdav", tmp_path / "served"), monkeypatch)
    settings = settings_in(tmp_path, remote="event:party")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    worker = start_worker(settings, store)  # the remote is not there (no internet at the venue)
    try:
        ids = [save(store, picture, i) for i in range(2)]
        status = wait_until(lambda: (s := worker.status())["last_error"] and s, what="the failure reported")
        assert not status["ok"] and status["queued"] == 2
        assert "2 photos waiting for event:party" in status["message"] and "failed" in status["message"]
        store.delete(ids[1])  # a deletion while away is kept too
    finally:
        worker.stop()
        store.close()
    # The booth restarts; what waits is read back from its disk.
    assert saved_status("event:party", settings.data_dir)["queued"] == 1
    assert saved_status("event:party", settings.data_dir)["deletions"] == 1
    server.start()
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    worker = start_worker(settings, store)
    try:
        wait_until(lambda: complete_on_remote(server.root / "party", store, [ids[0]]),
                   what="the waiting photo copied once the remote is back")
        wait_until(lambda: worker.status()["deletions"] == 0 and worker.status()["ok"], what="caught up")
        assert sorted(photos_on(server.root / "party")) == [ids[0]]
    finally:
        worker.stop()
        store.close()
        server.stop()


def test_a_full_remote_is_reported_and_the_photos_go_once_there_is_room(tmp_path, photos, monkeypatch):
    # A 2 MB remote: a 15 MP original alone does not fit.
    picture = load_image(photos / "hires" / "anamnesis33_mqcYKihgfAo_3335x4668.jpg")
    server = remote_named_event(RemoteServer("webdav", tmp_path / "served", size_mb=2).start(), monkeypatch)
    settings = settings_in(tmp_path, remote="event:party")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    worker = start_worker(settings, store)
    try:
        ids = [save(store, picture, i) for i in range(2)]
        status = wait_until(lambda: (s := worker.status())["last_error"] and s, what="the full remote reported")
        assert status["queued"] == 2 and "waiting for event:party" in status["message"]
        # Whatever half arrived, no record does: no photo counts as on the remote.
        listing = subprocess.run(["rclone", "lsf", "-R", "event:party"], capture_output=True, text=True).stdout
        assert "original.jpg" in listing or "anime.jpg" in listing or listing == ""
        assert RECORD_NAME not in listing
    finally:
        worker.stop()
        server.stop()
    # The organiser makes room (a bigger remote); the next run copies everything.
    server = remote_named_event(RemoteServer("webdav", tmp_path / "bigger").start(), monkeypatch)
    worker = start_worker(settings, store)
    try:
        wait_until(lambda: complete_on_remote(server.root / "party", store, ids), what="copied after room")
    finally:
        worker.stop()
        store.close()
        server.stop()


def test_rclone_gets_the_bandwidth_cap_and_low_priority(tmp_path):
    command = Rclone("", 512).command("copy", "a", "b:c")
    rclone = command.index("/usr/bin/rclone")
    assert command[:rclone] == ["setpriv", "--pdeathsig", "TERM", "nice", "-n", "19", "ionice", "-c", "3"]
    assert "--bwlimit" in command and command[command.index("--bwlimit") + 1] == "512K"
    assert "--bwlimit" not in Rclone("", 0).command("copy", "a", "b:c")


def test_remote_paths_join():
    assert join_remote("event:party", "booths", "alpha") == "event:party/booths/alpha"
    assert join_remote("event:", "share", "k") == "event:share/k"
    assert join_remote("/mnt/usb/", "booths") == "/mnt/usb/booths"


def test_photos_deleted_while_the_booth_was_off_leave_the_remote_at_the_next_start(tmp_path, picture,
                                                                                 monkeypatch):
    server = remote_named_event(RemoteServer("webdav", tmp_path / "served").start(), monkeypatch)
    settings = settings_in(tmp_path, remote="event:party")
    store = PhotoStore(settings.data_dir / "photos", settings.storage)
    worker = start_worker(settings, store)
    try:
        ids = [save(store, picture, i) for i in range(2)]
        wait_until(lambda: complete_on_remote(server.root / "party", store, ids), what="copied")
        worker.stop()
        store.listeners.clear()
        store.delete(ids[0])  # e.g. retention as the store opens, before the worker listens
        worker = start_worker(settings, store)
        wait_until(lambda: sorted(photos_on(server.root / "party")) == [ids[1]], what="the deletion caught up")
        wait_until(lambda: worker.status()["queued"] == 0 and worker.status()["ok"], what="settled")
    finally:
        worker.stop()
        store.close()
        server.stop()


@pytest.mark.parametrize("toml, named", [
    ('[sync]\nremote = "no colon here"\n', "remote"),
    ('[sync]\npublic_url = "http://photos.example.org/share"\n', "public_url needs a remote"),
    ('[sync]\nremote = "event:party"\nqr = "phone"\n', "qr"),
    ('[sync]\nevery_min = 0\n', "every_min"),
    ('[booth]\nname = "two words"\n', "name"),
])
def test_bad_sync_settings_get_one_line_naming_the_key(tmp_path, toml, named):
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(config.ConfigError) as error:
        config.load(path)
    message = str(error.value)
    assert named in message and "\n" not in message and message.startswith(f"{path}:")


def test_the_gallery_takes_a_photo_only_once_its_files_match_the_record(tmp_path, picture):
    settings = settings_in(tmp_path)
    booth_store = PhotoStore(tmp_path / "booth", settings.storage)
    photo = booth_store.get(save(booth_store, picture))
    remote = tmp_path / "remote"  # rclone's local backend: a folder is a remote too
    folder = remote / BOOTHS_DIR / "alpha" / photo.id
    folder.mkdir(parents=True)
    record = photo_record(photo, "alpha", booth_store.root / photo.id)
    for name in ("original.jpg", "thumb.jpg"):
        (folder / name).write_bytes((booth_store.root / photo.id / name).read_bytes())
    anime = (booth_store.root / photo.id / "anime.jpg").read_bytes()
    (folder / "anime.jpg").write_bytes(anime[: len(anime) // 2])  # still arriving
    (folder / RECORD_NAME).write_text(json.dumps(record))
    gallery = PhotoStore(tmp_path / "gallery", settings.storage)
    puller = Puller(gallery, str(remote), Rclone(), tmp_path / "mirror")
    try:
        assert puller.pull()["added"] == 0 and gallery.count() == 0
        (folder / "anime.jpg").write_bytes(anime)
        assert puller.pull()["added"] == 1
        pulled = gallery.get(photo.id)
        assert pulled.meta["booth"] == "alpha" and pulled.owner_key == photo.owner_key
        assert gallery.file_path(photo.id, "anime").read_bytes() == anime
        shutil.rmtree(folder)
        assert puller.pull()["removed"] == 1 and gallery.get(photo.id) is None
    finally:
        gallery.close()
        booth_store.close()


def remote_and_retention(tmp_path: Path, monkeypatch, backend: str, originals_h: int, results_h: int):
    """A served remote named "event", and a store whose retention clock the test steps
    (``elapsed[0]``, seconds) instead of waiting: (server, settings, elapsed, store, retention)."""
    server = remote_named_event(RemoteServer(backend, tmp_path / "served").start(), monkeypatch)
    settings = settings_in(tmp_path, remote="event:party").replace(
        "privacy", keep_originals_hours=originals_h, keep_results_hours=results_h)
    elapsed = [0.0]
    store = PhotoStore(settings.data_dir / "photos", settings.storage, monotonic=lambda: elapsed[0])
    retention = RetentionWorker(store, settings.privacy, lambda photo_id, why: store.delete(photo_id))
    return server, settings, elapsed, store, retention


def test_photos_past_retention_leave_the_remote_too(tmp_path, picture, monkeypatch):
    server, settings, elapsed, store, retention = remote_and_retention(tmp_path, monkeypatch, "sftp", 24, 24)
    worker = start_worker(settings, store)
    try:
        ids = [save(store, picture, i) for i in range(2)]
        wait_until(lambda: complete_on_remote(server.root / "party", store, ids), what="copied")
        elapsed[0] += 2 * 86400  # two days later
        assert retention.run_pass()["photos"] == 2
        wait_until(lambda: not list((server.root / "party" / BOOTHS_DIR / "alpha").iterdir()),
                   what="the old photos' folders gone from the remote")
    finally:
        worker.stop()
        store.close()
        server.stop()


def test_rclone_errors_in_plain_words(tmp_path, monkeypatch):
    server = remote_named_event(RemoteServer("webdav", tmp_path / "served"), monkeypatch)  # not started
    with pytest.raises(SyncError) as away:
        Rclone().run("lsf", "event:party")
    assert str(away.value).startswith("the remote does not answer (no internet?): ")
    assert server.process is None


def test_originals_past_retention_leave_the_remote_even_while_the_booth_was_off(tmp_path, picture,
                                                                               monkeypatch):
    server, settings, elapsed, store, retention = remote_and_retention(tmp_path, monkeypatch, "webdav", 24, 72)
    served = server.root / "party" / BOOTHS_DIR / "alpha"
    worker = start_worker(settings, store)

    def originals_only_in(kept: list[str]) -> bool:
        records = photos_on(server.root / "party")
        return (sorted(p.parent.name for p in served.glob("*/original.jpg")) == sorted(kept)
                and all(("original.jpg" in records[i]["files"]) == (i in kept) for i in records))

    try:
        ids = [save(store, picture, i) for i in range(2)]
        wait_until(lambda: complete_on_remote(server.root / "party", store, ids), what="copied")
        elapsed[0] += 2 * 86400  # two days later: the originals are due, the results are not
        assert retention.run_pass() == {"originals": 2, "photos": 0}
        wait_until(lambda: originals_only_in([]), what="the originals gone from the remote")
        assert complete_on_remote(server.root / "party", store, ids)  # the results stay

        later = save(store, picture, 5)  # copied, then dropped while nobody listens
        wait_until(lambda: complete_on_remote(server.root / "party", store, [later]), what="copied")
        worker.stop()
        store.listeners.clear()
        elapsed[0] += 2 * 86400
        assert retention.run_pass() == {"originals": 1, "photos": 2}
        worker = start_worker(settings, store)
        wait_until(lambda: originals_only_in([]) and sorted(photos_on(server.root / "party")) == [later],
                   what="the start caught up with what retention did meanwhile")
    finally:
        worker.stop()
        store.close()
        server.stop()
