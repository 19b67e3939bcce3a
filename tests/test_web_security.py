"""Hostile requests against the real server: always a 4xx, never a 500, never a file
outside the store.

Requests go over raw sockets to waitress on 127.0.0.1, byte for byte as written here
(no client library normalises ``..`` or percent-escapes away), and through the Flask
test client with a phone's address where the client's address matters (loopback is
the organiser).
"""

from __future__ import annotations

import collections
import re
import socket

import pytest

from booth.web import create_app, serve
from webbooth import scripted_booth

PHONE = {"REMOTE_ADDR": "192.168.4.23"}
PASSWORD = "s3cret-admin"

#: Bytes that must never appear in a response: /etc/passwd, the SQLite index, our
#: own source code and config.
SECRETS = (b"root:x:0:0", b"SQLite format 3", b"def create_app", b"class PhotoStore",
           b"admin_password", b"[web]")


@pytest.fixture
def booth(tmp_path, face_photo):
    booth = scripted_booth(tmp_path, face_photo, admin_password=PASSWORD)
    yield booth
    booth.close()


@pytest.fixture
def server(booth):
    running = serve(create_app(booth), "127.0.0.1", 0, threads=4)
    yield running
    running.close()


def raw_request(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send ``data`` as is; (status code, whole response) — the server closes after it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    response = b"".join(chunks)
    match = re.match(rb"HTTP/1\.[01] (\d{3})", response)
    assert match, f"no HTTP status line in {response[:80]!r}"
    return int(match.group(1)), response


def get_raw(port: int, target: str) -> tuple[int, bytes]:
    return raw_request(port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                       .encode("latin-1"))


def traversal_targets(photo_id: str) -> list[str]:
    return [
        "/../../../../etc/passwd",
        "/p/../../../../etc/passwd",
        "/p/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/p/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/p/..%2f..%2f..%2fetc%2fpasswd",
        "/p/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "/p/..%5c..%5c..%5cetc%5cpasswd",
        "/p/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        f"/p/{photo_id}/../index.sqlite3",
        f"/p/{photo_id}/..%2findex.sqlite3",
        f"/p/{photo_id}/%2e%2e/%2e%2e/index.sqlite3",
        f"/p/{photo_id}/anime.jpg/../../index.sqlite3",
        f"/p/{photo_id}/anime.jpg%00.png",
        f"/p/{photo_id}/thumb.jpg%2f..%2f..%2findex.sqlite3",
        f"/p/{photo_id}/original.jpg/..%2f..%2f..%2f..%2fetc%2fpasswd",
        f"/p/{photo_id}%2f..%2findex.sqlite3",
        f"/p/{photo_id}/index.sqlite3",
        f"/p/{photo_id}/config.toml",
        "/p/index.sqlite3",
        "/static/../__init__.py",
        "/static/%2e%2e/__init__.py",
        "/static/..%2f..%2fconfig.py",
        "/static/..%2f..%2f..%2fconfig.toml",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/....//....//etc/passwd",
        "//etc/passwd",
        "/admin/../../etc/passwd",
        "/admin/photos.zip/../../etc/passwd",
    ]


def test_path_traversal_never_reaches_a_file_outside_the_store(server, booth):
    photo_id = booth.add_photo()
    for target in traversal_targets(photo_id):
        status, response = get_raw(server.port, target)
        assert 400 <= status < 500, (target, status)
        for secret in SECRETS:
            assert secret not in response, (target, secret)
    # The same paths through the test client, as a phone (no loopback privileges).
    client = create_app(booth).test_client()
    for target in traversal_targets(photo_id):
        response = client.get(target, environ_base=PHONE)
        assert 400 <= response.status_code < 500 or response.status_code in (301, 302, 308), target
        for secret in SECRETS:
            assert secret not in response.data, (target, secret)


def test_unknown_and_malformed_ids_are_404(server, booth):
    booth.add_photo()
    unknown = "A" * 22  # the right shape, not in the store
    malformed = ["x", "short", "A" * 21, "A" * 65, "A" * 5000, "abc.def.ghi.jkl.mno.pqr",
                 "%3Cscript%3E" + "A" * 22, "A" * 21 + "%00", "A" * 22 + "%20", "../" + "A" * 22,
                 "%27%20OR%20%271%27%3D%271%27%20--%20" + "A" * 10, "%F0%9F%98%80" * 8]
    for photo_id in [unknown] + malformed:
        for suffix in ("", "/anime.jpg", "/original.jpg", "/thumb.jpg", "/qr.svg", "/qr.png"):
            status, response = get_raw(server.port, f"/p/{photo_id}{suffix}")
            assert status == 404, (photo_id, suffix, status)
            assert b"image/jpeg" not in response


def test_admin_actions_need_the_password(booth):
    photo_id = booth.add_photo()
    app = create_app(booth)
    client = app.test_client()
    # Without any password.
    assert client.post(f"/admin/delete/{photo_id}", environ_base=PHONE).status_code == 403
    assert client.get("/admin/photos.zip", environ_base=PHONE).status_code == 403
    assert client.get("/admin", environ_base=PHONE).status_code == 302
    assert client.post("/api/trigger", environ_base=PHONE).status_code == 401
    # With a wrong one, in each place a password is accepted.
    bad = {"Authorization": "Bearer wrong"}
    assert client.post(f"/admin/delete/{photo_id}", headers=bad, data={"csrf": "x"},
                       environ_base=PHONE).status_code in (400, 403)
    assert client.get("/admin/photos.zip", headers=bad, environ_base=PHONE).status_code == 403
    assert client.post("/api/trigger", data={"password": "wrong"}, environ_base=PHONE).status_code == 403
    assert client.post("/admin/login", data={"password": "wrong"}, environ_base=PHONE).status_code == 403
    # "Basic" or an empty bearer is not a password.
    for header in ("Basic czNjcmV0LWFkbWlu", "Bearer ", "Bearer", PASSWORD):
        assert client.get("/admin/photos.zip", headers={"Authorization": header},
                          environ_base=PHONE).status_code == 403
    assert booth.store.get(photo_id) is not None and booth.triggers == []


def test_wrong_passwords_are_throttled_on_every_entrance(booth):
    client = create_app(booth).test_client()
    codes = [client.post("/api/trigger", headers={"Authorization": f"Bearer guess{i}"},
                         environ_base=PHONE).status_code for i in range(5)]
    assert codes == [403] * 5
    # The throttle is shared: the login page now refuses this address too, even the right password.
    assert client.post("/api/trigger", headers={"Authorization": f"Bearer {PASSWORD}"},
                       environ_base=PHONE).status_code == 429
    assert client.post("/admin/login", data={"password": PASSWORD}, environ_base=PHONE).status_code == 429
    assert booth.triggers == []


def test_bearer_tokens_are_throttled_wherever_they_are_accepted(tmp_path, face_photo):
    booth = scripted_booth(tmp_path, face_photo, admin_password=PASSWORD, gallery_index="private")
    try:
        client = create_app(booth).test_client()
        codes = [client.get(url, headers={"Authorization": f"Bearer guess{i}"}, environ_base=PHONE).status_code
                 for i, url in enumerate(["/api/photos", "/admin/photos.zip", "/"] * 3)]
        assert codes[:5] == [403] * 5 and codes[5:] == [429] * 4
        limited = client.get("/api/photos", headers={"Authorization": f"Bearer {PASSWORD}"}, environ_base=PHONE)
        assert limited.status_code == 429 and limited.json["error"].startswith("Too many wrong passwords")
        assert int(limited.headers["Retry-After"]) > 0
    finally:
        booth.close()


def test_admin_forms_need_the_csrf_token(booth):
    photo_id = booth.add_photo()
    client = create_app(booth).test_client()
    client.post("/admin/login", data={"password": PASSWORD}, environ_base=PHONE)
    for data in ({}, {"csrf": ""}, {"csrf": "forged-token"}):
        response = client.post(f"/admin/delete/{photo_id}", data=data, environ_base=PHONE)
        assert response.status_code == 400, data
        # A logged-in session alone does not trigger the booth either (it is cookie-based).
        assert client.post("/api/trigger", data=data, environ_base=PHONE).status_code in (401, 403)
    assert booth.store.get(photo_id) is not None and booth.triggers == []


def test_login_never_redirects_to_another_site(booth):
    client = create_app(booth).test_client()
    for target in ("http://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"):
        response = client.post("/admin/login", data={"password": PASSWORD, "next": target},
                               environ_base=PHONE)
        assert response.status_code == 302 and response.location == "/admin", target
        client.post("/admin/logout", environ_base=PHONE)


def test_oversized_and_malformed_requests_get_a_4xx(server, booth):
    port = server.port
    # These come from 127.0.0.1, the organiser: bodies go to a form that reads them.
    big_body = b"password=" + b"x" * 2_000_000
    cases = {
        "oversized form": b"POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(big_body) + big_body,
        "oversized declared body": b"POST /api/trigger HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999\r\n"
                                   b"Connection: close\r\n\r\nabc",
        "huge header": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: " + b"a" * 300_000 + b"\r\nConnection: close\r\n\r\n",
        "huge url": b"GET /?" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "garbage request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        "bad content length": b"POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\nConnection: close\r\n\r\n",
        "bad chunked body": b"POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                            b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
        "multipart without boundary": b"POST /admin/delete/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data\r\n"
                                      b"Content-Length: 5\r\nConnection: close\r\n\r\nhello",
        "multipart bomb": b"POST /admin/delete/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=X\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (60 * 70) +
                          b"".join(b"--X\r\nContent-Disposition: form-data; name=\"f%02d\"\r\n\r\nv\r\n" % i
                                   for i in range(60))[:60 * 70].ljust(60 * 70, b"-"),
        "wrong method": b"DELETE /p/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "post to a page": b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "bad page number": b"GET /?page=1e9999 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "bad api limit": b"GET /api/photos?limit=%FF%FE HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "bad utf8 in query": b"GET /?page=%ff HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "absolute-form target": b"GET http://evil.example/etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    }
    for name, data in cases.items():
        status, response = raw_request(port, data)
        assert 400 <= status < 500, (name, status, response[:200])
        assert b"Traceback" not in response, name
        for secret in SECRETS:
            assert secret not in response, (name, secret)
    assert booth.triggers == []


def test_errors_are_one_line_and_json_for_the_api(booth):
    client = create_app(booth).test_client()
    response = client.get("/api/photos?limit=abc", environ_base=PHONE)
    assert response.status_code == 400 and response.is_json
    assert response.json == {"error": "limit must be a whole number from 1 to 100"}
    page = client.get("/p/" + "A" * 22, environ_base=PHONE)
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "This photo is not here any more" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)


def test_a_broken_store_answers_500_in_one_line_without_details(booth):
    """The one 500 there is: the booth itself failing, never the visitor's input."""
    app = create_app(booth)

    def broken(*args, **kwargs):
        raise OSError("disk I/O error at /var/lib/booth/photos/index.sqlite3")

    booth.store.list = broken
    response = app.test_client().get("/", environ_base=PHONE)
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong on the booth" in text and "sqlite3" not in text and "Traceback" not in text


# --- Host and Origin: loopback trust cannot be borrowed ---------------------------------
def http(port: int, method: str, target: str, host: str | None, *extra: str,
         body: bytes = b"") -> tuple[int, bytes]:
    """One request from 127.0.0.1 (the organiser's address) with the given Host header."""
    lines = [f"{method} {target} HTTP/1.1", *([f"Host: {host}"] if host is not None else []),
             "Connection: close", *extra]
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return raw_request(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def test_a_foreign_host_is_refused_before_any_view_even_from_loopback(server, booth):
    """DNS rebinding: a page the kiosk browser loads from rebind.example, whose name
    now resolves to 127.0.0.1, must not get the organiser's rights."""
    photo_id = booth.add_photo()
    foreign = f"rebind.example:{server.port}"
    for method, target in [("GET", "/admin/"), ("GET", "/admin/photos.zip"), ("GET", "/kiosk"),
                           ("GET", "/preview.jpg"), ("GET", "/events"), ("GET", "/"),
                           ("POST", f"/admin/delete/{photo_id}"), ("POST", "/api/trigger")]:
        status, response = http(server.port, method, target, foreign)
        assert status == 421, (method, target, status)
        assert b"csrf" not in response and b"does not answer for rebind.example" in response
    status, _ = http(server.port, "GET", "/healthz", None)  # HTTP/1.1 without a Host
    assert status == 400
    assert booth.store.get(photo_id) is not None and booth.triggers == []


def test_the_booths_own_names_are_answered(server, booth):
    import socket as sockets

    machine = sockets.gethostname().lower()
    port = server.port
    for host in ("127.0.0.1", f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}",
                 f"{machine}:{port}", f"{machine.split('.')[0]}.local:{port}", "10.1.2.3"):
        status, _ = http(port, "GET", "/admin/", host)
        assert status == 200, host
    app = create_app(scripted_booth_with(booth, base_url="http://booth.party:8080"))
    assert app.test_client().get("/healthz", headers={"Host": "booth.party:8080"}).status_code == 200
    assert app.test_client().get("/healthz", headers={"Host": "other.party:8080"}).status_code == 421


def scripted_booth_with(booth, **web):
    booth.settings = booth.settings.replace("web", **web)
    return booth


def test_cross_site_requests_cannot_change_anything_even_from_loopback(server, booth):
    photo_id = booth.add_photo()
    port = server.port
    own = f"127.0.0.1:{port}"
    for extra in (f"Origin: http://evil.example", "Origin: null", f"Origin: http://127.0.0.1:{port + 1}",
                  "Sec-Fetch-Site: cross-site", "Sec-Fetch-Site: same-site"):
        for target in ("/api/trigger", f"/admin/delete/{photo_id}"):
            status, response = http(port, "POST", target, own, extra)
            assert status == 403 and b"another web site" in response, (extra, target, status)
    assert booth.store.get(photo_id) is not None and booth.triggers == []
    # The kiosk's own page, and a script without Origin, still work.
    assert http(port, "POST", "/api/trigger", own, f"Origin: http://{own}",
                "Sec-Fetch-Site: same-origin")[0] == 202
    assert http(port, "POST", "/api/trigger", own)[0] in (202, 409)


# --- admin sessions and passwords -------------------------------------------------------
def test_logout_ends_the_session_on_the_server(booth):
    app = create_app(booth)
    client = app.test_client()
    assert client.post("/admin/login", data={"password": PASSWORD}, environ_base=PHONE).status_code == 302
    cookie = client.get_cookie("session").value
    assert client.get("/admin/", environ_base=PHONE).status_code == 200
    client.post("/admin/logout", environ_base=PHONE)
    copied = app.test_client()
    copied.set_cookie("session", cookie)
    assert copied.get("/admin/", environ_base=PHONE).status_code == 302  # to the login page
    assert copied.get("/admin/photos.zip", environ_base=PHONE).status_code == 403


def test_wrong_passwords_from_many_addresses_meet_a_global_cap(booth):
    from booth.web.access import PASSWORD_TRIES_PER_CLIENT, PASSWORD_TRIES_TOTAL

    client = create_app(booth).test_client()
    addresses = [f"192.168.4.{i}" for i in range(10, 250)]
    codes = collections.Counter()
    for i in range(PASSWORD_TRIES_TOTAL + 10):
        address = addresses[i // (PASSWORD_TRIES_PER_CLIENT - 1)]  # each stays under its own limit
        codes[client.post("/admin/login", data={"password": f"guess{i}"},
                          environ_base={"REMOTE_ADDR": address}).status_code] += 1
    assert codes == {403: PASSWORD_TRIES_TOTAL, 429: 10}
    fresh = client.post("/admin/login", data={"password": PASSWORD}, environ_base={"REMOTE_ADDR": "192.168.4.251"})
    assert fresh.status_code == 429
    # The organiser at the Pi itself needs no password.
    assert client.get("/admin/", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_a_short_admin_password_is_a_config_error_naming_the_key(tmp_path):
    from booth import config

    path = tmp_path / "booth.toml"
    path.write_text('[web]\nadmin_password = "1234567"\n')
    with pytest.raises(config.ConfigError, match=r"\[web\] admin_password must be at least 8 characters"):
        config.load(path)
    path.write_text('[web]\nadmin_password = "12345678"\n')
    assert config.load(path).web.admin_password == "12345678"


# --- originals: the unedited photo only through the photo's own QR link ------------------
def test_originals_default_to_the_owner_only(tmp_path, face_photo):
    from webbooth import decode_qr

    booth = scripted_booth(tmp_path, face_photo, admin_password=PASSWORD, base_url="http://10.42.0.1:8080")
    try:
        photo_id = booth.add_photo()
        key = booth.store.get(photo_id).owner_key
        assert len(key) >= 22
        client = create_app(booth).test_client()
        # Anyone on the Wi-Fi: the listings carry anime portraits only, and no key.
        listing = client.get("/api/photos", environ_base=PHONE)
        assert listing.status_code == 200 and listing.json["photos"][0]["id"] == photo_id
        assert "original" not in listing.json["photos"][0] and key.encode() not in listing.data
        assert b"original.jpg" not in listing.data
        for page in ("/", f"/p/{photo_id}"):
            html = client.get(page, environ_base=PHONE).data
            assert b"original.jpg" not in html and key.encode() not in html, page
        assert client.get(f"/p/{photo_id}/original.jpg", environ_base=PHONE).status_code == 404
        assert client.get(f"/p/{photo_id}/original.jpg?k={'A' * len(key)}", environ_base=PHONE).status_code == 404
        public_qr = decode_qr(client.get(f"/p/{photo_id}/qr.png", environ_base=PHONE).data)
        assert public_qr == f"http://10.42.0.1:8080/p/{photo_id}"
        # The photo's own QR link (what the kiosk shows): the original is there.
        owner_qr = decode_qr(client.get(f"/p/{photo_id}/qr.png", environ_base={"REMOTE_ADDR": "127.0.0.1"}).data)
        assert owner_qr == f"http://10.42.0.1:8080/p/{photo_id}?k={key}"
        html = client.get(f"/p/{photo_id}?k={key}", environ_base=PHONE).data
        assert f"/p/{photo_id}/original.jpg?k={key}".encode() in html
        original = client.get(f"/p/{photo_id}/original.jpg?k={key}", environ_base=PHONE)
        assert original.status_code == 200 and original.data == booth.store.file_path(photo_id, "original").read_bytes()
        # The organiser sees everything.
        admin = {"Authorization": f"Bearer {PASSWORD}"}
        assert client.get(f"/p/{photo_id}/original.jpg", headers=admin, environ_base=PHONE).status_code == 200
        listed = client.get("/api/photos", headers=admin, environ_base=PHONE).json["photos"][0]
        assert listed["original"] == f"/p/{photo_id}/original.jpg" and listed["owner_url"].endswith(f"?k={key}")
    finally:
        booth.close()


@pytest.mark.parametrize("mode, with_key, without_key", [("public", 200, 200), ("off", 404, 404)])
def test_originals_public_or_off(tmp_path, face_photo, mode, with_key, without_key):
    booth = scripted_booth(tmp_path, face_photo, admin_password=PASSWORD, originals=mode)
    try:
        photo_id = booth.add_photo()
        key = booth.store.get(photo_id).owner_key
        client = create_app(booth).test_client()
        assert client.get(f"/p/{photo_id}/original.jpg?k={key}", environ_base=PHONE).status_code == with_key
        assert client.get(f"/p/{photo_id}/original.jpg", environ_base=PHONE).status_code == without_key
        assert client.get(f"/p/{photo_id}/original.jpg",
                          environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200  # the organiser
    finally:
        booth.close()


def test_an_index_from_before_owner_keys_opens_and_gets_them(tmp_path, face_photo):
    """A booth updated mid-season keeps its photos: the old index gains the column."""
    import sqlite3

    from booth.config import Settings
    from booth.daemon.store import PhotoStore

    root = tmp_path / "photos"
    root.mkdir()
    db = sqlite3.connect(root / "index.sqlite3")
    db.executescript("CREATE TABLE photos (id TEXT PRIMARY KEY, created REAL NOT NULL, source TEXT NOT NULL,"
                     " size INTEGER NOT NULL, faces INTEGER NOT NULL, meta TEXT NOT NULL);")
    old_id = "B" * 22
    db.execute("INSERT INTO photos VALUES (?, 1.0, 'booth', 384, 1, '{}')", (old_id,))
    db.commit()
    db.close()
    (root / old_id).mkdir()
    for kind in ("original", "anime", "thumb"):
        (root / old_id / f"{kind}.jpg").write_bytes(face_photo.read_bytes())
    store = PhotoStore(root, Settings().storage.__class__(min_free_mb=0))
    try:
        old = store.get(old_id)
        assert old is not None and re.fullmatch(r"[0-9a-f]{32}", old.owner_key)
        assert store.repaired == {"temp_files": 0, "orphan_folders": 0, "orphan_rows": 0}
        import numpy as np
        new = store.save(np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8), {})
        assert new.owner_key and store.get(new.id).owner_key == new.owner_key != old.owner_key
    finally:
        store.close()
    reopened = PhotoStore(root, Settings().storage.__class__(min_free_mb=0))  # a second open changes nothing
    try:
        assert reopened.get(old_id).owner_key == old.owner_key
    finally:
        reopened.close()
