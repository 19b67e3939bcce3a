"""Privacy: retention on a clock NTP cannot jump, the guest's own delete (and the
organiser's, and retention's) leaving no file of the photo, consent asked at the kiosk,
the privacy page from the config, and the PIN's throttle for everybody together.

Time is stepped, never slept: the retention clock takes injected monotonic and wall
clocks. The print side is a real private cupsd (tests/cupsd.py) with a stopped queue,
so jobs wait there to be cancelled.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from booth import config
from booth.daemon.booth import Booth
from booth.daemon.retention import HOUR_S, RetentionClock, RetentionWorker
from booth.daemon.store import KINDS, PhotoStore
from booth.devices.camera import CameraSupervisor, backend_factory
from booth.errors import ConfigError
from booth.web import create_app

from boothkit import QuickPipeline, settings_for, wait_for_state
from cupsd import PrivateCups
from test_button import factory  # noqa: F401  (gpiozero's mock pins, a fixture)
from test_printing import cups  # noqa: F401  (a private cupsd, a fixture)

PHONE = {"REMOTE_ADDR": "192.168.4.23"}
KIOSK = {"REMOTE_ADDR": "127.0.0.1"}


class SteppedTime:
    """A monotonic and a wall clock the test moves by hand (the wall clock starts now)."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = time.time()

    def step(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds

    def store(self, root: Path) -> PhotoStore:
        """A photo store whose retention clock reads these clocks."""
        return PhotoStore(root, storage(), monotonic=lambda: self.mono, wall=lambda: self.wall)


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
    store = t.store(root)
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
        assert sorted(p.name for p in root.iterdir()) == ["index.sqlite3", "index.sqlite3-shm",
                                                         "index.sqlite3-wal"]
    finally:
        store.close()


def test_the_retention_clock_counts_time_off_as_the_wall_clock_says_and_never_backwards(tmp_path):
    t = SteppedTime()
    kept: list[tuple[float, float]] = []

    def clock() -> RetentionClock:  # one start of the booth, from the last reading kept
        return RetentionClock(kept[-1] if kept else None, lambda *reading: kept.append(reading),
                              monotonic=lambda: t.mono, wall=lambda: t.wall)

    running = clock()
    t.step(100)
    running.save()
    # Off for an hour, with the right time at the next start: the hour counts.
    t.mono, t.wall = 5.0, t.wall + HOUR_S
    assert clock().now() == pytest.approx(100 + HOUR_S)
    # A Pi without a battery clock starts at its last saved time (here even earlier):
    # the time off counts as nothing, and NTP's jump while it runs counts as nothing.
    t.mono, t.wall = 7.0, t.wall - 2 * HOUR_S
    running = clock()
    before = running.now()
    assert before == pytest.approx(100 + HOUR_S)
    t.wall += 10 * 24 * HOUR_S
    t.mono += 60
    assert running.now() == pytest.approx(before + 60)
    running.save()
    # ...and the next start goes on from there (the jump is in the saved wall reading).
    t.mono = 3.0
    assert clock().now() == pytest.approx(before + 60)
    # The store keeps the reading in its index: a restart of the store goes on too.
    root = tmp_path / "photos"
    store = t.store(root)
    t.step(50)
    store.close()  # the close keeps the reading
    t.mono = 1.0
    store = t.store(root)
    assert store.clock.now() == pytest.approx(50)
    store.close()


def test_photos_from_before_the_retention_clock_are_aged_by_their_date(tmp_path):
    root = tmp_path / "photos"
    import sqlite3

    store = PhotoStore(root, storage())
    old = store.save(*frames(), {}).id
    store.close()
    with sqlite3.connect(root / "index.sqlite3") as db:  # as an older booth left it: three days old, no clock date
        db.execute("UPDATE photos SET born = NULL, created = ? WHERE id = ?", (time.time() - 72 * HOUR_S, old))
    db.close()
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
    refusals = [
        ("[storage]\nretention_days = 3\n[privacy]\nkeep_results_hours = 5\n",
         r"config.toml:2: \[storage\] retention_days moved to \[privacy\]"),
        ("[storage]\nretention_days = -1\n", r"\[storage\] retention_days: expected a whole number"),
        ("[privacy]\nkeep_originals_hours = 0\nkeep_results_hours = 24\n",
         r"config.toml:2: \[privacy\] keep_originals_hours must be 1..keep_results_hours"),
        ('[privacy]\nconsent = "maybe"\n', r'\[privacy\] consent must be "none", "notice" or "ask"'),
    ]
    for text, message in refusals:
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            config.load(path)


# --- deleting a photo everywhere ----------------------------------------------------------
@pytest.fixture(scope="module")
def stopped_cups(cups):
    cups.run("cupsdisable", cups.queue)  # jobs stay held: there is something to cancel
    yield cups
    cups.run("cancel", "-a", cups.queue, check=False)
    cups.run("cupsenable", cups.queue)


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
    store = PhotoStore(root, settings.storage, monotonic=lambda: t.mono, wall=lambda: t.wall)
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera)
    booth = Booth(settings, camera=camera, pipeline=QuickPipeline(size=(400, 320)), store=store)
    booth.retention.pass_s = 3600.0  # the test runs the passes itself
    booth.start()
    client = create_app(booth).test_client()
    try:
        with booth.events.subscribe() as sub:
            assert booth.trigger("test")
            photo_id = wait_for_state(sub, "result").data["photo_id"]
        t.step(120)
        kept = store.save(*frames(), {}).id  # another guest's photo, two minutes younger
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
            if who == "guest":
                page = client.get(f"/p/{photo_id}?k={key}", environ_base=PHONE).get_data(as_text=True)
                assert "Delete my photo" in page
                confirm = client.get(f"/p/{photo_id}/delete?k={key}", environ_base=PHONE)
                assert confirm.status_code == 200 and "Delete your photo for good?" in confirm.get_data(as_text=True)
                csrf = re.search(r'name="csrf" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)
                done = client.post(f"/p/{photo_id}/delete", data={"csrf": csrf, "k": key}, environ_base=PHONE)
                assert done.status_code == 200 and "Your photo is deleted" in done.get_data(as_text=True)
            elif who == "organiser":
                page = client.get(f"/admin/delete/{photo_id}", environ_base=KIOSK).get_data(as_text=True)
                csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
                assert client.post(f"/admin/delete/{photo_id}", data={"csrf": csrf},
                                   environ_base=KIOSK).status_code == 302
            else:
                t.step(2 * HOUR_S - 120 + 1)  # the photo is due; the other one is not yet
                assert booth.retention.run_pass() == {"originals": 1, "photos": 1}
            # Gone everywhere by the time the delete answers: the kiosk was told before
            # (the event is already waiting for it), not some time later.
            kinds = []
            while (event := sub.get(timeout=0)) is not None:
                kinds.append((event.kind, event.data))
            assert ("deleted", {"photo_id": photo_id}) in kinds, kinds
            # The result screen leaves it at the main loop's next turn.
            if ("state", {"state": "idle"}) not in kinds:
                assert wait_for_state(sub, "idle", timeout=5.0)

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


# --- consent at the kiosk -----------------------------------------------------------------
def _asking_booth(tmp_path: Path, photos: Path, **button):
    """A real booth (folder camera, a quick pipeline) that asks for consent, and its
    button on mock pins, wired as `booth run` wires it."""
    from booth.devices.button import BoothButton

    settings = settings_for(tmp_path, photos / "faces", countdown_s=1)
    settings = settings.replace("privacy", consent="ask", ask_timeout_s=2.0)
    settings = settings.replace("button", bounce_time=0.0, **button)
    pipeline = QuickPipeline()
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera)
    booth = Booth(settings, camera=camera, pipeline=pipeline).start()
    booth.attach_button(BoothButton(settings.button, on_press=lambda: booth.trigger("button"),
                                    on_hold=booth.cancel, on_pi=False, on_style=booth.next_style,
                                    on_decline=booth.decline))
    return booth, pipeline, camera


