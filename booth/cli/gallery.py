"""``booth gallery --remote NAME:path``: a gallery-only node for several booths.

No camera, no model: the booth's own web app over a store of its own
(``<data_dir>/gallery/``) that it fills by pulling every booth's photos from the
shared rclone remote (:class:`booth.daemon.sync.Puller`) every ``--every-s`` seconds.
Photos deleted from the remote leave it too. Each photo carries the name of the booth
that made it (the gallery and the photo page show it). Any machine can be this node,
one of the booths included (on another ``--port``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING

import numpy as np

from booth import config, web
from booth.daemon.events import EventBus
from booth.daemon.queue import UploadQueue
from booth.daemon.store import PhotoStore
from booth.cli.run import server_settings
from booth.daemon.sync import Puller, SyncError, rclone_for
from booth.devices.printing import PrintService
from booth.errors import UploadRefused, UserError

if TYPE_CHECKING:  # the mirror module loads OpenVINO; a gallery node has no mirror
    from booth.vision.mirror import Mirror

log = logging.getLogger("booth")

#: What the node answers for the booth's parts it does not have.
NOT_HERE = "not used on a gallery-only node"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--remote", required=True, metavar="NAME:path",
                        help="the rclone remote the booths copy to ([sync] remote of each booth)")
    parser.add_argument("--config", metavar="PATH", help="config file (default: config.toml)")
    parser.add_argument("--port", type=int, help="web server port (default: [web] port; 0 = any free port)")
    parser.add_argument("--host", help="web server address (default: [web] host)")
    parser.add_argument("--data-dir", metavar="DIR", help="where the pulled photos are kept "
                        "(default: [booth] data_dir; the node uses its gallery/ folder)")
    parser.add_argument("--every-s", type=float, default=10.0, metavar="S",
                        help="pull from the remote every S seconds (default: 10)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))


class GalleryNode:
    """The web app's booth (:class:`booth.web.contract.BoothForWeb`) on a gallery-only
    node: photos from the remote, no cycle, no uploads, no restyles, no prints."""

    def __init__(self, settings: config.Settings, store: PhotoStore, puller: Puller) -> None:
        self.settings = settings
        self.store = store
        self.puller = puller
        self.events = EventBus()
        self.between_photos = threading.Event()
        self.between_photos.set()  # no photo is ever made here: phones never wait
        self.mirror: Mirror | None = None
        self.prints: PrintService | None = None
        self.queue = UploadQueue(settings.upload.queue_max, settings.upload.queue_total)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- pulling --------------------------------------------------------------------
    def start(self, every_s: float) -> None:
        self._thread = threading.Thread(target=self._pull_forever, args=(every_s,),
                                        name="booth-gallery-pull", daemon=True)
        self._thread.start()

    def _pull_forever(self, every_s: float) -> None:
        while not self._stop.is_set():
            try:
                changes = self.puller.pull()
                if changes["added"] or changes["removed"]:
                    log.info("gallery: %(added)d photos added, %(removed)d removed, %(photos)d in all", changes)
                    self.events.publish("gallery", **changes)
            except SyncError as exc:
                self.puller.last_error = str(exc)
                log.warning("gallery: cannot pull from %s: %s", self.puller.remote, exc)
            self._stop.wait(every_s)

    def stop(self) -> None:
        self._stop.set()
        self.puller.rclone.stop()
        if self._thread is not None:
            self._thread.join(5.0)

    # --- what the web app asks --------------------------------------------------------
    def trigger(self, source: str = "http") -> bool:
        return False  # no camera here

    def cancel(self) -> bool:
        return False  # nothing is ever asked or counted down here

    def delete_photo(self, photo_id: str, reason: str) -> bool:
        """False: a photo is deleted at the booth that made it (or in the remote), whose
        deletion this node then pulls; deleting only the pulled copy would bring it back."""
        return False

    def not_ready(self) -> str | None:
        return "camera"

    def health(self) -> dict:
        sync = self.puller.status()
        free = self.store.free_mb()
        return {"ok": sync["ok"],
                "camera": {"ok": True, "message": NOT_HERE}, "model": {"ok": True, "message": NOT_HERE},
                "gpio": {"ok": True, "real": False, "message": NOT_HERE},
                "disk": {"ok": True, "free_mb": round(free, 1), "message": f"{free / 1024:.1f} GB free"},
                "not_ready": self.not_ready(), "state": "idle", "last_cycle": None, "sync": sync}

    def stats(self) -> dict:
        return {"cycles": 0, "failures": 0, "ignored_presses": 0, "uploads": 0,
                "photos": self.store.count(), "press_to_result_ms": []}

    def preview_jpeg(self) -> bytes | None:
        return None

    def submit_upload(self, rgb: np.ndarray, client: str) -> str:
        raise UploadRefused("this is a gallery-only node: send photos at a booth")

    def upload_status(self, ticket: str) -> dict | None:
        return None

    def submit_restyle(self, photo_id: str, style: str, client: str) -> str:
        raise ValueError("this is a gallery-only node: restyle photos at a booth")

    def restyle_status(self, ticket: str) -> dict | None:
        return None

    def styles_available(self) -> list[str]:
        return []

    def style_choice(self) -> dict:
        return {"current": self.settings.styles.default, "styles": []}

    def choose_style(self, name: str | None = None, step: int = 0) -> str | None:
        return None

    def mode_choice(self) -> dict:
        return {"current": "photo", "modes": [], "strip_shots": self.settings.cycle.strip_shots}

    def choose_mode(self, name: str | None = None, step: int = 0) -> str | None:
        return None

    def shot_jpeg(self, index: int) -> bytes | None:
        return None


def node_settings(args: argparse.Namespace) -> config.Settings:
    """The config with what a gallery-only node cannot do turned off."""
    settings = server_settings(args)
    if args.every_s <= 0:
        raise UserError(f"--every-s {args.every_s}: must be > 0")
    if not config.SYNC_REMOTE_PATTERN.match(args.remote):
        raise UserError(f'--remote {args.remote}: must be "NAME:path" (an rclone remote)')
    settings = settings.replace("upload", enabled=False)
    settings = settings.replace("print", enabled=False)
    settings = settings.replace("preview", anime=False)
    # The node shows other booths' photos; it copies nothing anywhere itself.
    return settings.replace("sync", remote="", public_url="")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = node_settings(args)
    folder = settings.data_dir / "gallery"
    store = PhotoStore(folder / "photos", settings.storage)
    # Pulling is not capped: the node fills its gallery as fast as the remote allows.
    rclone = rclone_for(settings.replace("sync", bandwidth_kib=0))
    node = GalleryNode(settings, store, Puller(store, args.remote, rclone, folder / "mirror"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        server = web.serve(web.create_app(node), settings.web.host, settings.web.port, settings.web.threads)
    except OSError as exc:
        raise UserError(f"cannot listen on {settings.web.host}:{settings.web.port} "
                        f"({exc.strerror or exc}); try --port") from None
    log.info("gallery: photos of every booth on %s at http://%s:%s/", args.remote, settings.web.host, server.port)
    node.start(args.every_s)
    stop.wait()
    node.stop()
    server.close(timeout=2.0)
    store.close()
    return 0
