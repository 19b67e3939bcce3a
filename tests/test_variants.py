"""A photo re-rendered in another style from the phone: each variant stored complete or
absent, queued behind presses at the booth, listed and served on the photo's page."""

from __future__ import annotations

import sqlite3
import textwrap
import threading
import time

import numpy as np
import pytest
import json
import urllib.error
import urllib.request

from booth import config
from booth.vision import styles
from booth.vision.images import load_image
from booth.errors import UploadRefused
from booth.daemon.store import PhotoStore

from boothkit import QuickPipeline, free_port, make_booth, settings_for, wait_for_state
from killkit import sigkill_while_writing


def storage():
    return config.defaults().replace("storage", min_free_mb=0).storage


def picture(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (96, 80, 3), np.uint8)


def http(url: str, body: dict | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, or a JSON POST when ``body`` is given."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json",
                                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


# --- the store ---------------------------------------------------------------------------
def test_a_variant_is_listed_only_once_complete_and_goes_with_its_photo(tmp_path):
    store = PhotoStore(tmp_path / "photos", storage())
    photo = store.save(picture(0), picture(1), {"size": 384, "faces": 1, "style": "hayao"})
    assert store.variants(photo.id) == [] and store.variant_path(photo.id, "cute") is None
    path = store.save_variant(photo.id, "cute", picture(2))
    store.save_variant(photo.id, "shinkai", picture(3))
    assert store.variants(photo.id) == ["cute", "shinkai"]
    assert store.variant_path(photo.id, "cute") == path and path.name == "variant-cute.jpg"
    assert load_image(path).shape == (96, 80, 3)
    with pytest.raises(ValueError, match="style name '../x'"):
        store.save_variant(photo.id, "../x", picture(4))
    assert store.variant_path(photo.id, "../anime") is None
    store.delete(photo.id)
    assert store.variants(photo.id) == [] and not path.exists()
    store.close()


def test_an_old_index_without_the_variants_table_opens_and_gains_it(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    db = sqlite3.connect(root / "index.sqlite3")
    db.executescript("CREATE TABLE photos (id TEXT PRIMARY KEY, created REAL NOT NULL, "
                     "source TEXT NOT NULL, size INTEGER NOT NULL, faces INTEGER NOT NULL, "
                     "meta TEXT NOT NULL);")
    db.close()
    store = PhotoStore(root, storage())
    photo = store.save(picture(0), picture(1), {"size": 384, "faces": 0})
    store.save_variant(photo.id, "cute", picture(2))
    assert store.variants(photo.id) == ["cute"]
    store.close()


KILL_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from booth import config
    from booth.daemon.store import PhotoStore
    store = PhotoStore(__import__("pathlib").Path(sys.argv[1]),
                       config.defaults().replace("storage", min_free_mb=0).storage)
    photo = store.list(limit=1)[0]
    rng = np.random.default_rng(int(sys.argv[2]))
    print("ready", flush=True)
    n = 0
    while True:
        store.save_variant(photo.id, f"s{n % 7}", rng.integers(0, 256, (600, 480, 3), np.uint8))
        n += 1
""")


def test_sigkill_while_variants_are_written_leaves_each_complete_or_absent(tmp_path):
    root = tmp_path / "photos"
    store = PhotoStore(root, storage())
    photo = store.save(picture(0), picture(1), {"size": 384, "faces": 0})
    store.close()
    for _ in sigkill_while_writing(KILL_WRITER, str(root), delays=(0.2, 0.45, 0.7, 1.0)):
        reopened = PhotoStore(root, storage())
        listed = reopened.variants(photo.id)
        for style in listed:  # every listed variant is a whole JPEG
            assert load_image(reopened.variant_path(photo.id, style)).shape == (600, 480, 3)
        on_disk = sorted(p.name for p in (root / photo.id).iterdir() if p.name.startswith("variant-"))
        assert on_disk == sorted(f"variant-{s}.jpg" for s in listed)  # nothing unlisted left
        reopened.close()
    assert listed  # the writer really stored variants between the kills


# --- the queue: presses first ------------------------------------------------------------
class StylingPipeline(QuickPipeline):
    """QuickPipeline with the real catalogue of styles (nothing compiled): records the
    style of each call, and holds the first call until ``gate`` is set."""

    def __init__(self, settings) -> None:
        super().__init__()
        self.styles = styles.StyleSet.from_settings(settings)
        self.order: list[str | None] = []
        self.gate, self.inside = threading.Event(), threading.Event()

    def process(self, rgb, *, size=None, use_faces=True, style=None):
        self.order.append(style)
        if len(self.order) == 1:
            self.inside.set()
            self.gate.wait(10)
        result = super().process(rgb, size=size, use_faces=use_faces)
        result.stylized = (result.stylized + (7 * len(self.order))).astype(np.uint8)
        return result


@pytest.fixture
def restyle_booth(tmp_path, photos, built_styles):
    settings = settings_for(tmp_path, photos / "faces").replace("upload", queue_max=2)
    booth = make_booth(settings, StylingPipeline(settings))
    booth.start()
    yield booth
    booth.stop()
    booth.camera.close()
    booth.store.close()


def test_re_renderings_wait_behind_a_press_and_each_becomes_a_variant(restyle_booth):
    booth, pipeline = restyle_booth, restyle_booth.pipeline
    with booth.events.subscribe() as sub:
        pipeline.gate.set()
        booth.trigger("test")
        photo_id = wait_for_state(sub, "result").data["photo_id"]
    pipeline.gate.clear()
    pipeline.order.clear()
    pipeline.inside.clear()

    first = booth.submit_restyle(photo_id, "cute", client="10.0.0.9")
    assert pipeline.inside.wait(10)  # the first re-rendering is being drawn
    assert booth.restyle_status(first)["state"] == "running"
    second = booth.submit_restyle(photo_id, "shinkai", client="10.0.0.9")
    assert booth.restyle_status(second) == {"state": "queued", "photo_id": photo_id,
                                            "style": "shinkai", "ahead": 0, "message": ""}
    third = booth.submit_restyle(photo_id, "whitebox", client="10.0.0.9")
    assert booth.restyle_status(third)["ahead"] == 1
    with pytest.raises(UploadRefused, match="2 pictures waiting"):  # [upload] queue_max
        booth.submit_restyle(photo_id, "hayao3", client="10.0.0.9")
    with booth.events.subscribe() as sub:
        assert booth.trigger("button")  # a guest at the booth presses meanwhile
        pipeline.gate.set()
        wait_for_state(sub, "result")
    deadline = time.monotonic() + 20
    while booth.restyle_status(third)["state"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # The press went before the re-renderings that were queued ahead of it.
    assert pipeline.order == ["cute", None, "shinkai", "whitebox"]
    assert booth.store.variants(photo_id) == ["cute", "shinkai", "whitebox"]
    assert booth.store.count() == 2  # variants are not new photos
    assert booth.restyle_status(first)["state"] == "done"
    with pytest.raises(ValueError, match="already in this style"):
        booth.submit_restyle(photo_id, "hayao", client="10.0.0.9")
    with pytest.raises(ValueError, match="not available"):
        booth.submit_restyle(photo_id, "picasso", client="10.0.0.9")


def test_the_photo_page_lists_variants_and_queues_a_re_rendering(restyle_booth):
    from booth.web import create_app, serve

    booth, pipeline = restyle_booth, restyle_booth.pipeline
    pipeline.gate.set()
    with booth.events.subscribe() as sub:
        booth.trigger("test")
        photo_id = wait_for_state(sub, "result").data["photo_id"]
    port = free_port()
    server = serve(create_app(booth), "127.0.0.1", port, 4)
    base = f"http://127.0.0.1:{port}"
    try:
        page = http(f"{base}/p/{photo_id}")[2].decode()
        assert "Try another style" in page and 'value="cute"' in page and 'value="hayao"' not in page
        code, _, answer = http(f"{base}/p/{photo_id}/restyle", {"style": "cute"})
        assert code == 202, answer
        status_url = base + json.loads(answer)["status"]
        deadline = time.monotonic() + 20
        while (status := json.loads(http(status_url)[2]))["state"] != "done":
            assert status["state"] in ("queued", "running") and time.monotonic() < deadline
            time.sleep(0.1)
        code, kind, jpeg = http(base + status["variant"])
        assert code == 200 and kind == "image/jpeg" and jpeg[:2] == b"\xff\xd8"
        page = http(f"{base}/p/{photo_id}")[2].decode()
        assert f"/p/{photo_id}/variant/cute.jpg?download=1" in page and 'value="cute"' not in page
        code, _, answer = http(f"{base}/p/{photo_id}/restyle", {"style": "picasso"})
        assert code == 400 and "not available" in json.loads(answer)["error"]
        assert http(f"{base}/p/{photo_id}/variant/shinkai.jpg")[0] == 404
    finally:
        server.close()