def _states_until(sub, final: str, timeout: float) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = sub.get(timeout=max(0.0, deadline - time.monotonic()))
        if event is not None and event.kind == "state":
            seen.append(event.data["state"])
            if event.data["state"] == final:
                return seen
    raise AssertionError(f"no {final} within {timeout} s; saw {seen}")


@pytest.mark.parametrize("button", [{"long_press_s": 0.3},                      # style by long press
                                    {"style_pin": 27, "hold_to_cancel_s": 0.3}])  # a style button
def test_consent_ask_a_hold_is_no_and_takes_no_picture_a_press_is_yes(button, factory, photos, tmp_path):
    booth, pipeline, camera = _asking_booth(tmp_path, photos, **button)
    pin = factory.pin(17)
    try:
        with booth.events.subscribe() as sub:
            pin.drive_low()
            time.sleep(0.05)
            pin.drive_high()  # a press: the kiosk asks
            assert wait_for_state(sub, "consent", timeout=3).data["until"] > time.time()
            pin.drive_low()   # held: no
            seen = _states_until(sub, "idle", timeout=1.5)
            pin.drive_high()
        assert seen == ["idle"] and booth.state == "idle"
        assert booth.events.latest("state").data == {"state": "idle", "declined": "no"}
        time.sleep(0.3)  # the release after the hold is no press
        assert booth.state == "idle" and pipeline.calls == 0 and booth.store.count() == 0
        assert booth.style == booth.settings.styles.default  # the hold did not change the style
        with booth.events.subscribe() as sub:
            for _ in range(2):  # the question, then yes
                pin.drive_low()
                time.sleep(0.05)
                pin.drive_high()
                wait_for_state(sub, "consent", "countdown", timeout=3)
            seen = _states_until(sub, "result", timeout=15)
        assert seen == ["capture", "process", "result"]
        assert pipeline.calls == 1 and booth.store.count() == 1
    finally:
        booth.stop()
        booth.button.close()
        camera.close()


