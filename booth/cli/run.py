"""``booth run``: start the booth — store, camera, web server, button, the cycle's state
machine (:mod:`booth.daemon.machine`) and the model — and stop it cleanly on SIGTERM.

What can fail for a reason the user must fix (data dir, port) comes first, with one
clear line; the model loads last, while the kiosk already says "warming up".
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from booth import config
from booth.daemon import sdnotify
from booth.daemon.booth import Booth
from booth.daemon.making import MODEL_LOADING, load_pipeline
from booth.daemon.memory import keep_large_blocks_returnable
from booth.daemon.store import PhotoStore
from booth.daemon.sync import SyncWorker
from booth.devices.button import BoothButton
from booth.devices.camera import CameraSupervisor, backend_factory
from booth.devices.camera.opencv import OpenCVCamera
from booth.errors import CameraError, UserError
from booth.files import DataLock
from booth.model import weights

log = logging.getLogger("booth")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="config file (default: config.toml)")
    parser.add_argument("--port", type=int, help="web server port (0 = any free port)")
    parser.add_argument("--host", help="web server address (default: [web] host)")
    parser.add_argument("--data-dir", metavar="DIR", help="photos and caches (default: [booth] data_dir)")
    parser.add_argument("--demo", nargs="?", const="", metavar="DIR",
                        help="no Pi hardware needed: folder camera over DIR (default: "
                             "$BOOTH_PHOTOS/faces, else a USB webcam if one answers, else the "
                             "demo photos install fetched); /upload is on, without a PIN")
    parser.add_argument("--size", metavar="N",
                        help='generator size: "auto" or one of [generator] sizes (default: [generator] size)')
    parser.add_argument("--cycles", type=int, metavar="N",
                        help="run N cycles by itself (countdown 0), print the median "
                             "press-to-result time and exit (benchmark)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))


def demo_camera(given: str, camera: config.CameraSettings) -> dict[str, Any]:
    """The camera settings for ``--demo``: the folder DIR, else $BOOTH_PHOTOS(/faces), else
    a USB webcam if one gives a picture, else the demo photos `booth weights fetch` brought."""
    if given:
        folder = Path(given).expanduser()
        if not folder.is_dir():
            raise UserError(f"--demo {given}: not a folder of photos")
        return {"backend": "folder", "folder": str(folder.resolve())}
    if os.environ.get("BOOTH_PHOTOS"):
        env = Path(os.environ["BOOTH_PHOTOS"]).expanduser()
        for folder in (env / "faces", env):
            if folder.is_dir():
                return {"backend": "folder", "folder": str(folder.resolve())}
    if webcam_answers(camera.device):
        return {"backend": "opencv"}
    photos = weights.demo_photos()
    if not photos:
        raise UserError("--demo: no webcam and no demo photos; run `booth weights fetch` "
                        "(or ./install.sh), or pass a folder: booth run --demo /path/to/photos")
    return {"backend": "folder", "folder": str(photos[0].parent.resolve())}


def webcam_answers(device: str) -> bool:
    """True when the USB webcam ``device`` opens and gives a picture."""
    if device.isdigit() and not Path(f"/dev/video{device}").exists():
        return False  # nothing to open (and OpenCV would print warnings trying)
    camera = OpenCVCamera(device)
    try:
        camera.open()
        return True
    except (CameraError, OSError):
        return False
    finally:
        camera.close()


def server_settings(args: argparse.Namespace) -> config.Settings:
    """The config file's settings with --data-dir, --port and --host applied (``booth run``
    and ``booth gallery``)."""
    settings = config.load(args.config)
    if args.data_dir:
        # The data dir is one fact with one reader (Settings.data_dir, where the
        # environment wins over the file); the command line wins over both.
        os.environ["BOOTH_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise UserError(f"--port {args.port}: must be 0..65535")
        settings = settings.replace("web", validate=False, port=args.port)  # 0: any free port
    if args.host:
        settings = settings.replace("web", validate=False, host=args.host)
    return settings


def _settings_for(args: argparse.Namespace) -> config.Settings:
    settings = server_settings(args)
    if args.size is not None:
        try:
            settings = settings.replace("generator", size=args.size)
        except ValueError as exc:
            raise UserError(f"--size {args.size}: {exc}") from None
    if args.demo is not None:
        camera = demo_camera(args.demo, settings.camera)
        log.info("demo: camera %s, uploads on without a PIN", " ".join(camera.values()))
        settings = settings.replace("camera", **camera)
        # A newcomer can try their own photos from a browser: uploads on, no PIN.
        settings = settings.replace("upload", enabled=True, pin="")
    if args.cycles is not None:
        if args.cycles < 1:
            raise UserError(f"--cycles {args.cycles}: must be at least 1")
        settings = settings.replace("cycle", countdown_s=0)
    return settings


def _make_button(booth: Booth, settings: config.Settings, demo: bool):
    pin_factory = None
    if demo:  # no Pi: mock pins, honestly reported as such
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        pin_factory = MockFactory(pin_class=MockPWMPin)
    return BoothButton(settings.button, on_press=lambda: booth.trigger("button"),
                       on_hold=booth.cancel, pin_factory=pin_factory,
                       on_pi=False if demo else None, on_style=booth.next_style,
                       on_decline=booth.decline if settings.privacy.consent == "ask" else None,
                       on_mode=booth.next_mode)


def _open_store(settings: config.Settings) -> tuple[DataLock, PhotoStore]:
    """The data folder held (before the store's repair: never under another running
    booth or `booth export --wipe`) and the photo store opened."""
    root = settings.data_dir / "photos"
    try:
        lock = DataLock(settings.data_dir).acquire()
        return lock, PhotoStore(root, settings.storage)
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UserError(f"cannot open the photo store in {root} ({reason}); check --data-dir "
                        "and its permissions") from None


def start_sync(settings: config.Settings, store: PhotoStore) -> SyncWorker | None:
    """The worker that copies photos to [sync] remote (None when it is off)."""
    if not settings.sync.remote:
        return None
    from booth.web.share import share_page  # the web package renders the share page

    sync = SyncWorker.from_settings(settings, store, lambda photo: share_page(settings, photo))
    store.listeners.append(sync)
    log.info("sync: copying photos to %s as booth %s", settings.sync.remote, sync.booth)
    return sync.start()


def _start_web(booth: Booth, settings: config.Settings):
    try:
        from booth import web
    except ImportError as exc:
        log.warning("web: booth.web not available (%s); running without kiosk and gallery", exc)
        return None

    app = web.create_app(booth)
    try:
        server = web.serve(app, settings.web.host, settings.web.port, settings.web.threads)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise UserError(f"cannot listen on {settings.web.host}:{settings.web.port} "
                        f"({exc.strerror or exc}); is another booth running? try --port") from None
    log.info("web: kiosk at http://127.0.0.1:%s/kiosk, gallery at http://%s:%s/",
             server.port, settings.web.host, server.port)
    return server


def _auto_cycles(booth: Booth, count: int, done: threading.Event) -> None:
    """--cycles: press the button ``count`` times, each as soon as the booth can take it."""
    presses = 0
    while presses < count and not booth.stopping:
        with booth.events.subscribe() as sub:
            if booth.trigger("bench"):
                presses += 1
                while not booth.stopping:  # wait for this cycle's result or failsafe
                    event = sub.get(timeout=1.0)
                    if event and event.kind == "state" and event.data["state"] in ("result", "failsafe"):
                        break
            else:
                time.sleep(0.05)
    done.set()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings_for(args)
    keep_large_blocks_returnable()  # a flat RSS over a ten-hour event
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sdnotify.notify("STATUS=starting")

    # What can fail for a reason the user must fix (data dir, port) comes first.
    lock, store = _open_store(settings)
    camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera)
    booth = Booth(settings, camera=camera, pipeline=None, store=store, model_message=MODEL_LOADING)
    booth.sync = start_sync(settings, store)
    server = _start_web(booth, settings)
    camera.start()
    booth.attach_button(_make_button(booth, settings, demo=args.demo is not None))
    # The loop runs while the model loads, so the kiosk hears "warming up" (health
    # events) and presses meanwhile get a polite word instead of silence.
    booth.start()
    booth.start_mirror()  # compiles its network on its own thread
    sdnotify.notify("STATUS=loading the model")
    with sdnotify.extending_start():
        booth.pipeline, booth.model_message = load_pipeline(settings)
        booth.warm_moments()
    sdnotify.notify("READY=1")
    log.info("booth ready: camera %s; %s; %s", camera.status()["message"], booth.model_message,
             booth.button.status()["message"] if booth.button else "no button")

    finished = threading.Event()
    crashed = False
    if args.cycles:
        threading.Thread(target=_auto_cycles, args=(booth, args.cycles, finished),
                         name="booth-bench", daemon=True).start()
    while not stop.is_set() and not finished.is_set():
        stop.wait(0.2)
        if not booth.loop_alive:
            log.error("main loop ended %s; exiting so systemd restarts the booth",
                      f"({booth.restart_reason})" if booth.restart_reason else "unexpectedly")
            crashed = True
            break

    sdnotify.notify("STOPPING=1")
    started = time.monotonic()
    booth.stop()
    if booth.button is not None:
        booth.button.close()
    if server is not None:
        server.close(timeout=2.0)
    camera.close(timeout=2.0)
    if booth.sync is not None:
        booth.sync.stop()
    store.close()
    lock.release()
    log.info("stopped in %.1f s; %s", time.monotonic() - started, booth.summary())
    if args.cycles:
        print(booth.summary())
    code = 1 if crashed else 0
    return code
