"""What ten presses cost while a model call hangs: presses accepted, threads, memory.

    .venv/bin/python scripts/hung_model_memory.py [PHOTOS]   # default: the booth's photo set

A 15.6 MP frame (PHOTOS/hires/anamnesis33_mqcYKihgfAo_3335x4668.jpg) through the folder
camera, a pipeline whose first call blocks until released, ``process_timeout_s`` 0.5:
ten presses four seconds apart, then the call is released. Prints RSS and threads
before, after the presses and after the release.
"""

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from booth import PROJECT_ROOT
from booth.measure.photos import photo_set

sys.path.insert(0, str(PROJECT_ROOT / "tests"))
from boothkit import make_booth, settings_for  # noqa: E402
from test_daemon import HangingPipeline  # noqa: E402
from test_soak import rss_mb  # noqa: E402

photos = Path(sys.argv[1]) if len(sys.argv) > 1 else photo_set()
with tempfile.TemporaryDirectory() as tmp:
    camera = Path(tmp) / "camera"
    camera.mkdir()
    shutil.copy(photos / "hires" / "anamnesis33_mqcYKihgfAo_3335x4668.jpg", camera)
    pipeline = HangingPipeline()
    settings = settings_for(Path(tmp), camera, process_timeout_s=0.5, failsafe_s=0.1)
    booth = make_booth(settings.replace("camera", capture_timeout_s=15.0), pipeline)
    booth.camera.start()
    booth.start()
    time.sleep(1)
    print(f"before: RSS {rss_mb():.0f} MB, threads {threading.active_count()}")
    accepted = 0
    for _ in range(10):
        accepted += booth.trigger("test")
        time.sleep(4)
    print(f"after 10 presses: {accepted} accepted, RSS {rss_mb():.0f} MB, "
          f"threads {threading.active_count()}, not ready: {booth.not_ready()}")
    pipeline.gate.set()
    time.sleep(1.5)
    print(f"released: not ready: {booth.not_ready()}, threads {threading.active_count()}")
    booth.stop()
    booth.camera.close()
    booth.store.close()