def test_consent_ask_no_answer_is_no(factory, photos, tmp_path):
    booth, pipeline, camera = _asking_booth(tmp_path, photos)
    try:
        with booth.events.subscribe() as sub:
            assert booth.trigger("button")
            wait_for_state(sub, "consent", timeout=3)
            started = time.monotonic()
            seen = _states_until(sub, "idle", timeout=5)
        assert seen == ["idle"] and time.monotonic() - started >= 1.5
        assert pipeline.calls == 0 and booth.store.count() == 0
        assert booth.decline() is False  # nothing is asked any more
    finally:
        booth.stop()
        booth.button.close()
        camera.close()


def test_the_upload_page_asks_before_sending(photos, tmp_path):
    from webbooth import scripted_booth

    booth = scripted_booth(tmp_path, photos / "faces" / "18f_edwin_torres.jpg")
    booth.settings = booth.settings.replace("upload", enabled=True).replace("privacy", consent="ask")
    try:
        client = create_app(booth).test_client()
        page = client.get("/upload", environ_base=PHONE).get_data(as_text=True)
        assert 'id="consent"' in page and "privacy page" in page
        data = (photos / "faces" / "18f_edwin_torres.jpg").read_bytes()
        import io

        refused = client.post("/upload", data={"photo": (io.BytesIO(data), "me.jpg")},
                              headers={"Accept": "application/json"}, environ_base=PHONE)
        assert refused.status_code == 400 and "Tick the box" in refused.json["error"]
        # With consent it goes through to the booth (the scripted one takes no uploads).
        sent = client.post("/upload", data={"photo": (io.BytesIO(data), "me.jpg"), "consent": "yes"},
                           headers={"Accept": "application/json"}, environ_base=PHONE)
        assert "Tick the box" not in sent.get_data(as_text=True)
    finally:
        booth.close()


# --- power cuts during a retention pass and a wipe ----------------------------------------
RETENTION_PASS = """
import sys
from booth import config
from booth.daemon.retention import RetentionClock, RetentionWorker
from booth.daemon.store import PhotoStore
from pathlib import Path
root = Path(sys.argv[1])
settings = config.defaults().replace("storage", min_free_mb=0)
settings = settings.replace("privacy", keep_originals_hours=1, keep_results_hours=2)
store = PhotoStore(root, settings.storage)
worker = RetentionWorker(store, settings.privacy, lambda photo_id, why: store.delete(photo_id))
print("ready", flush=True)
print(worker.run_pass(), flush=True)
"""


def _store_with_due_photos(root: Path, count: int) -> tuple[list[str], list[str]]:
    """``count`` photos two days old on the retention clock and ``count`` 90 minutes old:
    (ids due whole, ids whose original is due, with keep 1 h / 2 h). The next opening of
    the store, with the real clocks, goes on from the stepped reading it keeps."""
    t = SteppedTime()
    store = t.store(root)
    old = [store.save(*frames(i), {}).id for i in range(count)]
    t.step(48 * HOUR_S - 5400)
    young = [store.save(*frames(100 + i), {}).id for i in range(count)]
    t.step(5400)
    store.close()
    return old, young


