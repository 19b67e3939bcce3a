"""Several booths, one gallery, with the real rclone: three booth processes push to one
``rclone serve webdav`` (or ``sftp``) remote at once while it is stopped mid-upload and restarted and one
booth is SIGKILLed mid-push; afterwards every photo is on the remote exactly once and
complete (sha256), the deleted one is gone, a ``booth gallery`` node lists all three
booths' photos, each marked with its booth, and a share page opens in Chromium from a
plain static HTTP server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from booth import PROJECT_ROOT, config
from booth.daemon.store import PhotoStore
from booth.daemon.sync import BOOTHS_DIR, RECORD_NAME, SHARE_DIR
from rclonekit import RemoteServer, free_port, wait_until

pytestmark = pytest.mark.skipif(not Path("/usr/bin/rclone").exists(),
                                reason="rclone is not installed (./install.sh --test installs it)")

SCRIPT = Path(__file__).parent / "syncbooth.py"
BOOTH_BIN = Path(sys.executable).parent / "booth"


class BoothProcess:
    """tests/syncbooth.py in a subprocess, niced: a real booth daemon pushing to the remote."""

    def __init__(self, tmp_path: Path, folder: Path, name: str, env: dict, photos: int, *extra: str) -> None:
        self.name = name
        self.data = tmp_path / name
        self.log = open(tmp_path / f"{name}.log", "a")
        self.process = subprocess.Popen(
            ["nice", "-n", "10", sys.executable, str(SCRIPT), str(folder), str(self.data), name,
             "event:party", str(photos), *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=PROJECT_ROOT)
        assert self.line() == "ready"

    def line(self) -> str:
        return self.process.stdout.readline().strip()

    def taken(self) -> list[str]:
        words = self.line().split()
        assert words[0] == "taken", words
        return words[1:]

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)  # a power cut: no handler, no cleanup
        self.process.wait(10)

    def finish(self) -> None:
        assert self.line() == "synced"
        assert self.process.wait(30) == 0

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process.stdout.close()
        self.log.close()

    def store_ids(self) -> dict[str, Path]:
        """The booth's photos (its store reopened after it ended): id -> folder."""
        settings = config.defaults().replace("storage", min_free_mb=0)
        store = PhotoStore(self.data / "data" / "photos", settings.storage)
        try:
            return {p.id: store.root / p.id for p in store.list(limit=10_000)}
        finally:
            store.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_remote(served: Path, booths: dict[str, dict[str, Path]], deleted: set[str]) -> None:
    """Every booth's photos on the remote once, complete, with nothing else beside them."""
    on_remote = {}
    for booth_dir in (served / BOOTHS_DIR).iterdir():
        for folder in booth_dir.iterdir():
            assert folder.name not in on_remote, f"{folder.name} twice on the remote"
            on_remote[folder.name] = (booth_dir.name, folder)
    expected = {photo_id: name for name, ids in booths.items() for photo_id in ids}
    assert {i: b for i, (b, _) in on_remote.items()} == expected
    assert not deleted & on_remote.keys()
    for name, ids in booths.items():
        for photo_id, local in ids.items():
            remote = served / BOOTHS_DIR / name / photo_id
            record = json.loads((remote / RECORD_NAME).read_text())
            local_files = {p.name: sha256(p) for p in local.glob("*.jpg")}
            assert {n: f["sha256"] for n, f in record["files"].items()} == local_files
            assert {p.name: sha256(p) for p in remote.iterdir() if p.name != RECORD_NAME} == local_files
    shares = {p.name for p in (served / SHARE_DIR).iterdir()}
    keys = {json.loads((f / RECORD_NAME).read_text())["owner_key"] for _, f in on_remote.values()}
    assert shares == keys  # one share page per photo; the deleted photo's is gone too


