"""The web server seen from a phone: hostile clients from non-loopback addresses.

The booth's web server (around a scripted booth: real Flask app, real waitress, real
store) runs in a network namespace of its own (:mod:`netns`); clients come from
10.99.0.x, which the booth sees as phones on the Wi-Fi, and from 127.0.0.1, its own
screen. Nothing leaves the namespace.

Figures are printed::

    .venv/bin/pytest -s tests/test_web_netns.py
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time

import pytest

import netns
from netns import guest

PASSWORD = "s3cret-admin"
PORT = 8090
GUESTS = 60


@pytest.fixture
def booth_in_netns(tmp_path, face_photo):
    with netns.scripted_booth_served(tmp_path, PORT, face_photo, PASSWORD, GUESTS) as (process, photo_id, key):
        yield process, photo_id, key, tmp_path


def request(pid: int, source: str, raw: str, *, target: str = netns.BOOTH_ADDRESS,
            body: bytes = b"", timeout: float = 10.0) -> tuple[int, bytes, float]:
    """One request; (status, whole response, seconds to the status line)."""
    started = time.monotonic()
    with netns.connect(pid, source, PORT, timeout=timeout, target=target) as sock:
        sock.sendall(raw.encode("latin-1") + body)
        data, first = netns.read_response(sock)
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return (int(match.group(1)) if match else 0), data, (first or time.monotonic()) - started


def get(path: str, host: str, *headers: str) -> str:
    return "\r\n".join([f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close", *headers]) + "\r\n\r\n"


def post(path: str, host: str, *headers: str, body: bytes = b"") -> str:
    return "\r\n".join([f"POST {path} HTTP/1.1", f"Host: {host}", "Connection: close",
                        "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}",
                        *headers]) + "\r\n\r\n"


def test_a_phone_gets_no_organiser_rights(booth_in_netns):
    process, photo_id, owner_key, _ = booth_in_netns
    pid = process.pid
    phone = guest(23)
    host = f"{netns.BOOTH_ADDRESS}:{PORT}"
    expectations = [
        (get("/admin/", host), 302), (get("/kiosk", host), 302), (get("/events", host), 403),
        (get("/preview.jpg", host), 403), (get("/admin/photos.zip", host), 403),
        (post("/api/trigger", host), 401), (post(f"/admin/delete/{photo_id}", host), 403),
        (post("/api/cancel", host), 403), (post(f"/p/{photo_id}/delete", host), 403),
        (get("/", f"rebind.example:{PORT}"), 421),
        (post("/api/trigger", host, "Origin: http://evil.example", f"Authorization: Bearer {PASSWORD}"), 403),
        (get(f"/p/{photo_id}/original.jpg", host), 404),
        (get(f"/p/{photo_id}/original.jpg?k={owner_key}", host), 200),
        (get("/?page=%C2%B2", host), 400), (get("/api/photos?limit=" + "9" * 5000, host), 400),
        (get("/", host), 200), (get(f"/p/{photo_id}", host), 200),
    ]
    for raw, expected in expectations:
        status, response, _ = request(pid, phone, raw)
        assert status == expected, (raw.splitlines()[0], status, response[:300])
        if expected == 200 and raw.startswith("GET /p/") and "original" not in raw:
            assert b"original.jpg" not in response and owner_key.encode() not in response
    listing = request(pid, phone, get("/api/photos", host))[1]
    assert photo_id.encode() in listing and b"original" not in listing and owner_key.encode() not in listing
    # The booth's own screen (loopback, its own Host) is the organiser.
    kiosk = f"127.0.0.1:{PORT}"
    assert request(pid, "127.0.0.1", get("/admin/", kiosk), target="127.0.0.1")[0] == 200
    # ... but not when a page under another name borrows its address (DNS rebinding).
    assert request(pid, "127.0.0.1", get("/admin/", f"rebind.example:{PORT}"), target="127.0.0.1")[0] == 421


def hold(pid: int, source: str, count: int, target: str = netns.BOOTH_ADDRESS) -> tuple[list[socket.socket], int]:
    """Open ``count`` connections from ``source`` that send half a request header and
    then one byte now and then; (the sockets the booth kept, how many it refused)."""
    opened = []
    for _ in range(count):
        sock = netns.connect(pid, source, PORT, timeout=5, target=target)
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {netns.BOOTH_ADDRESS}\r\nX-Slow: ".encode())
        opened.append(sock)
    time.sleep(0.5)
    kept, refused = [], 0
    for sock in opened:
        if select.select([sock], [], [], 0)[0]:  # answered at once: the 503, then closed
            refused += sock.recv(200).startswith(b"HTTP/1.1 503")
            sock.close()
        else:
            kept.append(sock)
    return kept, refused


@pytest.mark.slow
def test_held_connections_never_lock_out_the_kiosk(booth_in_netns):
    """Hundreds of slow sockets from phones' addresses: the kiosk page, its event
    stream and /healthz (from the booth itself) still answer within a second."""
    from booth.web.server import CONNECTIONS_PER_CLIENT, GUEST_CONNECTIONS

    process, _, _, _ = booth_in_netns
    pid = process.pid
    kiosk_host = f"127.0.0.1:{PORT}"
    held: list[socket.socket] = []
    stop = threading.Event()

    def trickle() -> None:  # one byte per second on every held socket, until the end
        while not stop.wait(1.0):
            for sock in list(held):
                try:
                    sock.sendall(b"a")
                except OSError:
                    pass

    def kiosk_round() -> dict[str, float]:
        times = {}
        for name, raw in (("kiosk", get("/kiosk", kiosk_host)), ("healthz", get("/healthz", kiosk_host))):
            status, _, seconds = request(pid, "127.0.0.1", raw, target="127.0.0.1")
            assert status == 200, name
            times[name] = seconds
        return times

    def open_event_stream() -> float:
        """Seconds until the kiosk's event stream delivers its first event; the stream
        stays open (the kiosk keeps one) until the test ends."""
        started = time.monotonic()
        sock = netns.connect(pid, "127.0.0.1", PORT, timeout=5, target="127.0.0.1")
        streams.append(sock)
        sock.sendall(get("/events", kiosk_host).encode())
        received = b""
        while b"event: " not in received:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        assert received.startswith(b"HTTP/1.1 200")
        return time.monotonic() - started

    streams: list[socket.socket] = []
    threading.Thread(target=trickle, daemon=True).start()
    try:
        # One greedy phone: it keeps only its share.
        kept, refused = hold(pid, guest(2), CONNECTIONS_PER_CLIENT + 20)
        held += kept
        assert (len(kept), refused) == (CONNECTIONS_PER_CLIENT, 20)
        # Many phones holding sockets: 300 at first, the gallery still serves others.
        for number in range(3, 3 + 25):
            held += hold(pid, guest(number), 12)[0]
        phases = {}
        rounds = [kiosk_round() for _ in range(10)]
        rounds[0]["events"] = open_event_stream()
        gallery = [request(pid, guest(59), get("/", netns.BOOTH_ADDRESS)) for _ in range(10)]
        assert all(status == 200 for status, _, _ in gallery)
        phases[f"{len(held)} held"] = (rounds, [seconds for _, _, seconds in gallery])
        # Then every guest connection the booth allows: new phones are told to come back,
        # the booth's own screen is not.
        number = 28
        while len(held) < GUEST_CONNECTIONS and number < GUESTS - 2:
            held += hold(pid, guest(number), 12)[0]
            number += 1
        assert len(held) == GUEST_CONNECTIONS
        late_status, late, late_seconds = request(pid, guest(59), get("/", netns.BOOTH_ADDRESS))
        assert late_status == 503 and b"try again in 5 s" in late and late_seconds < 1.0
        rounds = [kiosk_round() for _ in range(10)]
        rounds[0]["events"] = open_event_stream()
        phases[f"{len(held)} held (guests' share full)"] = (rounds, [])
        # The Pi itself is not held to a phone's share.
        own, own_refused = hold(pid, "127.0.0.1", CONNECTIONS_PER_CLIENT + 4, target="127.0.0.1")
        held += own
        assert (len(own), own_refused) == (CONNECTIONS_PER_CLIENT + 4, 0)
    finally:
        stop.set()
        for sock in held + streams:
            sock.close()

    print()
    for phase, (rounds, gallery) in phases.items():
        line = ", ".join(f"{name} max {max(r.get(name, 0) for r in rounds) * 1000:.0f} ms"
                         for name in ("kiosk", "healthz", "events"))
        if gallery:
            line += f", a phone's gallery max {max(gallery) * 1000:.0f} ms"
        print(f"slow sockets, {phase}: {line}")
        for r in rounds:
            assert max(r.values()) < 1.0, r
    # Capacity comes back when the sockets close.
    time.sleep(0.5)
    assert request(pid, guest(59), get("/", netns.BOOTH_ADDRESS))[0] == 200
