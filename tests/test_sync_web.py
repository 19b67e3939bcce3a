"""What the sync changes in the web app and the tools: where the QR code leads, the share
link opened at the venue, and the sync's status on the admin page, /healthz, /metrics and
in ``booth doctor``, from a real sync worker and a real rclone remote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from booth.cli import doctor
from booth.cli.gallery import GalleryNode
from booth.daemon.store import PhotoStore
from booth.daemon.sync import Puller, Rclone, SyncWorker
from booth.web import create_app
from booth.web.api import prometheus_text
from rclonekit import RemoteServer, wait_until
from test_web_contract import broken_promises
from webbooth import ScriptedBooth, decode_qr, scripted_booth

PHONE = {"REMOTE_ADDR": "10.42.0.23"}
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
PUBLIC = "http://photos.example.org/share"

needs_rclone = pytest.mark.skipif(not Path("/usr/bin/rclone").exists(),
                                  reason="rclone is not installed (./install.sh --test installs it)")


@pytest.fixture
def make_booth(tmp_path, photos):
    made: list[ScriptedBooth] = []

    def make(**sync) -> ScriptedBooth:
        booth = scripted_booth(tmp_path / f"b{len(made)}", photos / "faces" / "18f_edwin_torres.jpg",
                               base_url="http://10.42.0.1:8080")
        booth.settings = booth.settings.replace("sync", **sync)
        made.append(booth)
        return booth

    yield make
    for booth in made:
        booth.close()


def qr_of(app, photo_id: str, owner_key: str) -> str:
    png = app.test_client().get(f"/p/{photo_id}/qr.png?k={owner_key}", environ_base=PHONE).data
    return decode_qr(png)


def test_the_qr_code_leads_to_the_booth_by_default_and_to_the_share_page_when_asked(make_booth):
    booth = make_booth(remote="event:party", public_url=PUBLIC)
    photo = booth.store.get(booth.add_photo())
    app = create_app(booth)
    assert qr_of(app, photo.id, photo.owner_key) == f"http://10.42.0.1:8080/p/{photo.id}?k={photo.owner_key}"
    # The owner's page shows the link that works at home.
    page = app.test_client().get(f"/p/{photo.id}?k={photo.owner_key}", environ_base=PHONE).text
    assert f'href="{PUBLIC}/{photo.owner_key}/"' in page
    # Anyone else (the gallery lists the id, never the key) does not get it.
    assert photo.owner_key not in app.test_client().get(f"/p/{photo.id}", environ_base=PHONE).text

    public = make_booth(remote="event:party", public_url=PUBLIC, qr="public")
    photo = public.store.get(public.add_photo())
    assert qr_of(create_app(public), photo.id, photo.owner_key) == f"{PUBLIC}/{photo.owner_key}/"


def test_a_share_link_opened_on_the_booths_network_leads_to_the_photo_on_the_booth(make_booth):
    booth = make_booth(remote="event:party", public_url=PUBLIC, qr="public")
    photo = booth.store.get(booth.add_photo())
    client = create_app(booth).test_client()
    # The hotspot's DNS answers photos.example.org with the booth's address.
    response = client.get(f"/share/{photo.owner_key}/", headers={"Host": "photos.example.org"},
                          environ_base=PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == f"http://10.42.0.1:8080/p/{photo.id}?k={photo.owner_key}"
    assert client.get(f"/share/{photo.id}/", headers={"Host": "photos.example.org"},
                      environ_base=PHONE).status_code == 404  # the id is no key
    # Any other foreign name is still refused.
    assert client.get(f"/share/{photo.owner_key}/", headers={"Host": "evil.example"},
                      environ_base=PHONE).status_code == 421


@needs_rclone
def test_the_sync_status_in_plain_words_everywhere(make_booth, tmp_path, monkeypatch):
    server = RemoteServer("webdav", tmp_path / "served")  # not started: the remote is away
    for key, value in server.env("event").items():
        monkeypatch.setenv(key, value)
    booth = make_booth(remote="event:party")
    booth.add_photo()
    worker = SyncWorker.from_settings(booth.settings, booth.store, retry_max_s=1.0)
    booth.store.listeners.append(worker)
    worker.start()
    try:
        status = wait_until(lambda: (s := worker.status())["last_error"] and s, what="the failure")
        booth.health_override = {"sync": status}
        app = create_app(booth)
        admin = app.test_client().get("/admin", environ_base=LOOPBACK).text
        assert "Not copying right now" in admin and "1 photo waiting for event:party" in admin
        health = app.test_client().get("/healthz", environ_base=LOOPBACK).json
        assert health["sync"]["queued"] == 1 and health["sync"]["last_error"]
        metrics = prometheus_text(booth.stats(), health)
        assert "booth_sync_queued_photos 1" in metrics and "booth_sync_ok 0" in metrics

        settings = booth.settings
        check = doctor.check_sync(settings)
        assert check.status == "WARN" and "does not answer" in check.message

        server.start()
        wait_until(lambda: worker.status()["queued"] == 0 and worker.status()["ok"], what="copied")
        booth.health_override = {"sync": worker.status()}
        admin = app.test_client().get("/admin", environ_base=LOOPBACK).text
        assert "Up to date" in admin and "every photo is on event:party" in admin
        metrics = prometheus_text(booth.stats(), booth.health())
        assert "booth_sync_queued_photos 0" in metrics and "booth_sync_ok 1" in metrics
    finally:
        worker.stop()
        server.stop()
    check = doctor.check_sync(settings)  # no booth running: read from the data dir
    assert check.status == "WARN"  # the remote is gone again
    server.start()
    try:
        check = doctor.check_sync(settings)
        assert check.status == "PASS" and "every photo is on event:party" in check.message
    finally:
        server.stop()


def test_the_doctor_says_when_rclone_is_missing(make_booth, monkeypatch):
    booth = make_booth(remote="event:party")
    monkeypatch.setenv("PATH", os.devnull)
    check = doctor.check_sync(booth.settings)
    assert check.status == "FAIL" and "rclone is not installed" in check.message


def test_the_gallery_node_keeps_the_web_contract(tmp_path, make_booth):
    settings = make_booth().settings.replace("upload", enabled=False)
    store = PhotoStore(tmp_path / "node", settings.storage)
    node = GalleryNode(settings, store, Puller(store, str(tmp_path / "remote"), Rclone(), tmp_path / "mirror"))
    try:
        assert broken_promises(node) == []
        assert not node.trigger() and node.health()["sync"]["ok"]
        client = create_app(node).test_client()
        assert client.get("/", environ_base=PHONE).status_code == 200
        assert client.get("/healthz", environ_base=LOOPBACK).json["sync"]["remote"] == str(tmp_path / "remote")
    finally:
        store.close()


@needs_rclone
def test_the_doctor_names_a_remote_rclone_does_not_know(make_booth):
    booth = make_booth(remote="nosuchremote:party")
    check = doctor.check_sync(booth.settings)
    assert check.status == "FAIL" and "no remote named 'nosuchremote'" in check.message
    assert "rclone config" in check.fix
