"""The web app's views against the real photo store and event bus.

The booth behind the app is :class:`webbooth.ScriptedBooth`: the real PhotoStore on
disk and the real EventBus, with a scripted cycle standing in for the camera and the
daemon loop. Requests come from the Flask test client with a chosen client address
(127.0.0.1 is the kiosk on the Pi, 192.168.x.x a guest's phone), and from real
sockets to waitress on 127.0.0.1 where streaming matters.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import time
import zipfile

import cv2
import numpy as np
import pytest

from booth import qr
from booth.web import create_app, serve
from booth.web.server import STREAMS_KEY
from webbooth import decode_qr, scripted_booth

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
PHONE = {"REMOTE_ADDR": "192.168.4.23"}
PASSWORD = "correct horse battery"


@pytest.fixture
def make_booth(tmp_path, face_photo):
    made = []

    def make(**web):
        booth = scripted_booth(tmp_path / f"b{len(made)}", face_photo, **web)
        made.append(booth)
        return booth

    yield make
    for booth in made:
        booth.close()


@pytest.fixture
def booth(make_booth):
    return make_booth(admin_password=PASSWORD, base_url="http://10.42.0.1:8080")


@pytest.fixture
def app(booth):
    return create_app(booth)


def get(app, url, who=PHONE, **kw):
    return app.test_client().get(url, environ_base=who, **kw)


# --- the gallery -----------------------------------------------------------------------
def test_gallery_lists_photos_newest_first_with_lazy_thumbnails_and_pages(app, booth):
    ids = [booth.add_photo() for _ in range(30)]
    page1 = get(app, "/").get_data(as_text=True)
    listed = re.findall(r'href="/p/([A-Za-z0-9_-]{22,})"', page1)
    assert listed == ids[::-1][:24]  # newest first, 24 per page
    assert page1.count('loading="lazy"') == 24 - 6  # the first screenful loads at once
    assert 'rel="next" href="/?page=2"' in page1 and "30 photos" in page1
    page2 = get(app, "/?page=2").get_data(as_text=True)
    assert re.findall(r'href="/p/([A-Za-z0-9_-]{22,})"', page2) == ids[::-1][24:]
    assert 'rel="prev"' in page2 and 'rel="next"' not in page2
    assert "No photos on this page" in get(app, "/?page=9").get_data(as_text=True)
    for bad in ("0", "abc", "-1", "99999999999"):
        assert get(app, f"/?page={bad}").status_code == 400


def test_every_image_has_alt_text_and_pages_carry_the_event_title_and_colours(make_booth):
    booth = make_booth()
    booth.settings = booth.settings.replace("booth", event_title="Mia & Leo's Wedding")
    booth.settings = booth.settings.replace("theme", accent_color="#12ab34", background_color="#010203")
    app = create_app(booth)
    photo_id = booth.add_photo()
    for url in ("/", f"/p/{photo_id}"):
        html = get(app, url).get_data(as_text=True)
        assert "Mia &amp; Leo&#39;s Wedding" in html
        images = re.findall(r"<img\b[^>]*>", html)
        assert images and all(re.search(r'alt="[^"]{5,}"', tag) for tag in images)
        assert 'href="/theme.css"' in html and "<style" not in html and " style=" not in html
    css = get(app, "/theme.css").get_data(as_text=True)
    assert "--accent:#12ab34" in css and "--bg:#010203" in css


@pytest.mark.parametrize("accent, background", [("#ff5c8a", "#17131f"), ("#8a5a00", "#ffffff"),
                                                ("#1a237e", "#fafafa"), ("#00c853", "#000000")])
def test_text_colours_keep_their_contrast_whatever_the_event_colours(make_booth, accent, background):
    from booth.config import contrast

    booth = make_booth()
    booth.settings = booth.settings.replace("theme", accent_color=accent, background_color=background)
    app = create_app(booth)
    css = get(app, "/theme.css").get_data(as_text=True)
    values = dict(re.findall(r"--([a-z-]+):(#[0-9a-fA-F]{6})", css))
    assert contrast(values["on-accent"], accent) >= 4.5  # button text (AA)
    assert contrast(values["ink"], background) >= 7  # body text (AAA)
    assert contrast(values["muted"], background) >= 4.5  # secondary text (AA)


def test_static_files_are_cached_for_an_hour_and_pages_never(app, booth):
    css = get(app, "/static/booth.css")
    assert css.mimetype == "text/css" and "max-age=3600" in css.headers["Cache-Control"]
    assert get(app, "/").headers["Cache-Control"] == "no-store"


def test_photo_page_has_both_images_downloads_and_share(app, booth):
    photo_id = booth.add_photo()
    key = booth.store.get(photo_id).owner_key
    html = get(app, f"/p/{photo_id}?k={key}").get_data(as_text=True)  # the photo's own QR link
    assert f'src="/p/{photo_id}/anime.jpg"' in html and f'src="/p/{photo_id}/original.jpg?k={key}"' in html
    assert f'href="/p/{photo_id}/anime.jpg?download=1" download' in html
    assert f'href="/p/{photo_id}/original.jpg?k={key}&amp;download=1" download' in html
    assert 'id="share"' in html and "photo.js" in html  # Web Share where the phone has it
    assert 'data-show="both"' in html  # side by side toggle
    assert f'data-url="http://10.42.0.1:8080/p/{photo_id}?k={key}"' in html
    assert f'src="/p/{photo_id}/qr.svg?k={key}"' in html  # pass it on: a friend scans the page's code
    download = get(app, f"/p/{photo_id}/anime.jpg?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")


def test_images_come_from_the_store_with_etag_cache_control_and_type(app, booth):
    photo_id = booth.add_photo()
    key = booth.store.get(photo_id).owner_key
    for kind in ("anime", "original", "thumb"):
        response = get(app, f"/p/{photo_id}/{kind}.jpg?k={key}")
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.data == booth.store.file_path(photo_id, kind).read_bytes()
        # Kept by the phone, but asked for again each time: a deleted photo leaves its cache.
        assert response.headers["Cache-Control"] == "private, no-cache"
        etag = response.headers["ETag"]
        again = get(app, f"/p/{photo_id}/{kind}.jpg?k={key}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    thumb = cv2.imdecode(np.frombuffer(get(app, f"/p/{photo_id}/thumb.jpg").data, np.uint8), 1)
    assert max(thumb.shape[:2]) == booth.settings.storage.thumb_size


def test_qr_codes_decode_to_the_photo_page_url(app, booth):
    photo_id = booth.add_photo()
    png = get(app, f"/p/{photo_id}/qr.png")
    assert png.mimetype == "image/png"
    assert decode_qr(png.data) == f"http://10.42.0.1:8080/p/{photo_id}"
    svg = get(app, f"/p/{photo_id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")
    assert b"viewBox" in svg.data and b"<script" not in svg.data
    assert get(app, f"/p/{photo_id}/qr.svg", headers={"If-None-Match": svg.headers["ETag"]}).status_code == 304


def test_qr_codes_of_many_photo_ids_all_decode():
    import secrets

    urls = [f"http://10.42.0.1:8080/p/{secrets.token_urlsafe(16)}" for _ in range(100)]
    assert [decode_qr(qr.png(url)) for url in urls] == urls


def test_qr_base_url_falls_back_to_the_primary_ipv4_and_port(make_booth):
    booth = make_booth(port=8099)
    address = qr.primary_ipv4()
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address)
    assert qr.photo_url(booth.settings, "x" * 22) == f"http://{address}:8099/p/{'x' * 22}"
    app = create_app(booth)
    admin = get(app, "/admin", LOOPBACK).get_data(as_text=True)
    assert f'id="base-url">http://<wbr>{address}:8099</code>' in admin
    assert "detected automatically" in admin


# --- privacy ---------------------------------------------------------------------------
def test_private_gallery_needs_the_organiser_but_photo_links_work(make_booth):
    booth = make_booth(gallery_index="private", admin_password=PASSWORD)
    app = create_app(booth)
    photo_id = booth.add_photo()
    index = get(app, "/")
    assert index.status_code == 403 and photo_id not in index.get_data(as_text=True)
    assert get(app, "/api/photos").status_code == 403
    assert get(app, f"/p/{photo_id}").status_code == 200  # the QR link always works
    assert "All photos" not in get(app, f"/p/{photo_id}").get_data(as_text=True)
    assert get(app, f"/p/{photo_id}/anime.jpg").status_code == 200
    # The organiser: on the Pi itself, with the password as a bearer token, or logged in.
    assert photo_id in get(app, "/", LOOPBACK).get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {PASSWORD}"}
    assert get(app, "/api/photos", headers=bearer).json["photos"][0]["id"] == photo_id
    client = app.test_client()
    client.post("/admin/login", data={"password": PASSWORD}, environ_base=PHONE)
    assert photo_id in client.get("/", environ_base=PHONE).get_data(as_text=True)


def test_public_gallery_is_open_and_links_back_from_photos(app, booth):
    photo_id = booth.add_photo()
    assert photo_id in get(app, "/").get_data(as_text=True)
    assert 'href="/">All photos' in get(app, f"/p/{photo_id}").get_data(as_text=True)


# --- the JSON API, health and metrics ---------------------------------------------------
def test_api_photos_lists_newest_first_with_urls(app, booth):
    ids = [booth.add_photo() for _ in range(5)]
    body = get(app, "/api/photos?limit=3").json
    assert body["total"] == 5 and [p["id"] for p in body["photos"]] == ids[::-1][:3]
    first = body["photos"][0]
    assert first["page"] == f"/p/{ids[-1]}" and first["url"] == f"http://10.42.0.1:8080/p/{ids[-1]}"
    assert first["anime"] == f"/p/{ids[-1]}/anime.jpg" and first["thumb"].endswith("/thumb.jpg")
    assert [p["created"] for p in body["photos"]] == sorted([p["created"] for p in body["photos"]], reverse=True)
    assert [p["id"] for p in get(app, "/api/photos?limit=3&offset=3").json["photos"]] == ids[::-1][3:]
    for bad in ("limit=0", "limit=101", "limit=x", "offset=-2"):
        response = get(app, f"/api/photos?{bad}")
        assert response.status_code == 400 and "must be a whole number" in response.json["error"]


def test_healthz_is_503_when_the_booth_cannot_take_photos(app, booth):
    ok = get(app, "/healthz")
    assert ok.status_code == 200 and ok.json["ok"] is True and ok.json["camera"]["backend"] == "folder"
    booth.health_override = {"ok": False, "camera": {"ok": False, "backend": "picamera2",
                                                     "message": "no camera found"}}
    down = get(app, "/healthz")
    assert down.status_code == 503 and down.json["camera"]["message"] == "no camera found"


def test_healthz_shows_the_last_photo_id_only_to_the_organiser(app, booth):
    booth.health_override = {"last_cycle": {"photo_id": "A" * 22, "press_to_result_ms": 4100.0,
                                            "ok": True, "time": 1.0}}
    assert get(app, "/healthz").json["last_cycle"] == {"press_to_result_ms": 4100.0, "ok": True, "time": 1.0}
    assert get(app, "/healthz", LOOPBACK).json["last_cycle"]["photo_id"] == "A" * 22


def test_metrics_in_prometheus_text_format(app, booth):
    booth.add_photo()
    booth.trigger("test")
    response = get(app, "/metrics")
    assert response.mimetype == "text/plain" and "version=0.0.4" in response.headers["Content-Type"]
    samples = {}
    for line in response.get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples["booth_cycles_total"] == 1
    assert samples["booth_photos"] == 2
    assert samples["booth_up"] == 1 and samples['booth_component_ok{component="camera"}'] == 1
    assert samples["booth_disk_free_bytes"] > 1e6
    # press_to_result_ms = [4200, 3900, 5100]: cumulative buckets.
    assert samples['booth_press_to_result_seconds_bucket{le="0.25"}'] == 0
    assert samples['booth_press_to_result_seconds_bucket{le="3"}'] == 0
    assert samples['booth_press_to_result_seconds_bucket{le="5"}'] == 2
    assert samples['booth_press_to_result_seconds_bucket{le="10"}'] == 3
    assert samples['booth_press_to_result_seconds_bucket{le="+Inf"}'] == 3
    assert samples["booth_press_to_result_seconds_count"] == 3
    assert samples["booth_press_to_result_seconds_sum"] == pytest.approx(13.2)


# --- the trigger -----------------------------------------------------------------------
def test_trigger_from_the_pi_itself_or_with_the_password(app, booth):
    client = app.test_client()
    assert client.post("/api/trigger", environ_base=LOOPBACK).status_code == 202
    assert client.post("/api/trigger", environ_base=PHONE).status_code == 401
    assert client.post("/api/trigger", environ_base=PHONE,
                       headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.post("/api/trigger", environ_base=PHONE,
                       headers={"Authorization": f"Bearer {PASSWORD}"}).status_code == 202
    assert client.post("/api/trigger", environ_base=PHONE,
                       data={"password": PASSWORD}).status_code == 202
    assert booth.triggers == ["http", "http", "http"]
    assert booth.store.count() == 3


def test_trigger_while_a_cycle_runs_says_so(app, booth):
    booth._busy.acquire()
    try:
        response = app.test_client().post("/api/trigger", environ_base=LOOPBACK)
    finally:
        booth._busy.release()
    assert response.status_code == 409 and response.json == {
        "started": False, "reason": "a photo is already being taken"}
    assert booth.ignored == 1


# --- the admin page --------------------------------------------------------------------
def test_admin_login_statistics_delete_and_logout(app, booth):
    ids = [booth.add_photo() for _ in range(3)]
    booth.trigger("test")
    client = app.test_client()
    assert client.get("/admin", environ_base=PHONE).status_code == 302
    wrong = client.post("/admin/login", data={"password": "guess"}, environ_base=PHONE)
    assert wrong.status_code == 403 and "Wrong password" in wrong.get_data(as_text=True)
    ok = client.post("/admin/login", data={"password": PASSWORD, "next": "/admin"}, environ_base=PHONE)
    assert ok.status_code == 302 and ok.location == "/admin"
    page = client.get("/admin", environ_base=PHONE).get_data(as_text=True)
    assert '<span class="big" id="stat-photos">4</span>' in page
    assert '<span class="big" id="stat-taken">4</span>' in page  # from the store: 3 + 1 cycle
    assert '<span class="big" id="stat-median">4.2 s</span>' in page  # median of 4200, 3900, 5100 ms
    assert '<span class="big" id="stat-ignored">0</span>' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    gone = client.post(f"/admin/delete/{ids[0]}", data={"csrf": csrf}, environ_base=PHONE)
    assert gone.status_code == 302
    assert booth.store.get(ids[0]) is None and not (booth.store.root / ids[0]).exists()
    assert get(app, f"/p/{ids[0]}").status_code == 404
    assert client.post(f"/admin/delete/{ids[0]}", data={"csrf": csrf}, environ_base=PHONE).status_code == 404
    client.post("/admin/logout", environ_base=PHONE)
    assert client.post(f"/admin/delete/{ids[1]}", data={"csrf": csrf}, environ_base=PHONE).status_code == 403
    assert booth.store.get(ids[1]) is not None


def test_admin_login_is_rate_limited(app):
    client = app.test_client()
    codes = [client.post("/admin/login", data={"password": f"guess{i}"}, environ_base=PHONE).status_code
             for i in range(7)]
    assert codes == [403] * 5 + [429] * 2
    limited = client.post("/admin/login", data={"password": PASSWORD}, environ_base=PHONE)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    # Another phone is not locked out by the first one's guesses.
    other = client.post("/admin/login", data={"password": PASSWORD}, environ_base={"REMOTE_ADDR": "192.168.4.99"})
    assert other.status_code == 302


def test_without_a_password_admin_is_only_on_the_pi(make_booth):
    app = create_app(make_booth(admin_password=""))
    assert get(app, "/admin", LOOPBACK).status_code == 200
    login = app.test_client().post("/admin/login", data={"password": ""}, environ_base=PHONE)
    assert login.status_code == 403 and "only on the booth itself" in login.get_data(as_text=True)


def test_download_all_is_a_streamed_zip_of_every_photo(app, booth):
    ids = [booth.add_photo() for _ in range(4)]
    response = get(app, "/admin/photos.zip", LOOPBACK)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed and "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == 8
    for photo_id in ids:
        for kind in ("anime", "original"):
            (name,) = [n for n in names if photo_id[:8] in n and n.endswith(f"-{kind}.jpg")]
            assert archive.read(name) == booth.store.file_path(photo_id, kind).read_bytes()


def _zip_with_a_change_midway(store, change) -> dict[str, set[str]]:
    """Download the zip, calling ``change()`` some twenty photos in; id[:8] -> kinds in it."""
    from booth.web.admin import zip_chunks

    chunks = zip_chunks(store)
    data = [next(chunks) for _ in range(40)]
    change()
    data += list(chunks)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(data)))
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == len(set(names)), "duplicate entry names"
    in_zip: dict[str, set[str]] = {}
    for name in names:  # YYYYmmdd-HHMMSS-<id8>-<kind>.jpg
        in_zip.setdefault(name[16:24], set()).add(name.rsplit("-", 1)[1])
    assert all(kinds == {"anime.jpg", "original.jpg"} for kinds in in_zip.values())
    return in_zip


def test_the_zip_is_the_photos_of_its_start_whatever_is_deleted_or_added_meanwhile(booth):
    ids = [booth.add_photo() for _ in range(150)][::-1]  # newest first, like the zip
    exported, not_yet = ids[2], ids[120]

    def delete_two() -> None:
        booth.store.delete(exported)
        booth.store.delete(not_yet)

    in_zip = _zip_with_a_change_midway(booth.store, delete_two)
    survivors = [p for p in ids if p not in (exported, not_yet)]
    assert [p[:8] for p in survivors if p[:8] not in in_zip] == []  # no survivor missing
    assert not_yet[:8] not in in_zip
    assert len(in_zip) == len(survivors) + 1  # the deleted one already written stays whole

    added = []
    in_zip = _zip_with_a_change_midway(booth.store, lambda: added.append(booth.add_photo()))
    assert set(in_zip) == {p[:8] for p in survivors}  # each once; the newcomer not in this zip


def test_a_full_resolution_portrait_reaches_the_guest_whole(app, booth):
    picture = cv2.resize(booth.picture, (1076, 1350), interpolation=cv2.INTER_CUBIC)
    photo_id = booth.store.save(picture, picture, {"size": 512, "faces": 1}).id

    def decoded(data: bytes) -> tuple[int, ...]:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape

    # The photo page and the kiosk show /anime.jpg; the download and the zip are the file.
    assert decoded(get(app, f"/p/{photo_id}/anime.jpg").data) == (1350, 1076, 3)
    assert decoded(get(app, f"/p/{photo_id}/anime.jpg?download=1").data) == (1350, 1076, 3)
    archive = zipfile.ZipFile(io.BytesIO(get(app, "/admin/photos.zip", LOOPBACK).data))
    (name,) = [n for n in archive.namelist() if photo_id[:8] in n and n.endswith("-anime.jpg")]
    assert decoded(archive.read(name)) == (1350, 1076, 3)
    assert max(decoded(get(app, f"/p/{photo_id}/thumb.jpg").data)[:2]) == 320


# --- the kiosk, headers ------------------------------------------------------------------
def test_kiosk_page_is_for_the_booth_screen(app):
    page = get(app, "/kiosk", LOOPBACK)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for screen in ("idle", "countdown", "capture", "process", "result", "failsafe"):
        assert f'id="screen-{screen}"' in html
    assert "/static/kiosk.js" in html and "/static/kiosk.css" in html
    assert get(app, "/kiosk").status_code == 302  # a phone is sent to the login
    assert get(app, "/preview.jpg").status_code == 403
    assert get(app, "/events").status_code == 403
    preview = get(app, "/preview.jpg", LOOPBACK)
    assert preview.mimetype == "image/jpeg" and preview.headers["Cache-Control"] == "no-store"


def test_pages_reference_only_local_assets_and_send_security_headers(app, booth):
    photo_id = booth.add_photo()
    for url in ("/", f"/p/{photo_id}", "/kiosk", "/admin"):
        response = get(app, url, LOOPBACK)
        html = response.get_data(as_text=True)
        assert not re.search(r'(src|href)="(https?:)?//', html), url
        headers = response.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"


# --- through waitress: the event stream ----------------------------------------------------
def read_sse(response, count: int, timeout: float = 10.0) -> list[dict]:
    """The next ``count`` events (comments skipped) from an open SSE response."""
    events, block = [], []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        line = response.readline().decode()
        if line in ("\n", "\r\n", ""):
            data = [l[5:].strip() for l in block if l.startswith("data:")]
            if data:
                events.append(json.loads("".join(data)))
            block = []
        else:
            block.append(line)
    return events


@pytest.fixture
def server(app):
    running = serve(app, "127.0.0.1", 0, threads=4)
    yield running
    running.close()


def test_event_stream_sends_current_state_then_each_change(server, booth):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/events")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
    first = read_sse(response, 1)
    assert first[0]["kind"] == "state" and first[0]["data"] == {"state": "idle"}
    assert booth.trigger("test")
    events = read_sse(response, 3)
    assert [e["kind"] for e in events] == ["state", "photo", "state"]
    assert events[0]["data"] == {"state": "countdown", "seconds_left": 1}
    assert events[2]["data"]["state"] == "result"
    assert booth.store.get(events[2]["data"]["photo_id"]) is not None
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    conn.close()


def test_event_streams_leave_threads_for_the_gallery_and_stop_with_the_server(app, booth):
    running = serve(app, "127.0.0.1", 0, threads=4)  # at most 2 streams
    try:
        streams = []
        for _ in range(2):
            conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
            conn.request("GET", "/events")
            streams.append(conn.getresponse())
            assert streams[-1].status == 200
            read_sse(streams[-1], 1)
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        conn.request("GET", "/events")
        refused = conn.getresponse()
        assert refused.status == 503 and refused.getheader("Retry-After") == "5"
        refused.read()
        # The gallery still answers while both streams are open.
        started = time.monotonic()
        conn.request("GET", "/")
        page = conn.getresponse()
        assert page.status == 200 and b"Anime Booth" in page.read()
        assert time.monotonic() - started < 5
    finally:
        started = time.monotonic()
        running.close()
    assert time.monotonic() - started < 5  # the open streams end with the server
    for response in streams:
        rest = response.read()  # the stream ends (no hang) once the server is closed
        assert b"event:" not in rest or rest.endswith(b"\n\n")


def test_web_threads_yield_the_cpu_to_the_generator(app):
    """The guest at the booth waits on the generator; the web server's threads run at
    a lower priority so fifty browsing phones do not slow the cycle (see test_load)."""
    import os
    import threading

    from booth.web.server import WEB_NICENESS

    def native_ids() -> set[int]:
        return {t.native_id for t in threading.enumerate()}

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = native_ids()
    running = serve(app, "127.0.0.1", 0, threads=4)
    try:
        new = native_ids() - before  # this server's loop and workers (other tests' may linger)
        assert len(new) >= 5
        for native_id in new:
            assert os.getpriority(os.PRIO_PROCESS, native_id) == min(19, base + WEB_NICENESS)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the caller keeps its own
    finally:
        running.close()


def test_requests_wait_while_a_photo_is_made_but_never_past_the_limit(make_booth):
    """While the booth makes a photo, a phone's request is held (the generator gets the
    CPU) and served the moment the photo is done, or after yield_to_photo_ms at most."""
    import threading

    booth = make_booth(yield_to_photo_ms=1500)
    app = create_app(booth)
    booth.between_photos.clear()  # a photo is being made
    statuses: list[int] = []
    phone = threading.Thread(target=lambda: statuses.append(get(app, "/").status_code))
    phone.start()
    time.sleep(0.4)
    assert statuses == []  # held while the photo is made
    done_at = time.monotonic()
    booth.between_photos.set()  # the photo is done
    phone.join(5)
    assert statuses == [200] and time.monotonic() - done_at < 1.0

    booth.between_photos.clear()  # a photo slower than the limit: served anyway
    started = time.monotonic()
    assert get(app, "/").status_code == 200
    assert 1.4 <= time.monotonic() - started < 4.0  # (a timed wait may end a hair early)

    never = make_booth(yield_to_photo_ms=0)  # 0: the organiser turned it off
    never.between_photos.clear()
    started = time.monotonic()
    assert get(create_app(never), "/").status_code == 200
    assert time.monotonic() - started < 1.0


def test_serve_raises_when_the_port_is_taken(app, server):
    with pytest.raises(OSError):
        serve(app, "127.0.0.1", server.port, threads=2)


# --- the Wi-Fi QR code ------------------------------------------------------------------------
@pytest.mark.parametrize("ssid, password, hidden, expected", [
    ("AnimeBooth", "at-least-8", False, "WIFI:T:WPA;S:AnimeBooth;P:at-least-8;;"),
    ('a;b,c:d"e\\f', 'p;w,d:x"y\\z', False, 'WIFI:T:WPA;S:a\\;b\\,c\\:d\\"e\\\\f;P:p\\;w\\,d\\:x\\"y\\\\z;;'),
    ("Open Café", "", False, "WIFI:T:nopass;S:Open Café;;"),
    ("Quiet", "secret-pass", True, "WIFI:T:WPA;S:Quiet;P:secret-pass;H:true;;"),
])
def test_the_wifi_qr_text_escapes_what_the_format_gives_a_meaning_to(ssid, password, hidden, expected):
    assert qr.wifi_payload(ssid, password, hidden) == expected


def test_the_kiosk_shows_the_wifi_only_when_an_ssid_is_set(booth):
    plain = create_app(booth).test_client().get("/kiosk").get_data(as_text=True)
    assert 'class="wifi"' not in plain and "Join the Wi-Fi" not in plain
    booth.settings = booth.settings.replace("network", ssid="AnimeBooth", password="at-least-8")
    page = create_app(booth).test_client().get("/kiosk").get_data(as_text=True)
    assert page.count('class="wifi"') == 2  # idle and result screens
    assert "AnimeBooth" in page and "at-least-8" in page


def test_event_streams_whose_client_left_are_freed_within_a_second(app, booth):
    """Kiosk reloads: each reload leaves a stream behind; its slot must not stay taken."""
    running = serve(app, "127.0.0.1", 0, threads=4)  # at most 2 streams
    try:
        for reload in range(3):
            streams = []
            for _ in range(2):
                conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
                conn.request("GET", "/events")
                streams.append((conn, conn.getresponse()))
                assert streams[-1][1].status == 200, reload
                read_sse(streams[-1][1], 1)
            for conn, response in streams:  # the browser went away mid-stream
                response.close()
                conn.close()
            slots = app.extensions[STREAMS_KEY]
            deadline = time.monotonic() + 2.0  # LEFT_CHECK_S is 0.25 s; slack for a busy CI
            while slots.active and time.monotonic() < deadline:
                time.sleep(0.02)
            assert slots.active == 0, reload
    finally:
        running.close()


@pytest.mark.parametrize("body", ["[]", "[1, 2]", '"modern"', "5", "true"])
def test_a_json_body_that_is_not_an_object_is_a_400_in_one_line_never_a_500(app, booth, body, caplog):
    """Any guest can post anything: no traceback in the journal, a sentence back."""
    photo_id = booth.add_photo()
    client = app.test_client()
    for path in (f"/p/{photo_id}/restyle", "/api/style", "/api/preview"):
        response = client.post(path, data=body, content_type="application/json",
                               headers={"Accept": "application/json"}, environ_base=LOOPBACK)
        assert response.status_code == 400, (path, response.status_code)
        assert response.json["error"] == "The request body must be a JSON object (or a form).", path
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
