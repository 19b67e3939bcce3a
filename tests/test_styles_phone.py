"""A phone asks for its photo in another style; only the booth changes the kiosk's style.

The real booth (daemon, real pipeline with the classic generator and the ``cute`` style,
store on disk, waitress) runs in a network namespace of its own (:mod:`netns`); the
phone connects from 10.99.0.2, which the booth sees as a guest on the Wi-Fi, and the
kiosk from 127.0.0.1. Nothing leaves the namespace; the booth stops when stdin closes.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import time

import cv2
import numpy as np
import pytest

from booth.model import style_build

import netns
from netns import guest

PORT = 8093
PHONE = guest(2)
KIOSK = "127.0.0.1"

BOOTH = textwrap.dedent("""
    import sys
    from pathlib import Path

    from booth import config
    from booth.devices.camera import CameraSupervisor, backend_factory
    from booth.daemon.booth import Booth
    from booth.daemon.making import load_pipeline
    from booth.daemon.store import PhotoStore
    from booth.web import create_app, serve

    data, camera_folder, port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    settings = config.defaults().replace("booth", data_dir=str(data))
    settings = settings.replace("camera", backend="folder", folder=camera_folder)
    settings = settings.replace("storage", min_free_mb=0)
    settings = settings.replace("cycle", countdown_s=0, show_result_s=0.3)
    settings = settings.replace("generator", sizes=[384])
    settings = settings.replace("styles", enabled=["hayao", "cute"], default="hayao", max_loaded=2)
    settings = settings.replace("web", host="0.0.0.0", port=port, base_url=f"http://10.99.0.1:{port}")
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera).start()
    store = PhotoStore(data / "photos", settings.storage)
    pipeline, message = load_pipeline(settings)
    assert pipeline is not None, message
    booth = Booth(settings, camera=camera, pipeline=pipeline, store=store, model_message=message).start()
    server = serve(create_app(booth), "0.0.0.0", port, 8)
    with booth.events.subscribe() as sub:  # one photo taken at the booth, in its default style
        booth.trigger("test")
        while True:
            event = sub.get(timeout=120)
            assert event is not None, "no photo within 120 s"
            if event.kind == "state" and event.data["state"] in ("result", "error"):
                assert event.data["state"] == "result", event.data
                break
    print("READY", event.data["photo_id"], flush=True)
    sys.stdin.read()
    server.close()
    booth.stop()
    camera.close()
    store.close()
""")


@pytest.fixture
def booth_in_netns(tmp_path, photos):
    netns.require()
    style_build.build_style("cute", if_needed=True, sizes=[384], samples=8, report=lambda line: None)
    camera = tmp_path / "camera"
    camera.mkdir()
    (camera / "face.jpg").write_bytes((photos / "faces" / "18f_edwin_torres.jpg").read_bytes())
    command = [sys.executable, "-c", BOOTH, str(tmp_path / "data"), str(camera), str(PORT)]
    with netns.child(command, tmp_path / "booth.log", guests=2, stop_s=30) as (process, (photo_id,)):
        yield process.pid, photo_id, tmp_path / "data" / "photos"


def http(pid: int, source: str, method: str, path: str, form: dict | None = None) -> tuple[int, bytes]:
    """One request from ``source`` (inside the booth's namespace): (status, body)."""
    target = KIOSK if source == KIOSK else netns.BOOTH_ADDRESS
    body = "&".join(f"{k}={v}" for k, v in (form or {}).items()).encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: {target}:{PORT}", "Connection: close",
            "Accept: application/json"]
    if method == "POST":
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    with netns.connect(pid, source, PORT, timeout=30, target=target) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    assert match, data[:200]
    head_end = data.index(b"\r\n\r\n") + 4
    response = data[head_end:]
    if b"transfer-encoding: chunked" in data[:head_end].lower():
        response = dechunk(response)
    return int(match.group(1)), response


def dechunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def current_style(pid: int) -> str:
    status, body = http(pid, KIOSK, "GET", "/api/styles")
    assert status == 200, body[:200]
    return json.loads(body)["current"]


def test_a_phone_re_renders_its_photo_but_cannot_change_the_kiosk_style(booth_in_netns):
    pid, photo_id, photos_dir = booth_in_netns
    own = (photos_dir / photo_id / "anime.jpg").read_bytes()
    assert current_style(pid) == "hayao"

    # The kiosk's style is the booth's: a phone may neither read the choice nor change it.
    assert http(pid, PHONE, "GET", "/api/styles")[0] == 403
    for form in ({"name": "cute"}, {"step": "1"}):
        status, body = http(pid, PHONE, "POST", "/api/style", form)
        assert status == 403 and "chosen at the booth" in json.loads(body)["error"], (form, body)
    assert current_style(pid) == "hayao"

    # Its own photo in another style, through the photo page's route.
    status, page = http(pid, PHONE, "GET", f"/p/{photo_id}")
    assert status == 200 and b"Try another style" in page and b'value="cute"' in page
    status, body = http(pid, PHONE, "POST", f"/p/{photo_id}/restyle", {"style": "cute"})
    assert status == 202, body[:300]
    status_path = json.loads(body)["status"]
    deadline = time.monotonic() + 120  # a cold compile of cute plus one picture, on busy cores
    while (state := json.loads(http(pid, PHONE, "GET", status_path)[1]))["state"] != "done":
        assert state["state"] in ("queued", "running"), state
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    status, jpeg = http(pid, PHONE, "GET", state["variant"])
    assert status == 200 and jpeg[:2] == b"\xff\xd8"
    variant = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    original = cv2.imdecode(np.frombuffer(own, np.uint8), cv2.IMREAD_COLOR)
    assert variant.shape == original.shape
    assert np.abs(variant.astype(int) - original.astype(int)).mean() > 5  # another look, not a copy
    assert (photos_dir / photo_id / "anime.jpg").read_bytes() == own  # the photo itself is kept
    status, page = http(pid, PHONE, "GET", f"/p/{photo_id}")
    assert f"/p/{photo_id}/variant/cute.jpg?download=1".encode() in page

    # Re-rendering did not change what the next guest at the booth gets...
    assert current_style(pid) == "hayao"
    # ...which the booth's own screen can change (the refusals above were about who asked).
    status, body = http(pid, KIOSK, "POST", "/api/style", {"name": "cute"})
    assert status == 200 and json.loads(body)["current"] == "cute", body[:300]