def test_a_power_cut_during_a_retention_pass_leaves_photos_whole_and_the_next_start_finishes(tmp_path):
    from killkit import check_consistent, sigkill_while_writing

    for round_number, delay in enumerate((0.02, 0.1, 0.3)):
        root = tmp_path / f"photos{round_number}"
        old, young = _store_with_due_photos(root, 25)
        next(sigkill_while_writing(RETENTION_PASS, str(root), delays=[delay]))
        left = check_consistent(root)  # the repair a start does: every photo complete or absent
        store = PhotoStore(root, storage())
        try:
            assert left == store.count() and set(store.ids()) >= set(young)
            worker = RetentionWorker(store, privacy(keep_originals_hours=1, keep_results_hours=2),
                                     lambda photo_id, why: store.delete(photo_id))
            worker.run_pass()  # the next start's pass finishes the job
            assert set(store.ids()) == set(young)
            assert all(files_of(root, i) == {"anime.jpg", "thumb.jpg"} for i in young)
            assert {p.name for p in root.iterdir() if p.is_dir()} == set(young)
        finally:
            store.close()


def test_export_then_wipe_reads_every_file_back_before_deleting(tmp_path):
    import subprocess
    import sys
    import zipfile

    data = tmp_path / "data"
    old, young = _store_with_due_photos(data / "photos", 3)
    out = tmp_path / "event.zip"
    run = [sys.executable, "-m", "booth", "export", "--out", str(out), "--data-dir", str(data)]
    kept = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert kept.returncode == 0, kept.stderr
    assert "6 photos, 18 files, every one read back and checked" in kept.stdout
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert set(manifest["photos"]) == set(old + young)
    assert PhotoStore(data / "photos", storage()).count() == 6
    # A second booth on the folder: refused in one line.
    from booth.files import DataLock

    with DataLock(data):
        busy = subprocess.run(run + ["--wipe"], capture_output=True, text=True, timeout=120)
    assert busy.returncode == 2 and "in use by a running booth" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1
    wiped = subprocess.run(run + ["--wipe"], capture_output=True, text=True, timeout=120)
    assert wiped.returncode == 0 and "wiped: 6 photos deleted; the booth is empty" in wiped.stdout
    assert {p.name for p in (data / "photos").iterdir() if p.is_dir()} == set()
    bad = subprocess.run(run[:-4] + ["--out", str(tmp_path / "x.tar"), "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "must end in .zip" in bad.stderr


EXPORT_WIPE = """
import sys
from booth.cli import main
print("ready", flush=True)
sys.exit(main(["export", "--out", sys.argv[2], "--data-dir", sys.argv[1], "--wipe"]))
"""


def test_a_power_cut_during_export_wipe_never_wipes_before_a_verified_export(tmp_path):
    import subprocess
    import sys
    import zipfile

    from killkit import check_consistent, sigkill_while_writing

    for round_number, delay in enumerate((0.2, 0.35, 0.5, 0.65, 0.9, 1.6)):
        data = tmp_path / f"data{round_number}"
        old, young = _store_with_due_photos(data / "photos", 15)
        out = tmp_path / f"event{round_number}.zip"
        next(sigkill_while_writing(EXPORT_WIPE, str(data), str(out), delays=[delay]))
        left = check_consistent(data / "photos")
        # On a quiet machine the whole job may end before the kill: nothing left, no plan.
        finished = left == 0 and not (data / "export-plan.json").is_file()
        if left < 30:  # the wipe began: only after the archive was written and read back
            assert (data / "export-plan.json").is_file() or finished
            with zipfile.ZipFile(out) as archive:
                assert archive.testzip() is None and len(archive.namelist()) == 30 * 3 + 1
        said = "the export had finished before the kill"
        if not finished:
            again = subprocess.run([sys.executable, "-m", "booth", "export", "--out", str(out), "--data-dir",
                                    str(data), "--wipe"], capture_output=True, text=True, timeout=120)
            assert again.returncode == 0, again.stderr
            said = again.stdout.strip()
        assert check_consistent(data / "photos") == 0
        assert not list(data.rglob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
        with zipfile.ZipFile(out) as archive:
            assert archive.testzip() is None and len(archive.namelist()) == 91
            assert set(json.loads(archive.read("manifest.json"))["photos"]) == set(old + young)
        print(f"round {round_number}: killed after {delay} s with {left} photos left; the rerun said "
              f"{said!r}")


# --- the guest's delete from a phone on the Wi-Fi ----------------------------------------
NETNS_PORT = 8093


@pytest.fixture
def booth_in_netns(tmp_path, photos):
    import netns

    with netns.scripted_booth_served(tmp_path, NETNS_PORT, photos / "faces" / "18f_edwin_torres.jpg",
                                     "s3cret-admin", guests=30) as (process, photo_id, key):
        yield process.pid, photo_id, key, tmp_path / "data"


def _phone_request(pid: int, source: str, method: str, path: str, *headers: str, body: str = ""):
    """(status, headers and body as text) of one request from ``source`` in the namespace."""
    import netns

    host = f"{netns.BOOTH_ADDRESS}:{NETNS_PORT}"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close", *headers]
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    with netns.connect(pid, source, NETNS_PORT, timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
        data, _ = netns.read_response(sock)
    text = data.decode("utf-8", "replace")
    return int(re.match(r"HTTP/1\.[01] (\d{3})", text).group(1)), text


def test_a_phone_deletes_its_photo_with_its_key_and_only_with_it(booth_in_netns):
    from urllib.parse import quote

    from netns import guest

    pid, photo_id, key, data_dir = booth_in_netns
    stranger, owner = guest(7), guest(23)
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (data_dir / "photos" / photo_id).iterdir()}
    # Without the key: no delete offered, the confirmation and the delete refused.
    assert "Delete my photo" not in _phone_request(pid, stranger, "GET", f"/p/{photo_id}")[1]
    assert _phone_request(pid, stranger, "GET", f"/p/{photo_id}/delete")[0] == 403
    status, page = _phone_request(pid, stranger, "GET", f"/p/{photo_id}/delete?k={key}")
    cookie = re.search(r"Set-Cookie: (session=[^;]+)", page).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    wrong = _phone_request(pid, stranger, "POST", f"/p/{photo_id}/delete", f"Cookie: {cookie}",
                           body=f"csrf={quote(csrf)}&k={'A' * len(key)}")
    assert wrong[0] == 403 and (data_dir / "photos" / photo_id).is_dir()
    # Another site cannot make the owner's phone delete it.
    forged = _phone_request(pid, owner, "POST", f"/p/{photo_id}/delete", "Origin: http://evil.example",
                            f"Cookie: {cookie}", body=f"csrf={quote(csrf)}&k={key}")
    assert forged[0] == 403 and (data_dir / "photos" / photo_id).is_dir()
    # The owner, from the page its QR code opens.
    page = _phone_request(pid, owner, "GET", f"/p/{photo_id}?k={key}")[1]
    assert f'href="/p/{photo_id}/delete?k={key}"' in page and "Delete my photo" in page
    status, page = _phone_request(pid, owner, "GET", f"/p/{photo_id}/delete?k={key}")
    cookie = re.search(r"Set-Cookie: (session=[^;]+)", page).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, done = _phone_request(pid, owner, "POST", f"/p/{photo_id}/delete", f"Cookie: {cookie}",
                                  body=f"csrf={quote(csrf)}&k={key}")
    assert status == 200 and "Your photo is deleted" in done
    for path in (f"/p/{photo_id}?k={key}", f"/p/{photo_id}/anime.jpg", f"/p/{photo_id}/thumb.jpg?k={key}"):
        assert _phone_request(pid, stranger, "GET", path)[0] == 404
    assert photo_id not in _phone_request(pid, stranger, "GET", "/api/photos")[1]
    assert traces(data_dir, photo_id, [photo_id.encode(), key.encode()], digests) == []


def test_a_press_during_a_long_retention_pass_is_served_before_the_pass_ends(photos, tmp_path):
    """The pass runs on its own thread: the main loop (and its watchdog pings) never waits for it."""
    settings = settings_for(tmp_path, photos / "faces")
    settings = settings.replace("privacy", keep_originals_hours=1, keep_results_hours=2)
    root = settings.data_dir / "photos"
    old, _ = _store_with_due_photos(root, 20)
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera)
    booth = Booth(settings, camera=camera, pipeline=QuickPipeline())
    deleting = booth.retention.delete

    def slow_delete(photo_id: str, why: str) -> bool:  # an SD card at its slowest: 0.2 s a photo
        time.sleep(0.2)
        return deleting(photo_id, why)

    booth.retention.delete = slow_delete
    try:
        with booth.events.subscribe() as sub:
            booth.start()
            _wait(lambda: booth.store.count() < 40, what="the pass at start")
            assert booth.trigger("test")
            photo_id = wait_for_state(sub, "result", timeout=10).data["photo_id"]
        left = set(booth.store.ids())
        assert photo_id in left and set(old) & left, "the pass was over before the photo"
        _wait(lambda: not set(old) & set(booth.store.ids()), timeout=30, what="the pass to finish")
    finally:
        booth.stop()
        camera.close()
