"""One booth process for the sync tests: the real daemon (folder camera, store, state machine,
sync worker as ``booth run`` wires it) with the tests' QuickPipeline instead of the
generator, so three of them run at once on a small machine.

    python tests/syncbooth.py FOLDER DATA_DIR NAME REMOTE PHOTOS [--delete-first] [--public-url URL]
        [--bandwidth-kib N]

Prints ``ready`` once the booth runs, ``taken <id>...`` once it has taken PHOTOS photos
(and deleted the first with --delete-first), ``synced`` once the remote has them all;
then stops like ``booth run`` on SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from boothkit import QuickPipeline, make_booth, settings_for, wait_for_state  # noqa: E402

from booth.cli.run import start_sync  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("folder", "data_dir", "name", "remote"):
        parser.add_argument(name)
    parser.add_argument("photos", type=int)
    parser.add_argument("--delete-first", action="store_true")
    parser.add_argument("--public-url", default="")
    parser.add_argument("--bandwidth-kib", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_for(Path(args.data_dir), Path(args.folder))
    settings = settings.replace("booth", data_dir=str(Path(args.data_dir) / "data"), name=args.name)
    settings = settings.replace("sync", remote=args.remote, public_url=args.public_url,
                                bandwidth_kib=args.bandwidth_kib)
    # Photos the size of a small camera's frame, so an upload takes a moment.
    booth = make_booth(settings, QuickPipeline(size=(800, 640)))
    booth.sync = start_sync(settings, booth.store)
    booth.start()
    print("ready", flush=True)
    taken = []
    for _ in range(args.photos):
        with booth.events.subscribe() as sub:
            while not booth.trigger("test"):
                time.sleep(0.05)
            taken.append(wait_for_state(sub, "result").data["photo_id"])
    if args.delete_first and taken:
        booth.store.delete(taken[0])
    print("taken", *taken, flush=True)
    while True:
        status = booth.sync.status()
        if status["ok"] and status["queued"] == 0 and status["deletions"] == 0 and status["last_success"]:
            break
        time.sleep(0.2)
    print("synced", flush=True)
    booth.stop()
    booth.sync.stop()
    booth.camera.close(timeout=2.0)
    booth.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
