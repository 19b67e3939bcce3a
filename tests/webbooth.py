"""A booth for the web tests: the real store and event bus, a scripted daemon loop.

Only what is physically absent is faked: there is no camera, so ``trigger`` does
what the daemon's cycle would do with the photo it took — publishes the state
events and saves a real photo (a real JPEG from the shared photo set) into the real
:class:`~booth.store.PhotoStore` on disk.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from booth.config import Settings
from booth.daemon.metrics import LatencyHistogram
from booth.daemon.events import EventBus
from booth.vision.images import encode_jpeg, load_image, thumbnail
from booth.daemon.queue import UploadQueue
from booth.daemon.store import PhotoStore
from booth.errors import UploadRefused


class ScriptedBooth:
    """The booth the web app needs (:class:`booth.web.contract.BoothForWeb`) with a
    scripted cycle instead of camera + pipeline: one style, no uploads, no mirror, no
    printer (tests/test_web_contract.py checks it keeps to the contract)."""

    def __init__(self, settings: Settings, picture: np.ndarray) -> None:
        self.settings = settings
        # settings.booth.data_dir is the test's tmp folder (BOOTH_DATA_DIR must not win here).
        self.store = PhotoStore(Path(settings.booth.data_dir) / "photos", settings.storage)
        self.events = EventBus()
        self.picture = picture
        self.triggers: list[str] = []
        self.ignored = 0
        self.health_override: dict = {}
        self._busy = threading.Lock()
        self.between_photos = threading.Event()  # the scripted cycle never holds the web back
        self.between_photos.set()
        self.mirror = None
        self.prints = None
        self.queue = UploadQueue(settings.upload.queue_max, settings.upload.queue_total)
        self.events.publish("state", state="idle")

    def add_photo(self, source: str = "booth") -> str:
        anime = np.ascontiguousarray(self.picture[:, ::-1])  # stands in for the generator
        return self.store.save(self.picture, anime, {"size": 384, "faces": 1}, source=source).id

    def trigger(self, source: str = "http") -> bool:
        if not self._busy.acquire(blocking=False):
            self.ignored += 1
            return False
        try:
            self.triggers.append(source)
            self.events.publish("state", state="countdown", seconds_left=1)
            photo_id = self.add_photo()
            self.events.publish("photo", photo_id=photo_id)
            self.events.publish("state", state="result", photo_id=photo_id, source="booth",
                                until=0)
            return True
        finally:
            self._busy.release()

    def cancel(self) -> bool:
        return False  # the scripted cycle never asks and has no countdown to cancel

    def delete_photo(self, photo_id: str, reason: str) -> bool:
        if not self.store.delete(photo_id):
            return False
        self.events.publish("deleted", photo_id=photo_id)
        return True

    def not_ready(self) -> str | None:
        return None  # the scripted cycle can always make a photo

    def submit_upload(self, rgb: np.ndarray, client: str) -> str:
        raise UploadRefused("the scripted booth takes no uploads")

    def submit_restyle(self, photo_id: str, style: str, client: str) -> str:
        if self.store.get(photo_id) is None:
            raise ValueError("there is no photo with this link")
        if style not in self.styles_available():
            raise ValueError(f"style {style!r} is not available")
        raise ValueError("the photo is already in this style")

    def restyle_status(self, ticket: str) -> dict | None:
        return None  # the scripted booth has one look: no re-renderings to report

    def styles_available(self) -> list[str]:
        return [self.settings.styles.default]  # as the real booth before its styles load

    def style_choice(self) -> dict:
        name = self.settings.styles.default
        return {"current": name, "styles": [{"name": name, "label": name, "role": "scene"}]}

    def choose_style(self, name: str | None = None, step: int = 0) -> str | None:
        if name is not None and name not in self.styles_available():
            raise ValueError(f"style {name!r} is not available")
        return self.settings.styles.default

    def mode_choice(self) -> dict:
        return {"current": "photo", "strip_shots": self.settings.cycle.strip_shots,
                "modes": [{"name": "photo", "label": "Photo"}]}

    def choose_mode(self, name: str | None = None, step: int = 0) -> str | None:
        if name not in (None, "photo"):
            raise ValueError(f"mode {name!r} is not available")
        return "photo"  # the scripted cycle makes single photos only

    def shot_jpeg(self, index: int) -> bytes | None:
        return None  # no strips: no shots

    def health(self) -> dict:
        health = {"ok": True,
                  "camera": {"ok": True, "backend": "folder", "message": "demo photos"},
                  "model": {"ok": True, "message": "generator ready"},
                  "gpio": {"ok": True, "real": False, "message": "mock pins"},
                  "disk": {"ok": True, "free_mb": self.store.free_mb(), "message": ""},
                  "state": "idle", "last_cycle": None}
        health.update(self.health_override)
        return health

    def stats(self) -> dict:
        scripted_ms = [4200.0, 3900.0, 5100.0]
        histogram = LatencyHistogram()
        for ms in scripted_ms:
            histogram.observe(ms / 1000)
        return {"cycles": len(self.triggers), "failures": 0, "ignored_presses": self.ignored,
                "photos": self.store.count(), "press_to_result_ms": scripted_ms,
                "press_to_result_histogram": histogram.snapshot(), "uploads": 0}

    def upload_status(self, ticket: str) -> dict | None:
        return None  # takes no uploads: every ticket is unknown

    def preview_jpeg(self) -> bytes | None:
        return encode_jpeg(thumbnail(self.picture, 320), 80)

    def close(self) -> None:
        self.store.close()


def scripted_booth(tmp_path: Path, picture_path: Path, **web) -> ScriptedBooth:
    settings = Settings().replace("booth", data_dir=str(tmp_path / "data"))
    settings = settings.replace("storage", min_free_mb=0)  # a nearly full dev disk is not the point
    if web:
        settings = settings.replace("web", **web)
    picture = thumbnail(load_image(picture_path), 640)
    return ScriptedBooth(settings, picture)


# --- the real daemon, for the browser and load tests -------------------------------------
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (QR codes need it before the server starts)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveBooth:
    """The daemon's real Booth (folder camera, real pipeline, store, events) and the web
    server in front of it on 127.0.0.1; ``close()`` stops all of it."""

    def __init__(self, tmp_path: Path, camera_folder: Path, *, threads: int = 8, **sections) -> None:
        from booth import config
        from booth.devices.camera import CameraSupervisor, backend_factory
        from booth.daemon.booth import Booth
        from booth.daemon.making import load_pipeline
        from booth.web import create_app, serve

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = config.defaults()
        settings = settings.replace("booth", data_dir=str(tmp_path / "data"))
        settings = settings.replace("camera", backend="folder", folder=str(camera_folder))
        settings = settings.replace("storage", min_free_mb=0)
        settings = settings.replace("web", host="127.0.0.1", port=self.port, base_url=self.url,
                                    threads=threads)
        for section, changes in sections.items():
            settings = settings.replace(section, **changes)
        self.settings = settings
        self.camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir),
                                       settings.camera).start()
        self.store = PhotoStore(tmp_path / "data" / "photos", settings.storage)
        pipeline, message = load_pipeline(settings)
        if pipeline is None:
            raise RuntimeError(f"the real pipeline did not load: {message}")
        self.booth = Booth(settings, camera=self.camera, pipeline=pipeline, store=self.store,
                           model_message=message).start()
        self.app = create_app(self.booth)
        self.server = serve(self.app, "127.0.0.1", self.port, threads)

    def restart_web(self) -> None:
        """Stop the web server and start a new one on the same port (a daemon restart
        as the kiosk browser sees it)."""
        from booth.web import create_app, serve

        self.server.close()
        self.app = create_app(self.booth)
        self.server = serve(self.app, "127.0.0.1", self.port, self.settings.web.threads)

    def close(self) -> None:
        self.server.close()
        self.booth.stop()
        self.camera.close()
        self.store.close()


def decode_qr(image_bytes: bytes) -> str:
    """The text of the QR code in a PNG/JPEG (a screenshot), or "".

    OpenCV's detector misses roughly one clean code in a hundred at a given size;
    a phone's camera sees the code at many sizes, so we try a few, as it does.
    """
    import cv2

    image = cv2.imdecode(np.frombuffer(image_bytes, np.uint8), cv2.IMREAD_GRAYSCALE)
    detector = cv2.QRCodeDetector()
    for scale in (1.0, 0.5, 0.75, 0.3, 1.5):
        sized = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale,
                                                       interpolation=cv2.INTER_AREA)
        text, _, _ = detector.detectAndDecode(sized)
        if text:
            return text
    return ""
