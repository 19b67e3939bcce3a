"""Privacy: retention on a clock NTP cannot jump, the guest's own delete (and the
organiser's, and retention's) leaving no file of the photo, consent asked at the kiosk,
the privacy page from the config, and the PIN's throttle for everybody together.

Time is stepped, never slept: the retention clock takes injected monotonic and wall
clocks. The print side is a real private cupsd (tests/cupsd.py) with a stopped queue,
so jobs wait there to be cancelled.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from booth import config
from booth.daemon.machine import Booth
from booth.daemon.retention import HOUR_S, RetentionClock, RetentionWorker
from booth.daemon.store import KINDS, PhotoStore
from booth.devices.camera import CameraSupervisor, backend_factory
from booth.errors import ConfigError
from booth.web import create_app

from boothkit import QuickPipeline, settings_for, wait_for_state
from cupsd import PrivateCups, unavailable_reason

PHONE = {"REMOTE_ADDR": "192.168.4.23"}
KIOSK = {"REMOTE_ADDR": "127.0.0.1"}


class SteppedTime:
    """A monotonic and a wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = 1_800_000_000.0

    def step(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds

    def clock(self, path: Path) -> RetentionClock:
        return RetentionClock(path, monotonic=lambda: self.mono, wall=lambda: self.wall)


def frames(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (240, 320, 3), np.uint8), rng.integers(0, 256, (200, 160, 3), np.uint8)


def storage():
    return config.defaults().replace("storage", min_free_mb=0).storage


def privacy(**keys):
    return config.defaults().replace("privacy", **keys).privacy


def files_of(root: Path, photo_id: str) -> set[str]:
    folder = root / photo_id
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


# --- retention ----------------------------------------------------------------------------
def test_retention_deletes_exactly_what_is_due_and_a_clock_jump_deletes_nothing_early(tmp_path):
    t = SteppedTime()
    root = tmp_path / "photos"
    store = PhotoStore(root, storage(), clock=t.clock(root / "clock.json"))
    worker = RetentionWorker(store, privacy(keep_originals_hours=2, keep_results_hours=5),
                             lambda photo_id, why: store.delete(photo_id))
    try:
        first = store.save(*frames(0), {}).id
        t.step(3 * HOUR_S)
        second = store.save(*frames(1), {}).id
        third = store.save(*frames(2), {}).id
        store.save_variant(first, "shinkai", frames(3)[1])
        t.step(2 * HOUR_S - 1)  # first: 5 h less a second old; second: 2 h less a second
        assert worker.run_pass() == {"originals": 1, "photos": 0}
        assert files_of(root, first) == {"anime.jpg", "thumb.jpg", "variant-shinkai.jpg"}
        assert store.file_path(first, "original") is None and store.get(first).original_kept is False
        assert files_of(root, second) == {f"{k}.jpg" for k in KINDS}
        t.step(2)
        assert worker.run_pass() == {"originals": 2, "photos": 1}  # second and third: 2 h old
        assert store.get(first) is None and not (root / first).exists()
        assert store.variants(first) == []
        assert files_of(root, second) == files_of(root, third) == {"anime.jpg", "thumb.jpg"}
        # NTP reaches the booth: the wall clock jumps 30 days. Nothing is due any earlier.
        t.wall += 30 * 24 * HOUR_S
        assert worker.run_pass() == {"originals": 0, "photos": 0}
        assert store.count() == 2
        t.step(3 * HOUR_S - 2)
        assert worker.run_pass()["photos"] == 0
        t.step(2)
        assert worker.run_pass()["photos"] == 2 and store.count() == 0
        assert sorted(p.name for p in root.iterdir()) == ["clock.json", "index.sqlite3",
                                                         "index.sqlite3-shm", "index.sqlite3-wal"]
    finally:
        store.close()


def test_the_retention_clock_counts_time_off_as_the_wall_clock_says_and_never_backwards(tmp_path):
    t = SteppedTime()
    path = tmp_path / "clock.json"
    clock = t.clock(path)
    t.step(100)
    clock.save()
    # Off for an hour, with the right time at the next start: the hour counts.
    t.mono, t.wall = 5.0, t.wall + HOUR_S
    assert t.clock(path).now() == pytest.approx(100 + HOUR_S)
    # A Pi without a battery clock starts at its last saved time (here even earlier):
    # the time off counts as nothing, and NTP's jump while it runs counts as nothing.
    t.mono, t.wall = 7.0, t.wall - 2 * HOUR_S
    clock = t.clock(path)
    before = clock.now()
    assert before == pytest.approx(100 + HOUR_S)
    t.wall += 10 * 24 * HOUR_S
    t.mono += 60
    assert clock.now() == pytest.approx(before + 60)
    clock.save()
    # ...and the next start goes on from there (the jump is in the saved wall reading).
    t.mono = 3.0
    assert t.clock(path).now() == pytest.approx(before + 60)


def test_photos_from_before_the_retention_clock_are_aged_by_their_date(tmp_path):
    root = tmp_path / "photos"
    store = PhotoStore(root, storage())
    old = store.save(*frames(), {}).id
    with store._lock:  # a row written by an older booth: created three days ago, no clock date
        store._db.execute("UPDATE photos SET born = NULL, created = ? WHERE id = ?",
                          (time.time() - 72 * HOUR_S, old))
    store.close()
    store = PhotoStore(root, storage())
    try:
        worker = RetentionWorker(store, privacy(keep_originals_hours=24, keep_results_hours=48),
                                 lambda photo_id, why: store.delete(photo_id))
        assert worker.run_pass() == {"originals": 0, "photos": 1}
    finally:
        store.close()


def test_retention_keys_and_the_older_retention_days(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[storage]\nretention_days = 3\n")
    assert (config.load(path).privacy.keep_originals_hours, config.load(path).privacy.keep_results_hours) == (72, 72)
    path.write_text("[storage]\nretention_days = 3\n[privacy]\nkeep_results_hours = 5\n")
    with pytest.raises(ConfigError, match=r"config.toml:2: \[storage\] retention_days moved to \[privacy\]"):
        config.load(path)
    path.write_text("[storage]\nretention_days = -1\n")
    with pytest.raises(ConfigError, match=r"\[storage\] retention_days: expected a whole number"):
        config.load(path)
    path.write_text("[privacy]\nkeep_originals_hours = 0\nkeep_results_hours = 24\n")
    with pytest.raises(ConfigError, match=r"config.toml:2: \[privacy\] keep_originals_hours must be 1..keep_results_hours"):
        config.load(path)
    path.write_text('[privacy]\nconsent = "maybe"\n')
    with pytest.raises(ConfigError, match=r'\[privacy\] consent must be "none", "notice" or "ask"'):
        config.load(path)


# --- deleting a photo everywhere ----------------------------------------------------------
@pytest.fixture(scope="module")
def stopped_cups():
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no private cupsd: {reason}")
    with PrivateCups() as server:
        old = os.environ.get("CUPS_SERVER")
        os.environ["CUPS_SERVER"] = str(server.socket)
        server.run("cupsdisable", server.queue)  # jobs stay held: there is something to cancel
        try:
            yield server
        finally:
            server.run("cancel", "-a", server.queue, check=False)
            if old is None:
                os.environ.pop("CUPS_SERVER", None)
            else:
                os.environ["CUPS_SERVER"] = old


def _cups_waiting(cups: PrivateCups) -> set[str]:
    out = cups.run("lpstat", "-W", "not-completed", "-o", cups.queue).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def traces(data_dir: Path, photo_id: str, secrets: list[bytes], digests: set[str]) -> list[str]:
    """Every file under ``data_dir`` that is, names or holds something of the photo."""
    found = []
    for path in data_dir.rglob("*"):
        if photo_id in str(path):
            found.append(f"{path}: named after it")
            continue
        if not path.is_file():
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() in digests:
            found.append(f"{path}: a copy of one of its files")
        for secret in secrets:
            if secret in data:
                found.append(f"{path}: holds {secret[:8]!r}")
    return found


def _wait(predicate, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("who", ["guest", "organiser", "retention"])
def test_a_deleted_photo_is_gone_everywhere_within_a_second(who, stopped_cups, photos, tmp_path):
    cups = stopped_cups
    t = SteppedTime()
    settings = settings_for(tmp_path, photos / "faces", show_result_s=30.0)
    settings = settings.replace("web", base_url="http://10.42.0.1:8080")
    settings = settings.replace("print", enabled=True, printer=cups.queue, mode="admin")
    settings = settings.replace("privacy", consent="notice", keep_originals_hours=1, keep_results_hours=2)
    root = settings.data_dir / "photos"
    store = PhotoStore(root, settings.storage, clock=t.clock(root / "clock.json"))
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera)
    booth = Booth(settings, camera=camera, pipeline=QuickPipeline(size=(400, 320)), store=store)
    booth.retention.pass_s = 3600.0  # the test runs the passes itself
    booth.start()
    client = create_app(booth).test_client()
    try:
        with booth.events.subscribe() as sub:
            assert booth.trigger("test")
            photo_id = wait_for_state(sub, "result").data["photo_id"]
        kept = store.save(*frames(), {}).id  # another guest's photo, not due: untouched
        store.save_variant(photo_id, "shinkai", frames(1)[1])
        job = booth.prints.request(photo_id, "admin")
        _wait(lambda: booth.prints.jobs[job.id].state == "held", what="the print job held in CUPS")
        cups_id = booth.prints.jobs[job.id].cups_id
        assert cups_id in _cups_waiting(cups) and (settings.data_dir / "prints" / f"{job.id}.pdf").is_file()
        key = store.get(photo_id).owner_key
        digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / photo_id).iterdir()}
        assert len(digests) == 4
        before = sorted(str(p.relative_to(settings.data_dir)) for p in settings.data_dir.rglob("*") if p.is_file())
        print("data folder before:", *before, sep="\n  ")

        with booth.events.subscribe() as sub:
            started = time.monotonic()
            if who == "guest":
                page = client.get(f"/p/{photo_id}?k={key}", environ_base=PHONE).get_data(as_text=True)
                assert "Delete my photo" in page
                confirm = client.get(f"/p/{photo_id}/delete?k={key}", environ_base=PHONE)
                assert confirm.status_code == 200 and "Delete your photo for good?" in confirm.get_data(as_text=True)
                csrf = re.search(r'name="csrf" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)
                started = time.monotonic()
                done = client.post(f"/p/{photo_id}/delete", data={"csrf": csrf, "k": key}, environ_base=PHONE)
                assert done.status_code == 200 and "Your photo is deleted" in done.get_data(as_text=True)
            elif who == "organiser":
                page = client.get(f"/admin/delete/{photo_id}", environ_base=KIOSK).get_data(as_text=True)
                csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
                started = time.monotonic()
                assert client.post(f"/admin/delete/{photo_id}", data={"csrf": csrf},
                                   environ_base=KIOSK).status_code == 302
            else:
                t.step(2 * HOUR_S + 1)  # the photo is due; the other one is two minutes younger
                with store._lock:
                    store._db.execute("UPDATE photos SET born = born + 120 WHERE id = ?", (kept,))
                started = time.monotonic()
                assert booth.retention.run_pass() == {"originals": 1, "photos": 1}
            event = sub.get(timeout=1.0)
            while event is not None and event.kind != "deleted":
                event = sub.get(timeout=max(0.0, 1.0 - (time.monotonic() - started)))
            assert event is not None and event.data == {"photo_id": photo_id}, "no deleted event within 1 s"
            assert time.monotonic() - started < 1.0
            # The kiosk's result screen leaves it at once.
            assert wait_for_state(sub, "idle", timeout=1.0)

        assert store.get(photo_id) is None and store.get(kept) is not None
        listing = client.get("/api/photos", environ_base=KIOSK).json
        assert [p["id"] for p in listing["photos"]] == [kept]
        assert photo_id not in client.get("/", environ_base=PHONE).get_data(as_text=True)
        for path in (f"/p/{photo_id}", f"/p/{photo_id}?k={key}"):
            gone = client.get(path, environ_base=PHONE)
            assert gone.status_code == 404 and "This photo is not here any more" in gone.get_data(as_text=True)
        for name in ("anime.jpg", "original.jpg", "thumb.jpg", "qr.svg", "qr.png", "delete"):
            assert client.get(f"/p/{photo_id}/{name}?k={key}", environ_base=KIOSK).status_code == 404
        # Its print: cancelled in CUPS, its page deleted, its id out of the job list.
        assert booth.prints.jobs[job.id].state == "canceled"
        _wait(lambda: cups_id not in _cups_waiting(cups), what="CUPS cancelling the job")
        assert booth.health()["last_cycle"]["photo_id"] is None
        after = sorted(str(p.relative_to(settings.data_dir)) for p in settings.data_dir.rglob("*") if p.is_file())
        print("data folder after:", *after, sep="\n  ")
        assert traces(settings.data_dir, photo_id, [photo_id.encode(), key.encode()], digests) == []
        assert (root / kept).is_dir()
    finally:
        booth.stop()
        camera.close()
        store.close()


def test_the_guest_delete_needs_the_photos_own_link(photos, tmp_path):
    from webbooth import scripted_booth

    booth = scripted_booth(tmp_path, photos / "faces" / "18f_edwin_torres.jpg")
    try:
        photo_id = booth.add_photo()
        key = booth.store.get(photo_id).owner_key
        client = create_app(booth).test_client()
        assert "Delete my photo" not in client.get(f"/p/{photo_id}", environ_base=PHONE).get_data(as_text=True)
        assert client.get(f"/p/{photo_id}/delete", environ_base=PHONE).status_code == 403
        page = client.get(f"/p/{photo_id}/delete?k={key}", environ_base=PHONE).get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        for wrong in ("", "A" * len(key), key[:-1]):
            assert client.post(f"/p/{photo_id}/delete", data={"csrf": csrf, "k": wrong},
                               environ_base=PHONE).status_code == 403
        assert client.post(f"/p/{photo_id}/delete", data={"k": key}, environ_base=PHONE).status_code == 400
        assert booth.store.get(photo_id) is not None and (booth.store.root / photo_id).is_dir()
        assert client.post(f"/p/{photo_id}/delete", data={"csrf": csrf, "k": key},
                           environ_base=PHONE).status_code == 200
        assert booth.store.get(photo_id) is None and not (booth.store.root / photo_id).exists()
    finally:
        booth.close()


# --- the privacy page and the notice ------------------------------------------------------
def test_the_privacy_page_says_what_the_config_does(photos, tmp_path):
    from webbooth import scripted_booth

    booth = scripted_booth(tmp_path, photos / "faces" / "18f_edwin_torres.jpg", gallery_index="private")
    booth.settings = booth.settings.replace("privacy", consent="notice", keep_originals_hours=12,
                                            keep_results_hours=72, contact="Ana at the front desk")
    try:
        client = create_app(booth).test_client()
        text = client.get("/privacy", environ_base=PHONE).get_data(as_text=True)
        for fact in ("Originals (the unedited photo): deleted 12 hours after they were taken.",
                     "deleted 3 days after it was taken.", "There is no public gallery",
                     "The host (Ana at the front desk) can see and download every photo.",
                     "Delete my photo", "nothing is sent to the internet"):
            assert fact in text, fact
        photo_id = booth.add_photo()
        for page in ("/privacy", f"/p/{photo_id}", "/admin/login"):
            html = client.get(page, environ_base=PHONE).get_data(as_text=True)
            assert 'id="privacy-line"' in html and "deleted after 3 days" in html, page
        booth.settings = booth.settings.replace("privacy", consent="none")
        assert "privacy-line" not in client.get(f"/p/{photo_id}", environ_base=PHONE).get_data(as_text=True)
    finally:
        booth.close()


def test_wrong_pins_are_throttled_for_everybody_together():
    from booth.daemon.uploads import PIN_TRIES_PER_MINUTE, PIN_TRIES_TOTAL, UploadGate
    from booth.errors import UploadError

    class Owner:
        settings = config.defaults().replace("upload", enabled=True, pin="2468")

    now = [0.0]
    gate = UploadGate(Owner(), clock=lambda: now[0])
    codes = []
    for i in range(PIN_TRIES_TOTAL + 5):
        client = f"10.0.{i // (PIN_TRIES_PER_MINUTE - 1)}.1"  # each address stays under its own limit
        try:
            gate.check_pin(client, "0000")
        except UploadError as exc:
            codes.append(exc.status)
    assert codes.count(403) == PIN_TRIES_TOTAL and codes.count(429) == 5
    with pytest.raises(UploadError) as refused:
        gate.check_pin("10.9.9.9", "2468")  # even the right PIN waits: nobody guesses meanwhile
    assert refused.value.status == 429
    now[0] = 61.0
    gate.check_pin("10.9.9.9", "2468")