def api_photos(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/photos?limit=100", timeout=10) as response:
        return json.load(response)["photos"]


@pytest.mark.parametrize("kind", ["webdav", "sftp"])
def test_three_booths_through_faults_then_one_gallery(tmp_path, photos, browser, kind):
    faces = photos / "faces"
    server = RemoteServer(kind, tmp_path / "served").start()
    env = {**os.environ, **server.env("event")}
    public = "http://127.0.0.1:{port}"  # the static server's address, filled in below
    share_port = free_port()
    common = ("--public-url", public.format(port=share_port), "--bandwidth-kib", "200")
    booths: dict[str, BoothProcess] = {}
    gallery = None
    try:
        for name, extra in (("alpha", ()), ("beta", ()), ("gamma", ("--delete-first",))):
            booths[name] = BoothProcess(tmp_path, faces, name, env, 4, *common, *extra)
        taken = {name: booth.taken() for name, booth in booths.items()}
        # beta loses power in the middle of its push (uploads are capped at 200 KiB/s each);
        # then the remote goes away while the others upload, and comes back.
        time.sleep(0.3)
        booths["beta"].kill()
        server.stop()
        time.sleep(2.0)
        server.start()
        booths["beta"].close()
        booths["beta"] = BoothProcess(tmp_path, faces, "beta", env, 0, *common)
        assert booths["beta"].taken() == []
        for booth in booths.values():
            booth.finish()

        stored = {name: booth.store_ids() for name, booth in booths.items()}
        assert sorted(stored["alpha"]) == sorted(taken["alpha"])
        assert sorted(stored["gamma"]) == sorted(taken["gamma"][1:])
        check_remote(server.root / "party", stored, deleted={taken["gamma"][0]})

        # A gallery-only node pulls every booth's photos.
        port = free_port()
        gallery = subprocess.Popen(
            [str(BOOTH_BIN), "gallery", "--remote", "event:party", "--port", str(port), "--host", "127.0.0.1",
             "--data-dir", str(tmp_path / "gallery-node"), "--every-s", "1"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "gallery.log", "w"), cwd=PROJECT_ROOT)
        all_ids = {i: name for name, ids in stored.items() for i in ids}
        listed = wait_until(lambda: (p := _try(api_photos, port)) and len(p) == len(all_ids) and p,
                            timeout=90, what="the gallery listing every booth's photos")
        assert {p["id"]: p["booth"] for p in listed} == all_ids
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            page = response.read().decode()
        assert all(f'class="tile-booth">{name}<' in page for name in ("alpha", "beta", "gamma"))

        # A photo removed from the remote (by its booth, or the organiser) leaves the gallery.
        gone = taken["alpha"][1]
        subprocess.run(["rclone", "purge", f"event:party/{BOOTHS_DIR}/alpha/{gone}"], env=env, check=True)
        wait_until(lambda: (p := _try(api_photos, port)) and len(p) == len(all_ids) - 1,
                   timeout=60, what="the gallery dropping the removed photo")
        assert gone not in {p["id"] for p in api_photos(port)}

        # The share page, served by a plain static server, opens in Chromium.
        shown = taken["alpha"][0]
        record = json.loads((server.root / "party" / BOOTHS_DIR / "alpha" / shown / RECORD_NAME).read_text())
        static = subprocess.Popen([sys.executable, "-m", "http.server", str(share_port), "--bind", "127.0.0.1",
                                   "--directory", str(server.root / "party" / SHARE_DIR)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _try(urllib.request.urlopen, f"http://127.0.0.1:{share_port}/", timeout=2),
                       timeout=15, what="the static server")
            context = browser.new_context()
            page = context.new_page()
            page.goto(public.format(port=share_port) + f"/{record['owner_key']}/")
            page.wait_for_function("document.querySelector('.frame-anime img').naturalWidth > 0")
            assert page.title().startswith("Your anime portrait")
            width = page.evaluate("document.querySelector('.frame-anime img').naturalWidth")
            assert width == 640  # the QuickPipeline's portrait, 800 x 640
            page.screenshot(path=str(tmp_path / "share.png"))
            context.close()
        finally:
            static.terminate()
            static.wait(10)
    finally:
        if gallery is not None:
            gallery.terminate()
            gallery.wait(15)
        for booth in booths.values():
            booth.close()
        server.stop()


def _try(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except OSError:
        return None
