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
from booth.events import EventBus
from booth.images import encode_jpeg, load_image, thumbnail
from booth.store import PhotoStore


class ScriptedBooth:
    """The contract's Booth object with a scripted cycle instead of camera + pipeline."""

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
        return {"cycles": len(self.triggers), "failures": 0, "ignored_presses": self.ignored,
                "photos": self.store.count(), "press_to_result_ms": [4200.0, 3900.0, 5100.0],
                "uploads": 0}

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
