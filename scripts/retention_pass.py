"""How long one retention pass takes on this machine's disk: the figure in docs/privacy.md.

    .venv/bin/python scripts/retention_pass.py PHOTO [COUNT]    # default COUNT 60

Stores COUNT copies of PHOTO (its full-resolution original, the anime portrait's
size) in a temporary store, ages half of them past ``keep_results_hours`` (720) and
half past ``keep_originals_hours`` (24) on the retention clock, and runs one pass,
which logs its own line. Not part of the booth.
"""

import logging
import sys
import tempfile
import time
from pathlib import Path

from booth import config
from booth.daemon.retention import HOUR_S, RetentionWorker
from booth.daemon.store import PhotoStore
from booth.vision.images import load_image, thumbnail

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
count = int(sys.argv[2]) if len(sys.argv) > 2 else 60
settings = config.defaults().replace("storage", min_free_mb=0)
settings = settings.replace("privacy", keep_originals_hours=24, keep_results_hours=720)
hours = [0.0]  # the retention clock's running time, stepped instead of waited for
with tempfile.TemporaryDirectory(prefix="retention-") as folder:
    store = PhotoStore(Path(folder) / "photos", settings.storage,
                       monotonic=lambda: time.monotonic() + hours[0] * HOUR_S)
    frame = load_image(Path(sys.argv[1]))
    anime = thumbnail(frame, 1350)
    for half, then_h in ((count // 2, 721 - 25), (count - count // 2, 25)):
        for _ in range(half):
            store.save(frame, anime, {})
        hours[0] += then_h  # the first half ends 721 hours old, the second 25
    size_mb = sum(p.stat().st_size for p in store.root.rglob("*.jpg")) / 1e6
    print(f"{count} photos, {size_mb:.0f} MB of JPEGs")
    worker = RetentionWorker(store, settings.privacy, lambda photo_id, why: store.delete(photo_id))
    started = time.perf_counter()
    done = worker.run_pass()
    print(f"{done}: {time.perf_counter() - started:.2f} s")
    store.close()
